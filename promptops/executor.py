"""The executor: one model call at a time, through the cache, the limiter and retries.

A call is answered by the replay recordings or the response cache when they
hold it; otherwise it goes to the provider under the adaptive limiter, with
retries and a deadline, and its answer is cached and scored. A call that still
fails after its retries becomes an error result: a failing case is data.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from promptops.assertions import AssertionContext, JudgeCallError
from promptops.cache import CACHE_FILE, CachedResponse, RecordingFile, ReplayStore, ResponseCache, request_key
from promptops.config import Project, ResolvedModel
from promptops.embeddings import BUILTIN_EMBEDDING
from promptops.grading import CallAnswer, Graded, grade_output
from promptops.plan import PlannedCall, RunOptions
from promptops.providers import (
    Completion,
    Embeddings,
    RetryPolicy,
    acomplete,
    aembed,
    call_with_retries,
    concurrent_call_limit,
    is_rate_limit,
)
from promptops.providers.retries import status_code
from promptops.results import ErrorInfo, SampleResult

T = TypeVar("T")

Caller = Callable[[ResolvedModel, list[dict[str, str]], dict[str, Any], float], Any]
"""Async function making one model call and returning a ``Completion``."""


async def _within(awaitable: Awaitable[Any], seconds: float) -> Any:
    """``awaitable`` with a deadline; asyncio.timeout (3.11+) avoids wait_for's extra task per call."""
    timeout = getattr(asyncio, "timeout", None)
    if timeout is None:
        return await asyncio.wait_for(awaitable, seconds)
    async with timeout(seconds):
        return await awaitable


def cached_response(completion: Completion) -> CachedResponse:
    """What the cache keeps of a completion, for a model call and a judge call alike."""
    return CachedResponse(
        completion.text,
        completion.prompt_tokens,
        completion.completion_tokens,
        completion.cost_usd,
        round(completion.latency_ms, 3),
        completion.finish_reason,
        completion.served_model,
        completion.system_fingerprint,
    )


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


_CONNECT_FAILURES = frozenset(
    {"APIConnectionError", "ConnectError", "ClientConnectorError", "ConnectionRefusedError", "gaierror"}
)


def _unreachable(exc: BaseException) -> BaseException | None:
    """The connection failure behind ``exc``, if the provider could not be reached at all.

    litellm reports a refused connection as ``InternalServerError (500) ... Connection error.``; the
    cause chain still holds the socket's own error.
    """
    seen: BaseException | None = exc
    found = None
    for _ in range(12):
        if seen is None:
            break
        if type(seen).__name__ in _CONNECT_FAILURES or isinstance(seen, ConnectionRefusedError):
            found = seen
        seen = seen.__cause__ or seen.__context__
    return found


def _error_info(exc: BaseException, model: ResolvedModel | None = None) -> ErrorInfo:
    failure = _unreachable(exc) if model is not None else None
    if model is not None and failure is not None:
        where = model.api_base or f"the default endpoint of {model.model.partition('/')[0] or model.model}"
        root = " ".join(str(failure).split()) or type(failure).__name__
        return ErrorInfo(
            type="ProviderUnreachable",
            message=f"cannot reach model {model.alias!r} ({model.model}) at {where}: {root[:200]}; "
            "is the server running, and is api_base in promptops.yaml right?",
        )
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    # litellm appends the traceback of a response it could not parse: the reason is what comes before
    message = message.split("Traceback (most recent call last)")[0].rstrip() or type(exc).__name__
    return ErrorInfo(type=type(exc).__name__, message=message[:500], status_code=status_code(exc))


async def evaluate(call: PlannedCall, completion: Completion, calls: JudgeCalls) -> Graded:
    """Grade one output with the case's assertions; judge and embedding calls go through ``calls``."""
    suite, case = call.suite, call.case
    ctx = AssertionContext(
        latency_ms=completion.latency_ms,
        cost_usd=completion.cost_usd,
        vars=suite.case_vars(case),
        golden=suite.golden_for(case.id, call.model.alias),
        project_root=call.grading.project.root if call.grading is not None else None,
        prompt=suite.prompt.name,
    )
    return await grade_output(
        call.grading,
        calls,
        suite,
        case,
        completion.text,
        ctx,
        suite.case_assertions(case),
        no_content=completion.no_content,
    )


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
    vectors: dict[str, list[float]] = field(default_factory=dict)
    """Embeddings already computed in this process, by cache key (e.g. a reference shared by many cases)."""
    embedder: BuiltinEmbedder = field(default_factory=lambda: BuiltinEmbedder())

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
        # recordings are read before the cache opens, so a bad recording file cannot leave it open
        replay = ReplayStore(list(recordings)) if options.replay else None
        return cls(
            concurrency=options.concurrency or settings.concurrency,
            policy=RetryPolicy(settings.retries, settings.backoff_s, settings.backoff_max_s),
            timeout_s=options.timeout_s or settings.timeout_s,
            caller=caller or acomplete,
            cache=ResponseCache(project.state_dir / CACHE_FILE),
            read_cache=options.use_cache,
            replay=replay,
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
                hit.served_model,
                hit.system_fingerprint,
            )
            return await self._scored(call, base, completion, limiter, attempts=0, cached=True)
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

        request = self.caller
        try:
            completion, attempts = await self.call_provider(
                call.model, lambda: request(call.model, call.messages, call.params, self.timeout_s), limiter
            )
        except Exception as exc:  # noqa: BLE001  (a failed call is data, not a crash)
            return SampleResult(
                **base, error=_error_info(exc, call.model), attempts=getattr(exc, "promptops_attempts", 1)
            )
        # a null answer is not kept: it is often passing (a filter, an overloaded backend), and the
        # cache keeps text only, so a replay would turn it into an ordinary empty answer
        if self.cache is not None and completion.no_content is None:
            self.cache.put(
                key,
                call.model.model,
                cached_response(completion),
            )
        return await self._scored(call, base, completion, limiter, attempts=attempts, cached=False)

    async def call_provider(
        self, model: ResolvedModel, request: Callable[[], Awaitable[T]], limiter: AdaptiveLimiter
    ) -> tuple[T, int]:
        """One provider call under the model's slot and the limiter, with retries and a deadline.

        Returns the answer and the attempts it took; raises the last error (its attempts attached).
        """
        slot = self._model_slot(model.model)

        async def attempt() -> T:
            if slot is not None:
                async with slot:
                    return await limited_attempt()
            return await limited_attempt()

        async def limited_attempt() -> T:
            await limiter.acquire()
            ok = limited = False
            try:
                # the guard catches providers that ignore their own timeout; it is generous so that a
                # provider that keeps its own (the local models) reports first, even on a busy machine
                guard_s = self.timeout_s * 2 + 5
                try:
                    answer: T = await _within(request(), guard_s)
                except (TimeoutError, asyncio.TimeoutError):  # one class from 3.11, two before
                    raise TimeoutError(
                        f"no answer within {guard_s:g} s: the provider did not stop at its "
                        f"{self.timeout_s:g} s timeout"
                    ) from None
                ok = True
                return answer
            except Exception as exc:
                limited = is_rate_limit(exc)
                raise
            finally:
                await limiter.release(rate_limited=limited, succeeded=ok)

        self.provider_calls += 1
        return await call_with_retries(attempt, self.policy, rng=self.rng)

    async def _scored(
        self,
        call: PlannedCall,
        base: dict[str, Any],
        completion: Completion,
        limiter: AdaptiveLimiter,
        *,
        attempts: int,
        cached: bool,
    ) -> SampleResult:
        graded = await evaluate(call, completion, JudgeCalls(self, limiter))
        if graded.passed is False:
            # what the model was given, so diagnosis can tell a missing fact from one it ignored
            base = {**base, "messages": call.messages, "reference": call.case.reference}
        return SampleResult(
            **base,
            output=completion.text,
            passed=graded.passed,
            score=graded.score,
            assertions=graded.outcomes,
            error=graded.error,
            judge_calls=graded.judge_calls,
            judge_cost_usd=graded.judge_cost_usd,
            latency_ms=round(completion.latency_ms, 3),
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            cost_usd=completion.cost_usd,
            attempts=attempts,
            cached=cached,
            served_model=completion.served_model,
            system_fingerprint=completion.system_fingerprint,
        )

    async def run(self, calls: Iterable[PlannedCall], on_result: Callable[[SampleResult], None]) -> None:
        limiter = AdaptiveLimiter(self.concurrency)
        iterator = iter(calls)

        async def worker() -> None:
            # workers pull from one shared iterator: the plan is never materialised
            for call in iterator:
                on_result(await self.perform(call, limiter))

        await asyncio.gather(*(worker() for _ in range(max(1, self.concurrency))))


def _embedding_key(model_id: str, text: str) -> str:
    """The cache key of one text's embedding (one entry per text, however the texts were batched)."""
    return request_key(model_id, [{"role": "embedding-input", "content": text}], {}, 0)


class BuiltinEmbedder:
    """Batches the built-in model's texts from concurrent graders into forward passes in a thread.

    Graders ask for a few texts each; batched, the per-call costs (tokenizer,
    Python, many small matrix products) are paid once per batch, and a text that
    several graders wait for (a shared reference) is encoded once. Texts that
    arrive while a batch runs wait for the next one. One batch runs at a time:
    two in parallel threads were slower, as OpenBLAS's locks spin.
    """

    batch = 32

    def __init__(self) -> None:
        self.pending: dict[str, list[asyncio.Future[list[float]]]] = {}
        self.worker: asyncio.Task[None] | None = None

    async def embed(self, texts: list[str]) -> list[list[float]]:
        loop = asyncio.get_running_loop()
        futures = []
        for text in texts:
            future: asyncio.Future[list[float]] = loop.create_future()
            self.pending.setdefault(text, []).append(future)
            futures.append(future)
        if self.worker is None or self.worker.done():
            self.worker = asyncio.create_task(self._drain())
        return [await future for future in futures]

    async def _drain(self) -> None:
        from promptops.embeddings import builtin_model, rounded

        await asyncio.sleep(0)  # let graders scheduled in the same turn add their texts
        try:
            model = await asyncio.to_thread(builtin_model)
        except Exception as exc:  # noqa: BLE001  (handed to every waiting grader)
            self._fail(list(self.pending.items()), exc)
            self.pending.clear()
            return
        with model.single_threaded_blas():
            while self.pending:
                chosen = list(self.pending.items())[: self.batch]
                for text, _ in chosen:
                    del self.pending[text]
                try:
                    vectors = await asyncio.to_thread(model.encode, [text for text, _ in chosen])
                except Exception as exc:  # noqa: BLE001  (handed to every waiting grader)
                    self._fail(chosen, exc)
                    continue
                for (_, waiting), vector in zip(chosen, rounded(vectors), strict=True):
                    for future in waiting:
                        if not future.done():
                            future.set_result(vector)

    @staticmethod
    def _fail(chosen: list[tuple[str, list[asyncio.Future[list[float]]]]], exc: Exception) -> None:
        for _, waiting in chosen:
            for future in waiting:
                if not future.done():
                    future.set_exception(exc)


@dataclass
class JudgeCalls:
    """Judge and embedding calls of graded assertions, made like the calls under test.

    The cache and the recordings answer first; a replay miss or a call that
    fails after its retries raises ``JudgeCallError``, which makes the assertion
    errored (never a pass).
    """

    executor: Executor
    limiter: AdaptiveLimiter

    async def complete(
        self, model: ResolvedModel, messages: list[dict[str, str]], params: dict[str, Any], sample: int
    ) -> CallAnswer:
        executor = self.executor
        key = request_key(model.model, messages, params, sample)
        hit = executor.lookup(key)
        if hit is not None:
            return CallAnswer(hit.text, key, False, hit.prompt_tokens, hit.completion_tokens, hit.cost_usd)
        if executor.replay is not None:
            raise JudgeCallError(
                f"no recorded answer from judge {model.alias!r}; run 'promptops record' and commit it"
            )
        request = executor.caller
        try:
            completion, _ = await executor.call_provider(
                model, lambda: request(model, messages, params, executor.timeout_s), self.limiter
            )
        except Exception as exc:  # noqa: BLE001  (the judge failed: an errored assertion)
            info = _error_info(exc, model)
            raise JudgeCallError(f"{info.type}: {info.message}") from None
        if executor.cache is not None:
            executor.cache.put(key, model.model, cached_response(completion))
        return CallAnswer(
            completion.text,
            key,
            True,
            completion.prompt_tokens,
            completion.completion_tokens,
            completion.cost_usd,
        )

    async def embed(
        self, model: ResolvedModel, texts: list[str]
    ) -> tuple[list[list[float]], list[CallAnswer]]:
        """Vectors for ``texts``; the answers list the provider or cache calls for the trace."""
        executor = self.executor
        keys = [_embedding_key(model.model, text) for text in texts]
        found: dict[str, list[float]] = {}
        answers: list[CallAnswer] = []
        for key in dict.fromkeys(keys):
            vector = executor.vectors.get(key)
            hit = executor.lookup(key) if vector is None else None
            if hit is not None:
                vector = json.loads(hit.text)
                executor.vectors[key] = vector
                answers.append(CallAnswer("", key, False, hit.prompt_tokens, None, hit.cost_usd))
            if vector is not None:
                found[key] = vector
        missing_texts = list(dict.fromkeys(t for k, t in zip(keys, texts, strict=True) if k not in found))
        if missing_texts:
            vectors = await self._compute(model, missing_texts)
            builtin = model.model == BUILTIN_EMBEDDING
            for text, vector in zip(missing_texts, vectors.vectors, strict=True):
                key = _embedding_key(model.model, text)
                found[key] = executor.vectors[key] = vector
                if executor.cache is not None:
                    executor.cache.put(key, model.model, CachedResponse(json.dumps(vector)))
                if not builtin:
                    answers.append(CallAnswer("", key, True))
            if not builtin and answers:
                # the request's tokens and cost, accounted once on its last text
                last = answers[-1]
                answers[-1] = CallAnswer("", last.key, True, vectors.prompt_tokens, None, vectors.cost_usd)
        return [found[key] for key in keys], answers

    async def _compute(self, model: ResolvedModel, texts: list[str]) -> Embeddings:
        executor = self.executor
        if model.model == BUILTIN_EMBEDDING:
            # computed here and now, offline: no provider, no recording needed for replay
            try:
                vectors = await executor.embedder.embed(texts)
            except Exception as exc:  # noqa: BLE001  (an errored assertion, never a crash)
                raise JudgeCallError(f"built-in embedding model: {type(exc).__name__}: {exc}") from None
            return Embeddings(vectors, None, 0.0, 0.0)
        if executor.replay is not None:
            raise JudgeCallError(
                f"no recorded embedding from {model.alias!r}; run 'promptops record' and commit the recording"
            )
        try:
            result, _ = await executor.call_provider(
                model, lambda: aembed(model, texts, executor.timeout_s), self.limiter
            )
        except Exception as exc:  # noqa: BLE001  (the embedding call failed: an errored assertion)
            info = _error_info(exc, model)
            raise JudgeCallError(f"{info.type}: {info.message}") from None
        return result
