"""promptops: prompts as versioned, tested software.

The public API is re-exported here lazily, so that ``import promptops`` (and
``promptops --help``) stays fast: each name is imported on first access.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "AssertionContext": "promptops.assertions",
    "AssertionResult": "promptops.assertions",
    "AssertionSpec": "promptops.assertions",
    "evaluate_assertion": "promptops.assertions",
    "register_assertion": "promptops.assertions",
    "Project": "promptops.config",
    "ProjectConfig": "promptops.config",
    "ResolvedModel": "promptops.config",
    "load_project": "promptops.config",
    "ConfigError": "promptops.errors",
    "PromptError": "promptops.errors",
    "PromptOpsError": "promptops.errors",
    "ProviderError": "promptops.errors",
    "SuiteError": "promptops.errors",
    "UsageError": "promptops.errors",
    "Message": "promptops.prompts",
    "Prompt": "promptops.prompts",
    "load_prompt": "promptops.prompts",
    "CaseVerdict": "promptops.results",
    "RunMeta": "promptops.results",
    "RunSummary": "promptops.results",
    "SampleResult": "promptops.results",
    "Plan": "promptops.plan",
    "RunOptions": "promptops.plan",
    "build_plan": "promptops.plan",
    "run_plan": "promptops.runner",
    "Case": "promptops.suites",
    "Suite": "promptops.suites",
    "load_suite": "promptops.suites",
    "load_suites": "promptops.suites",
}

__all__ = [
    "__version__",
    "AssertionContext",
    "AssertionResult",
    "AssertionSpec",
    "Case",
    "CaseVerdict",
    "ConfigError",
    "Message",
    "Plan",
    "Project",
    "ProjectConfig",
    "Prompt",
    "PromptError",
    "PromptOpsError",
    "ProviderError",
    "ResolvedModel",
    "RunMeta",
    "RunOptions",
    "RunSummary",
    "SampleResult",
    "Suite",
    "SuiteError",
    "UsageError",
    "build_plan",
    "evaluate_assertion",
    "load_project",
    "load_prompt",
    "load_suite",
    "load_suites",
    "register_assertion",
    "run_plan",
]

if TYPE_CHECKING:
    from promptops.assertions import (
        AssertionContext,
        AssertionResult,
        AssertionSpec,
        evaluate_assertion,
        register_assertion,
    )
    from promptops.config import Project, ProjectConfig, ResolvedModel, load_project
    from promptops.errors import (
        ConfigError,
        PromptError,
        PromptOpsError,
        ProviderError,
        SuiteError,
        UsageError,
    )
    from promptops.plan import Plan, RunOptions, build_plan
    from promptops.prompts import Message, Prompt, load_prompt
    from promptops.results import CaseVerdict, RunMeta, RunSummary, SampleResult
    from promptops.runner import run_plan
    from promptops.suites import Case, Suite, load_suite, load_suites


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'promptops' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
