"""The figures of a plan run, computed once from the projection, the solve and the assessment.

Every output of a plan run renders these objects and nothing else: the ``run --json``
contract (:mod:`cipmodel.results.contract`), the DataFrame views
(:mod:`cipmodel.results.tables`) and, through them, the results workbook. A number is
therefore computed in one place, with one arithmetic, whatever shows it.

:func:`trust_figures` gives one :class:`TrustFigures` per trust, in portfolio order:

* :class:`TrustYear`: income, costs, surplus against the control total on both bases (pre-STF
  and post-STF), CIP as the year's own savings (``brought_forward`` + ``new``) against the
  CIP needed, one per plan year, each with its :class:`YearAssessed` (funding, metrics,
  score, trigger, segment) or the note why the year is not assessed;
* :class:`SolvedCip`: the CIP needed to meet the first-year control total;
* :class:`TrustFunding` and its :class:`FundingQuarter`: STF/PSF available, earned and lost;
* :class:`PeriodScore` and its :class:`MetricResult`: the SOF metrics and score at each
  quarter end;
* the scalar full-year :class:`~cipmodel.regime.score.ScoreResult`, the finance trigger and
  the candidate segment.

Money is £000 and rates are fractions, as in the engine. Values are the engine's float64
numbers as Python floats (NaN where there is none), unrounded: rounding for JSON is the
renderer's job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from cipmodel.calendar import QUARTER_END_INDEX, QUARTERS, cip_share
from cipmodel.engine.assess import Assessment
from cipmodel.engine.cip_years import CipYears, cip_years, scheme_own_year
from cipmodel.engine.metrics import METRICS
from cipmodel.engine.project import STAGES, PlanArrays, Projection
from cipmodel.engine.solve import SolveResult
from cipmodel.inputs.records import Portfolio
from cipmodel.regime.score import ScoreResult
from cipmodel.results.plan_views import PlanViews, plan_views

__all__ = [
    "MET_TOLERANCE",
    "FundingQuarter",
    "MetricResult",
    "PeriodScore",
    "SolvedCip",
    "TrustFigures",
    "TrustFunding",
    "TrustYear",
    "YearAssessed",
    "YearArrays",
    "period_label",
    "trust_figures",
    "year_arrays",
]

MET_TOLERANCE = 1e-6  # £000: a forecast this close below the target still meets it

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class YearAssessed:
    """Funding, metrics and score of one trust in one assessed plan year.

    ``reported_surplus`` is the pre-STF surplus plus the STF/PSF earned (full year);
    ``periods`` Q1-Q3 year to date then the full year.
    """

    funding: TrustFunding
    reported_surplus: float
    periods: tuple[PeriodScore, ...]
    score: ScoreResult
    score_not_applicable: Mapping[str, str]
    finance_trigger: bool
    candidate_segment: int

    @property
    def full_year(self) -> PeriodScore:
        return self.periods[-1]


@dataclass(frozen=True)
class TrustYear:
    """One trust in one plan year [£000 unless said].

    ``variance`` is ``surplus_pre_stf - control_total_pre_stf``; ``met`` is whether it is at
    least ``-MET_TOLERANCE`` (None where the year has no control total). ``ytd_variance`` is
    the year-to-date surplus less the year-to-date control total at each quarter end.
    ``control_total_post_stf`` is the published control total, pre-STF target + the year's
    STF/PSF allocation; ``reported_surplus`` (pre-STF surplus + STF/PSF earned) is measured
    against it (NaN where the year is not assessed).

    CIP is the year's own savings (:mod:`cipmodel.engine.cip_years`): ``cip_planned`` =
    ``cip_brought_forward + cip_new``; ``cip_planned_pct`` its share of do-nothing operating
    expenditure (NaN where there is none); ``cip_needed`` the year's savings that meet the
    control total on the same basis (NaN where the year has no control total).
    ``assessed`` is None where the year is not assessed, with the reason in ``not_assessed``.
    """

    trust_code: str
    year: int
    operating_income: float
    operating_expenditure: float
    ebitda: float
    non_operating: float
    surplus_pre_stf: float
    control_total_pre_stf: float
    variance: float
    met: bool | None
    cip_planned: float
    cip_planned_pct: float
    cip_fye: float
    cip_unidentified: float
    cip_recurrent: float
    opex_do_nothing: float
    agency: float
    ytd_variance: tuple[float, float, float, float]
    financial_year: str = ""
    control_total_accepted: bool = True
    allocation: float = 0.0
    allocation_given: bool = True
    control_total_post_stf: float = float("nan")
    reported_surplus: float = float("nan")
    variance_post_stf: float = float("nan")
    met_post_stf: bool | None = None
    cip_brought_forward: float = 0.0
    cip_new: float = 0.0
    cip_non_recurrent_gap: float = 0.0
    cip_needed: float = float("nan")
    cip_needed_pct: float = float("nan")
    cip_needed_band: str = ""
    cip_met_without_new: bool | None = None
    assessed: YearAssessed | None = None
    not_assessed: str = ""


@dataclass(frozen=True)
class SolvedCip:
    """The first-year CIP planned and needed to meet the control total (from the solve)."""

    planned: float
    planned_pct: float
    needed: float
    needed_pct: float
    band: str
    met_without_cip: bool


@dataclass(frozen=True)
class FundingQuarter:
    """STF/PSF in one quarter of the first plan year, and the gate that decided it [£000]."""

    quarter: str
    ytd_surplus_pre_stf: float
    ytd_control_total_pre_stf: float
    gate_met: bool
    available: float
    finance_earned: float
    performance_earned: float
    earned: float
    lost: float


@dataclass(frozen=True)
class TrustFunding:
    """STF/PSF of one trust for the first plan year [£000].

    ``earned`` is the year's total (quarters, catch-up, incentive and bonus); ``lost`` what
    is forfeited for good.
    """

    rules: str
    allocation: float
    quarters: tuple[FundingQuarter, ...]
    catch_up_released: float
    incentive: float
    bonus: float
    earned: float
    lost: float


@dataclass(frozen=True)
class MetricResult:
    """One SOF metric of one trust at one period: value (NaN where not applicable), score
    (None where not applicable) and the reason it is not applicable ('' where it is)."""

    metric: str
    value: float
    score: int | None
    not_applicable: str


@dataclass(frozen=True)
class PeriodScore:
    """The SOF metrics and overall score of one trust at one quarter end (year to date)."""

    period: str
    metrics: tuple[MetricResult, ...]
    mean: float
    overall: int


@dataclass(frozen=True)
class TrustFigures:
    """Everything a plan run reports for one trust.

    Attributes
    ----------
    code, name, trust_type, financial_year : str
    control_total_accepted : bool
        The first-year control total was accepted.
    years : tuple of TrustYear
        Plan years 1 to the trust's horizon.
    cip : SolvedCip
    funding : TrustFunding
    reported_surplus : float
        Pre-STF surplus plus STF/PSF earned, full first year [£000].
    periods : tuple of PeriodScore
        Q1, Q2 and Q3 year to date, then the full year.
    score : ScoreResult
        The full-year score (a scalar result).
    score_not_applicable : mapping of str to str
        Why each full-year metric that does not apply does not (metric -> reason).
    finance_trigger : bool
    candidate_segment : int
        Finance theme only: segmentation is the regulator's judgement.
    views : PlanViews, optional
        Risk-adjusted, underlying and bridge views (``docs/plan-views.md``).
    """

    code: str
    name: str
    trust_type: str
    financial_year: str
    control_total_accepted: bool
    years: tuple[TrustYear, ...]
    cip: SolvedCip
    funding: TrustFunding
    reported_surplus: float
    periods: tuple[PeriodScore, ...]
    score: ScoreResult
    score_not_applicable: Mapping[str, str]
    finance_trigger: bool
    candidate_segment: int
    views: PlanViews | None = None

    @property
    def first_year(self) -> TrustYear:
        """Plan year 1, the year the control total, funding and score are assessed on."""
        return self.years[0]

    @property
    def full_year(self) -> PeriodScore:
        """The full-year metrics and score."""
        return self.periods[-1]


@dataclass(frozen=True)
class YearArrays:
    """Annual figures of the plan run, arrays (T, Y) [£000]."""

    income: Floats
    opex: Floats
    opex_do_nothing: Floats
    ebitda: Floats
    non_operating: Floats
    surplus: Floats
    cip: Floats
    cip_unidentified: Floats
    cip_recurrent: Floats
    cip_fye: Floats
    agency: Floats


def year_arrays(plan: PlanArrays, projection: Projection) -> YearArrays:
    """Annual totals of the first (planned) draw, and the CIP by stage and recurrence.

    ``cip_unidentified`` and ``cip_recurrent`` are parts of the year's own CIP (brought
    forward + new, :func:`cipmodel.engine.cip_years.scheme_own_year`), as ``cip_planned``
    is; in year 1 that is each scheme's in-year effect."""
    pr = projection
    y = pr.by_year
    cip_y = scheme_own_year(plan, pr.cip_scheme_year[0])  # (S, Y) the year's own CIP
    n_t, n_y = plan.n_trusts, plan.n_years

    def per_trust(mask: npt.NDArray[np.bool_]) -> Floats:
        out = np.zeros((n_t, n_y))
        np.add.at(out, plan.scheme_trust[mask], cip_y[mask])
        return out

    fye = np.zeros((n_t, n_y))
    for yr in range(n_y):
        live = (plan.scheme_start // 12 <= yr) & (
            plan.scheme_recurrent | (plan.scheme_start // 12 == yr)
        )
        np.add.at(fye[:, yr], plan.scheme_trust[live], plan.scheme_fye[live])
    return YearArrays(
        income=y(pr.operating_income)[0],
        opex=y(pr.operating_expenditure)[0],
        opex_do_nothing=y(pr.operating_expenditure_do_nothing)[0],
        ebitda=y(pr.ebitda)[0],
        non_operating=y(pr.non_operating)[0],
        surplus=y(pr.surplus_pre_stf)[0],
        cip=y(pr.cip_total)[0],
        cip_unidentified=per_trust(plan.scheme_stage == STAGES.index("unidentified")),
        cip_recurrent=per_trust(plan.scheme_recurrent),
        cip_fye=fye,
        agency=y(pr.agency)[0],
    )


@dataclass(frozen=True)
class _Sources:
    """Whole-portfolio arrays the per-trust figures are read from, computed once."""

    portfolio: Portfolio
    plan: PlanArrays
    solved: SolveResult
    assessment: Assessment
    years: YearArrays
    cip: CipYears
    solved_years: tuple[SolveResult | None, ...]  # by plan year; None: not solved
    ytd_variance: Floats  # (T, Y, 12)
    ytd_surplus: Floats  # (T, Y, 12)
    ytd_control_total: Floats  # (T, Y, 12)
    solved_planned_pct: Floats  # (T,)
    solved_needed_pct: Floats  # (T,)


def trust_figures(
    portfolio: Portfolio,
    plan: PlanArrays,
    projection: Projection,
    solved: SolveResult,
    assessment: Assessment,
    solved_years: Sequence[SolveResult | None] = (),
) -> tuple[TrustFigures, ...]:
    """The figures of every trust of a plan run, in portfolio order.

    Parameters
    ----------
    portfolio : Portfolio
    plan : PlanArrays
        The compiled portfolio.
    projection : Projection
        The plan run (draw 0 is read).
    solved : SolveResult
        The CIP needed in the first plan year.
    assessment : Assessment
        Funding, metrics and score of each plan year (draw 0 is read).
    solved_years : sequence of SolveResult or None
        The CIP needed in plan years 2, 3, ... (None where a year is not solved).
    """
    src = _Sources(
        portfolio=portfolio,
        plan=plan,
        solved=solved,
        assessment=assessment,
        years=year_arrays(plan, projection),
        cip=cip_years(plan, projection.cip_scheme_year[0]),
        solved_years=(solved, *solved_years),
        ytd_variance=projection.ytd_variance()[0],
        ytd_surplus=projection.ytd(projection.surplus_pre_stf)[0],
        ytd_control_total=projection.control_total_ytd(),
        solved_planned_pct=solved.planned_pct,
        solved_needed_pct=solved.needed_pct,
    )
    views = plan_views(portfolio, plan, projection, met_tolerance=MET_TOLERANCE)
    return tuple(replace(_trust(src, i), views=views[i]) for i in range(plan.n_trusts))


def _trust(src: _Sources, i: int) -> TrustFigures:
    trust = src.portfolio.trusts[i]
    y1 = _assessed(src, src.assessment, i)
    return TrustFigures(
        code=src.plan.codes[i],
        name=trust.name,
        trust_type=trust.trust_type,
        financial_year=trust.financial_year,
        control_total_accepted=bool(src.plan.ct_accepted[i, 0]),
        years=_trust_years(src, i),
        cip=SolvedCip(
            planned=float(src.solved.planned[i]),
            planned_pct=float(src.solved_planned_pct[i]),
            needed=float(src.solved.needed[i]),
            needed_pct=float(src.solved_needed_pct[i]),
            band=str(src.solved.band[i]),
            met_without_cip=bool(src.solved.met_without_cip[i]),
        ),
        funding=y1.funding,
        reported_surplus=y1.reported_surplus,
        periods=y1.periods,
        score=y1.score,
        score_not_applicable=y1.score_not_applicable,
        finance_trigger=y1.finance_trigger,
        candidate_segment=y1.candidate_segment,
    )


def _assessed(src: _Sources, a: Assessment, i: int) -> YearAssessed:
    """Funding, metrics and score of trust ``i`` in the plan year ``a`` assesses."""
    mv = a.full_year_metrics
    reasons = {m: str(mv.not_applicable[m][0, i]) for m in METRICS}
    return YearAssessed(
        funding=_funding(src, a, i),
        reported_surplus=float(a.reported_surplus_ytd[0, i, 3]),
        periods=_periods(a, i),
        score=a.full_year_score.item((0, i)),
        score_not_applicable={m: r for m, r in reasons.items() if r},
        finance_trigger=bool(a.trigger[0, i]),
        candidate_segment=int(a.segment.segment[0, i]),
    )


def _year_context(src: _Sources, i: int, yr: int) -> dict[str, object]:
    """The assessment, solve, post-STF and per-year CIP fields of trust ``i`` in year ``yr``
    (0-based), as :class:`TrustYear` keyword arguments."""
    plan, a = src.plan, src.assessment
    target = plan.ct_target[i, yr]
    allocation = float(plan.year_allocation(yr + 1)[i])
    given = True if plan.allocation_given is None else bool(plan.allocation_given[i, yr])
    year_a = a.plan_year(yr + 1)
    later = next((ly for ly in a.later if ly.year == yr + 1), None)
    fy = _shift_year(src.portfolio.trusts[i].financial_year, yr)
    note = ""
    if year_a is None:
        note = later.note if later is not None else "not assessed"
    elif not np.isfinite(target):  # a later year the plan gives no control total for
        year_a, note = None, f"no control total for {fy}: projected, not funded or scored"
    assessed = None if year_a is None else _assessed(src, year_a, i)
    post_target = target + allocation
    reported = float("nan") if assessed is None else assessed.reported_surplus
    var_post = reported - post_target
    solved = src.solved_years[yr] if yr < len(src.solved_years) else None
    needed = float("nan") if solved is None else float(solved.needed[i])
    return {
        "financial_year": fy,
        "control_total_accepted": bool(plan.ct_accepted[i, yr]),
        "allocation": allocation,
        "allocation_given": given,
        "control_total_post_stf": float(post_target),
        "reported_surplus": reported,
        "variance_post_stf": float(var_post),
        "met_post_stf": bool(var_post >= -MET_TOLERANCE) if np.isfinite(var_post) else None,
        "cip_brought_forward": float(src.cip.brought_forward[i, yr]),
        "cip_new": float(src.cip.new[i, yr]),
        "cip_non_recurrent_gap": float(src.cip.non_recurrent_gap[i, yr]),
        "cip_needed": needed,
        "cip_needed_pct": float(cip_share(needed, src.years.opex_do_nothing[i, yr])),
        "cip_needed_band": "" if solved is None else str(solved.band[i]),
        "cip_met_without_new": None if solved is None else bool(solved.met_without_cip[i]),
        "assessed": assessed,
        "not_assessed": note,
    }


def _shift_year(first: str, offset: int) -> str:
    """``"2017/18"`` shifted by ``offset`` years (``"2018/19"`` for 1); as given if it is
    not like ``2017/18``."""
    head = first.split("/", 1)[0]
    if offset == 0 or not head.isdigit():
        return first
    start = int(head) + offset
    return f"{start}/{(start + 1) % 100:02d}"


def _trust_years(src: _Sources, i: int) -> tuple[TrustYear, ...]:
    """The plan years of trust ``i``."""
    plan, a = src.plan, src.years
    out = []
    for yr in range(int(plan.horizon[i])):
        target = plan.ct_target[i, yr]
        surplus = a.surplus[i, yr]
        opex_dn = a.opex_do_nothing[i, yr]
        variance = surplus - target
        # year 1: the projection's CIP (bit for bit as before); later years the year's own
        # savings (brought forward + new), not the cumulative total
        planned = a.cip[i, yr] if yr == 0 else src.cip.planned[i, yr]
        q1, q2, q3, q4 = (float(src.ytd_variance[i, yr, m]) for m in QUARTER_END_INDEX)
        out.append(
            TrustYear(
                trust_code=plan.codes[i],
                year=yr + 1,
                operating_income=float(a.income[i, yr]),
                operating_expenditure=float(a.opex[i, yr]),
                ebitda=float(a.ebitda[i, yr]),
                non_operating=float(a.non_operating[i, yr]),
                surplus_pre_stf=float(surplus),
                control_total_pre_stf=float(target),
                variance=float(variance),
                met=bool(variance >= -MET_TOLERANCE) if np.isfinite(target) else None,
                cip_planned=float(planned),
                cip_planned_pct=float(cip_share(planned, opex_dn)),
                cip_fye=float(a.cip_fye[i, yr]),
                cip_unidentified=float(a.cip_unidentified[i, yr]),
                cip_recurrent=float(a.cip_recurrent[i, yr]),
                opex_do_nothing=float(opex_dn),
                agency=float(a.agency[i, yr]),
                ytd_variance=(q1, q2, q3, q4),
                **_year_context(src, i, yr),  # type: ignore[arg-type]
            )
        )
    return tuple(out)


def _funding(src: _Sources, a: Assessment, i: int) -> TrustFunding:
    """STF/PSF of trust ``i`` in the plan year ``a`` assesses."""
    f = a.funding
    y = a.year - 1
    quarters = tuple(
        FundingQuarter(
            quarter=QUARTERS[q],
            ytd_surplus_pre_stf=float(src.ytd_surplus[i, y, m]),
            ytd_control_total_pre_stf=float(src.ytd_control_total[i, y, m]),
            gate_met=bool(f.met_quarter[0, i, q]),
            available=float(f.available[0, i, q]),
            finance_earned=float(f.finance_earned[0, i, q]),
            performance_earned=float(f.performance_earned[0, i, q]),
            earned=float(f.earned[0, i, q]),
            lost=float(f.lost[0, i, q]),
        )
        for q, m in enumerate(QUARTER_END_INDEX)
    )
    return TrustFunding(
        rules=a.rules["funding"],
        allocation=float(f.allocation[i]),
        quarters=quarters,
        catch_up_released=float(f.released_catch_up[0, i]),
        incentive=float(f.incentive[0, i]),
        bonus=float(f.bonus[0, i]),
        earned=float(f.total_earned[0, i]),
        lost=float(f.forfeited[0, i]),
    )


def period_label(q: int) -> str:
    """``Q1 YTD``, ``Q2 YTD``, ``Q3 YTD`` or ``full year`` for quarter index ``q`` (0-3)."""
    return f"Q{q + 1} YTD" if q < 3 else "full year"


def _periods(a: Assessment, i: int) -> tuple[PeriodScore, ...]:
    """The SOF metrics and score of trust ``i`` at each quarter end of ``a``'s year."""
    out = []
    for q, (mv, sc) in enumerate(zip(a.metrics, a.scores, strict=True)):
        metrics = tuple(
            MetricResult(
                metric=name,
                value=float(mv.values[name][0, i]),
                score=int(sc.metric_scores[name][0, i]) or None,
                not_applicable=str(mv.not_applicable[name][0, i]),
            )
            for name in mv.values
        )
        out.append(
            PeriodScore(
                period=period_label(q),
                metrics=metrics,
                mean=float(np.asarray(sc.mean)[0, i]),
                overall=int(np.asarray(sc.overall)[0, i]),
            )
        )
    return tuple(out)
