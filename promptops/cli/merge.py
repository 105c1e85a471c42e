from __future__ import annotations

import click

from promptops.cli.options import REPORT_FORMATS, format_option, output_option


@click.command("merge")
@click.argument("runs", nargs=-1, required=True)
@format_option(REPORT_FORMATS)
@output_option
def command(runs: tuple[str, ...], fmt: str, output: str | None) -> None:
    """Combine shard runs (ids, prefixes or folders) into one run record and one verdict."""
    from promptops.cli.progress import report_outcome
    from promptops.config import load_project
    from promptops.merge import merge_runs
    from promptops.results import open_run

    project = load_project()
    outcome = merge_runs(project, [open_run(project.runs_dir, ref) for ref in runs])
    raise SystemExit(report_outcome(project, outcome, fmt, output))
