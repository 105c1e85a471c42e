from __future__ import annotations

from typing import TYPE_CHECKING

import click

from promptops.cli.options import output_option

if TYPE_CHECKING:
    from promptops.config import Project
    from promptops.results import SavedRun
    from promptops.suites import Suite


def saved_run_or_suites(project: Project, sources: tuple[str, ...]) -> tuple[SavedRun | None, list[Suite]]:
    """RUN (id, prefix or 'latest') and the suites it ran, or SUITES (files, folders, names) and no run.

    With nothing given: the latest run when there is one, else every suite.
    """
    from promptops.errors import UsageError
    from promptops.results import open_run
    from promptops.suites import discover_suites, load_suites

    run = None
    if len(sources) == 1:
        try:
            discover_suites(project, sources)
        except UsageError:
            try:
                run = open_run(project.runs_dir, sources[0])
            except UsageError:
                raise UsageError(f"no saved run and no suite named {sources[0]!r}") from None
    elif not sources and project.runs_dir.is_dir() and any(project.runs_dir.glob("*/meta.json")):
        run = open_run(project.runs_dir, "latest")
    if run is not None:
        return run, load_suites(project, [str(project.root / s.file) for s in run.meta.suites])
    return None, load_suites(project, sources)


@click.command("diagnose")
@click.argument("sources", nargs=-1, metavar="[RUN | SUITES]")
@click.option("--probe-budget", type=int, default=60, show_default=True, help="Most probe calls to make.")
@click.option("--reference-model", metavar="ALIAS", default=None, help="Also try each case on this model.")
@click.option("--replay", is_flag=True, help="Answer only from the cache and recordings (keyless CI).")
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True)
@output_option
def command(
    sources: tuple[str, ...],
    probe_budget: int,
    reference_model: str | None,
    replay: bool,
    fmt: str,
    output: str | None,
) -> None:
    """Re-run failing cases under controlled changes to test a remedy before building it.

    RUN is a saved run (id, prefix or 'latest', the default); SUITES are run first. Each probe
    changes one thing (reference facts as context, a format instruction with an example, worked
    examples, temperature 0 and a majority vote, a stronger model) and its measured outcome
    outweighs every heuristic in the escalation. The plan is printed before any call. Exit 1 when
    a blocking finding is made.
    """
    from promptops.config import load_project
    from promptops.errors import UsageError

    if probe_budget < 1:
        raise UsageError(f"--probe-budget must be at least 1, got {probe_budget}")
    from promptops.cli.progress import make_progress
    from promptops.plan import RunOptions, build_plan
    from promptops.results import SavedRun
    from promptops.runner import run_plan

    project = load_project()
    saved, suites = saved_run_or_suites(project, sources)
    if saved is None:
        outcome = run_plan(build_plan(project, suites, RunOptions(replay=replay)), progress=make_progress())
        saved = SavedRun(outcome.folder, outcome.meta)
    raise SystemExit(run_diagnose(project, saved, suites, probe_budget, reference_model, replay, fmt, output))


def run_diagnose(
    project: Project,
    saved: SavedRun,
    suites: list[Suite],
    budget: int,
    reference_model: str | None,
    replay: bool,
    fmt: str = "text",
    output: str | None = None,
) -> int:
    """Probe ``saved``'s failing cases and print the report; the exit code (``test --diagnose`` too)."""
    from pathlib import Path

    from promptops.escalation.probes import diagnose_run
    from promptops.reports.diagnose_text import render_diagnose_text

    def show_plan(lines: list[str]) -> None:
        click.echo("Probe plan: " + "\n".join(lines), err=True)

    report = diagnose_run(
        project,
        suites,
        saved,
        budget=budget,
        reference_model=reference_model,
        replay=replay,
        on_plan=show_plan,
    )
    text = report.model_dump_json(indent=2) + "\n" if fmt == "json" else render_diagnose_text(report)
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)
    return 1 if report.escalation.blocking else 0
