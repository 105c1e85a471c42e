from __future__ import annotations

import click


@click.group("export")
def command() -> None:
    """Export suite data for use elsewhere."""


@command.command("finetune")
@click.argument("sources", nargs=-1, metavar="[RUN | SUITES]")
@click.option("-o", "--output", required=True, metavar="FILE", help="The JSONL file to write.")
def finetune(sources: tuple[str, ...], output: str) -> None:
    """Write a JSONL chat dataset (OpenAI fine-tuning format) from the suites' known-good answers.

    Each case gives one example: its golden output, else its passing answer in RUN (default: the
    latest run, when there is one), else the expected output its `equals` assertion states. SUITES
    limits the export to those suites without running them. Says how many examples were written
    and, under 50, how many more cases are needed.
    """
    from pathlib import Path

    from promptops.cli.diagnose import saved_run_or_suites
    from promptops.config import load_project
    from promptops.escalation.finetune import RECOMMENDED_EXAMPLES, export_finetune

    project = load_project()
    saved, suites = saved_run_or_suites(project, sources)
    result = export_finetune(suites, saved, Path(output))
    counts = ", ".join(f"{n} {origin}" for origin, n in result.counts.items() if n)
    click.echo(f"wrote {result.examples} examples to {output}" + (f" ({counts})" if counts else ""))
    if result.missing:
        # the first few name where to start; the count says how many there are in all
        shown = ", ".join(result.missing[:8])
        rest = len(result.missing) - 8
        click.echo(
            f"{len(result.missing)} case(s) have no known-good answer: {shown}"
            + (f" and {rest} more" if rest > 0 else "")
        )
    if result.more_needed:
        click.echo(
            f"too few to fine-tune on: about {RECOMMENDED_EXAMPLES} examples are a useful start; "
            f"add {result.more_needed} more cases with golden outputs (promptops golden update)"
        )
