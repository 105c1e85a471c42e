"""Plan execution: cases × models × samples, concurrently, streaming results.

The plan is generated lazily (one rendered case at a time) and results are
appended to the run record as each call completes, so memory does not grow
with the size of the run. A call that still fails after its retries becomes an
error result; the run goes on.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from promptops.assertions import AssertionContext, evaluate_assertion
from promptops.cache import CACHE_FILE, CachedResponse, ReplayStore, ResponseCache, request_key
from promptops.config import Project, ResolvedModel
from promptops.errors import ConfigError, PromptError, RunInterrupted, UsageError
from promptops.providers import Completion, RetryPolicy, acomplete, call_with_retries, is_rate_limit
from promptops.providers.local import check_model_available
from promptops.providers.retries import status_code
from promptops.results import (
    AssertionOutcome,
    ErrorInfo,
    RunMeta,
    RunSummary,
    RunWriter,
    SampleResult,
    SavedRun,
    SuitePlan,
    new_run_id,
    now_iso,
    read_results,
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
    shard: tuple[int, int] | None = None
    """``(I, N)``: run only the I-th of N deterministic parts of the plan (1-based)."""
    use_cache: bool = True
    """Read answers from the response cache (results are always written to it)."""
    replay: bool = False
    """Answer only from the cache and recording files; never call a provider."""


def parse_shard(text: str) -> tuple[int, int]:
    """``I/N`` with 1 <= I <= N."""
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i = n = 0
    if not sep or n < 1 or not 1 <= i <= n:
        raise UsageError(f"--shard expects I/N with 1 <= I <= N, got {text!r}")
    return i, n


def shard_of(suite_name: str, case_id: str, count: int) -> int:
    """Shard (1-based) a case belongs to: by a stable hash, so adding cases moves no others."""
    return zlib.crc32(f"{suite_name}::{case_id}".encode()) % count + 1


@dataclass
class Plan:
    """What a run will call, generated lazily."""

    project: Project
    suites: list[Suite]
    options: RunOptions
    models: dict[str, ResolvedModel] = field(default_factory=dict)
    done: set[tuple[str, str, str, int]] = field(default_factory=set)
    """(suite, case, model, sample) already finished (when resuming)."""
    extra_recordings: list[Any] = field(default_factory=list)
    """More ``RecordingFile``s for replay, e.g. the recordings of a base git ref."""
    only: set[tuple[str, str, str]] | None = None
    """(suite, case, model alias) to run, e.g. the tests pytest selected; None runs every selected case."""

    def models_for(self, suite: Suite) -> list[ResolvedModel]:
        names = list(self.options.models) or suite.models(self.project)
        return [self.models[name] for name in names]

    def wanted(self, suite: Suite, case: Case, model: ResolvedModel) -> bool:
        """Whether ``only`` (when set) includes this case on this model."""
        return self.only is None or (suite.name, case.id, model.alias) in self.only

    def selected_cases(self, suite: Suite) -> list[Case]:
        shard = self.options.shard
        models = self.models_for(suite) if self.only is not None else []
        return [
            case
            for case in suite.cases
            if case_matches(suite, case, self.options.filter)
            and (shard is None or shard_of(suite.name, case.id, shard[1]) == shard[0])
            and (self.only is None or any(self.wanted(suite, case, model) for model in models))
        ]

    def count(self) -> int:
        """Calls in the whole plan, finished ones included."""
        total = 0
        for suite in self.suites:
            models = self.models_for(suite)
            for case in self.selected_cases(suite):
                wanted = sum(self.wanted(suite, case, model) for model in models)
                total += wanted * suite.repeat_for(case, self.project, self.options.repeat)
        return total

    def __iter__(self) -> Iterator[PlannedCall]:
        """Calls still to make, rendered one case at a time."""
        for suite in self.suites:
            models = self.models_for(suite)
            for case in self.selected_cases(suite):
                repeat = suite.repeat_for(case, self.project, self.options.repeat)
                todo = [
                    (model, sample)
                    for model in models
                    if self.wanted(suite, case, model)
                    for sample in range(repeat)
                    if (suite.name, case.id, model.alias, sample) not in self.done
                ]
                if not todo:
                    continue
                messages = [m.to_dict() for m in render_case(suite, case)]
                for model, sample in todo:
                    params = {**model.params, **suite.params()}
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


def build_plan(
    project: Project,
    suites: list[Suite],
    options: RunOptions,
    *,
    only: set[tuple[str, str, str]] | None = None,
) -> Plan:
    """Resolve models, check keys and render every case once so mistakes surface before any call.

    ``only`` narrows the plan to (suite, case, model alias) triples, e.g. the tests pytest selected.
    """
    plan = Plan(project, suites, options, only=only)
    for suite in suites:
        for name in list(options.models) or suite.models(project):
            if name not in plan.models:
                plan.models[name] = project.resolve_model(name)
    used = None if only is None else {alias for _, _, alias in only}
    for model in plan.models.values():
        if used is not None and model.alias not in used:
            continue  # deselected (e.g. pytest -k "not prod"): needs no key and no local install
        # replay never calls a provider, so keyless CI needs no secrets
        if not options.replay and model.api_key_env and model.api_key() is None:
            raise ConfigError(
                f"model {model.alias!r} reads its API key from ${model.api_key_env}, which is not set",
                file=project.config_file,
            )
        if not options.replay:  # a local model without the promptops[local] extra: one clear exit 2
            check_model_available(model.model)
    for suite in suites:
        for case in plan.selected_cases(suite):
            render_case(suite, case)
    if plan.count() == 0:
        raise UsageError(
            f"no cases match the filter {options.filter!r}" if options.filter else "no cases to run"
        )
    return plan


async def _within(awaitable: Awaitable[Any], seconds: float) -> Any:
    """``awaitable`` with a deadline; asyncio.timeout (3.11+) avoids wait_for's extra task per call."""
    timeout = getattr(asyncio, "timeout", None)
    if timeout is None:
        return await asyncio.wait_for(awaitable, seconds)
    async with timeout(seconds):
        return await awaitable


class AdaptiveLimiter:
    """Bounds calls in flight; halves the bound on 429, grows it back by one per success.

    The first wave is paced: each slot opens ``spacing_s`` after the one before.
    A call costs litellm a few milliseconds of CPU on the event loop around its
    request, so calls started in the same instant queue for each other anyway;
    and as answers of similar latency come back in the order the requests left,
    a first wave sent as one burst keeps returning as one burst for the whole
    run. Spacing the first wave spreads every later one.
    """

    def __init__(self, maximum: int, spacing_s: float = 0.006) -> None:
        self.maximum = max(1, maximum)
        self.limit = self.maximum
        self.in_flight = 0
        self.spacing_s = spacing_s
        self._opened = 0
        """Most calls that have been in flight together: slots beyond it are new."""
        self._next_opening = 0.0
        self._changed = asyncio.Condition()

    async def acquire(self) -> None:
        delay = 0.0
        async with self._changed:
            await self._changed.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1
            if self.in_flight > self._opened and self.spacing_s > 0:
                self._opened = self.in_flight
                now = asyncio.get_running_loop().time()
                delay = max(0.0, self._next_opening - now)
                self._next_opening = max(now, self._next_opening) + self.spacing_s
        if delay:
            await asyncio.sleep(delay)

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
        latency_ms=completion.latency_ms,
        cost_usd=completion.cost_usd,
        vars=call.suite.case_vars(call.case),
        golden=call.suite.golden_for(call.case.id, call.model.alias),
    )
    outcomes: list[AssertionOutcome] = []
    for spec in call.suite.case_assertions(call.case):
        verdict = evaluate_assertion(completion.text, spec, ctx)
        outcomes.append(
            AssertionOutcome(
                type=spec.type,
                passed=verdict.passed,
                score=verdict.score,
                reason=verdict.reason,
                gap=spec.gap,
            )
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
    cache: ResponseCache | None = None
    read_cache: bool = True
    replay: ReplayStore | None = None
    """When set, only the cache and these recordings answer; a miss is an error result."""
    provider_calls: int = 0
    one_at_a_time: dict[str, asyncio.Semaphore] = field(default_factory=dict)
    """Built-in local models answer one call at a time; queueing here keeps their latency honest."""

    def lookup(self, key: str) -> CachedResponse | None:
        hit = self.replay.get(key) if self.replay is not None else None
        if hit is None and self.cache is not None and (self.read_cache or self.replay is not None):
            hit = self.cache.get(key)
        return hit

    async def perform(self, call: PlannedCall, limiter: AdaptiveLimiter) -> SampleResult:
        key = request_key(call.model.model, call.messages, call.params, call.sample)
        base = {**_base_result(call), "request_key": key}
        hit = self.lookup(key)
        if hit is not None:
            completion = Completion(
                hit.text,
                hit.prompt_tokens,
                hit.completion_tokens,
                hit.cost_usd,
                hit.latency_ms or 0.0,
                hit.finish_reason,
            )
            return self._scored(call, base, completion, attempts=0, cached=True)
        if self.replay is not None:
            return SampleResult(
                **base,
                attempts=0,
                error=ErrorInfo(
                    type="ReplayMiss",
                    message=f"no recorded response for {call.suite.name}::{call.case.id} "
                    f"[{call.model.alias}] "
                    f"sample {call.sample}; run 'promptops record' and commit the recording",
                ),
            )

        local = (
            self.one_at_a_time.setdefault(call.model.model, asyncio.Semaphore(1))
            if (call.model.model.startswith("local/"))
            else None
        )

        async def attempt() -> Completion:
            if local is not None:
                async with local:
                    return await limited_attempt()
            return await limited_attempt()

        async def limited_attempt() -> Completion:
            await limiter.acquire()
            ok = limited = False
            try:
                # the guard catches providers that ignore their own timeout
                request = self.caller(call.model, call.messages, call.params, self.timeout_s)
                completion: Completion = await _within(request, self.timeout_s * 1.5 + 1)
                ok = True
                return completion
            except Exception as exc:
                limited = is_rate_limit(exc)
                raise
            finally:
                await limiter.release(rate_limited=limited, succeeded=ok)

        self.provider_calls += 1
        try:
            completion, attempts = await call_with_retries(attempt, self.policy, rng=self.rng)
        except Exception as exc:  # noqa: BLE001  (a failed call is data, not a crash)
            return SampleResult(
                **base, error=_error_info(exc), attempts=getattr(exc, "promptops_attempts", 1)
            )
        if self.cache is not None:
            self.cache.put(
                key,
                call.model.model,
                CachedResponse(
                    completion.text,
                    completion.prompt_tokens,
                    completion.completion_tokens,
                    completion.cost_usd,
                    round(completion.latency_ms, 3),
                    completion.finish_reason,
                ),
            )
        return self._scored(call, base, completion, attempts=attempts, cached=False)

    def _scored(
        self, call: PlannedCall, base: dict[str, Any], completion: Completion, *, attempts: int, cached: bool
    ) -> SampleResult:
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
            cached=cached,
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
    provider_calls: int = 0
    """Calls that went to a provider (not answered by the cache or a recording)."""

    def results(self) -> Iterator[SampleResult]:
        return read_results(self.folder / "results.jsonl")

    @property
    def replay_misses(self) -> list[str]:
        return [
            f"{c.suite}::{c.case} [{c.model}]"
            for c in self.summary.cases
            if c.error is not None and c.error.type == "ReplayMiss"
        ]


def _git_commit(root: Path) -> str | None:
    try:
        import git

        return str(git.Repo(root, search_parent_directories=True).head.commit.hexsha)
    except Exception:  # noqa: BLE001  (not a git repository, or no commits yet)
        return None


def _suite_plans(plan: Plan) -> list[SuitePlan]:
    return [
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
    ]


def new_run_meta(plan: Plan, run_id: str | None = None) -> RunMeta:
    from promptops import __version__

    options = plan.options
    shard = options.shard
    return RunMeta(
        run_id=run_id or new_run_id(),
        started_at=now_iso(),
        promptops_version=__version__,
        project_root=str(plan.project.root),
        git_commit=_git_commit(plan.project.root),
        suites=_suite_plans(plan),
        models={alias: model.model for alias, model in plan.models.items()},
        planned_calls=plan.count(),
        repeat=options.repeat,
        concurrency=options.concurrency or plan.project.config.run.concurrency,
        filter=options.filter,
        model_overrides=list(options.models),
        shard=f"{shard[0]}/{shard[1]}" if shard else None,
        timeout_s=options.timeout_s,
        replay=options.replay,
    )


def options_from_meta(meta: RunMeta) -> tuple[list[str], RunOptions]:
    """Suite files and options of a saved run, to resume it as it was started."""
    shard = parse_shard(meta.shard) if meta.shard else None
    options = RunOptions(
        models=tuple(meta.model_overrides),
        repeat=meta.repeat,
        concurrency=meta.concurrency,
        filter=meta.filter,
        timeout_s=meta.timeout_s,
        shard=shard,
        replay=meta.replay,
    )
    return [s.file for s in meta.suites], options


def prepare_resume(plan: Plan, saved: SavedRun) -> None:
    """Mark the saved run's finished calls as done; refuse when a prompt changed since."""
    before = {s.name: s.prompt_fingerprint for s in saved.meta.suites}
    for suite in plan.suites:
        if before.get(suite.name, suite.prompt.fingerprint) != suite.prompt.fingerprint:
            raise UsageError(
                f"prompt {suite.prompt.name} changed since run {saved.meta.run_id} started; "
                "its results would mix two prompt versions, so start a new run",
                file=suite.prompt.file,
            )
    plan.done = {r.key for r in saved.results() if r.error is None}


def _load_replay(plan: Plan) -> ReplayStore:
    from promptops.cache import read_recording, recording_path

    files = list(plan.extra_recordings)
    for suite in plan.suites:
        path = recording_path(suite.path)
        recording = read_recording(path, plan.project.relpath(path))
        if recording is not None:
            files.append(recording)
    return ReplayStore(files)


def _warm_provider(plan: Plan, executor: Executor) -> None:
    """Import (and warm up) litellm before the clock starts when the first call will need it.

    A fully cached or replayed run never imports it (that is what keeps it fast);
    any other run pays the import once, here, rather than inside its first calls.
    """
    if executor.replay is not None or executor.caller is not acomplete:
        return
    first = next(iter(plan), None)
    if first is None:
        return
    if executor.lookup(request_key(first.model.model, first.messages, first.params, first.sample)) is None:
        from promptops.providers import get_litellm

        get_litellm()


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_plan(
    plan: Plan,
    *,
    progress: ProgressSink | None = None,
    caller: Caller | None = None,
    run_id: str | None = None,
    resume: SavedRun | None = None,
) -> RunOutcome:
    """Execute ``plan``, streaming results to a run record, and summarise it.

    With ``resume``, results are appended to that run and only calls it has not
    finished are made. SIGINT and SIGTERM stop the run with every finished
    result kept (``RunInterrupted``, exit 3).
    """
    project = plan.project
    settings = project.config.run
    if resume is not None:
        prepare_resume(plan, resume)
        meta, folder = resume.meta, resume.folder
    else:
        meta = new_run_meta(plan, run_id)
        folder = project.runs_dir / meta.run_id
    writer = RunWriter(folder, meta)
    cache = ResponseCache(project.state_dir / CACHE_FILE)
    executor = Executor(
        concurrency=plan.options.concurrency or settings.concurrency,
        policy=RetryPolicy(settings.retries, settings.backoff_s, settings.backoff_max_s),
        timeout_s=plan.options.timeout_s or settings.timeout_s,
        caller=caller or acomplete,
        cache=cache,
        read_cache=plan.options.use_cache,
        replay=_load_replay(plan) if plan.options.replay else None,
    )
    progress = progress or ProgressSink()
    new_results = 0

    def on_result(result: SampleResult) -> None:
        nonlocal new_results
        writer.append(result)
        new_results += 1
        progress.advance(result)

    _warm_provider(plan, executor)
    started = time.perf_counter()
    progress.start(meta.planned_calls - len(plan.done))
    previous = signal.getsignal(signal.SIGTERM)
    try:
        signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:  # not the main thread (e.g. inside a server); Ctrl-C still works
        previous = None
    try:
        asyncio.run(executor.run(plan, on_result))
    except KeyboardInterrupt:
        writer.close()
        kept = len(plan.done) + new_results
        raise RunInterrupted(
            f"interrupted; {kept} finished results kept in {project.relpath(folder)}; "
            f"resume with: promptops test --resume {meta.run_id}"
        ) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        writer.close()
        cache.close()
        progress.finish()
    results = _latest_results(folder) if resume is not None else read_results(folder / "results.jsonl")
    summary = summarize(meta, results, duration_s=time.perf_counter() - started)
    writer.finish(summary)
    return RunOutcome(folder, meta, summary, provider_calls=executor.provider_calls)


def _latest_results(folder: Path) -> Iterator[SampleResult]:
    """Results of a run, keeping the last one per call (a resumed call may follow its error).

    Two passes over the file keep only keys and line numbers in memory.
    """
    last_line: dict[tuple[str, str, str, int], int] = {}
    for number, result in enumerate(read_results(folder / "results.jsonl")):
        last_line[result.key] = number
    keep = set(last_line.values())
    for number, result in enumerate(read_results(folder / "results.jsonl")):
        if number in keep:
            yield result


def merge_runs(project: Project, runs: list[SavedRun]) -> RunOutcome:
    """Combine shard runs into one run record and one verdict.

    Every call must appear in one run only; shards of one split must agree on N
    and not repeat an index.
    """
    if len(runs) < 2:
        raise UsageError("merge needs at least two runs")
    shards = [r.meta.shard for r in runs if r.meta.shard]
    counts = {s.split("/")[1] for s in shards}
    if len(counts) > 1:
        raise UsageError(f"runs come from different splits: {', '.join(sorted(set(shards)))}")
    if len(shards) != len(set(shards)):
        raise UsageError(f"the same shard appears twice: {', '.join(sorted(shards))}")
    first = runs[0].meta
    suites: dict[str, SuitePlan] = {}
    for run in runs:
        for suite in run.meta.suites:
            known = suites.get(suite.name)
            if known and known.prompt_fingerprint != suite.prompt_fingerprint:
                raise UsageError(
                    f"suite {suite.name} ran different prompt texts in {first.run_id} and {run.meta.run_id}"
                )
            if known:
                known.cases += suite.cases
            else:
                suites[suite.name] = suite.model_copy()
    meta = first.model_copy(
        update={
            "run_id": new_run_id(),
            "started_at": min(r.meta.started_at for r in runs),
            "suites": list(suites.values()),
            "models": {k: v for r in runs for k, v in r.meta.models.items()},
            "planned_calls": sum(r.meta.planned_calls for r in runs),
            "shard": None,
            "merged_from": [r.meta.run_id for r in runs],
        }
    )
    folder = project.runs_dir / meta.run_id
    writer = RunWriter(folder, meta)
    seen: set[tuple[str, str, str, int]] = set()
    try:
        for run in runs:
            for result in _latest_results(run.folder):
                if result.key in seen:
                    raise UsageError(
                        f"{result.suite}::{result.case} [{result.model}] sample {result.sample} "
                        f"appears in more than one run; merge shards of one split only"
                    )
                seen.add(result.key)
                writer.append(result)
    except UsageError:
        writer.close()
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
        raise
    writer.close()
    summary = summarize(meta, read_results(folder / "results.jsonl"))
    writer.finish(summary)
    return RunOutcome(folder, meta, summary)


def _answers_by_suite(outcome: RunOutcome) -> tuple[dict[str, list[SampleResult]], int]:
    """The run's answered calls per suite, and how many calls failed."""
    by_suite: dict[str, list[SampleResult]] = {}
    errors = 0
    for result in outcome.results():
        if result.error is not None or result.output is None or result.request_key is None:
            errors += 1
            continue
        by_suite.setdefault(result.suite, []).append(result)
    return by_suite, errors


class _CaseEntry(Protocol):
    @property
    def case(self) -> str: ...


EntryT = TypeVar("EntryT", bound=_CaseEntry)


def _merged(
    old: Iterable[EntryT], fresh: dict[Any, EntryT], key: Callable[[EntryT], Any], case_ids: list[str]
) -> list[EntryT]:
    """Fresh entries, after the old ones they do not replace whose case still exists."""
    existing = set(case_ids)
    return [*(e for e in old if key(e) not in fresh and e.case in existing), *fresh.values()]


def record_suites(plan: Plan, *, progress: ProgressSink | None = None) -> tuple[list[tuple[str, int]], int]:
    """Run ``plan`` and write each suite's successful responses to its recording file.

    Entries for models or samples not in this run are kept; entries for cases
    that no longer exist are dropped. Returns (file, entries) per suite and the
    number of calls that failed.
    """
    from promptops.cache import Recording, RecordingFile, read_recording, recording_path, write_recording

    by_suite, errors = _answers_by_suite(run_plan(plan, progress=progress))
    written: list[tuple[str, int]] = []
    for suite in plan.suites:
        path = recording_path(suite.path)
        old = read_recording(path, plan.project.relpath(path))
        case_ids = [c.id for c in suite.cases]
        fresh = {
            (r.case, r.model, r.sample): Recording(
                case=r.case,
                model=r.model,
                model_id=r.model_id,
                sample=r.sample,
                key=r.request_key or "",
                output=r.output or "",
                prompt_tokens=r.prompt_tokens,
                completion_tokens=r.completion_tokens,
                cost_usd=r.cost_usd,
                latency_ms=r.latency_ms,
            )
            for r in by_suite.get(suite.name, [])
        }
        recording = RecordingFile(
            suite=suite.name,
            prompt_version=suite.prompt.version,
            prompt_fingerprint=suite.prompt.fingerprint,
            recordings=_merged(
                old.recordings if old else [], fresh, lambda e: (e.case, e.model, e.sample), case_ids
            ),
        )
        write_recording(path, recording, case_ids)
        written.append((plan.project.relpath(path), len(recording.recordings)))
    return written, errors


def update_goldens(plan: Plan, *, progress: ProgressSink | None = None) -> tuple[list[tuple[str, int]], int]:
    """Run ``plan`` (first sample of each case) and accept its outputs as golden.

    Goldens of models not in this run are kept; goldens of removed cases are
    dropped. Returns (file, entries) per suite and the number of failed calls.
    """
    from promptops.suites import GoldenFile, GoldenOutput, golden_path, write_golden

    by_suite, errors = _answers_by_suite(run_plan(plan, progress=progress))
    written = []
    for suite in plan.suites:
        fresh = {
            (r.case, r.model): GoldenOutput(
                case=r.case,
                model=r.model,
                model_id=r.model_id,
                prompt_version=r.prompt_version,
                prompt_fingerprint=r.prompt_fingerprint,
                output=r.output or "",
            )
            for r in by_suite.get(suite.name, [])
            if r.sample == 0
        }
        case_ids = [c.id for c in suite.cases]
        goldens = _merged(suite.goldens.values(), fresh, lambda g: (g.case, g.model), case_ids)
        golden = GoldenFile(suite=suite.name, goldens=goldens)
        path = golden_path(suite.path)
        write_golden(path, golden, case_ids)
        written.append((plan.project.relpath(path), len(golden.goldens)))
    return written, errors


def run_against_ref(
    project: Project,
    suite_args: tuple[str, ...],
    options: RunOptions,
    base_ref: str,
    *,
    progress: Callable[[], ProgressSink] | None = None,
) -> tuple[RunOutcome | None, RunOutcome]:
    """Run the suites with prompts at git ``base_ref`` and at the working tree.

    Returns (baseline outcome or None when no suite's prompt exists at the ref,
    candidate outcome). Both plans are built before either runs, so a mistake on
    either side costs no model calls.
    """
    from promptops.suites import load_suites, load_suites_at
    from promptops.versions import source_at_ref

    base_suites = load_suites_at(project, source_at_ref(project, base_ref), suite_args)
    candidate_plan = build_plan(project, load_suites(project, suite_args), options)
    base_plan = None
    probe = Plan(project, base_suites, options)
    if any(probe.selected_cases(suite) for suite in base_suites):
        base_plan = build_plan(project, base_suites, options)
        if options.replay:
            base_plan.extra_recordings = _recordings_at_ref(project, base_suites, base_ref)
    make = progress or ProgressSink
    base = run_plan(base_plan, progress=make()) if base_plan is not None else None
    return base, run_plan(candidate_plan, progress=make())


def _recordings_at_ref(project: Project, suites: list[Suite], ref: str) -> list[Any]:
    """The suites' recording files as committed at ``ref``: the base side of a keyless --base-ref run."""
    from promptops.cache import RecordingFile, recording_path
    from promptops.locations import load_yaml
    from promptops.versions import read_at_ref

    found = []
    for suite in suites:
        path = recording_path(suite.path)
        text = read_at_ref(project, ref, path)
        if text is None:
            continue
        data = load_yaml(text, file=f"{project.relpath(path)}@{ref}", error=UsageError)
        try:
            found.append(RecordingFile.model_validate(data))
        except ValueError:
            continue  # an older, incompatible recording simply gives replay misses
    return found
