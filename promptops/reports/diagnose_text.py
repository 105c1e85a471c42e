"""The terminal report of ``promptops diagnose``: each probe's outcome, then the escalation it led to."""

from __future__ import annotations

from collections import defaultdict

from promptops.escalation.probes import DiagnoseReport, ProbeOutcome
from promptops.reports.escalation_text import render_escalation_text

_SUMMARY = {
    "oracle-context": ("with the reference supplied as context", "retrieval would fix this"),
    "format-repair": ("with a format instruction and one example output", "a prompt fix will do"),
    "few-shot": ("with passing cases as worked examples", "few-shot prompting fixes it"),
    "sampling": ("at temperature 0 or under a majority vote", "reliability hardening works"),
    "reference-model": ("on the reference model", "a capacity gap: a stronger model fixes it"),
}


def _summary_lines(outcomes: list[ProbeOutcome]) -> list[str]:
    """One line per probe and model: how many probed cases it fixed, and what that means."""
    grouped: dict[tuple[str, str], list[ProbeOutcome]] = defaultdict(list)
    for o in outcomes:
        grouped[(o.probe, o.probe_model)].append(o)
    lines = []
    for (probe, model), items in grouped.items():
        fixed = sum(1 for o in items if o.fixed)
        measured = [o for o in items if o.fixed is not None]
        said, meaning = _SUMMARY[probe]
        if not measured:
            verdict = "inconclusive (see each case)"
        else:
            verdict = meaning if fixed * 2 > len(measured) else "it does not fix most of them"
        unsure = len(items) - len(measured)
        counted = f"{fixed} of {len(measured)} cases passed" + (f" ({unsure} inconclusive)" if unsure else "")
        lines.append(f"  {said}, {counted} on {model}: {verdict}")
    return lines


def render_diagnose_text(report: DiagnoseReport, *, color: bool = False) -> str:
    out = [
        f"Probes of run {report.source}: {report.planned_calls} calls planned (budget {report.budget}), "
        f"{report.provider_calls} made to a provider"
    ]
    if not report.outcomes:
        out.append("  no case needed or allowed a probe")
    out += _summary_lines(report.outcomes)
    for o in report.outcomes:
        out.append(
            f"\n  {o.suite}::{o.case} [{o.model}] {o.probe}: {o.passed} of {o.samples} passed"
            + (f" on {o.probe_model}" if o.probe_model != o.model else "")
            + (f" ({o.detail})" if o.detail else "")
        )
        out.append(f"    added: {o.added}")
        out.append(f"    → {o.finding}")
        if o.diff:
            out.append("    suggested prompt change:")
            out += [f"      {line}" for line in o.diff.rstrip("\n").splitlines()]
    for s in report.skipped:
        out.append(f"  skipped {s.suite}::{s.case} {s.probe}: {s.reason}")
    for path in report.recordings:
        out.append(f"  probe answers recorded in {path} (commit it for `diagnose --replay`)")
    text = "\n".join(out) + "\n"
    escalation = render_escalation_text(report.escalation, color=color)
    return text + (escalation or "no failing cases: nothing to escalate\n")
