"""Storage faults: exit 3 naming the path and what to do, never a traceback, never damage.

A full disk is a real tmpfs of a few hundred KiB and a read-only project a real
read-only bind mount, both inside a user and mount namespace (``unshare -rm``):
they work as root, where permission bits stop nothing. Those tests skip where
namespaces are not allowed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import TRIAGE_SUITE

from promptops.cache import CachedResponse, ResponseCache
from promptops.errors import EXIT_INFRA, StorageError

REPO = Path(__file__).resolve().parent.parent


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        [
            "unshare",
            "-rm",
            "sh",
            "-c",
            "mount -t tmpfs -o size=64k tmpfs /mnt && mount --bind -o ro /mnt /mnt",
        ],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


needs_namespaces = pytest.mark.skipif(
    not _namespaces_work(), reason="needs unshare -rm with tmpfs and bind mounts"
)


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _cli_in_namespace(root: Path, setup: str) -> subprocess.CompletedProcess[str]:
    """``promptops test`` in ``root`` after ``setup`` (shell, run as root of a private mount namespace)."""
    script = f"set -e\n{setup}\ncd {root}\n{sys.executable} -m promptops test || exit $?"
    env = {**os.environ, "PYTHONPATH": str(REPO), "CI": "1"}
    env.pop("PROMPTOPS_DEBUG", None)
    return subprocess.run(
        ["unshare", "-rm", "sh", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def _one_error(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


@needs_namespaces
def test_disk_full_exits_3_and_keeps_what_was_written(make_project, run_cli, fake_server) -> None:
    root = make_project()
    assert run_cli("test").exit_code == 1  # an earlier run and cache entries, to keep intact
    state = root / ".promptops"
    earlier_run = next((state / "runs").iterdir()).name
    earlier = _digests(state / "runs" / earlier_run)
    shutil.copytree(state, root / "before")
    cases = "".join(
        f'  - id: long-{i}\n    vars: {{ticket: "{"word " * 400}{i}"}}\n'
        "    assert:\n      - {type: equals, value: x}\n"
        for i in range(60)
    )
    Path("suites/triage.yaml").write_text(TRIAGE_SUITE + cases)
    # a 320 KiB disk holding the earlier state, filled to leave about 40 KiB; what the run
    # wrote is copied out when it ends, before the disk disappears with the namespace
    setup = textwrap.dedent(
        f"""\
        mount -t tmpfs -o size=320k tmpfs {state}
        cp -a {root}/before/. {state}/
        dd if=/dev/zero of={state}/filler bs=1k count=$((320 - $(du -sk {state} | cut -f1) - 40)) 2>/dev/null
        mkdir -p {root}/after
        trap 'rm -f {state}/filler; cp -a {state}/. {root}/after/' EXIT
        """
    )
    result = _cli_in_namespace(root, setup)
    assert result.returncode == EXIT_INFRA, result.stderr
    line = _one_error(result)
    assert "disk is full" in line and "free some space" in line
    assert "error: .promptops/" in line  # names the file it could not write
    after = root / "after"
    assert _digests(after / "runs" / earlier_run) == earlier
    cache = sqlite3.connect(after / "cache.sqlite3")
    assert cache.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert cache.execute("SELECT COUNT(*) FROM responses").fetchone()[0] >= 2
    new_run = next(p for p in (after / "runs").iterdir() if p.name != earlier_run)
    if "results kept" in line:
        assert f"resume with: promptops test --resume {new_run.name}" in line
    # every complete line is a valid result; at most a last line is torn (a resume cuts it)
    for raw in (new_run / "results.jsonl").read_bytes().split(b"\n")[:-1]:
        assert json.loads(raw)["suite"] == "triage"


@needs_namespaces
def test_read_only_project_exits_3_naming_the_path(make_project, run_cli, fake_server) -> None:
    root = make_project()
    assert run_cli("test").exit_code == 1
    before = _digests(root / ".promptops")
    result = _cli_in_namespace(root, f"mount --bind -o ro {root} {root}")
    assert result.returncode == EXIT_INFRA, result.stderr
    line = _one_error(result)
    assert "read-only" in line and ".promptops" in line and "writable checkout" in line
    assert _digests(root / ".promptops") == before


def test_junk_cache_is_set_aside_and_the_run_goes_on(make_project, run_cli, fake_server) -> None:
    fake_server.state.answers = {"charged twice": "refund", "crashes": "bug"}
    root = make_project()
    cache = root / ".promptops" / "cache.sqlite3"
    cache.parent.mkdir()
    cache.write_bytes(b"this is not a database, just junk bytes " * 50)
    result = run_cli("test")
    assert result.exit_code == 0, result.output
    assert "warning: .promptops/cache.sqlite3: the response cache is damaged (file is not a database)" in (
        result.output
    )
    assert "running without a cache" in result.output
    aside = list(cache.parent.glob("cache.sqlite3.damaged-*"))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not a database")
    assert len(fake_server.state.requests) == 2  # uncached: the provider answered
    # the next run starts a new cache
    assert run_cli("test").exit_code == 0
    assert run_cli("test").exit_code == 0
    assert len(fake_server.state.requests) == 4


def test_cache_path_that_is_a_folder(make_project, run_cli) -> None:
    root = make_project()
    (root / ".promptops" / "cache.sqlite3").mkdir(parents=True)
    for args in (("test",), ("cache", "stats")):
        result = run_cli(*args)
        assert result.exit_code == EXIT_INFRA, result.output
        assert result.output.strip().splitlines()[-1] == (
            "error: .promptops/cache.sqlite3: the response cache path is a folder, not a file: "
            "remove or rename it"
        )


def test_cache_locked_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    ResponseCache(path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            f"db = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
            "db.execute('PRAGMA locking_mode = EXCLUSIVE')\n"
            "db.execute('BEGIN EXCLUSIVE')\n"
            "print('locked', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        started = time.perf_counter()
        with pytest.raises(StorageError) as caught:
            cache = ResponseCache(path, timeout_s=0.5)
            cache.put("k", "m", CachedResponse("answer"))
        waited = time.perf_counter() - started
    finally:
        holder.kill()
        holder.wait()
    assert caught.value.exit_code == EXIT_INFRA
    # named as the user sees it (relative to the working directory), whichever folder the tests run from
    assert f"{tmp_path.name}/cache.sqlite3" in str(caught.value)
    assert "locked by another process for longer than 0.5 s" in str(caught.value)
    assert waited < 5
    # once the other process is gone, the cache works and kept its file
    with ResponseCache(path) as cache:
        cache.put("k", "m", CachedResponse("answer"))
        assert cache.get("k") == CachedResponse("answer")


def test_cache_that_fills_its_disk(tmp_path: Path) -> None:
    """SQLite's own "database or disk is full", at the page limit a full disk would impose."""
    path = tmp_path / "cache.sqlite3"
    with ResponseCache(path) as cache:
        cache.put("first", "m", CachedResponse("kept"))
        assert cache._db is not None
        pages = cache._db.execute("PRAGMA page_count").fetchone()[0]
        cache._db.execute(f"PRAGMA max_page_count = {pages + 2}")
        with pytest.raises(StorageError) as caught:
            for index in range(1000):
                cache.put(f"k{index}", "m", CachedResponse("x" * 4000))
    assert caught.value.exit_code == EXIT_INFRA
    assert "disk is full" in str(caught.value) and "cache.sqlite3" in str(caught.value)
    with ResponseCache(path) as cache:
        assert cache.get("first") == CachedResponse("kept")
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
