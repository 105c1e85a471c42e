from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from promptops.cli.options import REPORT_FORMATS, format_option, output_option

if TYPE_CHECKING:
    from promptops.config import Project
    from promptops.drift import DriftReport
    from promptops.results import SavedRun

F = TypeVar("F", bound=Callable[..., Any])


def correction_option(f: F) -> F:
    return click.option(
        "--correction",
        type=click.Choice(["holm", "bh"]),
        default="holm",
        show_default=True,
        help="Error control over all case and suite tests of the report: holm (chance of any false "
        "regression <= alpha) or bh (Benjamini-Hochberg: share of false regressions <= alpha).",
    )(f)


def alpha_option(f: F) -> F:
    return click.option(
        "--alpha",
        type=click.FloatRange(0, 1, min_open=True, max_open=True),
        default=0.05,
        show_default=True,
        help="Level of the whole report: with no real change, the chance of flagging any regression.",
    )(f)


def semantic_option(f: F) -> F:
    return click.option(
        "--semantic",
        is_flag=True,
        help="A reworded output with the same meaning (by the built-in sentence embeddings) is "
        "unchanged, not changed. Needs promptops-cli[embed].",
    )(f)


def drift_options(f: F) -> F:
    """--alpha, --correction, --semantic, --format and -o, shared by compare and drift."""
    f = output_option(f)
    f = format_option(REPORT_FORMATS)(f)
    return alpha_option(correction_option(semantic_option(f)))


def emit_drift_report(
    project: Project, report: DriftReport, candidate: SavedRun | None, fmt: str, output: str | None
) -> int:
    """Print (and with ``output``, write) a drift report with its escalation; returns its exit code."""
    from promptops.cli.progress import emit_report
    from promptops.report_data import drift_report_data

    data = drift_report_data(project, report, candidate, with_results="html" in fmt)
    emit_report(data, fmt, output)
    return data.exit_code


@click.command("compare")
@click.argument("baseline")
@click.argument("candidate")
@drift_options
def command(
    baseline: str,
    candidate: str,
    alpha: float,
    correction: str,
    semantic: bool,
    fmt: str,
    output: str | None,
) -> None:
    """Drift report between two saved runs: BASELINE and CANDIDATE (id, id prefix, folder or 'latest').

    Pairs cases by suite, case and model (or by suite and case when each run used
    one different model) and reports regressions, fixes, changed outputs and flaky
    flips. Exit 1 when any case regressed, 3 when a case errored on a side, else 0.
    """
    from promptops.config import load_project
    from promptops.drift import compare_runs
    from promptops.results import open_run

    project = load_project()
    runs = [open_run(project.runs_dir, ref) for ref in (baseline, candidate)]
    report = compare_runs(
        runs[0],
        runs[1],
        alpha=alpha,
        correction=correction,  # type: ignore[arg-type]
        semantic=semantic,
    )
    raise SystemExit(emit_drift_report(project, report, runs[1], fmt, output))
