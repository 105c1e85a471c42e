from __future__ import annotations

import json

import click

from promptops.cli.options import var_option


@click.command("render")
@click.argument("prompt", metavar="PROMPT[@VERSION|@REF]")
@var_option
@click.option("--json", "as_json", is_flag=True, help="Print the messages as a JSON list.")
def command(prompt: str, variables: tuple[str, ...], as_json: bool) -> None:
    """Print the chat messages PROMPT renders to, for the given --var values.

    PROMPT@1.2.0 renders the newest commit that declared that version;
    PROMPT@REF renders it as it is at a git branch, tag or commit.
    """
    from promptops.config import load_project
    from promptops.prompts import parse_var
    from promptops.versions import resolve_prompt

    loaded = resolve_prompt(load_project(), prompt)
    messages = loaded.render(dict(parse_var(v) for v in variables))
    if as_json:
        click.echo(json.dumps([m.to_dict() for m in messages], indent=2, ensure_ascii=False))
        return
    for index, message in enumerate(messages):
        if index:
            click.echo()
        click.secho(f"[{message.role}]", bold=True)
        click.echo(message.content)
