"""Report data is built in one place: every command escalates the same cases by the same rule."""

from __future__ import annotations

import json

from fake_openai import FakeOpenAIServer


def _json(result) -> dict:
    return json.loads(result.stdout)


def test_a_failing_run_gets_the_same_escalation_from_test_report_and_escalate(
    make_project, run_cli, fake_server: FakeOpenAIServer
) -> None:
    fake_server.state.answers = {"charged twice": "refund", "crashes": "question"}
    make_project()
    tested = run_cli("test", "--format", "json")
    assert tested.exit_code == 1, tested.output
    from_test = _json(tested)["escalation"]
    reported = run_cli("report", "latest", "--format", "json")
    assert reported.exit_code == 1, reported.output
    escalated = run_cli("escalate", "latest", "--format", "json")
    assert escalated.exit_code == 0, escalated.output
    assert from_test is not None and [c["case"] for c in from_test["cases"]] == ["crash"]
    assert from_test == _json(reported)["escalation"] == _json(escalated)


def test_passing_runs_and_drifts_escalate_only_when_asked(
    make_project, run_cli, fake_server: FakeOpenAIServer
) -> None:
    fake_server.state.answers = {"charged twice": "refund", "crashes": "bug"}
    make_project()
    first = run_cli("test", "--format", "json")
    second = run_cli("test", "--no-cache", "--format", "json")
    assert first.exit_code == second.exit_code == 0, first.output + second.output
    assert _json(first)["escalation"] is None
    compared = run_cli("compare", _json(first)["run_id"], _json(second)["run_id"], "--format", "json")
    assert compared.exit_code == 0, compared.output
    assert _json(compared)["kind"] == "drift" and _json(compared)["escalation"] is None
    asked = run_cli("escalate", "latest", "--format", "json")
    assert asked.exit_code == 0, asked.output
    assert _json(asked)["cases"] == [] and _json(asked)["source"] == _json(second)["run_id"]
