"""Tests, intervals, error control and sequential sampling for drift reports.

Everything here is vectorised with numpy over cases, because a drift report of
100,000 cases at repeat 10 must be tested in well under a second, and exact
tests are computed in log space from one table of log-factorials, so no count
overflows and no tail underflows to a wrong zero.

Four parts, each owning one decision:

- **Case tests** (``fisher_one_sided``): the one-sided Fisher exact test on each
  case's 2×2 table of passed and failed samples per side, for a fixed number of
  samples.
- **Suite test** (``cmh_one_sided`` and ``risk_difference``): a stratified
  Cochran–Mantel–Haenszel test with the case as the stratum, so a suite's easy
  and hard cases are never pooled as if they shared one pass rate, and the
  change in pass rate as a mean over cases with its confidence interval.
- **Error control** (``adjust``): weighted Holm (family-wise error, the default)
  or weighted Benjamini–Hochberg (false discovery rate) over every case test and
  every suite test of one report, so a 100-case suite does not cry wolf twice a
  run.
- **Sequential sampling** (``SequentialDesign``, ``sequential_update``): the
  ``--repeat auto`` controller. Each case draws a few samples per side, then more
  only while the comparison is undecided. Evidence is an e-process (a test
  supermartingale under "no drop"), so looking after every batch does not
  inflate the error rate (Ville's inequality), and a futility rule stops cases
  whose data rule out a drop worth detecting.

Power (``fisher_power``, ``minimum_detectable_drop``, ``repeats_for_power``)
turns these into plain statements: what drop a suite can see at its repeat
count, and how many samples a wanted power needs.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "CORRECTIONS",
    "Batch",
    "BatchOutcome",
    "RepeatPlan",
    "RiskDifference",
    "SuiteTest",
    "SUITE_ALPHA_SHARE",
    "Adjusted",
    "Correction",
    "SequentialDesign",
    "SequentialState",
    "adjust",
    "adjust_family",
    "case_evidence_bar",
    "family_weights",
    "run_sequential",
    "cmh_one_sided",
    "fisher_one_sided",
    "fisher_power",
    "minimum_detectable_drop",
    "plan_repeats",
    "repeats_for_power",
    "risk_difference",
    "sequential_update",
]

Correction = Literal["holm", "bh"]
CORRECTIONS: tuple[Correction, ...] = ("holm", "bh")
SUITE_ALPHA_SHARE = 0.2
"""Share of a report's alpha held by its suite-level tests together; the cases share the rest. A rejected
hypothesis hands its share on (weighted Holm), so once a suite drop is found its cases test at full alpha."""

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# --- exact tests in log space ---------------------------------------------------------------------

_LOG_FACTORIAL: FloatArray = np.zeros(1)


def _log_factorial(upto: int) -> FloatArray:
    """log(k!) for k = 0..upto, grown on demand and kept (cumulative sums of logs: exact to ~1e-13)."""
    global _LOG_FACTORIAL
    if len(_LOG_FACTORIAL) <= upto:
        size = max(upto + 1, 2 * len(_LOG_FACTORIAL), 1024)
        table = np.zeros(size)
        np.cumsum(np.log(np.arange(1, size, dtype=np.float64)), out=table[1:])
        _LOG_FACTORIAL = table
    return _LOG_FACTORIAL


def _log_comb(n: IntArray, k: IntArray, table: FloatArray) -> FloatArray:
    return table[n] - table[k] - table[n - k]


def _ints(values: ArrayLike) -> IntArray:
    return np.atleast_1d(np.asarray(values, dtype=np.int64))


def fisher_one_sided(
    base_passed: ArrayLike,
    base_n: ArrayLike,
    cand_passed: ArrayLike,
    cand_n: ArrayLike,
    alternative: Literal["drop", "rise"] = "drop",
) -> FloatArray:
    """One-sided Fisher exact p-values for many 2×2 tables at once.

    With the margins fixed, the baseline's passes follow a hypergeometric law
    under "same pass rate on both sides"; the p-value is the probability of a
    baseline count at least as large (``drop``: the candidate passes less often)
    or at least as small (``rise``) as observed. Each tail is summed in one
    masked array over all tables, from log-factorials.

    Args:
        base_passed: Baseline passed samples per table.
        base_n: Baseline samples with output per table.
        cand_passed: Candidate passed samples per table.
        cand_n: Candidate samples with output per table.
        alternative: ``drop`` or ``rise``.

    Returns:
        One p-value in [0, 1] per table (1.0 where a side has no sample).
    """
    if alternative not in ("drop", "rise"):
        raise ValueError(f"alternative must be 'drop' or 'rise', got {alternative!r}")
    xb, nb, xc, nc = _ints(base_passed), _ints(base_n), _ints(cand_passed), _ints(cand_n)
    total = nb + nc
    passes = xb + xc
    low = np.maximum(0, nb - (total - passes))
    high = np.minimum(nb, passes)
    start, stop = (xb, high) if alternative == "drop" else (low, xb)
    width = int(np.max(stop - start, initial=0)) + 1
    table = _log_factorial(int(np.max(total, initial=0)))
    x = start[:, None] + np.arange(width)[None, :]
    inside = x <= stop[:, None]
    x = np.where(inside, x, start[:, None])
    log_pmf = (
        _log_comb(passes[:, None], x, table)
        + _log_comb((total - passes)[:, None], nb[:, None] - x, table)
        - _log_comb(total, nb, table)[:, None]
    )
    p = np.where(inside, np.exp(log_pmf), 0.0).sum(axis=1)
    p = np.where((nb == 0) | (nc == 0), 1.0, p)
    return np.minimum(p, 1.0)


_WINDOW_TAIL = 1e-30
"""Mass the exact suite test may leave outside its window (far below any p-value it reports)."""


@dataclass(frozen=True)
class SuiteTest:
    """The stratified (Cochran–Mantel–Haenszel) test of one suite."""

    statistic: float
    """Baseline passes summed over strata."""
    expected: float
    """Their expectation under "no change" given each stratum's margins."""
    p_value: float
    """One-sided p-value in the direction asked."""
    method: Literal["cmh-exact"]
    """Exact convolution of the strata's hypergeometric laws."""


def cmh_one_sided(
    base_passed: ArrayLike,
    base_n: ArrayLike,
    cand_passed: ArrayLike,
    cand_n: ArrayLike,
    alternative: Literal["drop", "rise"] = "drop",
) -> SuiteTest:
    """Stratified one-sided test of a suite's change, with each case as a stratum.

    Conditional on each case's margins (its samples per side and its total
    passes), the baseline's passes in a case follow a hypergeometric law under
    "the case's pass rate did not change", whatever that rate is: an easy case
    and a hard one are never mixed. The statistic is the baseline's passes
    summed over cases; its exact law is the convolution of the cases'
    hypergeometric laws (one product of their Fourier transforms, over a window
    around the mean that holds all but 1e-30 of the mass by Bernstein's
    inequality): the exact conditional Cochran–Mantel–Haenszel test. Cases with
    no sample on a side carry no information and drop out.

    Returns:
        The statistic, its null expectation, the one-sided p-value and the method.
    """
    xb, nb, xc, nc = _ints(base_passed), _ints(base_n), _ints(cand_passed), _ints(cand_n)
    keep = (nb > 0) & (nc > 0)
    xb, nb, xc, nc = xb[keep], nb[keep], xc[keep], nc[keep]
    total = nb + nc
    passes = xb + xc
    low = np.maximum(0, nb - (total - passes))
    high = np.minimum(nb, passes)
    observed = float(xb.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        expected_each = np.where(total > 0, nb * passes / np.maximum(total, 1), 0.0)
        variance_each = np.where(
            total > 1,
            nb * nc * passes * (total - passes) / np.maximum(total * total * (total - 1), 1),
            0.0,
        )
    expected = float(expected_each.sum())
    variance = float(variance_each.sum())
    if variance <= 0:
        return SuiteTest(observed, expected, 1.0, "cmh-exact")
    # only strata whose margins leave room for variation shape the law
    varying = high > low
    offset = int(low.sum())
    table = _log_factorial(int(np.max(total, initial=0)))
    nbs, ncs, passes_v = nb[varying], nc[varying], passes[varying]
    # strata with the same margins share one law: at repeat N a suite has only a few distinct tables, so
    # the law of the sum is one product of spectra, each raised to its table's count
    width = int(np.max(total, initial=0)) + 1
    keys, counts = np.unique((nbs * width + ncs) * width + passes_v, return_counts=True)
    size = int((high - low).sum()) + 1
    # Bernstein: the sum lies within h of its mean except with probability 1e-30 (each stratum moves at
    # most `spread` from its mean), so a cyclic transform of length 2h + 1 loses nothing a p-value can
    # show: still exact, and a million samples need a window of a few thousand points
    spread = float(np.max(high - low, initial=0))
    tail = math.log(2 / _WINDOW_TAIL)
    linear = 2 * tail * spread / 3
    half = (linear + math.sqrt(linear * linear + 8 * tail * variance)) / 2
    window = min(size, 2 * int(math.ceil(half)) + 2)
    fft_size = 1 << max(window - 1, 1).bit_length()
    # the product of spectra in polar form: integer powers become sums of log-magnitudes and angles,
    # far cheaper than complex powers
    log_magnitude = np.zeros(fft_size // 2 + 1)
    angle = np.zeros(fft_size // 2 + 1)
    for key, count in zip(keys.tolist(), counts.tolist(), strict=False):
        s, rest = key % width, key // width
        n_b, n_c = rest // width, rest % width
        lo, hi = max(0, n_b - (n_b + n_c - s)), min(n_b, s)
        x = np.arange(lo, hi + 1)
        log_pmf = (
            table[s]
            - table[x]
            - table[s - x]
            + table[n_b + n_c - s]
            - table[n_b - x]
            - table[n_c - s + x]
            - (table[n_b + n_c] - table[n_b] - table[n_c])
        )
        pmf = np.exp(log_pmf)
        pmf /= pmf.sum()
        transform = np.fft.rfft(pmf, fft_size)
        with np.errstate(divide="ignore"):
            log_magnitude += count * np.log(np.abs(transform))
        angle += count * np.angle(transform)
    # FFT rounding leaves tiny negative values where the true mass is ~0
    spectrum = np.exp(log_magnitude) * (np.cos(angle) + 1j * np.sin(angle))
    cyclic = np.maximum(np.fft.irfft(spectrum, fft_size), 0.0)
    # residue r holds the mass of every x = offset + r (mod fft_size); unroll the window around the mean
    start = max(offset, min(int(math.floor(expected)) - fft_size // 2, offset + size - fft_size))
    law = np.roll(cyclic, -((start - offset) % fft_size))[: min(fft_size, size)]
    law /= law.sum()
    index = int(round(observed)) - start
    if alternative == "drop":
        p = float(law[max(index, 0) :].sum()) if index < len(law) else 0.0
    else:
        p = float(law[: max(index + 1, 0)].sum()) if index >= 0 else 0.0
    return SuiteTest(observed, expected, min(max(p, 0.0), 1.0), "cmh-exact")


@dataclass(frozen=True)
class RiskDifference:
    """A suite's change in pass rate, as a mean over its cases, with a confidence interval."""

    estimate: float
    """Mean over cases of (candidate pass rate − baseline pass rate)."""
    low: float
    """Lower end of the interval."""
    high: float
    """Upper end of the interval."""


def risk_difference(
    base_passed: ArrayLike,
    base_n: ArrayLike,
    cand_passed: ArrayLike,
    cand_n: ArrayLike,
    confidence: float = 0.95,
) -> RiskDifference | None:
    """The suite's change in pass rate with the case as the unit, and its normal interval.

    Every case weighs the same (the suite's pass rate is a mean over its cases, not
    over samples), and the variance is the stratified one: the sum of each case's
    binomial variances on both sides, with rates smoothed by one pass and one
    failure so that 0/10 and 10/10 still count as uncertain.

    Returns:
        Estimate and interval, or None when no case has samples on both sides.
    """
    xb, nb, xc, nc = (np.asarray(v, dtype=np.float64) for v in (base_passed, base_n, cand_passed, cand_n))
    keep = (nb > 0) & (nc > 0)
    if not keep.any():
        return None
    xb, nb, xc, nc = xb[keep], nb[keep], xc[keep], nc[keep]
    k = len(xb)
    estimate = float((xc / nc - xb / nb).mean())
    sb, sc = (xb + 1) / (nb + 2), (xc + 1) / (nc + 2)
    variance = float((sb * (1 - sb) / nb + sc * (1 - sc) / nc).sum()) / (k * k)
    z = _normal_quantile(0.5 + confidence / 2)
    half = z * math.sqrt(variance)
    return RiskDifference(estimate, max(-1.0, estimate - half), min(1.0, estimate + half))


def _normal_quantile(q: float) -> float:
    """Inverse of the standard normal CDF (bisection on erfc: exact to 1e-12, no scipy needed)."""
    low, high = -40.0, 40.0
    for _ in range(200):
        mid = (low + high) / 2
        if 0.5 * math.erfc(-mid / math.sqrt(2)) < q:
            low = mid
        else:
            high = mid
    return (low + high) / 2


# --- error control --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Adjusted:
    """Adjusted p-values and decisions for one family of hypotheses."""

    p_adjusted: FloatArray
    """Adjusted p-value per hypothesis: reject exactly where it is at most alpha."""
    rejected: NDArray[np.bool_]
    """The decisions at alpha."""


def adjust(p_values: ArrayLike, weights: ArrayLike, alpha: float, method: Correction = "holm") -> Adjusted:
    """Weighted Holm (family-wise error) or weighted Benjamini–Hochberg (false discovery rate).

    With weights w_i (normalised to sum to the number of hypotheses m), Holm
    orders hypotheses by p_i / w_i and rejects while p_i <= alpha · w_i / W, W
    being the weight still unrejected: a closed test with weighted Bonferroni
    tests, so the chance of any false rejection is at most alpha whatever the
    dependence. Benjamini–Hochberg rejects the k smallest p_i / w_i where the
    k-th is at most alpha · k / m: at most alpha of the rejections are false on
    average (independent or positively dependent tests), and under "nothing
    changed" at all this is the same as a family-wise error at alpha.

    Args:
        p_values: One p-value per hypothesis (NaN: not tested, never rejected).
        weights: Positive weight per hypothesis (its share of alpha).
        alpha: The family's level.
        method: ``holm`` or ``bh``.
    """
    if method not in CORRECTIONS:
        raise ValueError(f"unknown correction {method!r}; use holm or bh")
    p = np.asarray(p_values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    tested = ~np.isnan(p)
    adjusted = np.full(p.shape, np.nan)
    if tested.any():
        pt, wt = p[tested], w[tested]
        wt = wt / wt.sum() * len(wt)
        ratio = pt / wt
        order = np.argsort(ratio, kind="stable")
        m = len(pt)
        if method == "holm":
            remaining = np.cumsum(wt[order][::-1])[::-1]  # weight not yet rejected at each step
            # H_j falls at alpha once p_j <= alpha * w_j / W, W the weight not yet rejected
            steps = np.maximum.accumulate(pt[order] * remaining / wt[order])
        else:
            ranks = np.arange(1, m + 1)
            steps = np.minimum.accumulate((ratio[order] * m / ranks)[::-1])[::-1]
        values = np.empty(m)
        values[order] = np.minimum(steps, 1.0)
        adjusted[tested] = values
    rejected = np.where(tested, np.nan_to_num(adjusted, nan=2.0) <= alpha, False)
    return Adjusted(adjusted, rejected)


# --- sequential sampling (--repeat auto) ----------------------------------------------------------


@dataclass(frozen=True)
class SequentialDesign:
    """How ``--repeat auto`` spends samples.

    The defaults are what benchmarks/statistics measures: over suites of 20
    cases at pass rate 0.7 they flag a single case dropping from 0.9 to 0.5 about
    95 % of the time while false alarms stay far below alpha.
    """

    max_repeat: int = 80
    """Cap on samples per case and side."""
    initial: int = 4
    """Samples per side every sampled case starts with."""
    step: int = 4
    """Samples per side added to each undecided case per round."""
    odds_ratio: float = 9.0
    """The drop worth detecting, as an odds ratio of passing (baseline over candidate): 9 is 90 % → 50 %
    or 70 % → 21 %. The e-process bets on it and the futility rule stops cases whose data rule it out."""
    min_drop: float = 0.25
    """...and at least this many points of pass rate (a share): without it a case that always passes could
    never rule out 99 % → 92 %, an odds ratio of 9."""
    futility: float = 25.0
    """Likelihood ratio against a drop of that size at which a case stops as undecidable-by-design:
    higher keeps more power and spends more samples."""

    def __post_init__(self) -> None:
        if self.max_repeat < 1:
            raise ValueError(f"max repeat must be at least 1, got {self.max_repeat}")
        if self.initial < 1 or self.step < 1:
            raise ValueError("initial samples and step must be at least 1")
        if self.odds_ratio <= 1 or self.futility <= 1:
            raise ValueError("the odds ratio and the futility ratio must be above 1")
        if not 0 < self.min_drop < 1:
            raise ValueError(
                f"the smallest drop worth detecting must be between 0 and 1, got {self.min_drop}"
            )


@dataclass
class SequentialState:
    """Per case: paired samples so far, the e-process and the decision (arrays over cases)."""

    pairs: IntArray
    """Samples per side that count (errored samples left out, sides paired in sample order)."""
    base_passed: IntArray
    cand_passed: IntArray
    log_e: FloatArray
    """Log of the e-process against "no drop" after the last batch."""
    log_e_max: FloatArray
    """Its running maximum: the anytime-valid p-value is exp(-log_e_max)."""
    decided: NDArray[np.bool_]
    reason: NDArray[np.str_]
    """``drop`` (evidence reached the bar), ``futile``, ``cap``, ``deterministic`` or '' while running."""

    @classmethod
    def start(cls, cases: int) -> SequentialState:
        return cls(
            pairs=np.zeros(cases, np.int64),
            base_passed=np.zeros(cases, np.int64),
            cand_passed=np.zeros(cases, np.int64),
            log_e=np.zeros(cases),
            log_e_max=np.zeros(cases),
            decided=np.zeros(cases, bool),
            reason=np.full(cases, "", dtype="<U13"),
        )

    @property
    def p_values(self) -> FloatArray:
        """Anytime-valid p-values: valid at whatever batch sampling stopped (Ville's inequality)."""
        return np.minimum(1.0, np.exp(-self.log_e_max))


def _bet(state: SequentialState, odds_ratio: float) -> tuple[FloatArray, FloatArray]:
    """Pass rates (baseline, candidate) the next batch bets on, fixed before the batch is drawn.

    Centred on the case's pooled pass rate so far (smoothed; 0.5 before any
    sample) and a design drop apart on the log-odds scale.
    """
    pooled = (state.base_passed + state.cand_passed + 1) / (2 * state.pairs + 2)
    centre = np.log(pooled / (1 - pooled))
    half = math.log(odds_ratio) / 2
    return 1 / (1 + np.exp(-(centre + half))), 1 / (1 + np.exp(-(centre - half)))


def _kl(p: FloatArray, q: FloatArray) -> FloatArray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    q = np.clip(q, 1e-12, 1 - 1e-12)
    return p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))


_LOGIT_GRID = np.linspace(-8.0, 10.0, 361)
_RATE_GRID = np.linspace(0.0, 1.0, 201)


def _log_evidence_against_drop(
    n: IntArray, base_passed: IntArray, cand_passed: IntArray, odds_ratio: float, points: float
) -> FloatArray:
    """log of max-likelihood over all rates ÷ max-likelihood over the drops worth detecting.

    A drop worth detecting lowers the odds of passing by ``odds_ratio`` or more
    *and* the pass rate by ``points`` or more (the odds alone would call 99 % →
    92 % a large drop, and a case that always passes could never rule it out).
    Zero when the observed rates already form such a drop; large when the data
    rule every such drop out. The constrained maximum lies on the boundary of
    that set, so both boundary curves are searched on a grid.
    """
    nf = n.astype(np.float64)
    pb = (base_passed / np.maximum(nf, 1))[:, None]
    pc = (cand_passed / np.maximum(nf, 1))[:, None]
    psi = math.log(odds_ratio)
    # the curve where the odds ratio is exactly the design's, kept where the drop in points is large enough
    a = 1 / (1 + np.exp(-_LOGIT_GRID))
    b = 1 / (1 + np.exp(-(_LOGIT_GRID - psi)))
    on_curve = np.where(a - b >= points, _kl(pb, a[None, :]) + _kl(pc, b[None, :]), np.inf).min(axis=1)
    # the line where the drop in points is exactly the design's, kept where the odds ratio is large enough
    a = _RATE_GRID[_RATE_GRID >= points]
    b = a - points
    with np.errstate(divide="ignore"):
        ratio_ok = np.log(a / np.maximum(1 - a, 1e-300)) - np.log(np.maximum(b, 1e-300) / (1 - b)) >= psi
    on_line = np.where(ratio_ok[None, :], _kl(pb, a[None, :]) + _kl(pc, b[None, :]), np.inf).min(axis=1)
    evidence = nf * np.minimum(on_curve, on_line)
    with np.errstate(divide="ignore"):
        observed_ratio = np.log(np.clip(pb, 1e-12, 1) / np.clip(1 - pb, 1e-12, 1)) - np.log(
            np.clip(pc, 1e-12, 1) / np.clip(1 - pc, 1e-12, 1)
        )
    inside = ((observed_ratio >= psi) & (pb - pc >= points))[:, 0]
    return np.where(inside, 0.0, evidence)


def sequential_update(
    state: SequentialState,
    design: SequentialDesign,
    log_bar: float,
    active: ArrayLike,
    base_passed: ArrayLike,
    cand_passed: ArrayLike,
    pairs: ArrayLike,
) -> IntArray:
    """Fold one batch of paired samples into the state and decide who goes on.

    The batch's bet is computed from the data before it (``_bet``), so each case's
    e-process is a product of factors with expectation at most 1 under "no drop":
    each factor is the likelihood ratio of the bet (a, b) against the point
    ((a+b)/2, (a+b)/2), whose expectation is at most 1 at every pair of rates with
    the candidate at least as good (Turner, Ly & Grünwald's e-variable for 2×2
    tables in blocks). Sampling may therefore stop at any batch.

    Args:
        state: Updated in place.
        design: The sampling design.
        log_bar: log of the e-value that decides a drop: the case's Holm
            threshold, log(total weight / (alpha · case weight)).
        active: Mask of cases whose batch is in ``base_passed``/``cand_passed``.
        base_passed: Baseline passes in the batch, per case (0 where inactive).
        cand_passed: Candidate passes in the batch.
        pairs: Paired samples in the batch per case (errored samples left out).

    Returns:
        Samples per side to draw next for each case (0 when it is decided).
    """
    mask = np.asarray(active, dtype=bool) & ~state.decided
    xb, xc, k = _ints(base_passed), _ints(cand_passed), _ints(pairs)
    a, b = _bet(state, design.odds_ratio)
    m = (a + b) / 2
    log_factor = (
        xb * np.log(a / m)
        + (k - xb) * np.log((1 - a) / (1 - m))
        + xc * np.log(b / m)
        + (k - xc) * np.log((1 - b) / (1 - m))
    )
    state.log_e = np.where(mask, state.log_e + log_factor, state.log_e)
    state.log_e_max = np.maximum(state.log_e_max, state.log_e)
    state.pairs = np.where(mask, state.pairs + k, state.pairs)
    state.base_passed = np.where(mask, state.base_passed + xb, state.base_passed)
    state.cand_passed = np.where(mask, state.cand_passed + xc, state.cand_passed)

    drop = mask & (state.log_e_max >= log_bar)
    futile = mask & ~drop & (state.pairs > 0)
    evidence = _log_evidence_against_drop(
        state.pairs, state.base_passed, state.cand_passed, design.odds_ratio, design.min_drop
    )
    futile &= evidence >= math.log(design.futility)
    capped = mask & ~drop & ~futile & (state.pairs >= design.max_repeat)
    state.reason = np.where(drop, "drop", np.where(futile, "futile", np.where(capped, "cap", state.reason)))
    state.decided = state.decided | drop | futile | capped
    more = np.minimum(design.step, design.max_repeat - state.pairs)
    return np.where(state.decided, 0, np.maximum(more, 0)).astype(np.int64)


# --- power ----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _fisher_grid(n: int) -> FloatArray:
    """Drop p-values of every table with n samples per side (baseline passes × candidate passes)."""
    x = np.arange(n + 1)
    xb, xc = np.meshgrid(x, x, indexing="ij")
    return fisher_one_sided(xb.ravel(), np.full(xb.size, n), xc.ravel(), np.full(xb.size, n)).reshape(
        xb.shape
    )


def fisher_power(p_base: float, p_cand: float, n: int, level: float) -> float:
    """Exact power of the one-sided Fisher test at ``level`` with ``n`` samples per side.

    Sums the probability of every outcome (baseline passes × candidate passes)
    whose p-value is at most ``level``.
    """
    if n < 1:
        return 0.0
    x = np.arange(n + 1)
    p = _fisher_grid(n)
    table = _log_factorial(n)

    def binom(prob: float) -> FloatArray:
        prob = min(max(prob, 1e-15), 1 - 1e-15)
        return np.exp(table[n] - table[x] - table[n - x] + x * math.log(prob) + (n - x) * math.log(1 - prob))

    weights = np.outer(binom(p_base), binom(p_cand))
    return float(weights[p <= level].sum())


def minimum_detectable_drop(p_base: float, n: int, level: float, power: float = 0.8) -> float | None:
    """The smallest drop in pass rate from ``p_base`` found with ``power`` at ``level`` and ``n`` samples.

    Returns:
        The drop in [0, 1] (a share, 0.45 for 45 points), or None when even a drop
        to 0 is not found that often.
    """
    if fisher_power(p_base, 0.0, n, level) < power:
        return None
    low, high = 0.0, p_base
    for _ in range(30):
        mid = (low + high) / 2
        if fisher_power(p_base, p_base - mid, n, level) >= power:
            high = mid
        else:
            low = mid
    return high


def repeats_for_power(
    p_base: float, p_cand: float, level: float, power: float, limit: int = 2000
) -> int | None:
    """The fewest samples per side for which the one-sided Fisher test at ``level`` reaches ``power``.

    Returns:
        The repeat count, or None above ``limit``.
    """
    if not p_cand < p_base:
        return None

    def enough(n: int) -> bool:
        return fisher_power(p_base, p_cand, n, level) >= power

    # exact power is not monotone in n (discreteness), so find the first n from which it holds
    high = 1
    while not enough(high):
        high *= 2
        if high > limit:
            return None
    low = max(1, high // 2)
    for n in range(low, high + 1):
        if enough(n) and enough(n + 1) and enough(n + 2):
            return n
    return high


# --- one report's family of tests -----------------------------------------------------------------


def family_weights(cases: int, suites: int) -> tuple[float, float]:
    """Weight of each case test and of each suite test in one report's family (they sum to 1).

    The suite tests hold ``SUITE_ALPHA_SHARE`` of alpha together and the cases the
    rest, each evenly; a report without suite tests gives the cases everything.
    """
    if suites <= 0:
        return (1.0 / cases if cases else 0.0), 0.0
    if cases <= 0:
        return 0.0, 1.0 / suites
    return (1 - SUITE_ALPHA_SHARE) / cases, SUITE_ALPHA_SHARE / suites


def case_evidence_bar(cases: int, suites: int, alpha: float) -> float:
    """log of the e-value at which a sequential case is certain to be rejected by the report's Holm step.

    Holm's first step rejects any hypothesis with p <= alpha · w / W (W = 1 here),
    and an anytime-valid p-value is 1 / max e, so reaching this bar decides.
    """
    case_weight, _ = family_weights(cases, suites)
    if case_weight <= 0:
        return math.inf  # no case in the family: nothing to decide
    return math.log(1.0 / (alpha * case_weight))


def adjust_family(
    case_p: ArrayLike, suite_p: ArrayLike, alpha: float, method: Correction = "holm"
) -> tuple[Adjusted, Adjusted]:
    """Adjust one report's case tests and suite tests together.

    Args:
        case_p: One-sided drop p-value per case (NaN: not tested, e.g. one sample per side).
        suite_p: One-sided drop p-value per suite (NaN: not tested).
        alpha: The report's level: the chance that a report with no real change
            flags any regression, case or suite, is at most alpha.
        method: ``holm`` (family-wise) or ``bh`` (false discovery rate).

    Returns:
        The adjusted cases and the adjusted suites.
    """
    cp = np.atleast_1d(np.asarray(case_p, dtype=np.float64))
    sp = np.atleast_1d(np.asarray(suite_p, dtype=np.float64))
    case_weight, suite_weight = family_weights(int((~np.isnan(cp)).sum()), int((~np.isnan(sp)).sum()))
    together = adjust(
        np.concatenate([cp, sp]),
        np.concatenate([np.full(len(cp), case_weight), np.full(len(sp), suite_weight)]),
        alpha,
        method,
    )
    split = len(cp)
    return (
        Adjusted(together.p_adjusted[:split], together.rejected[:split]),
        Adjusted(together.p_adjusted[split:], together.rejected[split:]),
    )


@dataclass(frozen=True)
class Batch:
    """What one round of sequential sampling asks for: samples per side per case (0: none)."""

    requests: IntArray


@dataclass(frozen=True)
class BatchOutcome:
    """What one round brought back, per case: paired samples and passes per side in that round."""

    pairs: IntArray
    base_passed: IntArray
    cand_passed: IntArray


def run_sequential(
    design: SequentialDesign,
    deterministic: ArrayLike,
    log_bar: float,
    draw: Callable[[Batch], BatchOutcome],
) -> SequentialState:
    """Sample cases in rounds until each is decided: the ``--repeat auto`` loop.

    Every case starts with ``design.initial`` samples per side, a deterministic
    one (temperature 0 on both sides) with one and is then done. After each
    round ``sequential_update`` folds the batch in and says who needs more.
    The runner and the simulation in benchmarks/statistics both drive this loop,
    each with its own ``draw``.

    Args:
        design: The sampling design.
        deterministic: Mask of cases that answer the same every time.
        log_bar: See ``case_evidence_bar``.
        draw: Runs a batch (model calls, or Bernoulli draws) and returns its outcome.

    Returns:
        The final state; ``state.pairs`` is the samples spent per case and side.
    """
    fixed = np.atleast_1d(np.asarray(deterministic, dtype=bool))
    state = SequentialState.start(len(fixed))
    requests = np.where(fixed, 1, min(design.initial, design.max_repeat)).astype(np.int64)
    while requests.any():
        active = requests > 0
        outcome = draw(Batch(requests))
        requests = sequential_update(
            state, design, log_bar, active, outcome.base_passed, outcome.cand_passed, outcome.pairs
        )
        # one answer per side is the whole story at temperature 0, whatever the evidence says
        state.reason = np.where(active & fixed, "deterministic", state.reason)
        state.decided |= active & fixed
        requests = np.where(fixed, 0, requests)
    return state


@dataclass(frozen=True)
class RepeatPlan:
    """How many samples finding a drop takes, fixed and with ``--repeat auto``."""

    level: float
    """Per-case level at the first Holm step of a report with this many cases."""
    fixed_repeat: int | None
    """Samples per side a fixed ``--repeat`` needs for the wanted power (None: over 2,000)."""
    fixed_power_at_10: float
    """Power of a fixed ``--repeat 10``, for comparison."""
    auto_power: float
    """Share of simulated ``--repeat auto`` runs that reach the evidence bar for the drop."""
    auto_mean_samples: float
    """Mean samples per side ``--repeat auto`` spends on the dropping case."""
    auto_mean_unchanged: float
    """Mean samples per side it spends on an unchanged case at the baseline rate."""


def plan_repeats(
    p_base: float,
    p_cand: float,
    power: float,
    alpha: float,
    cases: int,
    design: SequentialDesign | None = None,
    simulations: int = 4000,
) -> RepeatPlan:
    """Samples per side needed to find a drop from ``p_base`` to ``p_cand`` in one case of a report.

    The fixed count comes from the exact power of Fisher's test at the case's
    Holm level; the ``--repeat auto`` figures from ``simulations`` seeded
    Bernoulli runs of ``run_sequential``, the loop the CLI runs.
    """
    design = design or SequentialDesign()
    suites = 1 if cases >= 2 else 0
    case_weight, _ = family_weights(cases, suites)
    level = alpha * case_weight
    rng = np.random.default_rng(20260301)
    bar = case_evidence_bar(cases, suites, alpha)

    def simulate(base: float, cand: float) -> SequentialState:
        def draw(batch: Batch) -> BatchOutcome:
            n = batch.requests
            return BatchOutcome(n, rng.binomial(n, base), rng.binomial(n, cand))

        return run_sequential(design, np.zeros(simulations, bool), bar, draw)

    dropping = simulate(p_base, p_cand)
    unchanged = simulate(p_base, p_base)
    return RepeatPlan(
        level=level,
        fixed_repeat=repeats_for_power(p_base, p_cand, level, power),
        fixed_power_at_10=fisher_power(p_base, p_cand, 10, level),
        auto_power=float((dropping.reason == "drop").mean()),
        auto_mean_samples=float(dropping.pairs.mean()),
        auto_mean_unchanged=float(unchanged.pairs.mean()),
    )
