from __future__ import annotations

import click


@click.command("plan-repeats")
@click.option(
    "--from",
    "p_base",
    required=True,
    type=click.FloatRange(0, 1, min_open=True),
    metavar="RATE",
    help="Pass rate of a case today, e.g. 0.9.",
)
@click.option(
    "--to",
    "p_cand",
    required=True,
    type=click.FloatRange(0, 1, max_open=True),
    metavar="RATE",
    help="Pass rate after the drop you want to find, e.g. 0.5.",
)
@click.option(
    "--power",
    type=click.FloatRange(0.5, 1, max_open=True),
    default=0.95,
    show_default=True,
    help="How often the drop must be found.",
)
@click.option(
    "--alpha",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.05,
    show_default=True,
    help="Level of the whole drift report.",
)
@click.option(
    "--cases",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Cases in the report (Holm shares alpha among them).",
)
@click.option(
    "--max-repeat",
    type=click.IntRange(min=1),
    default=80,
    show_default=True,
    help="Cap of --repeat auto per case and side.",
)
def command(p_base: float, p_cand: float, power: float, alpha: float, cases: int, max_repeat: int) -> None:
    """How many samples per case and side it takes to find a drop in one case's pass rate.

    Prints the fixed --repeat that reaches --power (exact power of the one-sided
    Fisher test at the case's Holm level in a report of --cases cases), what
    --repeat 10 achieves, and what --repeat auto spends (seeded simulation of
    the sampling loop that drift runs).
    """
    from promptops.errors import UsageError
    from promptops.statistics import SequentialDesign, plan_repeats

    if p_cand >= p_base:
        raise UsageError(f"--to ({p_cand:g}) must be below --from ({p_base:g}): the drop to find")
    plan = plan_repeats(p_base, p_cand, power, alpha, cases, SequentialDesign(max_repeat=max_repeat))
    drop = f"{p_base:.0%} → {p_cand:.0%}"
    click.echo(
        f"drop {drop} in one case of {cases}, alpha {alpha:g} for the report (case level {plan.level:.2g})"
    )
    if plan.fixed_repeat is None:
        click.echo(f"  fixed --repeat: over 2,000 samples per side for {power:.0%} power")
    else:
        click.echo(f"  fixed --repeat {plan.fixed_repeat}: finds it {power:.0%} of the time or more")
    click.echo(f"  fixed --repeat 10: finds it {plan.fixed_power_at_10:.0%} of the time")
    click.echo(
        f"  --repeat auto --max-repeat {max_repeat}: finds it {plan.auto_power:.0%} of the time, "
        f"{plan.auto_mean_samples:.1f} samples per side on average; an unchanged case at {p_base:.0%} "
        f"costs {plan.auto_mean_unchanged:.1f}"
    )
