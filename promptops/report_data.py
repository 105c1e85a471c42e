"""Report data: what a report shows, assembled in one place.

``test``, ``merge``, ``drift``, ``compare``, ``report``, ``escalate`` and
``github comment`` all build their ``ReportData`` here, and the renderers in
``reports/`` only turn it into text, JSON, Markdown, JUnit or HTML. One rule
(``_escalation``) decides when a report carries an escalation, so every command
escalates the same cases.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from promptops.errors import UsageError
from promptops.locations import describe_validation_error, parse_json
from promptops.reports import ReportData
from promptops.results import RunSummary, SampleResult, SavedRun, open_run

if TYPE_CHECKING:
    # drift and escalation (with numpy and the rules) load only when a report needs them, so a passing
    # run's report starts fast
    from promptops.config import Project
    from promptops.drift import DriftReport
    from promptops.escalation import EscalationReport

__all__ = ["drift_report_data", "load_report_data", "run_report_data"]


def _escalation(
    failing: bool, always: bool, escalate: Callable[[], EscalationReport]
) -> EscalationReport | None:
    """The one rule: a report escalates when a case failed, or always when asked (``promptops escalate``).

    Budgets and gates such as data privacy weigh the remedies for failures; on a passing run or drift
    there is nothing to remedy, so they are shown only when asked for.
    """
    return escalate() if failing or always else None


@dataclass(frozen=True)
class _StreamedResults:
    """A run's sample results, read from its record on each pass: a chart needs one pass, and a huge
    run's results never sit in memory at once."""

    run: SavedRun

    def __iter__(self) -> Iterator[SampleResult]:
        return self.run.results()

    def __bool__(self) -> bool:
        path = self.run.folder / "results.jsonl"
        return path.is_file() and path.stat().st_size > 0


def _escalate_run(project: Project | None, run: SavedRun, summary: RunSummary) -> EscalationReport:
    from promptops.escalation import escalate_run

    return escalate_run(project, run.meta, summary, run.results())


def _escalate_drift(
    project: Project | None, drift: DriftReport, candidate: SavedRun | None, stored: EscalationReport | None
) -> EscalationReport:
    from promptops.escalation import escalate_drift

    return escalate_drift(project, drift, candidate, stored=stored)


def run_report_data(
    project: Project | None,
    run: SavedRun,
    summary: RunSummary,
    *,
    with_results: bool = False,
    always_escalate: bool = False,
) -> ReportData:
    """A test run (``summary`` of the saved ``run``) with its escalation.

    Args:
        project: The project the run belongs to (rules, constraints, failure history); None without one.
        run: The run record.
        summary: Its verdicts.
        with_results: Keep every sample result in memory, for the HTML report's charts.
        always_escalate: Escalate even when no case failed.
    """
    failing = any(c.status == "failed" for c in summary.cases)
    return ReportData(
        summary=summary,
        meta=run.meta,
        results=_StreamedResults(run) if with_results else (),
        escalation=_escalation(failing, always_escalate, lambda: _escalate_run(project, run, summary)),
        run_folder=project.relpath(run.folder) if project else str(run.folder),
    )


def drift_report_data(
    project: Project | None,
    drift: DriftReport,
    candidate: SavedRun | None = None,
    *,
    with_results: bool = False,
    always_escalate: bool = False,
    stored: EscalationReport | None = None,
) -> ReportData:
    """A drift report with its escalation and, when given, the candidate run behind it.

    Args:
        project: The project (rules, constraints, failure history); None without one.
        drift: The drift report.
        candidate: The candidate run: its answers and rendered prompts inform the diagnosis, and its
            summary is shown beside the drift.
        with_results: Keep the candidate's sample results in memory, for the HTML report's charts.
        always_escalate: Escalate even when no candidate case failed.
        stored: The escalation a saved JSON report holds: its case diagnoses are kept, so a report read
            again gives the diagnosis it was written with.
    """
    failing = any(c.candidate is not None and c.candidate.verdict == "failed" for c in drift.cases)
    return ReportData(
        drift=drift,
        summary=candidate.summary() if candidate else None,
        meta=candidate.meta if candidate else None,
        results=_StreamedResults(candidate) if candidate and with_results else (),
        escalation=_escalation(
            failing, always_escalate, lambda: _escalate_drift(project, drift, candidate, stored)
        ),
        run_folder=project.relpath(candidate.folder) if candidate and project else None,
    )


def load_report_data(
    project: Project | None, reference: str, *, with_results: bool = False, always_escalate: bool = False
) -> ReportData:
    """A saved run (id, prefix, folder, ``latest``) or a JSON report file (test or drift) as data.

    A test report file stands for its run, which is read from the project's run records.
    """
    path = Path(reference)
    if os.path.isfile(path):  # not Path.is_file: a reference too long for a file name is a run id
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read report: {exc.strerror or exc}", file=reference) from None
        payload = parse_json(raw, file=reference, error=UsageError)
        if not isinstance(payload, dict):
            raise UsageError("not a promptops JSON report", file=reference)
        saved_escalation = payload.pop("escalation", None)
        kind = payload.pop("kind", None)
        if kind in ("lint", "watch"):
            hint = "github comment --lint" if kind == "lint" else "watch --format markdown"
            raise UsageError(f"a {kind} report, not a test or drift report (see {hint})", file=reference)
        if kind == "drift" or (kind is None and "baseline_run" in payload):
            try:
                from promptops.drift import DriftReport

                drift = DriftReport.model_validate(payload)
            except ValidationError as exc:
                problem = describe_validation_error(exc, payload, file=reference, error=UsageError)
                raise UsageError(f"invalid drift report: {problem.message}", file=reference) from None
            stored = None
            if isinstance(saved_escalation, dict):
                try:
                    from promptops.escalation import EscalationReport

                    stored = EscalationReport.model_validate(saved_escalation)
                except ValidationError:
                    stored = None  # an older report: diagnose again from what the drift report holds
            return drift_report_data(project, drift, always_escalate=always_escalate, stored=stored)
        if "run_id" not in payload or project is None:
            raise UsageError("expected a drift report or a test report (--format json)", file=reference)
        reference = str(payload["run_id"])
    if project is None:
        raise UsageError(f"{reference!r} is not a report file, and there is no project to find runs in")
    saved = open_run(project.runs_dir, reference)
    summary = saved.summary()
    if summary is None:
        raise UsageError(f"run {saved.meta.run_id} has no summary yet (interrupted?); resume it first")
    return run_report_data(
        project, saved, summary, with_results=with_results, always_escalate=always_escalate
    )
