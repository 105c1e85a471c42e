"""The HTML report's charts: bars, histograms and axes laid out as SVG shapes.

Each chart function only decides geometry and labels and returns a :class:`Chart` (or a
:class:`NoChart` saying why there is nothing to draw); ``templates/chart.svg.j2`` turns the
shapes into markup with autoescaping, so a model or suite name can never become markup.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from promptops.reports.formatting import delta_tone, ms, ms_pair, pct, pts
from promptops.results import GroupSummary, SampleResult, percentile

if TYPE_CHECKING:
    # drift (with numpy) loads only for a report that shows one
    from promptops.drift import SuiteDrift

__all__ = [
    "Chart",
    "NoChart",
    "drift_latency_chart",
    "drift_pass_rate_chart",
    "latency_histogram",
    "pass_rate_chart",
]

MAX_HISTOGRAM_MODELS = 8
MAX_CHART_ROWS = 40
"""Suite rows in a pass-rate chart; the weakest are kept, and the totals table below lists every one."""

CHART_WIDTH = 600
_LABEL_WIDTH = 170
_VALUE_WIDTH = 130
_PLOT_WIDTH = CHART_WIDTH - _LABEL_WIDTH - _VALUE_WIDTH - 16
_VALUE_X = _LABEL_WIDTH + _PLOT_WIDTH + 12

_LOG_FLOOR_MS = 0.1
_TICK_SPACING = 48
"""Pixels between axis labels; a label like ``200 ms`` is about 40 wide."""
_LOG_SPREAD = 20
_PERCENT_TICKS = [(0.0, "0%"), (0.25, "25%"), (0.5, "50%"), (0.75, "75%"), (1.0, "100%")]


# --- shapes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """A label; cut to ``limit`` characters, with the full text as its tooltip."""

    kind: ClassVar[str] = "text"
    x: float
    y: float
    text: str
    cls: str = ""
    anchor: str = "start"
    limit: int = 0

    @property
    def shown(self) -> str:
        return _short(self.text, self.limit) if self.limit else self.text


@dataclass(frozen=True)
class Rect:
    kind: ClassVar[str] = "rect"
    x: float
    y: float
    width: float
    height: float
    cls: str
    tip: str | None = None


@dataclass(frozen=True)
class Line:
    kind: ClassVar[str] = "line"
    x1: float
    y1: float
    x2: float
    y2: float
    cls: str
    tip: str | None = None


Shape = Text | Rect | Line


@dataclass(frozen=True)
class Chart:
    """One SVG chart: ``CHART_WIDTH`` wide, ``height`` tall, and a note when rows were left out."""

    label: str
    height: float
    shapes: list[Shape]
    note: str | None = None
    width: int = field(default=CHART_WIDTH)


@dataclass(frozen=True)
class NoChart:
    """Why there is nothing to draw."""

    message: str


# --- labels -------------------------------------------------------------------------------------


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _axis_ms(value: float) -> str:
    return f"{value / 1000:g} s" if value >= 1000 else f"{value:g} ms"


# --- building blocks ----------------------------------------------------------------------------


def _grid(top: float, bottom: float, ticks: Sequence[tuple[float, str]]) -> list[Shape]:
    """Vertical grid lines with labels under the plot."""
    shapes: list[Shape] = []
    for fraction, label in ticks:
        x = _LABEL_WIDTH + fraction * _PLOT_WIDTH
        shapes.append(Line(x, top, x, bottom, "grid"))
        shapes.append(Text(x, bottom + 14, label, "axis", "middle"))
    return shapes


def _legend(y: float, items: Sequence[tuple[str, str]]) -> list[Shape]:
    shapes: list[Shape] = []
    x = float(_LABEL_WIDTH)
    for label, cls in items:
        shapes.append(Rect(x, y - 9, 10, 10, cls))
        shapes.append(Text(x + 14, y, label, "axis"))
        x += 24 + 7 * len(label)
    return shapes


Row = TypeVar("Row")


def _weakest(items: Sequence[Row], key: Callable[[Row], Any], left_out: str) -> tuple[list[Row], str | None]:
    """At most ``MAX_CHART_ROWS`` items, those with the lowest ``key``, in their order; and a note."""
    if len(items) <= MAX_CHART_ROWS:
        return list(items), None
    keep = set(sorted(range(len(items)), key=lambda i: key(items[i]))[:MAX_CHART_ROWS])
    note = f"{len(items) - MAX_CHART_ROWS} {left_out} left out; the table below has all."
    return [item for i, item in enumerate(items) if i in keep], note


# --- charts -------------------------------------------------------------------------------------


def pass_rate_chart(groups: Sequence[GroupSummary]) -> Chart | NoChart:
    """Stacked bars of passed, failed and errored cases per suite and model, with the pass rate."""
    if not groups:
        return NoChart("No cases ran.")
    groups, note = _weakest(
        groups,
        lambda g: (g.pass_rate if g.pass_rate is not None else -1, -g.errors),
        "suites with higher pass rates",
    )
    row, top = 36, 24
    shapes = _legend(12, [("passed", "f-ok"), ("failed", "f-bad"), ("error", "f-warn")])
    bottom = top + row * len(groups)
    shapes += _grid(top, bottom, _PERCENT_TICKS)
    for index, group in enumerate(groups):
        y = top + index * row
        shapes.append(Text(0, y + 15, group.suite, "label", limit=24))
        shapes.append(Text(0, y + 29, group.model, "sub", limit=28))
        x = float(_LABEL_WIDTH)
        total = max(group.cases, 1)
        for count, cls, word in (
            (group.passed, "f-ok", "passed"),
            (group.failed, "f-bad", "failed"),
            (group.errors, "f-warn", "errors"),
        ):
            width = _PLOT_WIDTH * count / total
            if count:
                shapes.append(
                    Rect(x, y + 8, width, 18, cls, f"{group.suite} · {group.model}: {count} {word}")
                )
            x += width
        if not group.cases:
            shapes.append(Rect(_LABEL_WIDTH, y + 8, _PLOT_WIDTH, 18, "f-track"))
        shapes.append(Text(_VALUE_X, y + 15, pct(group.pass_rate), "value"))
        cases = f"{group.passed}/{group.passed + group.failed} cases"
        shapes.append(
            Text(_VALUE_X, y + 29, cases + (f", {group.errors} err" if group.errors else ""), "sub")
        )
    return Chart("Pass rate per suite and model", bottom + 22, shapes, note)


def drift_pass_rate_chart(suites: Sequence[SuiteDrift]) -> Chart | NoChart:
    """Baseline and candidate pass rate per suite, side by side, with the difference."""
    if not suites:
        return NoChart("No suites compared.")
    suites, note = _weakest(
        suites,
        lambda s: (s.delta if s.delta is not None else 0, -s.counts.regressions),
        "suites that dropped less",
    )
    row, top = 44, 24
    shapes = _legend(12, [("baseline", "f-base"), ("candidate", "f-cand")])
    bottom = top + row * len(suites)
    shapes += _grid(top, bottom, _PERCENT_TICKS)
    for index, suite in enumerate(suites):
        y = top + index * row
        base, cand = suite.baseline, suite.candidate
        models = f"{base.model if base else '—'} → {cand.model if cand else '—'}"
        if base and cand and base.model == cand.model:
            models = base.model
        shapes.append(Text(0, y + 17, suite.suite, "label", limit=24))
        shapes.append(Text(0, y + 31, models, "sub", limit=28))
        for offset, side, cls, name in ((6, base, "f-base", "baseline"), (21, cand, "f-cand", "candidate")):
            shapes.append(Rect(_LABEL_WIDTH, y + offset, _PLOT_WIDTH, 12, "f-track"))
            if side is not None and side.pass_rate is not None:
                decided = side.passed + side.failed
                tip = f"{suite.suite} {name}: {pct(side.pass_rate)} ({side.passed}/{decided})"
                shapes.append(Rect(_LABEL_WIDTH, y + offset, _PLOT_WIDTH * side.pass_rate, 12, cls, tip))
        rates = f"{pct(base.pass_rate if base else None)} → {pct(cand.pass_rate if cand else None)}"
        shapes.append(Text(_VALUE_X, y + 17, rates, "value"))
        if suite.delta is not None:
            shapes.append(Text(_VALUE_X, y + 31, pts(suite.delta), f"d-{delta_tone(suite.delta)}"))
        elif suite.pairing is None:
            shapes.append(
                Text(_VALUE_X, y + 31, "baseline only" if cand is None else "candidate only", "sub")
            )
    return Chart("Pass rate per suite: baseline and candidate", bottom + 22, shapes, note)


def _nice_step(span: float, target: int) -> float:
    """A round bin width (1, 2, 2.5 or 5 × 10ⁿ) giving about ``target`` bins over ``span``."""
    raw = max(span, 1e-9) / target
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 2.5, 5, 10):
        if multiple * magnitude >= raw:
            return multiple * magnitude
    return 10 * magnitude


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


def latency_histogram(results: Iterable[SampleResult]) -> Chart | NoChart:
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
            return NoChart("Every call was answered from the cache; no provider latency to show.")
        return NoChart("No latency recorded.")
    models = sorted(by_model, key=lambda m: -len(by_model[m]))[:MAX_HISTOGRAM_MODELS]
    axis = _LatencyAxis.fit([v for m in models for v in by_model[m]])
    row, top, plot_height = 60, 8, 42
    shapes: list[Shape] = []
    bar_width = _PLOT_WIDTH / axis.bins
    for index, model in enumerate(models):
        samples = by_model[model]
        counts = [0] * axis.bins
        for value in samples:
            counts[axis.bin_of(value)] += 1
        peak = max(counts)
        y = top + index * row
        base_y = y + plot_height
        shapes.append(Text(0, y + 18, model, "label", limit=24))
        shapes.append(Text(0, y + 32, f"{len(samples):,} calls", "sub"))
        shapes.append(Line(_LABEL_WIDTH, base_y, _LABEL_WIDTH + _PLOT_WIDTH, base_y, "grid"))
        for bin_index, count in enumerate(counts):
            if not count:
                continue
            height = max(2.0, plot_height * count / peak)
            tip = f"{model}: {count:,} calls {ms(axis.edge(bin_index))}–{ms(axis.edge(bin_index + 1))}"
            x = _LABEL_WIDTH + bin_index * bar_width + 0.5
            shapes.append(Rect(x, base_y - height, max(bar_width - 1, 1), height, "f-hist", tip))
        p50, p95 = percentile(samples, 50), percentile(samples, 95)
        for marker, cls, name in ((p50, "m50", "p50"), (p95, "m95", "p95")):
            if marker is None:
                continue
            x = _LABEL_WIDTH + axis.position(marker) * _PLOT_WIDTH
            shapes.append(Line(x, y + 2, x, base_y, cls, f"{model} {name} {ms(marker)}"))
        shapes.append(Text(_VALUE_X, y + 18, f"p50 {ms(p50)}", "value"))
        shapes.append(Text(_VALUE_X, y + 32, f"p95 {ms(p95)}", "sub"))
    bottom = top + row * len(models)
    shapes += _grid(bottom - row + plot_height + top, bottom + 2, axis.ticks())
    notes = []
    if axis.log:
        notes.append("log scale")
    if len(by_model) > len(models):
        notes.append(f"{len(by_model) - len(models)} more models not shown")
    if cached:
        notes.append(f"{cached:,} cached calls left out")
    shapes += _legend(bottom + 34, [("p50", "f-m50"), ("p95", "f-m95")])
    if notes:
        shapes.append(Text(_LABEL_WIDTH + 100, bottom + 34, " · ".join(notes), "axis"))
    return Chart("Latency distribution per model", bottom + 42, shapes)


def drift_latency_chart(suites: Sequence[SuiteDrift]) -> Chart | NoChart:
    """p50 (dark) and p95 (light) latency of both sides per suite, on a shared axis."""
    sides = [(s, side) for s in suites for side in (s.baseline, s.candidate) if side is not None]
    peak = max((side.latency_p95_ms or side.latency_p50_ms or 0.0 for _, side in sides), default=0.0)
    if not peak:
        return NoChart("No latency recorded.")
    suites, note = _weakest(
        suites, lambda s: -(s.candidate.latency_p95_ms or 0) if s.candidate else 0, "faster suites"
    )
    step = _nice_step(peak, 5)
    span = math.ceil(peak / step) * step
    row, top = 44, 24
    shapes = _legend(12, [("baseline p50", "f-base"), ("candidate p50", "f-cand"), ("p95", "f-p95")])
    bottom = top + row * len(suites)
    ticks = [(i * step / span, _axis_ms(round(i * step, 6))) for i in range(int(round(span / step)) + 1)]
    shapes += _grid(top, bottom, ticks)
    for index, suite in enumerate(suites):
        y = top + index * row
        shapes.append(Text(0, y + 17, suite.suite, "label", limit=24))
        for offset, side, cls, name in (
            (6, suite.baseline, "f-base", "baseline"),
            (21, suite.candidate, "f-cand", "candidate"),
        ):
            if side is None:
                continue
            # p95 first: the p50 bar is drawn over it
            for value, fill, which in (
                (side.latency_p95_ms, "f-p95", "p95"),
                (side.latency_p50_ms, cls, "p50"),
            ):
                if value is not None:
                    tip = f"{suite.suite} {name} {which} {ms(value)}"
                    shapes.append(Rect(_LABEL_WIDTH, y + offset, _PLOT_WIDTH * value / span, 12, fill, tip))
        base, cand = suite.baseline, suite.candidate
        for line_y, which, cls in ((y + 17, "p50", "value"), (y + 31, "p95", "sub")):
            old = getattr(base, f"latency_{which}_ms") if base else None
            new = getattr(cand, f"latency_{which}_ms") if cand else None
            shapes.append(Text(_VALUE_X, line_y, f"{which} {ms_pair(old, new)}", cls))
    return Chart("Latency p50 and p95 per suite: baseline and candidate", bottom + 22, shapes, note)
