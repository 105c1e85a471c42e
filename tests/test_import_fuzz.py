"""Seeded fuzzing of ``promptops import promptfoo``: mangled real configs never crash the import,
and whatever it writes passes ``promptops lint``."""

from __future__ import annotations

import copy
import random
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from promptops.errors import PromptOpsError
from promptops.importers.promptfoo import import_promptfoo

EXAMPLES = Path(__file__).parent / "data" / "promptfoo-examples"
SOURCES = sorted(p for p in EXAMPLES.iterdir() if (p / "promptfooconfig.yaml").is_file())
ODD_VALUES: list[Any] = [
    None,
    0,
    -1,
    3.5,
    True,
    "",
    "x",
    "file://",
    "file://missing.csv",
    "file://../../../etc/passwd",
    [],
    {},
    [None],
    {"a": None},
    "{{",
    "{% if %}",
    "sk-not-a-real-key",
    10**30,
    ["file://*.csv"],
    {"id": None},
    {"$ref": "#/assertionTemplates/none"},
    {"type": "javascript", "value": "output.length"},
    {"type": "assert-set", "threshold": 0.5, "assert": [{"type": "contains"}]},
]
MUTANTS = 60


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*path, index))
    return found


def _set(node: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _mutant(rng: random.Random) -> tuple[Path, dict[str, Any]]:
    source = rng.choice(SOURCES)
    config = yaml.safe_load((source / "promptfooconfig.yaml").read_text())
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in _paths(config) if p]
        _set(config, rng.choice(paths), copy.deepcopy(rng.choice(ODD_VALUES)))
    return source, config


@pytest.mark.parametrize("seed", range(3))
def test_mangled_configs_import_cleanly_and_lint(seed: int, tmp_path: Path, run_cli, monkeypatch) -> None:
    rng = random.Random(seed)
    for index in range(MUTANTS // 3):
        source, config = _mutant(rng)
        work = tmp_path / f"m{index}"
        shutil.copytree(source, work / "src")
        (work / "src" / "promptfooconfig.yaml").write_text(yaml.safe_dump(config))
        try:
            import_promptfoo(work / "src" / "promptfooconfig.yaml", work / "out")
        except PromptOpsError:
            continue  # a clear message; anything else is a crash and fails the test
        monkeypatch.chdir(work / "out")
        lint = run_cli("lint")
        assert lint.exit_code == 0, (config, lint.output)
