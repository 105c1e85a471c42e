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


class RepeatParam(click.ParamType):
    """``--repeat``: a whole number of samples, or ``auto`` (sample each case until it is decided)."""

    name = "N|auto"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int | str:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
        text = str(value).strip().lower()
        if text == "auto":
            return "auto"
        try:
            number = int(text)
        except ValueError:
            number = 0
        if number < 1:
            self.fail(f"expects a whole number of samples of at least 1, or auto; got {value!r}", param, ctx)
        return number


def max_repeat_option(f: F) -> F:
    return click.option(
        "--max-repeat",
        type=click.IntRange(min=1),
        default=None,
        help="With --repeat auto: the most samples per case and side (default 80).",
    )(f)


def sequential_design(repeat: int | str | None, max_repeat: int | None) -> Any:
    """The ``SequentialDesign`` of ``--repeat auto``; None for a fixed repeat (no --max-repeat then)."""
    from promptops.errors import UsageError

    if repeat != "auto":
        if max_repeat is not None:
            raise UsageError("--max-repeat caps --repeat auto; give --repeat auto with it, or drop it")
        return None
    from promptops.statistics import SequentialDesign

    return SequentialDesign() if max_repeat is None else SequentialDesign(max_repeat=max_repeat)


def run_options(f: F) -> F:
    """--repeat, -j, --filter, --timeout, --shard and --judge-repeat, for every command that runs a plan."""
    decorators = [
        click.option(
            "--repeat",
            type=RepeatParam(),
            default=None,
            help="Samples per case and model; auto (drift, test --base-ref) samples each case until the "
            "comparison is decided.",
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
    repeat: int | str | None,
    concurrency: int | None,
    case_filter: str | None,
    timeout: float | None,
    shard: str | None,
    *,
    no_cache: bool = False,
    replay: bool = False,
    judge_repeat: int = 1,
) -> Any:
    """The ``RunOptions`` that the shared run options describe (imported lazily: start-up stays fast).

    ``--repeat auto`` reaches here only from commands that run one side: it needs two to compare.
    """
    from promptops.errors import UsageError

    if repeat == "auto":
        raise UsageError(
            "--repeat auto samples until a comparison is decided, so it needs two sides: use it with "
            "promptops drift or promptops test --base-ref"
        )
    assert repeat is None or isinstance(repeat, int)
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
