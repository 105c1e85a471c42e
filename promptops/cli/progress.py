"""Progress display: a bar on an interactive terminal, plain lines elsewhere (CI, pipes)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import click

from promptops.cli.console import use_color, verbosity
from promptops.config import Project
from promptops.errors import UsageError
from promptops.results import SampleResult, SavedRun
from promptops.runner import ProgressSink, RunOutcome


class BarProgress(ProgressSink):
    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.failed = 0
        self.bar = Progress(
            TextColumn("[bold]testing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True, no_color=not use_color(sys.stderr)),
            transient=True,
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
    """A line when the run starts and about every 10 s, for logs that are read later (-v: every call)."""

    def __init__(self, every_call: bool = False) -> None:
        self.total = 0
        self.done = 0
        self.last = time.monotonic()
        self.every_call = every_call

    def start(self, total: int) -> None:
        self.total = total
        click.echo(f"running {total} model calls", err=True)

    def advance(self, result: SampleResult) -> None:
        self.done += 1
        if self.every_call:
            status = "error" if result.error else ("passed" if result.passed else "failed")
            source = "cached" if result.cached else f"{result.latency_ms or 0:.0f} ms"
            click.echo(
                f"  [{self.done}/{self.total}] {result.suite}::{result.case} [{result.model}] "
                f"#{result.sample} {status} ({source})",
                err=True,
            )
            return
        now = time.monotonic()
        if now - self.last >= 10:
            self.last = now
            click.echo(f"  {self.done}/{self.total} calls done", err=True)


def make_progress() -> ProgressSink:
    """A bar on a terminal, plain lines elsewhere; nothing with -q, a line per call with -v."""
    level = verbosity()
    if level < 0:
        return ProgressSink()
    if level > 0:
        return PlainProgress(every_call=True)
    interactive = sys.stderr.isatty() and not os.environ.get("CI")
    return BarProgress() if interactive else PlainProgress()


def report_outcome(project: Project, outcome: RunOutcome, fmt: str, output: str | None) -> int:
    """Print (and with ``output``, write) a run's report; returns the exit code."""
    from promptops.errors import EXIT_INFRA
    from promptops.report_data import run_report_data

    run = SavedRun(outcome.folder, outcome.meta)
    data = run_report_data(project, run, outcome.summary, with_results="html" in fmt)
    emit_report(data, fmt, output)
    misses = outcome.replay_misses
    if misses:
        click.echo(f"error: replay miss: {len(misses)} case(s) have no recorded response:", err=True)
        for miss in misses:
            click.echo(f"  {miss}", err=True)
        click.echo("record them with 'promptops record' and commit the recording files", err=True)
        return EXIT_INFRA
    return data.exit_code


def emit_report(data: object, fmt: str, output: str | None) -> None:
    """Render ``data`` in each comma-separated format of ``fmt``.

    Without ``output`` the one format is printed. With ``output``, one format is
    written to that file, several to ``output`` with each format's suffix
    (``report.json``, ``report.html`` ...), and the text report is printed.
    """
    from promptops.reports import FORMAT_SUFFIXES, REPORT_FORMATS, ReportData, render_report, report_chunks

    assert isinstance(data, ReportData)
    formats = [f.strip() for f in fmt.split(",") if f.strip()] or ["text"]
    for name in formats:
        if name not in REPORT_FORMATS:
            raise UsageError(
                f"unknown report format {name!r}; use one or more of {', '.join(REPORT_FORMATS)}"
            )
    color = use_color()
    if not output:
        if len(formats) > 1:
            raise UsageError("several --format values need -o FILE to write them to")
        if formats[0] != "text" or verbosity() > -2:
            text_color = color and formats[0] == "text"
            # click strips colour codes off a non-terminal unless told: --color means colour anyway
            for chunk in report_chunks(data, formats[0], color=text_color):
                click.echo(chunk, nl=False, color=text_color)
        return
    if len(formats) == 1:
        _write_report(Path(output), report_chunks(data, formats[0]))
    else:
        base = Path(output)
        stem = base.with_suffix("") if base.suffix in FORMAT_SUFFIXES.values() else base
        for name in formats:
            _write_report(Path(str(stem) + FORMAT_SUFFIXES[name]), report_chunks(data, name))
    if verbosity() > -2:
        click.echo(render_report(data, "text", color=color), nl=False, color=color)


def _write_report(path: Path, chunks: Iterable[str]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(chunks)
