"""What a simulation (and the probability solve) sets up once: settings checked, rule packs
resolved, and the :class:`SimulationContext` every chunk of draws is computed with.

:func:`cipmodel.montecarlo.simulation.simulate` and
:func:`cipmodel.montecarlo.solve.solve_probability` share these, so the same seed and
settings give the same draws in both.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cipmodel.engine.assess import Assessment, assess
from cipmodel.engine.compile import PlanArrays
from cipmodel.engine.project import Projection, project
from cipmodel.inputs.records import Portfolio
from cipmodel.montecarlo.distributions import SimulationError
from cipmodel.montecarlo.inputs import DrawnInputs, InputModel
from cipmodel.montecarlo.priors import Priors
from cipmodel.montecarlo.samplers import Sampler, make_sampler
from cipmodel.montecarlo.streams import SeedLike
from cipmodel.regime.funding_pack import default_funding_pack
from cipmodel.regime.packs import RulePack, load_pack
from cipmodel.regime.score import sof_pack
from cipmodel.regime.segmentation import segmentation_pack
from cipmodel.results.run import RunResult

__all__ = [
    "DEFAULT_DRAWS",
    "DEFAULT_SAMPLER",
    "MAX_DRAWS",
    "Packs",
    "SimulationContext",
    "build_context",
    "check_draws",
    "resolve_packs",
]

MAX_DRAWS = 10_000_000  # refused above this without allow_large (CLI --allow-large)
DEFAULT_DRAWS = 16_384  # 2**14: balanced for Sobol'
DEFAULT_SAMPLER = "sobol"


@dataclass(frozen=True)
class Packs:
    """The rule packs a simulation assesses every draw under."""

    funding: RulePack
    sof: RulePack
    segmentation: RulePack


@dataclass
class SimulationContext:
    """Everything a chunk needs, built once per simulation.

    Attributes
    ----------
    plan : PlanArrays
        The first plan year of the compiled plan (year 1 is simulated on it).
    planned : Projection
        Its plan run (one draw at planned values).
    inputs : InputModel
        How a sample point becomes the engine's inputs.
    sampler : Sampler
        The design on the unit hypercube.
    packs : Packs
    catch_up, bonus
        As for :func:`cipmodel.engine.assess.assess`.
    nonrecurrent : ndarray of int
        The non-recurrent schemes (their delivered CIP is an output).
    sampler_seed : SeedSequence, optional
        The seed the sampler was built from, where the caller records it.
    full : PlanArrays, optional
        The whole horizon, where later plan years are simulated too (a plan of several
        years, in :func:`~cipmodel.montecarlo.simulation.simulate`); None: year 1 only.
    full_planned : Projection, optional
        Its plan run.
    """

    plan: PlanArrays
    planned: Projection
    inputs: InputModel
    sampler: Sampler
    packs: Packs
    catch_up: bool | None
    bonus: bool
    nonrecurrent: NDArray[np.intp]
    sampler_seed: np.random.SeedSequence | None = None
    full: PlanArrays | None = None
    full_planned: Projection | None = None

    def projection(
        self, start: int, count: int, cip_scale: ArrayLike | None = None
    ) -> tuple[DrawnInputs, Projection]:
        """Draws ``start .. start + count - 1``: their inputs and projection."""
        return self.project_points(self.sampler.sample(start, count), cip_scale)

    def project_points(
        self, u: NDArray[np.float64], cip_scale: ArrayLike | None = None
    ) -> tuple[DrawnInputs, Projection]:
        """The inputs and projection of sample points ``u`` (draws x dimensions)."""
        drawn = self.inputs.map(u)
        draws = drawn.draws
        if cip_scale is not None:
            draws = replace(draws, cip_scale=cip_scale)
        return drawn, project(self.plan, draws)

    def assess(self, proj: Projection, drawn: DrawnInputs) -> Assessment:
        """Funding, metrics and score of a chunk's projection (as a plan run is assessed)."""
        return assess(
            proj,
            self.planned,
            funding_rules=self.packs.funding,
            sof_rules=self.packs.sof,
            segmentation_rules=self.packs.segmentation,
            catch_up=self.catch_up,
            bonus=self.bonus,
            ae_met=drawn.ae_met,
        )


def check_draws(draws: object, allow_large: bool) -> int:
    """The number of draws, checked: a whole number from 1 to :data:`MAX_DRAWS` (more with
    ``allow_large``)."""
    if isinstance(draws, bool) or not isinstance(draws, int | np.integer) or draws < 1:
        raise SimulationError(f"draws must be a whole number >= 1, got {draws!r}")
    if draws > MAX_DRAWS and not allow_large:
        raise SimulationError(
            f"{draws:,} draws is more than the {MAX_DRAWS:,} allowed without allow_large=True "
            "(--allow-large): the run would take very long"
        )
    return int(draws)


def resolve_packs(
    portfolio: Portfolio, funding_rules: str | RulePack | None, sof_rules: str | RulePack
) -> Packs:
    """The funding pack (by default that of the portfolio's financial year), the SOF pack and
    the segmentation pack."""
    if funding_rules is None:
        funding_rules = default_funding_pack({t.financial_year for t in portfolio.trusts})
    fpack = (
        funding_rules
        if isinstance(funding_rules, RulePack)
        else load_pack(funding_rules, kind="funding")
    )
    return Packs(
        funding=fpack,
        sof=sof_pack(sof_rules),
        segmentation=segmentation_pack("segmentation-2016"),
    )


def build_context(
    run: RunResult,
    priors: Priors,
    sampler: str,
    seed: SeedLike,
    total: int,
    packs: Packs,
    catch_up: bool | None,
    bonus: bool,
    years: bool = False,
) -> SimulationContext:
    """The context of a simulation of ``run``'s first plan year; with ``years``, and a plan
    of several years, of its later years too.

    The input model (the layout of a sample point) is the same either way: it depends on
    the schemes, trusts and priors, never on the horizon, so year 1 draws the same inputs
    and gives the same numbers whether later years are simulated or not.
    """
    plan = run.plan.truncate(1)
    full = run.plan if years and run.plan.n_years > 1 else None
    im = InputModel(plan, priors)
    sam = make_sampler(sampler, im.n_dims, seed=seed, total=total)
    nonrec = np.flatnonzero(~plan.scheme_recurrent)
    return SimulationContext(
        plan=plan,
        planned=project(plan),
        inputs=im,
        sampler=sam,
        packs=packs,
        catch_up=catch_up,
        bonus=bonus,
        nonrecurrent=nonrec,
        full=full,
        full_planned=None if full is None else project(full),
    )
