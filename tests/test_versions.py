"""Prompt versions from real git repositories made in tmp: log, show, diff, resolution, lint."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import TRIAGE_PROMPT

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ada Tester",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada Tester",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
}


def git(root: Path, *args: str) -> str:
    import os

    result = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True, env={**os.environ, **GIT_ENV}
    )
    return result.stdout.strip()


def commit_all(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


def set_prompt(root: Path, version: str, wording: str = "exactly one word") -> None:
    text = TRIAGE_PROMPT.replace("version: 1.0.0", f"version: {version}").replace("exactly one word", wording)
    (root / "prompts/support/triage.j2").write_text(text)


@pytest.fixture
def repo(make_project) -> Path:
    """A project with three committed versions of support/triage, a tag and a branch."""
    root = make_project({".gitignore": ".promptops/\n"})
    git(root, "init", "-q", "-b", "main")
    commit_all(root, "Add triage prompt")
    set_prompt(root, "1.1.0", "one word only")
    commit_all(root, "Tighten wording")
    git(root, "tag", "v1.1")
    set_prompt(root, "1.2.0", "a single word")
    commit_all(root, "Reword again")
    git(root, "branch", "stable", "v1.1")
    return root


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
    assert "version: 1.0.0" in result.output


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


def test_lint_version_bump_rules(repo, run_cli) -> None:
    assert run_cli("lint", "--base", "HEAD").exit_code == 0
    set_prompt(repo, "1.2.0", "one single word")
    result = run_cli("lint", "--base", "HEAD")
    assert result.exit_code == 1
    assert (
        "prompts/support/triage.j2:2: error: prompt text changed since HEAD but version is still 1.2.0"
        in (result.output)
    )
    set_prompt(repo, "1.0.5", "one single word")
    result = run_cli("lint", "--base", "HEAD")
    assert "version 1.0.5 is lower than 1.2.0 at HEAD" in result.output
    set_prompt(repo, "1.3.0", "one single word")
    assert run_cli("lint", "--base", "HEAD").exit_code == 0
    assert run_cli("lint", "--base", "nope").exit_code == 2


def test_lint_reports_variables_coverage_and_suite_errors(make_project, run_cli) -> None:
    unused = TRIAGE_PROMPT.replace(
        "  labels: {default: [refund, bug, question]}",
        "  labels: {default: [refund, bug, question]}\n  customer: {default: x}",
    )
    make_project(
        {
            "prompts/support/triage.j2": unused,
            "prompts/other.j2": "---\nversion: 1.0.0\n---\nHello {{ name }}\n",
            "suites/broken.yaml": "prompt: support/missing\ncases:\n  - id: a\n",
        }
    )
    result = run_cli("lint")
    assert result.exit_code == 1
    out = result.output
    assert "prompts/other.j2: error: prompt other uses variable 'name' but does not declare it" in out
    assert "prompts/support/triage.j2:8: warning: prompt support/triage declares input 'customer'" in out
    assert "prompts/other.j2:1: warning: prompt other has no suite (untested)" in out
    assert "suites/broken.yaml:1: error: prompt 'support/missing' not found" in out
    assert "3 errors" in out or "2 errors" in out


def test_lint_clean_project(make_project, run_cli) -> None:
    make_project()
    result = run_cli("lint")
    assert result.exit_code == 0, result.output
    assert "0 errors, 0 warnings" in result.output


def _answer_by_wording(messages: list[dict], body: dict) -> str:
    """The fake model follows the prompt's wording: the branch's edit changes its answers."""
    system, ticket = messages[0]["content"], messages[-1]["content"]
    terse = "exactly one word" in system
    if "charged" in ticket:
        return "refund" if terse else "refund, I think"
    if "crashes" in ticket:
        return "question" if terse else "bug"
    return "hello there" if terse else "hello there friend"


BASE_REF_SUITE = """\
prompt: support/triage
cases:
  - id: refund-basic
    vars: {ticket: "I was charged twice"}
    gap: skill
    assert: [{type: equals, value: refund}]
  - id: crash
    vars: {ticket: "The app crashes"}
    assert: [{type: equals, value: bug}]
  - id: greeting
    vars: {ticket: "hi"}
    assert: [{type: icontains, value: hello}]
"""


def test_base_ref_reports_regressions_fixes_and_changes(make_project, run_cli, fake_server) -> None:
    fake_server.state.default_answer = _answer_by_wording
    root = make_project({".gitignore": ".promptops/\n", "suites/triage.yaml": BASE_REF_SUITE})
    git(root, "init", "-q", "-b", "main")
    commit_all(root, "Add triage prompt")
    git(root, "checkout", "-q", "-b", "feature")
    set_prompt(root, "1.1.0", "one or two words")
    commit_all(root, "Loosen the wording")
    result = run_cli("test", "--base-ref", "main", "--format", "json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    statuses = {c["case"]: c["status"] for c in report["cases"]}
    assert statuses == {"refund-basic": "regression", "crash": "fix", "greeting": "changed"}
    assert report["baseline_label"] == "main" and report["candidate_label"] == "working tree"
    escalations = report["escalation"]["escalations"]
    assert any(e["gap"] == "skill" for e in escalations)
    text = run_cli("test", "--base-ref", "main").output
    assert "refund-basic" in text and "Regressions" in text


def test_base_ref_with_a_new_input_and_a_new_prompt(make_project, run_cli, fake_server) -> None:
    """Cases the old prompt cannot render, and suites of prompts new at the branch, show as added."""
    fake_server.state.answers = {"charged": "refund"}
    root = make_project(
        {".gitignore": ".promptops/\n", "suites/triage.yaml": BASE_REF_SUITE.split("  - id: crash")[0]}
    )
    git(root, "init", "-q", "-b", "main")
    commit_all(root, "Add triage prompt")
    prompt = (root / "prompts/support/triage.j2").read_text()
    prompt = (
        prompt.replace("version: 1.0.0", "version: 2.0.0")
        .replace("  ticket: {required: true}", "  ticket: {required: true}\n  customer: {default: there}")
        .replace("{{ ticket }}", "{{ customer }}: {{ ticket }}")
    )
    (root / "prompts/support/triage.j2").write_text(prompt)
    (root / "suites/triage.yaml").write_text(
        "prompt: support/triage\ncases:\n  - id: refund-basic\n"
        "    vars: {ticket: 'I was charged twice', customer: Ann}\n"
        "    assert: [{type: contains, value: refund}]\n"
        "  - id: anonymous\n    vars: {ticket: 'I was charged twice'}\n"
        "    assert: [{type: contains, value: refund}]\n"
    )
    result = run_cli("test", "--base-ref", "main", "--format", "json")
    assert result.exit_code == 0, result.output
    statuses = {c["case"]: c["status"] for c in json.loads(result.stdout)["cases"]}
    assert statuses == {"refund-basic": "added", "anonymous": "unchanged"}


def test_base_ref_replay_uses_recordings_committed_at_the_ref(
    make_project, run_cli, fake_server, monkeypatch
) -> None:
    """Keyless CI: the base side answers from the recording committed on main, the head from its own."""
    from conftest import FAKE_KEY_ENV

    fake_server.state.default_answer = _answer_by_wording
    root = make_project({".gitignore": ".promptops/\n", "suites/triage.yaml": BASE_REF_SUITE})
    git(root, "init", "-q", "-b", "main")
    assert run_cli("record").exit_code == 0
    commit_all(root, "Add triage prompt and its recording")
    git(root, "checkout", "-q", "-b", "feature")
    set_prompt(root, "1.1.0", "one or two words")
    assert run_cli("record").exit_code == 0
    commit_all(root, "Loosen the wording")
    calls = len(fake_server.state.requests)
    monkeypatch.delenv(FAKE_KEY_ENV)
    import shutil

    shutil.rmtree(root / ".promptops")
    result = run_cli("test", "--base-ref", "main", "--replay", "--format", "json")
    assert result.exit_code == 1, result.output
    assert len(fake_server.state.requests) == calls
    statuses = {c["case"]: c["status"] for c in json.loads(result.stdout)["cases"]}
    assert statuses == {"refund-basic": "regression", "crash": "fix", "greeting": "changed"}
