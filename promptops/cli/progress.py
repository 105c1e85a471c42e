"""Progress display: a bar on an interactive terminal, plain lines elsewhere (CI, pipes)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from promptops.config import Project
from promptops.results import SampleResult
from promptops.runner import ProgressSink, RunOutcome


class BarProgress(ProgressSink):
    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.failed = 0
        self.bar = Progress(
            TextColumn("[bold]testing"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(), console=Console(stderr=True), transient=True,
        )
        self.task = self.bar.add_task("run", total=0, status="")

    def start(self, total: int) -> None:
        self.bar.update(self.task, total=total)
        self.bar.start()

    def advance(self, result: SampleResult) -> None:
        if result.passed is False or result.error is not None:
            self.failed += 1
        status = f"[red]{self.failed} not passing" if self.failed else ""
        self.bar.update(self.task, advance=1, status=status)

    def finish(self) -> None:
        self.bar.stop()


class PlainProgress(ProgressSink):
    """A line when the run starts and about every 10 s, for logs that are read later."""

    def __init__(self) -> None:
        self.total = 0
        self.done = 0
        self.last = time.monotonic()

    def start(self, total: int) -> None:
        self.total = total
        click.echo(f"running {total} model calls", err=True)

    def advance(self, result: SampleResult) -> None:
        self.done += 1
        now = time.monotonic()
        if now - self.last >= 10:
            self.last = now
            click.echo(f"  {self.done}/{self.total} calls done", err=True)


def make_progress() -> ProgressSink:
    interactive = sys.stderr.isatty() and not os.environ.get("CI")
    return BarProgress() if interactive else PlainProgress()


def report_outcome(project: Project, outcome: RunOutcome, fmt: str, output: str | None) -> int:
    """Print (and with ``output``, write) a run's report; returns the exit code."""
    from promptops.errors import EXIT_INFRA
    from promptops.escalation import escalate_run
    from promptops.reports import render_report

    folder = project.relpath(outcome.folder)
    escalation = None
    if any(c.status == "failed" for c in outcome.summary.cases):
        escalation = escalate_run(project, outcome.meta, outcome.summary, outcome.results())
    report = render_report(outcome.summary, fmt, meta=outcome.meta, run_folder=folder, escalation=escalation)
    if output:
        Path(output).write_text(report, encoding="utf-8")
    if output or fmt == "text":
        text = render_report(outcome.summary, "text", meta=outcome.meta, run_folder=folder,
                             color=sys.stdout.isatty(), escalation=escalation)
        click.echo(text, nl=False)
    else:
        click.echo(report, nl=False)
    misses = outcome.replay_misses
    if misses:
        click.echo(f"error: replay miss: {len(misses)} case(s) have no recorded response:", err=True)
        for miss in misses:
            click.echo(f"  {miss}", err=True)
        click.echo("record them with 'promptops record' and commit the recording files", err=True)
        return EXIT_INFRA
    return outcome.summary.exit_code
