"""``cipmodel report``: the board report, a PDF of one to eight pages.

The command checks its options, reads the plan, asks :func:`cipmodel.report.pdf.board_report`
for the bytes of the PDF and writes them atomically (a temporary file in the same folder,
then a rename), so a failed or interrupted report never leaves a half-written file and an
existing report is replaced only with ``--force``. matplotlib and the library are imported
when the command runs, never when the module is imported.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click

from cipmodel.cli.errors import EXIT_DATA, Command
from cipmodel.cli.options import (
    MAX_DRAWS,
    check_draw_cap,
    check_output_path,
    intake_options,
    load_checked,
    plan_argument,
    rules_options,
)

__all__ = ["REPORT_SEED", "report"]

#: :data:`cipmodel.report.pdf.DEFAULT_SEED`, written out so the command stays light
#: (``tests/test_report.py`` checks they agree).
REPORT_SEED = 20170401


class MissingExtra(click.ClickException):
    """An optional dependency is missing: a message and exit code 2, no traceback."""

    exit_code = EXIT_DATA


@click.command(cls=Command)
@plan_argument
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The board report to write (.pdf).",
)
@click.option(
    "--simulate",
    "draws",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Add a simulation of N draws: P(meet the control total), fan chart, score "
    f"distribution and drivers (at most {MAX_DRAWS:,}).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=None,
    help=f"Seed of the simulation [default: {REPORT_SEED}, so the same plan gives the same report].",
)
@click.option(
    "--force", is_flag=True, help="Replace the output file if it exists (never the input)."
)
@rules_options
@intake_options
def report(
    plan: Path,
    output: Path,
    draws: int | None,
    seed: int | None,
    force: bool,
    strict: bool,
    allow_extra_columns: tuple[str, ...],
    **rules: Any,
) -> None:
    """Board report (PDF, 1-8 A4 pages): control total, CIP, STF/PSF and the SOF score.

    One trust: a summary page, charts, STF/PSF and the score by quarter and, with
    --simulate, a page of the simulation. Several trusts: a portfolio summary by trust
    type, the largest variances and charts. Money in £000. The plan's notes and warnings
    are printed on stderr, as by run; --strict refuses a plan with warnings.
    """
    if seed is not None and draws is None:
        raise click.UsageError("--seed sets the seed of the simulation: add --simulate N")
    if draws is not None:
        check_draw_cap(draws, allow_large=False)
    check_output_path(output, force, (plan,), suffix=".pdf")
    if not output.resolve().parent.is_dir():
        raise click.UsageError(f"{output}: the folder {str(output.parent)!r} does not exist")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise MissingExtra(
            "the board report needs matplotlib: pip install 'cipmodel[plot]'"
        ) from None

    from cipmodel.io.atomic import atomic_write
    from cipmodel.report.pdf import board_report

    portfolio, prov, _notes = load_checked(plan, strict, allow_extra_columns)
    data = board_report(
        portfolio,
        draws=draws,
        seed=REPORT_SEED if seed is None else seed,
        **rules,
        **prov,
    )
    atomic_write(output, lambda tmp: tmp.write_bytes(data))
    pages = len(re.findall(rb"/Type\s*/Page\b", data))
    click.echo(f"Board report written to {output} ({pages} pages, {len(data) / 1024:,.0f} KB)")
