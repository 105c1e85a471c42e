from __future__ import annotations

import click

from promptops.cli.options import model_option


@click.command("watch")
@click.argument("suites", nargs=-1)
@model_option
@click.option(
    "--baseline",
    metavar="RUN",
    default=None,
    help="Compare every alias with this saved run instead of the alias's last watch run.",
)
@click.option("--repeat", type=click.IntRange(min=1), default=None, help="Samples per case and model.")
@click.option(
    "--issue",
    is_flag=True,
    help="Open or update one GitHub issue when something changed; close it when nothing did.",
)
@click.option("--repo", default=None, help="owner/name for --issue (default: $GITHUB_REPOSITORY).")
@click.option("--api-url", default=None, help="GitHub API URL (default: $GITHUB_API_URL).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="Report format (markdown is the issue's body).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write the report here.",
)
def command(
    suites: tuple[str, ...],
    models: tuple[str, ...],
    baseline: str | None,
    repeat: int | None,
    issue: bool,
    repo: str | None,
    api_url: str | None,
    fmt: str,
    output: str | None,
) -> None:
    """Run the suites on each model alias and report what changed since the last watch.

    Every answer comes from the provider (the response cache is not read) and
    records the model id the provider served and its system fingerprint. Each
    alias (default: every alias in promptops.yaml) is compared with its last
    watch run, or with --baseline. Exit 1 when the behaviour or the served
    model of an alias changed, 3 when errored cases left no verdict, else 0.
    """
    from pathlib import Path

    from promptops import github
    from promptops.cli.progress import make_progress
    from promptops.config import load_project
    from promptops.reports.markdown import render_watch_markdown
    from promptops.reports.text import render_watch_text
    from promptops.results import now_iso
    from promptops.watch import run_watch

    project = load_project()
    # the issue's repository and token are checked before minutes of model calls, not after
    repository = github.repository_from_env(repo, api_url) if issue else None
    report = run_watch(project, suites, models, baseline=baseline, repeat=repeat, progress=make_progress())
    markdown = render_watch_markdown(report, checked_at=now_iso())
    rendered = {"json": report.model_dump_json(indent=2) + "\n", "markdown": markdown}.get(fmt)
    text = render_watch_text(report)
    if output is not None:
        Path(output).write_text(rendered or text, encoding="utf-8")
    click.echo(rendered if rendered is not None and output is None else text, nl=False)
    if repository is not None:
        action, number = github.sync_watch_issue(repository, report, markdown)
        click.echo(f"{action} issue #{number}" if number else "no watch issue open", err=True)
    raise SystemExit(report.exit_code)
