"""``cipmodel demo``: the bundled example end to end (run, simulation, probability solve, plots).

The library (examples, run, Monte Carlo, workbook writer, matplotlib) is imported when the
command runs.
"""

from __future__ import annotations

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
@click.option("--force", is_flag=True, help="Replace results already in the folder.")
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
    if results.exists() and not force:
        raise click.UsageError(f"{results} already exists: add --force or choose another --out")
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
    out_dir.mkdir(parents=True, exist_ok=True)
    write_results(results, result, force, extra=sim.simulation_sheets(), simulation=sim)
    click.echo(f"\nResults written to {results}")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        click.echo("Plots skipped: install matplotlib (pip install 'cipmodel[plot]') to draw them")
        return
    _plots(out_dir, result, sim, goal)


def _plots(out_dir: Path, result: Any, sim: Any, goal: Any) -> None:
    """The demo's six figures as PNG files in ``out_dir``."""
    import matplotlib.pyplot as plt

    from cipmodel.report import plots as plot

    figures = {
        "ytd-vs-control-total.png": lambda: plot.ytd_vs_control_total(result),
        "fan-chart.png": lambda: plot.fan_chart(sim),
        "probability-vs-cip.png": lambda: plot.probability_vs_cip(goal),
        "tornado.png": lambda: plot.tornado(sim),
        "score-distribution.png": lambda: plot.score_distribution(sim),
        "funding-by-quarter.png": lambda: plot.funding_by_quarter(result),
    }
    for name, draw in figures.items():
        ax = draw()
        ax.figure.tight_layout()
        ax.figure.savefig(out_dir / name, dpi=100)
        plt.close(ax.figure)
    click.echo(f"Plots written to {out_dir}/ ({', '.join(figures)})")
