"""Assessment of a projection: STF/PSF funding, the SOF metrics and score, the segment trigger.

:func:`assess` takes a :class:`~cipmodel.engine.project.Projection` (one draw for a plan run, many
for Monte Carlo) and the plan run it is measured against, and returns an
:class:`Assessment` of arrays shaped (draw, trust, ...). It is the one place the funding
engine, the metric calculation and the score meet, so a plan run and a simulation are
assessed by the same code.

Every plan year of the horizon is assessed the same way (:attr:`Assessment.later` holds
years 2 onwards). The rules of a year are those of its financial year
(:data:`~cipmodel.regime.funding_pack.RULES_BY_YEAR`); an explicit ``funding_rules`` sets
year 1's only. A year whose financial year has no pack is projected but not funded or
scored (:class:`LaterYear` says why), nor is any year after it (its opening balances would
depend on it). Each year's working-capital projection opens on the year before's closing
cash and working capital. A Monte Carlo simulation assesses year 1 on the plan cut to one
year (:meth:`~cipmodel.engine.compile.PlanArrays.truncate`) and later years with
:func:`assess_later_years` (opening on that year-1 assessment's closing balances).

Order of play, per draw and plan year:

1. the quarterly gate on the year-to-date pre-STF surplus against the year-to-date
   pre-STF control-total profile decides the STF/PSF earned and lost each quarter
   (:mod:`cipmodel.regime.funding`); when the portfolio is the whole sector the forfeited pool is
   then shared among trusts that met their year-end control total (``bonus=True``);
2. reported surplus = pre-STF surplus + STF/PSF earned, so lost funding flows into every
   metric (:mod:`cipmodel.engine.metrics`), year to date at each quarter end;
3. each metric is scored and the overall score formed with its overrides
   (:mod:`cipmodel.regime.score`), then the finance trigger and a candidate segment
   (:mod:`cipmodel.regime.segmentation`).

The A&E element counts as met in a quarter when the forecast is at or above the trajectory;
a quarter with either figure missing counts as not met. A simulation passes its own drawn
results instead (``ae_met``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cipmodel.calendar import QUARTER_END_INDEX, QUARTER_END_MONTHS
from cipmodel.engine.compile import PlanArrays
from cipmodel.engine.metrics import METRICS, MetricValues, compute_metrics_by_period
from cipmodel.engine.project import Projection
from cipmodel.errors import Problem, ValidationError
from cipmodel.regime.funding import (
    FundingResult,
    ae_trajectory_met,
    assess_funding,
    distribute_bonus,
    validate_funding_pack,
)
from cipmodel.regime.funding_pack import (
    RULES_BY_YEAR,
    default_funding_pack,
    plan_financial_year,
    rules_for_year,
)
from cipmodel.regime.packs import RulePack, load_pack
from cipmodel.regime.score import ScoreDict, ScoreResult, score, sof_pack
from cipmodel.regime.segmentation import (
    CandidateSegments,
    candidate_segments,
    finance_trigger,
    segmentation_pack,
)

FloatArray = NDArray[np.float64]

__all__ = [
    "Assessment",
    "LaterYear",
    "assess",
    "assess_later_years",
    "default_funding_pack",
    "RULES_BY_YEAR",
]


def _check_scorable(
    metrics: tuple[MetricValues, ...],
    codes: Sequence[str],
    pack: RulePack,
    live: NDArray[np.bool_] | None = None,
) -> None:
    """Refuse, naming the trust and why, a trust with no metric to score in some period.

    The overall score is a weighted mean of the applicable metrics, so it needs at least
    one (a trust with no income, no costs, no capital service and no agency ceiling).
    """
    weights = pack.weights("weights")
    problems: list[Problem] = []
    seen: set[int] = set()
    for mv, months in zip(metrics, QUARTER_END_MONTHS, strict=True):
        scorable = np.zeros(next(iter(mv.values.values())).shape, dtype=bool)  # (D, T)
        for name, value in mv.values.items():
            if weights.get(name, 0) > 0:
                scorable |= ~np.isnan(value)
        if live is not None:  # a trust whose horizon ends before the year is not scored
            scorable |= ~live
        for j in np.flatnonzero(~scorable.all(axis=0)):
            i = int(j)
            if i in seen:
                continue
            seen.add(i)
            draw = int(np.flatnonzero(~scorable[:, i])[0])
            reasons = sorted({str(r[draw, i]) for r in mv.not_applicable.values() if r[draw, i]})
            period = "the full year" if months == 12 else f"the first {months} months"
            if mv.year > 1:
                period += f" of plan year {mv.year}"
            problems.append(
                Problem(
                    f"trust {codes[i]}",
                    f"no finance metric can be scored for {period} ({'; '.join(reasons)}), so "
                    "there is no finance score: add the trust's income and cost lines",
                )
            )
    if problems:
        raise ValidationError(problems)


@dataclass(frozen=True)
class LaterYear:
    """Plan year 2 onwards: its assessment, or why there is none.

    Attributes
    ----------
    year : int
        Plan year (2 = the second).
    financial_year : str
        Its financial year (e.g. ``"2018/19"``; '' where the trusts' years differ).
    assessment : Assessment or None
        Funding, metrics and score of the year, None where it is not assessed.
    note : str
        Why the year is not assessed ('' where it is).
    """

    year: int
    financial_year: str
    assessment: Assessment | None
    note: str


@dataclass(frozen=True)
class Assessment:
    """Funding, metrics and score for every draw and trust of one plan year (year 1 at the
    top, later years in ``later``).

    Attributes
    ----------
    funding : FundingResult
        Earned and lost by quarter, incentive, bonus (after the portfolio bonus step).
    stf_earned_ytd : ndarray (D, T, 4)
        STF/PSF earned year to date at each quarter end; Q4 includes catch-up, incentive
        and bonus [£000].
    reported_surplus_ytd : ndarray (D, T, 4)
        Pre-STF surplus + STF/PSF earned, year to date at each quarter end [£000].
    metrics : tuple of MetricValues
        Year to date at each quarter end (index 3 = full year).
    scores : tuple of ScoreResult
        The score at each quarter end (array results over (D, T)).
    trigger : ndarray (D, T) bool
        Full-year finance trigger (overall score 3 or 4).
    segment : CandidateSegments
        Full-year candidate segment (finance theme only; labelled a candidate).
    rules : dict
        Pack names used: ``funding``, ``sof``, ``segmentation``.
    unverified : tuple of str
        Every unverified rule value the assessment used (this year's).
    year : int
        Plan year assessed (1 = first).
    later : tuple of LaterYear
        Plan years 2 onwards (only on the year-1 assessment).
    """

    funding: FundingResult
    stf_earned_ytd: FloatArray
    reported_surplus_ytd: FloatArray
    metrics: tuple[MetricValues, ...]
    scores: tuple[ScoreResult, ...]
    trigger: NDArray[np.bool_]
    segment: CandidateSegments
    rules: dict[str, str]
    unverified: tuple[str, ...]
    year: int = 1
    later: tuple[LaterYear, ...] = ()

    def plan_year(self, year: int) -> Assessment | None:
        """The assessment of plan year ``year`` (1 = this one), None if it is not assessed."""
        if year == self.year:
            return self
        return next((ly.assessment for ly in self.later if ly.year == year), None)

    @property
    def all_unverified(self) -> tuple[str, ...]:
        """Every unverified rule value used in any plan year."""
        found = set(self.unverified)
        for ly in self.later:
            if ly.assessment is not None:
                found.update(ly.assessment.unverified)
        return tuple(sorted(found))

    @property
    def all_rules(self) -> tuple[str, ...]:
        """Every pack used in any plan year, year 1's first."""
        names = list(self.rules.values())
        for ly in self.later:
            if ly.assessment is not None:
                names += [n for n in ly.assessment.rules.values() if n not in names]
        return tuple(names)

    @property
    def full_year_metrics(self) -> MetricValues:
        return self.metrics[-1]

    @property
    def full_year_score(self) -> ScoreResult:
        return self.scores[-1]

    def score_dict(self, draw: int, trust: int) -> ScoreDict:
        """The full-year score of one draw and trust in the ``score --json`` shape."""
        mv = self.full_year_metrics
        reasons = {m: str(mv.not_applicable[m][draw, trust]) for m in METRICS}
        reasons = {m: r for m, r in reasons.items() if r}
        return self.full_year_score.item((draw, trust)).to_dict(not_applicable=reasons)


def assess(
    actual: Projection,
    planned: Projection,
    *,
    funding_rules: str | RulePack | None = None,
    sof_rules: str | RulePack = "sof-2016",
    segmentation_rules: str | RulePack = "segmentation-2016",
    catch_up: bool | None = None,
    bonus: bool = False,
    financial_years: set[str] | None = None,
    ae_met: ArrayLike | None = None,
    later_years: bool = True,
) -> Assessment:
    """Assess a projection: funding, metrics, score and trigger for each plan year.

    Parameters
    ----------
    actual : Projection
        One draw (plan run) or many (simulation).
    planned : Projection
        The plan run (one draw) the distance from plan is measured against.
    funding_rules : str or RulePack, optional
        Funding pack of plan year 1; by default the pack of the portfolio's financial year.
        Later years always take the pack of their own financial year.
    sof_rules, segmentation_rules : str or RulePack
        SOF and segmentation packs (names, ``name:variant`` or paths), every year.
    catch_up : bool, optional
        Override the funding pack's catch-up switch (every year).
    bonus : bool
        Share the forfeited pool among the portfolio's trusts that met their control
        total. Only meaningful when the portfolio is the whole sector (``cipmodel
        portfolio``): for one trust or an ICS the national pool is not in the portfolio,
        so the default is off.
    financial_years : set of str, optional
        The portfolio's financial years (to choose the default funding pack); default: the
        plan's own (``PlanArrays.financial_years``), never an assumed year.
    ae_met : array of bool broadcastable to (D, T, 4), optional
        Whether the A&E trajectory is met in each quarter of year 1, e.g. drawn by a
        simulation; default (and in later years): the plan's forecast at or above its
        trajectory.
    later_years : bool
        Assess plan years 2 onwards too (default); False: year 1 only.
    """
    plan = actual.plan
    if funding_rules is None:
        # the plan's own years (never a silent default year)
        funding_rules = default_funding_pack(financial_years or set(plan.financial_years))
    fpack = (
        funding_rules
        if isinstance(funding_rules, RulePack)
        else load_pack(funding_rules, kind="funding")
    )
    validate_funding_pack(fpack)
    spack = sof_pack(sof_rules)
    gpack = segmentation_pack(segmentation_rules)
    packs = _Packs(spack, gpack, catch_up, bonus)
    first = _assess_year(actual, planned, 1, fpack, packs, ae_met, None)
    if not later_years or plan.n_years == 1:
        return first
    return replace(first, later=_later_years(actual, planned, first, packs))


def assess_later_years(
    actual: Projection,
    planned: Projection,
    first: Assessment,
    *,
    sof_rules: str | RulePack = "sof-2016",
    segmentation_rules: str | RulePack = "segmentation-2016",
    catch_up: bool | None = None,
    bonus: bool = False,
) -> tuple[LaterYear, ...]:
    """Plan years 2 onwards of ``actual`` (a projection of the whole horizon), given the
    assessment ``first`` of its year 1 (e.g. of the same draws projected over year 1 only:
    the same numbers), so year 1 is not assessed twice. As :attr:`Assessment.later` of
    :func:`assess` with the same arguments."""
    packs = _Packs(sof_pack(sof_rules), segmentation_pack(segmentation_rules), catch_up, bonus)
    return _later_years(actual, planned, first, packs)


@dataclass(frozen=True)
class _Packs:
    """What every plan year is assessed with besides its funding pack."""

    sof: RulePack
    segmentation: RulePack
    catch_up: bool | None
    bonus: bool


def _year_pack(plan: PlanArrays, year: int) -> tuple[str, str | None, str]:
    """(financial year, pack name or None, note) for plan year ``year`` >= 2."""
    live = np.flatnonzero(plan.horizon >= year)
    if not plan.financial_years:
        return "", None, "the plan names no financial year: not funded or scored"
    years = {plan_financial_year(plan.financial_years[int(i)], year) for i in live}
    if len(years) != 1:
        listed = ", ".join(sorted(years))
        return (
            "",
            None,
            (
                f"trusts plan different financial years in plan year {year} ({listed}): "
                "projected, not funded or scored; run them separately"
            ),
        )
    (fy,) = years
    name = rules_for_year(fy)
    if name is None:
        return fy, None, f"no rule pack for {fy}: projected, not funded or scored"
    return fy, name, ""


def _later_years(
    actual: Projection, planned: Projection, first: Assessment, packs: _Packs
) -> tuple[LaterYear, ...]:
    """Plan years 2 onwards, each opening on the year before's closing balances."""
    plan = actual.plan
    out: list[LaterYear] = []
    before: Assessment | None = first
    for year in range(2, plan.n_years + 1):
        fy, name, note = _year_pack(plan, year)
        if name is None or before is None:
            if before is None:
                note = (
                    f"plan year {year - 1} is not assessed, so this year's opening balances "
                    "and funding cannot be: projected, not funded or scored"
                )
            out.append(LaterYear(year, fy, None, note))
            before = None
            continue
        fpack = load_pack(name, kind="funding")
        validate_funding_pack(fpack)
        close = before.full_year_metrics.components
        opening = (close["working_capital_close"], close["cash_close"])
        before = _assess_year(actual, planned, year, fpack, packs, None, opening)
        out.append(LaterYear(year, fy, before, ""))
    return tuple(out)


def _assess_year(
    actual: Projection,
    planned: Projection,
    year: int,
    fpack: RulePack,
    packs: _Packs,
    ae_met: ArrayLike | None,
    opening: tuple[FloatArray, FloatArray] | None,
) -> Assessment:
    """Funding, metrics, score and trigger of plan year ``year`` (1 = first)."""
    plan = actual.plan
    y = year - 1
    q_idx = list(QUARTER_END_INDEX)
    ytd_surplus = actual.surplus_ytd[:, :, y, q_idx]  # (D, T, 4)
    # a year with no control total is not accepted: no STF/PSF, the trust's own plan
    accepted = plan.ct_accepted[:, y] & np.isfinite(plan.ct_target[:, y])
    allocation = plan.year_allocation(year)
    result = _funding(actual, year, fpack, ytd_surplus, ae_met, packs, accepted, allocation)
    year_end = result.released_catch_up + result.incentive + result.bonus
    earned_ytd = np.cumsum(result.earned, axis=-1)
    earned_ytd[..., 3] += year_end
    phasing = np.cumsum(np.asarray(fpack.get("phasing.quarters"), dtype=float))
    planned_ytd = np.where(accepted, 1.0, 0.0)[:, None] * allocation[:, None] * phasing[None]

    metrics = compute_metrics_by_period(
        actual,
        planned,
        stf_earned_ytd=earned_ytd,
        stf_planned_ytd=planned_ytd,
        months=tuple(QUARTER_END_MONTHS),
        year=year,
        opening=opening,
    )
    _check_scorable(metrics, plan.codes, packs.sof, None if year == 1 else plan.horizon >= year)
    scored = metrics
    if year > 1 and not (plan.horizon >= year).all():
        # a trust whose horizon ends before the year has no figures in it: scored on a
        # placeholder that no output reads, so the other trusts can be scored together
        gone = plan.horizon < year
        scored = tuple(
            replace(mv, values={k: np.where(gone, 0.0, v) for k, v in mv.values.items()})
            for mv in metrics
        )
    scores = _scores(scored, planned, packs.sof, year, accepted, plan.special_measures)
    overall = np.asarray(scores[-1].overall)
    gpack = packs.segmentation
    trigger = np.asarray(finance_trigger(overall, pack=gpack))
    segment = candidate_segments(
        overall, special_measures_finance=plan.special_measures, pack=gpack
    )
    unverified = sorted(
        {
            *result.unverified,
            *fpack.unverified_used(),
            *(u for sc in scores for u in sc.unverified),
            *segment.unverified,
            *gpack.unverified_used(),
        }
    )
    return Assessment(
        funding=result,
        stf_earned_ytd=earned_ytd,
        reported_surplus_ytd=ytd_surplus + earned_ytd,
        metrics=metrics,
        scores=scores,
        trigger=trigger,
        segment=segment,
        rules={"funding": fpack.name, "sof": packs.sof.name, "segmentation": gpack.name},
        unverified=tuple(unverified),
        year=year,
    )


def _funding(
    actual: Projection,
    year: int,
    fpack: RulePack,
    ytd_surplus: FloatArray,
    ae_met: ArrayLike | None,
    packs: _Packs,
    accepted: NDArray[np.bool_],
    allocation: FloatArray,
) -> FundingResult:
    """STF/PSF earned by quarter: the gate on the YTD pre-STF surplus against the YTD
    control-total profile, then (``bonus``) the forfeited pool shared out."""
    plan = actual.plan
    ytd_target = actual.control_total_ytd()[:, year - 1, list(QUARTER_END_INDEX)]  # (T, 4)
    result = assess_funding(
        fpack,
        ytd_surplus_pre=ytd_surplus,
        # year 1 always has a control total; a later year without one is not accepted
        ytd_target_pre=np.nan_to_num(ytd_target)[None],
        allocation=allocation,
        accepted=accepted,
        ae_applies=plan.ae_applies,
        ae_met=np.broadcast_to(
            ae_trajectory_met(plan.ae_forecast, plan.ae_trajectory)[None]
            if ae_met is None
            else np.asarray(ae_met, dtype=bool),
            ytd_surplus.shape,
        ),
        catch_up=packs.catch_up,
        improvement_agreed=plan.ct_improvement[:, year - 1],
    )
    return distribute_bonus(result, fpack) if packs.bonus else result


def _scores(
    metrics: tuple[MetricValues, ...],
    planned: Projection,
    spack: RulePack,
    year: int,
    accepted: NDArray[np.bool_],
    special_measures: NDArray[np.bool_],
) -> tuple[ScoreResult, ...]:
    """The score of plan year ``year`` at each quarter end, with its overrides."""
    # O2/O3: with no accepted control total, is the trust's own plan a surplus or a deficit?
    own_plan = planned.by_year(planned.surplus_pre_stf)[0, :, year - 1]
    special = np.asarray(special_measures)
    names = tuple(metrics[0].values)
    # Scored once on the quarters stacked (the same elementwise rules) when every metric is
    # applicable somewhere in all quarters or in none: then each quarter's score reads the
    # same rule values as when scored alone. Otherwise quarter by quarter.
    seen = np.array([[bool(np.any(~np.isnan(mv.values[n]))) for n in names] for mv in metrics])
    if (seen == seen[0]).all():
        stacked = score(
            {n: np.stack([mv.values[n] for mv in metrics], axis=-1) for n in names},
            pack=spack,
            control_total_accepted=accepted[:, None],
            planned_surplus=(own_plan >= 0)[:, None],
            financial_special_measures=special[:, None],
        )
        return tuple(stacked.period(q) for q in range(len(metrics)))
    return tuple(
        score(
            mv.values,
            pack=spack,
            control_total_accepted=accepted,
            planned_surplus=own_plan >= 0,
            financial_special_measures=special,
        )
        for mv in metrics
    )
