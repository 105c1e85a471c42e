"""promptops test --base-ref: the same suites at a git ref and in the working tree, compared."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import FAKE_KEY_ENV
from git_repo import commit_all, git, set_prompt


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
    # the same model passed with the prompt at main: the edit caused it, so the edit is what to fix
    assert [e["rule"] for e in escalations] == ["prompt-regression"]
    assert escalations[0]["technique"] == "prompt-engineering"
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
    shutil.rmtree(root / ".promptops")
    result = run_cli("test", "--base-ref", "main", "--replay", "--format", "json")
    assert result.exit_code == 1, result.output
    assert len(fake_server.state.requests) == calls
    statuses = {c["case"]: c["status"] for c in json.loads(result.stdout)["cases"]}
    assert statuses == {"refund-basic": "regression", "crash": "fix", "greeting": "changed"}


def test_a_run_records_the_commit_it_ran_at(make_project, run_cli, tmp_path) -> None:
    root = make_project({".gitignore": ".promptops/\n"})
    assert run_cli("test").exit_code in (0, 1)
    # not a repository yet (tmp_path sits outside any): no commit
    assert json.loads(_newest_meta(root).read_text())["git_commit"] is None
    git(root, "init", "-q", "-b", "main")
    head = commit_all(root, "Add triage prompt")
    assert run_cli("test").exit_code in (0, 1)
    assert json.loads(_newest_meta(root).read_text())["git_commit"] == head


def _newest_meta(root: Path) -> Path:
    return max((root / ".promptops" / "runs").glob("*/meta.json"), key=lambda p: p.stat().st_mtime_ns)
