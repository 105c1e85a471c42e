"""The assertion registry: every assertion type is one small registered function.

An assertion function takes the model output and the assertion's spec and
returns an ``AssertionResult`` (passed, score in [0, 1], one-line reason).
Any registered type can be negated by prefixing ``not-``. Third-party types
arrive through the ``promptops`` entry-point group: a plugin module imports
``register_assertion`` and decorates its functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

GapType = Literal["knowledge", "behavior", "skill", "reliability"]


class AssertionSpec(BaseModel):
    """One assertion as written in a suite file."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: str
    """Registered assertion type, optionally prefixed with ``not-``."""
    value: Any = None
    """What the output is compared with; its meaning depends on the type."""
    threshold: float | None = None
    """Minimum score for score-based types (e.g. share of matching JSON fields)."""
    gap: GapType | None = None
    """Gap this assertion reveals when it fails; overrides the case's hint."""
    min: float | None = None
    """Lower bound for ``word-count`` and ``length``."""
    max: float | None = None
    """Upper bound for ``word-count``, ``length``, ``latency`` and ``cost``."""
    ignore_order: bool = False
    """``json-match``: compare lists regardless of order."""
    tolerance: float = 0.0
    """``json-match``: absolute tolerance for numbers."""
    exclude_paths: list[str] = Field(default_factory=list)
    """``json-match``: deepdiff paths to ignore, e.g. ``root['id']``."""
    description: str | None = None
    """Free text shown in reports."""

    @field_validator("value", mode="before")
    @classmethod
    def _plain_value(cls, value: Any) -> Any:
        from promptops.locations import plain

        return plain(value)

    @property
    def negated(self) -> bool:
        return self.type.startswith("not-")

    @property
    def base_type(self) -> str:
        return self.type[4:] if self.negated else self.type


@dataclass(frozen=True)
class AssertionContext:
    """What an assertion can see besides the output text."""

    latency_ms: float | None = None
    cost_usd: float | None = None
    vars: dict[str, Any] = field(default_factory=dict)
    golden: str | None = None
    """The accepted output for this case and model, when one exists."""


@dataclass(frozen=True)
class AssertionResult:
    passed: bool
    score: float
    reason: str


AssertionFn = Callable[[str, AssertionSpec, AssertionContext], AssertionResult]
SpecCheck = Callable[[AssertionSpec], None]
"""Raises ``ValueError`` with a one-line message when a spec is unusable."""


@dataclass(frozen=True)
class AssertionType:
    name: str
    fn: AssertionFn
    check: SpecCheck | None
    description: str


_REGISTRY: dict[str, AssertionType] = {}


def register_assertion(name: str, *, check: SpecCheck | None = None) -> Callable[[AssertionFn], AssertionFn]:
    """Register ``fn`` as assertion type ``name``; ``check`` validates specs at load time."""

    def decorate(fn: AssertionFn) -> AssertionFn:
        if name.startswith("not-"):
            raise ValueError(f"assertion type names cannot start with 'not-': {name}")
        doc = (fn.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = AssertionType(name, fn, check, doc[0] if doc else "")
        return fn

    return decorate


def _loaded_registry() -> dict[str, AssertionType]:
    """The registry itself, plugins loaded: read on every evaluation, so it is not copied."""
    from promptops.assertions import load_plugins

    load_plugins()
    return _REGISTRY


def assertion_types() -> dict[str, AssertionType]:
    """All registered types by name (built-ins and plugins)."""
    return dict(_loaded_registry())


def validate_assertion(spec: AssertionSpec) -> None:
    """Raise ``ValueError`` when the type is unknown or the spec unusable."""
    types = assertion_types()
    kind = types.get(spec.base_type)
    if kind is None:
        known = ", ".join(sorted(types))
        raise ValueError(
            f"unknown assertion type {spec.type!r}; known types: {known} (each also as not-TYPE)"
        )
    if kind.check is not None:
        kind.check(spec)


def evaluate_assertion(output: str, spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """Run one assertion; ``not-`` inverts the verdict and the score."""
    kind = _loaded_registry()[spec.base_type]
    result = kind.fn(output, spec, ctx)
    score = min(1.0, max(0.0, float(result.score)))
    if spec.negated:
        return AssertionResult(not result.passed, 1.0 - score, f"not ({result.reason})")
    return AssertionResult(result.passed, score, result.reason)
