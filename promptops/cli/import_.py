from __future__ import annotations

from pathlib import Path

import click


@click.group("import")
def command() -> None:
    """Convert a project of another evaluation tool into a promptops project."""


@command.command("promptfoo")
@click.argument("config", required=False)
@click.option(
    "-o",
    "--output",
    "out_dir",
    default=".",
    show_default=True,
    help="Folder to write the promptops project to.",
)
@click.option(
    "--force", is_flag=True, help="Replace promptops.yaml, prompts/ and suites/ in the output folder."
)
def promptfoo_command(config: str | None, out_dir: str, force: bool) -> None:
    """Import a promptfooconfig.yaml: providers, prompts, tests and assertions.

    Writes promptops.yaml, prompts/ and suites/, and promptfoo-import.md listing
    everything that could not be carried over (each also kept as a comment
    where it belonged). Exit 0 when everything was carried over, 1 when some
    was not, 2 when the config cannot be read.
    """
    from promptops.importers.promptfoo import find_config, import_promptfoo

    report = import_promptfoo(find_config(config), Path(out_dir), force=force)
    for path in report.written:
        click.echo(f"wrote {Path(out_dir) / path}")
    total = report.assertions_total
    click.echo(
        f"{report.cases} cases, {report.assertions_carried}/{total} assertions carried over; "
        f"{len(report.not_carried)} items not carried over (see {Path(out_dir) / 'promptfoo-import.md'})"
    )
    for item in report.not_carried:
        click.echo(f"  not carried: {item.where}: {item.what}: {item.why}", err=True)
    if not report.complete:
        raise SystemExit(1)
