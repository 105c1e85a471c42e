"""Prompt versions from real git repositories made in tmp: log, show, diff and resolution."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from git_repo import git, three_versions


@pytest.fixture
def repo(make_project) -> Path:
    """A project with three committed versions of support/triage, a tag and a branch."""
    return three_versions(make_project({".gitignore": ".promptops/\n"}))


def test_log_lists_each_commit_with_version(repo, run_cli) -> None:
    result = run_cli("log", "support/triage", "--json")
    assert result.exit_code == 0, result.output
    history = json.loads(result.stdout)
    assert [h["version"] for h in history] == ["1.2.0", "1.1.0", "1.0.0"]
    assert [h["subject"] for h in history] == ["Reword again", "Tighten wording", "Add triage prompt"]
    assert all(h["author"] == "Ada Tester" and len(h["fingerprint"]) == 16 for h in history)
    assert len({h["fingerprint"] for h in history}) == 3
    text = run_cli("log", "support/triage").output
    assert "1.1.0" in text and "Tighten wording" in text


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        pytest.param("support/triage@1.0.0", "exactly one word", id="by-version"),
        pytest.param("support/triage@1.1.0", "one word only", id="by-version-2"),
        pytest.param("support/triage@v1.1", "one word only", id="by-tag"),
        pytest.param("support/triage@stable", "one word only", id="by-branch"),
        pytest.param("support/triage@HEAD~2", "exactly one word", id="by-commit-expr"),
        pytest.param("support/triage", "a single word", id="working-tree"),
    ],
)
def test_resolution_by_version_and_ref(repo, run_cli, reference, expected) -> None:
    result = run_cli("render", reference, "--var", "ticket=hello")
    assert result.exit_code == 0, result.output
    assert expected in result.output
    shown = run_cli("show", reference)
    assert expected in shown.output


def test_resolution_of_a_sha(repo, run_cli) -> None:
    first = git(repo, "rev-list", "--max-parents=0", "HEAD")
    result = run_cli("show", f"support/triage@{first[:8]}")
    assert result.exit_code == 0, result.output
    assert "version: 1.0.0" in result.output and "exactly one word" in result.output


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        pytest.param(
            "support/triage@9.9.9",
            "never declared version 9.9.9; committed versions: 1.0.0, 1.1.0, 1.2.0",
            id="unknown-version",
        ),
        pytest.param("support/triage@no-such-branch", "unknown git ref 'no-such-branch'", id="unknown-ref"),
        pytest.param("support/nope@v1.1", "prompt 'support/nope' not found", id="unknown-prompt-at-ref"),
        pytest.param("support/triage@", "nothing after '@'", id="empty-spec"),
    ],
)
def test_resolution_errors(repo, run_cli, reference, message) -> None:
    result = run_cli("show", reference)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_not_a_git_repository(make_project, run_cli) -> None:
    make_project()
    result = run_cli("log", "support/triage")
    assert result.exit_code == 2
    assert "is not inside a git repository" in result.output


def test_diff_of_text_and_rendered_messages(repo, run_cli) -> None:
    result = run_cli("diff", "support/triage@1.0.0", "support/triage@1.2.0", "--var", "ticket=hi")
    assert result.exit_code == 0
    assert "-version: 1.0.0" in result.output and "+version: 1.2.0" in result.output
    assert "-Reply with exactly one word" in result.output
    assert "+Reply with a single word" in result.output
    assert "(rendered)" in result.output
