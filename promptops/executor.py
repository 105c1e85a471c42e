"""The executor: one model call at a time, through the cache, the limiter and retries.

A call is answered by the replay recordings or the response cache when they
hold it; otherwise it goes to the provider under the adaptive limiter, with
retries and a deadline, and its answer is cached and scored. A call that still
fails after its retries becomes an error result: a failing case is data.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from promptops.assertions import AssertionContext, evaluate_assertion
from promptops.cache import CACHE_FILE, CachedResponse, RecordingFile, ReplayStore, ResponseCache, request_key
from promptops.config import Project, ResolvedModel
from promptops.plan import PlannedCall, RunOptions
from promptops.providers import (
    Completion,
    RetryPolicy,
    acomplete,
    call_with_retries,
    concurrent_call_limit,
    is_rate_limit,
)
from promptops.providers.retries import status_code
from promptops.results import AssertionOutcome, ErrorInfo, SampleResult

Caller = Callable[[ResolvedModel, list[dict[str, str]], dict[str, Any], float], Any]
"""Async function making one model call and returning a ``Completion``."""


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
    per_model: dict[str, asyncio.Semaphore | None] = field(default_factory=dict)
    """Calls in flight per model id, for providers that declare a limit (e.g. one at a time)."""

    @classmethod
    def from_settings(
        cls,
        project: Project,
        options: RunOptions,
        *,
        recordings: Iterable[RecordingFile] = (),
        caller: Caller | None = None,
    ) -> Executor:
        """The executor a run (or the pytest fixture) uses: the project's run settings, overridden by
        ``options``, with the project's response cache.

        ``recordings`` answer calls when ``options.replay`` is set; they are only read then, so a
        generator costs nothing on a live run. Close the executor to close its cache.
        """
        settings = project.config.run
        return cls(
            concurrency=options.concurrency or settings.concurrency,
            policy=RetryPolicy(settings.retries, settings.backoff_s, settings.backoff_max_s),
            timeout_s=options.timeout_s or settings.timeout_s,
            caller=caller or acomplete,
            cache=ResponseCache(project.state_dir / CACHE_FILE),
            read_cache=options.use_cache,
            replay=ReplayStore(list(recordings)) if options.replay else None,
        )

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()

    def _model_slot(self, model_id: str) -> asyncio.Semaphore | None:
        """A queue for the model when its provider limits calls in flight; queueing here (not
        inside the provider) keeps the measured latency of each call honest."""
        if model_id not in self.per_model:
            limit = concurrent_call_limit(model_id)
            self.per_model[model_id] = asyncio.Semaphore(limit) if limit is not None else None
        return self.per_model[model_id]

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

        slot = self._model_slot(call.model.model)

        async def attempt() -> Completion:
            if slot is not None:
                async with slot:
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
