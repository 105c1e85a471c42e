from __future__ import annotations

import click

from promptops.cli.options import model_option


@click.group("golden")
def command() -> None:
    """Accepted ("golden") outputs that the `golden` assertion compares with."""


@command.command("update")
@click.argument("suites", nargs=-1)
@model_option
@click.option("--filter", "case_filter", metavar="GLOB", default=None, help="Only matching case ids.")
@click.option("--no-cache", is_flag=True, help="Call the providers even for cached answers.")
def update(suites: tuple[str, ...], models: tuple[str, ...], case_filter: str | None, no_cache: bool) -> None:
    """Accept the current outputs of SUITES as golden, per case and model alias.

    Writes suites/<suite>.golden.yaml (with prompt version, fingerprint and
    model); review the diff and commit it.
    """
    from promptops.capture import update_goldens
    from promptops.cli.progress import make_progress
    from promptops.config import load_project
    from promptops.plan import RunOptions, build_plan
    from promptops.suites import load_suites

    project = load_project()
    options = RunOptions(models=models, repeat=1, filter=case_filter, use_cache=not no_cache)
    plan = build_plan(project, load_suites(project, suites), options)
    written, errors = update_goldens(plan, progress=make_progress())
    for path, count in written:
        click.echo(f"wrote {count} golden outputs to {path}")
    if errors:
        click.echo(f"error: {errors} calls failed; their cases keep their previous golden output", err=True)
        raise SystemExit(3)
