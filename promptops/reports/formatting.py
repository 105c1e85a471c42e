"""How the reports spell numbers: rates, durations, money and differences in points."""

from __future__ import annotations

__all__ = ["delta_tone", "ms", "ms_figure", "ms_pair", "pct", "pts", "usd"]


def pct(rate: float | None) -> str:
    """``67%``, or ``—`` when there is no rate (no decided sample)."""
    return "—" if rate is None else f"{rate:.0%}"


def ms(value: float | None) -> str:
    """``357 ms``, or ``12.50 s`` from ten seconds on."""
    if value is None:
        return "—"
    return f"{value / 1000:,.2f} s" if value >= 10_000 else f"{value:,.0f} ms"


def ms_figure(value: float | None) -> str:
    """``1,357``: milliseconds for a column whose header names the unit, or ``—``."""
    return "—" if value is None else f"{value:,.0f}"


def ms_pair(old: float | None, new: float | None) -> str:
    """``143 → 357 ms``: one unit for both sides, so the pair fits a chart's value column."""
    if old is not None and new is not None and max(old, new) < 10_000:
        return f"{old:,.0f} → {new:,.0f} ms"
    return f"{ms(old)} → {ms(new)}"


def usd(value: float | None) -> str:
    """``$0.0042`` below a dollar, ``$1,234.50`` above."""
    if value is None:
        return "—"
    return f"${value:.4f}" if value < 1 else f"${value:,.2f}"


def pts(delta: float | None) -> str:
    """A change of pass rate in percentage points, ``−40 pts``; empty without a change to show."""
    if delta is None:
        return ""
    points = delta * 100
    return "±0 pts" if round(points) == 0 else f"{points:+.0f} pts".replace("-", "−")


def delta_tone(delta: float | None) -> str:
    """The colour of a change: a drop is bad, a rise ok, no change (to the point) muted."""
    if delta is None or round(delta * 100) == 0:
        return "muted"
    return "bad" if delta < 0 else "ok"
