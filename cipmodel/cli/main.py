"""The ``cipmodel`` command line: parse, call the library, format. No model logic here.

Every data problem is printed with its place and the command exits with code 2; no
traceback reaches a user (set ``CIPMODEL_DEBUG=1`` to see one for an internal error).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click
import numpy as np

from cipmodel.cli.score import score
from cipmodel.cli.simulate import simulate, simulation_options, solve_probability_command
from cipmodel.errors import CipModelError, ValidationError
from cipmodel.formatting import money as _money
from cipmodel.formatting import pct as _pct
from cipmodel.version import __version__

EXIT_DATA = 2


class _Group(click.Group):
    """A click group that turns cipmodel errors into a located message and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ValidationError as exc:
            click.echo(str(exc), err=True)
            ctx.exit(EXIT_DATA)
        except CipModelError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(EXIT_DATA)
        except OSError as exc:
            where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
            click.echo(f"Error:{where}: {exc.strerror or exc}", err=True)
            ctx.exit(EXIT_DATA)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cipmodel")
def cli() -> None:
    """Control totals, CIPs, STF/PSF funding and the SOF finance score for NHS trusts.

    Money is £000; rates are fractions in JSON and percentages on screen.
    """


plan_argument = click.argument("plan", type=click.Path(exists=True, dir_okay=False, path_type=Path))


def rules_options(fn: Any) -> Any:
    """--funding-rules, --sof-rules and --catch-up/--no-catch-up, shared by commands."""
    fn = click.option(
        "--catch-up/--no-catch-up",
        "catch_up",
        default=None,
        help="Release withheld STF/PSF at year end if the control total is met (default: the pack's setting).",
    )(fn)
    fn = click.option(
        "--sof-rules",
        default="sof-2016",
        show_default=True,
        help="SOF rule pack: name, name:variant or path.",
    )(fn)
    fn = click.option(
        "--funding-rules",
        default=None,
        help="STF/PSF rule pack (default: the plan's financial year).",
    )(fn)
    return fn


def _load(plan: Path) -> tuple[Any, dict[str, Any]]:
    from cipmodel.io.plan import load_plan

    return load_plan(plan)


def _output_path(out: Path, force: bool, inputs: tuple[Path, ...] = ()) -> Path:
    """Check an output path: never an input file; an existing file only with --force."""
    for src in inputs:
        if out.exists() and src.exists() and out.resolve() == src.resolve():
            raise click.UsageError(
                f"{out} is the input file: results are written to a new file (choose another -o)"
            )
    if out.exists() and not force:
        raise click.UsageError(f"{out} already exists: choose another name or add --force")
    if out.suffix.lower() != ".xlsx":
        raise click.UsageError(f"{out}: results are written as .xlsx")
    return out


@cli.command()
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--example",
    "example",
    default=None,
    help="Write a worked example (e.g. acute-11pc) instead of a blank template.",
)
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
def template(out: Path, example: str | None, force: bool) -> None:
    """Write a blank plan workbook, or a worked example, to OUT (.xlsx)."""
    from cipmodel.examples import EXAMPLES, example_portfolio
    from cipmodel.io import write_template

    if out.suffix.lower() != ".xlsx":
        raise click.UsageError(f"{out}: templates are written as .xlsx")
    if out.exists() and not force:
        raise click.UsageError(f"{out} already exists: choose another name or add --force")
    portfolio = None
    if example is not None:
        if example not in EXAMPLES:
            raise click.BadParameter(
                f"unknown example {example!r} (known: {', '.join(EXAMPLES)})",
                param_hint="--example",
            )
        portfolio = example_portfolio(example)
    write_template(out, portfolio, overwrite=force)
    what = f"worked example {example!r}" if example else "blank plan template"
    click.echo(f"Wrote {what} to {out}")


@cli.command()
@plan_argument
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def validate(plan: Path, as_json: bool) -> None:
    """Check a plan workbook or scenario file and list every problem with its place."""
    try:
        portfolio, _ = _load(plan)
    except ValidationError as exc:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "valid": False,
                        "problems": [
                            {"place": p.place, "message": p.message} for p in exc.problems
                        ],
                    },
                    indent=2,
                )
            )
            sys.exit(EXIT_DATA)
        raise
    n_s = len(portfolio.cip)
    if as_json:
        click.echo(
            json.dumps({"valid": True, "trusts": len(portfolio.trusts), "schemes": n_s}, indent=2)
        )
        return
    click.echo(f"{plan.name}: valid — {len(portfolio.trusts)} trust(s), {n_s} CIP scheme(s)")


def _print_run(result: Any) -> None:
    d = result.to_dict()
    many = len(d["trusts"]) > 1
    if many:
        click.echo(
            f"{'trust':<8} {'control total':>14} {'forecast':>12} {'variance':>10} {'met':>4} "
            f"{'CIP plan':>9} {'needed':>8}  band"
        )
    for t in d["trusts"]:
        ct, cip = t["control_total"], t["cip"]
        if many:
            click.echo(
                f"{t['code']:<8} {_money(ct['target']):>14} {_money(ct['forecast']):>12} "
                f"{_money(ct['variance']):>10} {'yes' if ct['met'] else 'NO':>4} "
                f"{_pct(cip['planned_pct']):>9} {_pct(cip['needed_pct']):>8}  {cip['needed_band']}"
            )
            continue
        click.echo(f"{t['name']} ({t['code']}), {t['financial_year']} — plan run, £000")
        click.echo(
            f"  Control total (pre-STF)        {_money(ct['target']):>12}"
            f"{'' if ct['accepted'] else '   (not accepted)'}"
        )
        click.echo(f"  Forecast surplus/(deficit)     {_money(ct['forecast']):>12}")
        click.echo(
            f"  Variance                       {_money(ct['variance']):>12}   "
            f"{'MET' if ct['met'] else 'MISSED'}"
        )
        q = ct["quarters"]
        click.echo(
            "  YTD variance at quarter end    "
            + "  ".join(f"Q{i} {_money(q[f'q{i}'])}" for i in range(1, 5))
        )
        click.echo(
            f"  CIP planned (in year)          {_money(cip['planned']):>12}   "
            f"{_pct(cip['planned_pct'])} of operating expenditure"
        )
        click.echo(
            f"    full-year effect {_money(cip['planned_fye'])}; unidentified "
            f"{_money(cip['unidentified'])}; recurrent {_money(cip['recurrent'])}"
        )
        click.echo(
            f"  CIP needed for control total   {_money(cip['needed']):>12}   "
            f"{_pct(cip['needed_pct'])} of operating expenditure — {cip['needed_band']}"
        )
        f = t["funding"]
        click.echo(
            f"  STF/PSF ({f['rules']})    allocation {_money(f['allocation'])}; earned "
            f"{_money(f['earned'])}; lost {_money(f['lost'])}"
        )
        click.echo(
            "    by quarter (earned/lost)     "
            + "  ".join(
                f"Q{i} {_money(f['quarters'][f'q{i}']['earned'])}/{_money(f['quarters'][f'q{i}']['lost'])}"
                for i in range(1, 5)
            )
        )
        click.echo(f"  Reported surplus (with STF)    {_money(t['reported_surplus']):>12}")
        sc = t["score"]
        parts = []
        for name, m in sc["metrics"].items():
            parts.append(f"{name} {m['score'] if m['score'] is not None else 'n/a'}")
        click.echo(f"  Finance and use of resources   {sc['overall']:>12}   ({'; '.join(parts)})")
        if sc["overrides"]:
            click.echo(f"    overrides applied: {', '.join(sc['overrides'])}")
        q = t["score_by_quarter"]
        click.echo(
            "    score by quarter (YTD)       "
            + "  ".join(f"Q{i} {q[f'q{i}']}" for i in range(1, 5))
        )
        trig = "yes — potential support need" if t["finance_trigger"] else "no"
        click.echo(
            f"  Finance trigger (score 3-4)    {trig};  candidate segment "
            f"{t['candidate_segment']['segment']} (finance theme only)"
        )
    if many:
        met = sum(1 for t in d["trusts"] if t["control_total"]["met"])
        click.echo(f"{met} of {len(d['trusts'])} trusts meet their pre-STF control total")
    unverified = d["provenance"].get("unverified", [])
    if unverified:
        click.echo(
            f"Depends on {len(unverified)} unverified rule values "
            "(listed in --json provenance; see docs/rules.md)"
        )


@cli.command()
@plan_argument
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a results workbook (.xlsx).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--force", is_flag=True, help="Replace the output file if it exists (never the input)."
)
@click.option(
    "--in-place",
    "in_place",
    is_flag=True,
    help="Write the result sheets into PLAN itself (.xlsx), keeping a backup; refused, "
    "with PLAN untouched, if anything in it would be lost.",
)
@rules_options
def run(
    plan: Path, output: Path | None, as_json: bool, force: bool, in_place: bool, **rules: Any
) -> None:
    """Plan run: projection, control total, CIP, STF/PSF and the SOF score."""
    from cipmodel.results.run import run_plan

    if in_place:
        if output is not None:
            raise click.UsageError("--in-place writes into PLAN: leave out -o")
        if plan.suffix.lower() != ".xlsx":
            raise click.UsageError(f"{plan}: --in-place needs a plan workbook (.xlsx)")
    if output is not None:
        _output_path(output, force, (plan,))
    # read first: the reader's size, row and XML limits guard everything after it
    portfolio, prov = _load(plan)
    if in_place:
        from cipmodel.io import InPlaceRefused, in_place_losses

        losses = in_place_losses(plan)  # before the run: fail fast, file untouched
        if losses:
            raise InPlaceRefused(plan.name, losses)
    result = run_plan(portfolio, **rules, **prov)
    if output is not None:
        _write_results(output, result, force)
    backup = None
    if in_place:
        from cipmodel.io import write_in_place

        backup = write_in_place(plan, result)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        _print_run(result)
        if output is not None:
            click.echo(f"Results written to {output}")
        if backup is not None:
            click.echo(f"Results written into {plan}; the original is kept as {backup.name}")


def _write_results(
    output: Path,
    result: Any,
    force: bool,
    extra: dict[str, Any] | None = None,
    simulation: Any = None,
) -> None:
    """The results workbook (Summary, Monthly, STF by quarter, Metrics, Schemes, Lines, charts)."""
    from cipmodel.io.results_workbook import write_results_workbook

    write_results_workbook(
        output, result, overwrite=force, simulation=simulation, extra_sheets=extra
    )


@cli.command()
@plan_argument
@click.option(
    "--year", default=1, show_default=True, type=click.IntRange(1, 5), help="Plan year to solve."
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--probability",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=None,
    help="Solve for P(meet the control total) >= P under simulation (plan year 1).",
)
@simulation_options
def solve(plan: Path, year: int, as_json: bool, probability: float | None, **sim: Any) -> None:
    """The CIP (% of operating expenditure and £000) needed to meet the control total."""
    from cipmodel.engine.project import compile_plan
    from cipmodel.engine.solve import solve_cip

    if probability is not None:
        return solve_probability_command(plan, probability, as_json=as_json, year=year, **sim)
    portfolio, _ = _load(plan)
    s = solve_cip(compile_plan(portfolio), year=year)
    rows = []
    for i, code in enumerate(s.codes):
        rows.append(
            {
                "code": code,
                "year": year,
                "planned": float(s.planned[i]),
                "planned_pct": float(s.planned_pct[i]),
                "needed": float(s.needed[i]),
                "needed_pct": float(s.needed_pct[i]),
                "band": str(s.band[i]),
                "scale": None if not np.isfinite(s.scale[i]) else float(s.scale[i]),
                "notional": None if not np.isfinite(s.notional[i]) else float(s.notional[i]),
                "met_without_cip": bool(s.met_without_cip[i]),
            }
        )
    if as_json:
        click.echo(json.dumps({"trusts": rows}, indent=2))
        return
    click.echo(f"CIP needed to meet the pre-STF control total in plan year {year} (£000)")
    click.echo(f"{'trust':<8} {'planned':>10} {'%':>6} {'needed':>10} {'%':>6}  band")
    for r in rows:
        click.echo(
            f"{r['code']:<8} {_money(r['planned']):>10} {_pct(r['planned_pct']):>6} "
            f"{_money(r['needed']):>10} {_pct(r['needed_pct']):>6}  {r['band']}"
        )


@cli.command()
@click.argument(
    "plan", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--example", default=None, help="Use a bundled portfolio (e.g. national) instead of PLAN."
)
@click.option("--json", "as_json", is_flag=True, help="Print the tables as JSON.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a results workbook (.xlsx).",
)
@click.option(
    "--force", is_flag=True, help="Replace the output file if it exists (never the input)."
)
@click.option(
    "--bonus/--no-bonus",
    default=True,
    show_default=True,
    help="Share forfeited STF/PSF among trusts that met their control total (a whole-sector step).",
)
@rules_options
def portfolio(
    plan: Path | None,
    example: str | None,
    as_json: bool,
    output: Path | None,
    force: bool,
    bonus: bool,
    **rules: Any,
) -> None:
    """Sector tables: control totals met, STF/PSF, finance score and candidate segments by trust type."""
    from cipmodel.examples import EXAMPLES, example_portfolio
    from cipmodel.results.run import run_plan
    from cipmodel.results.sector import sector_tables

    if (plan is None) == (example is None):
        raise click.UsageError("give a PLAN file or --example NAME (e.g. --example national)")
    if output is not None:
        _output_path(output, force, (plan,) if plan else ())
    if example is not None:
        if example not in EXAMPLES:
            raise click.BadParameter(
                f"unknown example {example!r} (known: {', '.join(EXAMPLES)})",
                param_hint="--example",
            )
        pf, prov = example_portfolio(example), {"input": f"example:{example}"}
    else:
        pf, prov = _load(plan)
    result = run_plan(pf, bonus=bonus, **rules, **prov)
    tables = sector_tables(result)
    if output is not None:
        _write_results(
            output,
            result,
            force,
            extra={f"Sector {k}": v.reset_index(names="type") for k, v in tables.items()},
        )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "tables": {k: json.loads(v.to_json(orient="index")) for k, v in tables.items()},
                    "provenance": result.provenance,
                },
                indent=2,
            )
        )
        return
    click.echo(f"{pf.name}: {len(pf.trusts)} trusts, first plan year, £000")
    titles = {
        "finance": "Control totals and I&E",
        "funding": f"STF/PSF ({result.assessment.rules['funding']})",
        "score": "Finance and use of resources score (count of trusts)",
        "segment": "Candidate segment, finance theme only (count of trusts)",
    }
    for key, frame in tables.items():
        click.echo(f"\n{titles[key]}")
        shown = frame.copy()
        for col in shown.columns:
            if shown[col].dtype.kind == "f":
                shown[col] = shown[col].map(_money)
        click.echo(shown.to_string())
    if output is not None:
        click.echo(f"\nResults written to {output}")


@cli.command()
@click.option(
    "--out",
    "out_dir",
    default="cipmodel-demo",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the results.",
)
@click.option("--force", is_flag=True, help="Replace results already in the folder.")
def demo(out_dir: Path, force: bool) -> None:
    """Run the bundled example: an acute trust asked for an 11% CIP.

    Plan run, a 16,384-draw simulation (seed 42) and the CIP needed for an 80% chance of
    meeting the control total; writes results.xlsx and, with matplotlib installed, plots.
    """
    from cipmodel.cli.simulate import _print_simulation
    from cipmodel.examples import example_portfolio
    from cipmodel.montecarlo import simulate, solve_probability
    from cipmodel.results.run import run_plan

    results = out_dir / "results.xlsx"
    if results.exists() and not force:
        raise click.UsageError(f"{results} already exists: add --force or choose another --out")
    portfolio = example_portfolio("acute-11pc")
    result = run_plan(portfolio, input="example:acute-11pc")
    _print_run(result)
    click.echo("")
    sim = simulate(portfolio, draws=2**14, seed=42, input="example:acute-11pc")
    _print_simulation(sim)
    goal = solve_probability(portfolio, 0.8, draws=2**14, seed=42)
    row = goal.to_dict()["trusts"][0]
    click.echo(
        f"  CIP needed for an 80% chance   {_money(row['needed'])}   "
        f"{_pct(row['needed_pct'])} of operating expenditure — {row['band']}"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_results(results, result, force, extra=sim.simulation_sheets(), simulation=sim)
    click.echo(f"\nResults written to {results}")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        click.echo("Plots skipped: install matplotlib (pip install 'cipmodel[plot]') to draw them")
        return
    from cipmodel.report import plots as plot

    figures = {
        "ytd-vs-control-total.png": lambda: plot.ytd_vs_control_total(result),
        "fan-chart.png": lambda: plot.fan_chart(sim),
        "probability-vs-cip.png": lambda: plot.probability_vs_cip(goal),
        "tornado.png": lambda: plot.tornado(sim),
        "score-distribution.png": lambda: plot.score_distribution(sim),
        "funding-by-quarter.png": lambda: plot.funding_by_quarter(result),
    }
    import matplotlib.pyplot as plt

    for name, draw in figures.items():
        ax = draw()
        ax.figure.tight_layout()
        ax.figure.savefig(out_dir / name, dpi=100)
        plt.close(ax.figure)
    click.echo(f"Plots written to {out_dir}/ ({', '.join(figures)})")


cli.add_command(score)
cli.add_command(simulate)


def cli_reference() -> str:
    """The CLI reference (``docs/cli.md``), generated from every command's ``--help``.

    ``tests/test_project_files.py`` fails if the committed file differs; regenerate with
    ``python -c "from cipmodel.cli.main import cli_reference; print(cli_reference(), end='')" > docs/cli.md``.
    """
    out = [
        "# Command-line reference",
        "",
        "Generated from `cipmodel --help` — do not edit by hand.",
        "",
    ]
    ctx = click.Context(
        cli,
        info_name="cipmodel",
        terminal_width=100,
        max_content_width=100,
        help_option_names=["-h", "--help"],
    )
    out += ["```", cli.get_help(ctx), "```", ""]
    for name in sorted(cli.commands):
        cmd = cli.commands[name]
        sub = click.Context(
            cmd, info_name=name, parent=ctx, terminal_width=100, max_content_width=100
        )
        out += [f"## cipmodel {name}", "", "```", cmd.get_help(sub), "```", ""]
    return "\n".join(out)


def main() -> None:
    """Console entry point: run the CLI; an unexpected error gives one line, not a traceback."""
    try:
        cli.main(prog_name="cipmodel", standalone_mode=True)
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence for users
        if os.environ.get("CIPMODEL_DEBUG") == "1":
            raise
        click.echo(
            f"cipmodel: internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in cipmodel; set CIPMODEL_DEBUG=1 to see the details.",
            err=True,
        )
        sys.exit(1)
