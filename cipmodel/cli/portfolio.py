"""``cipmodel portfolio``: sector tables for many trusts (a plan file or a bundled portfolio).

The library (examples, run, sector tables, pandas) is imported when the command runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import click

from cipmodel.cli.errors import Command
from cipmodel.cli.options import (
    check_output_path,
    intake_options,
    load_checked,
    rules_options,
    write_results,
)
from cipmodel.formatting import money

__all__ = ["portfolio"]

#: Heading of each sector table on the terminal (the funding title adds the rule pack).
TITLES = {
    "finance": "Control totals and I&E",
    "funding": "STF/PSF ({rules})",
    "score": "Finance and use of resources score (count of trusts)",
    "segment": "Candidate segment, finance theme only (count of trusts)",
}


@click.command(cls=Command)
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
@intake_options
def portfolio(
    plan: Path | None,
    example: str | None,
    as_json: bool,
    output: Path | None,
    force: bool,
    bonus: bool,
    strict: bool,
    allow_extra_columns: tuple[str, ...],
    **rules: Any,
) -> None:
    """Sector tables: control totals met, STF/PSF, finance score and candidate segments by trust type.

    With a PLAN, its notes and warnings are printed on stderr (with --json, listed under
    "warnings"), and --strict and --allow-extra-column work as for run.
    """
    from cipmodel.results.run import run_plan
    from cipmodel.results.sector import sector_tables

    if (plan is None) == (example is None):
        raise click.UsageError("give a PLAN file or --example NAME (e.g. --example national)")
    if output is not None:
        check_output_path(output, force, (plan,) if plan else ())
    # exactly one of the two is given (checked above)
    notes: list[Any] = []
    if example is not None:
        pf, prov = _example(example)
    else:
        pf, prov, notes = load_checked(cast(Path, plan), strict, allow_extra_columns, quiet=as_json)
    result = run_plan(pf, bonus=bonus, **rules, **prov)
    tables = sector_tables(result)
    if output is not None:
        write_results(
            output,
            result,
            force,
            extra={f"Sector {k}": v.reset_index(names="type") for k, v in tables.items()},
            source=plan,
            notes=notes,
        )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "tables": {k: json.loads(v.to_json(orient="index")) for k, v in tables.items()},
                    "provenance": result.provenance,
                    # the plan's notes with their places (an addition to the JSON contract)
                    "warnings": [n.to_dict() for n in notes],
                },
                indent=2,
            )
        )
        return
    click.echo(f"{pf.name}: {len(pf.trusts)} trusts, first plan year, £000")
    for key, frame in tables.items():
        click.echo(f"\n{TITLES[key].format(rules=result.assessment.rules['funding'])}")
        shown = frame.copy()
        for col in shown.columns:
            if shown[col].dtype.kind == "f":
                shown[col] = shown[col].map(money)
        click.echo(shown.to_string())
    if output is not None:
        click.echo(f"\nResults written to {output}")


def _example(name: str) -> tuple[Any, dict[str, Any]]:
    """A bundled portfolio by name, with its provenance; a usage error for an unknown name."""
    from cipmodel.examples import EXAMPLES, example_portfolio

    if name not in EXAMPLES:
        raise click.BadParameter(
            f"unknown example {name!r} (known: {', '.join(EXAMPLES)})",
            param_hint="--example",
        )
    return example_portfolio(name), {"input": f"example:{name}"}
