from __future__ import annotations

import click

from promptops.cli.compare import drift_options, emit_drift_report
from promptops.cli.options import make_run_options, max_repeat_option, run_options, sequential_design


@click.command("drift")
@click.argument("suites", nargs=-1)
@click.option("--baseline", required=True, metavar="MODEL", help="Model alias or id to compare against.")
@click.option("--candidate", required=True, metavar="MODEL", help="Model alias or id under review.")
@run_options
@max_repeat_option
@click.option("--no-cache", is_flag=True, help="Do not answer from the response cache (answers refresh it).")
@click.option("--replay", is_flag=True, help="Answer only from the cache and committed recordings.")
@drift_options
def command(
    suites: tuple[str, ...],
    baseline: str,
    candidate: str,
    repeat: int | str | None,
    concurrency: int | None,
    case_filter: str | None,
    timeout: float | None,
    shard: str | None,
    judge_repeat: int,
    max_repeat: int | None,
    no_cache: bool,
    replay: bool,
    alpha: float,
    correction: str,
    semantic: bool,
    fmt: str,
    output: str | None,
) -> None:
    """Run SUITES (default: all) on a baseline and a candidate model and report the drift.

    Use --repeat N (N > 1) to separate real regressions from sampling noise, or --repeat
    auto to sample each case only until its comparison is decided. Exit 1 when any
    case regressed, 2 on invalid input, 3 when a case errored, else 0.
    """
    from promptops.cli.progress import make_progress
    from promptops.config import load_project
    from promptops.drift import compare_runs, run_two_sides
    from promptops.plan import build_plan
    from promptops.results import SavedRun
    from promptops.suites import load_suites

    design = sequential_design(repeat, max_repeat)
    project = load_project()
    loaded = load_suites(project, suites)
    # both plans are built first, so a bad candidate model fails before any baseline call is made
    plans = [
        build_plan(
            project,
            loaded,
            make_run_options(
                (model,),
                None if design else repeat,
                concurrency,
                case_filter,
                timeout,
                shard,
                no_cache=no_cache,
                replay=replay,
                judge_repeat=judge_repeat,
            ),
        )
        for model in (baseline, candidate)
    ]
    sides = run_two_sides(plans[0], plans[1], design, alpha, make_progress)
    runs = [SavedRun(outcome.folder, outcome.meta) for outcome in (sides.baseline, sides.candidate)]
    report = compare_runs(
        runs[0],
        runs[1],
        alpha=alpha,
        baseline_label=baseline,
        candidate_label=candidate,
        correction=correction,  # type: ignore[arg-type]
        sequential=sides.sequential or None,
        semantic=semantic,
    )
    raise SystemExit(emit_drift_report(project, report, runs[1], fmt, output))
