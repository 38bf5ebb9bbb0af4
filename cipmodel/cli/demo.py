"""``cipmodel demo``: the bundled example end to end (run, simulation, probability solve, plots).

The library (examples, run, Monte Carlo, workbook writer, matplotlib) is imported when the
command runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from cipmodel.cli.errors import Command
from cipmodel.cli.options import write_results
from cipmodel.formatting import money, pct

__all__ = ["demo"]

#: The bundled example the demo runs, and its Monte Carlo draws and seed.
EXAMPLE = "acute-11pc"
DRAWS = 2**14
SEED = 42


@click.command(cls=Command)
@click.option(
    "--out",
    "out_dir",
    default="cipmodel-demo",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the results.",
)
@click.option(
    "--force", is_flag=True, help="Replace the demo's files already in the folder (never links)."
)
def demo(out_dir: Path, force: bool) -> None:
    """Run the bundled example: an acute trust asked for an 11% CIP.

    Plan run, a 16,384-draw simulation (seed 42) and the CIP needed for an 80% chance of
    meeting the control total; writes results.xlsx and, with matplotlib installed, plots.
    """
    from cipmodel.cli.output import print_run, print_simulation
    from cipmodel.examples import example_portfolio
    from cipmodel.montecarlo import simulate, solve_probability
    from cipmodel.results.run import run_plan

    results = out_dir / "results.xlsx"
    plots = _can_plot()
    _check_targets(out_dir, [results, *(out_dir / n for n in PLOTS if plots)], force)
    portfolio = example_portfolio(EXAMPLE)
    result = run_plan(portfolio, input=f"example:{EXAMPLE}")
    print_run(result)
    click.echo("")
    sim = simulate(portfolio, draws=DRAWS, seed=SEED, input=f"example:{EXAMPLE}")
    print_simulation(sim)
    goal = solve_probability(portfolio, 0.8, draws=DRAWS, seed=SEED)
    row = goal.to_dict()["trusts"][0]
    click.echo(
        f"  CIP needed for an 80% chance   {money(row['needed'])}   "
        f"{pct(row['needed_pct'])} of operating expenditure — {row['band']}"
    )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.UsageError(f"cannot make the folder {out_dir}: {exc.strerror or exc}") from None
    write_results(results, result, force, extra=sim.simulation_sheets(), simulation=sim)
    click.echo(f"\nResults written to {results}")
    if not plots:
        click.echo("Plots skipped: install matplotlib (pip install 'cipmodel[plot]') to draw them")
        return
    _plots(out_dir, result, sim, goal, force)


#: The demo's figures, by file name.
PLOTS = (
    "ytd-vs-control-total.png",
    "fan-chart.png",
    "probability-vs-cip.png",
    "tornado.png",
    "score-distribution.png",
    "funding-by-quarter.png",
)


def _can_plot() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _check_targets(out_dir: Path, targets: list[Path], force: bool) -> None:
    """Before anything is computed: ``--out`` is a folder (or will be), and no file the demo
    writes is a link, a folder, or (without --force) an existing file."""
    if os.path.lexists(out_dir) and not out_dir.is_dir():
        raise click.UsageError(f"{out_dir} is not a folder: choose another --out")
    for t in targets:
        if os.path.islink(t):
            raise click.UsageError(
                f"{t} is a symbolic link: cipmodel never writes through a link "
                "(remove it or choose another --out)"
            )
        if t.is_dir():
            raise click.UsageError(f"{t} is a folder: remove it or choose another --out")
    taken = [t.name for t in targets if os.path.lexists(t)]
    if taken and not force:
        raise click.UsageError(
            f"{out_dir} already holds {', '.join(taken)}: add --force to replace "
            "the demo's files, or choose another --out"
        )


def _plots(out_dir: Path, result: Any, sim: Any, goal: Any, force: bool) -> None:
    """The demo's six figures as PNG files in ``out_dir``, each written atomically
    (never through a link; an existing file replaced only with ``force``)."""
    import matplotlib.pyplot as plt

    from cipmodel.io.atomic import atomic_write
    from cipmodel.report import plots as plot

    figures = {
        PLOTS[0]: lambda: plot.ytd_vs_control_total(result),
        PLOTS[1]: lambda: plot.fan_chart(sim),
        PLOTS[2]: lambda: plot.probability_vs_cip(goal),
        PLOTS[3]: lambda: plot.tornado(sim),
        PLOTS[4]: lambda: plot.score_distribution(sim),
        PLOTS[5]: lambda: plot.funding_by_quarter(result),
    }
    for name, draw in figures.items():
        ax = draw()
        fig = ax.figure
        fig.tight_layout()
        try:
            atomic_write(out_dir / name, _png_writer(fig), overwrite=force)
        finally:
            plt.close(fig)
    click.echo(f"Plots written to {out_dir}/ ({', '.join(figures)})")


def _png_writer(fig: Any) -> Callable[[Path], None]:
    """A writer for :func:`~cipmodel.io.atomic.atomic_write`: ``fig`` as a PNG file."""

    def write(tmp: Path) -> None:
        fig.savefig(tmp, format="png", dpi=100)

    return write
