from __future__ import annotations

import dataclasses

import click

from promptops.cli.options import format_option, model_option, output_option, run_options


@click.command("test")
@click.argument("suites", nargs=-1)
@model_option
@run_options
@click.option("--no-cache", is_flag=True, help="Do not answer from the response cache (answers still refresh it).")
@click.option("--replay", is_flag=True,
              help="Answer only from the cache and committed recordings; never call a provider (keyless CI).")
@click.option("--resume", metavar="RUN", default=None,
              help="Finish an interrupted run (id, id prefix or 'latest'); finished calls are not repeated.")
@format_option(("text", "json"))
@output_option
def command(
    suites: tuple[str, ...], models: tuple[str, ...], repeat: int | None, concurrency: int | None,
    case_filter: str | None, timeout: float | None, shard: str | None, no_cache: bool, replay: bool,
    resume: str | None, fmt: str, output: str | None,
) -> None:
    """Run golden suites (default: all under the suites folder) and report the verdict.

    Exit 0 when every case passes, 1 when any fails, 2 on invalid input, 3 when
    calls failed after retries (or missed in --replay) so no verdict was possible.
    """
    from promptops.cli.progress import make_progress, report_outcome
    from promptops.config import load_project
    from promptops.results import open_run
    from promptops.runner import RunOptions, build_plan, options_from_meta, parse_shard, run_plan
    from promptops.suites import load_suites

    project = load_project()
    saved = open_run(project.runs_dir, resume) if resume else None
    if saved is not None:
        suite_files, options = options_from_meta(saved.meta)
        options = dataclasses.replace(options, use_cache=not no_cache)
        suites = tuple(str(project.root / f) for f in suite_files)
    else:
        options = RunOptions(models, repeat, concurrency, case_filter, timeout,
                             parse_shard(shard) if shard else None, not no_cache, replay)
    plan = build_plan(project, load_suites(project, suites), options)
    outcome = run_plan(plan, progress=make_progress(), resume=saved)
    raise SystemExit(report_outcome(project, outcome, fmt, output))
