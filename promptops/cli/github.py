from __future__ import annotations

import click


@click.group("github")
def command() -> None:
    """Pull-request integration for GitHub Actions."""


@command.command("comment")
@click.argument("source", metavar="REPORT", default="latest")
@click.option("--summary", is_flag=True, help="Also append the report to $GITHUB_STEP_SUMMARY.")
@click.option(
    "--no-comment", is_flag=True, help="Do not post the PR comment (e.g. for forks' read-only tokens)."
)
@click.option(
    "--annotations/--no-annotations",
    "emit_annotations",
    default=True,
    show_default=True,
    help="Print ::error annotations pointing at the failing cases' suite lines.",
)
@click.option("--repo", default=None, help="owner/name (default: $GITHUB_REPOSITORY).")
@click.option("--pr", "number", type=int, default=None, help="Pull request number (default: from the event).")
@click.option("--api-url", default=None, help="GitHub API URL (default: $GITHUB_API_URL).")
@click.option(
    "--artifact-hint", default=None, help="Where the full report is, shown if the comment is truncated."
)
def comment(
    source: str,
    summary: bool,
    no_comment: bool,
    emit_annotations: bool,
    repo: str | None,
    number: int | None,
    api_url: str | None,
    artifact_hint: str | None,
) -> None:
    """Create or update the promptops comment on the pull request for REPORT.

    REPORT is a saved run, a JSON report file (test, drift or compare) or a
    Markdown file. One comment per pull request, found by a hidden marker, is
    updated on every run. Exit 3 when the GitHub API refuses or cannot be reached.
    """
    from pathlib import Path

    from promptops import github
    from promptops.config import find_project_root, load_project
    from promptops.reports import ReportData, load_report_data
    from promptops.reports.markdown import render_markdown

    if source.endswith(".md") and Path(source).is_file():
        data, body = ReportData(), Path(source).read_text(encoding="utf-8")
    else:
        project = load_project() if find_project_root() is not None else None
        data = load_report_data(project, source)
        data.artifact_hint = artifact_hint
        body = render_markdown(data)
    if emit_annotations:
        for line in github.annotation_lines(data):
            click.echo(line)
    if summary:
        click.echo(f"appended the report to {github.append_step_summary(body)}", err=True)
    if not no_comment:
        action, comment_id = github.upsert_comment(github.pull_request_from_env(repo, number, api_url), body)
        click.echo(f"{action} comment {comment_id}", err=True)
