from __future__ import annotations

import click

from promptops.cli.options import make_run_options, model_option, run_options


@click.command("record")
@click.argument("suites", nargs=-1)
@model_option
@run_options
@click.option("--no-cache", is_flag=True, help="Call the providers even for cached answers.")
def command(
    suites: tuple[str, ...],
    models: tuple[str, ...],
    repeat: int | None,
    concurrency: int | None,
    case_filter: str | None,
    timeout: float | None,
    shard: str | None,
    judge_repeat: int,
    no_cache: bool,
) -> None:
    """Record the responses SUITES need into suites/<suite>.recording.yaml for keyless replay.

    Commit the recording files; `promptops test --replay` then runs without API
    keys or network. Entries of models not recorded now are kept.
    """
    from promptops.capture import record_suites
    from promptops.cli.progress import make_progress
    from promptops.config import load_project
    from promptops.plan import build_plan
    from promptops.suites import load_suites

    project = load_project()
    options = make_run_options(
        models,
        repeat,
        concurrency,
        case_filter,
        timeout,
        shard,
        no_cache=no_cache,
        replay=False,
        judge_repeat=judge_repeat,
    )
    plan = build_plan(project, load_suites(project, suites), options)
    written, errors = record_suites(plan, progress=make_progress())
    for path, count in written:
        click.echo(f"recorded {count} responses in {path}")
    if errors:
        click.echo(f"error: {errors} calls failed and were not recorded; run again to complete", err=True)
        raise SystemExit(3)
