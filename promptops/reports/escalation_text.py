"""The escalation section of terminal reports."""

from __future__ import annotations

import io
from collections import Counter

from rich.console import Console
from rich.text import Text

from promptops.escalation import GAPS, EscalationReport

_MAX_SHOWN = 12


def _rate(passed: float | None) -> str:
    return "—" if passed is None else f"{passed:.0%}"


def render_escalation_text(report: EscalationReport, *, color: bool = False, width: int = 120) -> str:
    """Gap counts, then each escalation with its rationale, constraints weighed, next steps and evidence."""
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=color, no_color=not color, width=width, highlight=False)
    counts = Counter(gap for case in report.cases for gap in case.gaps)
    if not report.escalations and not counts:
        return ""
    console.print(Text(f"\nEscalations ({len(report.escalations)})", style="bold magenta"))
    if counts:
        console.print("  gaps: " + " · ".join(f"{gap} {counts[gap]}" for gap in GAPS if counts[gap]))
    for item in report.escalations[:_MAX_SHOWN]:
        head = Text(
            "  ■ BLOCKING " if item.blocking else "  ● ", style="bold red" if item.blocking else "bold"
        )
        head.append(f"{item.gap or 'budget'} → {item.technique}", style="bold")
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
                f"{e.suite}::{e.case} ({_rate(e.pass_rate)}"
                + (f", failing in {e.persists_versions} versions" if e.persists_versions > 1 else "")
                + ")"
                for e in item.evidence[:6]
            )
            more = f" and {len(item.evidence) - 6} more" if len(item.evidence) > 6 else ""
            console.print(Text(f"    evidence: {shown}{more}", style="dim"))
    if len(report.escalations) > _MAX_SHOWN:
        console.print(f"  … and {len(report.escalations) - _MAX_SHOWN} more (see the JSON report)")
    return buffer.getvalue()
