"""The risk-adjusted plan view: what the plan is expected to deliver, without simulation.

A plan run counts every scheme at 100% of its planned effect, on time, whatever its stage
and RAG rating. The risk-adjusted view counts each scheme at its **expected** in-year
effect under the priors pack the Monte Carlo draws from (``cipmodel/rules/priors-2017.toml``,
read by :mod:`cipmodel.regime.priors_pack`):

``expected[s, y] = mean_share(s) * sum_k P(slip_s = k) * effect_s(y | start + k)``

where ``mean_share(s)`` is the closed-form mean of the scheme's delivered-share distribution
(its stage's where the pack gives one, e.g. ``unidentified``, else its RAG rating's; PERT
``(min + 4 mode + max) / 6``), ``P(slip_s = k)`` the pack's probability that a scheme of its
stage starts ``k`` months late, and ``effect_s(y | start)`` the engine's in-year effect of the
scheme (its ramp, recurrence and horizon) started at ``start``. In a simulation the share
and the slip of a scheme are drawn from independent coordinates, so the expectation of
their product is the product of their expectations; the within-trust and national
correlation of the delivery factor changes the spread of the programme's delivery but not
any scheme's mean (each scheme keeps its marginal distribution exactly). So the
risk-adjusted CIP equals the mean CIP delivered in ``cipmodel simulate`` with the same
priors (tested against a seeded simulation).

The risk-adjusted forecast is the plan's pre-STF forecast with the planned CIP replaced by
the expected CIP: ``forecast + expected - planned``. It includes the delivery and the
slippage of CIP only. The default simulation also draws pay, price, activity, agency and A&E
shocks; their means are zero (the agency factor's mean is one), so they move the mean
surplus only through second-order terms (a product of two correlated shocks, compounding
over years), which the view leaves out: see ``docs/plan-views.md``.

Money £000, positive = better for the surplus; ``None`` where a trust has no control total
for the year.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import numpy as np
from numpy.typing import NDArray

from cipmodel.engine.cip_years import scheme_parts
from cipmodel.engine.compile import RAGS, STAGES, PlanArrays
from cipmodel.engine.project import Draws, Projection, project
from cipmodel.formatting import json_float
from cipmodel.regime.packs import RulePack
from cipmodel.regime.priors_pack import (
    DEFAULT_PRIORS,
    DeliveryPriorsLike,
    expected_slip_weights,
    load_delivery_priors,
)

__all__ = [
    "DEFAULT_MET_TOLERANCE",
    "CipSplit",
    "ForecastRiskAdjustedDict",
    "RiskAdjustedCipDict",
    "RiskAdjustedYear",
    "PriorsArg",
    "RiskAdjusted",
    "SplitDict",
    "expected_scheme_year",
    "risk_adjusted",
    "risk_adjusted_cip_dict",
    "forecast_risk_adjusted_dict",
]

FloatArray = NDArray[np.float64]
#: £000: a forecast this close below the target still meets it (the plan run's
#: ``cipmodel.results.figures.MET_TOLERANCE``; figures imports this module, so it is passed in)
DEFAULT_MET_TOLERANCE = 1e-6
PriorsArg = str | Path | RulePack | DeliveryPriorsLike


@dataclass(frozen=True)
class CipSplit:
    """Planned and expected in-year CIP of a group of schemes [£000]."""

    planned: float
    expected: float


@dataclass(frozen=True)
class RiskAdjustedYear:
    """One trust's risk-adjusted view of one plan year [£000].

    Attributes
    ----------
    year : int
        Plan year (1 = the first).
    planned, expected : float
        The year's own CIP (``brought_forward + new``, the measure of
        :mod:`cipmodel.engine.cip_years` and of ``years[i].cip.planned``) as planned (every
        scheme in full, on time) and expected.
    at_risk : float
        ``planned - expected``.
    unidentified_planned, unidentified_expected : float
        The same for the unidentified CIP line alone (its own risk line).
    by_stage, by_rag : dict of str -> CipSplit
        Planned and expected CIP by scheme stage and by RAG rating (every stage and rating,
        zero where none).
    new, brought_forward : CipSplit
        The two parts of the year's own CIP: the in-year effect of the schemes starting in
        this year, and the full-year-effect rollover of earlier years' recurrent schemes.
    in_year_effect : CipSplit
        The year's whole CIP effect against the do-nothing run rate (the engine's measure,
        which in later years also holds earlier years' recurrent savings already in the
        cost base): the difference between its planned and expected values is what moves
        the forecast.
    forecast, forecast_risk_adjusted : float
        Pre-STF surplus as planned, and with the expected CIP in place of the planned.
    target : float or None
        Pre-STF control total (None: none set).
    variance_risk_adjusted : float or None
        ``forecast_risk_adjusted - target``.
    met_risk_adjusted : bool or None
        The risk-adjusted forecast meets the control total (within the run's tolerance).
    """

    year: int
    planned: float
    expected: float
    at_risk: float
    unidentified_planned: float
    unidentified_expected: float
    by_stage: Mapping[str, CipSplit]
    by_rag: Mapping[str, CipSplit]
    new: CipSplit
    brought_forward: CipSplit
    in_year_effect: CipSplit
    forecast: float
    forecast_risk_adjusted: float
    target: float | None
    variance_risk_adjusted: float | None
    met_risk_adjusted: bool | None


@dataclass(frozen=True)
class RiskAdjusted:
    """The risk-adjusted view of every trust and plan year.

    Attributes
    ----------
    priors : str
        The priors the expectation was taken under.
    codes : tuple of str
        Trust codes, in plan order.
    years : tuple of tuple of RiskAdjustedYear
        Per trust, one entry per plan year of its horizon.
    scheme_expected : ndarray (S, Y)
        Expected in-year effect of each scheme [£000].
    """

    priors: str
    codes: tuple[str, ...]
    years: tuple[tuple[RiskAdjustedYear, ...], ...]
    scheme_expected: FloatArray

    def trust(self, code: str) -> tuple[RiskAdjustedYear, ...]:
        """The years of one trust."""
        return self.years[self.codes.index(code)]


def _priors(priors: PriorsArg) -> tuple[DeliveryPriorsLike, str]:
    if isinstance(priors, str | Path | RulePack):
        loaded = load_delivery_priors(priors, RAGS)
        return loaded, loaded.name
    return priors, str(getattr(priors, "name", type(priors).__name__))


def expected_scheme_year(plan: PlanArrays, priors: DeliveryPriorsLike) -> FloatArray:
    """(S, Y) expected in-year effect of each scheme under ``priors`` [£000].

    One engine projection of ``K`` draws (``K`` = the longest slippage distribution): in
    draw ``k`` every scheme starts ``k`` months late and delivers ``mean_share x P(slip =
    k)`` of its effect, so the sum over the draws is the expectation, by linearity.
    """
    stages = [STAGES[i] for i in plan.scheme_stage]
    rags = [RAGS[i] for i in plan.scheme_rag]
    means = np.array(
        [
            priors.share_dist(st, rg, sid).mean()
            for st, rg, sid in zip(stages, rags, plan.scheme_ids, strict=True)
        ],
        dtype=float,
    )
    weights = expected_slip_weights([priors.slip_pmf(st) for st in stages])  # (K, S)
    k = weights.shape[0]
    slip = np.broadcast_to(np.arange(k)[:, None], weights.shape)
    proj = project(plan, Draws(n=k, delivery=weights * means[None, :], slip=slip))
    out: FloatArray = proj.cip_scheme_year.sum(axis=0)
    return out


def _split(
    planned: FloatArray, expected: FloatArray, groups: NDArray[np.int_], names: tuple[str, ...]
) -> dict[str, CipSplit]:
    return {
        name: CipSplit(float(planned[groups == g].sum()), float(expected[groups == g].sum()))
        for g, name in enumerate(names)
    }


def risk_adjusted(
    plan: PlanArrays,
    projection: Projection,
    priors: PriorsArg = DEFAULT_PRIORS,
    met_tolerance: float = DEFAULT_MET_TOLERANCE,
) -> RiskAdjusted:
    """The risk-adjusted view of a plan run (``RunResult.plan``, ``RunResult.projection``).

    Parameters
    ----------
    plan, projection : PlanArrays, Projection
        A plan run at planned values (one draw).
    priors : str, Path, RulePack or priors object
        The priors pack (name, ``name:variant``, path) or an object with ``share_dist`` and
        ``slip_pmf`` (e.g. :class:`cipmodel.montecarlo.Priors`). Default ``priors-2017``,
        the pack ``cipmodel simulate`` uses.
    met_tolerance : float
        A risk-adjusted forecast this close below the control total still meets it [£000].
    """
    dp, name = _priors(priors)
    expected = expected_scheme_year(plan, dp)  # (S, Y)
    planned = projection.cip_scheme_year[0]  # (S, Y)
    forecast = projection.by_year(projection.surplus_pre_stf)[0]  # (T, Y)
    cip_planned = projection.by_year(projection.cip_total)[0]  # (T, Y)
    unidentified = plan.scheme_stage == STAGES.index("unidentified")
    # the year's own CIP (brought forward + new), scheme by scheme, planned and expected
    parts_p, parts_e = scheme_parts(plan, planned), scheme_parts(plan, expected)
    own_p = parts_p["brought_forward"] + parts_p["new"]
    own_e = parts_e["brought_forward"] + parts_e["new"]
    trusts = []
    for i in range(plan.n_trusts):
        mine = plan.scheme_trust == i
        years = []
        for y in range(int(plan.horizon[i])):
            p, e = own_p[mine, y], own_e[mine, y]
            exp_total = float(cip_planned[i, y] - planned[mine, y].sum() + expected[mine, y].sum())
            fc_ra = float(forecast[i, y] - cip_planned[i, y] + exp_total)

            def part(name: str, mine: NDArray[np.bool_] = mine, y: int = y) -> CipSplit:
                return CipSplit(
                    float(parts_p[name][mine, y].sum()), float(parts_e[name][mine, y].sum())
                )

            target = plan.ct_target[i, y]
            has_ct = bool(np.isfinite(target))
            var = fc_ra - float(target) if has_ct else None
            years.append(
                RiskAdjustedYear(
                    year=y + 1,
                    planned=float(p.sum()),
                    expected=float(e.sum()),
                    at_risk=float(p.sum() - e.sum()),
                    unidentified_planned=float(own_p[mine & unidentified, y].sum()),
                    unidentified_expected=float(own_e[mine & unidentified, y].sum()),
                    by_stage=_split(p, e, plan.scheme_stage[mine], STAGES),
                    by_rag=_split(p, e, plan.scheme_rag[mine], RAGS),
                    new=part("new"),
                    brought_forward=part("brought_forward"),
                    in_year_effect=CipSplit(float(cip_planned[i, y]), exp_total),
                    forecast=float(forecast[i, y]),
                    forecast_risk_adjusted=fc_ra,
                    target=float(target) if has_ct else None,
                    variance_risk_adjusted=var,
                    met_risk_adjusted=None if var is None else bool(var >= -met_tolerance),
                )
            )
        trusts.append(tuple(years))
    return RiskAdjusted(
        priors=name, codes=plan.codes, years=tuple(trusts), scheme_expected=expected
    )


class SplitDict(TypedDict):
    planned: float | None
    expected: float | None


class RiskAdjustedCipDict(TypedDict):
    """``years[i].cip.risk_adjusted``."""

    priors: str
    planned: float | None
    expected: float | None
    at_risk: float | None
    unidentified_planned: float | None
    unidentified_expected: float | None
    by_stage: dict[str, SplitDict]
    by_rag: dict[str, SplitDict]
    new: SplitDict
    brought_forward: SplitDict
    in_year_effect: SplitDict


class ForecastRiskAdjustedDict(TypedDict):
    """``years[i].control_total.forecast_risk_adjusted``."""

    forecast: float | None
    variance: float | None
    met: bool | None


def _split_one(v: CipSplit) -> SplitDict:
    return {"planned": json_float(v.planned), "expected": json_float(v.expected)}


def _split_dict(groups: Mapping[str, CipSplit]) -> dict[str, SplitDict]:
    return {k: _split_one(v) for k, v in groups.items()}


def risk_adjusted_cip_dict(y: RiskAdjustedYear, priors: str) -> RiskAdjustedCipDict:
    """``years[i].cip.risk_adjusted`` of ``run --json``: the priors, planned, expected and
    at-risk CIP, the unidentified line, and the split by stage and RAG rating [£000]."""
    return {
        "priors": priors,
        "planned": json_float(y.planned),
        "expected": json_float(y.expected),
        "at_risk": json_float(y.at_risk),
        "unidentified_planned": json_float(y.unidentified_planned),
        "unidentified_expected": json_float(y.unidentified_expected),
        "by_stage": _split_dict(y.by_stage),
        "by_rag": _split_dict(y.by_rag),
        "new": _split_one(y.new),
        "brought_forward": _split_one(y.brought_forward),
        "in_year_effect": _split_one(y.in_year_effect),
    }


def forecast_risk_adjusted_dict(y: RiskAdjustedYear) -> ForecastRiskAdjustedDict:
    """``years[i].control_total.forecast_risk_adjusted`` of ``run --json``: the pre-STF
    forecast with expected CIP, its variance against the control total and whether it meets
    it [£000]."""
    return {
        "forecast": json_float(y.forecast_risk_adjusted),
        "variance": None
        if y.variance_risk_adjusted is None
        else json_float(y.variance_risk_adjusted),
        "met": y.met_risk_adjusted,
    }
