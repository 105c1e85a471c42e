"""Whether a pytest run is the plugin's business, and starting the suite session when it is.

The plugin loads in every pytest run of an environment with promptops installed, so it stays
inert unless asked: ``--promptops``, or a path inside a project's suites folder named on the
command line (or in ``testpaths``). Deciding that takes stat calls and, at most, reading the
suites folder from promptops.yaml; the project itself is loaded only once active.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from promptops.pytest_plugin.items import SESSION, SuiteSession

# Repeated from promptops.config: importing that module would import pydantic in every test run.
CONFIG_FILE = "promptops.yaml"


def find_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` holding promptops.yaml (stat calls only)."""
    folder = start if start.is_dir() else start.parent
    for candidate in (folder, *folder.parents):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    return None


def _suites_folder(root: Path) -> Path:
    """The suites folder a project's config names, read without validating the config.

    Only used to decide whether a named path is a suite; the full, validated
    config is loaded once the plugin is active, and reports any mistake.
    """
    import yaml

    from promptops.locations import safe_yaml_value

    try:
        data = safe_yaml_value((root / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        data = None
    folder = data.get("suites") if isinstance(data, dict) else None
    return (root / (folder if isinstance(folder, str) else "suites")).resolve()


def _named_paths(config: pytest.Config) -> list[Path]:
    """Existing paths among the collection arguments (command line or testpaths), node ids cut."""
    paths = []
    for arg in config.args:
        path = config.invocation_params.dir / arg.split("::", 1)[0]
        if path.exists():
            paths.append(path.resolve())
    return paths


def _suite_paths_named(paths: list[Path]) -> tuple[Path | None, list[Path]]:
    """The project root and the named paths that are its suites folder or inside it."""
    roots: dict[Path, Path] = {}
    for path in paths:
        root = find_root(path)
        if root is None:
            continue
        if root not in roots:
            roots[root] = _suites_folder(root)
        if path == roots[root] or path.is_relative_to(roots[root]):
            return root, [p for p in paths if p == roots[root] or p.is_relative_to(roots[root])]
    return None, []


def pytest_configure(config: pytest.Config) -> None:
    """Activate on ``--promptops`` or a named suite path; otherwise leave the run untouched."""
    try:
        paths = _named_paths(config)
        root, explicit = _suite_paths_named(paths)
    except OSError:  # e.g. an unreadable folder above a test path: never break someone else's run
        paths, root, explicit = [], None, []
    if not config.getoption("promptops") and not explicit:
        return
    from promptops.errors import PromptOpsError

    try:
        if root is None:
            starts = [*paths, config.invocation_params.dir, config.rootpath]
            root = next((r for r in map(find_root, starts) if r is not None), config.invocation_params.dir)
        state = SuiteSession.start(config, root)
    except PromptOpsError as exc:
        raise pytest.UsageError(f"promptops: {exc}") from None
    if not explicit:
        suites_dir = state.suites_dir
        # testpaths (or the named paths) may not reach the suites: --promptops means run them too
        if not any(suites_dir == p or suites_dir.is_relative_to(p) for p in paths):
            config.args.append(str(suites_dir))
    config.stash[SESSION] = state
    config.pluginmanager.register(state, "promptops-suites")
