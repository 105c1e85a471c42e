"""The active part of the plugin: suite files as collectors, cases × models as items, run as plans.

The items pytest selected are run as one plan through the same core as ``promptops test``
when the first of them is set up (under pytest-xdist, each chunk a worker is handed); every
item then reports its case verdict as a pytest outcome.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

# ReprFileLocation and TerminalRepr are pytest's own failure representations; the public
# API has no other way to give a non-Python test a one-line crash message (used by -ra,
# --tb=line and junitxml) next to its multi-line report.
from _pytest._code.code import ReprFileLocation, TerminalRepr

from promptops.pytest_plugin.options import LITELLM_NOISE, run_options

if TYPE_CHECKING:
    from _pytest._io import TerminalWriter

    from promptops.config import Project
    from promptops.plan import RunOptions
    from promptops.results import CaseVerdict
    from promptops.runner import RunOutcome
    from promptops.suites import Case, Suite

CaseKey = tuple[str, str, str]
"""(suite name, case id, model alias): one item, one verdict."""


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
        from promptops.assertions import GAPS
        from promptops.config import load_project
        from promptops.errors import UsageError

        project = load_project(root)
        if not project.suites_dir.is_dir():
            raise UsageError(
                f"suites folder {project.config.suites!r} does not exist", file=project.config_file
            )
        options = run_options(config)
        for name in options.models:
            project.resolve_model(name)
        session = cls(config, project, options)
        config.addinivalue_line("filterwarnings", LITELLM_NOISE)
        session.register_marker("promptops", "a promptops suite case on one model")
        for gap in GAPS:
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


SESSION = pytest.StashKey[SuiteSession]()
"""Where the active session is kept on the pytest config."""


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

        state = self.config.stash[SESSION]
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
        state = self.config.stash[SESSION]
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
        result = self.config.stash[SESSION].verdict_for(self)
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
