"""The GitHub workflow and composite action: schema-valid, least privilege, safe for forks."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / ".github/actions/promptops/action.yml"
WORKFLOWS = sorted((ROOT / ".github/workflows").glob("*.yml"))


def _check_jsonschema() -> list[str]:
    exe = shutil.which("check-jsonschema") or str(Path(sys.executable).with_name("check-jsonschema"))
    if not Path(exe).exists():
        pytest.skip("check-jsonschema is not installed (pip install -e '.[dev]')")
    return [exe]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=[w.name for w in WORKFLOWS])
def test_workflow_matches_the_github_schema(workflow: Path) -> None:
    result = subprocess.run(
        [*_check_jsonschema(), "--builtin-schema", "vendor.github-workflows", str(workflow)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_action_matches_the_github_schema() -> None:
    result = subprocess.run(
        [*_check_jsonschema(), "--builtin-schema", "vendor.github-actions", str(ACTION)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_action_inputs() -> None:
    action = yaml.safe_load(ACTION.read_text())
    assert {"suites", "base-ref", "models", "replay", "python-version", "comment"} <= set(action["inputs"])
    assert action["runs"]["using"] == "composite"
    for step in action["runs"]["steps"]:
        # inputs reach scripts through env, never pasted into the script (no script injection)
        assert "${{ inputs." not in step.get("run", ""), step.get("name")


def test_promptops_workflow_is_least_privilege_and_fork_safe() -> None:
    text = (ROOT / ".github/workflows/promptops.yml").read_text()
    workflow = yaml.safe_load(text)
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads `on` as True
    assert "pull_request_target" not in triggers
    assert "pull_request" in triggers
    assert workflow["permissions"] == {"contents": "read", "pull-requests": "write"}
    steps = workflow["jobs"]["promptops"]["steps"]
    assert steps[0]["with"]["fetch-depth"] == 0
    assert "secrets." not in text  # replay needs no secret, so forks work
