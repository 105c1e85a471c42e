"""The ``python`` assertion: a function in a project file grades the output.

``{type: python, value: "checks/reply.py:polite"}`` loads ``checks/reply.py``
(relative to the project root, and never outside it) and calls
``polite(output, context)``, where ``context`` is a dict with ``vars``,
``prompt``, ``golden``, ``latency_ms`` and ``cost_usd``. The function returns a
bool, a score in [0, 1] (passing at ``threshold``, else when above 0), or a
result: a dict with ``pass`` and optional ``score`` and ``reason`` (promptfoo's
``GradingResult`` keys), or an ``AssertionResult``. An exception in the user's
function is an errored assertion whose reason is the traceback's last line.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from promptops.assertions.base import AssertionContext, AssertionResult, AssertionSpec, register_assertion
from promptops.assertions.builtin import excerpt

_modules: dict[tuple[Path, int, int], ModuleType] = {}
_modules_lock = threading.Lock()


def split_target(value: Any) -> tuple[str, str]:
    """``"file.py:function"`` -> (file, function); raises ``ValueError`` for any other form."""
    if not isinstance(value, str) or value.count(":") != 1:
        raise ValueError("python: value must be 'path/to/file.py:function'")
    file, function = (part.strip() for part in value.split(":"))
    if not file.endswith(".py") or not function.isidentifier():
        raise ValueError(f"python: value must be 'path/to/file.py:function', got {value!r}")
    if Path(file).is_absolute():
        raise ValueError(f"python: {file} must be a path relative to the project root")
    return file, function


def resolve_target(root: Path, value: str) -> tuple[Path, str]:
    """The file (inside the project, symlinks resolved) and the function name; ``ValueError`` otherwise."""
    file, function = split_target(value)
    base = root.resolve()
    path = (base / file).resolve()
    if not path.is_relative_to(base):
        raise ValueError(f"python: {file} is outside the project")
    if not path.is_file():
        raise ValueError(f"python: {file} does not exist")
    return path, function


def _check_python(spec: AssertionSpec) -> None:
    split_target(spec.value)
    if spec.threshold is not None and not 0.0 <= spec.threshold <= 1.0:
        raise ValueError(f"python: threshold must be between 0 and 1, got {spec.threshold:g}")


def _load(path: Path) -> ModuleType:
    """The module at ``path``, loaded once per version of the file (its mtime and size)."""
    stat = path.stat()
    key = (path, stat.st_mtime_ns, stat.st_size)
    with _modules_lock:
        module = _modules.get(key)
        if module is None:
            name = f"promptops_user_{abs(hash(key))}"
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise ValueError(f"cannot load {path.name} as Python")
            module = importlib.util.module_from_spec(spec)
            # the file's own folder first, so it can import its neighbours
            sys.path.insert(0, str(path.parent))
            try:
                spec.loader.exec_module(module)
            finally:
                sys.path.remove(str(path.parent))
            _modules[key] = module
        return module


def _last_traceback_line(exc: BaseException) -> str:
    lines = traceback.format_exception_only(type(exc), exc)
    return excerpt(lines[-1].strip() if lines else type(exc).__name__, 200)


def interpret(returned: Any, spec: AssertionSpec) -> AssertionResult:
    """Turn what a user function returned into a verdict; ``TypeError`` for anything else."""
    if isinstance(returned, AssertionResult):
        return returned
    if isinstance(returned, bool):
        return AssertionResult(returned, float(returned), "function returned " + str(returned))
    if isinstance(returned, (int, float)):
        score = float(returned)
        passed = score >= spec.threshold if spec.threshold is not None else score > 0
        return AssertionResult(passed, score, f"function returned score {score:g}")
    if isinstance(returned, dict):
        verdict = returned.get("pass", returned.get("passed"))
        given = returned.get("score")
        number = float(given) if isinstance(given, (int, float)) and not isinstance(given, bool) else None
        if not isinstance(verdict, bool) and number is not None:
            verdict = number >= spec.threshold if spec.threshold is not None else number > 0
        if not isinstance(verdict, bool):
            raise TypeError("the returned dict needs a bool 'pass' (or a numeric 'score')")
        reason = str(returned.get("reason") or f"function returned pass={verdict}")
        return AssertionResult(verdict, float(verdict) if number is None else number, excerpt(reason, 300))
    raise TypeError(f"the function returned {type(returned).__name__}; expected bool, a number or a dict")


@register_assertion("python", check=_check_python)
def python_assertion(output: str, spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """A Python function in a project file, ``file.py:function(output, context)``, grades the output."""
    if ctx.project_root is None:
        return AssertionResult(False, 0.0, "python: no project root to load the file from", error=True)
    try:
        path, function = resolve_target(ctx.project_root, spec.value)
    except ValueError as exc:
        return AssertionResult(False, 0.0, str(exc), error=True)
    context = {
        "vars": dict(ctx.vars),
        "prompt": ctx.prompt,
        "golden": ctx.golden,
        "latency_ms": ctx.latency_ms,
        "cost_usd": ctx.cost_usd,
    }
    try:
        fn = getattr(_load(path), function, None)
        if not callable(fn):
            return AssertionResult(False, 0.0, f"python: {spec.value} names no function", error=True)
        return interpret(fn(output, context), spec)
    except (Exception, SystemExit) as exc:  # noqa: BLE001  (the user code failed: an errored assertion)
        return AssertionResult(False, 0.0, f"python {spec.value}: {_last_traceback_line(exc)}", error=True)
