"""The assertion registry: every assertion type is one small registered function.

An assertion function takes the model output and the assertion's spec and
returns an ``AssertionResult`` (passed, score in [0, 1], one-line reason).
Any registered type can be negated by prefixing ``not-``. Third-party types
arrive through the ``promptops`` entry-point group: a plugin module imports
``register_assertion`` and decorates its functions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

from pydantic import Field, field_validator

from promptops.strict import StrictModel

GapType = Literal["knowledge", "behavior", "skill", "reliability"]
"""The four kinds of deficiency a failing case can show."""
GAPS: tuple[GapType, ...] = get_args(GapType)
"""The gaps in their reporting order."""


class AssertionSpec(StrictModel):
    """One assertion as written in a suite file."""

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
    judge: str | None = None
    """Model-graded types: the judge model (alias or litellm id), over the suite's and the project's."""
    embedding: str | None = None
    """``similar`` and ``answer-relevance``: the embedding model, over the suite's and the project's."""
    context_var: str = "context"
    """``context-*`` types: the case variable holding the retrieved context (a string or a list)."""
    query_var: str = "query"
    """``answer-relevance``, ``context-*``, ``factuality``, ``g-eval``: the variable holding the question."""

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
    project_root: Path | None = None
    """Root of the project, for assertions that read project files (``python``)."""
    prompt: str | None = None
    """Name of the prompt under test."""


@dataclass(frozen=True)
class AssertionResult:
    passed: bool
    score: float
    reason: str
    error: bool = False
    """No verdict could be reached (e.g. the judge's answer was not understood); never a pass."""
    votes: tuple[bool | None, ...] = ()
    """Model-graded types: each judge call's verdict (None: not understood)."""


class JudgeCallError(Exception):
    """A judge or embedding call gave no answer (provider error after retries, replay miss)."""


class Grader(Protocol):
    """Model calls a graded assertion makes; the runner supplies one that caches, records and retries."""

    @property
    def judge_repeat(self) -> int:
        """Judge calls per verdict; the majority decides."""
        ...

    async def judge(self, template: str, variables: dict[str, Any], vote: int) -> str:
        """Render judge prompt ``template`` with ``variables`` and return the judge's answer text.

        ``vote`` (0-based) tells the calls of one verdict apart, so each has its own seed and cache entry.
        """
        ...

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """One embedding vector per text."""
        ...


AssertionFn = Callable[[str, AssertionSpec, AssertionContext], AssertionResult]
GradedFn = Callable[[str, AssertionSpec, AssertionContext, Grader], Awaitable[AssertionResult]]
SpecCheck = Callable[[AssertionSpec], None]
"""Raises ``ValueError`` with a one-line message when a spec is unusable."""


@dataclass(frozen=True)
class AssertionType:
    name: str
    fn: AssertionFn | None
    check: SpecCheck | None
    description: str
    graded: GradedFn | None = None
    """Set for types that call a judge or an embedding model (and so run in the executor)."""
    uses: frozenset[str] = frozenset()
    """What a graded type calls: ``judge`` and/or ``embedding``."""


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


def register_graded_assertion(
    name: str, *, check: SpecCheck | None = None, uses: tuple[str, ...] = ("judge",)
) -> Callable[[GradedFn], GradedFn]:
    """Register async ``fn`` as a type that calls models through a ``Grader`` (judges, embeddings)."""

    def decorate(fn: GradedFn) -> GradedFn:
        if name.startswith("not-"):
            raise ValueError(f"assertion type names cannot start with 'not-': {name}")
        doc = (fn.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = AssertionType(name, None, check, doc[0] if doc else "", fn, frozenset(uses))
        return fn

    return decorate


def graded_uses(spec: AssertionSpec) -> frozenset[str]:
    """What ``spec`` calls (``judge``, ``embedding``); empty for a deterministic type."""
    kind = _loaded_registry().get(spec.base_type)
    return kind.uses if kind is not None and kind.graded is not None else frozenset()


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


def _finished(result: AssertionResult, spec: AssertionSpec) -> AssertionResult:
    """Clamp the score; ``not-`` inverts verdict and score, but an error stays an error."""
    score = min(1.0, max(0.0, float(result.score)))
    if result.error:
        return AssertionResult(False, 0.0, result.reason, error=True, votes=result.votes)
    if spec.negated:
        return AssertionResult(not result.passed, 1.0 - score, f"not ({result.reason})", votes=result.votes)
    return AssertionResult(result.passed, score, result.reason, votes=result.votes)


def _crashed(spec: AssertionSpec, exc: BaseException) -> AssertionResult:
    """An assertion that raised: no verdict, and the run goes on."""
    detail = " ".join(str(exc).split())[:200]
    return AssertionResult(
        False, 0.0, f"{spec.type} could not be evaluated: {type(exc).__name__}: {detail}", error=True
    )


def evaluate_assertion(output: str, spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """Run one deterministic assertion; ``not-`` inverts the verdict and the score.

    Whatever the output holds (200 KB of brackets, text nested past the recursion limit), an
    exception in a type is an errored result, never a crash of the run.
    """
    kind = _loaded_registry()[spec.base_type]
    if kind.fn is None:
        raise ValueError(f"{spec.type} calls a model: evaluate it with evaluate_graded_assertion")
    try:
        result = kind.fn(output, spec, ctx)
    except Exception as exc:  # noqa: BLE001  (a type's failure on odd output is data, not a crash)
        return _crashed(spec, exc)
    return _finished(result, spec)


async def evaluate_graded_assertion(
    output: str, spec: AssertionSpec, ctx: AssertionContext, grader: Grader
) -> AssertionResult:
    """Run any assertion, model-graded ones through ``grader``; errors in a type are errored results."""
    kind = _loaded_registry()[spec.base_type]
    if kind.graded is None:
        return evaluate_assertion(output, spec, ctx)
    try:
        result = await kind.graded(output, spec, ctx, grader)
    except Exception as exc:  # noqa: BLE001  (as above: errored, never a crash)
        return _crashed(spec, exc)
    return _finished(result, spec)
