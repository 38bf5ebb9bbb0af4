"""``cipmodel simulate`` and the ``--probability`` branch of ``cipmodel solve``.

The command only parses, calls :func:`cipmodel.montecarlo.simulate` (or
:func:`~cipmodel.montecarlo.solve_probability`) and formats. The Monte Carlo (scipy, pandas)
is imported when a command runs, never when the module is imported.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from cipmodel.cli.errors import Command
from cipmodel.cli.options import (
    SCHEDULER_TIMEOUT,
    check_draw_cap,
    check_output_path,
    intake_options,
    load_checked,
    plan_argument,
    scheduler_client,
    simulation_options,
    write_results,
)
from cipmodel.formatting import money, pct

__all__ = ["simulate", "solve_probability_command", "PROGRESS_MIN_WORK"]

#: Show a progress bar (on a terminal) when draws x trusts x schemes-ish work exceeds this.
PROGRESS_MIN_WORK = 2_000_000


def _progress_bar(work: int, total: int) -> tuple[Callable[[int, int], None] | None, Any]:
    """A progress callback on stderr for long runs on a terminal, and the bar to close."""
    if work < PROGRESS_MIN_WORK or not sys.stderr.isatty():
        return None, None
    bar = click.progressbar(length=total, label="Simulating", file=sys.stderr, show_eta=True)
    bar.__enter__()
    state = {"done": 0}

    def update(done: int, _total: int) -> None:
        bar.update(done - state["done"])
        state["done"] = done

    return update, bar


def _notes(
    caught: list[warnings.WarningMessage],
    sampling: type[Warning],
    chunk_size: int | None,
    used: object,
    workers: int,
) -> None:
    """The sampler's notes and a lowered chunk size, on stderr; other warnings re-raised
    (the entry point shows them as one line)."""
    for w in caught:
        if issubclass(w.category, sampling):
            click.echo(f"Note: {w.message}", err=True)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if chunk_size is not None and isinstance(used, int) and used < chunk_size:
        click.echo(
            f"Note: --chunk-size {chunk_size:,} lowered to {used:,} draws so that "
            f"{workers} chunk(s) at once fit in memory; results do not depend on it",
            err=True,
        )


def _capped_workers(workers: int | None) -> int:
    """``--workers``, at most the machine's cores (with a note when lowered); not given:
    the machine's cores."""
    from cipmodel.montecarlo.executors import max_workers

    cap = max_workers()
    if workers is None:
        return cap
    if workers > cap:
        click.echo(
            f"Note: --workers {workers:,} lowered to {cap}, the processor cores of this "
            "machine (more threads would only share them); results do not depend on it",
            err=True,
        )
        return cap
    return workers


@click.command(cls=Command)
@plan_argument
@simulation_options
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=None,
    help="Draws per chunk (memory); results do not depend on it.",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(0, 0.5, min_open=True, max_open=True),
    default=None,
    help="Stop early once P(meet the control total) is known to ± this (95%).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Threads computing chunks (default: one per processor core of this machine); "
    "results do not depend on it.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a results workbook (.xlsx) with a Simulation sheet.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the result as JSON (run --json plus probability and percentiles).",
)
@click.option(
    "--force", is_flag=True, help="Replace the output file if it exists (never the input)."
)
# the rule-pack options of rules_options, in the order this command's help has always shown
@click.option(
    "--catch-up/--no-catch-up",
    "catch_up",
    default=None,
    help="Release withheld STF/PSF at year end if the control total is met (default: the pack's setting).",
)
@click.option(
    "--sof-rules",
    default="sof-2016",
    show_default=True,
    help="SOF rule pack: name, name:variant or path.",
)
@click.option(
    "--funding-rules", default=None, help="STF/PSF rule pack (default: the plan's financial year)."
)
@click.option(
    "--first-year-only",
    is_flag=True,
    help="Simulate plan year 1 only (a two-year plan in about half the time); "
    "year 1's results are the same either way.",
)
@intake_options
def simulate(
    plan: Path,
    draws: int,
    seed: int | None,
    sampler: str,
    priors: str,
    no_uncertainty: bool,
    allow_large: bool,
    scheduler: str | None,
    scheduler_timeout: float,
    chunk_size: int | None,
    tolerance: float | None,
    workers: int | None,
    output: Path | None,
    as_json: bool,
    force: bool,
    catch_up: bool | None,
    sof_rules: str,
    funding_rules: str | None,
    first_year_only: bool,
    strict: bool,
    allow_extra_columns: tuple[str, ...],
) -> None:
    """Monte Carlo: probability of meeting the control total, STF/PSF and score at risk.

    Simulates every plan year: CIP delivery and slippage by stage and RAG, pay award,
    inflation, activity, agency spend and A&E performance, with national shocks shared by
    all trusts; the first year in full, later years' P(meet the control total) pre- and
    post-STF, surplus spread and CIP. Money in £000. The plan's notes and warnings are
    printed on stderr (with --json, listed under "warnings"), as by run.
    """
    from cipmodel.cli.output import print_simulation
    from cipmodel.montecarlo import simulate as run_simulation
    from cipmodel.montecarlo.allocator import keep_freed_memory

    keep_freed_memory()  # the command owns its process: chunks reuse freed memory
    from cipmodel.montecarlo.samplers import SamplingWarning

    check_draw_cap(draws, allow_large)
    if scheduler is not None and workers is not None and workers > 1:
        raise click.BadParameter(
            "sets local threads: with --scheduler the cluster's workers compute the draws",
            param_hint="--workers",
        )
    if output is not None:
        check_output_path(output, force, (plan,))
    workers = 1 if scheduler is not None else _capped_workers(workers)
    portfolio, prov, notes = load_checked(plan, strict, allow_extra_columns, quiet=as_json)
    n_s = max(1, len(portfolio.cip))
    with scheduler_client(scheduler, scheduler_timeout) as client:
        callback, bar = _progress_bar(draws * (n_s + 200 * len(portfolio.trusts)), draws)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", SamplingWarning)
                result = run_simulation(
                    portfolio,
                    draws=draws,
                    seed=seed,
                    sampler=sampler,
                    priors="none" if no_uncertainty else priors,
                    chunk_size=chunk_size,
                    tolerance=tolerance,
                    workers=workers,
                    client=client,
                    funding_rules=funding_rules,
                    sof_rules=sof_rules,
                    catch_up=catch_up,
                    allow_large=allow_large,
                    progress=callback,
                    later_years=not first_year_only,
                    **prov,
                )
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)
    _notes(caught, SamplingWarning, chunk_size, result.provenance.get("chunk_size"), workers)
    if output is not None:
        write_results(
            output, result.run, force, result.simulation_sheets(), result, plan, notes=notes
        )
    if as_json:
        # "warnings": the plan's notes with their places (an addition to the JSON contract)
        out = {**result.to_dict(), "warnings": [n.to_dict() for n in notes]}
        click.echo(json.dumps(out, indent=2))
        return
    print_simulation(result)
    if output is not None:
        click.echo(f"Results written to {output}")


def solve_probability_command(
    plan: Path,
    probability: float,
    draws: int,
    seed: int | None,
    sampler: str,
    priors: str,
    no_uncertainty: bool,
    allow_large: bool,
    as_json: bool,
    year: int = 1,
    scheduler: str | None = None,
    scheduler_timeout: float = SCHEDULER_TIMEOUT,
    strict: bool = False,
    allow_extra_columns: tuple[str, ...] = (),
) -> None:
    """``cipmodel solve PLAN --probability P``: the CIP needed for P(meet) >= P."""
    from cipmodel.montecarlo import solve_probability
    from cipmodel.montecarlo.allocator import keep_freed_memory

    keep_freed_memory()  # the command owns its process: chunks reuse freed memory

    if year != 1:
        raise click.BadParameter(
            "the probability solve simulates plan year 1 only", param_hint="--year"
        )
    check_draw_cap(draws, allow_large)
    portfolio, prov, notes = load_checked(plan, strict, allow_extra_columns, quiet=as_json)
    with scheduler_client(scheduler, scheduler_timeout) as client:
        res = solve_probability(
            portfolio,
            probability,
            draws=draws,
            seed=seed,
            sampler=sampler,
            priors="none" if no_uncertainty else priors,
            allow_large=allow_large,
            client=client,
            **prov,
        )
    d = res.to_dict()
    if as_json:
        curve = res.curve(points=21)
        for t in d["trusts"]:
            rows = curve[curve.trust_code == t["code"]]
            t["curve"] = [
                {
                    "cip_pct": round(float(a), 6),
                    "cip": round(float(b), 6),
                    "probability": round(float(c), 6),
                }
                for a, b, c in zip(rows.cip_pct, rows.cip, rows.probability, strict=True)
            ]
        click.echo(json.dumps({**d, "warnings": [n.to_dict() for n in notes]}, indent=2))
        return
    click.echo(
        f"CIP needed for P(meet the pre-STF control total) >= {pct(probability, 0)} in plan year 1 "
        f"(£000; {res.draws:,} draws, seed {d['provenance'].get('seed', 'n/a')})"
    )
    click.echo(
        f"{'trust':<8} {'planned':>10} {'%':>6} {'P(meet)':>8} {'needed':>10} {'%':>6}  band"
    )
    for t in d["trusts"]:
        click.echo(
            f"{t['code']:<8} {money(t['planned']):>10} {pct(t['planned_pct']):>6} "
            f"{pct(t['p_at_plan']):>8} {money(t['needed']):>10} {pct(t['needed_pct']):>6}  {t['band']}"
        )
