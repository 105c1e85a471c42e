from __future__ import annotations

import click


@click.group("github")
def command() -> None:
    """Pull-request integration for GitHub Actions."""


@command.command("comment")
@click.argument("source", metavar="[REPORT]", required=False, default=None)
@click.option(
    "--lint",
    "lint_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="A `promptops lint --format json` report: its findings become annotations and a comment section.",
)
@click.option("--summary", is_flag=True, help="Also append the report to $GITHUB_STEP_SUMMARY.")
@click.option(
    "--no-comment", is_flag=True, help="Do not post the PR comment (e.g. for forks' read-only tokens)."
)
@click.option(
    "--annotations/--no-annotations",
    "emit_annotations",
    default=True,
    show_default=True,
    help="Print ::error/::warning annotations on the suite and prompt lines.",
)
@click.option("--repo", default=None, help="owner/name (default: $GITHUB_REPOSITORY).")
@click.option("--pr", "number", type=int, default=None, help="Pull request number (default: from the event).")
@click.option("--api-url", default=None, help="GitHub API URL (default: $GITHUB_API_URL).")
@click.option("--artifact-url", default=None, help="Link to the HTML report artifact, shown at the top.")
@click.option(
    "--artifact-hint", default=None, help="Where the full report is, shown if the comment is truncated."
)
@click.option(
    "--source-url",
    default=None,
    help="Base URL of the files at the reviewed commit (default: the pull request's head on GitHub).",
)
def comment(
    source: str | None,
    lint_file: str | None,
    summary: bool,
    no_comment: bool,
    emit_annotations: bool,
    repo: str | None,
    number: int | None,
    api_url: str | None,
    artifact_url: str | None,
    artifact_hint: str | None,
    source_url: str | None,
) -> None:
    """Create or update the promptops comment on the pull request for REPORT.

    REPORT is a saved run (default: latest), a JSON report file (test, drift or
    compare) or a Markdown file. With --lint and no REPORT (the test step wrote
    none), the comment shows the lint findings alone. One comment per pull
    request, found by a hidden marker, is updated on every run. Exit 3 when the
    GitHub API refuses or cannot be reached.
    """
    from promptops import github

    data, body, prefix = github.comment_report(source, lint_file, artifact_url, artifact_hint, source_url)
    if emit_annotations:
        for line in github.annotation_lines(data, prefix=prefix):
            click.echo(line)
    if summary:
        click.echo(f"appended the report to {github.append_step_summary(body)}", err=True)
    if not no_comment:
        action, comment_id = github.upsert_comment(github.pull_request_from_env(repo, number, api_url), body)
        click.echo(f"{action} comment {comment_id}", err=True)
