"""Retries with exponential backoff and full jitter, honouring Retry-After.

Retried: 429, 408, 409, 5xx, timeouts and connection errors. Anything else
(400, 401, 404, ...) fails at once: repeating it would give the same answer.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})
_RETRYABLE_NAMES = frozenset(
    {
        "Timeout",
        "TimeoutError",
        "APITimeoutError",
        "APIConnectionError",
        "ConnectError",
        "ReadError",
        "ReadTimeout",
        "RemoteProtocolError",
        "ConnectionResetError",
        "ServiceUnavailableError",
        "InternalServerError",
        "RateLimitError",
        "BadGatewayError",
    }
)


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 4
    """Retries after the first attempt."""
    base_s: float = 1.0
    max_s: float = 30.0


def status_code(exc: BaseException) -> int | None:
    code = getattr(exc, "status_code", None)
    if isinstance(code, int):
        return code
    response = getattr(exc, "response", None)
    code = getattr(response, "status_code", None)
    return code if isinstance(code, int) else None


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, (asyncio.TimeoutError, ConnectionError)):
        return True
    code = status_code(exc)
    if code is not None and code in RETRYABLE_STATUS:
        return True
    if code is not None and 400 <= code < 500:
        return False
    return any(cls.__name__ in _RETRYABLE_NAMES for cls in type(exc).__mro__)


def is_rate_limit(exc: BaseException) -> bool:
    return status_code(exc) == 429 or type(exc).__name__ == "RateLimitError"


def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    try:
        value = headers.get(name)
        if value is None:
            value = headers.get(name.title())
    except AttributeError:
        return None
    return str(value) if value is not None else None


def retry_after_s(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (Retry-After or retry-after-ms), if it said."""
    sources = [
        getattr(exc, "litellm_response_headers", None),
        getattr(getattr(exc, "response", None), "headers", None),
    ]
    for headers in sources:
        millis = _header(headers, "retry-after-ms")
        if millis:
            try:
                return max(0.0, float(millis) / 1000)
            except ValueError:
                pass
        value = _header(headers, "retry-after")
        if not value:
            continue
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            from datetime import datetime, timezone

            when = parsedate_to_datetime(value)
            return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
        except (TypeError, ValueError):
            continue
    return None


def backoff_delay(attempt: int, policy: RetryPolicy, exc: BaseException, rng: random.Random) -> float:
    """Delay before retry number ``attempt`` (1-based)."""
    asked = retry_after_s(exc)
    if asked is not None:
        # a little jitter on top of the server's wish spreads out the herd of waiting calls
        return min(policy.max_s, asked + rng.uniform(0, policy.base_s / 4))
    return rng.uniform(0, min(policy.max_s, policy.base_s * 2 ** (attempt - 1)))


@dataclass
class Attempted:
    value: Any
    attempts: int


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    on_retry: Callable[[BaseException, int, float], None] | None = None,
    rng: random.Random | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> tuple[T, int]:
    """Await ``call()`` until it succeeds or retries run out; returns (value, attempts).

    The last exception propagates, with ``promptops_attempts`` set on it.
    """
    rng = rng or random.Random()
    attempt = 0
    while True:
        attempt += 1
        try:
            return await call(), attempt
        except Exception as exc:
            if attempt > policy.retries or not is_retryable(exc):
                exc.promptops_attempts = attempt  # type: ignore[attr-defined]
                raise
            delay = backoff_delay(attempt, policy, exc, rng)
            if on_retry is not None:
                on_retry(exc, attempt, delay)
            await sleep(delay)
