"""The HTML report: one self-contained page for a test run, a drift comparison, or both.

The page must open from a CI artifact, a mail attachment or an air-gapped
machine, so everything is inline: CSS and a few lines of vanilla JavaScript
(table filters), and charts drawn here as SVG. Nothing is fetched: a strict
Content-Security-Policy forbids every source except the page's own style and
script, pinned by their SHA-256 hashes, so even markup that slipped through
escaping could not run a script or load a resource.

Every value that comes from a run (model outputs, case ids, reasons, labels)
is passed through ``html.escape``: outputs are arbitrary model text and may
well contain ``<script>``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from promptops import __version__
from promptops.drift import CaseDrift, CaseSide, DriftReport, OutputDiff, SuiteDrift
from promptops.escalation import GAPS, CaseGaps, Escalation, EscalationReport
from promptops.reports import ReportData
from promptops.results import (
    AssertionOutcome,
    CaseVerdict,
    ErrorInfo,
    GroupSummary,
    RunSummary,
    SampleResult,
    percentile,
)

__all__ = ["render_html"]

MAX_TABLE_ROWS = 5000
"""Case table rows; beyond this the page is slow to filter and heavy to open (the JSON report has all)."""
MAX_DETAILS = 200
"""Side-by-side output comparisons shown for drifted cases."""
MAX_ESCALATIONS = 100
MAX_EVIDENCE = 12
MAX_HISTOGRAM_MODELS = 8
MAX_CHART_ROWS = 40
"""Suite rows in a pass-rate chart; the weakest are kept, and the totals table below lists every one."""

# one colour family per status, so a status reads the same in badges, bars and chips
_TONE = {
    "passed": "ok",
    "fix": "ok",
    "failed": "bad",
    "regression": "bad",
    "error": "warn",
    "flaky": "warn",
    "changed": "info",
    "unchanged": "muted",
    "added": "muted",
    "removed": "muted",
}
# order in which a reviewer needs them: what broke first
_TEST_ORDER = ("failed", "error", "passed")
_DRIFT_ORDER = ("regression", "error", "flaky", "fix", "changed", "added", "removed", "unchanged")
_DETAIL_STATUSES = ("regression", "fix", "changed", "flaky", "error")
# a p-value answers "is this flip more than noise?"; for a case whose verdict held it only adds clutter
_FLIPS = ("regression", "fix", "flaky")
_DRIFT_VERDICTS = {
    "regressed": ("Regressed", "bad"),
    "ok": ("No regressions", "ok"),
    "error": ("Incomplete", "warn"),
}
_TEST_VERDICTS = {"passed": ("Passed", "ok"), "failed": ("Failed", "bad"), "error": ("Error", "warn")}
_CONFIDENCE_TONE = {"high": "ok", "medium": "info", "low": "muted"}
_TECHNIQUES = {
    "prompt-engineering": "prompt engineering",
    "rag": "RAG",
    "fine-tuning": "fine-tuning",
    "reliability-hardening": "reliability hardening",
    "model-change": "model change",
    "routing-caching": "routing and caching",
    "self-hosting": "self-hosting",
}


def _e(value: Any) -> str:
    """Escaped text for element content and quoted attribute values."""
    return html.escape("" if value is None else str(value), quote=True)


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.0%}"


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1000:,.2f} s" if value >= 10_000 else f"{value:,.0f} ms"


def _ms_pair(old: float | None, new: float | None) -> str:
    """``143 → 357 ms``: one unit for both sides, so the pair fits a chart's value column."""
    if old is not None and new is not None and max(old, new) < 10_000:
        return f"{old:,.0f} → {new:,.0f} ms"
    return f"{_ms(old)} → {_ms(new)}"


def _usd(value: float | None) -> str:
    if value is None:
        return "—"
    return f"${value:.4f}" if value < 1 else f"${value:,.2f}"


def _pts(delta: float | None) -> str:
    if delta is None:
        return ""
    points = delta * 100
    return "±0 pts" if round(points) == 0 else f"{points:+.0f} pts".replace("-", "−")


def _delta_tone(delta: float | None) -> str:
    if delta is None or round(delta * 100) == 0:
        return "muted"
    return "bad" if delta < 0 else "ok"


def _badge(text: str, tone: str) -> str:
    return f'<span class="badge t-{tone}">{_e(text)}</span>'


def _status_badge(status: str) -> str:
    return _badge(status, _TONE.get(status, "muted"))


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _when(iso: str | None) -> str | None:
    """An ISO timestamp as ``2025-03-01 10:15 UTC`` (the page is read across time zones)."""
    if not iso:
        return None
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    offset = moment.utcoffset()
    zone = "" if offset is None else "UTC" if not offset else moment.strftime("%z")
    return f"{moment:%Y-%m-%d %H:%M} {zone}".rstrip()


_RUN_ID_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})\d{2}-")


def _run_id_date(run_id: str) -> str | None:
    """The start time encoded in a generated run id, for drift reports that carry no timestamps."""
    match = _RUN_ID_DATE.match(run_id)
    if not match:
        return None
    year, month, day, hour, minute = match.groups()
    return f"{year}-{month}-{day} {hour}:{minute} UTC"


# --- SVG charts ---------------------------------------------------------------------------------

_CHART_WIDTH = 600
_LABEL_WIDTH = 170
_VALUE_WIDTH = 130
_PLOT_WIDTH = _CHART_WIDTH - _LABEL_WIDTH - _VALUE_WIDTH - 16


def _svg(height: float, body: list[str], label: str) -> str:
    # no xmlns: inline SVG in HTML does not need one, and the page stays free of any URL
    return (
        f'<svg class="chart" viewBox="0 0 {_CHART_WIDTH} {height:.0f}" width="{_CHART_WIDTH}" '
        f'height="{height:.0f}" role="img" aria-label="{_e(label)}">' + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, cls: str = "", anchor: str = "start", limit: int = 0) -> str:
    """An SVG text; cut to ``limit`` characters with the full text as a tooltip."""
    shown = _short(text, limit) if limit else text
    tip = f"<title>{_e(text)}</title>" if shown != text else ""
    klass = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{klass}>{tip}{_e(shown)}</text>'


def _rect(x: float, y: float, width: float, height: float, cls: str, tip: str | None = None) -> str:
    title = f"<title>{_e(tip)}</title>" if tip else ""
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(width, 0):.1f}" height="{height:.1f}" '
        f'class="{cls}">{title}</rect>'
    )


def _grid(top: float, bottom: float, ticks: Sequence[tuple[float, str]]) -> list[str]:
    """Vertical grid lines with labels under the plot."""
    parts = []
    for fraction, label in ticks:
        x = _LABEL_WIDTH + fraction * _PLOT_WIDTH
        parts.append(f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{bottom:.1f}" class="grid"/>')
        parts.append(_text(x, bottom + 14, label, "axis", "middle"))
    return parts


_PERCENT_TICKS = [(0.0, "0%"), (0.25, "25%"), (0.5, "50%"), (0.75, "75%"), (1.0, "100%")]


def _legend(y: float, items: Sequence[tuple[str, str]]) -> list[str]:
    parts, x = [], float(_LABEL_WIDTH)
    for label, cls in items:
        parts.append(_rect(x, y - 9, 10, 10, cls))
        parts.append(_text(x + 14, y, label, "axis"))
        x += 24 + 7 * len(label)
    return parts


def _weakest(items: Sequence[Any], key: Any, left_out: str) -> tuple[list[Any], str]:
    """At most ``MAX_CHART_ROWS`` items, those with the lowest ``key``, in their order; and a note."""
    if len(items) <= MAX_CHART_ROWS:
        return list(items), ""
    keep = set(sorted(range(len(items)), key=lambda i: key(items[i]))[:MAX_CHART_ROWS])
    note = f'<p class="note">{len(items) - MAX_CHART_ROWS} {left_out} left out; the table below has all.</p>'
    return [item for i, item in enumerate(items) if i in keep], note


def pass_rate_chart(groups: Sequence[GroupSummary]) -> str:
    """Stacked bars of passed, failed and errored cases per suite and model, with the pass rate."""
    if not groups:
        return '<p class="empty">No cases ran.</p>'
    groups, note = _weakest(
        groups,
        lambda g: (g.pass_rate if g.pass_rate is not None else -1, -g.errors),
        "suites with higher pass rates",
    )
    row, top = 36, 24
    body = _legend(12, [("passed", "f-ok"), ("failed", "f-bad"), ("error", "f-warn")])
    bottom = top + row * len(groups)
    body += _grid(top, bottom, _PERCENT_TICKS)
    for index, group in enumerate(groups):
        y = top + index * row
        body.append(_text(0, y + 15, group.suite, "label", limit=24))
        body.append(_text(0, y + 29, group.model, "sub", limit=28))
        x = float(_LABEL_WIDTH)
        total = max(group.cases, 1)
        for count, cls, word in (
            (group.passed, "f-ok", "passed"),
            (group.failed, "f-bad", "failed"),
            (group.errors, "f-warn", "errors"),
        ):
            width = _PLOT_WIDTH * count / total
            if count:
                body.append(_rect(x, y + 8, width, 18, cls, f"{group.suite} · {group.model}: {count} {word}"))
            x += width
        if not group.cases:
            body.append(_rect(_LABEL_WIDTH, y + 8, _PLOT_WIDTH, 18, "f-track"))
        value_x = _LABEL_WIDTH + _PLOT_WIDTH + 12
        body.append(_text(value_x, y + 15, _pct(group.pass_rate), "value"))
        body.append(
            _text(
                value_x,
                y + 29,
                f"{group.passed}/{group.passed + group.failed} cases"
                + (f", {group.errors} err" if group.errors else ""),
                "sub",
            )
        )
    return _svg(bottom + 22, body, "Pass rate per suite and model") + note


def drift_pass_rate_chart(suites: Sequence[SuiteDrift]) -> str:
    """Baseline and candidate pass rate per suite, side by side, with the difference."""
    if not suites:
        return '<p class="empty">No suites compared.</p>'
    suites, note = _weakest(
        suites,
        lambda s: (s.delta if s.delta is not None else 0, -s.counts.regressions),
        "suites that dropped less",
    )
    row, top = 44, 24
    body = _legend(12, [("baseline", "f-base"), ("candidate", "f-cand")])
    bottom = top + row * len(suites)
    body += _grid(top, bottom, _PERCENT_TICKS)
    for index, suite in enumerate(suites):
        y = top + index * row
        base, cand = suite.baseline, suite.candidate
        models = f"{base.model if base else '—'} → {cand.model if cand else '—'}"
        if base and cand and base.model == cand.model:
            models = base.model
        body.append(_text(0, y + 17, suite.suite, "label", limit=24))
        body.append(_text(0, y + 31, models, "sub", limit=28))
        for offset, side, cls, name in ((6, base, "f-base", "baseline"), (21, cand, "f-cand", "candidate")):
            body.append(_rect(_LABEL_WIDTH, y + offset, _PLOT_WIDTH, 12, "f-track"))
            if side is not None and side.pass_rate is not None:
                decided = side.passed + side.failed
                tip = f"{suite.suite} {name}: {_pct(side.pass_rate)} ({side.passed}/{decided})"
                body.append(_rect(_LABEL_WIDTH, y + offset, _PLOT_WIDTH * side.pass_rate, 12, cls, tip))
        value_x = _LABEL_WIDTH + _PLOT_WIDTH + 12
        rates = f"{_pct(base.pass_rate if base else None)} → {_pct(cand.pass_rate if cand else None)}"
        body.append(_text(value_x, y + 17, rates, "value"))
        if suite.delta is not None:
            body.append(_text(value_x, y + 31, _pts(suite.delta), f"d-{_delta_tone(suite.delta)}"))
        elif suite.pairing is None:
            body.append(_text(value_x, y + 31, "baseline only" if cand is None else "candidate only", "sub"))
    return _svg(bottom + 22, body, "Pass rate per suite: baseline and candidate") + note


def _nice_step(span: float, target: int) -> float:
    """A round bin width (1, 2, 2.5 or 5 × 10ⁿ) giving about ``target`` bins over ``span``."""
    raw = max(span, 1e-9) / target
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 2.5, 5, 10):
        if multiple * magnitude >= raw:
            return multiple * magnitude
    return 10 * magnitude


def _axis_ms(value: float) -> str:
    return f"{value / 1000:g} s" if value >= 1000 else f"{value:g} ms"


@dataclass(frozen=True)
class _LatencyAxis:
    """Bin edges and ticks of a latency histogram, linear or logarithmic."""

    low: float
    high: float
    bins: int
    log: bool

    @classmethod
    def fit(cls, values: Sequence[float]) -> _LatencyAxis:
        # Rice rule: about 2·n^(1/3) bins, so 40 calls get 7 bars and 100,000 are capped at 30
        target = min(30, max(6, round(2 * len(values) ** (1 / 3))))
        low, high = max(min(values), _LOG_FLOOR_MS), max(values)
        if high / low > _LOG_SPREAD:
            # latency is roughly log-normal: a log axis keeps a fast model and a slow one (or a few
            # calls slowed by retries) readable on one shared scale
            return cls(math.log10(low), math.log10(high) + 1e-9, target, True)
        step = _nice_step(high - min(values), target)
        start = math.floor(min(values) / step) * step
        bins = max(1, math.floor((high - start) / step) + 1)
        return cls(start, start + bins * step, bins, False)

    def position(self, value: float) -> float:
        """Where ``value`` falls along the axis, in [0, 1]."""
        scaled = math.log10(max(value, _LOG_FLOOR_MS)) if self.log else value
        return min(1.0, max(0.0, (scaled - self.low) / (self.high - self.low)))

    def bin_of(self, value: float) -> int:
        return min(self.bins - 1, int(self.position(value) * self.bins))

    def edge(self, index: int) -> float:
        value = self.low + (self.high - self.low) * index / self.bins
        return 10**value if self.log else value

    def ticks(self) -> list[tuple[float, str]]:
        """Round values along the axis, spaced so their labels do not overlap."""
        if self.log:
            decades = range(math.floor(self.low), math.ceil(self.high) + 1)
            # powers of ten first, then 5× and 2× where they fit between them
            values = [m * 10.0**d for m in (1, 5, 2) for d in decades]
        else:
            step = _nice_step(self.high - self.low, 5)
            first, last = math.ceil(self.low / step), math.floor(self.high / step + 1e-9)
            values = [i * step for i in range(first, last + 1)]
        chosen: list[float] = []
        for value in values:
            scaled = math.log10(value) if self.log else value
            if not self.low - 1e-9 <= scaled <= self.high + 1e-9:
                continue
            x = self.position(value) * _PLOT_WIDTH
            if all(abs(x - self.position(other) * _PLOT_WIDTH) >= _TICK_SPACING for other in chosen):
                chosen.append(value)
        return [(self.position(v), _axis_ms(round(v, 6))) for v in sorted(chosen)]


_LOG_FLOOR_MS = 0.1
_TICK_SPACING = 48
"""Pixels between axis labels; a label like ``200 ms`` is about 40 wide."""
_LOG_SPREAD = 20


def latency_histogram(results: Iterable[SampleResult]) -> str:
    """One histogram of call latency per model, on a shared axis, with p50 and p95 marked.

    Cached answers are left out: their latency is a cache lookup, not the provider's.
    """
    by_model: dict[str, list[float]] = defaultdict(list)
    cached = 0
    for result in results:
        if result.latency_ms is None or result.error is not None:
            continue
        if result.cached:
            cached += 1
            continue
        by_model[result.model].append(result.latency_ms)
    if not by_model:
        if cached:
            return '<p class="empty">Every call was answered from the cache; no provider latency to show.</p>'
        return '<p class="empty">No latency recorded.</p>'
    models = sorted(by_model, key=lambda m: -len(by_model[m]))[:MAX_HISTOGRAM_MODELS]
    axis = _LatencyAxis.fit([v for m in models for v in by_model[m]])
    row, top, plot_height = 60, 8, 42
    body: list[str] = []
    bar_width = _PLOT_WIDTH / axis.bins
    for index, model in enumerate(models):
        samples = by_model[model]
        counts = [0] * axis.bins
        for value in samples:
            counts[axis.bin_of(value)] += 1
        peak = max(counts)
        y = top + index * row
        base_y = y + plot_height
        body.append(_text(0, y + 18, model, "label", limit=24))
        body.append(_text(0, y + 32, f"{len(samples):,} calls", "sub"))
        body.append(
            f'<line x1="{_LABEL_WIDTH}" y1="{base_y:.1f}" x2="{_LABEL_WIDTH + _PLOT_WIDTH}" '
            f'y2="{base_y:.1f}" class="grid"/>'
        )
        for bin_index, count in enumerate(counts):
            if not count:
                continue
            height = max(2.0, plot_height * count / peak)
            tip = f"{model}: {count:,} calls {_ms(axis.edge(bin_index))}–{_ms(axis.edge(bin_index + 1))}"
            body.append(
                _rect(
                    _LABEL_WIDTH + bin_index * bar_width + 0.5,
                    base_y - height,
                    max(bar_width - 1, 1),
                    height,
                    "f-hist",
                    tip,
                )
            )
        p50, p95 = percentile(samples, 50), percentile(samples, 95)
        for marker, cls, name in ((p50, "m50", "p50"), (p95, "m95", "p95")):
            if marker is None:
                continue
            x = _LABEL_WIDTH + axis.position(marker) * _PLOT_WIDTH
            body.append(
                f'<line x1="{x:.1f}" y1="{y + 2:.1f}" x2="{x:.1f}" y2="{base_y:.1f}" class="{cls}">'
                f"<title>{_e(model)} {name} {_e(_ms(marker))}</title></line>"
            )
        value_x = _LABEL_WIDTH + _PLOT_WIDTH + 12
        body.append(_text(value_x, y + 18, f"p50 {_ms(p50)}", "value"))
        body.append(_text(value_x, y + 32, f"p95 {_ms(p95)}", "sub"))
    bottom = top + row * len(models)
    body += _grid(bottom - row + plot_height + top, bottom + 2, axis.ticks())
    notes = []
    if axis.log:
        notes.append("log scale")
    if len(by_model) > len(models):
        notes.append(f"{len(by_model) - len(models)} more models not shown")
    if cached:
        notes.append(f"{cached:,} cached calls left out")
    legend = _legend(bottom + 34, [("p50", "f-m50"), ("p95", "f-m95")])
    if notes:
        legend.append(_text(_LABEL_WIDTH + 100, bottom + 34, " · ".join(notes), "axis"))
    return _svg(bottom + 42, body + legend, "Latency distribution per model")


def drift_latency_chart(suites: Sequence[SuiteDrift]) -> str:
    """p50 (dark) and p95 (light) latency of both sides per suite, on a shared axis."""
    sides = [(s, side) for s in suites for side in (s.baseline, s.candidate) if side is not None]
    peak = max((side.latency_p95_ms or side.latency_p50_ms or 0.0 for _, side in sides), default=0.0)
    if not peak:
        return '<p class="empty">No latency recorded.</p>'
    suites, note = _weakest(
        suites, lambda s: -(s.candidate.latency_p95_ms or 0) if s.candidate else 0, "faster suites"
    )
    step = _nice_step(peak, 5)
    span = math.ceil(peak / step) * step
    row, top = 44, 24
    body = _legend(12, [("baseline p50", "f-base"), ("candidate p50", "f-cand"), ("p95", "f-p95")])
    bottom = top + row * len(suites)
    ticks = [(i * step / span, _axis_ms(round(i * step, 6))) for i in range(int(round(span / step)) + 1)]
    body += _grid(top, bottom, ticks)
    for index, suite in enumerate(suites):
        y = top + index * row
        body.append(_text(0, y + 17, suite.suite, "label", limit=24))
        for offset, side, cls, name in (
            (6, suite.baseline, "f-base", "baseline"),
            (21, suite.candidate, "f-cand", "candidate"),
        ):
            if side is None:
                continue
            if side.latency_p95_ms is not None:
                width = _PLOT_WIDTH * side.latency_p95_ms / span
                body.append(
                    _rect(
                        _LABEL_WIDTH,
                        y + offset,
                        width,
                        12,
                        "f-p95",
                        f"{suite.suite} {name} p95 {_ms(side.latency_p95_ms)}",
                    )
                )
            if side.latency_p50_ms is not None:
                body.append(
                    _rect(
                        _LABEL_WIDTH,
                        y + offset,
                        _PLOT_WIDTH * side.latency_p50_ms / span,
                        12,
                        cls,
                        f"{suite.suite} {name} p50 {_ms(side.latency_p50_ms)}",
                    )
                )
        value_x = _LABEL_WIDTH + _PLOT_WIDTH + 12
        base, cand = suite.baseline, suite.candidate
        for line_y, field, cls in ((y + 17, "latency_p50_ms", "value"), (y + 31, "latency_p95_ms", "sub")):
            old = getattr(base, field) if base else None
            new = getattr(cand, field) if cand else None
            body.append(_text(value_x, line_y, f"{field[8:11]} {_ms_pair(old, new)}", cls))
    return _svg(bottom + 22, body, "Latency p50 and p95 per suite: baseline and candidate") + note


# --- header -------------------------------------------------------------------------------------


@dataclass
class _Chip:
    count: int
    word: str
    status: str
    """Status the chip filters the case table by."""


def _chip(chip: _Chip) -> str:
    tone = _TONE.get(chip.status, "muted") if chip.count else "none"
    # a chip is a shortcut into the case table, filtered to its status
    return (
        f'<a class="chip t-{tone}" href="#cases" data-filter="{_e(chip.status)}">'
        f"<b>{chip.count:,}</b> {_e(chip.word)}</a>"
    )


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


def _drift_chips(report: DriftReport) -> list[_Chip]:
    counts = report.counts
    chips = [
        _Chip(counts.regressions, _plural(counts.regressions, "regression", "regressions"), "regression"),
        _Chip(counts.fixes, _plural(counts.fixes, "fix", "fixes"), "fix"),
        _Chip(counts.changed, "changed", "changed"),
        _Chip(counts.flaky, "flaky", "flaky"),
        _Chip(counts.errors, _plural(counts.errors, "error", "errors"), "error"),
        _Chip(counts.unchanged, "unchanged", "unchanged"),
    ]
    chips += [
        c
        for c in (_Chip(counts.added, "added", "added"), _Chip(counts.removed, "removed", "removed"))
        if c.count
    ]
    return chips


def _test_chips(summary: RunSummary) -> list[_Chip]:
    tally = Counter(c.status for c in summary.cases)
    return [
        _Chip(tally["passed"], "passed", "passed"),
        _Chip(tally["failed"], "failed", "failed"),
        _Chip(tally["error"], _plural(tally["error"], "error", "errors"), "error"),
    ]


def _facts(pairs: Iterable[tuple[str, str | None]]) -> str:
    items = "".join(f"<div><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>" for k, v in pairs if v)
    return f'<dl class="facts">{items}</dl>'


def _header(data: ReportData) -> str:
    drift, summary, meta = data.drift, data.summary, data.meta
    facts: list[tuple[str, str | None]] = []
    if drift is not None:
        word, tone = _DRIFT_VERDICTS[drift.status]
        kind = "Drift report"
        title = f"{drift.baseline_label} → {drift.candidate_label}"
        chips = _drift_chips(drift)
        date = _when(summary.started_at) if summary else _when(meta.started_at) if meta else None
        facts += [
            ("baseline run", drift.baseline_run),
            ("candidate run", drift.candidate_run),
            ("date", date or _run_id_date(drift.candidate_run)),
            ("flips tested by", f"{drift.test}, α = {drift.alpha:g}"),
        ]
        if summary is not None:
            candidate_word, _ = _TEST_VERDICTS[summary.status]
            passed = sum(c.status == "passed" for c in summary.cases)
            tests = f"{candidate_word.lower()}: {passed} of {len(summary.cases)} passed"
            facts.append(("candidate tests", tests))
    elif summary is not None:
        word, tone = _TEST_VERDICTS[summary.status]
        kind = "Test run"
        title = summary.run_id
        chips = _test_chips(summary)
        calls = f"{summary.completed_calls:,}"
        if summary.completed_calls < summary.planned_calls:
            calls += f" of {summary.planned_calls:,} planned"
        facts += [
            ("date", _when(summary.started_at)),
            ("duration", f"{summary.duration_s:,.1f} s"),
            ("calls", calls),
        ]
    else:
        word, tone, kind, title, chips = "Empty", "muted", "Report", "nothing to report", []
    if meta is not None:
        # with a drift, the metadata is the candidate run's
        facts.append(
            (
                "candidate models" if drift else "models",
                ", ".join(
                    f"{alias} ({model_id})" if alias != model_id else alias
                    for alias, model_id in meta.models.items()
                )
                or None,
            )
        )
        facts.append(("git commit", meta.git_commit[:12] if meta.git_commit else None))
    return (
        '<header class="top card">'
        f'<div class="headline"><span class="verdict t-{tone}">{_e(word)}</span>'
        f'<div><div class="kind">{_e(kind)}</div><h1>{_e(title)}</h1></div></div>'
        + (f'<div class="chips">{"".join(_chip(c) for c in chips)}</div>' if chips else "")
        + _facts(facts)
        + "</header>"
    )


# --- overview: charts and suite totals ----------------------------------------------------------


def _group_table(groups: Sequence[GroupSummary]) -> str:
    rows = "".join(
        "<tr>"
        f'<td>{_e(g.suite)}</td><td>{_e(g.model)}<div class="sub">{_e(g.model_id)}</div></td>'
        f'<td class="num">{g.cases}</td><td class="num">{g.passed}</td><td class="num">{g.failed}</td>'
        f'<td class="num">{g.errors}</td><td class="num"><b>{_pct(g.pass_rate)}</b></td>'
        f'<td class="num">{_ms(g.latency_p50_ms)}</td><td class="num">{_ms(g.latency_p95_ms)}</td>'
        f'<td class="num">{g.prompt_tokens + g.completion_tokens:,}</td>'
        f'<td class="num">{_usd(g.cost_usd)}</td>'
        "</tr>"
        for g in groups
    )
    names = ["cases", "passed", "failed", "errors", "pass rate", "p50", "p95", "tokens", "cost"]
    head = "<th>suite</th><th>model</th>" + "".join(f'<th class="num">{h}</th>' for h in names)
    return (
        f'<div class="scroll"><table class="totals"><thead><tr>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
    )


def _suite_drift_table(suites: Sequence[SuiteDrift]) -> str:
    def side(value: Any, attr: str, fmt: Any) -> str:
        return "—" if value is None else fmt(getattr(value, attr))

    rows = []
    for suite in suites:
        base, cand = suite.baseline, suite.candidate
        prompt = " → ".join(dict.fromkeys(f"{s.prompt}@{s.prompt_version}" for s in (base, cand) if s))
        counts = suite.counts
        tally = (
            (counts.regressions, "regr.", "bad"),
            (counts.fixes, "fixed", "ok"),
            (counts.changed, "changed", "info"),
            (counts.flaky, "flaky", "warn"),
            (counts.errors, "error", "warn"),
        )
        problems = " ".join(_badge(f"{n} {word}", tone) for n, word, tone in tally if n)
        problems = problems or '<span class="sub">no drift</span>'
        rows.append(
            "<tr>"
            f'<td>{_e(suite.suite)}<div class="sub">{_e(prompt)}</div></td>'
            f"<td>{_e(base.model if base else '—')} → {_e(cand.model if cand else '—')}</td>"
            f'<td class="num">{side(base, "pass_rate", _pct)} → <b>{side(cand, "pass_rate", _pct)}</b></td>'
            f'<td class="num d-{_delta_tone(suite.delta)}">{_e(_pts(suite.delta)) or "—"}</td>'
            f'<td class="num">{side(base, "latency_p95_ms", _ms)} → {side(cand, "latency_p95_ms", _ms)}</td>'
            f'<td class="num">{side(base, "cost_per_1k_calls_usd", _usd)} → '
            f"{side(cand, 'cost_per_1k_calls_usd', _usd)}</td>"
            f"<td>{problems}</td></tr>"
        )
    head = (
        '<tr><th>suite</th><th>models</th><th class="num">pass rate</th><th class="num">Δ</th>'
        '<th class="num">p95</th><th class="num">cost / 1k calls</th><th>drift</th></tr>'
    )
    return (
        f'<div class="scroll"><table class="totals"><thead>{head}</thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _overview(data: ReportData) -> str:
    if data.drift is not None:
        rate_chart = drift_pass_rate_chart(data.drift.suites)
        latency = latency_histogram(data.results) if data.results else drift_latency_chart(data.drift.suites)
        latency_title = "Latency (candidate calls)" if data.results else "Latency p50 / p95"
        table = _suite_drift_table(data.drift.suites)
    elif data.summary is not None:
        rate_chart = pass_rate_chart(data.summary.groups)
        groups = data.summary.groups
        latency = latency_histogram(data.results) if data.results else _group_latency_note(groups)
        latency_title = "Latency distribution"
        table = _group_table(data.summary.groups)
    else:
        return ""
    return (
        '<section id="overview" class="card"><h2>Overview</h2><div class="charts">'
        f"<figure><figcaption>Pass rate</figcaption>{rate_chart}</figure>"
        f"<figure><figcaption>{_e(latency_title)}</figcaption>{latency}</figure>"
        f"</div>{table}</section>"
    )


def _group_latency_note(groups: Sequence[GroupSummary]) -> str:
    """Without sample results there is no distribution to draw; the totals table has p50 and p95."""
    if any(g.latency_p50_ms is not None for g in groups):
        return '<p class="empty">No sample results given; p50 and p95 per suite are in the table below.</p>'
    return '<p class="empty">No latency recorded.</p>'


# --- case table ---------------------------------------------------------------------------------


def _reasons(outcomes: Iterable[AssertionOutcome], error: ErrorInfo | None = None) -> str:
    items = [f"<li><code>{_e(o.type)}</code> {_e(o.reason)}</li>" for o in outcomes]
    if error is not None:
        code = f" ({error.status_code})" if error.status_code else ""
        items.append(f'<li class="err"><code>{_e(error.type)}{_e(code)}</code> {_e(error.message)}</li>')
    return f'<ul class="reasons">{"".join(items)}</ul>' if items else ""


def _excerpt(text: str | None) -> str:
    return "" if text is None else f'<pre class="excerpt">{_e(text)}</pre>'


def _verdict_row(verdict: CaseVerdict) -> str:
    produced = verdict.samples - verdict.errored_samples
    rate = f'<b>{_pct(verdict.pass_rate)}</b> <span class="sub">{verdict.passed_samples}/{produced}</span>'
    if verdict.threshold < 1 or (verdict.status == "failed" and verdict.pass_rate):
        # only where the threshold explains the verdict: 4/5 failing because it needs 100 %
        rate += f'<div class="sub">needs {verdict.threshold:.0%}</div>'
    if verdict.errored_samples:
        rate += f'<div class="sub">{verdict.errored_samples} errored</div>'
    line = f'<div class="sub">line {verdict.line}</div>' if verdict.line else ""
    return (
        f'<tr data-status="{_e(verdict.status)}"><td>{_e(verdict.suite)}</td>'
        f"<td><b>{_e(verdict.case)}</b>{line}</td><td>{_e(verdict.model)}</td>"
        f'<td>{_status_badge(verdict.status)}</td><td class="num">{rate}</td>'
        f"<td>{_reasons(verdict.failed_assertions, verdict.error)}</td>"
        f"<td>{_excerpt(verdict.output_excerpt)}</td></tr>"
    )


def _side_rate(side: CaseSide | None) -> str:
    if side is None:
        return "—"
    produced = side.samples - side.errored_samples
    return f'{_pct(side.pass_rate)} <span class="sub">{side.passed_samples}/{produced}</span>'


def _failing_side(case: CaseDrift) -> CaseSide | None:
    """The side whose failures or errors explain the case: the baseline for a fix, else the candidate."""
    if case.status == "error" and case.baseline is not None and case.baseline.verdict == "error":
        return case.baseline
    if case.status == "fix" or case.candidate is None:
        return case.baseline
    return case.candidate


def _models(case: CaseDrift) -> str:
    """The case's model, or ``baseline → candidate`` when the sides ran different models."""
    if case.baseline_model == case.candidate_model:
        return case.baseline_model or "—"
    return f"{case.baseline_model or '—'} → {case.candidate_model or '—'}"


def _drift_row(case: CaseDrift, anchor: str | None) -> str:
    models = _models(case)
    name = f'<a href="#{anchor}">{_e(case.case)}</a>' if anchor else _e(case.case)
    line = f'<div class="sub">line {case.line}</div>' if case.line else ""
    if case.status not in _FLIPS:
        p_value = '<span class="sub">—</span>'
    elif case.p_value is not None:
        p_value = f"{case.p_value:.3g}"
    else:
        p_value = '<span class="sub" title="one sample per side: the flip itself decides">1 sample</span>'
    failing = _failing_side(case)
    reasons = ""
    if failing is not None:
        shown_error = failing.error if failing.verdict == "error" else None
        reasons = _reasons(failing.failed_assertions if failing.verdict == "failed" else [], shown_error)
    output = case.candidate or case.baseline
    delta = f'<div class="d-{_delta_tone(case.delta)}">{_e(_pts(case.delta))}</div>' if case.delta else ""
    return (
        f'<tr data-status="{_e(case.status)}"><td>{_e(case.suite)}</td><td><b>{name}</b>{line}</td>'
        f"<td>{_e(models)}</td><td>{_status_badge(case.status)}</td>"
        f'<td class="num">{_side_rate(case.baseline)} → {_side_rate(case.candidate)}{delta}</td>'
        f'<td class="num">{p_value}</td><td>{reasons}</td>'
        f"<td>{_excerpt(output.output_excerpt if output else None)}</td></tr>"
    )


def _case_table(data: ReportData, anchors: dict[int, str]) -> str:
    if data.drift is not None:
        order = {s: i for i, s in enumerate(_DRIFT_ORDER)}
        indexed = sorted(enumerate(data.drift.cases), key=lambda item: order.get(item[1].status, 99))
        statuses: list[str] = [c.status for c in data.drift.cases]
        rows = [_drift_row(case, anchors.get(index)) for index, case in indexed[:MAX_TABLE_ROWS]]
        columns = [
            "suite",
            "case",
            "model",
            "drift",
            "baseline → candidate",
            "p-value",
            "why it fails",
            "output (candidate)",
        ]
        status_order: Sequence[str] = _DRIFT_ORDER
    elif data.summary is not None:
        order = {s: i for i, s in enumerate(_TEST_ORDER)}
        verdicts = sorted(data.summary.cases, key=lambda c: order.get(c.status, 99))
        statuses = [c.status for c in data.summary.cases]
        rows = [_verdict_row(v) for v in verdicts[:MAX_TABLE_ROWS]]
        columns = [
            "suite",
            "case",
            "model",
            "status",
            "pass rate",
            "failed assertions",
            "output (first failure)",
        ]
        status_order = _TEST_ORDER
    else:
        return ""
    total = len(statuses)
    tally = Counter(statuses)
    options = "".join(
        f'<option value="{_e(s)}">{_e(s)} ({tally[s]:,})</option>' for s in status_order if tally[s]
    )
    numeric = ("pass rate", "p-value", "baseline → candidate")
    head = "".join(f'<th class="num">{_e(c)}</th>' if c in numeric else f"<th>{_e(c)}</th>" for c in columns)
    note = ""
    if total > MAX_TABLE_ROWS:
        note = (
            f'<p class="note">Showing the first {MAX_TABLE_ROWS:,} of {total:,} cases, problems first; '
            "the JSON report has every case.</p>"
        )
    empty_row = f'<tr class="none"><td colspan="{len(columns)}">No cases.</td></tr>' if not rows else ""
    return (
        '<section id="cases" class="card"><h2>Cases</h2>'
        '<div class="filters">'
        '<input id="case-filter" type="search" placeholder="Filter by suite, case, model, reason or output…" '
        'aria-label="Filter cases" autocomplete="off">'
        '<select id="status-filter" aria-label="Filter by status">'
        f'<option value="">all statuses ({total:,})</option>{options}</select>'
        f'<span id="shown" class="sub" aria-live="polite">{len(rows):,} of {len(rows):,} shown</span></div>'
        f"{note}"
        f'<div class="scroll"><table id="case-table"><thead><tr>{head}</tr></thead><tbody>'
        f"{''.join(rows)}{empty_row}"
        f'<tr id="no-match" class="none" hidden><td colspan="{len(columns)}">'
        "No case matches the filter.</td></tr>"
        "</tbody></table></div></section>"
    )


# --- drifted outputs side by side ---------------------------------------------------------------


def _side_panel(name: str, side: CaseSide | None) -> str:
    if side is None:
        return (
            f'<div class="side"><div class="side-head"><b>{_e(name)}</b></div>'
            f'<p class="empty">Not run on this side.</p></div>'
        )
    produced = side.samples - side.errored_samples
    head = (
        f"<b>{_e(name)}</b> {_status_badge(side.verdict)} "
        f'<span class="sub">{_e(side.model)} · v{_e(side.prompt_version)} · '
        f"{side.passed_samples}/{produced} passed</span>"
    )
    body = '<p class="empty">No output.</p>' if side.output_excerpt is None else _excerpt(side.output_excerpt)
    reasons = _reasons(
        side.failed_assertions if side.verdict == "failed" else [],
        side.error if side.verdict == "error" else None,
    )
    return f'<div class="side"><div class="side-head">{head}</div>{body}{reasons}</div>'


def _json_value(value: Any, present: bool) -> str:
    # None is JSON null on a side that has the path, and no value at all on the side that lacks it
    return f"<code>{_e(json.dumps(value, ensure_ascii=False, default=str))}</code>" if present else ""


def _one_liners(case: CaseDrift) -> bool:
    """Both outputs are short single lines: side by side they are their own diff."""
    texts = [side.output_excerpt for side in (case.baseline, case.candidate) if side is not None]
    return len(texts) == 2 and all(t is not None and "\n" not in t and len(t) <= 80 for t in texts)


def _diff_block(diff: OutputDiff, one_liners: bool = False) -> str:
    cut = '<p class="note">Cut; the JSON report has the full diff.</p>' if diff.truncated else ""
    similarity = f'<span class="sub">similarity {diff.similarity:.0%}</span>'
    if diff.kind == "json":
        tones = {"added": "ok", "removed": "bad", "changed": "warn"}
        rows = "".join(
            f"<tr><td><code>{_e(c.path)}</code></td><td>{_badge(c.change, tones[c.change])}</td>"
            f"<td>{_json_value(c.old, c.change != 'added')}</td>"
            f"<td>{_json_value(c.new, c.change != 'removed')}</td></tr>"
            for c in diff.json_changes
        )
        return (
            f'<div class="diff-head">JSON changes {similarity}</div>'
            '<div class="scroll"><table class="json-diff"><thead><tr><th>path</th><th>change</th>'
            f"<th>baseline</th><th>candidate</th></tr></thead><tbody>{rows}</tbody></table></div>{cut}"
        )
    if one_liners:
        return f'<div class="diff-head">Similarity <span class="sub">{diff.similarity:.0%}</span></div>'
    lines = []
    for raw in (diff.text_diff or "").splitlines():
        if raw.startswith(("---", "+++")):
            continue  # the panels above already say which side is which
        if raw.startswith("@@"):
            cls = "hunk"
        elif raw.startswith("+"):
            cls = "add"
        elif raw.startswith("-"):
            cls = "del"
        else:
            cls = "ctx"
        lines.append(f'<span class="{cls}">{_e(raw)}</span>')
    return f'<div class="diff-head">Text diff {similarity}</div><pre class="diff">{"".join(lines)}</pre>{cut}'


def _detail(case: CaseDrift, anchor: str, open_: bool) -> str:
    facts = [_models(case)]
    if case.status in _FLIPS:
        facts.append(_pts(case.delta))
        facts.append(f"p = {case.p_value:.3g}" if case.p_value is not None else "one sample per side")
    if case.gap:
        facts.append(f"gap hint: {case.gap}")
    summary = (
        f"{_status_badge(case.status)} <b>{_e(case.suite)} :: {_e(case.case)}</b> "
        f'<span class="sub">{_e(" · ".join(facts))}</span>'
    )
    diff = _diff_block(case.diff, _one_liners(case)) if case.diff is not None else ""
    return (
        f'<details id="{anchor}" class="case"{" open" if open_ else ""}><summary>{summary}</summary>'
        f'<div class="sides">{_side_panel("baseline", case.baseline)}'
        f"{_side_panel('candidate', case.candidate)}</div>"
        f"{diff}</details>"
    )


def _drift_details(drift: DriftReport) -> tuple[str, dict[int, str]]:
    """Side-by-side outputs of the drifted cases, and the anchor of each case that has one."""
    order = {s: i for i, s in enumerate(_DETAIL_STATUSES)}
    chosen = sorted(
        ((i, c) for i, c in enumerate(drift.cases) if c.status in order),
        key=lambda item: order[item[1].status],
    )
    if not chosen:
        return "", {}
    anchors = {index: f"case-{index}" for index, _ in chosen[:MAX_DETAILS]}
    # regressions are what a reviewer opens first; the rest stay folded to keep the page scannable
    blocks = [_detail(case, anchors[i], case.status == "regression") for i, case in chosen[:MAX_DETAILS]]
    note = ""
    if len(chosen) > MAX_DETAILS:
        note = (
            f'<p class="note">Showing {MAX_DETAILS} of {len(chosen):,} drifted cases; '
            "the JSON report has all.</p>"
        )
    section = (
        '<section id="outputs" class="card"><h2>Outputs: baseline vs candidate</h2>'
        '<div class="toolbar"><button type="button" id="expand-all">Expand all</button>'
        '<button type="button" id="collapse-all">Collapse all</button></div>'
        f"{note}{''.join(blocks)}</section>"
    )
    return section, anchors


# --- escalations --------------------------------------------------------------------------------


def _escalation_card(item: Escalation) -> str:
    flag = _badge("blocking", "bad") + " " if item.blocking else ""
    technique = _TECHNIQUES.get(item.technique, item.technique)
    head = (
        f'{flag}<span class="gap">{_e(item.gap or "budget")}</span> <span class="arrow">→</span> '
        f'<span class="technique" title="{_e(item.technique)}">{_e(technique)}</span> '
        f"{_badge(item.confidence + ' confidence', _CONFIDENCE_TONE.get(item.confidence, 'muted'))}"
    )
    scope = f"{item.prompt} on {item.model}" + (f" ({item.model_id})" if item.model_id != item.model else "")
    if item.gap:
        scope += f" · {item.affected_cases} of {item.total_cases} cases"
    parts = [
        f'<div class="esc-head">{head}</div>',
        f'<div class="sub">{_e(scope)} · rule <code>{_e(item.rule)}</code></div>',
        f'<p class="rationale">{_e(item.rationale)}</p>',
    ]
    if item.constraints_weighed:
        chips = "".join(f'<span class="tag">{_e(c)}</span>' for c in item.constraints_weighed)
        parts.append(f'<div class="weighed"><span class="sub">Constraints weighed</span> {chips}</div>')
    if item.next_steps:
        steps = "".join(f"<li>{_e(step)}</li>" for step in item.next_steps)
        parts.append(f'<div class="sub">Next steps</div><ol class="steps">{steps}</ol>')
    if item.evidence:
        rows = "".join(
            f"<tr><td>{_e(ev.suite)} :: <b>{_e(ev.case)}</b></td><td>{_status_badge(ev.status)}</td>"
            f'<td class="num">{_pct(ev.pass_rate)} <span class="sub">of {ev.samples}</span></td>'
            f'<td class="num">{ev.persists_versions if ev.persists_versions > 1 else ""}</td>'
            f"<td>{'<br>'.join(_e(r) for r in ev.reasons[:3])}</td></tr>"
            for ev in item.evidence[:MAX_EVIDENCE]
        )
        more = len(item.evidence) - MAX_EVIDENCE
        more_note = f'<p class="note">… and {more} more cases.</p>' if more > 0 else ""
        parts.append(
            '<details class="evidence"><summary>Evidence '
            f'<span class="sub">({len(item.evidence)} {_plural(len(item.evidence), "case", "cases")})</span>'
            '</summary><div class="scroll"><table><thead><tr><th>case</th><th>status</th>'
            '<th class="num">pass rate</th><th class="num">failing in versions</th><th>reasons</th>'
            "</tr></thead>"
            f"<tbody>{rows}</tbody></table></div>{more_note}</details>"
        )
    tone = "bad" if item.blocking else "info"
    return f'<article class="escalation b-{tone}">{"".join(parts)}</article>'


def _gap_table(cases: Sequence[CaseGaps]) -> str:
    rows = "".join(
        f"<tr><td>{_e(c.suite)} :: <b>{_e(c.case)}</b></td><td>{_e(c.model)}</td>"
        f"<td>{_status_badge(c.status)}</td><td>{' '.join(_badge(g, 'info') for g in c.gaps)}</td>"
        f"<td>{'<br>'.join(_e(f'{e.gap} ← {e.decided_by}: {e.detail}') for e in c.evidence[:4])}</td></tr>"
        for c in cases[:MAX_TABLE_ROWS]
    )
    return (
        f'<details class="evidence"><summary>Gap classification <span class="sub">({len(cases):,} cases)'
        '</span></summary><div class="scroll"><table><thead><tr><th>case</th><th>model</th>'
        "<th>status</th><th>gaps</th><th>evidence</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></div></details>"
    )


def _escalations(report: EscalationReport) -> str:
    counts = Counter(gap for case in report.cases for gap in case.gaps)
    gaps = "".join(f'<span class="chip t-info"><b>{counts[g]}</b> {_e(g)}</span>' for g in GAPS if counts[g])
    if not report.escalations and not counts:
        body = '<p class="empty">No failing case showed a gap; nothing to escalate.</p>'
    else:
        cards = "".join(_escalation_card(e) for e in report.escalations[:MAX_ESCALATIONS])
        more = len(report.escalations) - MAX_ESCALATIONS
        note = f'<p class="note">… and {more} more in the JSON report.</p>' if more > 0 else ""
        if not report.escalations:
            cards = '<p class="empty">Gaps were found, but no rule matched them.</p>'
        body = f'<div class="chips"><span class="sub">cases per gap</span>{gaps}</div>' if gaps else ""
        body += cards + note
        if report.cases:
            body += _gap_table(report.cases)
    return f'<section id="escalations" class="card"><h2>Escalations</h2>{body}</section>'


# --- page ---------------------------------------------------------------------------------------

_CSS = """
:root{--bg:#f5f6f8;--card:#fff;--fg:#1f2328;--muted:#5f6b77;--line:#d9dee4;--soft:#eef1f4;
--ok:#1a7f37;--ok-bg:#dcf5e3;--bad:#c9252d;--bad-bg:#fde8e8;--warn:#9a6700;--warn-bg:#fdf3c8;
--info:#0b63c5;--info-bg:#e0efff;--mut:#57606a;--mut-bg:#eaeef2;--base:#9aa4af;--cand:#2f7de1;--p95:#c7dcf7}
@media (prefers-color-scheme:dark){:root{
--bg:#0d1117;--card:#161b22;--fg:#e6edf3;--muted:#8d96a0;--line:#30363d;--soft:#1c2129;
--ok:#3fb950;--ok-bg:#12301e;--bad:#f85149;--bad-bg:#3a1518;--warn:#d29922;--warn-bg:#33270e;
--info:#58a6ff;--info-bg:#0d2d52;--mut:#9ba4ae;--mut-bg:#262c35;--base:#6e7681;--cand:#4493f8;--p95:#1f3d66}}
*{box-sizing:border-box}
html{scroll-behavior:smooth}
body{margin:0;background:var(--bg);color:var(--fg);
font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif}
main{max-width:1280px;margin:0 auto;padding:20px 24px 40px}
code,pre{font:12px/1.45 ui-monospace,SFMono-Regular,"SF Mono",Menlo,Consolas,"Liberation Mono",monospace}
a{color:var(--info);text-decoration:none}a:hover{text-decoration:underline}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;
padding:18px 22px;margin:0 0 16px}
h1{font-size:20px;margin:0;line-height:1.3;word-break:break-word}
h2{font-size:15px;margin:0 0 14px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted)}
nav{display:flex;gap:18px;flex-wrap:wrap;font-size:13px;margin:0 0 12px;color:var(--muted)}
nav b{color:var(--fg)}
.headline{display:flex;align-items:center;gap:16px;flex-wrap:wrap}
.kind{font-size:12px;text-transform:uppercase;letter-spacing:.08em;color:var(--muted)}
.verdict{font-size:18px;font-weight:700;padding:8px 16px;border-radius:8px;white-space:nowrap}
.chips{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:14px 0 0}
.chip{display:inline-block;padding:3px 12px;border-radius:999px;font-size:13px;border:1px solid transparent}
a.chip:hover{text-decoration:none;border-color:currentColor}
.facts{display:flex;flex-wrap:wrap;gap:6px 28px;margin:14px 0 0}
.facts dt{font-size:11px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted)}
.facts dd{margin:0;font-size:13px;word-break:break-all}
.t-ok{color:var(--ok);background:var(--ok-bg)}.t-bad{color:var(--bad);background:var(--bad-bg)}
.t-warn{color:var(--warn);background:var(--warn-bg)}.t-info{color:var(--info);background:var(--info-bg)}
.t-muted{color:var(--mut);background:var(--mut-bg)}.t-none{color:var(--muted);background:var(--soft)}
.badge{display:inline-block;padding:1px 8px;border-radius:999px;font-size:12px;font-weight:600;
white-space:nowrap}
.d-ok{color:var(--ok);font-weight:600}.d-bad{color:var(--bad);font-weight:600}.d-muted{color:var(--muted)}
.sub{color:var(--muted);font-size:12px}
.empty{color:var(--muted);font-style:italic;margin:8px 0}
.note{color:var(--warn);font-size:13px;margin:8px 0}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:20px 32px;margin:0 0 18px}
figure{margin:0;min-width:0}
figcaption{font-weight:600;margin:0 0 8px}
.chart{max-width:100%;height:auto;display:block}
.chart text{fill:var(--fg);font-size:12px}
.chart .sub,.chart .axis{fill:var(--muted);font-size:11px}
.chart .value{font-weight:600}
.chart .d-ok{fill:var(--ok)}.chart .d-bad{fill:var(--bad)}.chart .d-muted{fill:var(--muted)}
.chart .grid{stroke:var(--line);stroke-width:1}
.f-ok{fill:var(--ok)}.f-bad{fill:var(--bad)}.f-warn{fill:var(--warn)}.f-track{fill:var(--soft)}
.f-base{fill:var(--base)}.f-cand{fill:var(--cand)}.f-p95{fill:var(--p95)}.f-hist{fill:var(--cand);opacity:.75}
.f-m50{fill:var(--fg)}.f-m95{fill:var(--bad)}
.m50{stroke:var(--fg);stroke-width:1.5}.m95{stroke:var(--bad);stroke-width:1.5;stroke-dasharray:3 2}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:13px}
th{font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);font-weight:600;
text-align:left;padding:6px 10px;border-bottom:2px solid var(--line);white-space:nowrap}
td{padding:7px 10px;border-bottom:1px solid var(--line);vertical-align:top}
.num{text-align:right;white-space:nowrap}
tbody tr:hover{background:var(--soft)}
#case-table td:nth-child(2){overflow-wrap:anywhere;min-width:150px}
#case-table td:nth-child(3){white-space:nowrap}
#case-table td:last-child{min-width:240px;max-width:420px}
tr.none td{color:var(--muted);font-style:italic;text-align:center;padding:18px}
.filters{display:flex;gap:10px;align-items:center;flex-wrap:wrap;margin:0 0 12px}
input,select,button{font:inherit;color:inherit;background:var(--card);border:1px solid var(--line);
border-radius:6px;padding:6px 10px}
input[type=search]{flex:1 1 320px;min-width:200px}
button{cursor:pointer}button:hover{background:var(--soft)}
input:focus,select:focus,button:focus{outline:2px solid var(--cand);outline-offset:-1px}
.reasons{margin:0;padding:0;list-style:none}
.reasons li{margin:0 0 3px}.reasons li.err{color:var(--warn)}
.reasons code{background:var(--soft);border-radius:4px;padding:0 4px;margin-right:4px}
pre{margin:0;white-space:pre-wrap;word-break:break-word}
pre.excerpt{background:var(--soft);border-radius:6px;padding:6px 8px;max-height:7.5em;overflow:auto}
.toolbar{display:flex;gap:8px;margin:0 0 10px}
details.case{border:1px solid var(--line);border-radius:8px;margin:0 0 10px;background:var(--card)}
details.case>summary{cursor:pointer;padding:10px 14px;list-style-position:inside}
details.case[open]>summary{border-bottom:1px solid var(--line)}
details.case:target{outline:2px solid var(--cand)}
.sides{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:12px;padding:12px 14px}
.side{min-width:0}
.side-head{margin:0 0 6px}
.side pre.excerpt{max-height:18em}
.side .reasons{margin-top:8px}
.diff-head{padding:0 14px 6px;font-weight:600}
pre.diff{margin:0 14px 14px;border:1px solid var(--line);border-radius:6px;padding:6px 0;overflow:auto}
pre.diff span{display:block;padding:0 10px}
pre.diff .add{background:var(--ok-bg);color:var(--ok)}pre.diff .del{background:var(--bad-bg);color:var(--bad)}
pre.diff .hunk{color:var(--info)}
.json-diff{margin:0 14px 14px;width:calc(100% - 28px)}
.json-diff code{word-break:break-all}
.escalation{border:1px solid var(--line);border-left:4px solid var(--info);border-radius:8px;
padding:12px 16px;margin:12px 0}
.escalation.b-bad{border-left-color:var(--bad)}
.esc-head{font-size:16px;font-weight:600}
.esc-head .gap{text-transform:capitalize}.esc-head .arrow{color:var(--muted)}
.rationale{margin:8px 0}
.weighed{margin:6px 0}
.tag{display:inline-block;background:var(--soft);border:1px solid var(--line);border-radius:4px;
padding:0 6px;margin:2px 4px 2px 0;font-size:12px}
.steps{margin:4px 0 8px;padding-left:22px}.steps li{margin:2px 0}
details.evidence{margin:8px 0 0}
details.evidence>summary{cursor:pointer;font-weight:600}
details.evidence table{margin-top:6px}
footer{color:var(--muted);font-size:12px;text-align:center;margin-top:8px}
@media (max-width:700px){main{padding:12px}.card{padding:14px}.charts{grid-template-columns:1fr}}
@media print{nav,.filters,.toolbar{display:none}details.case{break-inside:avoid}}
""".strip()

# Filters the case table (every word of the text must appear in the row, and the status must match),
# makes the header chips shortcuts into it, and folds or unfolds every drifted case at once.
_JS = """
(function(){
var text=document.getElementById('case-filter'),status=document.getElementById('status-filter');
var shown=document.getElementById('shown'),none=document.getElementById('no-match');
var rows=text?Array.prototype.slice.call(document.querySelectorAll('#case-table tbody tr[data-status]')):[];
var haystack=rows.map(function(r){return r.textContent.toLowerCase();});
function apply(){
 if(!text)return;
 var words=text.value.toLowerCase().split(/\\s+/).filter(Boolean),want=status.value,count=0;
 rows.forEach(function(row,i){
  var ok=(!want||row.getAttribute('data-status')===want)&&
   words.every(function(w){return haystack[i].indexOf(w)>=0;});
  row.hidden=!ok;if(ok)count++;
 });
 shown.textContent=count.toLocaleString()+' of '+rows.length.toLocaleString()+' shown';
 none.hidden=count>0||rows.length===0;
}
if(text){text.addEventListener('input',apply);status.addEventListener('change',apply);}
Array.prototype.forEach.call(document.querySelectorAll('a[data-filter]'),function(a){
 a.addEventListener('click',function(){if(!status)return;var v=a.getAttribute('data-filter');
  status.value=Array.prototype.some.call(status.options,function(o){return o.value===v;})?v:'';apply();});
});
function fold(open){
 Array.prototype.forEach.call(document.querySelectorAll('details.case'),function(d){d.open=open;});
}
var more=document.getElementById('expand-all'),less=document.getElementById('collapse-all');
if(more)more.addEventListener('click',function(){fold(true);});
if(less)less.addEventListener('click',function(){fold(false);});
window.addEventListener('hashchange',function(){var d=document.getElementById(location.hash.slice(1));
 if(d&&d.tagName==='DETAILS')d.open=true;});
apply();
})();
""".strip()


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


# Only the page's own style and script, by hash: no network, no other script, no form posts, no frames.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src {_sha256(_CSS)}; script-src {_sha256(_JS)}; "
    "img-src 'none'; base-uri 'none'; form-action 'none'"
)


def _nav(data: ReportData, has_outputs: bool) -> str:
    links = [("overview", "Overview"), ("cases", "Cases")] if data.summary or data.drift else []
    if has_outputs:
        links.append(("outputs", "Outputs"))
    if data.escalation is not None:
        links.append(("escalations", "Escalations"))
    return "<nav><b>promptops</b>" + "".join(f'<a href="#{a}">{_e(t)}</a>' for a, t in links) + "</nav>"


def _title(data: ReportData) -> str:
    if data.drift is not None:
        word = _DRIFT_VERDICTS[data.drift.status][0]
        return f"{word} · {data.drift.baseline_label} → {data.drift.candidate_label} · promptops"
    if data.summary is not None:
        return f"{_TEST_VERDICTS[data.summary.status][0]} · {data.summary.run_id} · promptops"
    return "promptops report"


def render_html(data: ReportData) -> str:
    """The report as one self-contained HTML page.

    Args:
        data: A test run (``summary``, optionally its ``meta`` and sample ``results``), a drift
            report (``drift``, optionally the candidate's ``summary`` and ``results``), or both,
            each with an optional ``escalation``.

    Returns:
        The page: a verdict header, pass rate and latency charts (inline SVG), a filterable
        case table, baseline and candidate outputs side by side with their diff for drifted
        cases, and the escalations. It loads nothing from the network.
    """
    outputs, anchors = _drift_details(data.drift) if data.drift is not None else ("", {})
    sections = [
        _nav(data, bool(outputs)),
        _header(data),
        _overview(data),
        _case_table(data, anchors),
        outputs,
        _escalations(data.escalation) if data.escalation is not None else "",
    ]
    if data.summary is None and data.drift is None and data.escalation is None:
        sections.append('<section class="card"><p class="empty">This report holds no run.</p></section>')
    footer = f"Generated by promptops {__version__}"
    if data.meta is not None and data.meta.promptops_version != __version__:
        footer += f" from a run recorded by promptops {data.meta.promptops_version}"
    footer += " · self-contained: this page loads nothing from the network."
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{_e(_title(data))}</title><style>{_CSS}</style></head>"
        f"<body><main>{''.join(sections)}<footer>{_e(footer)}</footer></main>"
        f"<script>{_JS}</script></body></html>\n"
    )
