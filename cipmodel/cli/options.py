"""Options, arguments and steps shared by several commands.

* :data:`plan_argument`, :func:`rules_options`, :func:`simulation_options`;
* :func:`check_output_path`, :func:`load_checked`, :func:`intake_options`, :func:`write_results`.

Only click and the standard library are imported here at module level: ``cipmodel --help``
builds every command, so the command modules (and this one) must stay light. The simulation
defaults are therefore written out here; ``tests/test_cli_startup.py`` checks them against
:mod:`cipmodel.montecarlo`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

__all__ = [
    "DEFAULT_DRAWS",
    "DEFAULT_SAMPLER",
    "MAX_DRAWS",
    "SAMPLER_NAMES",
    "SCHEDULER_TIMEOUT",
    "check_draw_cap",
    "check_output_path",
    "intake_options",
    "load_checked",
    "plan_argument",
    "rules_options",
    "scheduler_client",
    "simulation_options",
    "write_results",
]

#: The sampling designs of :data:`cipmodel.montecarlo.samplers.SAMPLERS`, sorted.
SAMPLER_NAMES = ("lhs", "random", "sobol")
#: :data:`cipmodel.montecarlo.simulation.DEFAULT_DRAWS` (2**14: balanced for Sobol').
DEFAULT_DRAWS = 16_384
#: :data:`cipmodel.montecarlo.simulation.DEFAULT_SAMPLER`.
DEFAULT_SAMPLER = "sobol"
#: :data:`cipmodel.montecarlo.simulation.MAX_DRAWS`: refused above this without --allow-large.
MAX_DRAWS = 10_000_000
#: :data:`cipmodel.montecarlo.executors.CONNECT_TIMEOUT`: seconds to wait for --scheduler.
SCHEDULER_TIMEOUT = 10.0

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


#: The most digits a --seed may have (any seed up to it is used and recorded exactly: in
#: JSON as a number, in the results workbook as text beyond 2**53).
MAX_SEED_DIGITS = 1_000


class SeedParam(click.ParamType):
    """A whole number >= 0 of at most :data:`MAX_SEED_DIGITS` digits (the message never
    echoes a value of thousands of characters)."""

    name = "integer"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            text = None
        else:
            text = str(value).strip().replace("_", "")
        if text is not None:
            if not (text.isascii() and text.isdigit()) or len(text) > MAX_SEED_DIGITS:
                shown = text if len(text) <= 40 else f"{text[:20]}... ({len(text):,} characters)"
                self.fail(
                    f"must be a whole number from 0 with at most {MAX_SEED_DIGITS:,} digits, "
                    f"got {shown!r}",
                    param,
                    ctx,
                )
            value = int(text)
        return int(value)


def simulation_options(fn: Any) -> Any:
    """Options shared by ``simulate`` and ``solve --probability``."""
    fn = click.option(
        "--scheduler-timeout",
        type=click.FloatRange(min=0, min_open=True),
        default=SCHEDULER_TIMEOUT,
        show_default=True,
        metavar="SECONDS",
        help="How long to wait for the --scheduler to answer.",
    )(fn)
    fn = click.option(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="Compute the draws on this Dask cluster (pip install 'cipmodel[distributed]'; "
        "docs/scale-out.md); results do not depend on it.",
    )(fn)
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
        type=click.Choice(SAMPLER_NAMES),
        default=DEFAULT_SAMPLER,
        show_default=True,
        help="Sampling design on the unit hypercube.",
    )(fn)
    fn = click.option(
        "--seed",
        type=SeedParam(),
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


def check_draw_cap(draws: int, allow_large: bool) -> None:
    """Refuse more than :data:`MAX_DRAWS` draws unless --allow-large is given."""
    if draws > MAX_DRAWS and not allow_large:
        raise click.BadParameter(
            f"{draws:,} draws is more than {MAX_DRAWS:,}: add --allow-large if you mean it",
            param_hint="-n/--draws",
        )


@contextmanager
def scheduler_client(address: str | None, timeout: float) -> Iterator[Any]:
    """A Dask client connected to ``address`` for the command's run (None: no cluster),
    closed after it. Dask is imported only here, when --scheduler is given."""
    if address is None:
        yield None
        return
    from cipmodel.montecarlo.executors import connect

    client = connect(address, timeout)
    try:
        yield client
    finally:
        client.close()


def check_output_path(
    out: Path, force: bool, inputs: tuple[Path, ...] = (), suffix: str = ".xlsx"
) -> Path:
    """Check an output path: never an input file (nor the plan a scenario input names),
    however it is reached (a link, a hard link, ``..``): not even with --force; never a
    symbolic link; an existing file only with --force; its name ends in ``suffix``
    (``.xlsx`` for a results workbook, ``.pdf`` for a report)."""
    import os

    for src in _with_scenario_plans(inputs):
        if _same_file(out, src):
            raise click.UsageError(
                f"{out} is the input file {src.name}: results are written to a new file, "
                "never over an input, even with --force (choose another -o)"
            )
    if os.path.islink(out):
        raise click.UsageError(
            f"{out} is a symbolic link: cipmodel never writes through a link "
            "(give the real file's path or another name)"
        )
    if os.path.isdir(out):
        raise click.UsageError(f"{out} is a folder: give a file name")
    if os.path.lexists(out) and not force:
        raise click.UsageError(f"{out} already exists: choose another name or add --force")
    if out.suffix.lower() != suffix:
        raise click.UsageError(f"{out}: results are written as {suffix}")
    return out


def _same_file(a: Path, b: Path) -> bool:
    from cipmodel.io.atomic import same_file

    return same_file(a, b)


def _with_scenario_plans(inputs: tuple[Path, ...]) -> list[Path]:
    """``inputs`` and, for each scenario file among them, the plan workbook it names (a
    scenario that cannot be read is reported when it is loaded, not here)."""
    out = list(inputs)
    for src in inputs:
        if src.suffix.lower() != ".toml":
            continue
        from cipmodel.errors import CipModelError
        from cipmodel.inputs.scenario import read_scenario_file

        try:
            plan = read_scenario_file(src).plan
        except (CipModelError, OSError, ValueError):
            continue
        if plan is not None:
            out.append(Path(plan))
    return out


def intake_options(fn: Any) -> Any:
    """--strict and --allow-extra-column, for the commands that read one plan."""
    fn = click.option(
        "--allow-extra-column",
        "allow_extra_columns",
        multiple=True,
        metavar="HEADER",
        help='Keep a column whose header looks like a misspelt field (e.g. "Strat month") '
        "as an extra column, ignored; repeat for several.",
    )(fn)
    fn = click.option(
        "--strict",
        is_flag=True,
        help="Refuse the plan (exit 2) if it has warnings: values that look like a slip, "
        "such as income typed in pounds or 0.95% for 95%.",
    )(fn)
    return fn


def load_checked(
    plan: Path,
    strict: bool = False,
    allow_extra_columns: tuple[str, ...] = (),
    *,
    quiet: bool = False,
) -> tuple[Any, dict[str, Any], list[Any]]:
    """A plan, its provenance entries and its notes; each note printed on stderr, one line
    with its place, unless ``quiet`` (``--json`` lists them under ``warnings`` instead).
    With ``strict``, warnings refuse the plan (ValidationError, exit 2)."""
    from cipmodel.errors import Note, Problem, ValidationError
    from cipmodel.inputs.records import definition_notes
    from cipmodel.io.plan import load_plan_with_notes

    portfolio, prov, notes = load_plan_with_notes(plan, allow_extra_columns=allow_extra_columns)
    # what a definition assumed for this plan (e.g. a PFI unitary charge given unsplit)
    notes = [*notes, *(Note(n, "Financing") for n in definition_notes(portfolio))]
    warnings = [n for n in notes if n.level == "warning"]
    if strict and warnings:
        problems = [
            Problem(n.place, f"{n.message} (a warning; --strict refuses it)") for n in warnings
        ]
        raise ValidationError(problems, source=plan.name)
    for note in () if quiet else notes:
        click.echo(f"{note.level}: {note.line()}", err=True)
    return portfolio, prov, notes


def write_results(
    output: Path,
    result: Any,
    force: bool,
    extra: dict[str, Any] | None = None,
    simulation: Any = None,
    source: Path | None = None,
    notes: Any = (),
) -> None:
    """The results workbook (Board summary, Summary, Monthly, STF by quarter, Metrics,
    Schemes, Lines, charts, and an Input notes sheet listing ``notes`` if there are any).
    With ``source``, the plan workbook the run read: the results workbook carries it (its
    sheets as they are, the result sheets added), and what cannot be carried is said on
    stderr. Without it (an example, a scenario), the input sheets are written new."""
    if source is not None and source.suffix.lower() in (".xlsx", ".xlsm"):
        from cipmodel.io.carry import write_carried_results

        carried = write_carried_results(
            output,
            source,
            result,
            overwrite=force,
            simulation=simulation,
            extra_sheets=extra,
            notes=notes,
        )
        if carried.losses:
            click.echo(
                f"Warning: {output.name} carries {source.name} except what cipmodel (through "
                "openpyxl) cannot carry (also listed on its Provenance sheet):",
                err=True,
            )
            for item in carried.losses:
                click.echo(f"  - {item}", err=True)
            click.echo(f"{source.name} itself is unchanged.", err=True)
        for note in carried.notes:
            click.echo(f"Note: {note}", err=True)
        return
    from cipmodel.io.results_workbook import write_results_workbook

    write_results_workbook(
        output, result, overwrite=force, simulation=simulation, extra_sheets=extra, notes=notes
    )
