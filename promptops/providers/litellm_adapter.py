"""The one place promptops talks to litellm.

litellm takes about two seconds to import and, unless told otherwise, fetches
its model cost map from the network at import. It is therefore imported on
first use only, with ``LITELLM_LOCAL_MODEL_COST_MAP=True`` set before.
"""

from __future__ import annotations

import gc
import os
import re
import threading
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from promptops.config import ResolvedModel

_litellm: ModuleType | None = None
_import_lock = threading.Lock()
"""Held while litellm is imported, so a background import and a caller never import it twice."""


def get_litellm() -> ModuleType:
    """Import litellm once, offline, quietly (waiting for an import already under way)."""
    if _litellm is None:
        with _import_lock:
            if _litellm is None:
                _import_litellm()
    assert _litellm is not None
    return _litellm


def import_in_background() -> None:
    """Start importing litellm in a daemon thread, so its ~2 s overlap loading and planning a run.

    The caller's later ``get_litellm`` waits for it; an import that failed here is tried
    again there, where its error is reported.
    """
    if _litellm is None:
        threading.Thread(target=_import_quietly, name="promptops-litellm-import", daemon=True).start()


def _import_quietly() -> None:
    try:
        get_litellm()
    except Exception:  # noqa: BLE001  (get_litellm in the caller's thread raises it again, where it is reported)
        pass


def _import_litellm() -> None:
    global _litellm
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    os.environ.setdefault("LITELLM_LOG", "ERROR")
    # the import builds objects that live as long as the process and leaves little garbage, so the
    # collector's repeated passes over the growing heap are pure cost: with collection paused (one
    # collection at the end), import and warm-up take ~2.4 s instead of ~3.2 s
    enabled = gc.isenabled()
    gc.disable()
    try:
        import litellm

        # the openai client imports its resource modules on first use (~0.4 s); paying that here keeps
        # it out of the first calls of a run, which would otherwise all wait for it together
        import openai.resources  # noqa: F401

        litellm.suppress_debug_info = True
        litellm.telemetry = False
        litellm.drop_params = True
        from promptops.providers import register_custom_providers

        register_custom_providers(litellm)
        _warm_up(litellm)
    finally:
        if enabled:
            gc.enable()
    _litellm = litellm


def _warm_up(litellm: ModuleType) -> None:
    """Pay litellm's first-call costs now, with no request sent.

    litellm imports more modules and builds pydantic validators inside its first
    completion (~0.1 s); a mock completion takes that path offline, so the first
    calls of a run do not all wait for it together. The objects of the import
    then move out of the garbage collector's view: they live as long as the
    process, and a full collection that walks them stalls every call in flight
    for ~0.2 s.
    """
    try:
        litellm.completion(
            model="openai/promptops-warm-up",
            messages=[{"role": "user", "content": "warm-up"}],
            mock_response="ok",
        )
    except Exception:  # noqa: BLE001  (warming is an optimisation; a real call reports real errors)
        pass
    global _import_frozen
    # the import runs with the collector paused, so its garbage cycles (a few, some holding objects
    # with finalizers) are still here: frozen, they would be finalized only at interpreter exit, after
    # their modules are torn down (llama.cpp then prints "Exception ignored" on exit)
    gc.collect()
    gc.freeze()
    _import_frozen = True


_import_frozen = False


def import_frozen() -> bool:
    """Whether litellm's import was set aside from the collector (``gc.freeze``) in this process.

    Cheaper than ``gc.get_freeze_count()``, which counts the frozen objects one by one (about
    50 ms once litellm's are among them).
    """
    return _import_frozen


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int | None
    completion_tokens: int | None
    cost_usd: float | None
    latency_ms: float
    finish_reason: str | None = None
    served_model: str | None = None
    """The model id the provider says answered (it can differ from the requested alias or id)."""
    system_fingerprint: str | None = None
    """The provider's backend configuration fingerprint, when it sends one (OpenAI does)."""
    no_content: str | None = None
    """Why the answer carries no text (its content was null), as a reason; None for an ordinary answer."""

    def __post_init__(self) -> None:
        # every answer, from a provider, the cache or a recording, passes here: text that cannot be
        # written as UTF-8 (a lone surrogate such as "\ud800") would fail every later write
        clean = clean_text(self.text)
        if clean is not self.text:
            object.__setattr__(self, "text", clean)


class MalformedAnswerError(Exception):
    """The provider answered with success, but with no usable completion in the body."""


_SURROGATES = re.compile("[\ud800-\udfff]")


def clean_text(text: Any) -> str:
    """``text`` as a string that UTF-8 can carry: lone surrogates become U+FFFD."""
    if not isinstance(text, str):
        return "" if text is None else str(text)
    # a Python str holds astral characters whole, so any surrogate code point in it is a lone one
    return _SURROGATES.sub("\ufffd", text) if _SURROGATES.search(text) else text


def _cost(response: Any) -> float | None:
    """litellm's price for the call, which it computes when it knows the model; else None."""
    hidden = getattr(response, "_hidden_params", None) or {}
    cost = hidden.get("response_cost")
    # asking completion_cost() again for an unknown model costs ~0.6 ms of CPU per call for nothing
    return float(cost) if isinstance(cost, (int, float)) else None


def _endpoint(model: ResolvedModel) -> dict[str, Any]:
    """Where and with which key to call ``model``: only what its alias sets."""
    endpoint: dict[str, Any] = {}
    if model.api_base:
        endpoint["api_base"] = model.api_base
    key = model.api_key()
    if key:
        endpoint["api_key"] = key
    return endpoint


async def acomplete(
    model: ResolvedModel, messages: list[dict[str, str]], params: dict[str, Any], timeout_s: float
) -> Completion:
    """One chat completion through litellm; raises litellm's exceptions unchanged."""
    litellm = get_litellm()
    kwargs: dict[str, Any] = {**params, **_endpoint(model)}
    started = time.perf_counter()
    response = await litellm.acompletion(
        model=model.model,
        messages=messages,
        timeout=timeout_s,
        # retries are ours (with Retry-After and adaptive concurrency); litellm's and openai's are off
        num_retries=0,
        max_retries=0,
        **kwargs,
    )
    latency_ms = (time.perf_counter() - started) * 1000
    choices = getattr(response, "choices", None) or []
    if not choices:
        raise MalformedAnswerError(f"{model.alias}: the provider answered with no choices (an empty answer)")
    choice = choices[0]
    message = getattr(choice, "message", None)
    content = getattr(message, "content", None)
    usage = getattr(response, "usage", None)
    no_content = None
    if content is None:
        finish = getattr(choice, "finish_reason", None)
        refusal = getattr(message, "refusal", None)
        no_content = f"the model answered with null content (finish_reason {finish!r})" + (
            f", refusing: {clean_text(refusal)[:200]}" if isinstance(refusal, str) and refusal else ""
        )
    return Completion(
        text=content if isinstance(content, str) else "",
        prompt_tokens=getattr(usage, "prompt_tokens", None),
        completion_tokens=getattr(usage, "completion_tokens", None),
        cost_usd=_cost(response),
        latency_ms=latency_ms,
        finish_reason=getattr(choice, "finish_reason", None),
        served_model=_text_or_none(getattr(response, "model", None)),
        system_fingerprint=_text_or_none(getattr(response, "system_fingerprint", None)),
        no_content=no_content,
    )


@dataclass(frozen=True)
class Embeddings:
    vectors: list[list[float]]
    prompt_tokens: int | None
    cost_usd: float | None
    latency_ms: float


async def aembed(model: ResolvedModel, texts: list[str], timeout_s: float) -> Embeddings:
    """Embedding vectors through litellm (any provider); raises litellm's exceptions unchanged."""
    litellm = get_litellm()
    kwargs = _endpoint(model)
    started = time.perf_counter()
    response = await litellm.aembedding(
        model=model.model, input=texts, timeout=timeout_s, num_retries=0, max_retries=0, **kwargs
    )
    latency_ms = (time.perf_counter() - started) * 1000
    data = sorted(response.data, key=lambda item: _field(item, "index"))
    vectors = [[float(v) for v in _field(item, "embedding")] for item in data]
    if len(vectors) != len(texts):
        raise ValueError(f"the embedding model returned {len(vectors)} vectors for {len(texts)} texts")
    usage = getattr(response, "usage", None)
    return Embeddings(vectors, getattr(usage, "prompt_tokens", None), _cost(response), latency_ms)


def _field(item: Any, name: str) -> Any:
    # litellm gives dicts for some providers and objects for others
    return item[name] if isinstance(item, dict) else getattr(item, name)


def _text_or_none(value: Any) -> str | None:
    """A provider-sent identifier, bounded: it is stored with every result."""
    return value[:200] if isinstance(value, str) and value else None
