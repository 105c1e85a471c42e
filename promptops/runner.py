"""Plan execution: cases × models × samples, concurrently, streaming results.

The plan is generated lazily (one rendered case at a time) and results are
appended to the run record as each call completes, so memory does not grow
with the size of the run. A call that still fails after its retries becomes an
error result; the run goes on.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptops.assertions import AssertionContext, evaluate_assertion
from promptops.config import Project, ResolvedModel
from promptops.errors import ConfigError, PromptError, UsageError
from promptops.providers import Completion, RetryPolicy, acomplete, call_with_retries, is_rate_limit
from promptops.providers.retries import status_code
from promptops.results import (
    AssertionOutcome,
    ErrorInfo,
    RunMeta,
    RunSummary,
    RunWriter,
    SampleResult,
    SuitePlan,
    new_run_id,
    now_iso,
    summarize,
)
from promptops.suites import Case, Suite, case_matches

Caller = Callable[[ResolvedModel, list[dict[str, str]], dict[str, Any], float], Any]
"""Async function making one model call and returning a ``Completion``."""


@dataclass(frozen=True)
class PlannedCall:
    """One model call of the plan."""

    suite: Suite
    case: Case
    model: ResolvedModel
    sample: int
    messages: list[dict[str, str]]
    params: dict[str, Any]


@dataclass(frozen=True)
class RunOptions:
    models: tuple[str, ...] = ()
    """Model aliases or ids replacing each suite's models (``-m``)."""
    repeat: int | None = None
    concurrency: int | None = None
    filter: str | None = None
    timeout_s: float | None = None


@dataclass
class Plan:
    """What a run will call, generated lazily."""

    project: Project
    suites: list[Suite]
    options: RunOptions
    models: dict[str, ResolvedModel] = field(default_factory=dict)

    def models_for(self, suite: Suite) -> list[ResolvedModel]:
        names = list(self.options.models) or suite.models(self.project)
        return [self.models[name] for name in names]

    def selected_cases(self, suite: Suite) -> list[Case]:
        return [case for case in suite.cases if case_matches(suite, case, self.options.filter)]

    def count(self) -> int:
        total = 0
        for suite in self.suites:
            models = len(self.models_for(suite))
            for case in self.selected_cases(suite):
                total += models * suite.repeat_for(case, self.project, self.options.repeat)
        return total

    def __iter__(self) -> Iterator[PlannedCall]:
        for suite in self.suites:
            models = self.models_for(suite)
            for case in self.selected_cases(suite):
                messages = [m.to_dict() for m in render_case(suite, case)]
                repeat = suite.repeat_for(case, self.project, self.options.repeat)
                for model in models:
                    params = {**model.params, **suite.params()}
                    for sample in range(repeat):
                        yield PlannedCall(suite, case, model, sample, messages, sample_params(params, sample))


def sample_params(params: dict[str, Any], sample: int) -> dict[str, Any]:
    """Params for one sample: a fixed seed is offset per sample so repeats differ yet reproduce."""
    if sample and isinstance(params.get("seed"), int):
        return {**params, "seed": params["seed"] + sample}
    return params


def render_case(suite: Suite, case: Case) -> list[Any]:
    try:
        return suite.prompt.render(suite.case_vars(case))
    except PromptError as exc:
        raise PromptError(
            f"{exc.message} (rendering case {case.id!r} of {suite.file}:{suite.case_lines.get(case.id, 0)})",
            file=exc.file,
            line=exc.line,
        ) from None


def build_plan(project: Project, suites: list[Suite], options: RunOptions) -> Plan:
    """Resolve models, check keys and render every case once so mistakes surface before any call."""
    plan = Plan(project, suites, options)
    for suite in suites:
        for name in list(options.models) or suite.models(project):
            if name not in plan.models:
                plan.models[name] = project.resolve_model(name)
    for model in plan.models.values():
        if model.api_key_env and model.api_key() is None:
            raise ConfigError(
                f"model {model.alias!r} reads its API key from ${model.api_key_env}, which is not set",
                file=project.config_file,
            )
    for suite in suites:
        for case in plan.selected_cases(suite):
            render_case(suite, case)
    if plan.count() == 0:
        raise UsageError(f"no cases match the filter {options.filter!r}" if options.filter else "no cases to run")
    return plan


class AdaptiveLimiter:
    """Bounds calls in flight; halves the bound on 429, grows it back by one per success."""

    def __init__(self, maximum: int) -> None:
        self.maximum = max(1, maximum)
        self.limit = self.maximum
        self.in_flight = 0
        self._changed = asyncio.Condition()

    async def acquire(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1

    async def release(self, *, rate_limited: bool = False, succeeded: bool = False) -> None:
        async with self._changed:
            self.in_flight -= 1
            if rate_limited:
                self.limit = max(1, self.limit // 2)
            elif succeeded and self.limit < self.maximum:
                self.limit += 1
            self._changed.notify_all()


def _error_info(exc: BaseException) -> ErrorInfo:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ErrorInfo(type=type(exc).__name__, message=message[:500], status_code=status_code(exc))


def evaluate(call: PlannedCall, completion: Completion) -> tuple[bool, float, list[AssertionOutcome]]:
    """Run the case's assertions on one output."""
    ctx = AssertionContext(
        latency_ms=completion.latency_ms, cost_usd=completion.cost_usd, vars=call.suite.case_vars(call.case)
    )
    outcomes: list[AssertionOutcome] = []
    for spec in call.suite.case_assertions(call.case):
        verdict = evaluate_assertion(completion.text, spec, ctx)
        outcomes.append(
            AssertionOutcome(type=spec.type, passed=verdict.passed, score=verdict.score, reason=verdict.reason,
                             gap=spec.gap)
        )
    passed = all(o.passed for o in outcomes)
    score = sum(o.score for o in outcomes) / len(outcomes) if outcomes else 1.0
    return passed, score, outcomes


def _base_result(call: PlannedCall) -> dict[str, Any]:
    prompt = call.suite.prompt
    return {
        "suite": call.suite.name,
        "case": call.case.id,
        "model": call.model.alias,
        "model_id": call.model.model,
        "sample": call.sample,
        "prompt": prompt.name,
        "prompt_version": prompt.version,
        "prompt_fingerprint": prompt.fingerprint,
        "line": call.suite.case_lines.get(call.case.id),
        "threshold": call.suite.threshold_for(call.case),
        "gap": call.case.gap,
    }


@dataclass
class Executor:
    """Runs planned calls with bounded, adaptive concurrency and retries."""

    concurrency: int
    policy: RetryPolicy
    timeout_s: float
    caller: Caller = acomplete
    rng: random.Random = field(default_factory=random.Random)

    async def perform(self, call: PlannedCall, limiter: AdaptiveLimiter) -> SampleResult:
        async def attempt() -> Completion:
            await limiter.acquire()
            ok = limited = False
            try:
                # the guard catches providers that ignore their own timeout
                completion: Completion = await asyncio.wait_for(
                    self.caller(call.model, call.messages, call.params, self.timeout_s),
                    timeout=self.timeout_s * 1.5 + 1,
                )
                ok = True
                return completion
            except Exception as exc:
                limited = is_rate_limit(exc)
                raise
            finally:
                await limiter.release(rate_limited=limited, succeeded=ok)

        base = _base_result(call)
        try:
            completion, attempts = await call_with_retries(attempt, self.policy, rng=self.rng)
        except Exception as exc:  # noqa: BLE001  (a failed call is data, not a crash)
            return SampleResult(**base, error=_error_info(exc), attempts=getattr(exc, "promptops_attempts", 1))
        passed, score, outcomes = evaluate(call, completion)
        return SampleResult(
            **base,
            output=completion.text,
            passed=passed,
            score=score,
            assertions=outcomes,
            latency_ms=round(completion.latency_ms, 3),
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            cost_usd=completion.cost_usd,
            attempts=attempts,
        )

    async def run(self, calls: Iterable[PlannedCall], on_result: Callable[[SampleResult], None]) -> None:
        limiter = AdaptiveLimiter(self.concurrency)
        iterator = iter(calls)

        async def worker() -> None:
            # workers pull from one shared iterator: the plan is never materialised
            for call in iterator:
                on_result(await self.perform(call, limiter))

        await asyncio.gather(*(worker() for _ in range(max(1, self.concurrency))))


class ProgressSink:
    """Receives progress; the CLI supplies a progress bar or plain lines."""

    def start(self, total: int) -> None: ...

    def advance(self, result: SampleResult) -> None: ...

    def finish(self) -> None: ...


@dataclass
class RunOutcome:
    folder: Path
    meta: RunMeta
    summary: RunSummary


def _git_commit(root: Path) -> str | None:
    try:
        import git

        return str(git.Repo(root, search_parent_directories=True).head.commit.hexsha)
    except Exception:  # noqa: BLE001  (not a git repository, or no commits yet)
        return None


def run_plan(
    plan: Plan,
    *,
    progress: ProgressSink | None = None,
    caller: Caller | None = None,
    run_id: str | None = None,
) -> RunOutcome:
    """Execute ``plan``, stream results to a new run record, and summarise it."""
    from promptops import __version__

    project = plan.project
    settings = project.config.run
    total = plan.count()
    run_id = run_id or new_run_id()
    meta = RunMeta(
        run_id=run_id,
        started_at=now_iso(),
        promptops_version=__version__,
        project_root=str(project.root),
        git_commit=_git_commit(project.root),
        suites=[
            SuitePlan(
                name=s.name,
                file=s.file,
                prompt=s.prompt.name,
                prompt_version=s.prompt.version,
                prompt_fingerprint=s.prompt.fingerprint,
                models=[m.alias for m in plan.models_for(s)],
                cases=len(plan.selected_cases(s)),
            )
            for s in plan.suites
        ],
        models={alias: model.model for alias, model in plan.models.items()},
        planned_calls=total,
        repeat=plan.options.repeat,
        concurrency=plan.options.concurrency or settings.concurrency,
        filter=plan.options.filter,
    )
    folder = project.runs_dir / run_id
    writer = RunWriter(folder, meta)
    executor = Executor(
        concurrency=meta.concurrency,
        policy=RetryPolicy(settings.retries, settings.backoff_s, settings.backoff_max_s),
        timeout_s=plan.options.timeout_s or settings.timeout_s,
        caller=caller or acomplete,
    )
    progress = progress or ProgressSink()

    def on_result(result: SampleResult) -> None:
        writer.append(result)
        progress.advance(result)

    started = time.perf_counter()
    progress.start(total)
    try:
        asyncio.run(executor.run(plan, on_result))
    finally:
        writer.close()
        progress.finish()
    from promptops.results import read_results

    summary = summarize(meta, read_results(folder / "results.jsonl"), duration_s=time.perf_counter() - started)
    writer.finish(summary)
    return RunOutcome(folder, meta, summary)
