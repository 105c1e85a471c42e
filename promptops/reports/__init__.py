"""Reports rendered from a run summary."""

from __future__ import annotations

from promptops.reports.text import render_text
from promptops.results import RunMeta, RunSummary

REPORT_FORMATS = ("text", "json")


def render_report(
    summary: RunSummary, fmt: str, *, meta: RunMeta | None = None, run_folder: str | None = None,
    color: bool = False,
) -> str:
    """Render a run's ``summary`` in ``fmt`` (``text`` or ``json``)."""
    if fmt == "json":
        return summary.model_dump_json(indent=2) + "\n"
    if fmt == "text":
        files = {s.name: s.file for s in meta.suites} if meta else {}
        return render_text(summary, run_folder=run_folder, color=color, suite_files=files)
    raise ValueError(f"unknown report format {fmt!r}")


__all__ = ["REPORT_FORMATS", "render_report", "render_text"]
