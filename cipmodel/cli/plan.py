"""``cipmodel template``, ``validate``, ``run`` and ``solve``: one plan, one run.

Each command parses, calls the library and formats; the library (workbook reader, engine,
results) is imported inside the command, so building the commands for ``--help`` is cheap.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cipmodel.cli.errors import EXIT_DATA, Command
from cipmodel.cli.options import (
    check_output_path,
    intake_options,
    load_checked,
    plan_argument,
    rules_options,
    simulation_options,
    write_results,
)
from cipmodel.errors import ValidationError
from cipmodel.formatting import money, pct

if TYPE_CHECKING:
    from cipmodel.engine.solve import SolvedTrustDict

__all__ = ["run", "solve", "template", "validate"]


@click.command(cls=Command)
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


@click.command(cls=Command)
@plan_argument
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@intake_options
def validate(plan: Path, as_json: bool, strict: bool, allow_extra_columns: tuple[str, ...]) -> None:
    """Check a plan workbook or scenario file and list every problem with its place.

    \b
    Notes (what was ignored or assumed: extra columns and sheets, a total row, a trust
    code typed in another case, rows or columns hidden in the workbook, which are read)
    and warnings (values that look like a slip: income typed in pounds rather than £000,
    0.95% for 95%) are printed on stderr, one line each with its place; with --json they
    are listed under "warnings" instead. A header that looks like a misspelt field
    ("Strat month") is an error with "did you mean 'start_month'?"; if it really is a
    column of your own, keep it with --allow-extra-column "Strat month".
    --strict refuses a plan with warnings (exit 2). run, solve, simulate, portfolio and
    report take the same options.
    """
    try:
        portfolio, _, notes = load_checked(plan, strict, allow_extra_columns, quiet=as_json)
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
        out = {
            "valid": True,
            "trusts": len(portfolio.trusts),
            "schemes": n_s,
            "warnings": [n.to_dict() for n in notes],
        }
        click.echo(json.dumps(out, indent=2))
        return
    n_w = sum(1 for n in notes if n.level == "warning")
    tail = f"; {n_w} warning(s) above: check them" if n_w else ""
    click.echo(f"{plan.name}: valid — {len(portfolio.trusts)} trust(s), {n_s} CIP scheme(s){tail}")


@click.command(cls=Command)
@plan_argument
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a results workbook (.xlsx): a copy of PLAN's workbook with the result "
    "sheets added (anything that cannot be carried is listed).",
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
@intake_options
def run(
    plan: Path,
    output: Path | None,
    as_json: bool,
    force: bool,
    in_place: bool,
    strict: bool,
    allow_extra_columns: tuple[str, ...],
    **rules: Any,
) -> None:
    """Plan run: projection, control total, CIP, STF/PSF and the SOF score."""
    from cipmodel.cli.output import print_run
    from cipmodel.results.run import run_plan

    if in_place:
        if output is not None:
            raise click.UsageError("--in-place writes into PLAN: leave out -o")
        if plan.suffix.lower() != ".xlsx":
            raise click.UsageError(f"{plan}: --in-place needs a plan workbook (.xlsx)")
    if output is not None:
        check_output_path(output, force, (plan,))
    # read first: the reader's size, row and XML limits guard everything after it
    portfolio, prov, notes = load_checked(plan, strict, allow_extra_columns, quiet=as_json)
    if in_place:
        from cipmodel.io import InPlaceRefused, in_place_losses

        losses = in_place_losses(plan)  # before the run: fail fast, file untouched
        if losses:
            raise InPlaceRefused(plan.name, losses)
    result = run_plan(portfolio, **rules, **prov)
    if output is not None:
        write_results(output, result, force, source=plan, notes=notes)
    backup = None
    if in_place:
        from cipmodel.io import write_in_place

        backup = write_in_place(plan, result)
    if as_json:
        # "warnings": the reader's notes and the plausibility warnings, each with its place
        # (an addition to the run JSON contract)
        click.echo(
            json.dumps({**result.to_dict(), "warnings": [n.to_dict() for n in notes]}, indent=2)
        )
    else:
        print_run(result)
        if output is not None:
            click.echo(f"Results written to {output}")
        if backup is not None:
            click.echo(f"Results written into {plan}; the original is kept as {backup.name}")


@click.command(cls=Command)
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
@intake_options
def solve(
    plan: Path,
    year: int,
    as_json: bool,
    probability: float | None,
    strict: bool,
    allow_extra_columns: tuple[str, ...],
    **sim: Any,
) -> None:
    """The CIP (% of operating expenditure and £000) needed to meet the control total."""
    if probability is not None:
        from cipmodel.cli.simulate import solve_probability_command

        return solve_probability_command(
            plan,
            probability,
            as_json=as_json,
            year=year,
            strict=strict,
            allow_extra_columns=allow_extra_columns,
            **sim,
        )
    rows, notes = _solve_rows(plan, year, strict, allow_extra_columns, quiet=as_json)
    if as_json:
        # "warnings": the plan's notes with their places (an addition to the JSON contract)
        warnings = [n.to_dict() for n in notes]
        click.echo(json.dumps({"trusts": rows, "warnings": warnings}, indent=2))
        return
    click.echo(f"CIP needed to meet the pre-STF control total in plan year {year} (£000)")
    if year > 1:
        click.echo(
            "the year's own savings: brought forward (full-year effect of earlier recurrent "
            "schemes) + new schemes"
        )
    click.echo(
        f"{'trust':<8} {'planned':>10} {'%':>6} {'needed':>10} {'%':>6}  band"
        + ("  (brought forward / new planned)" if year > 1 else "")
    )
    for r in rows:
        parts = f"  ({money(r['brought_forward'])} / {money(r['new'])})" if year > 1 else ""
        click.echo(
            f"{r['code']:<8} {money(r['planned']):>10} {pct(r['planned_pct']):>6} "
            f"{money(r['needed']):>10} {pct(r['needed_pct']):>6}  {r['band']}{parts}"
        )


def _solve_rows(
    plan: Path, year: int, strict: bool = False, allow: tuple[str, ...] = (), *, quiet: bool = False
) -> tuple[list[SolvedTrustDict], list[Any]]:
    """The deterministic CIP solve for ``year``: one JSON-ready row per trust, and the
    plan's notes."""
    from cipmodel.engine.project import compile_plan
    from cipmodel.engine.solve import solve_cip

    portfolio, _, notes = load_checked(plan, strict, allow, quiet=quiet)
    return solve_cip(compile_plan(portfolio), year=year).to_dict()["trusts"], notes
