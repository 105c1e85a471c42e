"""Real git repositories made in tmp for the version, lint and base-ref tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from conftest import TRIAGE_PROMPT

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ada Tester",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada Tester",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
}


def git(root: Path, *args: str) -> str:
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


def three_versions(root: Path) -> Path:
    """Commit three versions of support/triage in ``root``, tag the second and branch ``stable`` from it."""
    git(root, "init", "-q", "-b", "main")
    commit_all(root, "Add triage prompt")
    set_prompt(root, "1.1.0", "one word only")
    commit_all(root, "Tighten wording")
    git(root, "tag", "v1.1")
    set_prompt(root, "1.2.0", "a single word")
    commit_all(root, "Reword again")
    git(root, "branch", "stable", "v1.1")
    return root
