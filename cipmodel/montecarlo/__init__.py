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

from __future__ import annotations

from typing import TYPE_CHECKING

from cipmodel.lazy import lazy_exports

if TYPE_CHECKING:
    from cipmodel.montecarlo.context import DEFAULT_DRAWS, DEFAULT_SAMPLER, MAX_DRAWS
    from cipmodel.montecarlo.distributions import (
        AEShock,
        ShareDist,
        Shock,
        SimulationError,
        nearest_correlation,
    )
    from cipmodel.montecarlo.priors import Priors, load_priors
    from cipmodel.montecarlo.result import SimulationResult
    from cipmodel.montecarlo.simulation import simulate
    from cipmodel.montecarlo.solve import ProbabilitySolveResult, solve_probability

#: Public name -> the module that defines it; imported on first use.
_EXPORTS: dict[str, str] = {
    "AEShock": "cipmodel.montecarlo.distributions",
    "DEFAULT_DRAWS": "cipmodel.montecarlo.context",
    "DEFAULT_SAMPLER": "cipmodel.montecarlo.context",
    "MAX_DRAWS": "cipmodel.montecarlo.context",
    "Priors": "cipmodel.montecarlo.priors",
    "ProbabilitySolveResult": "cipmodel.montecarlo.solve",
    "ShareDist": "cipmodel.montecarlo.distributions",
    "Shock": "cipmodel.montecarlo.distributions",
    "SimulationError": "cipmodel.montecarlo.distributions",
    "SimulationResult": "cipmodel.montecarlo.result",
    "load_priors": "cipmodel.montecarlo.priors",
    "nearest_correlation": "cipmodel.montecarlo.distributions",
    "simulate": "cipmodel.montecarlo.simulation",
    "solve_probability": "cipmodel.montecarlo.solve",
}

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

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
