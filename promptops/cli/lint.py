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
def command(base_ref: str | None) -> None:
    """Validate config, prompts and suites without calling a model.

    Exit 1 when there are errors (warnings alone exit 0), 2 when the config
    itself cannot be read or REF is unknown.
    """
    from promptops.config import load_project
    from promptops.lint import lint_project

    findings = lint_project(load_project(), base_ref)
    for finding in findings:
        click.secho(str(finding), fg="red" if finding.level == "error" else "yellow", err=False)
    errors = sum(f.level == "error" for f in findings)
    warnings = len(findings) - errors
    click.echo(f"{errors} errors, {warnings} warnings")
    raise SystemExit(1 if errors else 0)
