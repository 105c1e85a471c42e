"""Interrupt a real promptops process with a signal, then resume it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FAKE_KEY_ENV
from fake_openai import FakeOpenAIServer

CASES = 30


def _suite() -> str:
    cases = "\n".join(
        f"  - id: c{i:02d}\n    vars: {{ticket: 'ticket-{i:02d}'}}\n"
        "    assert: [{type: contains, value: ticket}]"
        for i in range(CASES)
    )
    return f"prompt: support/triage\ncases:\n{cases}\n"


def _ticket(body: dict) -> str:
    return body["messages"][-1]["content"]


def _lines(run: Path) -> list[dict]:
    path = run / "results.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_killed_run_keeps_results_and_resumes_without_repeating_calls(
    make_project, run_cli, fake_server: FakeOpenAIServer, sig
) -> None:
    # long enough that the run is still going when the signal lands, even on a busy machine
    fake_server.state.latency_s = 0.3
    root = make_project({"suites/triage.yaml": _suite()})
    env = {**os.environ, FAKE_KEY_ENV: "sk-test", "CI": "1"}
    # a shell starts background jobs with SIGINT ignored, and a child inherits that: give the run the
    # default Ctrl-C handling a terminal gives it, whoever started pytest
    start = (
        "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from promptops.cli import main; main()"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", start, "test", "--no-cache", "-j", "2"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    runs = root / ".promptops" / "runs"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        folders = list(runs.glob("*/results.jsonl")) if runs.exists() else []
        if folders and len(folders[0].read_text().splitlines()) >= 6:
            break
        time.sleep(0.02)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 3, stderr
    assert "resume with: promptops test --resume" in stderr
    assert "Traceback" not in stderr
    run = next(runs.iterdir())
    finished = {r["case"] for r in _lines(run)}
    assert 6 <= len(finished) < CASES
    assert not (run / "summary.json").exists()

    before = len(fake_server.state.requests)
    result = run_cli("test", "--resume", run.name, "--no-cache", "--format", "json")
    assert result.exit_code == 0, result.output
    resumed = [_ticket(b) for b in fake_server.state.requests[before:]]
    assert not {t.replace("ticket-", "c") for t in resumed} & finished  # no finished call repeated
    results = _lines(run)
    assert sorted(r["case"] for r in results) == [f"c{i:02d}" for i in range(CASES)]
    report = json.loads(result.stdout)
    assert report["completed_calls"] == CASES and report["status"] == "passed"


def test_resume_of_finished_run_makes_no_calls(make_project, run_cli, fake_server) -> None:
    make_project()
    first = json.loads(run_cli("test", "--format", "json").stdout)
    before = len(fake_server.state.requests)
    result = run_cli("test", "--resume", first["run_id"], "--no-cache", "--format", "json")
    # the echoed tickets fail both cases: the resumed run keeps that verdict
    assert result.exit_code == first["exit_code"] == 1, result.output
    assert len(fake_server.state.requests) == before
    assert json.loads(result.stdout)["completed_calls"] == 2


def test_resume_refuses_changed_prompt(make_project, run_cli) -> None:
    root = make_project()
    first = json.loads(run_cli("test", "--format", "json").stdout)
    prompt = root / "prompts/support/triage.j2"
    prompt.write_text(prompt.read_text().replace("exactly one word", "one word"))
    result = run_cli("test", "--resume", first["run_id"])
    assert result.exit_code == 2
    assert "changed since run" in result.output


def test_torn_last_line_is_dropped_on_resume(make_project, run_cli, fake_server) -> None:
    fake_server.state.answers = {"charged twice": "refund", "crashes": "bug"}
    root = make_project()
    first = json.loads(run_cli("test", "--format", "json").stdout)
    results = root / ".promptops" / "runs" / first["run_id"] / "results.jsonl"
    lines = results.read_text().splitlines(keepends=True)
    results.write_text(lines[0] + lines[1][:40])  # as if killed mid-write
    result = run_cli("test", "--resume", first["run_id"], "--format", "json")
    assert result.exit_code == 0, result.output
    assert len(results.read_text().splitlines()) == 2
