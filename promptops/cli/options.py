"""Options shared by several commands, defined once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

# kept in step with promptops.reports.REPORT_FORMATS (not imported: it would slow every command's start)
REPORT_FORMATS = ("text", "json", "markdown", "junit", "html")


def model_option(f: F) -> F:
    return click.option(
        "-m",
        "--model",
        "models",
        multiple=True,
        metavar="MODEL",
        help="Model alias or litellm id; repeat for several. Replaces the suites' own models.",
    )(f)


def format_option(choices: tuple[str, ...]) -> Callable[[F], F]:
    def decorate(f: F) -> F:
        return click.option(
            "--format",
            "fmt",
            default="text",
            show_default=True,
            metavar="|".join(choices),
            help="Report format; several comma-separated (e.g. json,html,junit) with -o FILE.",
        )(f)

    return decorate


def output_option(f: F) -> F:
    return click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, writable=True),
        default=None,
        help="Write the report in --format to this file (the text summary still prints).",
    )(f)


def var_option(f: F) -> F:
    return click.option(
        "--var",
        "variables",
        multiple=True,
        metavar="KEY=VALUE",
        help="Template variable; the value is read as YAML (lists, numbers). Repeatable.",
    )(f)


def run_options(f: F) -> F:
    """--repeat, -j, --filter, --timeout, --shard and --judge-repeat, for every command that runs a plan."""
    decorators = [
        click.option(
            "--repeat", type=click.IntRange(min=1), default=None, help="Samples per case and model."
        ),
        click.option(
            "-j",
            "--concurrency",
            type=click.IntRange(min=1),
            default=None,
            help="Model calls in flight (default: run.concurrency).",
        ),
        click.option(
            "--filter",
            "case_filter",
            metavar="GLOB",
            default=None,
            help="Only cases whose id (or suite::id) matches the glob.",
        ),
        click.option(
            "--timeout", type=click.FloatRange(min=0.001), default=None, help="Per-call timeout in seconds."
        ),
        click.option(
            "--shard",
            metavar="I/N",
            default=None,
            help="Run only the I-th of N deterministic parts of the plan (CI matrices).",
        ),
        click.option(
            "--judge-repeat",
            type=click.IntRange(min=1),
            default=1,
            show_default=True,
            help="Judge calls per model-graded verdict; the majority decides.",
        ),
    ]
    for decorate in reversed(decorators):
        f = decorate(f)
    return f


def make_run_options(
    models: tuple[str, ...],
    repeat: int | None,
    concurrency: int | None,
    case_filter: str | None,
    timeout: float | None,
    shard: str | None,
    *,
    no_cache: bool = False,
    replay: bool = False,
    judge_repeat: int = 1,
) -> Any:
    """The ``RunOptions`` that the shared run options describe (imported lazily: start-up stays fast)."""
    from promptops.plan import RunOptions, parse_shard

    return RunOptions(
        models=models,
        repeat=repeat,
        concurrency=concurrency,
        filter=case_filter,
        timeout_s=timeout,
        shard=parse_shard(shard) if shard else None,
        use_cache=not no_cache,
        replay=replay,
        judge_repeat=judge_repeat,
    )
