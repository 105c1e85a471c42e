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
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import Field

from promptops.config import display_path
from promptops.errors import PromptOpsWarning, StorageError, SuiteError, storage_error
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


LOCK_TIMEOUT_S = 10.0
"""How long to wait for another process's write; promptops's own writes take milliseconds."""

# sqlite3's messages (its exceptions carry no portable code on Python 3.10)
_CORRUPT = (
    "file is not a database",
    "database disk image is malformed",
    "malformed database schema",
    "unsupported file format",
    "could not decode to utf-8",
)
_SQLITE_HINTS = (
    ("disk is full", "the disk is full: free some space and run again"),
    (
        "disk i/o error",
        "the disk failed a read or write (full, or failing): free space and check it, then run again",
    ),
    (
        "readonly",
        "the file system or file is read-only: promptops writes its cache under .promptops/, "
        "so run it from a writable checkout",
    ),
    (
        "locked",
        "it is locked by another process for longer than {timeout:g} s: let that process (another promptops "
        "run, or a tool holding the file open) finish, or stop it, and run again",
    ),
    ("unable to open", "the file cannot be opened: check that it is a file and that its folder is writable"),
)


class ResponseCache:
    """A SQLite store of responses by request key, safe for concurrent processes.

    Every storage fault becomes a ``StorageError`` (exit 3) naming the file and what
    to do, except a damaged file: that one is renamed aside with a warning and the
    cache answers nothing for the rest of the process (the run goes on uncached).
    """

    def __init__(self, path: Path, *, timeout_s: float = LOCK_TIMEOUT_S) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self.hits = 0
        self.misses = 0
        self.set_aside: Path | None = None
        """Where a damaged cache file was moved, when one was."""
        self._db: sqlite3.Connection | None = None
        if path.is_dir():
            raise StorageError(
                "the response cache path is a folder, not a file: remove or rename it", file=self._shown()
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise storage_error(exc, display_path(path.parent), "create the state folder") from None
        try:
            self._db = self._connect()
        except (sqlite3.Error, UnicodeDecodeError) as exc:
            self._fault(exc, "open the response cache")

    def _shown(self) -> str:
        return display_path(self.path)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None, check_same_thread=False)
        try:
            db.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
            self._setup(db)
        except BaseException:
            db.close()  # an open handle would keep the file locked for everyone else
            raise
        return db

    def _setup(self, db: sqlite3.Connection) -> None:
        """WAL mode and the table, retried: switching to WAL needs a moment alone with the file.

        SQLite answers "database is locked" at once (without waiting for the busy
        timeout) when two processes open a new cache together and both ask for WAL.
        """
        deadline = time.monotonic() + self.timeout_s
        attempt = 0
        while True:
            try:
                if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = NORMAL")
                db.execute(
                    "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, model TEXT NOT NULL,"
                    " created REAL NOT NULL, response TEXT NOT NULL)"
                )
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                attempt += 1
                time.sleep(min(0.02 * attempt, 0.5))

    def _fault(self, exc: sqlite3.Error | UnicodeDecodeError, doing: str) -> None:
        """Set a damaged file aside (and carry on uncached), or raise the fault as a StorageError."""
        text = str(exc).lower()
        # text that is not UTF-8 where SQLite keeps its own (the schema, a pragma's answer) is damage too
        if isinstance(exc, UnicodeDecodeError) or any(marker in text for marker in _CORRUPT):
            self._set_aside_damaged(str(exc))
            return
        for marker, hint in _SQLITE_HINTS:
            if marker in text:
                raise StorageError(
                    f"cannot {doing}: {hint.format(timeout=self.timeout_s)}", file=self._shown()
                )
        raise StorageError(f"cannot {doing}: {exc}; check the file and the disk", file=self._shown())

    def _set_aside_damaged(self, reason: str) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        try:
            for suffix in ("-wal", "-shm"):
                companion = Path(str(self.path) + suffix)
                if companion.exists():
                    companion.replace(Path(str(aside) + suffix))
            self.path.replace(aside)
        except OSError as exc:
            raise storage_error(exc, self._shown(), "set the damaged response cache aside") from None
        self.set_aside = aside
        warnings.warn(
            PromptOpsWarning(
                f"{self._shown()}: the response cache is damaged ({reason}); moved it to "
                f"{display_path(aside)} and running without a cache (a new one starts next run)"
            ),
            stacklevel=3,
        )

    def get(self, key: str) -> CachedResponse | None:
        row = None
        if self._db is not None:
            try:
                row = self._db.execute("SELECT response FROM responses WHERE key = ?", (key,)).fetchone()
            except (sqlite3.Error, UnicodeDecodeError) as exc:
                self._fault(exc, "read the response cache")
        if row is None:
            self.misses += 1
            return None
        try:
            response = CachedResponse(**json.loads(row[0]))
        except (ValueError, TypeError):  # a row some other tool wrote: not an answer
            self.misses += 1
            return None
        self.hits += 1
        return response

    def put(self, key: str, model_id: str, response: CachedResponse) -> None:
        if self._db is None:
            return
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO responses (key, model, created, response) VALUES (?, ?, ?, ?)",
                (key, model_id, time.time(), json.dumps(asdict(response))),
            )
        except sqlite3.Error as exc:
            self._fault(exc, "write to the response cache")

    def stats(self) -> dict[str, Any]:
        rows: list[tuple[str, int]] = []
        if self._db is not None:
            try:
                rows = self._db.execute(
                    "SELECT model, COUNT(*) FROM responses GROUP BY model ORDER BY model"
                ).fetchall()
            except sqlite3.Error as exc:
                self._fault(exc, "read the response cache")
        names = {self.path.name + suffix for suffix in ("", "-wal", "-shm")}
        size = sum(p.stat().st_size for p in self.path.parent.iterdir() if p.name in names and p.is_file())
        return {
            "path": str(self.path),
            "entries": sum(n for _, n in rows),
            "bytes": size,
            "models": {model: n for model, n in rows},
        }

    def clear(self, model: str | None = None) -> int:
        if self._db is None:
            return 0
        try:
            if model is None:
                cursor = self._db.execute("DELETE FROM responses")
            else:
                cursor = self._db.execute("DELETE FROM responses WHERE model = ?", (model,))
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            self._fault(exc, "clear the response cache")
            return 0
        return cursor.rowcount

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
