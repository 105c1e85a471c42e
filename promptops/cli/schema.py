from __future__ import annotations

import click


@click.command("schema")
@click.argument("name", type=click.Choice(["config", "suite"]), default="config")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None, help="Write it to FILE."
)
def command(name: str, output: str | None) -> None:
    """Print the JSON Schema of promptops.yaml (config) or of a suite file (suite).

    Point an editor at it for completion and checks, e.g. with a first line
    `# yaml-language-server: $schema=schemas/promptops.schema.json`
    (promptops init writes both schemas and these lines).
    """
    import json
    from pathlib import Path

    from promptops.schemas import SCHEMAS

    text = json.dumps(SCHEMAS[name](), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        Path(output).write_text(text, encoding="utf-8")
