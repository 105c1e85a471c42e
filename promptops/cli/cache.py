from __future__ import annotations

import click


@click.group("cache")
def command() -> None:
    """Inspect or clear the response cache (.promptops/cache.sqlite3)."""


@command.command("stats")
def stats() -> None:
    """Entries, size on disk and entries per model."""
    from promptops.cache import CACHE_FILE, ResponseCache
    from promptops.config import load_project

    project = load_project()
    with ResponseCache(project.state_dir / CACHE_FILE) as cache:
        info = cache.stats()
    click.echo(f"cache: {project.relpath(cache.path)}")
    click.echo(f"entries: {info['entries']}  size: {info['bytes'] / 1024:.1f} KiB")
    for model, count in info["models"].items():
        click.echo(f"  {model}: {count}")


@command.command("clear")
@click.option("-m", "--model", default=None, help="Only entries of this litellm model id.")
def clear(model: str | None) -> None:
    """Delete cached responses (all, or one model's)."""
    from promptops.cache import CACHE_FILE, ResponseCache
    from promptops.config import load_project

    project = load_project()
    with ResponseCache(project.state_dir / CACHE_FILE) as cache:
        removed = cache.clear(model)
    click.echo(f"removed {removed} cached responses")
