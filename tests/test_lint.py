"""promptops lint: version bumps against a git base, undeclared and unused inputs, untested prompts."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import TRIAGE_PROMPT
from git_repo import set_prompt, three_versions


@pytest.fixture
def repo(make_project) -> Path:
    """A project with three committed versions of support/triage, the newest 1.2.0 at HEAD."""
    return three_versions(make_project({".gitignore": ".promptops/\n"}))


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
    assert result.exit_code == 1
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
    # errors first in file order, then warnings; the broken suite's missing prompt is one error, not two
    assert result.output.splitlines() == [
        "prompts/other.j2: error: prompt other uses variable 'name' but does not declare it under inputs",
        "suites/broken.yaml:1: error: prompt 'support/missing' not found"
        " (expected prompts/support/missing.j2)",
        "prompts/other.j2:1: warning: prompt other has no suite (untested)",
        "prompts/support/triage.j2:8: warning: prompt support/triage declares input 'customer'"
        " but never uses it",
        "2 errors, 2 warnings",
    ]


def test_lint_clean_project(make_project, run_cli) -> None:
    make_project()
    result = run_cli("lint")
    assert result.exit_code == 0, result.output
    assert "0 errors, 0 warnings" in result.output
