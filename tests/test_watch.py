"""``promptops watch``: served model and behaviour tracked per alias, one GitHub issue upserted.

The fake provider is told which model id and system fingerprint to report, and what to answer; the fake
GitHub API keeps the issues. A schedule is played as consecutive runs of the command.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_github import FakeGitHub
from fake_openai import FakeOpenAIServer

from promptops.reports.markdown import WATCH_MARKER
from promptops.results import read_results

ANSWERS = {"charged twice": "refund", "crashes": "question"}


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch):
    with FakeGitHub() as fake:
        monkeypatch.setenv("GITHUB_REPOSITORY", "acme/support")
        monkeypatch.setenv("GITHUB_API_URL", fake.url)
        monkeypatch.setenv("GITHUB_TOKEN", "ghs_test_token")
        yield fake


@pytest.fixture
def watched(make_project, fake_server: FakeOpenAIServer) -> FakeOpenAIServer:
    fake_server.state.answers.update(ANSWERS)
    fake_server.state.served_model = "fake-model-2026-01-01"
    fake_server.state.system_fingerprint = "fp_one"
    make_project()
    return fake_server


def _watch(run_cli, *args: str):
    return run_cli("watch", "--issue", *args)


def _issues(github: FakeGitHub) -> list[dict]:
    return [i for i in github.state.issues.values() if WATCH_MARKER in i["body"]]


def test_watch_opens_updates_and_closes_one_issue(watched, github, run_cli) -> None:
    first = _watch(run_cli)
    assert first.exit_code == 0, first.output
    assert "fake (openai/fake-model): first watch" in first.output
    assert "other (openai/other-model): first watch" in first.output
    assert not github.state.issues

    # each result records what the provider served
    runs = sorted((Path.cwd() / ".promptops/runs").iterdir())
    results = list(read_results(runs[-1] / "results.jsonl"))
    assert {(r.served_model, r.system_fingerprint) for r in results} == {("fake-model-2026-01-01", "fp_one")}

    unchanged = _watch(run_cli)
    assert unchanged.exit_code == 0, unchanged.output
    assert "0 of 2 aliases changed" in unchanged.output
    assert not github.state.issues

    # the provider silently moves the alias to a new snapshot that files crashes as bugs
    watched.state.served_model = "fake-model-2026-03-01"
    watched.state.system_fingerprint = "fp_two"
    watched.state.answers["crashes"] = "bug"
    changed = _watch(run_cli)
    assert changed.exit_code == 1, changed.output
    assert "served model changed: fake-model-2026-01-01 (fp_one) -> fake-model-2026-03-01 (fp_two)" in (
        changed.output
    )
    assert "behaviour changed: 0 regressions, 1 fixes, 0 changed" in changed.output
    [issue] = _issues(github)
    assert issue["state"] == "open"
    assert issue["title"] == "promptops watch: model drift on fake, other"
    body = issue["body"]
    assert body.startswith(WATCH_MARKER) and len(body) <= 65_536
    assert "`fake-model-2026-01-01` (`fp_one`) → `fake-model-2026-03-01` (`fp_two`)" in body
    assert "## `fake` (`openai/fake-model`)" in body and "## `other` (`openai/other-model`)" in body
    assert "triage::crash" in body  # the drift report of each alias, with its cases
    number = issue["number"]

    # next week the answer for refunds changes too: the same issue is updated, not a second one
    watched.state.answers["charged twice"] = "billing"
    again = _watch(run_cli, "-m", "fake")
    assert again.exit_code == 1, again.output
    [issue] = _issues(github)
    assert issue["number"] == number and issue["state"] == "open"
    assert issue["title"] == "promptops watch: model drift on fake"
    assert "expected 'refund', got 'billing'" in issue["body"]
    assert "1 regressions" in again.output

    # nothing changes on the next run: the drift has cleared and the issue closes with a note
    cleared = _watch(run_cli, "-m", "fake")
    assert cleared.exit_code == 0, cleared.output
    [issue] = _issues(github)
    assert issue["state"] == "closed" and issue["state_reason"] == "completed"
    notes = github.state.on_issue(number)
    assert len(notes) == 1 and "no change" in notes[0]["body"]
    assert f"closed issue #{number}" in cleared.output


def test_pinned_baseline_keeps_the_issue_open_and_reopens_it(watched, github, run_cli) -> None:
    assert _watch(run_cli, "-m", "fake").exit_code == 0
    baseline = sorted((Path.cwd() / ".promptops/runs").iterdir())[-1].name
    watched.state.answers["charged twice"] = "billing"
    assert _watch(run_cli, "-m", "fake", "--baseline", baseline).exit_code == 1
    [issue] = _issues(github)
    github.state.issues[issue["number"]]["state"] = "closed"  # someone closed it by hand
    # against the pinned run the regression persists: the issue comes back
    result = _watch(run_cli, "-m", "fake", "--baseline", baseline)
    assert result.exit_code == 1, result.output
    [issue] = _issues(github)
    assert issue["state"] == "open"


def test_json_report_records_served_models(watched, run_cli, tmp_path: Path) -> None:
    assert run_cli("watch", "-m", "fake").exit_code == 0
    watched.state.system_fingerprint = "fp_two"
    result = run_cli("watch", "-m", "fake", "--format", "json", "-o", str(tmp_path / "watch.json"))
    assert result.exit_code == 1, result.output  # a new backend fingerprint alone is a change
    report = json.loads((tmp_path / "watch.json").read_text())
    assert report["kind"] == "watch" and report["version"] == 1
    [alias] = report["aliases"]
    assert alias["served_changed"] and not alias["behaviour_changed"]
    assert alias["served_before"] == [
        {"served_model": "fake-model-2026-01-01", "system_fingerprint": "fp_one", "answers": 2}
    ]
    assert alias["served_now"][0]["system_fingerprint"] == "fp_two"


def test_watch_without_issue_needs_no_github(watched, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/support")
    assert run_cli("watch", "-m", "fake").exit_code == 0
    calls = watched.state.completions
    result = run_cli("watch", "-m", "fake", "--issue")
    assert result.exit_code == 2 and "no GITHUB_TOKEN" in result.output
    assert watched.state.completions == calls  # refused before any model call


@pytest.mark.parametrize(
    "args, state, message",
    [
        pytest.param(("--baseline", "nosuch"), None, "no run 'nosuch'", id="unknown-baseline"),
        pytest.param((), "{not json", "watch.json", id="corrupt-state"),
        pytest.param((), '{"version": 1, "last_runs": {}, "extra": 1}', "watch.json", id="unknown-key"),
    ],
)
def test_bad_input_is_exit_2(watched, run_cli, args, state, message) -> None:
    if state is not None:
        (Path.cwd() / ".promptops").mkdir(exist_ok=True)
        (Path.cwd() / ".promptops/watch.json").write_text(state)
    result = run_cli("watch", "-m", "fake", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
