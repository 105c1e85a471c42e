"""Reports rendered from a run summary."""

from __future__ import annotations

import json

from promptops.escalation import EscalationReport
from promptops.reports.escalation_text import render_escalation_text
from promptops.reports.text import render_text
from promptops.results import RunMeta, RunSummary

REPORT_FORMATS = ("text", "json")


def render_report(
    summary: RunSummary, fmt: str, *, meta: RunMeta | None = None, run_folder: str | None = None,
    color: bool = False, escalation: EscalationReport | None = None,
) -> str:
    """Render a run's ``summary`` (and its escalation) in ``fmt`` (``text`` or ``json``).

    The JSON report is the ``RunSummary`` schema plus an ``escalation`` key
    (``EscalationReport``, or null when nothing failed).
    """
    if fmt == "json":
        data = json.loads(summary.model_dump_json())
        data["escalation"] = json.loads(escalation.model_dump_json()) if escalation else None
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if fmt == "text":
        files = {s.name: s.file for s in meta.suites} if meta else {}
        extra = render_escalation_text(escalation, color=color) if escalation else ""
        return render_text(summary, run_folder=run_folder, color=color, suite_files=files, escalation_text=extra)
    raise ValueError(f"unknown report format {fmt!r}")


__all__ = ["REPORT_FORMATS", "render_report", "render_text"]
