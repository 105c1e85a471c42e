"""The runner against injected provider faults: retries, backoff, concurrency, error results."""

from __future__ import annotations

import asyncio
import json
import random

import pytest
from fake_openai import FakeOpenAIServer

from promptops.config import ResolvedModel
from promptops.executor import AdaptiveLimiter
from promptops.providers import RetryPolicy, acomplete, call_with_retries
from promptops.providers.retries import backoff_delay, is_retryable, retry_after_s


def _report(result) -> dict:
    return json.loads(result.stdout)


def test_429_twice_then_success_passes(make_project, run_cli, fake_server: FakeOpenAIServer) -> None:
    fake_server.state.answers = {"charged twice": "refund", "crashes": "bug"}
    make_project()
    fake_server.state.fault_script[:] = ["429", "429"]
    result = run_cli("test", "-j", "1", "--filter", "refund-basic", "--format", "json")
    assert result.exit_code == 0, result.output
    assert len(fake_server.state.requests) == 3
    run = _report(result)
    assert run["cases"][0]["status"] == "passed"


@pytest.mark.parametrize("fault", ["429", "500", "503", "timeout", "reset"])
def test_each_transient_fault_is_retried(make_project, run_cli, fake_server: FakeOpenAIServer, fault) -> None:
    fake_server.state.answers = {"charged twice": "refund", "crashes": "bug"}
    fake_server.state.hang_s = 2.5  # beyond the project's 1 s call timeout
    make_project()
    fake_server.state.fault_script[:] = [fault]
    result = run_cli("test", "-j", "1", "--filter", "refund-basic")
    assert result.exit_code == 0, result.output
    assert fake_server.state.completions == 1
    assert len(fake_server.state.requests) == 2


def test_persistent_failure_becomes_error_result_exit_3(make_project, run_cli, fake_server) -> None:
    fake_server.state.answers = {"charged twice": "refund", "crashes": "bug"}
    make_project()
    fake_server.state.fault_script[:] = ["500"] * 4  # first attempt + 3 retries
    result = run_cli("test", "-j", "1", "--filter", "refund-basic", "--format", "json")
    assert result.exit_code == 3, result.output
    case = _report(result)["cases"][0]
    assert case["status"] == "error"
    assert case["error"]["status_code"] == 500
    assert len(fake_server.state.requests) == 4


def test_error_result_is_listed_in_text_report(make_project, run_cli, fake_server) -> None:
    make_project()
    fake_server.state.fault_script[:] = ["500"] * 4
    result = run_cli("test", "-j", "1", "--filter", "refund-basic")
    assert result.exit_code == 3
    assert "Errors (1)" in result.output
    assert "InternalServerError (500)" in result.output
    assert "ERROR: 0 passed, 0 failed, 1 errors" in result.output


def test_client_errors_are_not_retried(make_project, run_cli, fake_server) -> None:
    make_project()
    fake_server.state.fault_script[:] = ["401"]
    result = run_cli("test", "-j", "1", "--filter", "refund-basic", "--format", "json")
    assert result.exit_code == 3
    assert len(fake_server.state.requests) == 1
    assert _report(result)["cases"][0]["error"]["status_code"] == 401


def test_failures_beat_errors_for_the_exit_code(make_project, run_cli, fake_server) -> None:
    """A verdict of failure stands even when other calls errored."""
    fake_server.state.answers = {"charged twice": "refund", "crashes": "question"}
    make_project()
    fake_server.state.fault_script[:] = ["500"] * 4
    result = run_cli("test", "-j", "1", "--format", "json")
    assert result.exit_code == 1
    statuses = sorted(c["status"] for c in _report(result)["cases"])
    assert statuses == ["error", "failed"]


def test_concurrency_is_bounded(make_project, run_cli, fake_server) -> None:
    fake_server.state.latency_s = 0.05
    cases = "\n".join(
        f"  - id: c{i}\n    vars: {{ticket: 't{i}'}}\n    assert: [{{type: contains, value: t}}]"
        for i in range(12)
    )
    make_project({"suites/triage.yaml": f"prompt: support/triage\ncases:\n{cases}\n"})
    result = run_cli("test", "-j", "3")
    assert result.exit_code == 0, result.output
    assert fake_server.state.max_in_flight == 3
    assert fake_server.state.completions == 12


def test_provider_declared_call_limit_queues_calls_per_model(
    make_project, run_cli, fake_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A provider that answers one call at a time says so when it registers; the executor queues for it."""
    from litellm import CustomLLM

    from promptops import providers

    monkeypatch.setattr(providers, "_CUSTOM_PROVIDERS", dict(providers._CUSTOM_PROVIDERS))
    monkeypatch.setattr(providers, "_CALL_LIMITS", dict(providers._CALL_LIMITS))
    seen = {"in_flight": 0, "most": 0, "calls": 0}

    class OneAtATime(CustomLLM):
        async def acompletion(self, *args, **kwargs):
            seen["in_flight"] += 1
            seen["most"] = max(seen["most"], seen["in_flight"])
            await asyncio.sleep(0.02)
            seen["in_flight"] -= 1
            seen["calls"] += 1
            response = kwargs["model_response"]
            response.choices[0].message.content = "ticket"
            return response

    providers.register_provider("serialtest", OneAtATime, concurrent_calls=1)
    providers.register_custom_providers(providers.get_litellm())
    assert providers.concurrent_call_limit("serialtest/x") == 1
    assert providers.concurrent_call_limit("local/smollm2-135m-instruct") == 1
    assert providers.concurrent_call_limit("openai/fake-model") is None
    cases = "\n".join(
        f"  - id: c{i}\n    vars: {{ticket: 't{i}'}}\n    assert: [{{type: contains, value: ticket}}]"
        for i in range(6)
    )
    make_project({"suites/triage.yaml": f"prompt: support/triage\ncases:\n{cases}\n"})
    result = run_cli("test", "-j", "4", "--no-cache", "-m", "serialtest/echo")
    assert result.exit_code == 0, result.output
    assert seen == {"in_flight": 0, "most": 1, "calls": 6}


def _model(server: FakeOpenAIServer) -> ResolvedModel:
    return ResolvedModel("fake", "openai/fake-model", {}, server.api_base, None)


def _call(server: FakeOpenAIServer):
    return lambda: acomplete(_model(server), [{"role": "user", "content": "hi"}], {"api_key": "sk-x"}, 1.0)


def test_retry_after_is_honoured(fake_server: FakeOpenAIServer) -> None:
    fake_server.state.retry_after_s = 7
    fake_server.state.fault_script[:] = ["429", "429"]
    delays: list[float] = []

    async def record(delay: float) -> None:
        delays.append(delay)

    policy = RetryPolicy(retries=3, base_s=0.01, max_s=30)
    completion, attempts = asyncio.run(call_with_retries(_call(fake_server), policy, sleep=record))
    assert completion.text == "hi" and attempts == 3
    assert len(delays) == 2 and all(7 <= d <= 7.01 for d in delays)


def test_backoff_grows_exponentially_with_jitter_and_cap(fake_server: FakeOpenAIServer) -> None:
    fake_server.state.retry_after_s = None
    fake_server.state.fault_script[:] = ["500"] * 5
    delays: list[float] = []

    async def record(delay: float) -> None:
        delays.append(delay)

    policy = RetryPolicy(retries=4, base_s=1.0, max_s=3.0)
    with pytest.raises(Exception) as info:
        asyncio.run(call_with_retries(_call(fake_server), policy, sleep=record, rng=random.Random(1)))
    assert info.value.promptops_attempts == 5  # type: ignore[attr-defined]
    assert len(delays) == 4
    for attempt, delay in enumerate(delays, 1):
        assert 0 <= delay <= min(3.0, 2 ** (attempt - 1))


def test_retry_after_parsing() -> None:
    class Response:
        def __init__(self, headers: dict[str, str]) -> None:
            self.headers = headers

    class Failure(Exception):
        status_code = 429

        def __init__(self, headers: dict[str, str]) -> None:
            super().__init__("rate limited")
            self.response = Response(headers)

    assert retry_after_s(Failure({"retry-after": "2"})) == 2
    assert retry_after_s(Failure({"retry-after-ms": "250"})) == 0.25
    assert retry_after_s(Failure({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0
    assert retry_after_s(Failure({})) is None
    assert (
        backoff_delay(1, RetryPolicy(base_s=0.0, max_s=1.0), Failure({"retry-after": "60"}), random.Random())
        == 1.0
    )
    assert is_retryable(Failure({}))
    assert is_retryable(asyncio.TimeoutError())
    assert not is_retryable(ValueError("bad"))


def test_adaptive_limiter_halves_on_429_and_grows_back() -> None:
    async def scenario() -> list[int]:
        limiter = AdaptiveLimiter(8)
        seen = [limiter.limit]
        await limiter.acquire()
        await limiter.release(rate_limited=True)
        seen.append(limiter.limit)
        await limiter.acquire()
        await limiter.release(rate_limited=True)
        seen.append(limiter.limit)
        for _ in range(10):
            await limiter.acquire()
            await limiter.release(succeeded=True)
        seen.append(limiter.limit)
        return seen

    assert asyncio.run(scenario()) == [8, 4, 2, 8]


def test_adaptive_limiter_paces_the_first_wave_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """New slots open spacing_s apart; a reused slot, or one regained after a 429, waits for nothing."""
    waits: list[float] = []

    async def record(delay: float) -> None:
        waits.append(round(delay, 6))

    async def scenario() -> None:
        limiter = AdaptiveLimiter(4, spacing_s=0.01)
        loop = asyncio.get_running_loop()
        frozen = loop.time()
        monkeypatch.setattr(loop, "time", lambda: frozen)
        monkeypatch.setattr(asyncio, "sleep", record)
        for _ in range(4):
            await limiter.acquire()
        assert waits == [0.01, 0.02, 0.03]  # the first slot opens at once
        await limiter.release(succeeded=True)
        await limiter.acquire()  # a slot used before
        for _ in range(4):
            await limiter.release(rate_limited=True)
        assert (limiter.limit, limiter.in_flight) == (1, 0)
        for _ in range(4):  # the limit grows back by one per success; the slots are not new
            await limiter.acquire()
            await limiter.release(succeeded=True)
        for _ in range(4):
            await limiter.acquire()
        assert limiter.in_flight == 4
        assert waits == [0.01, 0.02, 0.03]

    asyncio.run(scenario())


def test_adaptive_limiter_without_spacing_never_sleeps(monkeypatch: pytest.MonkeyPatch) -> None:
    async def forbidden(delay: float) -> None:
        raise AssertionError(f"slept {delay}")

    async def scenario() -> int:
        limiter = AdaptiveLimiter(16, spacing_s=0)
        monkeypatch.setattr(asyncio, "sleep", forbidden)
        for _ in range(16):
            await limiter.acquire()
        return limiter.in_flight

    assert asyncio.run(scenario()) == 16


def test_litellm_loads_offline_and_freezes_its_import() -> None:
    """get_litellm() runs one mock completion to warm litellm up: it must open no connection at all."""
    import subprocess
    import sys

    probe = (
        "import gc, socket\n"
        "def refuse(self, address, *rest):\n"
        "    raise SystemExit(f'connection attempted to {address}')\n"
        "socket.socket.connect = refuse\n"
        "socket.socket.connect_ex = refuse\n"
        "from promptops.providers import get_litellm\n"
        "litellm = get_litellm()\n"
        "assert get_litellm() is litellm\n"
        "print('frozen', gc.get_freeze_count() > 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:] + done.stdout[-500:]
    assert done.stdout.strip().splitlines()[-1] == "frozen True"
