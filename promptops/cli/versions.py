"""``promptops log``, ``show`` and ``diff``: prompt versions from git."""

from __future__ import annotations

import difflib
import json

import click

from promptops.cli.options import var_option


@click.command("log")
@click.argument("prompt")
@click.option("--json", "as_json", is_flag=True, help="Print the history as JSON.")
def log_command(prompt: str, as_json: bool) -> None:
    """Each commit that changed PROMPT: declared version, fingerprint, date, author, subject."""
    from promptops.config import load_project
    from promptops.versions import prompt_history

    history = prompt_history(load_project(), prompt)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in history], indent=2))
        return
    if not history:
        click.echo(f"prompt {prompt} has no committed history")
    for r in history:
        click.echo(
            f"{r.commit[:10]}  {r.version or '?':<10} {(r.fingerprint or '-'):<16}  "
            f"{r.date:%Y-%m-%d}  {r.author:<16.16}  {r.subject}"
        )


@click.command("show")
@click.argument("reference", metavar="PROMPT@VERSION|@REF")
def show_command(reference: str) -> None:
    """Print a prompt file as it was at a version or git ref."""
    from promptops.config import load_project
    from promptops.versions import resolve_prompt

    prompt = resolve_prompt(load_project(), reference)
    click.echo(f"# {prompt.file}  version {prompt.version}  fingerprint {prompt.fingerprint}")
    click.echo(prompt.source.read(prompt.relpath) or "", nl=False)


@click.command("diff")
@click.argument("old")
@click.argument("new")
@var_option
def diff_command(old: str, new: str, variables: tuple[str, ...]) -> None:
    """Unified diff of two prompt versions (PROMPT@A PROMPT@B); with --var, also of the rendered messages."""
    from promptops.config import load_project
    from promptops.prompts import parse_var
    from promptops.versions import resolve_prompt

    project = load_project()
    a, b = resolve_prompt(project, old), resolve_prompt(project, new)
    text_a, text_b = a.source.read(a.relpath) or "", b.source.read(b.relpath) or ""
    lines = list(difflib.unified_diff(text_a.splitlines(True), text_b.splitlines(True), old, new))
    click.echo("".join(lines) if lines else f"{old} and {new} have the same text")
    if variables:
        values = dict(parse_var(v) for v in variables)
        render_a = [f"[{m.role}]\n{m.content}\n" for m in a.render(values)]
        render_b = [f"[{m.role}]\n{m.content}\n" for m in b.render(values)]
        rendered = list(
            difflib.unified_diff(
                "".join(render_a).splitlines(True),
                "".join(render_b).splitlines(True),
                f"{old} (rendered)",
                f"{new} (rendered)",
            )
        )
        click.echo("".join(rendered) if rendered else "rendered messages are identical")
