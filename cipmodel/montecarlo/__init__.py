"""Monte Carlo simulation: probability of meeting the control total, funding and score at risk.

The public API:

- :func:`simulate` -> :class:`SimulationResult` (tidy DataFrames, ``to_dict()`` = the
  ``simulate --json`` contract);
- :func:`solve_probability` -> :class:`ProbabilitySolveResult`: the CIP needed for
  P(meet the control total) >= p, and the probability curve across CIP levels;
- :class:`Priors`, :func:`load_priors`, :class:`ShareDist`: what is uncertain and how;
- :func:`nearest_correlation`: repair a correlation matrix.

``docs/simulation.md`` describes the model, the priors and what is exact and approximate.
"""

from cipmodel.montecarlo.priors import (
    AEShock,
    Priors,
    ShareDist,
    Shock,
    SimulationError,
    load_priors,
    nearest_correlation,
)
from cipmodel.montecarlo.simulation import (
    DEFAULT_DRAWS,
    DEFAULT_SAMPLER,
    MAX_DRAWS,
    SimulationResult,
    simulate,
)
from cipmodel.montecarlo.solve import ProbabilitySolveResult, solve_probability

__all__ = [
    "AEShock",
    "DEFAULT_DRAWS",
    "DEFAULT_SAMPLER",
    "MAX_DRAWS",
    "Priors",
    "ProbabilitySolveResult",
    "ShareDist",
    "Shock",
    "SimulationError",
    "SimulationResult",
    "load_priors",
    "nearest_correlation",
    "simulate",
    "solve_probability",
]
