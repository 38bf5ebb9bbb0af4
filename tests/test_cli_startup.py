"""The command line starts at once: what it imports, and the registry behind its lazy group.

These are behavioural checks, not timings (``benchmarks/bench_startup.py`` times the
processes): importing :mod:`cipmodel.cli`, building every command for ``--help`` and
validating a plan must not load pandas, scipy, matplotlib, Dask or the Monte Carlo (Dask is
imported only when ``--scheduler`` is given).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from cipmodel.cli import cli
from cipmodel.cli.app import COMMANDS
from cipmodel.cli.errors import Command
from cipmodel.cli.options import (
    DEFAULT_DRAWS,
    DEFAULT_SAMPLER,
    MAX_DRAWS,
    SAMPLER_NAMES,
    SCHEDULER_TIMEOUT,
)

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("pandas", "scipy", "matplotlib", "dask", "distributed")

#: Run in a fresh interpreter; prints the heavy top-level packages (and the Monte Carlo) loaded.
LOADED = """
import json, sys
{body}
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & {heavy!r})
print(json.dumps(heavy + sorted(m for m in sys.modules if m.startswith("cipmodel.montecarlo"))))
"""


def _loaded(body: str) -> list[str]:
    code = LOADED.format(body=body, heavy=set(HEAVY))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_cli_loads_no_heavy_library() -> None:
    """``import cipmodel.cli`` (what the console script does first) loads none of them."""
    assert _loaded("import cipmodel.cli") == []


def test_help_loads_no_heavy_library() -> None:
    """``cipmodel --help`` builds every command without pandas, scipy or matplotlib."""
    body = (
        "from cipmodel.cli import cli\n"
        "try:\n"
        "    cli.main(['--help'], prog_name='cipmodel')\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
    )
    assert _loaded(body) == []


def test_validate_loads_no_heavy_library() -> None:
    """``cipmodel validate`` reads a plan without pandas, scipy, matplotlib or the Monte Carlo."""
    body = (
        "from cipmodel.cli import cli\n"
        "try:\n"
        "    cli.main(['validate', 'templates/example-acute-11pc.xlsx'], prog_name='cipmodel')\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
    )
    assert _loaded(body) == []


def test_simulate_json_loads_no_pandas() -> None:
    """``cipmodel simulate --json`` needs SciPy (samplers, the normal quantile) but not
    pandas or matplotlib: tables are built only when asked for (about 0.2 s of start-up)."""
    body = (
        "from cipmodel.cli import cli\n"
        "try:\n"
        "    cli.main(['simulate', 'templates/example-acute-11pc.xlsx', '-n', '64', '--seed', '1',\n"
        "              '--json', '--workers', '1'], prog_name='cipmodel')\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
    )
    loaded = _loaded(body)
    assert "scipy" in loaded and "cipmodel.montecarlo.simulation" in loaded  # it did simulate
    assert "pandas" not in loaded and "matplotlib" not in loaded


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_registry_names_commands(name: str) -> None:
    """Every registered name imports to a click command of that name, with the error mapping."""
    ctx = click.Context(cli, info_name="cipmodel")
    command = cli.get_command(ctx, name)
    assert isinstance(command, Command), name
    assert command.name == name
    assert name in cli.list_commands(ctx)


def test_unknown_command_is_a_usage_error() -> None:
    """A name that is not registered is click's usage error, exit code 2."""
    from click.testing import CliRunner

    r = CliRunner().invoke(cli, ["nonesuch"])
    assert r.exit_code == 2
    assert "No such command 'nonesuch'" in r.output


def test_simulation_defaults_match_the_monte_carlo() -> None:
    """The simulation options' literal defaults and sampler names are the Monte Carlo's own."""
    from cipmodel.montecarlo import executors, simulation
    from cipmodel.montecarlo.samplers import SAMPLERS

    assert tuple(sorted(SAMPLERS)) == SAMPLER_NAMES
    assert DEFAULT_DRAWS == simulation.DEFAULT_DRAWS
    assert DEFAULT_SAMPLER == simulation.DEFAULT_SAMPLER
    assert MAX_DRAWS == simulation.MAX_DRAWS
    assert SCHEDULER_TIMEOUT == executors.CONNECT_TIMEOUT


def test_monte_carlo_loads_no_dask() -> None:
    """``import cipmodel`` and the Monte Carlo itself do not import Dask (only a client or
    a scheduler address does)."""
    body = "import cipmodel\nfrom cipmodel.montecarlo import simulate, solve_probability\n"
    assert not {"dask", "distributed"} & set(_loaded(body))
