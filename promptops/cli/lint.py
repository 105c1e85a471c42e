from __future__ import annotations

import click


@click.command("lint")
@click.option(
    "--base",
    "base_ref",
    metavar="REF",
    default=None,
    help="Also require a higher version for every prompt changed since git REF.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: a report that `promptops github comment --lint` shows on the pull request.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write the --format json report to this file (the findings still print).",
)
def command(base_ref: str | None, fmt: str, output: str | None) -> None:
    """Validate config, prompts and suites without calling a model.

    Exit 1 when there are errors (warnings alone exit 0), 2 when the config
    itself cannot be read or REF is unknown.
    """
    from pathlib import Path

    from promptops.config import load_project
    from promptops.lint import lint_project, lint_report

    findings = lint_project(load_project(), base_ref)
    report = lint_report(findings, base_ref)
    if fmt == "json" and output is None:
        click.echo(report.model_dump_json(indent=2))
        raise SystemExit(report.exit_code)
    if output is not None:
        Path(output).write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    from promptops.cli.console import use_color

    color = use_color()
    for finding in findings:
        click.secho(str(finding), fg="red" if finding.level == "error" else "yellow", color=color)
    click.echo(f"{report.errors} errors, {report.warnings} warnings")
    raise SystemExit(report.exit_code)
