"""The escalation section of terminal reports."""

from __future__ import annotations

import io
from collections import Counter

from rich.console import Console
from rich.text import Text

from promptops.escalation import GAPS, CaseDiagnosis, EscalationReport
from promptops.reports.formatting import pct

_MAX_SHOWN = 12
_MAX_CASES = 20


def render_escalation_text(report: EscalationReport, *, color: bool = False, width: int = 120) -> str:
    """Gap counts, then each escalation with its rationale, constraints weighed, next steps and evidence."""
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=color, no_color=not color, width=width, highlight=False)
    counts = Counter(gap for case in report.cases for gap in case.gaps)
    if not report.escalations and not counts:
        return ""
    _diagnosis(console, report)
    console.print(Text(f"\nEscalations ({len(report.escalations)})", style="bold magenta"))
    if counts:
        console.print("  gaps: " + " · ".join(f"{gap} {counts[gap]}" for gap in GAPS if counts[gap]))
    for item in report.escalations[:_MAX_SHOWN]:
        head = Text(
            "  ■ BLOCKING " if item.blocking else "  ● ", style="bold red" if item.blocking else "bold"
        )
        head.append(f"{item.gap or item.cause or 'budget'} → {item.technique}", style="bold")
        head.append(f" [{item.confidence}]  {item.prompt} on {item.model} ({item.model_id})")
        if item.gap:
            head.append(f": {item.affected_cases} of {item.total_cases} cases", style="dim")
        head.append(f"  rule {item.rule}", style="dim")
        console.print(head)
        console.print(Text(f"    {item.rationale}"))
        if item.constraints_weighed:
            console.print(Text(f"    weighed: {', '.join(item.constraints_weighed)}", style="dim"))
        for number, step in enumerate(item.next_steps, 1):
            console.print(Text(f"    {number}. {step}"))
        if item.evidence:
            shown = ", ".join(
                f"{e.suite}::{e.case} ({pct(e.pass_rate)}"
                + (f", failing in {e.persists_versions} versions" if e.persists_versions > 1 else "")
                + ")"
                for e in item.evidence[:6]
            )
            more = f" and {len(item.evidence) - 6} more" if len(item.evidence) > 6 else ""
            console.print(Text(f"    evidence: {shown}{more}", style="dim"))
    if len(report.escalations) > _MAX_SHOWN:
        console.print(f"  … and {len(report.escalations) - _MAX_SHOWN} more (see the JSON report)")
    return buffer.getvalue()


def _case_lines(console: Console, case: CaseDiagnosis) -> None:
    head = Text(f"  ● {case.suite}::{case.case} [{case.model}] ", style="bold")
    head.append(f"{case.gap or '—'}", style="bold cyan")
    head.append(f" {case.confidence:.0%}")
    if case.technique:
        head.append(f" → {case.technique}", style="bold")
        head.append(f" (rule {case.rule})", style="dim")
    console.print(head)
    top = next((e for e in case.evidence if e.gap == case.gap), None)
    if top is not None:
        console.print(Text(f"    {top.signal}: {top.text}"))
    if case.hint_disagrees:
        console.print(Text(f"    hint {case.hint}; {case.hint_disagrees}", style="yellow"))
    if case.spread:
        console.print(Text(f"    {case.spread}", style="dim"))
    if case.attribution is not None and case.attribution.cause != "already-failing":
        console.print(Text(f"    cause: {case.attribution.text}", style="dim"))
        if case.attribution.prompt_diff:
            changed = [
                line
                for line in case.attribution.prompt_diff.splitlines()
                if line[:1] in "+-" and not line.startswith(("+++", "---"))
            ]
            for line in changed[:6]:
                console.print(Text(f"      {line}", style="green" if line.startswith("+") else "red"))


def _diagnosis(console: Console, report: EscalationReport) -> None:
    """Each failing case's gap, confidence, deciding evidence and remedy; what a change introduced first."""
    introduced, already = report.introduced(), report.already_failing()
    if not report.cases:
        return
    console.print(Text(f"\nDiagnosis ({len(report.cases)} failing cases)", style="bold magenta"))
    groups = [("introduced by the change", introduced), ("already failing before it", already)]
    if not already:
        groups = [("", introduced)]
    for title, cases in groups:
        if not cases:
            continue
        if title:
            console.print(Text(f"  {title} ({len(cases)})", style="bold"))
        for case in cases[:_MAX_CASES]:
            _case_lines(console, case)
        if len(cases) > _MAX_CASES:
            console.print(f"  … and {len(cases) - _MAX_CASES} more (see the JSON report)")
