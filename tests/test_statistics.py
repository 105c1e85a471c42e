"""Statistics of drift reports against hand-checked values and exhaustive enumeration."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from promptops.statistics import (
    Batch,
    BatchOutcome,
    SequentialDesign,
    SequentialState,
    adjust,
    adjust_family,
    case_evidence_bar,
    cmh_one_sided,
    fisher_one_sided,
    fisher_power,
    minimum_detectable_drop,
    repeats_for_power,
    risk_difference,
    run_sequential,
    sequential_update,
)


def _fisher_by_hand(xb: int, nb: int, xc: int, nc: int) -> float:
    total, passes = nb + nc, xb + xc
    top = min(nb, passes)
    return sum(
        math.comb(passes, x) * math.comb(total - passes, nb - x) for x in range(xb, top + 1)
    ) / math.comb(total, nb)


def test_fisher_matches_the_lady_tasting_tea() -> None:
    # Fisher's own example: 3 of 4 right against 1 of 4, one-sided p = 17/70
    assert fisher_one_sided([3], [4], [1], [4])[0] == pytest.approx(17 / 70, abs=1e-12)
    assert fisher_one_sided([1], [4], [3], [4], "rise")[0] == pytest.approx(17 / 70, abs=1e-12)


def test_fisher_vectorised_matches_integer_sums() -> None:
    rng = np.random.default_rng(0)
    tables = [
        (int(rng.integers(0, nb + 1)), nb, int(rng.integers(0, nc + 1)), nc)
        for nb, nc in rng.integers(1, 25, (300, 2)).tolist()
    ]
    got = fisher_one_sided(*zip(*tables, strict=False))
    want = [_fisher_by_hand(*t) for t in tables]
    assert np.allclose(got, want, atol=1e-10)


def test_fisher_is_one_without_samples_on_a_side() -> None:
    assert fisher_one_sided([0, 3], [0, 3], [2, 0], [5, 0]).tolist() == [1.0, 1.0]


def test_fisher_in_log_space_handles_large_tables() -> None:
    # 5,000 vs 4,800 passes out of 10,000 each: math.comb would need 3,000-digit integers
    p = fisher_one_sided([5000], [10000], [4800], [10000])[0]
    assert 0 < p < 1e-2
    assert fisher_one_sided([5000], [10000], [5000], [10000])[0] > 0.5


def _cmh_by_enumeration(tables: list[tuple[int, int, int, int]]) -> float:
    laws = []
    for xb, nb, xc, nc in tables:
        total, passes = nb + nc, xb + xc
        low, high = max(0, nb - (total - passes)), min(nb, passes)
        laws.append(
            [
                (x, math.comb(passes, x) * math.comb(total - passes, nb - x) / math.comb(total, nb))
                for x in range(low, high + 1)
            ]
        )
    observed = sum(t[0] for t in tables)
    return sum(
        math.prod(p for _, p in combo)
        for combo in itertools.product(*laws)
        if sum(x for x, _ in combo) >= observed
    )


def test_cmh_one_stratum_is_fisher() -> None:
    assert cmh_one_sided([9], [10], [5], [10]).p_value == pytest.approx(
        _fisher_by_hand(9, 10, 5, 10), abs=1e-12
    )


def test_cmh_matches_enumeration_over_strata() -> None:
    rng = np.random.default_rng(1)
    for _ in range(40):
        tables = []
        for nb, nc in rng.integers(1, 7, (3, 2)).tolist():
            tables.append((int(rng.integers(0, nb + 1)), nb, int(rng.integers(0, nc + 1)), nc))
        result = cmh_one_sided(*zip(*tables, strict=False))
        assert result.method == "cmh-exact"
        assert result.p_value == pytest.approx(_cmh_by_enumeration(tables), abs=1e-9)


def test_cmh_does_not_pool_easy_and_hard_cases() -> None:
    # an easy case that stayed at 10/10 and a hard one that stayed at 1/10: no change at all
    assert cmh_one_sided([10, 1], [10, 10], [10, 1], [10, 10]).p_value > 0.5


def test_cmh_window_around_the_mean_matches_the_full_law(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(2)
    xb, xc = rng.binomial(10, 0.7, 20000), rng.binomial(10, 0.7, 20000)
    tens = np.full(20000, 10)
    windowed = [cmh_one_sided(xb, tens, xc, tens, alt).p_value for alt in ("drop", "rise")]
    monkeypatch.setattr("promptops.statistics._WINDOW_TAIL", 1e-300)  # wide enough to hold the whole law
    full = [cmh_one_sided(xb, tens, xc, tens, alt).p_value for alt in ("drop", "rise")]
    assert windowed == pytest.approx(full, abs=1e-10)
    assert 0 < windowed[0] < 1 and windowed[0] + windowed[1] >= 1


def test_risk_difference_is_a_mean_over_cases() -> None:
    rd = risk_difference([10, 5], [10, 10], [8, 5], [10, 10])
    assert rd is not None
    assert rd.estimate == pytest.approx(-0.1)
    assert rd.low < -0.1 < rd.high
    assert risk_difference([1], [0], [1], [3]) is None


def test_holm_adjusted_values_by_hand() -> None:
    result = adjust([0.01, 0.04, 0.03, 0.005], [1, 1, 1, 1], 0.05)
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4·0.005, 3·0.01, 2·0.03, max(0.06, 0.04)
    assert result.p_adjusted.tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert result.rejected.tolist() == [True, False, False, True]


def test_benjamini_hochberg_by_hand() -> None:
    result = adjust([0.01, 0.04, 0.03, 0.005], [1, 1, 1, 1], 0.05, "bh")
    assert result.p_adjusted.tolist() == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert result.rejected.all()


def test_weighted_holm_and_untested_hypotheses() -> None:
    # weight 3 against 1: the first holds 3/4 of alpha
    result = adjust([0.03, 0.02, float("nan")], [3, 1, 1], 0.05)
    assert result.p_adjusted[0] == pytest.approx(0.04)
    assert result.p_adjusted[1] == pytest.approx(0.04)
    assert not result.rejected[2] and math.isnan(result.p_adjusted[2])
    with pytest.raises(ValueError):
        adjust([0.1], [1], 0.05, "bonferroni")  # type: ignore[arg-type]


def test_family_gives_suites_a_fifth_of_alpha() -> None:
    cases, suites = adjust_family([0.002, 0.5], [0.009], 0.05)
    # case weight 0.4 each, suite 0.2: 0.002 / 0.4 -> 0.005, 0.009 / 0.2 -> 0.045 after the first falls
    assert cases.rejected.tolist() == [True, False]
    assert suites.rejected.tolist() == [True]
    assert case_evidence_bar(20, 1, 0.05) == pytest.approx(math.log(20 / (0.05 * 0.8)))
    assert case_evidence_bar(0, 0, 0.05) == math.inf


def test_fisher_power_against_enumeration() -> None:
    # at n = 10 the old docs quote 47 % for 0.9 -> 0.5 at alpha 0.05
    assert fisher_power(0.9, 0.5, 10, 0.05) == pytest.approx(0.4713, abs=5e-4)
    assert fisher_power(0.9, 0.9, 10, 0.05) <= 0.05


def test_minimum_detectable_drop_and_repeats() -> None:
    mde = minimum_detectable_drop(0.9, 30, 0.05)
    assert mde is not None and 0.1 < mde < 0.5
    assert fisher_power(0.9, 0.9 - mde, 30, 0.05) >= 0.8 - 1e-9
    assert minimum_detectable_drop(0.9, 1, 0.0025) is None
    n = repeats_for_power(0.9, 0.5, 0.05, 0.95)
    assert n is not None and fisher_power(0.9, 0.5, n, 0.05) >= 0.95 > fisher_power(0.9, 0.5, n - 3, 0.05)
    assert repeats_for_power(0.5, 0.9, 0.05, 0.8) is None


def test_design_rejects_bad_values() -> None:
    for bad in ({"max_repeat": 0}, {"initial": 0}, {"odds_ratio": 1.0}, {"min_drop": 1.5}):
        with pytest.raises(ValueError):
            SequentialDesign(**bad)  # type: ignore[arg-type]


def test_e_process_is_a_supermartingale_under_no_change() -> None:
    # exact expectation of one batch's factor at equal rates, for bets around several pooled rates
    design = SequentialDesign()
    for rate in (0.05, 0.3, 0.7, 0.97):
        for passed in (0, 3, 8):
            state = SequentialState.start(1)
            state.pairs[:] = 8
            state.base_passed[:] = passed
            state.cand_passed[:] = passed
            total = 0.0
            for xb, xc in itertools.product((0, 1), repeat=2):
                probe = SequentialState.start(1)
                probe.pairs[:], probe.base_passed[:], probe.cand_passed[:] = 8, passed, passed
                sequential_update(probe, design, 50.0, [True], [xb], [xc], [1])
                weight = (rate if xb else 1 - rate) * (rate if xc else 1 - rate)
                total += weight * math.exp(probe.log_e[0])
            assert total <= 1 + 1e-12


def test_sequential_loop_stops_deterministic_cases_at_one_sample() -> None:
    rng = np.random.default_rng(5)
    rates = np.array([0.7, 0.7, 0.9])
    cand = np.array([0.7, 0.7, 0.2])

    def draw(batch: Batch) -> BatchOutcome:
        n = batch.requests
        return BatchOutcome(n, rng.binomial(n, rates), rng.binomial(n, cand))

    state = run_sequential(SequentialDesign(), [True, False, False], case_evidence_bar(3, 1, 0.05), draw)
    assert state.pairs[0] == 1 and state.reason[0] == "deterministic"
    assert state.decided.all()
    assert state.reason[2] == "drop" and state.p_values[2] <= 0.05 * 0.8 / 3
    assert 4 <= state.pairs[1] <= 80


def test_sequential_loop_respects_the_cap() -> None:
    def draw(batch: Batch) -> BatchOutcome:
        # always 70 % against 60 %: neither a drop worth the bar nor ruled out quickly
        n = batch.requests
        return BatchOutcome(n, (n * 7) // 10, (n * 6) // 10)

    state = run_sequential(SequentialDesign(max_repeat=10), [False], 20.0, draw)
    assert state.pairs[0] <= 10 and state.decided[0]
