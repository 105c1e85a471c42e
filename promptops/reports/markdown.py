"""Markdown for a pull-request comment: verdict, tables, regressions first, escalations, details.

GitHub rejects comments over 65,536 characters; the report is assembled in
order of importance and stops, with a note pointing to the full artifact,
before it reaches ``MAX_CHARS``.
"""

from __future__ import annotations

from collections.abc import Iterable

from promptops.drift import CaseDrift, CaseSide, DriftReport, SuiteDrift
from promptops.escalation import EscalationReport
from promptops.reports import ReportData
from promptops.results import CaseVerdict, RunMeta, RunSummary

MARKER = "<!-- promptops-report -->"
MAX_CHARS = 60_000
"""Budget below GitHub's 65,536-character comment limit, leaving room for the truncation note."""
_EXCERPT = 300


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.0%}"


def _delta(value: float | None) -> str:
    if value is None:
        return ""
    points = value * 100
    return "±0" if round(points) == 0 else f"{points:+.0f} pts".replace("-", "−")


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _usd(value: float | None) -> str:
    return "—" if value is None else f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def _cell(text: object) -> str:
    """Table-safe text: pipes escaped, newlines folded."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(text: str | None, limit: int = _EXCERPT) -> str:
    if text is None:
        return "_(no output)_"
    flat = text.strip()
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    fence = "````" if "```" in flat else "```"
    return f"{fence}\n{flat}\n{fence}"


def _verdict(data: ReportData) -> str:
    if data.drift is not None:
        c = data.drift.counts
        icon = {"regressed": "❌", "ok": "✅", "error": "⚠️"}[data.drift.status]
        parts = [
            f"{c.regressions} regressions",
            f"{c.fixes} fixes",
            f"{c.changed} changed",
            f"{c.flaky} flaky",
        ]
        if c.errors:
            parts.append(f"{c.errors} errors")
        if data.drift.suite_regressions:
            parts.insert(0, f"{data.drift.suite_regressions} suite-wide drops")
        return (
            f"## {icon} promptops drift: {', '.join(parts)}\n\n"
            f"Baseline **{_cell(data.drift.baseline_label)}** (run `{data.drift.baseline_run}`) → candidate "
            f"**{_cell(data.drift.candidate_label)}** (run `{data.drift.candidate_run}`); "
            f"regressions need a significant drop ({data.drift.test}, α = {data.drift.alpha}).\n"
        )
    assert data.summary is not None
    s = data.summary
    passed = sum(c.status == "passed" for c in s.cases)
    failed = sum(c.status == "failed" for c in s.cases)
    errors = sum(c.status == "error" for c in s.cases)
    icon = {"passed": "✅", "failed": "❌", "error": "⚠️"}[s.status]
    return (
        f"## {icon} promptops test: {passed} passed, {failed} failed, {errors} errors\n\n"
        f"Run `{s.run_id}`: {s.completed_calls} calls in {s.duration_s:.1f} s.\n"
    )


def _run_table(summary: RunSummary) -> str:
    rows = [
        "| suite | model | cases | passed | failed | errors | pass rate | p95 ms | cost |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for g in summary.groups:
        rows.append(
            f"| {_cell(g.suite)} | {_cell(g.model)} | {g.cases} | {g.passed} | {g.failed} | {g.errors} "
            f"| {_pct(g.pass_rate)} | {_ms(g.latency_p95_ms)} | {_usd(g.cost_usd)} |"
        )
    return "\n".join(rows) + "\n"


def _drift_table(drift: DriftReport) -> str:
    rows = [
        "| suite | models | baseline | candidate | Δ | regr. | fixes | changed | flaky | p95 ms "
        "| $/1k calls |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for suite in drift.suites:
        base, cand = suite.baseline, suite.candidate
        models = " → ".join(dict.fromkeys(x.model for x in (base, cand) if x is not None))
        latency = (
            f"{_ms(base.latency_p95_ms if base else None)} → {_ms(cand.latency_p95_ms if cand else None)}"
        )
        cost = (
            f"{_usd(base.cost_per_1k_calls_usd if base else None)} → "
            f"{_usd(cand.cost_per_1k_calls_usd if cand else None)}"
        )
        c = suite.counts
        drop = (
            f" ⚠️ significant drop (p = {suite.p_value:.3f})"
            if suite.significant_drop and suite.p_value is not None
            else ""
        )
        rows.append(
            f"| {_cell(suite.suite)} | {_cell(models)} | {_pct(base.pass_rate if base else None)} "
            f"| {_pct(cand.pass_rate if cand else None)} | {_delta(suite.delta)}{drop} | {c.regressions} "
            f"| {c.fixes} "
            f"| {c.changed} | {c.flaky} | {latency} | {cost} |"
        )
    return "\n".join(rows) + "\n"


def _side(side: CaseSide | None) -> str:
    if side is None:
        return "—"
    samples = f" ({side.passed_samples}/{side.samples - side.errored_samples})" if side.samples > 1 else ""
    return f"{_pct(side.pass_rate)}{samples}"


def _location(suite: str, line: int | None, files: dict[str, str]) -> str:
    file = files.get(suite)
    if not file:
        return ""
    return f" · `{file}:{line}`" if line else f" · `{file}`"


def _drift_case(case: CaseDrift, files: dict[str, str]) -> str:
    models = " → ".join(dict.fromkeys(m for m in (case.baseline_model, case.candidate_model) if m))
    p = f", p = {case.p_value:.3f}" if case.p_value is not None else ""
    lines = [
        f"**{_cell(case.suite)}::{_cell(case.case)}** [{_cell(models)}]"
        f"{_location(case.suite, case.line, files)}"
        f" — {_side(case.baseline)} → {_side(case.candidate)}{p}"
    ]
    if case.candidate is not None:
        for outcome in case.candidate.failed_assertions[:4]:
            lines.append(f"- `{outcome.type}`: {_cell(outcome.reason)}")
    diff = case.diff
    if diff is not None and diff.kind == "json" and diff.json_changes:
        for change in diff.json_changes[:8]:
            lines.append(f"- `{change.path}` {change.change}: `{_cell(change.old)}` → `{_cell(change.new)}`")
    elif diff is not None and diff.text_diff:
        lines.append("```diff\n" + diff.text_diff.strip() + "\n```")
    elif case.candidate is not None and case.candidate.output_excerpt is not None:
        lines.append(_code(case.candidate.output_excerpt))
    return "\n".join(lines) + "\n"


def _failure(verdict: CaseVerdict, files: dict[str, str]) -> str:
    samples = (
        f" ({verdict.passed_samples}/{verdict.samples - verdict.errored_samples} samples)"
        if (verdict.samples > 1)
        else ""
    )
    lines = [
        f"**{_cell(verdict.suite)}::{_cell(verdict.case)}** [{_cell(verdict.model)}]"
        f"{_location(verdict.suite, verdict.line, files)}{samples}"
    ]
    if verdict.error is not None:
        lines.append(f"- error: {_cell(verdict.error.type)}: {_cell(verdict.error.message)}")
    for outcome in verdict.failed_assertions[:4]:
        lines.append(f"- `{outcome.type}`: {_cell(outcome.reason)}")
    if verdict.output_excerpt is not None:
        lines.append(_code(verdict.output_excerpt))
    return "\n".join(lines) + "\n"


def _escalation_items(report: EscalationReport) -> list[str]:
    items = []
    for e in report.escalations:
        flag = "🚫 **blocking** · " if e.blocking else ""
        scope = f": {e.affected_cases} of {e.total_cases} cases" if e.gap else ""
        steps = "\n".join(f"  {n}. {_cell(step)}" for n, step in enumerate(e.next_steps, 1))
        evidence = ", ".join(f"`{x.suite}::{x.case}` ({_pct(x.pass_rate)})" for x in e.evidence[:8])
        more = f" and {len(e.evidence) - 8} more" if len(e.evidence) > 8 else ""
        weighed = f"\n  Weighed: {', '.join(e.constraints_weighed)}." if e.constraints_weighed else ""
        items.append(
            f"- {flag}**{e.gap or 'budget'} → {e.technique}** ({e.confidence}) · `{_cell(e.prompt)}` on "
            f"`{_cell(e.model)}`{scope} · rule `{e.rule}`\n  {_cell(e.rationale)}{weighed}\n{steps}\n"
            + (f"  Evidence: {evidence}{more}\n" if evidence else "")
        )
    return items


_ALL_CASES_HEADER = "| suite | case | model | status | pass rate |\n|---|---|---|---|--:|\n"


def _all_cases_table(summary: RunSummary) -> list[str]:
    return [
        f"| {_cell(c.suite)} | {_cell(c.case)} | {_cell(c.model)} | {c.status} | {_pct(c.pass_rate)} |"
        for c in summary.cases
    ]


class _Budget:
    """Appends sections while they fit; remembers what was left out."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.omitted: list[str] = []

    def add(self, text: str) -> bool:
        if self.size + len(text) > self.limit:
            return False
        self.parts.append(text)
        self.size += len(text)
        return True

    def add_list(
        self, title: str, items: Iterable[str], *, collapsed: bool = False, header: str = ""
    ) -> None:
        items = list(items)
        if not items:
            return
        head = (
            f"<details><summary><b>{title} ({len(items)})</b></summary>\n\n"
            if collapsed
            else f"### {title} ({len(items)})\n\n"
        ) + header
        tail = "\n</details>\n\n" if collapsed else "\n"
        if not self.add(head):
            self.omitted.append(f"{title.lower()}: all {len(items)}")
            return
        shown = 0
        for item in items:
            if not self.add(item + "\n"):
                break
            shown += 1
        self.parts.append(tail)
        self.size += len(tail)
        if shown < len(items):
            self.omitted.append(f"{title.lower()}: {len(items) - shown} of {len(items)}")


def render_markdown(data: ReportData, *, max_chars: int = MAX_CHARS) -> str:
    """The pull-request comment (starts with the hidden marker the comment upsert looks for)."""
    files = _suite_files(data.meta)
    budget = _Budget(max_chars)
    budget.add(MARKER + "\n" + _verdict(data) + "\n")
    drift = data.drift
    if drift is not None:
        budget.add(_drift_table(drift) + "\n")
        budget.add_list("Regressions", (_drift_case(c, files) for c in drift.with_status("regression")))
    if data.summary is not None and (drift is None or data.summary.status != "passed"):
        if drift is None:
            budget.add(_run_table(data.summary) + "\n")
        failures = [c for c in data.summary.cases if c.status != "passed"]
        budget.add_list(
            "Failures" if drift is None else "Failing on the candidate",
            (_failure(c, files) for c in failures),
            collapsed=drift is not None,
        )
    if data.escalation is not None and data.escalation.escalations:
        budget.add_list("Escalations", _escalation_items(data.escalation))
    if drift is not None:
        budget.add_list("Fixes", (_drift_case(c, files) for c in drift.with_status("fix")), collapsed=True)
        budget.add_list(
            "Changed outputs", (_drift_case(c, files) for c in drift.with_status("changed")), collapsed=True
        )
        budget.add_list(
            "Flaky (within sampling noise)",
            (_drift_case(c, files) for c in drift.with_status("flaky")),
            collapsed=True,
        )
        budget.add_list("Errors", (_drift_case(c, files) for c in drift.with_status("error")), collapsed=True)
    elif data.summary is not None:
        budget.add_list("All cases", _all_cases_table(data.summary), collapsed=True, header=_ALL_CASES_HEADER)
    text = "".join(budget.parts)
    if budget.omitted:
        where = (
            f" Full report: {data.artifact_hint}."
            if data.artifact_hint
            else (" See the full HTML/JSON report artifact.")
        )
        text += f"\n> **Report truncated** to fit a comment: {'; '.join(budget.omitted)} not shown.{where}\n"
    return text


def _suite_files(meta: RunMeta | None) -> dict[str, str]:
    return {s.name: s.file for s in meta.suites} if meta else {}


__all__ = ["MARKER", "MAX_CHARS", "SuiteDrift", "render_markdown"]
