"""This repository's own example project: pytest --promptops agrees with promptops test.

The replayed variant answers from the committed recordings (real answers of the
built-in models), so it runs everywhere; the live variant drives the models.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _copy_project(target: Path) -> Path:
    shutil.copy(ROOT / "promptops.yaml", target / "promptops.yaml")
    shutil.copytree(ROOT / "prompts", target / "prompts")
    shutil.copytree(ROOT / "suites", target / "suites")
    return target


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CI": "1"}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def _cli_verdicts(cwd: Path, *flags: str) -> dict[str, str]:
    result = _run(["-m", "promptops", "test", *flags, "--format", "json"], cwd)
    assert result.returncode == 1, result.stderr[-2000:]
    report = json.loads(result.stdout)
    return {f"{c['suite']}::{c['case']}[{c['model']}]": c["status"] for c in report["cases"]}


def _pytest_verdicts(cwd: Path, *flags: str) -> dict[str, str]:
    junit = cwd / "junit.xml"
    result = _run(
        ["-m", "pytest", "--promptops", *flags, "-p", "no:cacheprovider", "-q", f"--junitxml={junit}"], cwd
    )
    assert result.returncode == 1, result.stdout[-3000:]
    verdicts = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        suite = case.get("classname", "").split(".")[-2]  # "suites.triage.yaml" -> "triage"
        node = f"{suite}::{case.get('name')}"
        status = (
            "failed"
            if case.find("failure") is not None
            else "error"
            if case.find("error") is not None
            else "passed"
        )
        verdicts[node] = status
    return verdicts


def test_pytest_plugin_matches_promptops_test_on_the_examples(tmp_path: Path) -> None:
    project = _copy_project(tmp_path)
    cli = _cli_verdicts(project, "--replay")
    plugin = _pytest_verdicts(project, "--promptops-replay")
    assert len(cli) == 31
    assert sorted(cli.values()).count("failed") > 0 and sorted(cli.values()).count("passed") > 0
    assert plugin == cli


@pytest.mark.local
def test_pytest_plugin_matches_promptops_test_live(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp", reason='needs the built-in models: pip install -e ".[local]"')
    project = _copy_project(tmp_path)
    for recording in (project / "suites").glob("*.recording.yaml"):
        recording.unlink()  # nothing recorded: the models answer
    cli = _cli_verdicts(project, "--filter", "*triage*")
    plugin = _pytest_verdicts(project, "-k", "triage")
    assert plugin == cli
