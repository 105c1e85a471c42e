"""promptops at 100,000 cases: loading and planning, and drift between two saved runs.

    python benchmarks/scale.py                  # 100,000 cases, drift at repeat 10 (about a minute)
    python benchmarks/scale.py --cases 10000    # a smaller run of the same figures

Loading and planning run ``load_suites`` and ``build_plan`` on suites of 1,000
cases each (as a team splits a large test set), in a fresh process so the
figure includes imports. Drift reads two saved runs of ``cases × repeat``
results written in promptops' own run-record format (one line per call with
every field, as ``RunWriter`` writes them) and times ``promptops drift``'s
comparison, statistics included, also in a fresh process. The candidate fails
one case in 100 on 6 of its 10 samples: drops too small for one case to be
significant among 100,000, but clear for the suite as a whole. A second pair of
runs answers every case in other words on each side (as after a model upgrade),
so drift also measures and diffs 100,000 changed outputs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.run import KEY_ENV, make_project, peak_rss_mib  # noqa: E402

LOAD_BUDGET_S = 3.0
DRIFT_BUDGET_S = 10.0


def row(name: str, value: str, budget: str, ratio: str = "") -> None:
    print(f"  {name:<52} {value:>12}   budget {budget:<10} {ratio}")


def load_probe(folder: str) -> None:
    """Child mode: load and plan the project in ``folder``; print seconds and peak RSS."""
    started = time.perf_counter()
    from promptops.config import load_project
    from promptops.plan import RunOptions, build_plan
    from promptops.suites import load_suites

    os.chdir(folder)
    project = load_project()
    plan = build_plan(project, load_suites(project), RunOptions(concurrency=32, use_cache=False))
    calls = plan.count()
    wall = time.perf_counter() - started
    print(json.dumps({"wall_s": wall, "calls": calls, "peak_rss_mib": peak_rss_mib()}))


def drift_probe(baseline: str, candidate: str) -> None:
    """Child mode: compare two saved runs as ``promptops drift`` does; print seconds and peak RSS."""
    started = time.perf_counter()
    from promptops.drift import compare_runs
    from promptops.results import RunMeta, SavedRun

    runs = [
        SavedRun(Path(f), RunMeta.model_validate_json((Path(f) / "meta.json").read_text()))
        for f in (baseline, candidate)
    ]
    report = compare_runs(runs[0], runs[1], alpha=0.05)
    wall = time.perf_counter() - started
    figures = {
        "wall_s": wall,
        "cases": len(report.cases),
        "changed": report.counts.changed,
        "flaky": report.counts.flaky,
        "regressions": report.counts.regressions,
        "suite_regressions": report.suite_regressions,
        "peak_rss_mib": peak_rss_mib(),
    }
    print(json.dumps(figures))


def write_run(
    folder: Path, run_id: str, model: str, cases: int, repeat: int, fail_every: int, answer: str = "refund"
) -> None:
    """A saved run of ``cases`` cases × ``repeat`` samples on one suite, as ``RunWriter`` leaves it.

    ``answer`` is the passing output; ``{case}`` in it becomes the case id, so each case answers
    in words of its own.
    """
    from promptops.results import AssertionOutcome, RunMeta, SampleResult, SuitePlan

    folder.mkdir(parents=True)
    meta = RunMeta(
        run_id=run_id,
        started_at="2026-01-01T00:00:00+00:00",
        promptops_version="bench",
        project_root=str(folder),
        suites=[
            SuitePlan(
                name="bench",
                file="suites/bench.yaml",
                prompt="triage",
                prompt_version="1.0.0",
                prompt_fingerprint="f" * 16,
                models=[model],
                cases=cases,
            )
        ],
        models={model: f"openai/{model}"},
        planned_calls=cases * repeat,
        repeat=repeat,
    )
    (folder / "meta.json").write_text(meta.model_dump_json())
    lines = {}
    for passed in (True, False):
        template = SampleResult(
            suite="bench",
            case="CASE",
            model=model,
            model_id=f"openai/{model}",
            sample=0,
            prompt="triage",
            prompt_version="1.0.0",
            prompt_fingerprint="f" * 16,
            output=answer.format(case="@CASE@") if passed else "bug",
            passed=passed,
            score=1.0 if passed else 0.0,
            assertions=[
                AssertionOutcome(
                    type="contains",
                    passed=passed,
                    score=float(passed),
                    reason="ok" if passed else "missing 'refund'",
                )
            ],
            latency_ms=200.0,
            prompt_tokens=20,
            completion_tokens=2,
            cost_usd=0.00001,
            request_key="k" * 64,
        ).model_dump_json()  # every field, defaults included, as RunWriter.append writes a result
        # the case and sample are spliced in by plain replacement: a million lines in a few seconds
        assert '"sample":0' in template
        lines[passed] = template.replace('"case":"CASE"', '"case":"@CASE@"').replace(
            '"sample":0', '"sample":@N@'
        )
    with open(folder / "results.jsonl", "w") as handle:
        for case in range(cases):
            for sample in range(repeat):
                passed = not (fail_every and case % fail_every == 0 and sample < repeat // 2 + 1)
                handle.write(
                    lines[passed].replace("@CASE@", f"case-{case:06d}").replace("@N@", str(sample)) + "\n"
                )


def drift_row(name: str, baseline: Path, candidate: Path) -> None:
    drift = child("--drift-probe", str(baseline), str(candidate))
    row(
        name,
        f"{drift['wall_s']:.2f} s",
        f"< {DRIFT_BUDGET_S:.0f} s",
        f"{drift['wall_s'] / DRIFT_BUDGET_S:.2f}x of budget, peak RSS {drift['peak_rss_mib']:.0f} MiB",
    )
    print(
        f"  (drift: {drift['cases']:,} cases, {drift['changed']:,} changed, {drift['flaky']:,} flaky, "
        f"{drift['regressions']} case regressions, {drift['suite_regressions']} suite regression)"
    )


def child(*args: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"probe failed: {proc.stderr[-2000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--load-probe", help=argparse.SUPPRESS)
    parser.add_argument("--drift-probe", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load_probe:
        load_probe(args.load_probe)
        return
    if args.drift_probe:
        drift_probe(*args.drift_probe)
        return

    os.environ[KEY_ENV] = "sk-bench"
    work = Path(tempfile.mkdtemp(prefix="promptops-scale-"))
    try:
        print(f"promptops at scale ({os.cpu_count()} cores, Python {sys.version.split()[0]})")
        make_project(work / "p", "http://127.0.0.1:9/v1", args.cases, 32)
        load = child("--load-probe", str(work / "p"))
        row(
            f"load + plan {args.cases:,} cases (fresh process)",
            f"{load['wall_s']:.2f} s",
            f"< {LOAD_BUDGET_S:.0f} s",
            f"{load['wall_s'] / LOAD_BUDGET_S:.2f}x of budget, peak RSS {load['peak_rss_mib']:.0f} MiB",
        )
        # the candidate fails 1 case in 100 on most samples: real drops among many unchanged cases
        write_run(work / "base", "base", "fake", args.cases, args.repeat, fail_every=0)
        write_run(work / "cand", "cand", "fake", args.cases, args.repeat, fail_every=100)
        drift_row(f"drift, two runs of {args.cases:,} cases x {args.repeat}", work / "base", work / "cand")
        shutil.rmtree(work / "base")
        shutil.rmtree(work / "cand")
        old, new = "I think {case} is a refund request.", "Ticket {case} looks like a refund request to me."
        write_run(work / "base", "base", "fake", args.cases, args.repeat, fail_every=0, answer=old)
        write_run(work / "cand", "cand", "fake", args.cases, args.repeat, fail_every=100, answer=new)
        drift_row("  the same, every answer reworded", work / "base", work / "cand")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
