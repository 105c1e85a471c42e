"""Assertion types: the registry, the built-in deterministic checks, judges, embeddings and code."""

from __future__ import annotations

from promptops.assertions.base import (
    GAPS,
    AssertionContext,
    AssertionResult,
    AssertionSpec,
    AssertionType,
    GapType,
    Grader,
    JudgeCallError,
    assertion_types,
    evaluate_assertion,
    evaluate_graded_assertion,
    graded_uses,
    register_assertion,
    register_graded_assertion,
    validate_assertion,
)

_plugins_loaded = False


def load_plugins() -> None:
    """Import the built-in types once, then modules of the ``promptops`` entry-point group."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    from importlib.metadata import entry_points

    from promptops.assertions import builtin, code, golden, graded, javascript  # noqa: F401  (the built-in types)

    for entry in entry_points(group="promptops"):
        entry.load()


__all__ = [
    "AssertionContext",
    "AssertionResult",
    "AssertionSpec",
    "AssertionType",
    "GAPS",
    "GapType",
    "Grader",
    "JudgeCallError",
    "assertion_types",
    "evaluate_assertion",
    "evaluate_graded_assertion",
    "graded_uses",
    "load_plugins",
    "register_assertion",
    "register_graded_assertion",
    "validate_assertion",
]
