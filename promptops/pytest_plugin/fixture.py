"""The ``promptops`` fixture: prompts, models and assertions for hand-written tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from promptops.pytest_plugin.activation import find_root
from promptops.pytest_plugin.options import LITELLM_NOISE, run_options

if TYPE_CHECKING:
    from promptops.assertions import AssertionResult, AssertionSpec
    from promptops.cache import RecordingFile
    from promptops.config import Project
    from promptops.executor import Executor
    from promptops.plan import RunOptions
    from promptops.prompts import Prompt
    from promptops.suites import Suite


@dataclass(frozen=True)
class ModelOutput:
    """What ``promptops.complete`` returns: the model's text and how it was obtained."""

    text: str
    latency_ms: float
    model: str
    """Model alias (or litellm id) as asked for."""
    model_id: str
    cached: bool = False
    """Answered from the response cache or a recording, without a provider call."""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    vars: dict[str, Any] = field(default_factory=dict)
    """The prompt's variables, visible to assertions as in a suite."""

    def __str__(self) -> str:
        return self.text


class PromptOpsFixture:
    """The ``promptops`` fixture: prompts, models and assertions for hand-written tests.

    Calls go through the runner's ``Executor``, so they share the response
    cache, retries, timeouts and replay with ``promptops test``.
    """

    FIXTURE_CASE = "fixture"

    def __init__(self, project: Project, options: RunOptions) -> None:
        self.project = project
        self.options = options
        self._prompts: dict[str, Prompt] = {}
        self._executor: Executor | None = None

    def prompt(self, name: str) -> Prompt:
        """The prompt file ``name`` (e.g. ``support/triage``) from the working tree."""
        from promptops.prompts import load_prompt, project_source

        if name not in self._prompts:
            self._prompts[name] = load_prompt(project_source(self.project), name)
        return self._prompts[name]

    def render(
        self, prompt: str, vars: dict[str, Any] | None = None, **variables: Any
    ) -> list[dict[str, str]]:
        """The chat messages ``prompt`` renders to with these variables."""
        return [m.to_dict() for m in self.prompt(prompt).render({**(vars or {}), **variables})]

    def complete(
        self,
        prompt: str,
        *,
        model: str | None = None,
        params: dict[str, Any] | None = None,
        sample: int = 0,
        vars: dict[str, Any] | None = None,
        **variables: Any,
    ) -> ModelOutput:
        """Render ``prompt`` and call ``model`` (default: the prompt's, else the project's).

        Variables are keyword arguments, or ``vars=`` for names such as ``model``.
        ``sample`` picks a distinct cached sample, as ``repeat`` does in a suite.
        Raises ``ProviderError`` when the call fails after its retries.
        """
        request = self.acomplete(prompt, model=model, params=params, sample=sample, vars=vars, **variables)
        return asyncio.run(request)

    async def acomplete(
        self,
        prompt: str,
        *,
        model: str | None = None,
        params: dict[str, Any] | None = None,
        sample: int = 0,
        vars: dict[str, Any] | None = None,
        **variables: Any,
    ) -> ModelOutput:
        """``complete`` for async tests."""
        import dataclasses

        from promptops.errors import ProviderError
        from promptops.executor import AdaptiveLimiter
        from promptops.plan import build_plan

        suite = self._one_case_suite(prompt, {**(vars or {}), **variables}, params or {})
        # build_plan resolves the model, checks its key and renders, exactly as for a suite;
        # repeat=sample+1 makes the plan hold the asked-for sample (with its seed offset)
        options = dataclasses.replace(self.options, models=(model,) if model else (), repeat=sample + 1)
        plan = build_plan(self.project, [suite], options)
        call = next(c for c in plan if c.sample == sample)
        executor = self._get_executor()
        # a limiter binds to the running event loop, and each complete() runs its own loop
        result = await executor.perform(call, AdaptiveLimiter(executor.concurrency))
        if result.error is not None or result.output is None:
            error = result.error
            detail = f"{error.type}: {error.message}" if error is not None else "no output"
            raise ProviderError(f"prompt {prompt} on model {call.model.alias}: {detail}")
        return ModelOutput(
            text=result.output,
            latency_ms=result.latency_ms or 0.0,
            model=call.model.alias,
            model_id=call.model.model,
            cached=result.cached,
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            cost_usd=result.cost_usd,
            vars=suite.case_vars(call.case),
        )

    def check(self, output: ModelOutput | str, assertion: dict[str, Any] | AssertionSpec) -> AssertionResult:
        """Evaluate one assertion (as written in a suite) on ``output``."""
        from promptops.assertions import (
            AssertionContext,
            AssertionSpec,
            evaluate_assertion,
            graded_uses,
            validate_assertion,
        )
        from promptops.errors import UsageError

        spec = assertion if isinstance(assertion, AssertionSpec) else AssertionSpec.model_validate(assertion)
        try:
            validate_assertion(spec)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if graded_uses(spec) or spec.base_type == "python":
            # judges, embeddings and project code are resolved, cached and recorded per suite run
            raise UsageError(f"{spec.type} is checked in suites only (promptops test, pytest --promptops)")
        if isinstance(output, ModelOutput):
            ctx = AssertionContext(latency_ms=output.latency_ms, cost_usd=output.cost_usd, vars=output.vars)
            return evaluate_assertion(output.text, spec, ctx)
        return evaluate_assertion(output, spec, AssertionContext())

    def assert_that(self, output: ModelOutput | str, *assertions: dict[str, Any] | AssertionSpec) -> None:
        """Assert every assertion passes; the AssertionError names each failing one and its reason."""
        __tracebackhide__ = True
        failures = []
        for assertion in assertions:
            result = self.check(output, assertion)
            if not result.passed:
                kind = assertion.type if not isinstance(assertion, dict) else assertion.get("type")
                failures.append(f"{kind}: {result.reason}")
        if failures:
            text = output.text if isinstance(output, ModelOutput) else output
            raise AssertionError("\n".join([*failures, f"output: {text[:200]!r}"]))

    def close(self) -> None:
        if self._executor is not None:
            self._executor.close()
            self._executor = None

    def _one_case_suite(self, prompt: str, variables: dict[str, Any], params: dict[str, Any]) -> Suite:
        """A one-case suite around the call, so the runner's executor can make it unchanged."""
        from promptops.suites import Case, Suite, SuiteFile

        loaded = self.prompt(prompt)
        loaded.bind(variables)  # undeclared or missing inputs: the prompt's own clear error
        case = Case(id=self.FIXTURE_CASE, vars=variables)
        spec = SuiteFile(prompt=loaded.name, params=params, cases=[case])
        path = self.project.suites_dir / loaded.name
        return Suite(name=loaded.name, path=path, file=loaded.file, spec=spec, prompt=loaded, case_lines={})

    def _get_executor(self) -> Executor:
        if self._executor is None:
            from promptops.executor import Executor

            # the fixture's calls are not part of a plan: replay answers from every suite's recording
            self._executor = Executor.from_settings(self.project, self.options, recordings=self._recordings())
        return self._executor

    def _recordings(self) -> Iterator[RecordingFile]:
        from promptops.cache import read_recording, recording_path
        from promptops.suites import discover_suites

        for path in discover_suites(self.project) if self.project.suites_dir.is_dir() else []:
            recording = read_recording(recording_path(path), self.project.relpath(recording_path(path)))
            if recording is not None:
                yield recording


_FIXTURES = pytest.StashKey[dict[Path, PromptOpsFixture]]()


@pytest.fixture
def promptops(request: pytest.FixtureRequest) -> PromptOpsFixture:
    """Render prompts, call models (cached, with retries) and check outputs with promptops assertions.

    The project is the nearest promptops.yaml above the test file. Example::

        def test_refund(promptops):
            out = promptops.complete("support/triage", ticket="I was charged twice")
            promptops.assert_that(out, {"type": "equals", "value": "refund"})
    """
    from promptops.config import load_project

    config = request.config
    here = config.invocation_params.dir
    root = find_root(request.path) or find_root(here) or here
    helpers = config.stash.setdefault(_FIXTURES, {})
    if root not in helpers:
        helpers[root] = PromptOpsFixture(load_project(root), run_options(config))
        config.addinivalue_line("filterwarnings", LITELLM_NOISE)
        config.add_cleanup(helpers[root].close)
    return helpers[root]
