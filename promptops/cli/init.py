from __future__ import annotations

from pathlib import Path

import click


@click.command("init")
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
def command(force: bool) -> None:
    """Scaffold promptops.yaml, an example prompt and suite in the current folder."""
    from promptops.scaffold import scaffold_project

    for path in scaffold_project(Path.cwd(), force=force):
        click.echo(f"created {path}")
    click.echo("next: edit prompts/ and suites/, then run 'promptops test'")
