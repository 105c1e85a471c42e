"""Calibration, power and speed of drift statistics on simulated Bernoulli cases (no server).

    python benchmarks/statistics/simulate.py            # 2,000 suites per scenario (about a minute)
    python benchmarks/statistics/simulate.py --suites 1000 --seed 7

Every simulated suite goes through the code the CLI runs: ``run_sequential`` (the
``--repeat auto`` loop, with Bernoulli draws in place of model calls), the
per-case Fisher tests and the stratified suite test, and ``adjust_family`` (the
report's Holm step). A suite "flags a regression" when any case or the suite
itself is rejected, exactly when ``promptops drift`` would exit 1 on a
regression.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from promptops.statistics import (  # noqa: E402  (the checkout's package, not an installed one)
    Batch,
    BatchOutcome,
    SequentialDesign,
    adjust_family,
    case_evidence_bar,
    cmh_one_sided,
    fisher_one_sided,
    minimum_detectable_drop,
    run_sequential,
)

ALPHA = 0.05


def simulate_auto(
    base: np.ndarray, cand: np.ndarray, design: SequentialDesign, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``--repeat auto`` over suites × cases (rows are suites): samples spent, passes and e-value p-values."""
    suites, cases = base.shape
    flat_base, flat_cand = base.ravel(), cand.ravel()

    def draw(batch: Batch) -> BatchOutcome:
        n = batch.requests
        return BatchOutcome(
            pairs=n, base_passed=rng.binomial(n, flat_base), cand_passed=rng.binomial(n, flat_cand)
        )

    # one report per suite, so each case's bar is that of a 20-case report with one suite test
    state = run_sequential(design, np.zeros(base.size, bool), case_evidence_bar(cases, 1, ALPHA), draw)
    shape = (suites, cases)
    return (
        state.pairs.reshape(shape),
        state.base_passed.reshape(shape),
        state.cand_passed.reshape(shape),
        state.p_values.reshape(shape),
        state.reason.reshape(shape),
    )


def flags(
    n: np.ndarray, base_passed: np.ndarray, cand_passed: np.ndarray, case_p: np.ndarray, method: str = "holm"
) -> tuple[np.ndarray, np.ndarray]:
    """Per suite: any regression flagged, and whether case 0 was."""
    any_flag = np.zeros(len(n), bool)
    first = np.zeros(len(n), bool)
    for i in range(len(n)):
        suite_p = cmh_one_sided(base_passed[i], n[i], cand_passed[i], n[i]).p_value
        cases, suite = adjust_family(case_p[i], [suite_p], ALPHA, method)  # type: ignore[arg-type]
        any_flag[i] = cases.rejected.any() or suite.rejected.any()
        first[i] = cases.rejected[0]
    return any_flag, first


def fixed(base: np.ndarray, cand: np.ndarray, repeat: int, rng: np.random.Generator):
    n = np.full(base.shape, repeat)
    xb, xc = rng.binomial(n, base), rng.binomial(n, cand)
    p = fisher_one_sided(xb.ravel(), n.ravel(), xc.ravel(), n.ravel()).reshape(base.shape)
    return n, xb, xc, p


def scenario(rates_base: list[float], rates_cand: list[float], suites: int) -> tuple[np.ndarray, np.ndarray]:
    return np.tile(rates_base, (suites, 1)), np.tile(rates_cand, (suites, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suites", type=int, default=2000, help="simulated suites per scenario (>= 1000)")
    parser.add_argument("--seed", type=int, default=20260301)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    design = SequentialDesign()
    size = 20
    print(
        f"{args.suites} simulated suites of {size} cases per scenario, alpha {ALPHA}, Holm over cases + suite"
    )
    print(f"--repeat auto design: {design}")
    print()

    null_b, null_c = scenario([0.7] * size, [0.7] * size, args.suites)
    drop_b, drop_c = scenario([0.9] + [0.7] * (size - 1), [0.5] + [0.7] * (size - 1), args.suites)

    print("no change, every case at 0.7: share of suites flagging any regression (target <= 5 %)")
    for label, data in (
        ("fixed --repeat 10, no correction (old) ", None),
        ("fixed --repeat 10, Holm               ", fixed(null_b, null_c, 10, rng)),
        ("--repeat auto, Holm                   ", None),
    ):
        if label.startswith("fixed --repeat 10, no"):
            n, xb, xc, p = fixed(null_b, null_c, 10, rng)
            share = (p <= ALPHA).any(axis=1).mean()
            print(f"  {label} {share:6.1%}")
            continue
        if data is None:
            started = time.perf_counter()
            n, xb, xc, p, _ = simulate_auto(null_b, null_c, design, rng)
            elapsed = time.perf_counter() - started
            any_flag, _ = flags(n, xb, xc, p)
            print(
                f"  {label} {any_flag.mean():6.1%}   mean samples per case per side {n.mean():.2f}"
                f"   ({elapsed:.1f} s)"
            )
        else:
            n, xb, xc, p = data
            any_flag, _ = flags(n, xb, xc, p)
            print(f"  {label} {any_flag.mean():6.1%}")

    print()
    print("one case drops 0.9 -> 0.5, 19 stay at 0.7: share of suites flagging that case (target >= 95 %)")
    n, xb, xc, p = fixed(drop_b, drop_c, 10, rng)
    print(f"  fixed --repeat 10, no correction (old)  {(p[:, 0] <= ALPHA).mean():6.1%}   samples 10.00")
    _, first = flags(n, xb, xc, p)
    print(f"  fixed --repeat 10, Holm                 {first.mean():6.1%}   samples 10.00")
    n, xb, xc, p, reason = simulate_auto(drop_b, drop_c, design, rng)
    _, first = flags(n, xb, xc, p)
    print(
        f"  --repeat auto, Holm                     {first.mean():6.1%}   mean samples per case per side "
        f"{n.mean():.2f} (dropping case {n[:, 0].mean():.1f}, others {n[:, 1:].mean():.2f})"
    )
    stops = {r: float((reason[:, 0] == r).mean()) for r in ("drop", "futile", "cap")}
    print("    dropping case stopped by: " + ", ".join(f"{k} {v:.1%}" for k, v in stops.items()))

    print()
    print("cheaper designs (the futility ratio trades power for samples):")
    for futility in (6.0, 10.0, 40.0):
        cheaper = SequentialDesign(futility=futility)
        n0, xb0, xc0, p0, _ = simulate_auto(null_b, null_c, cheaper, rng)
        any0, _ = flags(n0, xb0, xc0, p0)
        n1, xb1, xc1, p1, _ = simulate_auto(drop_b, drop_c, cheaper, rng)
        _, first = flags(n1, xb1, xc1, p1)
        print(
            f"  futility {futility:4.0f}: false alarms {any0.mean():5.1%} (mean samples {n0.mean():5.2f});"
            f" power {first.mean():5.1%} (mean samples {n1.mean():5.2f})"
        )

    print()
    print("calibration elsewhere (--repeat auto, no change): share flagging any regression")
    for rate, cases in ((0.5, 20), (0.9, 20), (0.7, 5), (0.7, 100), (0.97, 50)):
        b, c = scenario([rate] * cases, [rate] * cases, max(args.suites // 4, 250))
        n, xb, xc, p, _ = simulate_auto(b, c, design, rng)
        any_flag, _ = flags(n, xb, xc, p)
        print(f"  {cases:3d} cases at {rate:.2f}: {any_flag.mean():5.1%}   mean samples {n.mean():5.2f}")

    print()
    bound = information_bound()
    print(
        "information bound: any rule that flags the 0.9 -> 0.5 case 95 % of the time must spend at least "
        f"{bound:.1f} samples per side on each unchanged 0.7 case (Wald–Wolfowitz), so a mean of 12 over "
        "the suite is out of reach at 95 % power."
    )

    print()
    print("suite-level test (stratified exact CMH), cases of 10 samples per side:")
    for pooled in (100_000, 1_000_000):
        cases = pooled // 20
        xb = rng.binomial(10, 0.7, cases)
        xc = rng.binomial(10, 0.7, cases)
        tens = np.full(cases, 10)
        cmh_one_sided(xb, tens, xc, tens)
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            result = cmh_one_sided(xb, tens, xc, tens)
            runs.append(time.perf_counter() - started)
        print(f"  {pooled:>9,} pooled samples: {min(runs) * 1000:6.1f} ms ({result.method}; target < 50 ms)")

    print()
    print("power statements (Holm level of one case in a 20-case report, 80 % power):")
    level = ALPHA * 0.8 / 20
    for repeat in (3, 10, 30):
        mde = minimum_detectable_drop(0.9, repeat, level)
        text = "no drop" if mde is None else f"drops under {mde * 100:.0f} points"
        print(f"  at repeat {repeat:2d} a case passing 90 % cannot be told from noise for {text}")


def information_bound(beta: float = 0.05, false_flag: float = 0.0025) -> float:
    """Least expected samples per side for an unchanged 0.7 case (Wald–Wolfowitz), see docs/drift.md."""

    def kl(p: float, q: float) -> float:
        return p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))

    per_pair = kl(0.7, 0.9) + kl(0.7, 0.5)
    a = false_flag
    needed = (1 - a) * math.log((1 - a) / beta) + a * math.log(a / (1 - beta))
    return needed / per_pair


if __name__ == "__main__":
    main()
