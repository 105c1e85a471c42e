"""Assertion types: the registry and the built-in deterministic checks."""

from __future__ import annotations

from promptops.assertions.base import (
    AssertionContext,
    AssertionResult,
    AssertionSpec,
    AssertionType,
    GapType,
    assertion_types,
    evaluate_assertion,
    register_assertion,
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

    from promptops.assertions import builtin, golden, javascript  # noqa: F401  (registers the built-in types)

    for entry in entry_points(group="promptops"):
        entry.load()


__all__ = [
    "AssertionContext",
    "AssertionResult",
    "AssertionSpec",
    "AssertionType",
    "GapType",
    "assertion_types",
    "evaluate_assertion",
    "load_plugins",
    "register_assertion",
    "validate_assertion",
]
