"""Model providers: litellm for every hosted model, plus custom providers.

Custom providers (the built-in local models, third-party ones) register a
litellm ``CustomLLM`` under a provider prefix, so calls to them go through the
same runner, retries and accounting as any hosted model.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from promptops.providers.litellm_adapter import Completion, acomplete, get_litellm
from promptops.providers.retries import RetryPolicy, call_with_retries, is_rate_limit, is_retryable

CustomProviderFactory = Callable[[], Any]
"""Returns a litellm ``CustomLLM`` instance; called on first use of litellm."""

_CUSTOM_PROVIDERS: dict[str, CustomProviderFactory] = {}


def register_provider(prefix: str, factory: CustomProviderFactory) -> None:
    """Route litellm model ids ``prefix/...`` to the handler ``factory()`` returns."""
    _CUSTOM_PROVIDERS[prefix] = factory


def register_custom_providers(litellm: ModuleType) -> None:
    existing = {entry.get("provider") for entry in (litellm.custom_provider_map or [])}
    for prefix, factory in _CUSTOM_PROVIDERS.items():
        if prefix not in existing:
            litellm.custom_provider_map = [
                *(litellm.custom_provider_map or []),
                {"provider": prefix, "custom_handler": factory()},
            ]


__all__ = [
    "Completion",
    "RetryPolicy",
    "acomplete",
    "call_with_retries",
    "get_litellm",
    "is_rate_limit",
    "is_retryable",
    "register_provider",
]
