"""``cipmodel simulate`` and the ``--probability`` branch of ``cipmodel solve``.

The command only parses, calls :func:`cipmodel.montecarlo.simulate` (or
:func:`~cipmodel.montecarlo.solve_probability`) and formats. It is registered in the main
group with ``cli.add_command(simulate)``. Helpers of :mod:`cipmodel.cli.main` are imported when a
command runs (that module imports this one).
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from cipmodel.formatting import money as _money
from cipmodel.formatting import pct as _pct
from cipmodel.montecarlo.samplers import SAMPLERS, SamplingWarning
from cipmodel.montecarlo.simulation import DEFAULT_DRAWS, DEFAULT_SAMPLER, MAX_DRAWS

__all__ = ["simulate", "solve_probability_command", "PROGRESS_MIN_WORK"]

#: Show a progress bar (on a terminal) when draws x trusts x schemes-ish work exceeds this.
PROGRESS_MIN_WORK = 2_000_000


def simulation_options(fn: Any) -> Any:
    """Options shared by ``simulate`` and ``solve --probability``."""
    fn = click.option("--allow-large", is_flag=True, help=f"Allow more than {MAX_DRAWS:,} draws.")(
        fn
    )
    fn = click.option(
        "--no-uncertainty",
        is_flag=True,
        help="Switch every uncertainty off (each draw reproduces the plan run).",
    )(fn)
    fn = click.option(
        "--priors",
        default="priors-2017",
        show_default=True,
        help="Priors rule pack: name, name:variant (e.g. priors-2017:tracker) or path.",
    )(fn)
    fn = click.option(
        "--sampler",
        type=click.Choice(sorted(SAMPLERS)),
        default=DEFAULT_SAMPLER,
        show_default=True,
        help="Sampling design on the unit hypercube.",
    )(fn)
    fn = click.option(
        "--seed",
        type=click.IntRange(min=0),
        default=None,
        help="Random seed (default: a fresh one, printed in the provenance).",
    )(fn)
    fn = click.option(
        "-n",
        "--draws",
        type=click.IntRange(min=1),
        default=DEFAULT_DRAWS,
        show_default=True,
        help=f"Number of draws (at most {MAX_DRAWS:,} without --allow-large).",
    )(fn)
    return fn


def _check_cap(draws: int, allow_large: bool) -> None:
    if draws > MAX_DRAWS and not allow_large:
        raise click.BadParameter(
            f"{draws:,} draws is more than {MAX_DRAWS:,}: add --allow-large if you mean it",
            param_hint="-n/--draws",
        )


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


@click.command()
@click.argument("plan", type=click.Path(exists=True, dir_okay=False, path_type=Path))
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
    default=1,
    show_default=True,
    help="Threads computing chunks; results do not depend on it.",
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
def simulate(
    plan: Path,
    draws: int,
    seed: int | None,
    sampler: str,
    priors: str,
    no_uncertainty: bool,
    allow_large: bool,
    chunk_size: int | None,
    tolerance: float | None,
    workers: int,
    output: Path | None,
    as_json: bool,
    force: bool,
    catch_up: bool | None,
    sof_rules: str,
    funding_rules: str | None,
) -> None:
    """Monte Carlo: probability of meeting the control total, STF/PSF and score at risk.

    Simulates the first plan year: CIP delivery and slippage by stage and RAG, pay award,
    inflation, activity, agency spend and A&E performance, with national shocks shared by
    all trusts. Money in £000.
    """
    from cipmodel.cli.main import _load, _output_path
    from cipmodel.montecarlo import simulate as run_simulation

    _check_cap(draws, allow_large)
    if output is not None:
        _output_path(output, force, (plan,))
    portfolio, prov = _load(plan)
    n_s = max(1, len(portfolio.cip))
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
                funding_rules=funding_rules,
                sof_rules=sof_rules,
                catch_up=catch_up,
                allow_large=allow_large,
                progress=callback,
                **prov,
            )
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    for w in caught:
        if issubclass(w.category, SamplingWarning):
            click.echo(f"Note: {w.message}", err=True)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if output is not None:
        from cipmodel.cli.main import _write_results

        _write_results(
            output, result.run, force, extra=result.simulation_sheets(), simulation=result
        )
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    _print_simulation(result)
    if output is not None:
        click.echo(f"Results written to {output}")


def _print_simulation(result: Any) -> None:
    d = result.to_dict()
    prov = d["provenance"]
    head = (
        f"{prov['draws']:,} draws, {prov['sampler']} sampler, seed {prov.get('seed', 'n/a')}, "
        f"priors {prov['priors']}"
    )
    many = len(d["trusts"]) > 1
    if many:
        click.echo(f"Simulation — {head}; £000")
        click.echo(
            f"{'trust':<8} {'P(meet CT)':>10} {'P50 surplus':>12} {'control total':>14} "
            f"{'STF lost':>9} {'P(score 3-4)':>12}"
        )
        for t in d["trusts"]:
            p, pc = t["probability"], t["percentiles"]
            sc = p["score"]["overall"]
            click.echo(
                f"{t['code']:<8} {_pct(p['meet_control_total']):>10} "
                f"{_money(pc['surplus_pre_stf']['p50']):>12} {_money(t['control_total']['target']):>14} "
                f"{_money(t['funding_expected']['year']['lost']):>9} "
                f"{_pct((sc['3'] or 0) + (sc['4'] or 0)):>12}"
            )
        mean = sum(t["probability"]["meet_control_total"] or 0 for t in d["trusts"]) / len(
            d["trusts"]
        )
        click.echo(
            f"Average P(meet the control total) across {len(d['trusts'])} trusts: {_pct(mean)}"
        )
        return
    t = d["trusts"][0]
    p, pc, ct = t["probability"], t["percentiles"], t["control_total"]
    click.echo(f"{t['name']} ({t['code']}), {t['financial_year']} — simulation, {head}; £000")
    click.echo(
        f"  P(meet control total, year)    {_pct(p['meet_control_total']):>8}   "
        f"(± {_pct(1.96 * (p['meet_control_total_se'] or 0), 2)}; plan run: "
        f"{'met' if ct['met'] else 'missed'})"
    )
    click.echo(
        "  P(meet YTD at quarter end)     "
        + "  ".join(f"{q.upper()} {_pct(v)}" for q, v in p["quarters"].items())
    )
    s = pc["surplus_pre_stf"]
    click.echo(
        f"  Pre-STF surplus/(deficit)      P5 {_money(s['p5'])}  P50 {_money(s['p50'])}  "
        f"P95 {_money(s['p95'])}  (plan {_money(ct['forecast'])}, control total {_money(ct['target'])})"
    )
    r = pc["reported_surplus"]
    click.echo(
        f"  Reported surplus (with STF)    P5 {_money(r['p5'])}  P50 {_money(r['p50'])}  P95 {_money(r['p95'])}"
    )
    fe = t["funding_expected"]
    click.echo(
        "  STF/PSF expected earned/lost   "
        + "  ".join(
            f"{q.upper()} {_money(fe[q]['earned'])}/{_money(fe[q]['lost'])}"
            for q in ("q1", "q2", "q3", "q4")
        )
        + f"  year {_money(fe['year']['earned'])}/{_money(fe['year']['lost'])} of {_money(t['funding']['allocation'])}"
    )
    c = pc["cip_delivered"]
    click.echo(
        f"  CIP delivered (in year)        mean {_money(c['mean'])} of {_money(t['cip']['planned'])} planned "
        f"(P5 {_money(c['p5'])}, P95 {_money(c['p95'])})"
    )
    sc = p["score"]["overall"]
    click.echo(
        f"  Finance score P(1/2/3/4)       {' / '.join(_pct(sc[k]) for k in '1234')};  "
        f"P(finance trigger) {_pct(p['finance_trigger'])}"
    )
    drivers = result.sensitivity()
    if len(drivers):
        top = drivers.head(3)
        parts = [
            f"{row.input} (rank corr. {row.spearman:+.2f})"
            for row in top.itertuples()
            if math.isfinite(row.spearman)
        ]
        if parts:
            click.echo("  Main drivers of the surplus     " + "; ".join(parts))
    unverified = prov.get("unverified", [])
    if unverified:
        click.echo(
            f"Depends on {len(unverified)} unverified rule and prior values "
            "(listed in --json provenance; see docs/simulation.md)"
        )


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
) -> None:
    """``cipmodel solve PLAN --probability P``: the CIP needed for P(meet) >= P."""
    from cipmodel.cli.main import _load
    from cipmodel.montecarlo import solve_probability

    if year != 1:
        raise click.BadParameter(
            "the probability solve simulates plan year 1 only", param_hint="--year"
        )
    _check_cap(draws, allow_large)
    portfolio, prov = _load(plan)
    res = solve_probability(
        portfolio,
        probability,
        draws=draws,
        seed=seed,
        sampler=sampler,
        priors="none" if no_uncertainty else priors,
        allow_large=allow_large,
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
        click.echo(json.dumps(d, indent=2))
        return
    click.echo(
        f"CIP needed for P(meet the pre-STF control total) >= {_pct(probability, 0)} in plan year 1 "
        f"(£000; {res.draws:,} draws, seed {d['provenance'].get('seed', 'n/a')})"
    )
    click.echo(
        f"{'trust':<8} {'planned':>10} {'%':>6} {'P(meet)':>8} {'needed':>10} {'%':>6}  band"
    )
    for t in d["trusts"]:
        click.echo(
            f"{t['code']:<8} {_money(t['planned']):>10} {_pct(t['planned_pct']):>6} "
            f"{_pct(t['p_at_plan']):>8} {_money(t['needed']):>10} {_pct(t['needed_pct']):>6}  {t['band']}"
        )
