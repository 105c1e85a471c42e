"""Reports: one ``ReportData`` rendered as text, json, markdown, junit or html.

A report shows a test run, a drift comparison between two runs, or both (a
``test --base-ref`` run), each with its escalation. The data is assembled by
``promptops.report_data``; the modules here only render it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from promptops.results import RunMeta, RunSummary, SampleResult, summary_json_chunks

if TYPE_CHECKING:
    from promptops.drift import DriftReport
    from promptops.escalation import EscalationReport
    from promptops.lint import LintReport

REPORT_FORMATS = ("text", "json", "markdown", "junit", "html")
FORMAT_SUFFIXES = {"text": ".txt", "json": ".json", "markdown": ".md", "junit": ".xml", "html": ".html"}


@dataclass
class ReportData:
    """Everything a report can show."""

    summary: RunSummary | None = None
    """The test run (for a drift, the candidate run)."""
    meta: RunMeta | None = None
    results: Iterable[SampleResult] = ()
    """Sample results of ``summary``'s run (latency distribution, outputs); may be empty. Iterated
    once per chart, so a run's record can stream them instead of a list."""
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
    return "".join(json_chunks(data))


def json_chunks(data: ReportData) -> Iterator[str]:
    """``render_json`` in pieces: a test report is written a batch of verdicts at a time, a drift report
    by pydantic in one pass (never through Python dicts)."""
    escalation = json.loads(data.escalation.model_dump_json()) if data.escalation else None
    if data.drift is None and data.summary is not None:
        yield from summary_json_chunks(
            data.summary, before={"kind": "test"}, after={"escalation": escalation}
        )
        yield "\n"
        return
    if data.drift is not None:
        # pydantic writes the (large) drift report itself; "kind" and "escalation" go around its keys
        text = data.drift.model_dump_json(indent=2)
        yield '{\n  "kind": "drift",'
        yield text[1:-2]  # the keys, between "{" and "\n}"
        nested = json.dumps(escalation, indent=2, ensure_ascii=False).replace("\n", "\n  ")
        yield f',\n  "escalation": {nested}\n}}\n'
        return
    yield json.dumps({"kind": "test", "escalation": escalation}, indent=2, ensure_ascii=False) + "\n"


def report_chunks(data: ReportData, fmt: str, *, color: bool = False) -> Iterator[str]:
    """``render_report`` in pieces, for writing: the JSON and JUnit reports of a huge run stream."""
    if fmt == "json":
        yield from json_chunks(data)
    elif fmt == "junit":
        from promptops.reports.junit import junit_chunks

        yield from junit_chunks(data)
    else:
        yield render_report(data, fmt, color=color)


def render_report(data: ReportData, fmt: str, *, color: bool = False) -> str:
    """Render ``data`` in one of ``REPORT_FORMATS``."""
    if fmt == "json":
        return render_json(data)
    if fmt == "text":
        from promptops.reports.escalation_text import render_escalation_text
        from promptops.reports.text import render_text

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
    "render_report",
    "report_chunks",
]
