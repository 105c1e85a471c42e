"""`promptops test` end to end against the fake provider."""

from __future__ import annotations

import json
from pathlib import Path

from fake_openai import FakeOpenAIServer


def test_one_pass_one_fail_exits_1_with_reason(make_project, run_cli, fake_server: FakeOpenAIServer) -> None:
    fake_server.state.answers = {"charged twice": "refund", "crashes": "question"}
    root = make_project()
    result = run_cli("test")
    assert result.exit_code == 1, result.output
    assert "triage::crash [fake]" in result.output
    assert "suites/triage.yaml:9" in result.output
    assert "expected 'bug', got 'question'" in result.output
    assert "FAILED: 1 passed, 1 failed, 0 errors" in result.output
    runs = list((root / ".promptops" / "runs").iterdir())
    assert len(runs) == 1
    lines = (runs[0] / "results.jsonl").read_text().splitlines()
    assert len(lines) == 2
    summary = json.loads((runs[0] / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["exit_code"] == 1


def test_all_pass_exits_0_and_records_usage(make_project, run_cli, fake_server: FakeOpenAIServer) -> None:
    fake_server.state.answers = {"charged twice": "refund", "crashes": "bug"}
    root = make_project()
    result = run_cli("test")
    assert result.exit_code == 0, result.output
    assert "PASSED: 2 passed, 0 failed, 0 errors" in result.output
    run = next((root / ".promptops" / "runs").iterdir())
    records = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    for record in records:
        assert record["prompt_tokens"] > 0 and record["completion_tokens"] == 1
        assert record["latency_ms"] > 0
        assert record["prompt_version"] == "1.0.0" and len(record["prompt_fingerprint"]) == 16
    # the request carried the rendered messages and merged params
    body = fake_server.state.requests[0]
    assert body["messages"][0]["role"] == "system"
    assert "refund, bug, question" in body["messages"][0]["content"]
    assert body["max_tokens"] == 16 and body["temperature"] == 0


def test_json_report_to_file_and_stdout(
    make_project, run_cli, fake_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    fake_server.state.answers = {"charged twice": "refund", "crashes": "bug"}
    make_project()
    result = run_cli("test", "--format", "json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["status"] == "passed"
    assert {c["case"] for c in report["cases"]} == {"refund-basic", "crash"}
    out = tmp_path / "report.json"
    result = run_cli("test", "--format", "json", "-o", str(out))
    assert json.loads(out.read_text())["version"] == 1
    assert "PASSED" in result.output


def test_repeat_models_and_filter(make_project, run_cli, fake_server: FakeOpenAIServer) -> None:
    fake_server.state.answers = {"charged twice": "refund", "crashes": "bug"}
    make_project()
    result = run_cli(
        "test", "-m", "fake", "-m", "other", "--repeat", "3", "--filter", "crash*", "--format", "json"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["completed_calls"] == 6
    assert {(c["case"], c["model"], c["samples"]) for c in report["cases"]} == {
        ("crash", "fake", 3),
        ("crash", "other", 3),
    }
    models = {body["model"] for body in fake_server.state.requests}
    assert models == {"fake-model", "other-model"}


def test_threshold_across_samples(make_project, run_cli, fake_server: FakeOpenAIServer) -> None:
    """A case passes when its pass rate across samples reaches the suite's threshold."""
    answers = iter(["bug", "question", "bug", "bug"])
    fake_server.state.default_answer = lambda messages, body: next(answers)
    suite = """\
prompt: support/triage
repeat: 4
threshold: 0.75
cases:
  - id: crash
    vars: {ticket: "The app crashes"}
    assert: [{type: equals, value: bug}]
"""
    make_project({"suites/triage.yaml": suite})
    result = run_cli("test", "-j", "1", "--format", "json")
    report = json.loads(result.stdout)
    assert result.exit_code == 0, result.output
    case = report["cases"][0]
    assert case["passed_samples"] == 3 and case["pass_rate"] == 0.75 and case["status"] == "passed"


def test_unknown_suite_argument_is_usage_error(make_project, run_cli) -> None:
    make_project()
    result = run_cli("test", "nope")
    assert result.exit_code == 2
    assert "no suite file or folder named 'nope'" in result.output


def test_filter_matching_nothing(make_project, run_cli) -> None:
    make_project()
    result = run_cli("test", "--filter", "zzz*")
    assert result.exit_code == 2
    assert "no cases match" in result.output
