"""Model providers: litellm for every hosted model, plus custom providers.

Custom providers (the built-in local models, third-party ones) register a
litellm ``CustomLLM`` under a provider prefix, so calls to them go through the
same runner, retries and accounting as any hosted model.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from promptops.providers.litellm_adapter import (
    Completion,
    Embeddings,
    acomplete,
    aembed,
    get_litellm,
    import_in_background,
)
from promptops.providers.local import LOCAL_CONCURRENT_CALLS, LOCAL_PREFIX
from promptops.providers.local import create_handler as create_local_handler
from promptops.providers.retries import RetryPolicy, call_with_retries, is_rate_limit, is_retryable

CustomProviderFactory = Callable[[], Any]
"""Returns a litellm ``CustomLLM`` instance; called on first use of litellm."""

_CUSTOM_PROVIDERS: dict[str, CustomProviderFactory] = {}
_CALL_LIMITS: dict[str, int] = {}


def register_provider(
    prefix: str, factory: CustomProviderFactory, *, concurrent_calls: int | None = None
) -> None:
    """Route litellm model ids ``prefix/...`` to the handler ``factory()`` returns.

    Args:
        prefix: Provider prefix of the model ids, e.g. ``local`` for ``local/<name>``.
        factory: Returns the litellm ``CustomLLM``; called on first use of litellm.
        concurrent_calls: Most calls one model of this provider can answer at once (e.g. 1 for a
            model computing in this process); None for no limit beyond the run's concurrency.
    """
    _CUSTOM_PROVIDERS[prefix] = factory
    if concurrent_calls is not None:
        _CALL_LIMITS[prefix] = max(1, concurrent_calls)
    else:
        _CALL_LIMITS.pop(prefix, None)


def concurrent_call_limit(model_id: str) -> int | None:
    """Most calls in flight that the provider of ``model_id`` accepts per model; None for no limit."""
    prefix, sep, _ = model_id.partition("/")
    return _CALL_LIMITS.get(prefix) if sep else None


def register_custom_providers(litellm: ModuleType) -> None:
    """Add every registered provider to litellm's ``custom_provider_map`` once."""
    current: list[dict[str, Any]] = list(getattr(litellm, "custom_provider_map", None) or [])
    existing = {entry.get("provider") for entry in current}
    for prefix, factory in _CUSTOM_PROVIDERS.items():
        if prefix not in existing:
            current.append({"provider": prefix, "custom_handler": factory()})
    # litellm reads this module attribute when it routes a "prefix/model" id
    setattr(litellm, "custom_provider_map", current)  # noqa: B010  (untyped module attribute)


# The built-in local models; the factory imports litellm and llama_cpp only when first called.
register_provider(LOCAL_PREFIX, create_local_handler, concurrent_calls=LOCAL_CONCURRENT_CALLS)


__all__ = [
    "Completion",
    "Embeddings",
    "RetryPolicy",
    "acomplete",
    "aembed",
    "call_with_retries",
    "concurrent_call_limit",
    "get_litellm",
    "import_in_background",
    "is_rate_limit",
    "is_retryable",
    "register_provider",
]
