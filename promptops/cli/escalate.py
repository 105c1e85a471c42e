from __future__ import annotations

import click

from promptops.cli.options import output_option


@click.command("escalate")
@click.argument("source", metavar="RUN_OR_REPORT", default="latest")
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True)
@output_option
def command(source: str, fmt: str, output: str | None) -> None:
    """Classify the gaps of a run's failing cases and suggest what to do about them.

    RUN_OR_REPORT is a saved run (id, id prefix or 'latest') or a JSON report
    file written by `test`, `drift` or `compare --format json`. Exit 1 when a
    blocking finding (a privacy or deployment gate) is found.
    """
    from pathlib import Path

    from promptops.config import find_project_root, load_project
    from promptops.report_data import load_report_data
    from promptops.reports.escalation_text import render_escalation_text

    project = load_project() if find_project_root() is not None else None
    report = load_report_data(project, source, always_escalate=True).escalation
    assert report is not None
    text = (
        report.model_dump_json(indent=2) + "\n"
        if fmt == "json"
        else (render_escalation_text(report) or "no failing cases: nothing to escalate\n")
    )
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)
    raise SystemExit(1 if report.blocking else 0)
