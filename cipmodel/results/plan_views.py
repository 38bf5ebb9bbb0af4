"""The plan views of each trust, computed once per plan run: risk-adjusted
(:mod:`~cipmodel.results.risk_adjusted`), underlying (:mod:`~cipmodel.results.underlying`)
and the bridge from outturn (:mod:`~cipmodel.results.bridge`). ``docs/plan-views.md``
defines them; :mod:`cipmodel.results.contract` renders them into ``run --json``.
"""

from __future__ import annotations

from dataclasses import dataclass

from cipmodel.engine.compile import PlanArrays
from cipmodel.engine.project import Projection
from cipmodel.inputs.records import Portfolio
from cipmodel.regime.priors_pack import DEFAULT_PRIORS
from cipmodel.results.bridge import BridgeStep, bridge
from cipmodel.results.risk_adjusted import (
    DEFAULT_MET_TOLERANCE,
    PriorsArg,
    RiskAdjustedYear,
    risk_adjusted,
)
from cipmodel.results.underlying import UnderlyingYear, underlying

__all__ = ["PlanViews", "plan_views"]


@dataclass(frozen=True)
class PlanViews:
    """One trust's plan views.

    Attributes
    ----------
    priors : str
        The priors pack the risk-adjusted view was taken under.
    risk_adjusted : tuple of RiskAdjustedYear
        One per plan year of the trust's horizon.
    underlying : tuple of UnderlyingYear
        One per plan year of the trust's horizon.
    bridge : tuple of BridgeStep or None
        The bridge from the prior-year outturn (None without Outturn rows).
    """

    priors: str
    risk_adjusted: tuple[RiskAdjustedYear, ...]
    underlying: tuple[UnderlyingYear, ...]
    bridge: tuple[BridgeStep, ...] | None


def plan_views(
    portfolio: Portfolio,
    plan: PlanArrays,
    projection: Projection,
    priors: PriorsArg = DEFAULT_PRIORS,
    met_tolerance: float = DEFAULT_MET_TOLERANCE,
) -> tuple[PlanViews, ...]:
    """The plan views of every trust of a plan run, in plan order."""
    ra = risk_adjusted(plan, projection, priors, met_tolerance)
    und = underlying(plan, projection)
    return tuple(
        PlanViews(
            priors=ra.priors,
            risk_adjusted=ra.years[i],
            underlying=und[i],
            bridge=bridge(portfolio, plan, projection, code),
        )
        for i, code in enumerate(plan.codes)
    )
