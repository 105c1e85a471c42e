"""Response cache (SQLite) and record/replay files for keyless CI.

The cache key is a hash of the canonical request: litellm model id, rendered
messages, call parameters and sample index (so ``--repeat 5`` stores five
distinct samples). Where the call goes (``api_base``) and credentials are not
part of a request's identity, and API keys are never stored anywhere.

The store lives in ``.promptops/cache.sqlite3`` in WAL mode with a busy
timeout, so several promptops processes (CI shards, pytest-xdist workers) can
read and write it at once.

Recordings are YAML files next to a suite (``suites/triage.recording.yaml``),
written by ``promptops record`` in a stable order so they diff well in a pull
request; ``promptops test --replay`` answers from the cache and recordings only.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import Field

from promptops.errors import SuiteError
from promptops.locations import read_yaml_model, write_readable_yaml
from promptops.strict import StrictModel

CACHE_FILE = "cache.sqlite3"
RECORDING_SUFFIX = ".recording.yaml"
# never part of a key or a stored value, whatever a config puts in params
_SECRET_PARAMS = frozenset(
    {"api_key", "api_base", "base_url", "extra_headers", "headers", "aws_secret_access_key"}
)


@dataclass(frozen=True)
class CachedResponse:
    """What is kept of a completion: enough to re-evaluate assertions and account for it."""

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    latency_ms: float | None = None
    finish_reason: str | None = None
    served_model: str | None = None
    system_fingerprint: str | None = None


def request_key(model_id: str, messages: list[dict[str, str]], params: dict[str, Any], sample: int) -> str:
    """Hash of the canonical request; equal requests give equal keys in any process."""
    clean = {k: v for k, v in params.items() if k not in _SECRET_PARAMS}
    canonical = json.dumps(
        {"model": model_id, "messages": messages, "params": clean, "sample": sample},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class ResponseCache:
    """A SQLite store of responses by request key, safe for concurrent processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout = 60000")
        self._setup()
        self.hits = 0
        self.misses = 0

    def _setup(self, attempts: int = 50) -> None:
        """WAL mode and the table, retried: switching to WAL needs a moment alone with the file.

        SQLite answers "database is locked" at once (without waiting for the busy
        timeout) when two processes open a new cache together and both ask for WAL.
        """
        for attempt in range(attempts):
            try:
                if self._db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, model TEXT NOT NULL,"
                    " created REAL NOT NULL, response TEXT NOT NULL)"
                )
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == attempts - 1:
                    raise
                time.sleep(0.02 * (attempt + 1))

    def get(self, key: str) -> CachedResponse | None:
        row = self._db.execute("SELECT response FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return CachedResponse(**json.loads(row[0]))

    def put(self, key: str, model_id: str, response: CachedResponse) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO responses (key, model, created, response) VALUES (?, ?, ?, ?)",
            (key, model_id, time.time(), json.dumps(asdict(response))),
        )

    def stats(self) -> dict[str, Any]:
        rows = self._db.execute(
            "SELECT model, COUNT(*) FROM responses GROUP BY model ORDER BY model"
        ).fetchall()
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        return {
            "path": str(self.path),
            "entries": sum(n for _, n in rows),
            "bytes": size,
            "models": {model: n for model, n in rows},
        }

    def clear(self, model: str | None = None) -> int:
        if model is None:
            cursor = self._db.execute("DELETE FROM responses")
        else:
            cursor = self._db.execute("DELETE FROM responses WHERE model = ?", (model,))
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return cursor.rowcount

    def close(self) -> None:
        self._db.close()


class JudgeRecording(StrictModel):
    """A judge's answer (or an embedding, as JSON) recorded with the output it graded."""

    key: str
    """Request hash of the judge or embedding call."""
    model_id: str
    output: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None


class Recording(StrictModel):
    """One recorded response in a recording file."""

    case: str
    model: str
    """Model alias the case ran on."""
    model_id: str
    sample: int = 0
    key: str
    """Request hash; a changed prompt, model or param gives a new key (and a replay miss)."""
    output: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    latency_ms: float | None = None
    judges: list[JudgeRecording] = Field(default_factory=list)
    """Answers of the judge and embedding calls that graded this output, for keyless replay."""


class RecordingFile(StrictModel):
    """``suites/<suite>.recording.yaml``: responses a suite needs, for keyless replay."""

    version: int = 1
    suite: str
    prompt_version: str
    prompt_fingerprint: str
    recordings: list[Recording] = Field(default_factory=list)


def recording_path(suite_path: Path) -> Path:
    from promptops.suites import companion_path

    return companion_path(suite_path, RECORDING_SUFFIX)


def write_recording(path: Path, recording: RecordingFile, case_order: list[str]) -> None:
    """Write ``recording`` with entries in suite order, then model and sample."""
    position = {case: index for index, case in enumerate(case_order)}
    recording.recordings.sort(key=lambda r: (position.get(r.case, len(position)), r.case, r.model, r.sample))
    data = recording.model_dump(exclude_none=True)
    for entry in data["recordings"]:
        if not entry["judges"]:
            del entry["judges"]  # only graded outputs carry judge answers; the rest read as before
    write_readable_yaml(path, data)


def read_recording(path: Path, display: str | None = None) -> RecordingFile | None:
    """A recording file, or None when the suite has none."""
    return read_yaml_model(path, RecordingFile, file=display or str(path), error=SuiteError)


class ReplayStore:
    """Responses from recording files, looked up by request key."""

    def __init__(self, recordings: Iterable[RecordingFile] = ()) -> None:
        self._by_key: dict[str, Recording] = {}
        self._judges: dict[str, JudgeRecording] = {}
        for recording in recordings:
            for entry in recording.recordings:
                self._by_key[entry.key] = entry
                for judged in entry.judges:
                    self._judges[judged.key] = judged

    def get(self, key: str) -> CachedResponse | None:
        entry = self._by_key.get(key)
        if entry is None:
            judged = self._judges.get(key)
            if judged is None:
                return None
            return CachedResponse(
                judged.output, judged.prompt_tokens, judged.completion_tokens, judged.cost_usd
            )
        return CachedResponse(
            entry.output, entry.prompt_tokens, entry.completion_tokens, entry.cost_usd, entry.latency_ms
        )

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Iterator[Recording]:
        return iter(self._by_key.values())
