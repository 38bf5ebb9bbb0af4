"""The ``run --json`` contract: a plan run's figures rendered as JSON-ready dicts.

:func:`run_dict` renders :class:`~cipmodel.results.figures.TrustFigures` (and nothing else):
money £000, rates fractions, snake_case keys, every float through
:func:`~cipmodel.formatting.json_float` (rounded to 6 decimals; None for NaN or infinity).
The typed dicts below are the contract's shape; ``docs/`` describes each field. Key order is
part of the contract's text (``json.dumps`` keeps it), so each dict is built in that order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NotRequired, TypedDict

from cipmodel.formatting import json_float
from cipmodel.regime.score import ScoreDict
from cipmodel.results.bridge import BridgeStepDict, bridge_dict
from cipmodel.results.figures import (
    MetricResult,
    TrustFigures,
    TrustFunding,
    TrustYear,
)
from cipmodel.results.provenance import Provenance
from cipmodel.results.risk_adjusted import (
    ForecastRiskAdjustedDict,
    RiskAdjustedCipDict,
    forecast_risk_adjusted_dict,
    risk_adjusted_cip_dict,
)
from cipmodel.results.underlying import UnderlyingDict, underlying_dict

__all__ = [
    "CandidateSegmentDict",
    "CipDict",
    "ControlTotalDict",
    "FundingDict",
    "FundingQuarterDict",
    "IncomeAndExpenditureDict",
    "MetricDict",
    "RunDict",
    "TrustDict",
    "YearCipDict",
    "YearControlTotalDict",
    "YearDict",
    "run_dict",
    "trust_dict",
]

SEGMENT_NOTE = "finance theme only; segmentation is the regulator's judgement"


class ControlTotalDict(TypedDict):
    basis: Literal["pre_stf"]
    target: float | None
    forecast: float | None
    variance: float | None
    met: bool | None
    accepted: bool
    quarters: dict[str, float | None]
    target_post_stf: float | None
    forecast_post_stf: float | None
    variance_post_stf: float | None
    met_post_stf: bool | None


class YearControlTotalDict(ControlTotalDict):
    """A plan year's control total: pre-STF (``target``, ``forecast``, ``variance``,
    ``met``, ``quarters``) and post-STF (target + allocation; reported surplus)."""

    forecast_risk_adjusted: NotRequired[ForecastRiskAdjustedDict]


class YearCipDict(TypedDict):
    """A plan year's CIP as the year's own savings: ``planned = brought_forward + new``."""

    planned: float | None
    planned_pct: float | None
    brought_forward: float | None
    new: float | None
    non_recurrent_gap: float | None
    planned_fye: float | None
    unidentified: float | None
    recurrent: float | None
    needed: float | None
    needed_pct: float | None
    needed_band: str
    met_without_new: bool | None
    risk_adjusted: NotRequired[RiskAdjustedCipDict]


class CipDict(TypedDict):
    planned: float | None
    planned_pct: float | None
    planned_fye: float | None
    unidentified: float | None
    recurrent: float | None
    needed: float | None
    needed_pct: float | None
    needed_band: str
    met_without_cip: bool
    delivered: float | None
    delivered_pct: float | None


class FundingQuarterDict(TypedDict):
    available: float | None
    earned: float | None
    lost: float | None
    gate_met: bool


class FundingDict(TypedDict):
    rules: str
    allocation: float | None
    quarters: dict[str, FundingQuarterDict]
    catch_up_released: float | None
    incentive: float | None
    bonus: float | None
    earned: float | None
    lost: float | None
    note: NotRequired[str]


class MetricDict(TypedDict):
    value: float | None
    score: int | None
    not_applicable: NotRequired[str]


class CandidateSegmentDict(TypedDict):
    segment: int
    label: Literal["candidate"]
    note: str


class IncomeAndExpenditureDict(TypedDict):
    operating_income: float | None
    operating_expenditure: float | None
    ebitda: float | None
    non_operating: float | None
    surplus_pre_stf: float | None


class YearDict(TypedDict):
    """One plan year. The flat keys are the first contract's; ``control_total``, ``cip``,
    ``funding`` ... the year's whole answer. ``funding``, ``reported_surplus``,
    ``metrics``, ``score`` ... are None where the year is not assessed, and ``not_assessed``
    then says why."""

    year: int
    surplus_pre_stf: float | None
    control_total_pre_stf: float | None
    variance: float | None
    met: bool | None
    cip_planned: float | None
    cip_planned_pct: float | None
    operating_income: float | None
    operating_expenditure: float | None
    financial_year: str
    control_total: YearControlTotalDict
    cip: YearCipDict
    funding: FundingDict | None
    reported_surplus: float | None
    metrics: dict[str, MetricDict] | None
    score: ScoreDict | None
    score_by_quarter: dict[str, int] | None
    finance_trigger: bool | None
    candidate_segment: CandidateSegmentDict | None
    not_assessed: NotRequired[str]
    underlying: NotRequired[UnderlyingDict]


class TrustDict(TypedDict):
    code: str
    name: str
    trust_type: str
    financial_year: str
    control_total: ControlTotalDict
    cip: CipDict
    funding: FundingDict
    reported_surplus: float | None
    metrics: dict[str, MetricDict]
    score: ScoreDict
    score_by_quarter: dict[str, int]
    finance_trigger: bool
    candidate_segment: CandidateSegmentDict
    income_and_expenditure: IncomeAndExpenditureDict
    years: list[YearDict]
    bridge: NotRequired[list[BridgeStepDict] | None]


class RunDict(TypedDict):
    trusts: list[TrustDict]
    provenance: Provenance


def run_dict(trusts: Sequence[TrustFigures], provenance: Provenance) -> RunDict:
    """The ``run --json`` document of a plan run's figures (``provenance`` as given)."""
    return {"trusts": [trust_dict(t) for t in trusts], "provenance": provenance}


def trust_dict(t: TrustFigures) -> TrustDict:
    """One trust of the ``run --json`` document."""
    first = t.first_year
    return {
        "code": t.code,
        "name": t.name,
        "trust_type": t.trust_type,
        "financial_year": t.financial_year,
        "control_total": _control_total(t),
        "cip": _cip(t),
        "funding": _funding(t.funding),
        "reported_surplus": json_float(t.reported_surplus),
        "metrics": {m.metric: _metric(m) for m in t.full_year.metrics},
        "score": t.score.to_dict(not_applicable=t.score_not_applicable),
        "score_by_quarter": {f"q{q + 1}": p.overall for q, p in enumerate(t.periods)},
        "finance_trigger": t.finance_trigger,
        "candidate_segment": {
            "segment": t.candidate_segment,
            "label": "candidate",
            "note": SEGMENT_NOTE,
        },
        "income_and_expenditure": {
            "operating_income": json_float(first.operating_income),
            "operating_expenditure": json_float(first.operating_expenditure),
            "ebitda": json_float(first.ebitda),
            "non_operating": json_float(first.non_operating),
            "surplus_pre_stf": json_float(first.surplus_pre_stf),
        },
        "years": [_year_views(_year(y), t, k) for k, y in enumerate(t.years)],
        "bridge": None if t.views is None else bridge_dict(t.views.bridge),
    }


def _year_views(d: YearDict, t: TrustFigures, k: int) -> YearDict:
    """A year's entry with the plan views of docs/plan-views.md added."""
    if t.views is not None:
        ra, und = t.views.risk_adjusted[k], t.views.underlying[k]
        d["cip"]["risk_adjusted"] = risk_adjusted_cip_dict(ra, t.views.priors)
        d["control_total"]["forecast_risk_adjusted"] = forecast_risk_adjusted_dict(ra)
        d["underlying"] = underlying_dict(und)
    return d


def _control_total(t: TrustFigures) -> ControlTotalDict:
    return _year_control_total(t.first_year, t.control_total_accepted)


def _year_control_total(y: TrustYear, accepted: bool) -> YearControlTotalDict:
    return {
        "basis": "pre_stf",
        "target": json_float(y.control_total_pre_stf),
        "forecast": json_float(y.surplus_pre_stf),
        "variance": json_float(y.variance),
        "met": y.met,
        "accepted": accepted,
        "quarters": {f"q{q}": json_float(v) for q, v in enumerate(y.ytd_variance, start=1)},
        "target_post_stf": json_float(y.control_total_post_stf),
        "forecast_post_stf": json_float(y.reported_surplus),
        "variance_post_stf": json_float(y.variance_post_stf),
        "met_post_stf": y.met_post_stf,
    }


def _cip(t: TrustFigures) -> CipDict:
    first, s = t.first_year, t.cip
    return {
        "planned": json_float(s.planned),
        "planned_pct": json_float(s.planned_pct),
        "planned_fye": json_float(first.cip_fye),
        "unidentified": json_float(first.cip_unidentified),
        "recurrent": json_float(first.cip_recurrent),
        "needed": json_float(s.needed),
        "needed_pct": json_float(s.needed_pct),
        "needed_band": s.band,
        "met_without_cip": s.met_without_cip,
        "delivered": json_float(s.planned),
        "delivered_pct": json_float(s.planned_pct),
    }


def _funding(f: TrustFunding) -> FundingDict:
    out: FundingDict = {
        "rules": f.rules,
        "allocation": json_float(f.allocation),
        "quarters": {
            q.quarter: {
                "available": json_float(q.available),
                "earned": json_float(q.earned),
                "lost": json_float(q.lost),
                "gate_met": q.gate_met,
            }
            for q in f.quarters
        },
        "catch_up_released": json_float(f.catch_up_released),
        "incentive": json_float(f.incentive),
        "bonus": json_float(f.bonus),
        "earned": json_float(f.earned),
        "lost": json_float(f.lost),
    }
    return out


def _metric(m: MetricResult) -> MetricDict:
    entry: MetricDict = {"value": json_float(m.value), "score": m.score}
    if m.not_applicable:
        entry["not_applicable"] = m.not_applicable
    return entry


def _year(y: TrustYear) -> YearDict:
    a = y.assessed
    funding = None if a is None else _funding(a.funding)
    if funding is not None and not y.allocation_given:
        funding["note"] = (
            f"no STF/PSF allocation given for {y.financial_year} "
            "(ControlTotal stf_allocation): assessed with none"
        )
    out: YearDict = {
        "year": y.year,
        "surplus_pre_stf": json_float(y.surplus_pre_stf),
        "control_total_pre_stf": json_float(y.control_total_pre_stf),
        "variance": json_float(y.variance),
        "met": y.met,
        "cip_planned": json_float(y.cip_planned),
        "cip_planned_pct": json_float(y.cip_planned_pct),
        "operating_income": json_float(y.operating_income),
        "operating_expenditure": json_float(y.operating_expenditure),
        "financial_year": y.financial_year,
        "control_total": _year_control_total(y, y.control_total_accepted),
        "cip": _year_cip(y),
        "funding": funding,
        "reported_surplus": None if a is None else json_float(a.reported_surplus),
        "metrics": None if a is None else {m.metric: _metric(m) for m in a.full_year.metrics},
        "score": None if a is None else a.score.to_dict(not_applicable=a.score_not_applicable),
        "score_by_quarter": None
        if a is None
        else {f"q{q + 1}": p.overall for q, p in enumerate(a.periods)},
        "finance_trigger": None if a is None else a.finance_trigger,
        "candidate_segment": None
        if a is None
        else {"segment": a.candidate_segment, "label": "candidate", "note": SEGMENT_NOTE},
    }
    if a is None:
        out["not_assessed"] = y.not_assessed
    return out


def _year_cip(y: TrustYear) -> YearCipDict:
    return {
        "planned": json_float(y.cip_planned),
        "planned_pct": json_float(y.cip_planned_pct),
        "brought_forward": json_float(y.cip_brought_forward),
        "new": json_float(y.cip_new),
        "non_recurrent_gap": json_float(y.cip_non_recurrent_gap),
        "planned_fye": json_float(y.cip_fye),
        "unidentified": json_float(y.cip_unidentified),
        "recurrent": json_float(y.cip_recurrent),
        "needed": json_float(y.cip_needed),
        "needed_pct": json_float(y.cip_needed_pct),
        "needed_band": y.cip_needed_band,
        "met_without_new": y.cip_met_without_new,
    }
