"""Progress display: a bar on an interactive terminal, plain lines elsewhere (CI, pipes)."""

from __future__ import annotations

import os
import sys
import time

import click

from promptops.results import SampleResult
from promptops.runner import ProgressSink


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
