"""The terminal report: a table per suite and model, then each failure."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from promptops.watch import ServedModel, WatchReport

import io

from rich.console import Console
from rich.table import Table
from rich.text import Text

from promptops.reports.formatting import ms_figure, pct, usd
from promptops.results import CaseVerdict, RunSummary

_MAX_DETAILS = 50


def summary_table(summary: RunSummary) -> Table:
    table = Table(title=None, show_edge=False, header_style="bold")
    for column, justify in [
        ("suite", "left"),
        ("model", "left"),
        ("cases", "right"),
        ("passed", "right"),
        ("failed", "right"),
        ("errors", "right"),
        ("pass rate", "right"),
        ("p50 ms", "right"),
        ("p95 ms", "right"),
        ("tokens", "right"),
        ("cost", "right"),
    ]:
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for group in summary.groups:
        table.add_row(
            group.suite,
            group.model,
            str(group.cases),
            Text(str(group.passed), style="green" if group.passed else ""),
            Text(str(group.failed), style="red" if group.failed else ""),
            Text(str(group.errors), style="yellow" if group.errors else ""),
            pct(group.pass_rate),
            ms_figure(group.latency_p50_ms),
            ms_figure(group.latency_p95_ms),
            f"{group.prompt_tokens + group.completion_tokens:,}",
            usd(group.cost_usd),
        )
    return table


def _case_heading(verdict: CaseVerdict, files: dict[str, str]) -> Text:
    mark, style = ("✗", "red") if verdict.status == "failed" else ("!", "yellow")
    heading = Text(f"{mark} ", style=style)
    heading.append(f"{verdict.suite}::{verdict.case}", style="bold")
    heading.append(f" [{verdict.model}]")
    file = files.get(verdict.suite)
    if file:
        heading.append(f"  {file}:{verdict.line}" if verdict.line else f"  {file}", style="dim")
    if verdict.samples > 1:
        heading.append(
            f"  {verdict.passed_samples}/{verdict.samples - verdict.errored_samples} samples passed,"
            f" needs {verdict.threshold:.0%}",
            style="dim",
        )
    if verdict.judge_agreement is not None and verdict.judge_agreement < 1:
        heading.append(f"  judge agreement {verdict.judge_agreement:.0%}", style="yellow")
    return heading


def failure_details(console: Console, summary: RunSummary, files: dict[str, str]) -> None:
    not_passed = summary.failures
    failed = [c for c in not_passed if c.status == "failed"]
    errored = [c for c in not_passed if c.status == "error"]
    if failed:
        console.print(Text(f"\nFailures ({len(failed)})", style="bold red"))
        for verdict in failed[:_MAX_DETAILS]:
            console.print(_case_heading(verdict, files))
            for outcome in verdict.failed_assertions:
                console.print(Text(f"    {outcome.type}: {outcome.reason}"))
            if verdict.output_excerpt is not None:
                console.print(Text(f"    output: {verdict.output_excerpt!r}", style="dim"))
        if len(failed) > _MAX_DETAILS:
            console.print(f"  … and {len(failed) - _MAX_DETAILS} more (see the JSON report)")
    if errored:
        console.print(Text(f"\nErrors ({len(errored)})", style="bold yellow"))
        for verdict in errored[:_MAX_DETAILS]:
            console.print(_case_heading(verdict, files))
            if verdict.error is not None:
                code = f" ({verdict.error.status_code})" if verdict.error.status_code else ""
                console.print(Text(f"    {verdict.error.type}{code}: {verdict.error.message}"))
        if len(errored) > _MAX_DETAILS:
            console.print(f"  … and {len(errored) - _MAX_DETAILS} more (see the JSON report)")


def judge_line(summary: RunSummary) -> Text | None:
    """Judge calls and cost, and how far judge votes agreed, when the run had model-graded assertions."""
    calls = sum(g.judge_calls for g in summary.groups)
    agreements = [(c.judge_agreement, c) for c in summary.cases if c.judge_agreement is not None]
    if not calls and not agreements:
        return None
    costs = [g.judge_cost_usd for g in summary.groups if g.judge_calls]
    line = Text("judges: ", style="bold")
    line.append(f"{calls} provider calls")
    if costs and all(c is not None for c in costs):
        line.append(f", {usd(sum(c or 0.0 for c in costs))}")
    if agreements:
        mean = sum(a for a, _ in agreements) / len(agreements)
        low, case = min(agreements, key=lambda pair: pair[0])
        line.append(f" · judge agreement {mean:.0%} over {len(agreements)} cases")
        if low < 1:
            line.append(f" (lowest {low:.0%}: {case.suite}::{case.case} [{case.model}])", style="yellow")
    return line


def verdict_line(summary: RunSummary) -> Text:
    counts = summary.status_counts()
    passed, failed, errors = counts["passed"], counts["failed"], counts["error"]
    word, style = {
        "passed": ("PASSED", "bold green"),
        "failed": ("FAILED", "bold red"),
        "error": ("ERROR", "bold yellow"),
    }[summary.status]
    line = Text(word, style=style)
    line.append(f": {passed} passed, {failed} failed, {errors} errors")
    line.append(f" · {summary.completed_calls} calls in {summary.duration_s:.1f}s")
    if summary.completed_calls < summary.planned_calls:
        line.append(
            f" ({summary.planned_calls - summary.completed_calls} planned calls missing)", style="yellow"
        )
    return line


def render_text(
    summary: RunSummary,
    *,
    run_folder: str | None = None,
    color: bool = False,
    suite_files: dict[str, str] | None = None,
    width: int = 120,
    escalation_text: str = "",
) -> str:
    """The full terminal report as a string (ANSI colours only when ``color``)."""
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=color, no_color=not color, width=width, highlight=False)
    console.print(summary_table(summary))
    judges = judge_line(summary)
    if judges is not None:
        console.print(judges)
    failure_details(console, summary, suite_files or {})
    if escalation_text:
        buffer.write(escalation_text)
    console.print()
    console.print(verdict_line(summary))
    if run_folder:
        console.print(Text(f"run record: {run_folder}", style="dim"))
    return buffer.getvalue()


def render_watch_text(report: WatchReport) -> str:
    """One line per watched alias: what it served before and now, and what changed."""

    def served(models: list[ServedModel]) -> str:
        names = [m.served_model or "?" for m in models]
        fingerprints = [m.system_fingerprint for m in models if m.system_fingerprint]
        return ", ".join(dict.fromkeys(names)) + (
            f" ({', '.join(dict.fromkeys(fingerprints))})" if fingerprints else ""
        )

    lines = []
    for a in report.aliases:
        if a.baseline_run is None:
            lines.append(
                f"{a.alias} ({a.model_id}): first watch, run {a.candidate_run} recorded as the baseline"
            )
            continue
        what = []
        if a.served_changed:
            what.append(f"served model changed: {served(a.served_before)} -> {served(a.served_now)}")
        if a.drift is not None and a.behaviour_changed:
            c = a.drift.counts
            what.append(
                f"behaviour changed: {c.regressions} regressions, {c.fixes} fixes, {c.changed} changed"
                + (f", {a.drift.suite_regressions} suite-wide drops" if a.drift.suite_regressions else "")
            )
        status = "; ".join(what) if what else f"unchanged (served {served(a.served_now) or 'no model id'})"
        lines.append(f"{a.alias} ({a.model_id}): {status} [run {a.baseline_run} -> {a.candidate_run}]")
    changed = len(report.changed)
    lines.append(f"{changed} of {len(report.aliases)} aliases changed")
    return "\n".join(lines) + "\n"
