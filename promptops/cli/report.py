from __future__ import annotations

import click

from promptops.cli.options import REPORT_FORMATS, format_option, output_option


@click.command("report")
@click.argument("source", metavar="RUN_OR_REPORT", default="latest")
@format_option(REPORT_FORMATS)
@output_option
def command(source: str, fmt: str, output: str | None) -> None:
    """Render a saved run (id, prefix, 'latest') or a JSON report file in one or more formats.

    Formats: text, json, markdown (a pull-request comment), junit (CI test views)
    and html (one self-contained page). Several: --format json,html,junit -o out.
    Exits with the verdict of the run or drift it renders.
    """
    from promptops.cli.progress import emit_report
    from promptops.config import find_project_root, load_project
    from promptops.report_data import load_report_data

    project = load_project() if find_project_root() is not None else None
    data = load_report_data(project, source, with_results="html" in fmt)
    emit_report(data, fmt, output)
    raise SystemExit(data.exit_code)
