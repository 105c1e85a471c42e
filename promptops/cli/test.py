from __future__ import annotations

import sys
from pathlib import Path

import click

from promptops.cli.options import format_option, model_option, output_option



@click.command("test")
@click.argument("suites", nargs=-1)
@model_option
@click.option("--repeat", type=click.IntRange(min=1), default=None, help="Samples per case and model.")
@click.option("-j", "--concurrency", type=click.IntRange(min=1), default=None,
              help="Model calls in flight (default: run.concurrency).")
@click.option("--filter", "case_filter", metavar="GLOB", default=None,
              help="Only cases whose id (or suite::id) matches the glob.")
@click.option("--timeout", type=click.FloatRange(min=0.001), default=None, help="Per-call timeout in seconds.")
@format_option(("text", "json"))
@output_option
def command(
    suites: tuple[str, ...], models: tuple[str, ...], repeat: int | None, concurrency: int | None,
    case_filter: str | None, timeout: float | None, fmt: str, output: str | None,
) -> None:
    """Run golden suites (default: all under the suites folder) and report the verdict.

    Exit 0 when every case passes, 1 when any fails, 2 on invalid input, 3 when
    calls failed after retries so no verdict was possible.
    """
    from promptops.cli.progress import make_progress
    from promptops.config import load_project
    from promptops.reports import render_report
    from promptops.runner import RunOptions, build_plan, run_plan
    from promptops.suites import load_suites

    project = load_project()
    options = RunOptions(models, repeat, concurrency, case_filter, timeout)
    plan = build_plan(project, load_suites(project, suites), options)
    outcome = run_plan(plan, progress=make_progress())
    folder = project.relpath(outcome.folder)
    report = render_report(outcome.summary, fmt, meta=outcome.meta, run_folder=folder)
    if output:
        Path(output).write_text(report, encoding="utf-8")
    if output or fmt == "text":
        color = sys.stdout.isatty()
        click.echo(render_report(outcome.summary, "text", meta=outcome.meta, run_folder=folder, color=color),
                   nl=False)
    else:
        click.echo(report, nl=False)
    raise SystemExit(outcome.summary.exit_code)
