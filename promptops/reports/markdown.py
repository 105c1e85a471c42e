"""Markdown for a pull-request comment: verdict, tables, regressions first, escalations, details.

GitHub rejects comments over 65,536 characters; the report is assembled in
order of importance and stops, with a note pointing to the full artifact,
before it reaches ``MAX_CHARS``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape

from promptops.drift import CaseDrift, CaseSide, DriftReport, SuiteDrift
from promptops.escalation import CaseDiagnosis, Escalation, EscalationReport
from promptops.lint import LintReport
from promptops.reports import ReportData
from promptops.reports.formatting import ms_figure, pct, pts, usd
from promptops.reports.text import judge_line
from promptops.results import CaseVerdict, RunMeta, RunSummary
from promptops.versions import PromptChange
from promptops.watch import ServedModel, WatchReport

WATCH_MARKER = "<!-- promptops-watch -->"

MARKER = "<!-- promptops-report -->"
MAX_CHARS = 60_000
"""Budget below GitHub's 65,536-character comment limit, leaving room for the truncation note."""
_EXCERPT = 300


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


def _fence(text: str, info: str = "") -> str:
    """A code block whose fence is longer than any backtick run inside ``text``."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text.rstrip()}\n{fence}"


def _lint_counts(data: ReportData) -> str:
    lint = data.lint
    if lint is None or not lint.findings:
        return ""
    return f"lint: {_plural(lint.errors, 'error')}, {_plural(lint.warnings, 'warning')}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _verdict(data: ReportData) -> str:
    lint = data.lint
    lint_failed = lint is not None and lint.errors > 0
    links = f"\n📄 [HTML report]({data.artifact_url}) (artifact of this run)\n" if data.artifact_url else ""
    if data.drift is not None:
        drift = data.drift
        c = drift.counts
        introduced = sum(case.introduced for case in drift.cases)
        already = sum(case.already_failing for case in drift.cases)
        icon = "✅"
        if drift.status == "error":
            icon = "⚠️"
        if drift.status == "regressed" or introduced or lint_failed:
            icon = "❌"
        parts = [f"{introduced} introduced by this change", f"{already} already failing on the base"]
        parts += [f"{c.fixes} fixed", f"{c.changed} changed", f"{c.flaky} flaky"]
        if c.errors:
            parts.append(f"{c.errors} errors")
        if drift.suite_regressions:
            parts.insert(0, f"{drift.suite_regressions} suite-wide drops")
        if _lint_counts(data):
            parts.append(_lint_counts(data))
        return (
            f"## {icon} promptops: {', '.join(parts)}\n\n"
            f"Baseline **{_cell(drift.baseline_label)}** (run `{drift.baseline_run}`) → candidate "
            f"**{_cell(drift.candidate_label)}** (run `{drift.candidate_run}`); "
            f"regressions need a significant drop: {drift.rule()}.\n{links}"
        )
    if data.summary is None:
        icon = "❌" if lint_failed else "✅"
        counts = _lint_counts(data) or "lint: no findings"
        return f"## {icon} promptops: {counts}; no test verdict (the test step wrote no report)\n{links}"
    s = data.summary
    passed = sum(c.status == "passed" for c in s.cases)
    failed = sum(c.status == "failed" for c in s.cases)
    errors = sum(c.status == "error" for c in s.cases)
    icon = {"passed": "✅", "failed": "❌", "error": "⚠️"}[s.status]
    if lint_failed:
        icon = "❌"
    lint_part = f", {_lint_counts(data)}" if _lint_counts(data) else ""
    return (
        f"## {icon} promptops test: {passed} passed, {failed} failed, {errors} errors{lint_part}\n\n"
        f"Run `{s.run_id}`: {s.completed_calls} calls in {s.duration_s:.1f} s.\n{links}"
    )


def _run_table(summary: RunSummary) -> str:
    rows = [
        "| suite | model | cases | passed | failed | errors | pass rate | p95 ms | cost |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for g in summary.groups:
        rows.append(
            f"| {_cell(g.suite)} | {_cell(g.model)} | {g.cases} | {g.passed} | {g.failed} | {g.errors} "
            f"| {pct(g.pass_rate)} | {ms_figure(g.latency_p95_ms)} | {usd(g.cost_usd)} |"
        )
    judges = judge_line(summary)
    if judges is not None:
        # judge calls, their cost and agreement: the same line as the terminal report's
        rows.append(f"\n{_cell(judges.plain)}")
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
            f"{ms_figure(base.latency_p95_ms if base else None)} → "
            f"{ms_figure(cand.latency_p95_ms if cand else None)}"
        )
        cost = (
            f"{usd(base.cost_per_1k_calls_usd if base else None)} → "
            f"{usd(cand.cost_per_1k_calls_usd if cand else None)}"
        )
        c = suite.counts
        drop = (
            f" ⚠️ significant drop (p = {suite.p_value:.3f})"
            if suite.significant_drop and suite.p_value is not None
            else ""
        )
        rows.append(
            f"| {_cell(suite.suite)} | {_cell(models)} | {pct(base.pass_rate if base else None)} "
            f"| {pct(cand.pass_rate if cand else None)} | {pts(suite.delta)}{drop} | {c.regressions} "
            f"| {c.fixes} "
            f"| {c.changed} | {c.flaky} | {latency} | {cost} |"
        )
    return "\n".join(rows) + "\n"


def _side(side: CaseSide | None) -> str:
    if side is None:
        return "—"
    samples = f" ({side.passed_samples}/{side.samples - side.errored_samples})" if side.samples > 1 else ""
    return f"{pct(side.pass_rate)}{samples}"


@dataclass(frozen=True)
class _Links:
    """Suite files by suite name, and where files can be opened at the reviewed commit."""

    files: dict[str, str]
    source_url: str | None

    def to(self, file: str | None, line: int | None) -> str:
        """`` · `file:line` ``, linked to that line at the reviewed commit when the URL is known."""
        if not file:
            return ""
        label = f"`{file}:{line}`" if line else f"`{file}`"
        if not self.source_url:
            return f" · {label}"
        anchor = f"#L{line}" if line else ""
        return f" · [{label}]({self.source_url}{file}{anchor})"

    def case(self, suite: str, line: int | None) -> str:
        return self.to(self.files.get(suite), line)


Diagnoses = dict[tuple[str, str, str], CaseDiagnosis]


def _diagnoses(data: ReportData) -> Diagnoses:
    cases = data.escalation.cases if data.escalation is not None else []
    return {(c.suite, c.case, c.model): c for c in cases}


def _diagnosis_line(diagnosis: CaseDiagnosis | None) -> list[str]:
    """The case's gap, confidence, deciding evidence and remedy: the same diagnosis as every command's."""
    if diagnosis is None or diagnosis.gap is None:
        return []
    top = next((e for e in diagnosis.evidence if e.gap == diagnosis.gap), None)
    why = f" — {top.signal}: {_cell(top.text)}" if top else ""
    remedy = f" · remedy: {diagnosis.technique} (`{diagnosis.rule}`)" if diagnosis.technique else ""
    lines = [f"- diagnosis: **{diagnosis.gap}** ({diagnosis.confidence:.0%}){why}{remedy}"]
    if diagnosis.hint_disagrees:
        lines.append(f"- hint `{diagnosis.hint}`; {_cell(diagnosis.hint_disagrees)}")
    if diagnosis.spread:
        lines.append(f"- {_cell(diagnosis.spread)}")
    if diagnosis.attribution is not None and diagnosis.attribution.cause != "already-failing":
        lines.append(f"- cause: {diagnosis.attribution.cause}: {_cell(diagnosis.attribution.text)}")
    return lines


def _drift_case(case: CaseDrift, links: _Links, diagnoses: Diagnoses | None = None) -> str:
    models = " → ".join(dict.fromkeys(m for m in (case.baseline_model, case.candidate_model) if m))
    p = f", p = {case.p_value:.3f}" if case.p_value is not None else ""
    new = " (new case)" if case.status == "added" else ""
    lines = [
        f"**{_cell(case.suite)}::{_cell(case.case)}** [{_cell(models)}]{links.case(case.suite, case.line)}"
        f" — {_side(case.baseline)} → {_side(case.candidate)}{p}{new}"
    ]
    if case.candidate is not None:
        if case.candidate.error is not None:
            lines.append(
                f"- error: {_cell(case.candidate.error.type)}: {_cell(case.candidate.error.message)}"
            )
        for outcome in case.candidate.failed_assertions[:4]:
            lines.append(f"- `{outcome.type}`: {_cell(outcome.reason)}")
        lines.extend(_diagnosis_line((diagnoses or {}).get((case.suite, case.case, case.candidate.model))))
    diff = case.diff
    if diff is not None and diff.kind == "json" and diff.json_changes:
        for change in diff.json_changes[:8]:
            lines.append(f"- `{change.path}` {change.change}: `{_cell(change.old)}` → `{_cell(change.new)}`")
    elif diff is not None and diff.text_diff:
        lines.append(_fence(diff.text_diff.strip(), "diff"))
    elif case.candidate is not None and case.candidate.output_excerpt is not None:
        lines.append(_code(case.candidate.output_excerpt))
    return "\n".join(lines) + "\n"


def _failure(verdict: CaseVerdict, links: _Links, diagnoses: Diagnoses | None = None) -> str:
    samples = (
        f" ({verdict.passed_samples}/{verdict.samples - verdict.errored_samples} samples)"
        if (verdict.samples > 1)
        else ""
    )
    lines = [
        f"**{_cell(verdict.suite)}::{_cell(verdict.case)}** [{_cell(verdict.model)}]"
        f"{links.case(verdict.suite, verdict.line)}{samples}"
    ]
    if verdict.error is not None:
        lines.append(f"- error: {_cell(verdict.error.type)}: {_cell(verdict.error.message)}")
    for outcome in verdict.failed_assertions[:4]:
        lines.append(f"- `{outcome.type}`: {_cell(outcome.reason)}")
    lines.extend(_diagnosis_line((diagnoses or {}).get((verdict.suite, verdict.case, verdict.model))))
    if verdict.output_excerpt is not None:
        lines.append(_code(verdict.output_excerpt))
    return "\n".join(lines) + "\n"


def _lint_items(lint: LintReport, links: _Links) -> list[str]:
    icons = {"error": "❌", "warning": "⚠️"}
    return [
        f"- {icons[f.level]} {f.level}{links.to(f.file, f.line)}: {_cell(f.message)}" for f in lint.findings
    ]


def _prompt_table(changes: list[PromptChange], links: _Links) -> str:
    rows = ["| prompt | base | this change | file |", "|---|---|---|---|"]
    for change in changes:
        base = f"`{change.baseline_version}`" if change.baseline_version else "new"
        bumped = change.baseline_version is None or change.baseline_version != change.candidate_version
        flag = "" if bumped else " ⚠️ not bumped"
        rows.append(
            f"| {_cell(change.prompt)} | {base} | `{change.candidate_version}`{flag} "
            f"| {links.to(change.file, None).removeprefix(' · ')} |"
        )
    return "\n".join(rows) + "\n"


def _prompt_diff(change: PromptChange) -> str:
    versions = f"{change.baseline_version or 'new'} → {change.candidate_version}"
    cut = "\n_(diff cut; `promptops diff` shows it whole)_\n" if change.truncated else ""
    return (
        f"<details><summary>Diff of <code>{escape(change.prompt)}</code> ({escape(versions)})</summary>\n\n"
        f"{_fence(change.diff, 'diff')}\n{cut}\n</details>\n"
    )


def _escalation_items(report: EscalationReport, introduced: set[tuple[str, str]]) -> list[str]:
    """Escalations for what the change introduced first; each says which it is about."""

    def caused(e: Escalation) -> bool:
        return any((x.suite, x.case) in introduced for x in e.evidence)

    items = []
    ordered = sorted(report.escalations, key=lambda e: not caused(e)) if introduced else report.escalations
    for e in ordered:
        flag = "🚫 **blocking** · " if e.blocking else ""
        tag = "🆕 introduced by this change · " if caused(e) else ""
        scope = f": {e.affected_cases} of {e.total_cases} cases" if e.gap else ""
        steps = "\n".join(f"  {n}. {_cell(step)}" for n, step in enumerate(e.next_steps, 1))
        evidence = ", ".join(f"`{x.suite}::{x.case}` ({pct(x.pass_rate)})" for x in e.evidence[:8])
        more = f" and {len(e.evidence) - 8} more" if len(e.evidence) > 8 else ""
        weighed = f"\n  Weighed: {', '.join(e.constraints_weighed)}." if e.constraints_weighed else ""
        items.append(
            f"- {flag}{tag}**{e.gap or e.cause or 'budget'} → {e.technique}** ({e.confidence}) · "
            f"`{_cell(e.prompt)}` on "
            f"`{_cell(e.model)}`{scope} · rule `{e.rule}`\n  {_cell(e.rationale)}{weighed}\n{steps}\n"
            + (f"  Evidence: {evidence}{more}\n" if evidence else "")
        )
    return items


_ALL_CASES_HEADER = "| suite | case | model | status | pass rate |\n|---|---|---|---|--:|\n"


def _all_cases_table(summary: RunSummary) -> list[str]:
    return [
        f"| {_cell(c.suite)} | {_cell(c.case)} | {_cell(c.model)} | {c.status} | {pct(c.pass_rate)} |"
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
    """The pull-request comment (starts with the hidden marker the comment upsert looks for).

    Sections in order of what a reviewer needs: verdict, lint, prompt versions and diffs, totals, what
    this change introduced, escalations (for what it introduced first), then, collapsed, what was
    already failing on the base, fixes, changed outputs, flaky cases and errors.
    """
    drift = data.drift
    files = _suite_files(data.meta)
    if drift is not None:
        files |= {s.suite: s.file for s in drift.suites if s.file}
    links = _Links(files, data.source_url)
    found = _diagnoses(data)
    budget = _Budget(max_chars)
    budget.add(MARKER + "\n" + _verdict(data) + "\n")
    if data.lint is not None and data.lint.findings:
        budget.add_list("Lint", _lint_items(data.lint, links))
    introduced: set[tuple[str, str]] = set()
    if drift is not None:
        if drift.prompts:
            budget.add("### Prompts\n\n" + _prompt_table(drift.prompts, links) + "\n")
            for change in drift.prompts:
                if not budget.add(_prompt_diff(change) + "\n"):
                    budget.omitted.append(f"the diff of {change.prompt}")
        budget.add(_drift_table(drift) + "\n")
        cases = [c for c in drift.cases if c.introduced]
        introduced = {(c.suite, c.case) for c in cases}
        budget.add_list("Introduced by this change", (_drift_case(c, links, found) for c in cases))
    elif data.summary is not None:
        budget.add(_run_table(data.summary) + "\n")
        failures = [c for c in data.summary.cases if c.status != "passed"]
        budget.add_list("Failures", (_failure(c, links, found) for c in failures))
    if data.escalation is not None and data.escalation.escalations:
        budget.add_list("Escalations", _escalation_items(data.escalation, introduced))
    if drift is not None:
        budget.add_list(
            "Already failing on the base",
            (_drift_case(c, links, found) for c in drift.cases if c.already_failing),
            collapsed=True,
        )
        budget.add_list("Fixes", (_drift_case(c, links) for c in drift.with_status("fix")), collapsed=True)
        budget.add_list(
            "Changed outputs",
            (_drift_case(c, links) for c in drift.with_status("changed") if not c.already_failing),
            collapsed=True,
        )
        budget.add_list(
            "Flaky (within sampling noise)",
            (_drift_case(c, links) for c in drift.with_status("flaky")),
            collapsed=True,
        )
        budget.add_list("Errors", (_drift_case(c, links) for c in drift.with_status("error")), collapsed=True)
    elif data.summary is not None:
        budget.add_list("All cases", _all_cases_table(data.summary), collapsed=True, header=_ALL_CASES_HEADER)
    text = "".join(budget.parts)
    if budget.omitted:
        if data.artifact_url:
            where = f" Full report: [HTML report]({data.artifact_url})."
        elif data.artifact_hint:
            where = f" Full report: {data.artifact_hint}."
        else:
            where = " See the full HTML/JSON report artifact."
        text += f"\n> **Report truncated** to fit a comment: {'; '.join(budget.omitted)} not shown.{where}\n"
    return text


def _served(models: list[ServedModel]) -> str:
    if not models:
        return "—"
    return ", ".join(
        f"`{_cell(m.served_model or '?')}`"
        + (f" (`{_cell(m.system_fingerprint)}`)" if m.system_fingerprint else "")
        for m in models[:3]
    ) + (f" and {len(models) - 3} more" if len(models) > 3 else "")


def render_watch_markdown(report: WatchReport, *, checked_at: str, max_chars: int = MAX_CHARS) -> str:
    """The body of the watch issue: which aliases changed, how, and the drift report of each."""
    changed = report.changed
    names = ", ".join(f"`{a.alias}`" for a in changed)
    if changed:
        head = f"## ⚠️ promptops watch: {names} changed\n\n"
    else:
        head = "## ✅ promptops watch: no change\n\n"
    against = (
        f"the pinned run `{report.pinned_baseline}`"
        if report.pinned_baseline
        else "the alias's last recorded watch run"
    )
    head += (
        f"Checked {checked_at}: each alias ran the suites with the response cache off (every answer from "
        f"the provider as it is now) and was compared with {against}.\n\n"
        "| alias | model | served before | served now | regr. | fixes | changed | verdict |\n"
        "|---|---|---|---|--:|--:|--:|---|\n"
    )
    for a in report.aliases:
        c = a.drift.counts if a.drift else None
        if a.baseline_run is None:
            verdict = "first run: recorded as the baseline"
        elif a.changed:
            verdict = (
                " and ".join(
                    x
                    for x, on in (("served model", a.served_changed), ("behaviour", a.behaviour_changed))
                    if on
                )
                + " changed"
            )
        else:
            verdict = "unchanged"
        counts = [str(x) for x in (c.regressions, c.fixes, c.changed)] if c else ["—"] * 3
        cells = [f"`{_cell(a.model_id)}`", _served(a.served_before), _served(a.served_now), *counts, verdict]
        head += f"| {_cell(a.alias)} | " + " | ".join(cells) + " |\n"
    parts = [WATCH_MARKER + "\n" + head + "\n"]
    budget = max(2_000, (max_chars - len(parts[0])) // max(1, len(changed)))
    for a in changed:
        section = f"## `{_cell(a.alias)}` (`{_cell(a.model_id)}`)\n\n"
        if a.served_changed:
            section += f"Served model: {_served(a.served_before)} → {_served(a.served_now)}.\n\n"
        if a.drift is not None:
            body = render_markdown(ReportData(drift=a.drift, escalation=a.escalation), max_chars=budget - 200)
            body = body.replace(MARKER, "", 1).lstrip()
            section += "###" + body[2:] if body.startswith("## ") else body
        parts.append(section + "\n")
    return "".join(parts)


def _suite_files(meta: RunMeta | None) -> dict[str, str]:
    return {s.name: s.file for s in meta.suites} if meta else {}


__all__ = ["MARKER", "MAX_CHARS", "WATCH_MARKER", "SuiteDrift", "render_markdown", "render_watch_markdown"]
