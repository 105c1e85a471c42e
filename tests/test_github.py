"""The pull-request comment upsert, annotations and job summary, against a fake GitHub API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_github import FakeGitHub

from promptops.reports.markdown import MARKER

ANSWERS = {"charged twice": "refund", "crashes": "question"}


@pytest.fixture
def github_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with FakeGitHub() as api:
        event = tmp_path / "event.json"
        event.write_text(json.dumps({"pull_request": {"number": 7}}))
        monkeypatch.setenv("GITHUB_API_URL", api.url)
        monkeypatch.setenv("GITHUB_REPOSITORY", "acme/app")
        monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
        monkeypatch.setenv("GITHUB_TOKEN", "ghs_test_token")
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
        yield api


def test_comment_is_created_then_updated_never_duplicated(
    make_project, run_cli, fake_server, github_env
) -> None:
    fake_server.state.answers = ANSWERS
    make_project()
    github_env.state.add(7, "an unrelated human comment")
    run_cli("test")
    first = run_cli("github", "comment", "latest")
    assert first.exit_code == 0, first.output
    assert "created comment" in first.output
    fake_server.state.answers = {"charged twice": "refund", "crashes": "bug"}
    run_cli("test", "--no-cache")
    second = run_cli("github", "comment", "latest")
    assert "updated comment" in second.output
    ours = [c for c in github_env.state.on_issue(7) if MARKER in c["body"]]
    assert len(ours) == 1 and len(github_env.state.on_issue(7)) == 2
    assert "✅ promptops test: 2 passed" in ours[0]["body"]
    assert set(github_env.state.tokens) == {"Bearer ghs_test_token"}


def test_comment_found_beyond_the_first_page(make_project, run_cli, fake_server, github_env) -> None:
    make_project()
    for i in range(120):
        github_env.state.add(7, f"chatter {i}")
    github_env.state.add(7, MARKER + "\nold report")
    assert run_cli("test").exit_code == 1
    result = run_cli("github", "comment", "latest")
    assert result.exit_code == 0, result.output
    assert "updated comment" in result.output
    assert len([c for c in github_env.state.on_issue(7) if MARKER in c["body"]]) == 1


def test_annotations_and_step_summary(make_project, run_cli, fake_server, github_env, tmp_path) -> None:
    fake_server.state.answers = ANSWERS
    make_project()
    assert run_cli("test").exit_code == 1
    result = run_cli("github", "comment", "latest", "--summary", "--no-comment")
    assert result.exit_code == 0, result.output
    assert (
        "::error file=suites/triage.yaml,line=9,title=promptops triage%3A%3Acrash [fake]::"
        "equals: expected 'bug'" in (result.output)
    )
    summary = (tmp_path / "summary.md").read_text()
    assert "promptops test: 1 passed, 1 failed" in summary and MARKER not in summary
    assert not github_env.state.requests  # --no-comment: no API call


def test_fork_read_only_token_is_a_clear_error(make_project, run_cli, fake_server, github_env) -> None:
    make_project()
    run_cli("test")
    github_env.state.refuse_writes = 403
    result = run_cli("github", "comment", "latest")
    assert result.exit_code == 3
    assert "answered 403" in result.output and "forks get a read-only token" in result.output


def test_comment_outside_a_pull_request(make_project, run_cli, monkeypatch, github_env) -> None:
    make_project()
    run_cli("test")
    monkeypatch.delenv("GITHUB_EVENT_PATH")
    result = run_cli("github", "comment", "latest")
    assert result.exit_code == 2 and "not a pull-request run" in result.output
    monkeypatch.delenv("GITHUB_TOKEN")
    assert "no GITHUB_TOKEN" in run_cli("github", "comment", "latest", "--pr", "7").output
