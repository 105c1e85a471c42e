"""The GitHub workflow and composite action: schema-valid, least privilege, safe for forks."""

from __future__ import annotations

import re
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


# a requirement that names the bare distribution `promptops` (optionally with extras or a version), which on
# PyPI belongs to an unrelated project; `promptops-cli` and `-e .` do not match
_BARE_NAME = re.compile(r"""pip install\s+["']?promptops(?:\[[^\]]*\])?(?:[=<>~!]=?[^\s"']*)?["']?(?:\s|$)""")


def test_install_never_names_a_distribution_this_project_does_not_own() -> None:
    action = yaml.safe_load(ACTION.read_text())
    assert action["inputs"]["install"]["default"] == ""
    resolve = next(s for s in action["runs"]["steps"] if s.get("id") == "lock")
    assert "$GITHUB_ACTION_PATH" in resolve["run"]  # the action installs its own source by default
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "promptops-cli"
    assert project["scripts"] == {"promptops": "promptops.cli:main"}
    texts = [ROOT / "README.md", ACTION, *WORKFLOWS, *(ROOT / "docs").glob("*.md")]
    texts += list((ROOT / "promptops").rglob("*.py"))
    for path in texts:
        for line in path.read_text(encoding="utf-8").splitlines():
            if "Never `pip install promptops`" in line:
                continue
            assert not _BARE_NAME.search(line), f"{path.relative_to(ROOT)}: {line.strip()}"
    from promptops.providers.local import INSTALL_HINT

    assert INSTALL_HINT == 'pip install "promptops-cli[local]"'


@pytest.mark.parametrize(
    "line, bare",
    [
        pytest.param("pip install promptops", True, id="bare"),
        pytest.param('pip install "promptops[local]"', True, id="bare-extra"),
        pytest.param("pip install promptops==0.1.0", True, id="bare-pinned"),
        pytest.param('pip install "promptops-cli[local]"', False, id="ours"),
        pytest.param('pip install -e ".[local]"', False, id="checkout"),
    ],
)
def test_bare_name_pattern(line: str, bare: bool) -> None:
    assert bool(_BARE_NAME.search(line)) is bare


def _uses() -> list[tuple[str, str]]:
    found = []
    for path in [ACTION, *WORKFLOWS]:
        for match in re.finditer(r"^\s*(?:-\s+)?uses:\s*(\S+)", path.read_text(), re.M):
            found.append((path.name, match.group(1)))
    return found


def test_every_action_is_pinned_to_a_commit() -> None:
    remote = [(name, ref) for name, ref in _uses() if not ref.startswith("./")]
    assert remote, "no remote actions found: the pattern is wrong"
    for name, ref in remote:
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", ref), f"{name}: {ref} is not pinned to a SHA"


def test_checkouts_keep_no_credentials_and_caches_are_keyed_on_the_lock() -> None:
    for workflow in WORKFLOWS:
        for job in yaml.safe_load(workflow.read_text())["jobs"].values():
            for step in job["steps"]:
                if str(step.get("uses", "")).startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, workflow.name
    steps = {s.get("id") or s.get("name"): s for s in yaml.safe_load(ACTION.read_text())["runs"]["steps"]}
    assert "steps.lock.outputs.key" in steps["venv-cache"]["with"]["key"]
    assert "steps.lock.outputs.models-key" in steps["Restore the built-in models"]["with"]["key"]
    # a matrix's jobs upload under different names
    assert steps["upload"]["with"]["name"] == "${{ steps.artifact.outputs.name }}"


def test_zizmor_finds_nothing() -> None:
    exe = shutil.which("zizmor") or str(Path(sys.executable).with_name("zizmor"))
    if not Path(exe).exists():
        pytest.skip("zizmor is not installed (pip install -e '.[dev]')")
    result = subprocess.run([exe, "--offline", str(ROOT / ".github")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_watch_workflow_runs_on_a_schedule_with_issue_rights_only() -> None:
    text = (ROOT / ".github/workflows/promptops-watch.yml").read_text()
    workflow = yaml.safe_load(text)
    triggers = workflow[True] if True in workflow else workflow["on"]
    assert triggers["schedule"][0]["cron"] and "workflow_dispatch" in triggers
    assert workflow["permissions"] == {"contents": "read", "issues": "write"}
    runs = [s.get("run", "") for s in workflow["jobs"]["watch"]["steps"]]
    assert any(r.startswith("promptops watch --issue") for r in runs)
    # the last watch runs travel from one scheduled run to the next
    uses = [s.get("uses", "") for s in workflow["jobs"]["watch"]["steps"]]
    assert any(u.startswith("actions/cache/restore@") for u in uses)
    assert any(u.startswith("actions/cache/save@") for u in uses)


def test_action_lock_pins_every_dependency_within_its_range() -> None:
    """constraints.txt, the lock the action installs with and keys its caches on, fits pyproject.toml."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    from packaging.requirements import Requirement

    def canonical(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    lock = ROOT / ".github/actions/promptops/constraints.txt"
    pins = dict(
        (canonical(line.split("==")[0]), line.split("==")[1])
        for line in lock.read_text().splitlines()
        if line and not line.startswith("#")
    )
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for text in [*project["dependencies"], *project["optional-dependencies"]["local"]]:
        requirement = Requirement(text)
        name = canonical(requirement.name)
        assert name in pins, f"{name} is not pinned in {lock.name}"
        assert requirement.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]}"
    steps = {s.get("id"): s for s in yaml.safe_load(ACTION.read_text())["runs"]["steps"]}
    assert "constraints.txt" in steps["lock"]["run"]
