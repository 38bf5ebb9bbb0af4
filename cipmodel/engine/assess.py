"""Assessment of a projection: STF/PSF funding, the SOF metrics and score, the segment trigger.

:func:`assess` takes a :class:`~cipmodel.engine.project.Projection` (one draw for a plan run, many
for Monte Carlo) and the plan run it is measured against, and returns an
:class:`Assessment` of arrays shaped (draw, trust, ...). It is the one place the funding
engine, the metric calculation and the score meet, so a plan run and a simulation are
assessed by the same code.

Order of play, per draw (first plan year):

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
from dataclasses import dataclass

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
from cipmodel.regime.funding_pack import RULES_BY_YEAR, default_funding_pack
from cipmodel.regime.packs import RulePack, load_pack
from cipmodel.regime.score import ScoreDict, ScoreResult, score, sof_pack
from cipmodel.regime.segmentation import (
    CandidateSegments,
    candidate_segments,
    finance_trigger,
    segmentation_pack,
)

FloatArray = NDArray[np.float64]

__all__ = ["Assessment", "assess", "default_funding_pack", "RULES_BY_YEAR"]


def _check_scorable(
    metrics: tuple[MetricValues, ...], codes: Sequence[str], pack: RulePack
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
        for j in np.flatnonzero(~scorable.all(axis=0)):
            i = int(j)
            if i in seen:
                continue
            seen.add(i)
            draw = int(np.flatnonzero(~scorable[:, i])[0])
            reasons = sorted({str(r[draw, i]) for r in mv.not_applicable.values() if r[draw, i]})
            period = "the full year" if months == 12 else f"the first {months} months"
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
class Assessment:
    """Funding, metrics and score for every draw and trust (first plan year).

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
        Every unverified rule value the assessment used.
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
) -> Assessment:
    """Assess a projection: funding, metrics, score and trigger for the first plan year.

    Parameters
    ----------
    actual : Projection
        One draw (plan run) or many (simulation).
    planned : Projection
        The plan run (one draw) the distance from plan is measured against.
    funding_rules : str or RulePack, optional
        Funding pack; by default the pack of the portfolio's financial year.
    sof_rules, segmentation_rules : str or RulePack
        SOF and segmentation packs (names, ``name:variant`` or paths).
    catch_up : bool, optional
        Override the funding pack's catch-up switch.
    bonus : bool
        Share the forfeited pool among the portfolio's trusts that met their control
        total. Only meaningful when the portfolio is the whole sector (``cipmodel
        portfolio``): for one trust or an ICS the national pool is not in the portfolio,
        so the default is off.
    financial_years : set of str, optional
        The portfolio's financial years (to choose the default funding pack); default: the
        plan's own (``PlanArrays.financial_years``), never an assumed year.
    ae_met : array of bool broadcastable to (D, T, 4), optional
        Whether the A&E trajectory is met in each quarter, e.g. drawn by a simulation;
        default: the plan's forecast at or above its trajectory.
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

    q_idx = list(QUARTER_END_INDEX)
    ytd_surplus = actual.surplus_ytd[:, :, 0, q_idx]  # (D, T, 4)
    result = _funding(actual, fpack, ytd_surplus, ae_met, catch_up, bonus)
    year_end = result.released_catch_up + result.incentive + result.bonus
    earned_ytd = np.cumsum(result.earned, axis=-1)
    earned_ytd[..., 3] += year_end
    accepted = plan.ct_accepted[:, 0]
    phasing = np.cumsum(np.asarray(fpack.get("phasing.quarters"), dtype=float))
    planned_ytd = np.where(accepted, 1.0, 0.0)[:, None] * plan.allocation[:, None] * phasing[None]

    metrics = compute_metrics_by_period(
        actual,
        planned,
        stf_earned_ytd=earned_ytd,
        stf_planned_ytd=planned_ytd,
        months=tuple(QUARTER_END_MONTHS),
    )
    _check_scorable(metrics, plan.codes, spack)
    scores = _scores(metrics, plan, planned, spack)
    overall = np.asarray(scores[-1].overall)
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
        rules={"funding": fpack.name, "sof": spack.name, "segmentation": gpack.name},
        unverified=tuple(unverified),
    )


def _funding(
    actual: Projection,
    fpack: RulePack,
    ytd_surplus: FloatArray,
    ae_met: ArrayLike | None,
    catch_up: bool | None,
    bonus: bool,
) -> FundingResult:
    """STF/PSF earned by quarter: the gate on the YTD pre-STF surplus against the YTD
    control-total profile, then (``bonus``) the forfeited pool shared out."""
    plan = actual.plan
    ytd_target = actual.control_total_ytd()[:, 0, list(QUARTER_END_INDEX)]  # (T, 4)
    result = assess_funding(
        fpack,
        ytd_surplus_pre=ytd_surplus,
        ytd_target_pre=ytd_target[None],  # year 1 always has a control total
        allocation=plan.allocation,
        accepted=plan.ct_accepted[:, 0],
        ae_applies=plan.ae_applies,
        ae_met=np.broadcast_to(
            ae_trajectory_met(plan.ae_forecast, plan.ae_trajectory)[None]
            if ae_met is None
            else np.asarray(ae_met, dtype=bool),
            ytd_surplus.shape,
        ),
        catch_up=catch_up,
        improvement_agreed=plan.ct_improvement[:, 0],
    )
    return distribute_bonus(result, fpack) if bonus else result


def _scores(
    metrics: tuple[MetricValues, ...], plan: PlanArrays, planned: Projection, spack: RulePack
) -> tuple[ScoreResult, ...]:
    """The score at each quarter end, with the overrides ``plan`` decides."""
    # O2/O3: with no accepted control total, is the trust's own plan a surplus or a deficit?
    own_plan = planned.by_year(planned.surplus_pre_stf)[0, :, 0]
    accepted = plan.ct_accepted[:, 0]
    special = np.asarray(plan.special_measures)
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
