"""The terminal drift report: a table per suite, then regressions first, then the rest.

Each suite table carries the suite-level test (the samples of its paired cases
pooled); a significant pooled drop shows there and on the verdict line.
"""

from __future__ import annotations

import io

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from promptops.drift import (
    CaseDrift,
    CaseSide,
    DriftReport,
    DriftStatus,
    Interval,
    OutputDiff,
    StatusCounts,
    SuiteDrift,
    SuiteSide,
)
from promptops.reports.formatting import ms_figure, pct, pts, usd

_MAX_DETAILS = 50
_MAX_LISTED = 20

# (status, heading, mark, style), in the order a reviewer needs them
_SECTIONS: tuple[tuple[DriftStatus, str, str, str], ...] = (
    ("regression", "Regressions", "✗", "red"),
    ("fix", "Fixes", "✓", "green"),
    ("changed", "Changed outputs", "~", "cyan"),
    ("flaky", "Flaky (verdict flipped within sampling noise)", "?", "yellow"),
    ("error", "Errors (no comparison possible)", "!", "yellow"),
)


def _interval(interval: Interval | None) -> str:
    return "" if interval is None else f" [{interval.low * 100:.0f}–{interval.high * 100:.0f}]"


def _signed(value: float | None, unit: str = "") -> str:
    if value is None:
        return ""
    if round(value) == 0:
        return f"±0{unit}"
    return f"{value:+,.0f}{unit}".replace("-", "−")


def _signed_usd(value: float | None) -> str:
    if value is None:
        return ""
    return ("−" if value < 0 else "+") + usd(abs(value))


def _difference(base: SuiteSide | None, cand: SuiteSide | None, field: str) -> float | None:
    old = getattr(base, field) if base else None
    new = getattr(cand, field) if cand else None
    return None if old is None or new is None else float(new - old)


def _suite_title(suite: SuiteDrift) -> str:
    base = suite.baseline.model if suite.baseline else "—"
    cand = suite.candidate.model if suite.candidate else "—"
    if suite.pairing is None:
        note = "only in the baseline" if suite.candidate is None else "only in the candidate"
    else:
        note = f"paired by {'model' if suite.pairing == 'model' else 'case, across models'}"
    return f"{suite.suite}  [{base} → {cand}, {note}]"


def _p(value: float | None) -> str:
    if value is None:
        return "p = —"
    return "p < 0.001" if value < 0.001 else f"p = {value:.2g}"


def _pooled(passed: int, total: int, rate: float | None) -> str:
    return f"{passed}/{total} ({pct(rate)})"


def suite_test(suite: SuiteDrift) -> tuple[str, str]:
    """The suite-level test as (words, style): the pooled sample delta and its p-value."""
    if suite.p_value is None or suite.sample_delta is None:
        return "", ""
    delta = pts(suite.sample_delta)
    if suite.significant_drop:
        return f"{delta}, suite drop significant ({_p(suite.p_value)})", "bold red"
    return f"{delta} ({_p(suite.p_value)})", "dim"


def suite_table(suite: SuiteDrift) -> Table:
    """Baseline, candidate and difference for one suite and model pair."""
    table = Table(
        title=Text(_suite_title(suite), style="bold"),
        title_justify="left",
        show_edge=False,
        header_style="bold",
    )
    table.add_column("")
    table.add_column("baseline", justify="right")
    table.add_column("candidate", justify="right")
    table.add_column("Δ", justify="right")
    sides: list[SuiteSide | None] = [suite.baseline, suite.candidate]

    def row(name: str, cells: list[str], delta: str = "", style: str = "") -> None:
        table.add_row(name, *cells, Text(delta, style=style))

    row("model", [f"{s.model} ({s.model_id})" if s else "—" for s in sides])
    row("prompt", [f"{s.prompt}@{s.prompt_version}" if s else "—" for s in sides])
    row("cases", [f"{s.cases}" if s else "—" for s in sides])
    delta_style = "red" if (suite.delta or 0) < 0 else "green" if (suite.delta or 0) > 0 else ""
    row(
        "pass rate",
        [f"{pct(s.pass_rate)}{_interval(s.interval)}" if s else "—" for s in sides],
        pts(suite.delta),
        delta_style,
    )
    if suite.pooled_cases:
        # the suite-level test: samples of the paired cases pooled, one-sided Fisher exact
        words, style = suite_test(suite)
        row(
            f"samples passed ({suite.pooled_cases} cases)",
            [
                _pooled(
                    suite.baseline_samples_passed,
                    suite.baseline_samples_pooled,
                    suite.baseline_sample_pass_rate,
                ),
                _pooled(
                    suite.candidate_samples_passed,
                    suite.candidate_samples_pooled,
                    suite.candidate_sample_pass_rate,
                ),
            ],
            words,
            style,
        )
    base, cand = suite.baseline, suite.candidate
    row(
        "latency p50 ms",
        [ms_figure(s.latency_p50_ms) if s else "—" for s in sides],
        _signed(_difference(base, cand, "latency_p50_ms")),
    )
    row(
        "latency p95 ms",
        [ms_figure(s.latency_p95_ms) if s else "—" for s in sides],
        _signed(_difference(base, cand, "latency_p95_ms")),
    )
    row(
        "cost / 1k calls",
        [usd(s.cost_per_1k_calls_usd) if s else "—" for s in sides],
        _signed_usd(_difference(base, cand, "cost_per_1k_calls_usd")),
    )
    return table


def _counted(counts: StatusCounts) -> list[tuple[int, str, str]]:
    """(count, words, style) per status, in report order; nouns are singular for one."""

    def noun(number: int, singular: str, plural: str) -> str:
        return f"{number} {singular if number == 1 else plural}"

    return [
        (counts.regressions, noun(counts.regressions, "regression", "regressions"), "red"),
        (counts.fixes, noun(counts.fixes, "fix", "fixes"), "green"),
        (counts.changed, f"{counts.changed} changed", "cyan"),
        (counts.flaky, f"{counts.flaky} flaky", "yellow"),
        (counts.errors, noun(counts.errors, "error", "errors"), "yellow"),
        (counts.unchanged, f"{counts.unchanged} unchanged", ""),
        (counts.added, f"{counts.added} added", ""),
        (counts.removed, f"{counts.removed} removed", ""),
    ]


def _counts_line(suite: SuiteDrift) -> Text:
    line = Text("  ")
    for index, (count, words, style) in enumerate(_counted(suite.counts)):
        if index:
            line.append(" · ", style="dim")
        line.append(words, style=style if count else "dim")
    power = power_sentence(suite)
    if power:
        line.append(f"\n  {power}", style="dim")
    return line


def power_sentence(suite: SuiteDrift) -> str | None:
    """What the suite could see and what it saw: "at repeat 3 this suite cannot see drops under 45 points"."""
    parts = []
    repeat = suite.detectable_repeat
    if repeat is not None and repeat >= 2:
        if suite.detectable_drop is None:
            parts.append(f"at repeat {repeat} this suite cannot see a drop in a single case at all")
        else:
            parts.append(
                f"at repeat {repeat} this suite cannot see drops under {suite.detectable_drop * 100:.0f} "
                "points in a single case"
            )
    if suite.change is not None and suite.change_low is not None and suite.change_high is not None:
        parts.append(
            f"change in pass rate {suite.change * 100:+.0f} pts "
            f"(95% interval {suite.change_low * 100:+.0f} to {suite.change_high * 100:+.0f})"
        )
    return "; ".join(parts) or None


def _samples(side: CaseSide | None) -> str:
    if side is None:
        return "—"
    produced = side.samples - side.errored_samples
    return f"{side.passed_samples}/{produced}"


def _heading(case: CaseDrift, mark: str, style: str) -> Text:
    heading = Text(f"{mark} ", style=style)
    heading.append(f"{case.suite}::{case.case}", style="bold")
    models = (
        case.baseline_model
        if case.baseline_model == case.candidate_model
        else (f"{case.baseline_model or '—'} → {case.candidate_model or '—'}")
    )
    heading.append(f" [{models}]")
    if case.baseline is not None and case.candidate is not None:
        heading.append(f"  passed {_samples(case.baseline)} → {_samples(case.candidate)}", style="dim")
        flipped = case.status in ("regression", "fix", "flaky")
        if flipped and case.method == "deterministic":
            heading.append(" (one sample per side)", style="dim")
        elif flipped and case.p_value is not None:
            adjusted = case.p_value_adjusted
            extra = f", adjusted {adjusted:.3g}" if adjusted is not None and adjusted != case.p_value else ""
            heading.append(f" (p = {case.p_value:.3g}{extra})", style="dim")
    if case.gap:
        heading.append(f"  gap hint: {case.gap}", style="dim")
    return heading


def _diff_lines(diff: OutputDiff, *, full: bool) -> list[Text]:
    lines: list[Text] = []
    if diff.kind == "json":
        for change in diff.json_changes:
            if change.change == "added":
                lines.append(Text(f"      + {change.path} = {change.new!r}", style="green"))
            elif change.change == "removed":
                lines.append(Text(f"      - {change.path} (was {change.old!r})", style="red"))
            else:
                lines.append(Text(f"      ~ {change.path}: {change.old!r} → {change.new!r}", style="yellow"))
    else:
        lines.append(Text(f"    similarity {diff.similarity:.0%}", style="dim"))
        for raw in (diff.text_diff or "").splitlines() if full else []:
            if raw.startswith(("---", "+++")):
                continue  # the side names are already in the heading
            style = "green" if raw.startswith("+") else "red" if raw.startswith("-") else "dim"
            lines.append(Text(f"      {raw}", style=style))
    if diff.truncated:
        lines.append(Text("      … (cut; see the JSON report)", style="dim"))
    return lines


def _details(case: CaseDrift) -> list[Text]:
    lines: list[Text] = []
    failing = case.candidate if case.status != "fix" else case.baseline
    if failing is not None and failing.verdict == "failed":
        for outcome in failing.failed_assertions:
            lines.append(Text(f"    {outcome.type}: {outcome.reason}"))
    short = True
    for name, side in (("baseline", case.baseline), ("candidate", case.candidate)):
        if side is None:
            continue
        if side.error is not None and side.verdict == "error":
            code = f" ({side.error.status_code})" if side.error.status_code else ""
            lines.append(Text(f"    {name}: {side.error.type}{code}: {side.error.message}", style="yellow"))
        elif side.output_excerpt is not None and (case.diff is None or case.diff.kind == "text"):
            lines.append(Text(f"    {name}: {side.output_excerpt!r}", style="dim"))
            short = short and "\n" not in side.output_excerpt and len(side.output_excerpt) <= 80
    if case.diff is not None:
        # two short one-line outputs are their own diff; a line-by-line diff only repeats them
        lines.extend(_diff_lines(case.diff, full=not short))
    return lines


def _section(console: Console, cases: list[CaseDrift], title: str, mark: str, style: str) -> None:
    console.print(Text(f"\n{title} ({len(cases)})", style=f"bold {style}"))
    for case in cases[:_MAX_DETAILS]:
        console.print(_heading(case, mark, style))
        for line in _details(case):
            console.print(line)
    if len(cases) > _MAX_DETAILS:
        console.print(f"  … and {len(cases) - _MAX_DETAILS} more (see the JSON report)")


def _listing(console: Console, cases: list[CaseDrift], title: str, mark: str) -> None:
    console.print(Text(f"\n{title} ({len(cases)})", style="bold"))
    for case in cases[:_MAX_LISTED]:
        model = case.candidate_model or case.baseline_model
        console.print(Text(f"  {mark} {case.suite}::{case.case} [{model}]"))
    if len(cases) > _MAX_LISTED:
        console.print(f"  … and {len(cases) - _MAX_LISTED} more")


def verdict_line(report: DriftReport) -> Text:
    """One line: the drift verdict and the counts behind it."""
    word, style = {
        "regressed": ("REGRESSED", "bold red"),
        "ok": ("NO REGRESSIONS", "bold green"),
        "error": ("INCOMPLETE", "bold yellow"),
    }[report.status]
    line = Text(word, style=style)
    counted = _counted(report.counts)
    # added and removed cases are listed only when there are some
    shown = counted[:6] + [part for part in counted[6:] if part[0]]
    line.append(": " + ", ".join(words for _, words, _ in shown))
    dropped = [s for s in report.suites if s.significant_drop]
    for suite in dropped[:3]:
        model = suite.candidate.model if suite.candidate else "—"
        line.append(f"; suite {suite.suite} [{model}] drop significant ({_p(suite.p_value)})", style="red")
    if len(dropped) > 3:
        line.append(f"; {len(dropped) - 3} more suite drops", style="red")
    line.append(f" · {report.baseline_label} → {report.candidate_label}", style="dim")
    return line


def render_drift_text(report: DriftReport, color: bool = False, width: int = 120) -> str:
    """The drift report for a terminal, as a string (ANSI colours only when ``color``).

    Args:
        report: The report from ``compare_runs``.
        color: Emit ANSI colours.
        width: Line width the tables are laid out for.

    Returns:
        Suite tables, then regressions, fixes, changed, flaky and errored cases
        with their reasons, outputs and diffs, then the verdict line.
    """
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=color, no_color=not color, width=width, highlight=False)
    header = Text("Drift ", style="bold")
    header.append(f"{report.baseline_label} → {report.candidate_label}", style="bold")
    header.append(f"  (runs {report.baseline_run} → {report.candidate_run})", style="dim")
    console.print(header)
    console.print(
        Text(
            f"{report.rule()} (one sample per side: compared directly); "
            f"{report.confidence:.0%} Wilson intervals",
            style="dim",
        )
    )
    for suite in report.suites:
        console.print()
        console.print(Group(suite_table(suite), _counts_line(suite)))
    for status, title, mark, style in _SECTIONS:
        cases = report.with_status(status)
        if cases:
            _section(console, cases, title, mark, style)
    listings: tuple[tuple[DriftStatus, str, str], ...] = (
        ("added", "Added cases", "+"),
        ("removed", "Removed cases", "-"),
    )
    for status, title, mark in listings:
        cases = report.with_status(status)
        if cases:
            _listing(console, cases, title, mark)
    console.print()
    console.print(verdict_line(report))
    return buffer.getvalue()
