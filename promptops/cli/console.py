"""How much the command line prints, and whether in colour: the global -q/-v and --color/--no-color."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TextIO

import click


@dataclass
class ConsoleSettings:
    color: bool | None = None
    """--color / --no-color; None decides per stream (NO_COLOR, then whether it is a terminal)."""
    verbosity: int = 0
    """-v adds one, -q takes one away: below 0 no progress, below -1 no report on stdout either."""


def settings() -> ConsoleSettings:
    """The settings of the running command (defaults outside one, e.g. when called from Python)."""
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None else None
    return obj if isinstance(obj, ConsoleSettings) else ConsoleSettings()


def use_color(stream: TextIO | None = None) -> bool:
    """Colour for ``stream`` (stdout by default): the flag wins, then NO_COLOR (no-color.org), then a tty."""
    chosen = settings().color
    if chosen is not None:
        return chosen
    if os.environ.get("NO_COLOR"):
        return False
    return (stream or sys.stdout).isatty()


def verbosity() -> int:
    return settings().verbosity
