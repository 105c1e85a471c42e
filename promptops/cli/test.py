from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from promptops.config import Project
    from promptops.plan import RunOptions
    from promptops.statistics import SequentialDesign

from promptops.cli.compare import correction_option
from promptops.cli.options import (
    REPORT_FORMATS,
    format_option,
    make_run_options,
    max_repeat_option,
    model_option,
    output_option,
    run_options,
    sequential_design,
)


@click.command("test")
@click.argument("suites", nargs=-1)
@model_option
@run_options
@max_repeat_option
@click.option(
    "--no-cache", is_flag=True, help="Do not answer from the response cache (answers still refresh it)."
)
@click.option(
    "--replay",
    is_flag=True,
    help="Answer only from the cache and committed recordings; never call a provider (keyless CI).",
)
@click.option(
    "--base-ref",
    metavar="REF",
    default=None,
    help="Also run the suites with the prompts as they are at git REF and report the drift.",
)
@click.option(
    "--alpha",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.05,
    show_default=True,
    help="With --base-ref: level of the drift report (the chance of any false regression).",
)
@correction_option
@click.option(
    "--resume",
    metavar="RUN",
    default=None,
    help="Finish an interrupted run (id, id prefix or 'latest'); finished calls are not repeated.",
)
@click.option(
    "--diagnose",
    is_flag=True,
    help="Then probe the failing cases under controlled changes (see `promptops diagnose`).",
)
@format_option(REPORT_FORMATS)
@output_option
def command(
    suites: tuple[str, ...],
    models: tuple[str, ...],
    repeat: int | str | None,
    concurrency: int | None,
    case_filter: str | None,
    timeout: float | None,
    shard: str | None,
    judge_repeat: int,
    max_repeat: int | None,
    no_cache: bool,
    replay: bool,
    base_ref: str | None,
    alpha: float,
    correction: str,
    resume: str | None,
    diagnose: bool,
    fmt: str,
    output: str | None,
) -> None:
    """Run golden suites (default: all under the suites folder) and report the verdict.

    Exit 0 when every case passes, 1 when any fails, 2 on invalid input, 3 when
    calls failed after retries (or missed in --replay) so no verdict was possible.
    """
    from promptops.cli.progress import make_progress, report_outcome
    from promptops.config import load_project
    from promptops.errors import UsageError
    from promptops.plan import build_plan
    from promptops.results import open_run
    from promptops.runner import options_from_meta, run_plan
    from promptops.suites import load_suites

    project = load_project()
    _start_provider_import(project, no_cache=no_cache, replay=replay)
    if base_ref and resume:
        raise UsageError("--resume and --base-ref cannot be combined")
    design = sequential_design(repeat, max_repeat) if base_ref else None
    options = make_run_options(
        models,
        None if design else repeat,
        concurrency,
        case_filter,
        timeout,
        shard,
        no_cache=no_cache,
        replay=replay,
        judge_repeat=judge_repeat,
    )
    if base_ref:
        code = run_test_against_ref(
            project, suites, options, base_ref, alpha, correction, design, fmt, output
        )
        raise SystemExit(code)
    if max_repeat is not None:
        raise UsageError("--max-repeat caps --repeat auto, which needs --base-ref (or promptops drift)")
    saved = open_run(project.runs_dir, resume) if resume else None
    if saved is not None:
        # a resumed run keeps the options it was started with; where answers come from (the cache,
        # --replay) is the caller's choice
        suite_files, options = options_from_meta(saved.meta)
        options = dataclasses.replace(options, use_cache=not no_cache, replay=replay or options.replay)
        suites = tuple(str(project.root / f) for f in suite_files)
    plan = build_plan(project, load_suites(project, suites), options)
    outcome = run_plan(plan, progress=make_progress(), resume=saved)
    code = report_outcome(project, outcome, fmt, output)
    if diagnose and code == 1:
        from promptops.cli.diagnose import run_diagnose
        from promptops.escalation.probes import DEFAULT_BUDGET
        from promptops.results import SavedRun

        run = SavedRun(outcome.folder, outcome.meta)
        run_diagnose(project, run, plan.suites, DEFAULT_BUDGET, None, options.replay)
    raise SystemExit(code)


def _start_provider_import(project: Project, *, no_cache: bool, replay: bool) -> None:
    """Import litellm in the background while suites load and plans build, when calls are certain.

    With --no-cache, or no response cache yet, the run's calls go to a provider, so litellm's
    import (~2 s) overlaps the work before them; a run the cache may answer whole never imports it.
    Plugins load first, so a provider they register is in litellm's map when the import sets it up.
    """
    from promptops.cache import CACHE_FILE

    if replay or not (no_cache or not (project.state_dir / CACHE_FILE).exists()):
        return
    from promptops.assertions import load_plugins
    from promptops.providers import import_in_background

    load_plugins()
    import_in_background()


def run_test_against_ref(
    project: Project,
    suites: tuple[str, ...],
    options: RunOptions,
    base_ref: str,
    alpha: float,
    correction: str,
    design: SequentialDesign | None,
    fmt: str,
    output: str | None,
) -> int:
    """``test --base-ref``: the drift from prompts at REF to the working tree; exit 1 on regressions.

    A case new in the working tree that fails also gives exit 1.
    """
    from promptops.cli.compare import emit_drift_report
    from promptops.cli.progress import make_progress, report_outcome
    from promptops.drift import compare_runs, run_two_sides
    from promptops.refs import plans_against_ref
    from promptops.results import SavedRun
    from promptops.runner import run_plan
    from promptops.versions import prompt_changes

    base_plan, candidate_plan = plans_against_ref(project, suites, options, base_ref)
    if base_plan is None:
        candidate = run_plan(candidate_plan, progress=make_progress())
        click.echo(
            f"no suite's prompt exists at {base_ref}: nothing to compare; plain test results follow", err=True
        )
        return report_outcome(project, candidate, fmt, output)
    sides = run_two_sides(base_plan, candidate_plan, design, alpha, make_progress)
    base, candidate = sides.baseline, sides.candidate
    report = compare_runs(
        SavedRun(base.folder, base.meta),
        SavedRun(candidate.folder, candidate.meta),
        alpha=alpha,
        baseline_label=base_ref,
        candidate_label="working tree",
        correction=correction,  # type: ignore[arg-type]
        sequential=sides.sequential or None,
    )
    changed = {s.candidate.prompt for s in report.suites if s.candidate is not None}
    report.prompts = prompt_changes(project, base_ref, sorted(changed))
    code = emit_drift_report(project, report, SavedRun(candidate.folder, candidate.meta), fmt, output)
    new_failures = [
        c for c in report.cases if c.status == "added" and c.candidate and c.candidate.verdict == "failed"
    ]
    if code == 0 and new_failures:
        click.echo(
            f"{len(new_failures)} new case(s) fail: "
            + ", ".join(f"{c.suite}::{c.case}" for c in new_failures)
        )
        return 1
    return code
