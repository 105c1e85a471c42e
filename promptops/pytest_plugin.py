"""pytest plugin: golden suites as pytest tests, and a ``promptops`` fixture.

The plugin is registered through the ``pytest11`` entry point, so pytest loads
it in every environment that has promptops installed. It therefore stays inert
unless asked: suite files are collected only with ``--promptops`` or when a
path inside the suites folder is named on the command line (or in
``testpaths``). Importing this module imports neither litellm nor promptops
internals; they load on first use.

Each suite case × model is one test item (``suites/triage.yaml::refund-basic[default]``).
The items pytest selected (after ``-k``, ``-m``, ``--lf``) are run as one plan
through the same core as ``promptops test`` (``build_plan`` + ``run_plan``:
concurrent calls, response cache, retries, run record) when the first of them
is set up; every item then reports its ``CaseVerdict``. Under pytest-xdist a
worker learns its items in chunks, so it runs each chunk it has been handed as
one plan; the shared SQLite cache keeps re-runs free of provider calls.

Verdicts map onto pytest outcomes: passed → passed, failed → FAILED (the
failing assertions, the output excerpt and the suite file:line), error (a
provider failure after retries, a replay miss) → ERROR at setup.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

# ReprFileLocation and TerminalRepr are pytest's own failure representations; the public
# API has no other way to give a non-Python test a one-line crash message (used by -ra,
# --tb=line and junitxml) next to its multi-line report.
from _pytest._code.code import ReprFileLocation, TerminalRepr

if TYPE_CHECKING:
    from _pytest._io import TerminalWriter

    from promptops.assertions import AssertionResult, AssertionSpec
    from promptops.cache import RecordingFile
    from promptops.config import Project
    from promptops.executor import Executor
    from promptops.plan import RunOptions
    from promptops.prompts import Prompt
    from promptops.results import CaseVerdict
    from promptops.runner import RunOutcome
    from promptops.suites import Case, Suite

# Repeated from promptops.config: importing that module would import pydantic in every test run.
CONFIG_FILE = "promptops.yaml"
GAP_TYPES = ("knowledge", "behavior", "skill", "reliability")
# litellm's OpenAI path builds a coroutine it never awaits (harmless; `promptops test` prints it
# too); without this filter it would fill the warnings summary of every run that calls a model
LITELLM_NOISE = "ignore:coroutine 'OpenAIChatCompletion.acompletion' was never awaited:RuntimeWarning"

CaseKey = tuple[str, str, str]
"""(suite name, case id, model alias): one item, one verdict."""


# --- options ------------------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def pytest_addoption(parser: pytest.Parser) -> None:
    """Command-line and ini options; they do nothing until the plugin is activated."""
    group = parser.getgroup("promptops", "promptops golden suites")
    group.addoption(
        "--promptops",
        action="store_true",
        default=False,
        help="Collect the suites under the promptops suites folder as tests (one per case and model).",
    )
    group.addoption(
        "--promptops-model",
        action="append",
        default=[],
        metavar="MODEL",
        dest="promptops_models",
        help="Model alias or litellm id replacing the suites' own models; repeat for several.",
    )
    group.addoption(
        "--promptops-repeat",
        type=_positive_int,
        default=None,
        metavar="N",
        help="Samples per case and model (a case passes when its pass rate reaches the threshold).",
    )
    group.addoption(
        "--promptops-replay",
        action="store_true",
        default=False,
        help="Answer only from the response cache and committed recordings; never call a provider.",
    )
    group.addoption(
        "--promptops-no-cache",
        action="store_true",
        default=False,
        help="Do not answer from the response cache (answers still refresh it).",
    )
    parser.addini(
        "promptops_models", "Default for --promptops-model (space separated).", type="args", default=[]
    )
    parser.addini("promptops_repeat", "Default for --promptops-repeat.", default="")
    parser.addini("promptops_replay", "Default for --promptops-replay.", type="bool", default=False)


def _run_options(config: pytest.Config) -> RunOptions:
    from promptops.errors import UsageError
    from promptops.plan import RunOptions

    models = tuple(config.getoption("promptops_models") or config.getini("promptops_models") or ())
    repeat: int | None = config.getoption("promptops_repeat")
    if repeat is None and str(config.getini("promptops_repeat")).strip():
        text = str(config.getini("promptops_repeat")).strip()
        if not text.isdigit() or int(text) < 1:
            raise UsageError(f"ini option promptops_repeat expects a whole number >= 1, got {text!r}")
        repeat = int(text)
    replay = bool(config.getoption("promptops_replay") or config.getini("promptops_replay"))
    return RunOptions(
        models=models, repeat=repeat, use_cache=not config.getoption("promptops_no_cache"), replay=replay
    )


# --- activation ---------------------------------------------------------------------------------


def _find_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` holding promptops.yaml (stat calls only)."""
    folder = start if start.is_dir() else start.parent
    for candidate in (folder, *folder.parents):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    return None


def _suites_folder(root: Path) -> Path:
    """The suites folder a project's config names, read without validating the config.

    Only used to decide whether a named path is a suite; the full, validated
    config is loaded once the plugin is active, and reports any mistake.
    """
    import yaml

    try:
        data = yaml.safe_load((root / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        data = None
    folder = data.get("suites") if isinstance(data, dict) else None
    return (root / (folder if isinstance(folder, str) else "suites")).resolve()


def _named_paths(config: pytest.Config) -> list[Path]:
    """Existing paths among the collection arguments (command line or testpaths), node ids cut."""
    paths = []
    for arg in config.args:
        path = config.invocation_params.dir / arg.split("::", 1)[0]
        if path.exists():
            paths.append(path.resolve())
    return paths


def _suite_paths_named(paths: list[Path]) -> tuple[Path | None, list[Path]]:
    """The project root and the named paths that are its suites folder or inside it."""
    roots: dict[Path, Path] = {}
    for path in paths:
        root = _find_root(path)
        if root is None:
            continue
        if root not in roots:
            roots[root] = _suites_folder(root)
        if path == roots[root] or path.is_relative_to(roots[root]):
            return root, [p for p in paths if p == roots[root] or p.is_relative_to(roots[root])]
    return None, []


def pytest_configure(config: pytest.Config) -> None:
    """Activate on ``--promptops`` or a named suite path; otherwise leave the run untouched."""
    try:
        paths = _named_paths(config)
        root, explicit = _suite_paths_named(paths)
    except OSError:  # e.g. an unreadable folder above a test path: never break someone else's run
        paths, root, explicit = [], None, []
    if not config.getoption("promptops") and not explicit:
        return
    from promptops.errors import PromptOpsError

    try:
        if root is None:
            starts = [*paths, config.invocation_params.dir, config.rootpath]
            root = next((r for r in map(_find_root, starts) if r is not None), config.invocation_params.dir)
        state = SuiteSession.start(config, root)
    except PromptOpsError as exc:
        raise pytest.UsageError(f"promptops: {exc}") from None
    if not explicit:
        suites_dir = state.suites_dir
        # testpaths (or the named paths) may not reach the suites: --promptops means run them too
        if not any(suites_dir == p or suites_dir.is_relative_to(p) for p in paths):
            config.args.append(str(suites_dir))
    config.stash[_STATE] = state
    config.pluginmanager.register(state, "promptops-suites")


# --- the active part: collection, execution, reporting -----------------------------------------


class SuiteSession:
    """Everything the plugin does once active; registered as a plugin so its hooks only run then."""

    def __init__(self, config: pytest.Config, project: Project, options: RunOptions) -> None:
        self.config = config
        self.project = project
        self.options = options
        self.suites_dir = project.suites_dir.resolve()
        self.results: dict[CaseKey, CaseVerdict | str] = {}
        """Verdict per item, or the message of a problem that stopped its whole plan."""
        self.outcomes: list[RunOutcome] = []
        self._markers: set[str] = set()

    @classmethod
    def start(cls, config: pytest.Config, root: Path) -> SuiteSession:
        from promptops.config import load_project
        from promptops.errors import UsageError

        project = load_project(root)
        if not project.suites_dir.is_dir():
            raise UsageError(
                f"suites folder {project.config.suites!r} does not exist", file=project.config_file
            )
        options = _run_options(config)
        for name in options.models:
            project.resolve_model(name)
        session = cls(config, project, options)
        config.addinivalue_line("filterwarnings", LITELLM_NOISE)
        session.register_marker("promptops", "a promptops suite case on one model")
        for gap in GAP_TYPES:
            session.register_marker(f"gap_{gap}", f"a suite case whose failure reveals a {gap} gap")
        return session

    def register_marker(self, name: str, description: str) -> None:
        # registered before use, so --strict-markers accepts the markers made from suite data
        if name not in self._markers:
            self._markers.add(name)
            self.config.addinivalue_line("markers", f"{name}: {description}")

    def models_for(self, suite: Suite) -> list[str]:
        """The same choice as the runner's ``Plan.models_for``: override, else the suite's models."""
        return list(self.options.models) or suite.models(self.project)

    def is_suite_file(self, path: Path) -> bool:
        from promptops.suites import is_suite_file

        return is_suite_file(path) and path.resolve().is_relative_to(self.suites_dir)

    def load_suite(self, path: Path) -> Suite:
        """Load and validate a suite, rendering every case so a template error is a collection error."""
        from promptops.plan import render_case
        from promptops.suites import load_suite

        suite = load_suite(self.project, path)
        for case in suite.cases:
            render_case(suite, case)
        return suite

    # hooks ---------------------------------------------------------------------------------

    def pytest_report_header(self) -> str:
        return f"promptops: project {self.project.root}, suites {self.project.config.suites}/"

    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
        if not self.is_suite_file(file_path):
            return None
        collector: SuiteCollector = SuiteCollector.from_parent(parent, path=file_path)
        return collector

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Any, None]:
        outcome = yield
        # pytest renders setup failures itself, with a traceback; a case's error needs none
        problem = call.excinfo.value if call.excinfo is not None else None
        if call.when == "setup" and isinstance(problem, _VerdictProblem):
            outcome.get_result().longrepr = problem.report

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.outcomes:
            return
        terminalreporter.write_sep("-", "promptops")
        for outcome in self.outcomes:
            summary = outcome.summary
            cached = sum(group.cached_samples for group in summary.groups)
            terminalreporter.write_line(
                f"run record {self.project.relpath(outcome.folder)}: {summary.completed_calls} calls, "
                f"{outcome.provider_calls} to a provider, {cached} from cache"
            )

    # execution -----------------------------------------------------------------------------

    def verdict_for(self, item: CaseItem) -> CaseVerdict | str:
        """The item's verdict, running the plan of every selected item still waiting if needed."""
        if item.key not in self.results:
            self.run_batch(self._batch_for(item))
        return self.results.get(item.key, "no result: the run produced no verdict for this case")

    def _batch_for(self, item: CaseItem) -> list[CaseItem]:
        queued = _xdist_queued_items(item)
        # outside xdist, session.items is exactly the selection after -k, -m, --lf and friends
        candidates = item.session.items if queued is None else queued
        batch = [item]
        for other in candidates:
            if isinstance(other, CaseItem) and other.key not in self.results and other is not item:
                batch.append(other)
        return batch

    def run_batch(self, items: list[CaseItem]) -> None:
        """Run ``items`` as one plan through the runner and store each item's verdict."""
        from promptops.errors import PromptOpsError, RunInterrupted
        from promptops.plan import build_plan
        from promptops.runner import run_plan

        suites: dict[str, Suite] = {}
        for item in items:
            suites.setdefault(item.suite.name, item.suite)
        try:
            plan = build_plan(self.project, list(suites.values()), self.options, only={i.key for i in items})
            outcome = run_plan(plan)
        except RunInterrupted:
            raise KeyboardInterrupt from None  # Ctrl-C (or SIGTERM) stops pytest as usual
        except PromptOpsError as exc:
            # e.g. a missing API key: every item of the plan reports it, as `promptops test` would
            for item in items:
                self.results[item.key] = str(exc)
            return
        self.outcomes.append(outcome)
        for verdict in outcome.summary.cases:
            self.results[(verdict.suite, verdict.case, verdict.model)] = verdict


_STATE = pytest.StashKey[SuiteSession]()


def _xdist_queued_items(item: pytest.Item) -> list[pytest.Item] | None:
    """Items an xdist worker has been handed and not yet run; None outside xdist.

    xdist gives a worker its tests in chunks while the run goes on, so only the
    chunk in hand can be run together. Reading the queue uses xdist internals
    (``WorkerInteractor.torun``); if they change, the worker falls back to one
    item per plan, which is slower but still correct.
    """
    if not hasattr(item.config, "workerinput"):
        return None
    for plugin in item.config.pluginmanager.get_plugins():
        torun = getattr(plugin, "torun", None)
        if torun is None or not hasattr(torun, "lock"):
            continue
        indices: list[int] = []
        following = getattr(plugin, "nextitem_index", None)
        if isinstance(following, int):
            indices.append(following)
        try:
            with torun.lock() as queue:
                indices.extend(i for i in queue if isinstance(i, int))
        except Exception:  # noqa: BLE001  (xdist internals changed: degrade, never break the run)
            return []
        items = item.session.items
        return [items[i] for i in indices if 0 <= i < len(items)]
    return []


def _marker_name(prefix: str, text: str) -> str:
    """A marker name usable in ``-m`` expressions: ``suite_support_triage``."""
    return prefix + (re.sub(r"\W+", "_", text).strip("_") or "_")


class SuiteCollector(pytest.File):
    """A suite YAML file; collects one item per case and model."""

    def collect(self) -> Iterator[CaseItem]:
        from promptops.errors import PromptOpsError

        state = self.config.stash[_STATE]
        try:
            suite = state.load_suite(self.path)
        except PromptOpsError as exc:
            # CollectError is shown as its message alone: file:line and what to fix, no traceback
            raise self.CollectError(str(exc)) from None
        for case in suite.cases:
            for model in state.models_for(suite):
                name = f"{case.id}[{model}]"
                # pytest 9 parses node ids from its cache (--lf) into name and [params]; an id it
                # computes itself for an item named "case[model]" keeps the bracket in the name, so
                # the two never compare equal. Giving the id as text makes pytest parse it the same way.
                nodeid = f"{self.nodeid}::{name}"
                yield CaseItem.from_parent(
                    self, name=name, nodeid=nodeid, suite=suite, case=case, model=model
                )


class CaseItem(pytest.Item):
    """One case of a suite on one model; reports the case's verdict over its samples."""

    def __init__(self, *, suite: Suite, case: Case, model: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite = suite
        self.case = case
        self.model = model
        self.key: CaseKey = (suite.name, case.id, model)
        self.line = suite.case_lines.get(case.id) or None
        state = self.config.stash[_STATE]
        gaps = {case.gap, *(spec.gap for spec in suite.case_assertions(case))}
        names = ["promptops", _marker_name("suite_", suite.name), _marker_name("model_", model)]
        names += [f"gap_{gap}" for gap in sorted(g for g in gaps if g is not None)]
        for name in names:
            state.register_marker(name, "promptops suite, model or gap")
            self.add_marker(name)
        self._verdict: CaseVerdict | None = None

    @property
    def location_text(self) -> str:
        """``suites/triage.yaml:9``: where the case is written."""
        return f"{self.suite.file}:{self.line}" if self.line else self.suite.file

    def setup(self) -> None:
        if self.config.getoption("setupplan", False):
            return
        result = self.config.stash[_STATE].verdict_for(self)
        if isinstance(result, str):
            raise _VerdictProblem(self._report([result], "could not run", result))
        self._verdict = result
        if result.status == "error":
            error = result.error
            detail = "no output"
            if error is not None:
                code = f" ({error.status_code})" if error.status_code else ""
                detail = f"{error.type}{code}: {error.message}"
            what = f"errored, no verdict{self._samples(result)}"
            raise _VerdictProblem(self._report([detail], what, detail))

    def runtest(self) -> None:
        verdict = self._verdict
        if verdict is None or verdict.status != "failed":
            return
        body = [f"{o.type}: {o.reason}" for o in verdict.failed_assertions]
        if verdict.output_excerpt is not None:
            body.append(f"output: {verdict.output_excerpt!r}")
        crash = body[0] if verdict.failed_assertions else "failed"
        if len(verdict.failed_assertions) > 1:
            crash += f" (and {len(verdict.failed_assertions) - 1} more)"
        raise _VerdictProblem(self._report(body, f"failed{self._samples(verdict)}", crash))

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, _VerdictProblem):
            return excinfo.value.report
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, (self.line - 1) if self.line else None, self.name

    @staticmethod
    def _samples(verdict: CaseVerdict) -> str:
        if verdict.samples <= 1:
            return ""
        produced = verdict.samples - verdict.errored_samples
        text = f" ({verdict.passed_samples}/{produced} samples passed, needs {verdict.threshold:.0%}"
        return text + (f", {verdict.errored_samples} errored)" if verdict.errored_samples else ")")

    def _report(self, body: list[str], what: str, crash: str) -> _Report:
        where = f"{self.location_text}: {self.suite.name}::{self.case.id} on model {self.model} {what}"
        return _Report(body, where, ReprFileLocation(str(self.path), self.line or 0, crash))


class _Report(TerminalRepr):
    """A case that did not pass: its reasons, then where it is (pytest's own order).

    ``reprcrash`` is the one-line message pytest shows in ``-ra`` summaries,
    ``--tb=line`` and junitxml.
    """

    def __init__(self, body: list[str], where: str, reprcrash: ReprFileLocation) -> None:
        self.body = body
        self.where = where
        self.reprcrash = reprcrash

    def toterminal(self, tw: TerminalWriter) -> None:
        for line in self.body:
            tw.line(line, red=not line.startswith("output: "))
        tw.line("")
        tw.line(self.where)


class _VerdictProblem(Exception):
    """Raised by a case item that did not pass; carries its rendered report."""

    def __init__(self, report: _Report) -> None:
        super().__init__(str(report))
        self.report = report


# --- the fixture --------------------------------------------------------------------------------


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
            validate_assertion,
        )
        from promptops.errors import UsageError

        spec = assertion if isinstance(assertion, AssertionSpec) else AssertionSpec.model_validate(assertion)
        try:
            validate_assertion(spec)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
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
    root = _find_root(request.path) or _find_root(here) or here
    helpers = config.stash.setdefault(_FIXTURES, {})
    if root not in helpers:
        helpers[root] = PromptOpsFixture(load_project(root), _run_options(config))
        config.addinivalue_line("filterwarnings", LITELLM_NOISE)
        config.add_cleanup(helpers[root].close)
    return helpers[root]
