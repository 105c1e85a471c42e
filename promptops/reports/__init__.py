"""Reports: one ``ReportData`` rendered as text, json, markdown, junit or html.

A report shows a test run, a drift comparison between two runs, or both (a
``test --base-ref`` run), each with its escalation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from promptops.escalation import EscalationReport
from promptops.reports.escalation_text import render_escalation_text
from promptops.reports.text import render_text
from promptops.results import RunMeta, RunSummary, SampleResult

if TYPE_CHECKING:
    from promptops.config import Project
    from promptops.drift import DriftReport
    from promptops.lint import LintReport
    from promptops.results import SavedRun

REPORT_FORMATS = ("text", "json", "markdown", "junit", "html")
FORMAT_SUFFIXES = {"text": ".txt", "json": ".json", "markdown": ".md", "junit": ".xml", "html": ".html"}


@dataclass
class ReportData:
    """Everything a report can show."""

    summary: RunSummary | None = None
    """The test run (for a drift, the candidate run)."""
    meta: RunMeta | None = None
    results: list[SampleResult] = field(default_factory=list)
    """Sample results of ``summary``'s run (latency distribution, outputs); may be empty."""
    drift: DriftReport | None = None
    escalation: EscalationReport | None = None
    run_folder: str | None = None
    """Where the run record lives, shown at the end of text reports."""
    artifact_hint: str | None = None
    """Where the full report can be found, for truncated Markdown (e.g. the Actions artifact)."""
    artifact_url: str | None = None
    """Link to the run's HTML report (the Actions artifact), shown at the top of the Markdown."""
    source_url: str | None = None
    """Base URL of the project's files at the reviewed commit, e.g. ``https://github.com/o/r/blob/SHA/``:
    case and lint lines become links."""
    lint: LintReport | None = None
    """Lint findings shown with the report (the pull-request comment)."""

    @property
    def exit_code(self) -> int:
        if self.drift is not None:
            return self.drift.exit_code
        return self.summary.exit_code if self.summary is not None else 0


def render_json(data: ReportData) -> str:
    """The drift report when there is one, else the run summary; either with an ``escalation`` key.

    ``kind`` says which (``drift`` or ``test``), so a reader needs no guess from the keys.
    """
    body = data.drift if data.drift is not None else data.summary
    kind = "drift" if data.drift is not None else "test"
    payload = {"kind": kind, **(json.loads(body.model_dump_json()) if body is not None else {})}
    payload["escalation"] = json.loads(data.escalation.model_dump_json()) if data.escalation else None
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def render_report(data: ReportData, fmt: str, *, color: bool = False) -> str:
    """Render ``data`` in one of ``REPORT_FORMATS``."""
    if fmt == "json":
        return render_json(data)
    if fmt == "text":
        extra = render_escalation_text(data.escalation, color=color) if data.escalation else ""
        if data.drift is not None:
            from promptops.reports.drift_text import render_drift_text

            return render_drift_text(data.drift, color=color) + extra
        if data.summary is None:
            return extra
        files = {s.name: s.file for s in data.meta.suites} if data.meta else {}
        return render_text(
            data.summary, run_folder=data.run_folder, color=color, suite_files=files, escalation_text=extra
        )
    if fmt == "markdown":
        from promptops.reports.markdown import render_markdown

        return render_markdown(data)
    if fmt == "junit":
        from promptops.reports.junit import render_junit

        return render_junit(data)
    if fmt == "html":
        from promptops.reports.html import render_html

        return render_html(data)
    raise ValueError(f"unknown report format {fmt!r}; use one of {', '.join(REPORT_FORMATS)}")


__all__ = [
    "FORMAT_SUFFIXES",
    "REPORT_FORMATS",
    "ReportData",
    "drift_report_data",
    "load_report_data",
    "render_report",
    "render_text",
]


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

    ``stored`` is the escalation a saved JSON report holds: its case diagnoses are kept, so a report
    read again gives the diagnosis it was written with.
    """
    from promptops.escalation import escalate_drift

    found = escalate_drift(project, drift, candidate, stored=stored)
    keep = always_escalate or bool(found.cases or found.escalations)
    return ReportData(
        drift=drift,
        summary=candidate.summary() if candidate else None,
        meta=candidate.meta if candidate else None,
        results=list(candidate.results()) if candidate and with_results else [],
        escalation=found if keep else None,
        run_folder=project.relpath(candidate.folder) if candidate and project else None,
    )


def load_report_data(project: Project | None, reference: str, *, always_escalate: bool = False) -> ReportData:
    """A saved run (id, prefix, folder, ``latest``) or a JSON report file (test or drift) as data.

    The escalation is computed when cases failed, or always with ``always_escalate``
    (gates such as data privacy apply to a passing run too).
    """
    from pathlib import Path

    from pydantic import ValidationError

    from promptops.errors import UsageError
    from promptops.escalation import escalate_run
    from promptops.results import open_run

    path = Path(reference)
    if path.is_file():
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"not a JSON report: {exc}", file=reference) from None
        if not isinstance(payload, dict):
            raise UsageError("not a promptops JSON report", file=reference)
        saved_escalation = payload.pop("escalation", None)
        kind = payload.pop("kind", None)
        if kind in ("lint", "watch"):
            hint = "github comment --lint" if kind == "lint" else "watch --format markdown"
            raise UsageError(f"a {kind} report, not a test or drift report (see {hint})", file=reference)
        if kind == "drift" or (kind is None and "baseline_run" in payload):
            from promptops.drift import DriftReport

            try:
                drift = DriftReport.model_validate(payload)
            except ValidationError as exc:
                raise UsageError(f"invalid drift report: {exc.errors()[0]['msg']}", file=reference) from None
            stored = None
            if isinstance(saved_escalation, dict):
                try:
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
    results = list(saved.results())
    escalation: EscalationReport | None = None
    if always_escalate or any(c.status == "failed" for c in summary.cases):
        escalation = escalate_run(project, saved.meta, summary, results)
    return ReportData(
        summary=summary,
        meta=saved.meta,
        results=results,
        escalation=escalation,
        run_folder=project.relpath(saved.folder),
    )
