"""The ``promptops`` command line: thin click commands over the core functions.

Imports of the core happen inside each command so that ``promptops --help``
stays fast; litellm in particular is only imported when a model is called.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

import click

from promptops import __version__
from promptops.errors import EXIT_INTERNAL, PromptOpsError, PromptOpsWarning
from promptops.redaction import redact


def _show_warning(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    """A promptops warning as one line on stderr; other warnings as Python shows them."""
    if issubclass(category, PromptOpsWarning):
        click.echo(f"warning: {message}", err=True)
    else:
        _python_show_warning(message, category, *args, **kwargs)


_python_show_warning = warnings.showwarning


class PromptOpsGroup(click.Group):
    """Turns every ``PromptOpsError`` into one clean message and its exit code, and any other
    exception (a bug) into one line with exit code 4."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("always", PromptOpsWarning)
                warnings.showwarning = _show_warning
                return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise  # click's own ways of ending a command: usage errors, --help, Ctrl-C
        except PromptOpsError as exc:
            if os.environ.get("PROMPTOPS_DEBUG") == "1":
                raise
            click.echo(f"error: {redact(str(exc))}", err=True)
            ctx.exit(exc.exit_code)
        except Exception as exc:  # noqa: BLE001  (the one place a bug becomes an exit code)
            if os.environ.get("PROMPTOPS_DEBUG") == "1":
                raise
            detail = redact(" ".join(str(exc).split()))[:300]
            click.echo(
                f"error: internal error ({type(exc).__name__}{': ' + detail if detail else ''}); "
                "this is a bug in promptops: rerun with PROMPTOPS_DEBUG=1 for the traceback and report it",
                err=True,
            )
            ctx.exit(EXIT_INTERNAL)


@click.group(cls=PromptOpsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="promptops")
@click.option(
    "--color/--no-color",
    default=None,
    help="Colour the output (default: on a terminal, unless NO_COLOR is set).",
)
@click.option("-q", "--quiet", count=True, help="Print less: -q drops progress, -qq also the report.")
@click.option("-v", "--verbose", count=True, help="Print more: a line per finished model call.")
@click.pass_context
def cli(ctx: click.Context, color: bool | None, quiet: int, verbose: int) -> None:
    """Prompts as versioned, tested software.

    Run golden test suites against models, flag drift, and gate merges on the
    verdict. Exit codes: 0 ok, 1 tests failed, 2 invalid input, 3 infrastructure
    error (provider unreachable, storage), 4 internal error (a bug; PROMPTOPS_DEBUG=1
    shows the traceback).
    """
    from promptops.cli.console import ConsoleSettings

    ctx.obj = ConsoleSettings(color=color, verbosity=verbose - quiet)


def _register() -> None:
    from promptops.cli import cache, compare, drift, init, merge, models, record, render, test

    for module in (cache, compare, drift, init, merge, models, record, render, test):
        cli.add_command(module.command)
    from promptops.cli import (
        diagnose,
        escalate,
        export,
        github,
        golden,
        import_,
        lint,
        plan_repeats,
        report,
        schema,
        versions,
        watch,
    )

    for command in (
        diagnose.command,
        escalate.command,
        export.command,
        github.command,
        golden.command,
        import_.command,
        lint.command,
        plan_repeats.command,
        report.command,
        schema.command,
        versions.log_command,
        versions.show_command,
        versions.diff_command,
        watch.command,
    ):
        cli.add_command(command)


_register()


def main() -> None:
    """Console-script entry point."""
    sys.exit(cli.main(prog_name="promptops"))
