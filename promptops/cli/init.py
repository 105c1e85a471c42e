from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("init")
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
@click.option(
    "--git/--no-git",
    "use_git",
    default=None,
    help="Run git init when the folder is not in a git repository (default: ask when interactive).",
)
def command(force: bool, use_git: bool | None) -> None:
    """Scaffold promptops.yaml, an example prompt and suite, and their JSON Schemas, in the current folder.

    Prompt versions come from git history, so outside a git repository init
    offers to run git init.
    """
    from promptops.scaffold import in_git_repository, init_git_repository, scaffold_project

    root = Path.cwd()
    for path in scaffold_project(root, force=force):
        click.echo(f"created {path}")
    if not in_git_repository(root):
        if use_git is None and sys.stdin.isatty():
            use_git = click.confirm("This folder is not in a git repository; run git init?", default=True)
        if use_git:
            init_git_repository(root)
            click.echo("initialised a git repository; commit the files to give the prompt its first version")
        else:
            click.echo("note: not a git repository; prompt versions and lint --base need git (git init)")
    click.echo("next: edit prompts/ and suites/, then run 'promptops test'")
