"""Drift between runs: statistics on planted data, pairing, diffs, and the compare/drift commands."""

from __future__ import annotations

import difflib
import json
import math
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from fake_openai import FakeOpenAIServer
from pydantic import ValidationError

from promptops.assertions.builtin import parse_json_output
from promptops.assertions.golden import normalise_text
from promptops.drift import (
    DriftReport,
    _json_container,
    compare_results,
    compare_runs,
    diff_outputs,
    drift_schema,
    fisher_exact_one_sided,
    text_similarity,
    wilson_interval,
)
from promptops.errors import UsageError
from promptops.reports.drift_text import render_drift_text
from promptops.results import (
    AssertionOutcome,
    ErrorInfo,
    JudgeTrace,
    RunMeta,
    RunWriter,
    SampleResult,
    SavedRun,
    summarize,
)
from promptops.statistics import cmh_one_sided

# --- builders -----------------------------------------------------------------------------------


def meta(run_id: str) -> RunMeta:
    return RunMeta(
        run_id=run_id, started_at="2025-01-01T00:00:00+00:00", promptops_version="0.1.0", project_root="."
    )


def sample(
    case: str,
    passed: bool | None,
    output: str | None = None,
    *,
    model: str = "m",
    suite: str = "s",
    index: int = 0,
    threshold: float = 1.0,
    prompt_version: str = "1.0.0",
    fingerprint: str = "f" * 16,
    reason: str = "expected 'refund', got 'bug'",
    error: str | None = None,
    latency_ms: float = 100.0,
    cost_usd: float | None = 0.002,
    gap: str | None = None,
) -> SampleResult:
    """One sample result; ``passed=None`` with ``error`` is a failed call."""
    if error is not None:
        return SampleResult(
            suite=suite,
            case=case,
            model=model,
            model_id=f"openai/{model}",
            sample=index,
            prompt="support/triage",
            prompt_version=prompt_version,
            prompt_fingerprint=fingerprint,
            threshold=threshold,
            error=ErrorInfo(type=error, message=f"{error} after retries"),
        )
    if output is None:
        output = "ok" if passed else "bad"
    outcome = AssertionOutcome(
        type="equals", passed=bool(passed), score=float(bool(passed)), reason="matches" if passed else reason
    )
    return SampleResult(
        suite=suite,
        case=case,
        model=model,
        model_id=f"openai/{model}",
        sample=index,
        prompt="support/triage",
        prompt_version=prompt_version,
        prompt_fingerprint=fingerprint,
        threshold=threshold,
        output=output,
        passed=passed,
        score=float(bool(passed)),
        assertions=[outcome],
        latency_ms=latency_ms,
        cost_usd=cost_usd,
        gap=gap,
    )


def repeated(case: str, passes: int, total: int, **kwargs: Any) -> list[SampleResult]:
    """``total`` samples of one case, the first ``passes`` of them passing."""
    return [sample(case, i < passes, index=i, **kwargs) for i in range(total)]


def compare(base: Iterable[SampleResult], cand: Iterable[SampleResult], **kwargs: Any) -> DriftReport:
    return compare_results(meta("base"), list(base), meta("cand"), list(cand), **kwargs)


def only_case(report: DriftReport, case: str, model: str | None = None) -> Any:
    found = [
        c
        for c in report.cases
        if c.case == case and (model is None or model in (c.baseline_model, c.candidate_model))
    ]
    assert len(found) == 1, found
    return found[0]


# --- statistics ---------------------------------------------------------------------------------


def hypergeometric_tail(a: int, b: int, c: int, d: int) -> float:
    """P(baseline passes >= a) with the margins fixed, written out term by term."""
    n1, n2, k = a + b, c + d, a + c
    extreme = sum(math.comb(k, x) * math.comb(n1 + n2 - k, n1 - x) for x in range(a, min(n1, k) + 1))
    return extreme / math.comb(n1 + n2, n1)


@pytest.mark.parametrize(
    ("table", "alternative", "expected"),
    [
        pytest.param((3, 1, 1, 3), "drop", 17 / 70, id="lady-tasting-tea"),
        pytest.param((4, 0, 0, 4), "drop", 1 / 70, id="perfect-separation"),
        # 10/10 -> 6/10: only the observed table is as extreme: C(16,10)/C(20,10)
        pytest.param((10, 0, 6, 4), "drop", 8008 / 184756, id="10of10-to-6of10"),
        pytest.param((10, 0, 7, 3), "drop", 19448 / 184756, id="10of10-to-7of10"),
        # Wikipedia's dieting example (men 1 of 12 dieting, women 9 of 12): the observed table has
        # probability 3640/2704156 = 0.001346, the one more extreme 91/2704156; one-sided p = 0.001380
        pytest.param((1, 11, 9, 3), "rise", 3731 / 2704156, id="wikipedia-dieting"),
        pytest.param((5, 5, 5, 5), "drop", hypergeometric_tail(5, 5, 5, 5), id="no-difference"),
        pytest.param((0, 5, 5, 0), "drop", 1.0, id="rise-tested-as-drop"),
        pytest.param((10, 0, 10, 0), "drop", 1.0, id="all-pass"),
        pytest.param((0, 0, 3, 2), "drop", 1.0, id="empty-side"),
    ],
)
def test_fisher_exact_one_sided_known_values(
    table: tuple[int, int, int, int], alternative: str, expected: float
) -> None:
    assert fisher_exact_one_sided(*table, alternative=alternative) == pytest.approx(expected, abs=5e-7)


def test_fisher_matches_hypergeometric_sums_and_mirrors() -> None:
    rng = random.Random(7)
    for _ in range(200):
        a, b, c, d = (rng.randint(0, 12) for _ in range(4))
        if a + b == 0:
            continue
        assert fisher_exact_one_sided(a, b, c, d) == pytest.approx(hypergeometric_tail(a, b, c, d))
        # a rise of the candidate is a drop seen from the other side
        assert fisher_exact_one_sided(a, b, c, d, alternative="rise") == pytest.approx(
            fisher_exact_one_sided(c, d, a, b, alternative="drop")
        )
    with pytest.raises(ValueError):
        fisher_exact_one_sided(1, 1, 1, 1, alternative="two-sided")


@pytest.mark.parametrize(
    ("passed", "trials", "low", "high"),
    [
        (0, 10, 0.0, 0.2775),
        (5, 10, 0.2366, 0.7634),
        (8, 10, 0.4902, 0.9433),
        (10, 10, 0.7225, 1.0),
        (1, 1, 0.2065, 1.0),
        (81, 263, 0.2553, 0.3662),  # Newcombe (1998), example (c)-like check value
    ],
)
def test_wilson_interval_known_values(passed: int, trials: int, low: float, high: float) -> None:
    interval = wilson_interval(passed, trials)
    assert interval is not None
    assert interval[0] == pytest.approx(low, abs=5e-4)
    assert interval[1] == pytest.approx(high, abs=5e-4)


def test_wilson_interval_without_trials() -> None:
    assert wilson_interval(0, 0) is None


# --- simulations --------------------------------------------------------------------------------

SIMULATIONS = 200


def simulate_cases(
    rng: random.Random, rates: list[tuple[float, float]], repeat: int, threshold: float
) -> DriftReport:
    """One suite, one case per ``(baseline, candidate)`` true pass probability, ``repeat`` samples a side."""
    base: list[SampleResult] = []
    cand: list[SampleResult] = []
    for case, (p_base, p_cand) in enumerate(rates):
        for side, rate in ((base, p_base), (cand, p_cand)):
            side.extend(
                sample(f"c{case}", rng.random() < rate, index=i, threshold=threshold) for i in range(repeat)
            )
    return compare(base, cand)


def simulate(
    rng: random.Random, p_base: float, p_cand: float, repeat: int, threshold: float, cases: int = 1
) -> DriftReport:
    return simulate_cases(rng, [(p_base, p_cand)] * cases, repeat, threshold)


def regression_rate(
    seed: int, p_base: float, p_cand: float, repeat: int, threshold: float, cases: int = 1
) -> float:
    rng = random.Random(seed)
    hits = sum(
        simulate(rng, p_base, p_cand, repeat, threshold, cases).counts.regressions > 0
        for _ in range(SIMULATIONS)
    )
    return hits / SIMULATIONS


def exact_regression_probability(
    p_base: float, p_cand: float, repeat: int, threshold: float, alpha: float = 0.05
) -> float:
    """P(a verdict flip pass -> fail that the test calls significant), by enumerating all outcomes."""

    def binomial(k: int, p: float) -> float:
        return math.comb(repeat, k) * p**k * (1 - p) ** (repeat - k)

    total = 0.0
    for a in range(repeat + 1):
        for c in range(repeat + 1):
            flip = a / repeat + 1e-9 >= threshold > c / repeat + 1e-9
            if flip and fisher_exact_one_sided(a, repeat - a, c, repeat - c) <= alpha:
                total += binomial(a, p_base) * binomial(c, p_cand)
    return total


def test_noise_only_false_alarm_rate_stays_below_alpha() -> None:
    """Same true pass rate 0.7 on both sides, repeat 10, threshold 0.7 (so verdicts flip often).

    One case per simulation; a false alarm is a simulation in which that case is called a regression.
    """
    rate = regression_rate(seed=1, p_base=0.7, p_cand=0.7, repeat=10, threshold=0.7)
    exact = exact_regression_probability(0.7, 0.7, 10, 0.7)
    flips = 0
    rng = random.Random(1)
    for _ in range(SIMULATIONS):
        report = simulate(rng, 0.7, 0.7, 10, 0.7)
        flips += report.counts.flaky + report.counts.regressions + report.counts.fixes
    print(
        f"\nnoise only (p=0.7 both sides, repeat 10, threshold 0.7, {SIMULATIONS} simulations): "
        f"false-alarm rate {rate:.1%} (exact {exact:.2%}, alpha 5%); "
        f"verdict flips seen in {flips / SIMULATIONS:.0%} of simulations"
    )
    assert rate <= 0.05
    assert flips / SIMULATIONS > 0.3  # the flips happened; the test kept them from being called regressions


def test_noise_only_suite_of_20_cases_shows_the_multiple_comparison_cost() -> None:
    """Per-case alpha is not a per-suite guarantee: documented, measured, bounded by 1-(1-p)^20."""
    rate = regression_rate(seed=2, p_base=0.7, p_cand=0.7, repeat=10, threshold=0.7, cases=20)
    per_case = exact_regression_probability(0.7, 0.7, 10, 0.7)
    bound = 1 - (1 - per_case) ** 20
    print(
        f"\nnoise only, suites of 20 cases: share of runs with >= 1 false regression {rate:.1%} "
        f"(expected {bound:.1%})"
    )
    assert rate <= bound + 0.1


def test_planted_40_point_drop_detection_rate() -> None:
    """0.9 -> 0.5 (a 40-point drop), threshold 0.7 (midway).

    At repeat 10 a one-sided Fisher exact test at alpha 0.05 cannot reach 95 % power for
    this drop: the exact probability is about 47 %. The test checks the measured rate
    against the exact figure, and that repeat 40 detects the same drop in >= 95 %.
    """
    at_10 = regression_rate(seed=3, p_base=0.9, p_cand=0.5, repeat=10, threshold=0.7)
    exact_10 = exact_regression_probability(0.9, 0.5, 10, 0.7)
    at_40 = regression_rate(seed=4, p_base=0.9, p_cand=0.5, repeat=40, threshold=0.7)
    exact_40 = exact_regression_probability(0.9, 0.5, 40, 0.7)
    print(
        f"\nplanted drop 0.9 -> 0.5, threshold 0.7, {SIMULATIONS} simulations: detected "
        f"{at_10:.1%} at repeat 10 (exact {exact_10:.1%}), {at_40:.1%} at repeat 40 (exact {exact_40:.1%})"
    )
    assert abs(at_10 - exact_10) < 0.1
    assert 0.35 < at_10 < 0.6
    assert at_40 >= 0.95


# --- suite-level test: simulations ---------------------------------------------------------------


def binomial_pmf(n: int, p: float) -> list[float]:
    return [math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1)]


def pooled_pmf(rates: list[float], repeat: int) -> list[float]:
    """Distribution of the passes of a suite: the sum of one Binomial(repeat, p) per case."""
    total = [1.0]
    for rate in rates:
        pmf = binomial_pmf(repeat, rate)
        out = [0.0] * (len(total) + repeat)
        for i, x in enumerate(total):
            for j, y in enumerate(pmf):
                out[i + j] += x * y
        total = out
    return total


def exact_suite_drop_probability(
    base_rates: list[float], cand_rates: list[float], repeat: int, alpha: float = 0.05
) -> float:
    """P(the pooled test calls a significant drop), by enumerating the pooled passes of both sides."""
    base, cand = pooled_pmf(base_rates, repeat), pooled_pmf(cand_rates, repeat)
    n = len(base) - 1
    total = 0.0
    for a in range(n + 1):
        # the p-value falls as the candidate's passes fall, so every c up to the first significant one counts
        c = a - 1
        while c >= 0 and fisher_exact_one_sided(a, n - a, c, n - c) > alpha:
            c -= 1
        total += base[a] * sum(cand[: c + 1])
    return total


def suite_rates(seed: int, rates: Any, repeat: int = 10, threshold: float = 0.7) -> dict[str, float]:
    """Share of SIMULATIONS with a significant pooled drop, with any case regression, and with exit 1.

    ``rates(rng)`` draws the per-case ``(baseline, candidate)`` true pass probabilities of one simulation.
    """
    rng = random.Random(seed)
    suite = case = failed = 0
    cases_called = 0.0
    for _ in range(SIMULATIONS):
        drawn = rates(rng)
        report = simulate_cases(rng, drawn, repeat, threshold)
        assert len(report.suites) == 1 and report.suites[0].pooled_cases == len(drawn)
        suite += report.suites[0].significant_drop
        case += report.counts.regressions > 0
        failed += report.exit_code == 1
        cases_called += report.counts.regressions / len(drawn)
    return {
        "suite": suite / SIMULATIONS,
        "any_case": case / SIMULATIONS,
        "exit_1": failed / SIMULATIONS,
        "per_case": cases_called / SIMULATIONS,
    }


def test_suite_test_noise_only_false_alarm_rate_stays_below_alpha() -> None:
    """Suites of 10 cases × repeat 10, each case's true pass probability drawn from uniform(0.5, 0.95)
    per simulation and the same on both sides; threshold 0.7.

    Pooling cases with different pass probabilities is conservative: the exact false-alarm probability
    for probabilities spread evenly over 0.50–0.95 is below the one at their common mean.
    """

    def heterogeneous(rng: random.Random) -> list[tuple[float, float]]:
        drawn = [rng.uniform(0.5, 0.95) for _ in range(10)]
        return [(p, p) for p in drawn]

    rates = suite_rates(seed=5, rates=heterogeneous)
    spread = [0.5 + 0.05 * i for i in range(10)]
    exact_spread = exact_suite_drop_probability(spread, spread, 10)
    exact_mean = exact_suite_drop_probability([0.725] * 10, [0.725] * 10, 10)
    print(
        f"\nnoise only, suites of 10 cases x repeat 10, p ~ U(0.5, 0.95) per case, {SIMULATIONS} "
        f"simulations: suite-level false alarms {rates['suite']:.1%} (alpha 5%; exact {exact_spread:.2%} "
        f"for p spread 0.50-0.95, {exact_mean:.2%} for p = 0.725 in every case); runs with >= 1 false "
        f"case regression {rates['any_case']:.1%}; exit 1 (either level) {rates['exit_1']:.1%}"
    )
    assert rates["suite"] <= 0.05
    assert exact_spread <= exact_mean <= 0.05


def test_suite_test_detects_a_planted_40_point_drop_in_a_suite_of_10_cases() -> None:
    """Every case of a 10-case suite drops from 0.9 to 0.5, repeat 10, threshold 0.7.

    Each case alone is caught only about half of the time at an uncorrected alpha, and far less after
    Holm over ten cases; the 100 samples a side catch the drop of the suite in practically every run.
    """
    rates = suite_rates(seed=6, rates=lambda rng: [(0.9, 0.5)] * 10)
    exact = exact_suite_drop_probability([0.9] * 10, [0.5] * 10, 10)
    print(
        f"\nplanted drop 0.9 -> 0.5 in all 10 cases, repeat 10, {SIMULATIONS} simulations: suite-level "
        f"detection {rates['suite']:.1%} (exact {exact:.4%}); cases called regressions one by one "
        f"{rates['per_case']:.1%} on average; exit 1 {rates['exit_1']:.1%}"
    )
    assert rates["suite"] >= 0.95
    assert 0.02 < rates["per_case"] < 0.35


def test_suite_test_detection_in_a_suite_of_3_cases() -> None:
    """The same drop in a 3-case suite at repeat 10: 30 samples a side sit at the edge.

    Pooled Fisher at a full alpha would find it 95.4 % of the time; the stratified test holds a fifth
    of the report's alpha until a case falls, so it finds it somewhat less often.
    """
    rates = suite_rates(seed=7, rates=lambda rng: [(0.9, 0.5)] * 3)
    exact = exact_suite_drop_probability([0.9] * 3, [0.5] * 3, 10)
    print(
        f"\nplanted drop 0.9 -> 0.5 in all 3 cases, repeat 10, {SIMULATIONS} simulations: suite-level "
        f"detection {rates['suite']:.1%} (exact {exact:.1%}); cases called regressions one by one "
        f"{rates['per_case']:.1%} on average"
    )
    assert 0.8 <= rates["suite"] <= exact + 0.03
    assert 0.94 < exact < 0.96


# --- suite-level test: fields and verdict ---------------------------------------------------------

POOLED_FIELDS = {
    "pooled_cases",
    "baseline_samples_pooled",
    "baseline_samples_passed",
    "candidate_samples_pooled",
    "candidate_samples_passed",
    "baseline_sample_pass_rate",
    "candidate_sample_pass_rate",
    "sample_delta",
    "p_value",
    "significant_drop",
}


def test_broad_drop_without_a_case_regression_fails_the_report() -> None:
    """Ten cases each drop from 9/10 to 6/10 but still pass their 0.5 threshold: no case flips."""
    base = [r for i in range(10) for r in repeated(f"c{i}", 9, 10, threshold=0.5)]
    cand = [r for i in range(10) for r in repeated(f"c{i}", 6, 10, threshold=0.5)]
    report = compare(base, cand)
    suite = report.suites[0]
    assert report.counts.regressions == 0 and report.counts.flaky == 0
    assert (suite.pooled_cases, suite.baseline_samples_passed, suite.baseline_samples_pooled) == (10, 90, 100)
    assert (suite.candidate_samples_passed, suite.candidate_samples_pooled) == (60, 100)
    assert suite.baseline_sample_pass_rate == 0.9 and suite.candidate_sample_pass_rate == 0.6
    assert suite.sample_delta == pytest.approx(-0.3)
    tens = [10] * 10
    assert suite.p_value == pytest.approx(cmh_one_sided([9] * 10, tens, [6] * 10, tens).p_value)
    assert suite.p_value < 1e-5 and suite.significant_drop
    assert report.suite_regressions == 1
    assert (report.status, report.exit_code) == ("regressed", 1)
    text = render_drift_text(report)
    assert "samples passed (10 cases)" in text and "90/100 (90%)" in text and "60/100 (60%)" in text
    assert "−30 pts, suite drop significant (p < 0.001)" in text
    assert "REGRESSED: 0 regressions, 0 fixes" in text
    assert "; suite s [m] drop significant (p < 0.001)" in text
    steady = repeated("d", 9, 10, threshold=0.8)
    flaky = render_drift_text(
        compare(repeated("c", 9, 10, threshold=0.8) + steady, repeated("c", 7, 10, threshold=0.8) + steady)
    )
    assert "18/20 (90%)" in flaky and "16/20 (80%)" in flaky and "−10 pts (p = 0.33)" in flaky
    assert "NO REGRESSIONS: 0 regressions, 0 fixes, 0 changed, 1 flaky" in flaky
    # the same drop in one case is within noise at the suite level too
    single = compare(repeated("c", 9, 10, threshold=0.5), repeated("c", 6, 10, threshold=0.5))
    assert not single.suites[0].significant_drop and single.exit_code == 0


def test_suite_test_pools_only_paired_cases_with_output_and_tests_the_direction_of_change() -> None:
    base = (
        repeated("a", 5, 10)
        + repeated("b", 5, 10)
        + repeated("gone", 0, 10)
        + [sample("down", True, index=i) for i in range(3)]
    )
    cand = (
        repeated("a", 10, 10)
        + repeated("b", 8, 9)
        + [sample("b", None, index=9, error="Timeout")]
        + repeated("new", 0, 10)
        + [sample("down", None, index=i, error="Timeout") for i in range(3)]
    )
    suite = compare(base, cand).suites[0]
    # added, removed and errored cases are left out; the errored sample of b is left out of its side
    assert suite.pooled_cases == 2
    assert (suite.baseline_samples_passed, suite.baseline_samples_pooled) == (10, 20)
    assert (suite.candidate_samples_passed, suite.candidate_samples_pooled) == (18, 19)
    # the rate rose, so the p-value is the one for a rise, and it is no drop
    assert suite.p_value == pytest.approx(cmh_one_sided([5, 5], [10, 10], [10, 8], [10, 9], "rise").p_value)
    assert suite.p_value < 0.05 and not suite.significant_drop


def test_suite_test_pools_single_sample_cases() -> None:
    """One sample per case and side: each case is compared directly, the suite test pools the cases."""
    report = compare([sample(f"c{i}", True) for i in range(10)], [sample(f"c{i}", i < 3) for i in range(10)])
    suite = report.suites[0]
    assert report.counts.regressions == 7 and only_case(report, "c5").method == "deterministic"
    assert suite.p_value == pytest.approx(1 / 128)  # seven strata of 1 vs 0, each 1/2 under no change
    assert suite.significant_drop and report.suite_regressions == 1
    small = compare([sample("a", True), sample("b", True)], [sample("a", False), sample("b", True)]).suites[0]
    assert small.p_value == 0.5 and not small.significant_drop


def test_reports_without_the_suite_test_fields_still_validate() -> None:
    """Reports saved before the suite-level test (no pooled fields) load with neutral defaults."""
    data = json.loads(compare([sample("a", True)], [sample("a", False)]).model_dump_json())
    assert POOLED_FIELDS <= data["suites"][0].keys()
    del data["suite_regressions"]
    data["suites"] = [{k: v for k, v in suite.items() if k not in POOLED_FIELDS} for suite in data["suites"]]
    old = DriftReport.model_validate(data)
    assert old.suite_regressions == 0 and old.suites[0].p_value is None and not old.suites[0].significant_drop


# --- case statuses ------------------------------------------------------------------------------


def test_single_sample_flips_are_deterministic_regressions_and_fixes() -> None:
    report = compare(
        [sample("a", True, "refund"), sample("b", False, "question"), sample("c", True, "refund")],
        [sample("a", False, "bug"), sample("b", True, "refund"), sample("c", True, "refund")],
    )
    regression, fix, same = only_case(report, "a"), only_case(report, "b"), only_case(report, "c")
    assert (regression.status, fix.status, same.status) == ("regression", "fix", "unchanged")
    assert regression.method == "deterministic" and regression.p_value is None
    assert regression.delta == -1.0 and fix.delta == 1.0
    assert regression.candidate.failed_assertions[0].reason == "expected 'refund', got 'bug'"
    assert regression.baseline.output_excerpt == "refund" and regression.candidate.output_excerpt == "bug"
    assert "-refund" in regression.diff.text_diff and "+bug" in regression.diff.text_diff
    assert report.exit_code == 1 and report.status == "regressed"


def test_repeated_flip_needs_significance() -> None:
    report = compare(
        repeated("sig", 10, 10, threshold=0.8) + repeated("noise", 8, 10, threshold=0.8),
        repeated("sig", 3, 10, threshold=0.8) + repeated("noise", 7, 10, threshold=0.8),
    )
    sig, noise = only_case(report, "sig"), only_case(report, "noise")
    assert sig.status == "regression" and sig.method == "fisher-exact one-sided"
    assert sig.p_value == pytest.approx(fisher_exact_one_sided(10, 0, 3, 7))
    assert noise.status == "flaky" and noise.p_value > 0.05
    assert sig.candidate.pass_rate == 0.3
    assert sig.candidate.interval.low == pytest.approx(wilson_interval(3, 10)[0])
    assert report.counts.regressions == 1 and report.counts.flaky == 1


def test_significant_fix_and_flaky_fix() -> None:
    report = compare(
        repeated("up", 2, 10) + repeated("meh", 9, 10), repeated("up", 10, 10) + repeated("meh", 10, 10)
    )
    assert only_case(report, "up").status == "fix"
    assert only_case(report, "meh").status == "flaky"
    assert report.exit_code == 0


def test_mixed_samples_without_a_verdict_flip_are_not_flaky() -> None:
    report = compare(repeated("c", 6, 10, threshold=0.5), repeated("c", 9, 10, threshold=0.5))
    case = only_case(report, "c")
    assert case.status == "unchanged" and case.delta == pytest.approx(0.3)


def test_errors_when_a_side_has_no_output() -> None:
    base = [sample("down", True), sample("partial", True, index=0), sample("partial", True, index=1)]
    cand = [
        sample("down", None, error="RateLimitError"),
        sample("partial", None, index=0, error="Timeout"),
        sample("partial", True, index=1),
    ]
    report = compare(base, cand)
    down, partial = only_case(report, "down"), only_case(report, "partial")
    assert down.status == "error" and down.candidate.verdict == "error"
    assert down.candidate.error.type == "RateLimitError"
    # one of two samples passed, the other timed out: at threshold 1.0 the missing answer could still
    # fail the case, so it has no verdict, as `promptops test` says (see test_verdicts.py)
    assert partial.status == "error" and partial.candidate.verdict == "error"
    assert partial.candidate.pass_rate == 1.0 and partial.candidate.errored_samples == 1
    assert report.status == "error" and report.exit_code == 3


def test_regression_wins_over_errors_for_the_exit_code() -> None:
    report = compare(
        [sample("a", True), sample("b", True)], [sample("a", False), sample("b", None, error="Timeout")]
    )
    assert report.exit_code == 1


def test_added_and_removed_cases() -> None:
    report = compare(
        [sample("kept", True), sample("gone", True)], [sample("kept", True), sample("new", False)]
    )
    assert only_case(report, "gone").status == "removed" and only_case(report, "gone").candidate is None
    assert only_case(report, "new").status == "added" and only_case(report, "new").baseline is None
    assert (report.counts.added, report.counts.removed, report.exit_code) == (1, 1, 0)


# --- output diffs -------------------------------------------------------------------------------


def test_json_diff_lists_changed_added_and_removed_paths() -> None:
    old = '{"category": "refund", "priority": 2, "tags": ["billing"], "note": "x"}'
    new = (
        '```json\n{"category": "bug", "priority": 2.0, "tags": ["billing", "app"], '
        '"owner": {"team": "a"}}\n```'
    )
    report = compare([sample("j", True, old)], [sample("j", True, new)])
    case = only_case(report, "j")
    assert case.status == "changed" and case.diff.kind == "json"
    changes = {(c.path, c.change): (c.old, c.new) for c in case.diff.json_changes}
    assert changes == {
        ("$.category", "changed"): ("refund", "bug"),
        ("$.tags[1]", "added"): (None, "app"),
        ("$.owner", "added"): (None, {"team": "a"}),
        ("$.note", "removed"): ("x", None),
    }


def test_json_with_the_same_data_is_unchanged_however_formatted() -> None:
    report = compare(
        [sample("j", True, '{"a": 1, "b": [1, 2]}')], [sample("j", True, '{\n  "b": [1, 2],\n  "a": 1.0\n}')]
    )
    assert only_case(report, "j").status == "unchanged" and only_case(report, "j").diff is None


def test_json_type_change_and_odd_keys() -> None:
    diff = diff_outputs('{"n": 1, "two words": [1]}', '{"n": "1", "two words": [1]}')
    assert diff is not None
    assert [(c.path, c.change, c.old, c.new) for c in diff.json_changes] == [("$.n", "changed", 1, "1")]
    diff = diff_outputs('{"two words": 1}', '{"two words": 2}')
    assert diff is not None and diff.json_changes[0].path == '$["two words"]'


def test_similarity_is_difflibs_ratio() -> None:
    """The compiled matcher drift uses gives the standard library's ratio, short texts and long."""
    rng = random.Random(4)
    words = "the a refund bug charge app crash twice money back order late wrong item".split()
    for _ in range(300):
        old = " ".join(rng.choice(words) for _ in range(rng.choice([1, 8, 60, 400])))
        new = old.replace("refund", "return") if rng.random() < 0.3 else " ".join(rng.sample(words, 5))
        expected = difflib.SequenceMatcher(None, normalise_text(old), normalise_text(new)).ratio()
        assert text_similarity(old, new) == (1.0 if normalise_text(old) == normalise_text(new) else expected)


def test_text_diff_is_difflibs_unified_diff() -> None:
    """One-line answers are diffed without the matcher; every shape of text gives difflib's diff."""
    rng = random.Random(6)
    pieces = ["a", "b", " ", "\n", "\r", "\r\n", "\x0b", "\u2028", "x" * 250, ""]
    for _ in range(3000):
        old = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 6)))
        new = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 6)))
        if old == new:
            continue
        diff = diff_outputs(old, new)
        lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), "baseline", "candidate", n=1))
        shown = [line.rstrip("\n") for line in lines[:30]]
        expected = "\n".join(line if len(line) <= 200 else line[:199] + "…" for line in shown)
        assert diff is not None and (diff.text_diff, diff.truncated) == (expected, len(lines) > 30)


@pytest.mark.parametrize(
    "text",
    ["", " ", "refund", "x{}", "1", '"{}"', "null", "[", "{", ' {"a": 1}', "\u00a0{}", "\x1c[1]", "\ufeff{}"]
    + ['```json\n{"a": 1}\n```', " ```\n[1]\n```", "I think: {a}"],
)
def test_only_text_that_cannot_be_a_json_container_skips_the_parse(text: str) -> None:
    try:
        value = parse_json_output(text)
    except ValueError:
        value = None
    assert _json_container(text) == (value if isinstance(value, (dict, list)) else None)


def test_text_drift_beyond_threshold_is_changed_and_small_rewording_is_not() -> None:
    base = [
        sample("reworded", True, "The capital of France is Paris."),
        sample("layout", True, "Paris is the capital"),
        sample("drifted", True, "Refund issued. Sorry for the trouble!"),
    ]
    cand = [
        sample("reworded", True, "The capital of France is Paris!"),
        sample("layout", True, "  PARIS is\nthe   capital "),
        sample("drifted", True, "refund"),
    ]
    report = compare(base, cand)
    assert only_case(report, "reworded").status == "unchanged"
    assert only_case(report, "layout").status == "unchanged"
    drifted = only_case(report, "drifted")
    assert drifted.status == "changed" and drifted.diff.kind == "text"
    assert drifted.diff.similarity < 0.8
    assert "-Refund issued." in drifted.diff.text_diff and "+refund" in drifted.diff.text_diff
    # a stricter threshold calls the small rewording a change too
    strict = compare(base, cand, change_threshold=0.99)
    assert only_case(strict, "reworded").status == "changed"
    assert text_similarity("A  b", "a B") == 1.0


def test_text_diff_is_capped() -> None:
    old = "\n".join(f"line {i}" for i in range(100))
    new = "\n".join(f"other {i}" for i in range(100))
    diff = diff_outputs(old, new)
    assert diff is not None and diff.truncated
    assert len(diff.text_diff.splitlines()) == 30


def test_both_failing_with_drifted_output_is_changed() -> None:
    report = compare([sample("c", False, "question")], [sample("c", False, "I cannot classify this ticket")])
    case = only_case(report, "c")
    assert case.status == "changed" and case.baseline.verdict == case.candidate.verdict == "failed"
    assert report.exit_code == 0


def test_representative_output_is_the_most_common_agreeing_output() -> None:
    base = [sample("c", True, "refund", index=i, threshold=0.5) for i in range(3)]
    cand = [
        sample("c", True, "Refund", index=0, threshold=0.5),
        sample("c", True, "refund, clearly", index=1, threshold=0.5),
        sample("c", True, "refund, clearly", index=2, threshold=0.5),
        sample("c", False, "bug", index=3, threshold=0.5),
    ]
    case = only_case(compare(base, cand), "c")
    assert case.candidate.verdict == "passed" and case.candidate.output_excerpt == "refund, clearly"
    # with the default threshold 1.0 the case fails, and the failing output stands for it
    strict = [r.model_copy(update={"threshold": 1.0}) for r in cand]
    assert only_case(compare(base, strict), "c").candidate.output_excerpt == "bug"


# --- pairing ------------------------------------------------------------------------------------


def test_pairs_by_model_when_aliases_are_shared() -> None:
    base = [sample("a", True, model="x"), sample("a", True, model="y")]
    cand = [sample("a", True, model="x"), sample("a", False, model="y")]
    report = compare(base, cand)
    assert [s.pairing for s in report.suites] == ["model", "model"]
    assert only_case(report, "a", "y").status == "regression"
    assert only_case(report, "a", "x").status == "unchanged"
    assert (report.baseline_label, report.candidate_label) == ("base", "cand")


def test_pairs_by_case_across_two_different_models() -> None:
    report = compare([sample("a", True, model="default")], [sample("a", False, model="gemma")])
    case = only_case(report, "a")
    assert (case.baseline_model, case.candidate_model, case.status) == ("default", "gemma", "regression")
    assert report.suites[0].pairing == "case"
    assert (report.baseline_label, report.candidate_label) == ("default", "gemma")


def test_pairing_is_decided_per_suite() -> None:
    base = [sample("a", True, model="default", suite="s1"), sample("b", True, model="fake", suite="s2")]
    cand = [sample("a", True, model="gemma", suite="s1"), sample("b", True, model="fake", suite="s2")]
    report = compare(base, cand)
    assert {s.suite: s.pairing for s in report.suites} == {"s1": "case", "s2": "model"}


def test_a_model_on_one_side_only_gives_added_cases() -> None:
    report = compare(
        [sample("a", True, model="x")], [sample("a", True, model="x"), sample("a", True, model="y")]
    )
    assert only_case(report, "a", "y").status == "added"
    assert [(s.baseline is None, s.pairing) for s in report.suites] == [(False, "model"), (True, None)]


def test_unpairable_models_are_a_usage_error() -> None:
    base = [sample("a", True, model="x1"), sample("a", True, model="x2")]
    cand = [sample("a", True, model="y1")]
    with pytest.raises(UsageError, match="cannot pair the cases of suite 's'"):
        compare(base, cand)


def test_runs_without_a_shared_suite_are_a_usage_error() -> None:
    with pytest.raises(UsageError, match="share no suite"):
        compare([sample("a", True, suite="s1")], [sample("a", True, suite="s2")])
    with pytest.raises(UsageError, match="no results"):
        compare([], [sample("a", True)])


def test_prompt_versions_label_the_sides_when_models_match() -> None:
    report = compare(
        [sample("a", True, prompt_version="1.0.0", fingerprint="a" * 16)],
        [sample("a", True, prompt_version="1.1.0", fingerprint="b" * 16)],
    )
    assert (report.baseline_label, report.candidate_label) == ("support/triage@1.0.0", "support/triage@1.1.0")
    same_version = compare(
        [sample("a", True, fingerprint="a" * 16)], [sample("a", True, fingerprint="b" * 16)]
    )
    assert same_version.candidate_label == "support/triage@1.0.0 (bbbbbbbb)"
    labelled = compare(
        [sample("a", True)], [sample("a", True)], baseline_label="main", candidate_label="HEAD"
    )
    assert (labelled.baseline_label, labelled.candidate_label) == ("main", "HEAD")


# --- suite totals, schema, saved runs, text -----------------------------------------------------


def test_suite_summary_rates_latency_and_cost() -> None:
    base = [sample(f"c{i}", True, latency_ms=100.0 * (i + 1), cost_usd=0.001) for i in range(4)]
    cand = [sample(f"c{i}", i < 2, latency_ms=50.0, cost_usd=None if i == 0 else 0.001) for i in range(4)]
    suite = compare(base, cand).suites[0]
    assert suite.baseline.pass_rate == 1.0 and suite.candidate.pass_rate == 0.5
    assert suite.delta == -0.5
    assert suite.candidate.interval.low == pytest.approx(wilson_interval(2, 4)[0])
    assert suite.baseline.latency_p50_ms == 250.0 and suite.baseline.latency_p95_ms == pytest.approx(385.0)
    assert suite.baseline.cost_per_1k_calls_usd == pytest.approx(1.0)
    assert suite.candidate.cost_per_1k_calls_usd is None  # one call's cost is unknown
    assert (suite.counts.regressions, suite.counts.unchanged) == (2, 2)


def test_schema_is_versioned_documented_and_strict() -> None:
    schema = drift_schema()
    assert schema["properties"]["version"]["default"] == 1
    assert "regressed" in schema["properties"]["status"]["description"]
    case_fields = schema["$defs"]["CaseDrift"]["properties"]
    assert {"status", "p_value", "diff", "gap", "baseline", "candidate"} <= case_fields.keys()
    assert all("description" in field for field in case_fields.values())
    suite_fields = schema["$defs"]["SuiteDrift"]["properties"]
    assert POOLED_FIELDS <= suite_fields.keys()
    assert all("description" in suite_fields[name] for name in POOLED_FIELDS)
    assert "description" in schema["properties"]["suite_regressions"]
    report = compare([sample("a", True)], [sample("a", False)])
    data = json.loads(report.model_dump_json())
    assert DriftReport.model_validate(data) == report
    with pytest.raises(ValidationError):
        DriftReport.model_validate({**data, "unexpected": 1})


def write_run(folder: Path, run_id: str, results: list[SampleResult], *, resumes: int = 0) -> SavedRun:
    run_meta = meta(run_id).model_copy(update={"resumes": resumes})
    writer = RunWriter(folder / run_id, run_meta)
    for result in results:
        writer.append(result)
    writer.close()
    return SavedRun(folder / run_id, run_meta)


def test_compare_runs_reads_run_folders_and_keeps_the_last_result_per_call(tmp_path: Path) -> None:
    base = write_run(tmp_path, "r1", [sample("a", True), sample("b", True)])
    # a resumed run: b errored, then its retry passed
    cand = write_run(
        tmp_path, "r2", [sample("a", False), sample("b", None, error="Timeout"), sample("b", True)], resumes=1
    )
    report = compare_runs(base, cand)
    assert (report.baseline_run, report.candidate_run) == ("r1", "r2")
    assert only_case(report, "b").status == "unchanged"
    assert only_case(report, "b").candidate.samples == 1
    assert report.exit_code == 1


def test_drift_tallies_every_case_as_promptops_test_does(tmp_path: Path) -> None:
    """Drift counts its most common samples (passing, no judge) without ``CaseTally.add``'s calls, and reads
    saved runs as lean rows; each case side must still equal the verdict ``promptops test`` gives it."""
    rng = random.Random(11)
    results = []
    for case in range(30):
        for index in range(rng.choice([1, 3, 10])):
            kind = rng.choice(["pass", "pass", "pass", "fail", "error", "judged", "no-latency"])
            result = sample(
                f"c{case}",
                None if kind == "error" else kind != "fail",
                rng.choice(["refund", "Refund", "bug", ""]),
                index=index,
                threshold=rng.choice([1.0, 0.6]),
                error="Timeout" if kind == "error" else None,
                latency_ms=rng.uniform(1, 900),
                cost_usd=rng.choice([0.001, None]),
                reason=rng.choice(["expected 'refund'", "expected 'bug'"]),
            )
            if kind == "judged":
                votes = [rng.choice([True, False, None]) for _ in range(3)]
                judge = JudgeTrace(model="j", model_id="openai/j", votes=votes)
                graded = AssertionOutcome(type="llm-rubric", passed=True, score=1.0, reason="ok", judge=judge)
                result = result.model_copy(update={"assertions": [graded, *result.assertions]})
            if kind == "no-latency":
                result = result.model_copy(update={"latency_ms": None})
            results.append(result)
    rng.shuffle(results)  # completion order
    run = write_run(tmp_path, "r1", results)
    summary = summarize(run.meta.model_copy(update={"planned_calls": len(results)}), results)
    report = compare_runs(run, run)
    # the lean rows of a saved run and the results themselves give the same report
    assert report == compare_results(run.meta, results, run.meta, results)
    for verdict in summary.cases:
        side = only_case(report, verdict.case).candidate
        assert side is not None
        assert (
            side.verdict,
            side.samples,
            side.passed_samples,
            side.errored_samples,
            side.pass_rate,
            side.threshold,
            side.duration_ms,
            side.failed_assertions,
            side.error,
        ) == (
            verdict.status,
            verdict.samples,
            verdict.passed_samples,
            verdict.errored_samples,
            verdict.pass_rate,
            verdict.threshold,
            verdict.duration_ms,
            verdict.failed_assertions,
            verdict.error,
        ), verdict.case


def test_text_report_lists_regressions_first_with_reasons_and_verdict() -> None:
    base = [
        sample("a", True, "refund", gap="skill"),
        sample("j", True, '{"x": 1}'),
        sample("f", False, "nope"),
    ]
    base += repeated("noisy", 9, 10, threshold=0.8)
    cand = [sample("a", False, "bug", gap="skill"), sample("j", True, '{"x": 2}'), sample("f", True, "ok")]
    cand += repeated("noisy", 7, 10, threshold=0.8)
    text = render_drift_text(compare(base, cand, baseline_label="default", candidate_label="gemma"))
    assert text.index("Regressions (1)") < text.index("Fixes (1)") < text.index("Changed outputs (1)")
    assert text.index("Changed outputs (1)") < text.index("Flaky")
    assert "✗ s::a [m]  passed 1/1 → 0/1 (one sample per side)  gap hint: skill" in text
    assert "equals: expected 'refund', got 'bug'" in text
    assert "baseline: 'refund'" in text and "candidate: 'bug'" in text
    assert "~ $.x: 1 → 2" in text
    assert "passed 9/10 → 7/10 (p = " in text
    assert "pass rate" in text and "−25 pts" in text and "cost / 1k calls" in text
    assert "REGRESSED: 1 regression, 1 fix, 1 changed, 1 flaky, 0 errors" in text
    assert "default → gemma" in text


# --- commands against the fake server -----------------------------------------------------------

DRIFT_SUITE = """\
prompt: support/triage
cases:
  - id: refund-basic
    vars: {ticket: "I was charged twice, please give my money back"}
    gap: skill
    assert:
      - {type: equals, value: refund}
  - id: crash
    vars: {ticket: "The app crashes when I open settings"}
    assert:
      - {type: icontains, value: bug}
  - id: login
    vars: {ticket: "I cannot log in"}
    assert:
      - {type: icontains, value: question}
"""

ANSWERS = {
    "fake-model": {"charged twice": "refund", "crashes": "bug", "log in": "question"},
    # regresses refund-basic, keeps crash with a longer answer (changed), same login answer
    "other-model": {
        "charged twice": "bug",
        "crashes": "This is a bug in the settings screen of the app",
        "log in": "question",
    },
}


def answer_per_model(messages: list[dict[str, Any]], body: dict[str, Any]) -> str:
    ticket = messages[-1]["content"]
    for needle, text in ANSWERS[body["model"]].items():
        if needle in ticket:
            return text
    return "question"


@pytest.fixture
def drift_project(make_project, fake_server: FakeOpenAIServer) -> Path:
    fake_server.state.default_answer = answer_per_model
    return make_project({"suites/triage.yaml": DRIFT_SUITE})


def saved_run_ids(root: Path) -> list[str]:
    """Run ids in the order the runs were made (ids of one second sort by a random suffix)."""
    folders = (root / ".promptops" / "runs").iterdir()
    return [p.name for p in sorted(folders, key=lambda p: (p / "meta.json").stat().st_mtime_ns)]


def test_compare_command_reports_regressions_and_exits_1(drift_project: Path, run_cli) -> None:
    assert run_cli("test", "-m", "fake").exit_code == 0
    assert run_cli("test", "-m", "other").exit_code == 1
    first, second = saved_run_ids(drift_project)
    result = run_cli("compare", first, second)
    assert result.exit_code == 1, result.output
    assert "Regressions (1)" in result.output
    assert "triage::refund-basic [fake → other]" in result.output
    assert "Changed outputs (1)" in result.output and "triage::crash" in result.output
    assert "REGRESSED: 1 regression, 0 fixes, 1 changed" in result.output

    result = run_cli("compare", first, second, "--format", "json")
    report = json.loads(result.stdout)
    assert report["version"] == 1 and report["exit_code"] == 1
    assert (report["baseline_label"], report["candidate_label"]) == ("fake", "other")
    assert {c["case"]: c["status"] for c in report["cases"]} == {
        "refund-basic": "regression",
        "crash": "changed",
        "login": "unchanged",
    }
    regression = next(c for c in report["cases"] if c["status"] == "regression")
    assert regression["gap"] == "skill"
    assert regression["candidate"]["failed_assertions"][0]["reason"] == "expected 'refund', got 'bug'"

    # the reverse direction is a fix, and the exit code is 0
    result = run_cli("compare", second, first, "-o", str(drift_project / "drift.json"), "--format", "json")
    assert result.exit_code == 0 and "NO REGRESSIONS" in result.output
    assert json.loads((drift_project / "drift.json").read_text())["counts"]["fixes"] == 1


def test_compare_same_run_with_latest_is_clean(drift_project: Path, run_cli) -> None:
    run_cli("test", "-m", "fake")
    result = run_cli("compare", "latest", "latest")
    assert result.exit_code == 0, result.output
    assert "NO REGRESSIONS: 0 regressions" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(("nope", "latest"), "no run 'nope'", id="unknown-run"),
        pytest.param(("latest", "latest", "--alpha", "2"), "--alpha", id="bad-alpha"),
    ],
)
def test_compare_bad_input_exits_2(drift_project: Path, run_cli, args: tuple[str, ...], message: str) -> None:
    run_cli("test", "-m", "fake")
    result = run_cli("compare", *args)
    assert result.exit_code == 2
    assert message in result.output


def test_compare_incompatible_runs_exits_2(drift_project: Path, run_cli) -> None:
    (drift_project / "suites" / "other.yaml").write_text(DRIFT_SUITE)
    run_cli("test", "suites/triage.yaml", "-m", "fake")
    run_cli("test", "suites/other.yaml", "-m", "fake", "-m", "other")
    first, second = saved_run_ids(drift_project)
    result = run_cli("compare", first, second)
    assert result.exit_code == 2 and "share no suite" in result.output
    run_cli("test", "suites/triage.yaml", "-m", "fake", "-m", "other")
    third = saved_run_ids(drift_project)[-1]
    # fake+other against a fake-only run pairs the shared model: the other model's cases are added
    assert run_cli("compare", first, third).exit_code == 0


def test_drift_command_runs_both_models_and_exits_1(
    drift_project: Path, run_cli, fake_server: FakeOpenAIServer
) -> None:
    result = run_cli("drift", "--baseline", "fake", "--candidate", "other")
    assert result.exit_code == 1, result.output
    assert "Drift fake → other" in result.output
    assert "triage::refund-basic [fake → other]" in result.output
    assert len(saved_run_ids(drift_project)) == 2
    assert {body["model"] for body in fake_server.state.requests} == {"fake-model", "other-model"}


def test_drift_command_with_repeats_json_and_output(drift_project: Path, run_cli) -> None:
    out = drift_project / "drift.json"
    result = run_cli(
        "drift",
        "--baseline",
        "fake",
        "--candidate",
        "other",
        "--repeat",
        "3",
        "--no-cache",
        "--filter",
        "refund*",
        "--format",
        "json",
        "-o",
        str(out),
    )
    assert result.exit_code == 1, result.output
    assert "Regressions (1)" in result.output  # the text summary prints; the JSON goes to the file
    report = json.loads(out.read_text())
    case = report["cases"][0]
    assert (case["case"], case["status"]) == ("refund-basic", "regression")
    assert case["method"] == "fisher-exact one-sided"
    assert case["baseline"]["samples"] == 3 and case["p_value"] == pytest.approx(0.05)


def test_drift_command_without_regressions_exits_0(drift_project: Path, run_cli) -> None:
    result = run_cli(
        "drift", "--baseline", "fake", "--candidate", "other", "--filter", "login", "--format", "json"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "ok"


def test_drift_command_unknown_model_exits_2_before_any_call(
    drift_project: Path, run_cli, fake_server: FakeOpenAIServer
) -> None:
    result = run_cli("drift", "--baseline", "fake", "--candidate", "nosuch")
    assert result.exit_code == 2
    assert "nosuch" in result.output
    assert fake_server.state.requests == []


def test_building_a_report_freezes_nothing_it_cannot_unfreeze(monkeypatch: pytest.MonkeyPatch) -> None:
    """After litellm's import was frozen, drift holds the collector but freezes nothing of its own:
    objects frozen for good would be finalized only at exit (a loaded local model complains then)."""
    import gc

    from promptops import drift
    from promptops.providers import litellm_adapter

    before = gc.get_freeze_count()
    monkeypatch.setattr(litellm_adapter, "_import_frozen", True)
    with drift._young_collections_only() as tick:
        kept = [[index] for index in range(5000)]
        tick()
        assert not gc.isenabled()
    assert gc.get_freeze_count() == before and gc.isenabled() and len(kept) == 5000
    monkeypatch.setattr(litellm_adapter, "_import_frozen", before > 0)
    if before == 0:  # nothing frozen before: drift's own freeze is undone afterwards
        with drift._young_collections_only():
            assert gc.get_freeze_count() > 0
        assert gc.get_freeze_count() == 0
