"""Every plan year of a simulation: the later years' per-draw outputs and the per-year view.

A simulation of a plan of several years computes year 1 exactly as before (the plan cut
to its first year, :mod:`cipmodel.montecarlo.outputs`) and, in the same chunk and from the
same drawn inputs, projects the whole horizon and assesses plan years 2 onwards
(:func:`cipmodel.engine.assess.assess_later_years`, opening each year on the year before's
closing balances). Their outputs are folded into a second
:class:`~cipmodel.montecarlo.summary.Collector` (:data:`YEAR_OUTPUTS`, one value per later
year), so nothing of year 1 — its draws, its summaries, the memory budget of its kept
draws — depends on whether later years are simulated. A plan of one year (the national
portfolio) costs what it always has: nothing here runs.

What a later year's draw holds, per trust (each a value per plan year 2, 3, ...):

``surplus_pre_stf``
    the year's pre-STF surplus (the same drawn delivery, slip and shocks as year 1: a
    scheme delivers the same share of its effect in every year, a late start stays late,
    and a driver shock moves every year's growth rate);
``reported_surplus``, ``stf_earned``
    pre-STF surplus + the STF/PSF earned under the year's own funding pack, and that
    funding (NaN where the year is not assessed: no pack for its financial year);
``cip_delivered``
    the year's own CIP as NHS plans measure it (:mod:`cipmodel.engine.cip_years`): ``new``
    (schemes planned to start in the year) + ``brought_forward`` (the full-year-effect
    rollover of earlier years' recurrent schemes);
``met``, ``met_post_stf``
    the year's pre-STF surplus at or above its control total, and the reported surplus at
    or above the control total including STF/PSF (``MET_TOLERANCE`` as a plan run);
``met_to_date``
    every pre-STF control total met from plan year 1 to the year (in the same draw): for
    the last year, P(meet the control total in every year) — what signing a multi-year
    control total is a bet on.

Year 1's entry of the per-year view is read from the year-1 summaries, so it equals the
simulation's top-level figures exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from cipmodel.engine.assess import Assessment, assess_later_years
from cipmodel.engine.compile import PlanArrays
from cipmodel.engine.project import Projection, project
from cipmodel.formatting import json_float as _f
from cipmodel.montecarlo.context import SimulationContext
from cipmodel.montecarlo.inputs import DrawnInputs
from cipmodel.montecarlo.summary import PERCENTILES, Collector, OutputSpec
from cipmodel.results.figures import TrustYear
from cipmodel.results.run import MET_TOLERANCE, RunResult

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "PREFIX",
    "YEAR_OUTPUTS",
    "YEAR_PERCENTILES",
    "later_year_outputs",
    "year_outputs_spec",
    "years_frame",
    "years_json",
]

#: Keys of the later years' outputs in a chunk's outputs (the year-1 collector ignores them).
PREFIX = "years."
#: The later years' outputs (width: one value per plan year 2, 3, ...).
YEAR_OUTPUTS: dict[str, OutputSpec] = {
    "surplus_pre_stf": OutputSpec("float"),
    "reported_surplus": OutputSpec("float", may_be_nan=True),
    "stf_earned": OutputSpec("float", may_be_nan=True),
    "cip_delivered": OutputSpec("float"),
    "met": OutputSpec("bool"),
    "met_post_stf": OutputSpec("bool"),
    "met_to_date": OutputSpec("bool"),
}
#: The surplus percentiles each year reports (of the collector's PERCENTILES).
YEAR_PERCENTILES = (5, 10, 50, 90, 95)

FloatArray = NDArray[np.float64]


def year_outputs_spec(n_years: int) -> dict[str, OutputSpec]:
    """The collector specs of plan years 2 to ``n_years`` (prefixed keys)."""
    w = n_years - 1
    return {
        PREFIX + k: OutputSpec(s.kind, w, s.n_categories, s.may_be_nan)
        for k, s in YEAR_OUTPUTS.items()
    }


def _own_year_cip(plan: PlanArrays, proj: Projection) -> FloatArray:
    """(c, T, Y) each trust's own CIP of each plan year (brought forward + new) [£000].

    :func:`cipmodel.engine.cip_years.scheme_parts` for every draw at once: a scheme counts
    as new in the year it is planned to start, and a recurrent scheme of an earlier year
    brings forward its effect in the year less its effect in the year before.
    """
    sy = proj.cip_scheme_year  # (c, S, Y)
    n_c, n_s, n_y = sy.shape
    start_year = plan.scheme_start // 12
    years = np.arange(n_y)
    new = start_year[:, None] == years[None, :]
    carried = (start_year[:, None] < years[None, :]) & plan.scheme_recurrent[:, None]
    prev = np.zeros_like(sy)
    prev[..., 1:] = sy[..., :-1]
    own = np.where(new[None], sy, 0.0) + np.where(carried[None], sy - prev, 0.0)
    n_t = plan.n_trusts
    rows = (np.arange(n_c)[:, None] * n_t + plan.scheme_trust[None, :]).ravel()
    out = np.empty((n_c, n_t, n_y))
    for y in range(n_y):  # a fixed order of additions per draw: chunk-size invariant
        out[..., y] = np.bincount(rows, weights=own[..., y].ravel(), minlength=n_c * n_t).reshape(
            n_c, n_t
        )
    return out


def later_year_outputs(
    ctx: SimulationContext, drawn: DrawnInputs, first: Assessment, met_year1: NDArray[np.bool_]
) -> dict[str, NDArray[Any]]:
    """The outputs of plan years 2 onwards for a chunk's drawn inputs, each (c, T, Y - 1).

    ``ctx.full`` is the whole plan, projected for the same draws; ``first`` is the chunk's
    year-1 assessment (of the plan cut to year 1: for year 1 the same numbers), whose
    closing balances open year 2, so year 1 is not assessed twice; ``met_year1`` (c, T) its
    control total met.
    """
    full, planned = ctx.full, ctx.full_planned
    assert full is not None and planned is not None
    proj = project(full, drawn.draws)
    later = assess_later_years(
        proj,
        planned,
        first,
        sof_rules=ctx.packs.sof,
        segmentation_rules=ctx.packs.segmentation,
        catch_up=ctx.catch_up,
        bonus=ctx.bonus,
    )
    surplus = proj.by_year(proj.surplus_pre_stf)[..., 1:]
    n_c, n_t, w = surplus.shape
    reported = np.full((n_c, n_t, w), np.nan)
    earned = np.full((n_c, n_t, w), np.nan)
    for ly in later:
        if ly.assessment is not None:
            reported[..., ly.year - 2] = ly.assessment.reported_surplus_ytd[..., 3]
            earned[..., ly.year - 2] = ly.assessment.funding.total_earned
    target = full.ct_target[None, :, 1:]
    post_target = (
        target
        + np.stack([full.year_allocation(y) for y in range(2, full.n_years + 1)], axis=-1)[None]
    )
    with np.errstate(invalid="ignore"):
        met = (surplus - target) >= -MET_TOLERANCE
        met_post = (reported - post_target) >= -MET_TOLERANCE
    return {
        PREFIX + "surplus_pre_stf": surplus,
        PREFIX + "reported_surplus": reported,
        PREFIX + "stf_earned": earned,
        PREFIX + "cip_delivered": _own_year_cip(full, proj)[..., 1:],
        PREFIX + "met": met,
        PREFIX + "met_post_stf": met_post,
        PREFIX + "met_to_date": np.logical_and.accumulate(
            np.concatenate([np.asarray(met_year1, dtype=bool)[..., None], met], axis=-1), axis=-1
        )[..., 1:],
    }


def _se(p: float, n: int) -> float:
    return float(np.sqrt(p * (1 - p) / max(n, 1)))


class _YearReader:
    """Every trust's per-year numbers, read from the summaries once: year 1 from the year-1
    collector, later years from theirs."""

    def __init__(self, col: Collector, years: Collector | None) -> None:
        self.n = col.n
        k = [PERCENTILES.index(q) for q in YEAR_PERCENTILES]

        def mean(c: Collector, name: str) -> FloatArray:
            return np.asarray(c.mean(name))

        def std(c: Collector, name: str) -> FloatArray:
            return np.asarray(c.std(name))

        def prob(c: Collector, name: str) -> FloatArray:
            return np.asarray(c.probability(name))

        def pcts(c: Collector, name: str) -> FloatArray:
            return np.asarray(c.percentiles(name))[k]

        def both(fn: Callable[[Collector, str], FloatArray], first: str, later: str) -> FloatArray:
            out = fn(col, first)
            if years is None:
                return out
            return np.concatenate([out, fn(years, PREFIX + later)], axis=-1)

        self.p_met = both(prob, "met_year", "met")
        self.p_met_to_date = both(prob, "met_year", "met_to_date")
        self.p_met_post = both(prob, "met_post_stf", "met_post_stf")
        self.surplus_mean = both(mean, "surplus_pre_stf", "surplus_pre_stf")
        self.surplus_sd = both(std, "surplus_pre_stf", "surplus_pre_stf")
        self.surplus_pct = both(pcts, "surplus_pre_stf", "surplus_pre_stf")
        self.cip_mean = both(mean, "cip_delivered", "cip_delivered")
        self.earned_mean = both(mean, "stf_earned", "stf_earned")
        self.reported_mean = both(mean, "reported_surplus", "reported_surplus")


def _year_row(r: _YearReader, i: int, y: int, ty: TrustYear) -> dict[str, Any]:
    """The simulated figures of trust ``i`` in plan year ``y + 1`` (plain floats; None where
    the year has no control total, or is not assessed)."""
    has_target = ty.met is not None
    assessed = ty.met_post_stf is not None
    p = float(r.p_met[i, y])
    p_post = float(r.p_met_post[i, y]) if assessed else None
    row: dict[str, Any] = {
        "year": y + 1,
        "financial_year": ty.financial_year,
        "control_total_pre_stf": ty.control_total_pre_stf,
        "control_total_post_stf": ty.control_total_post_stf,
        "p_meet_control_total": p if has_target else None,
        "p_meet_control_total_se": _se(p, r.n) if has_target else None,
        "p_meet_control_total_every_year_to_date": float(r.p_met_to_date[i, y])
        if has_target
        else None,
        "p_meet_control_total_post_stf": p_post,
        "p_meet_control_total_post_stf_se": None if p_post is None else _se(p_post, r.n),
        "plan_surplus_pre_stf": ty.surplus_pre_stf,
        "mean_surplus_pre_stf": float(r.surplus_mean[i, y]),
        "sd_surplus_pre_stf": float(r.surplus_sd[i, y]),
    }
    for k, q in enumerate(YEAR_PERCENTILES):
        row[f"p{q}_surplus_pre_stf"] = float(r.surplus_pct[k, i, y])
    row.update(
        {
            "plan_met": ty.met,
            "plan_met_post_stf": ty.met_post_stf,
            "expected_reported_surplus": float(r.reported_mean[i, y]) if assessed else None,
            "expected_stf_earned": float(r.earned_mean[i, y]) if assessed else None,
            "cip_planned": ty.cip_planned,
            "expected_cip_delivered": float(r.cip_mean[i, y]),
        }
    )
    return row


def _rows(run: RunResult, col: Collector, years: Collector | None) -> list[list[dict[str, Any]]]:
    """Per trust, per plan year within its horizon that was simulated (year 1 only when the
    later years were not: ``simulate(..., later_years=False)``): the simulated figures."""
    r = _YearReader(col, years)
    simulated = r.p_met.shape[-1]
    out = []
    for i, tf in enumerate(run.figures):
        out.append([_year_row(r, i, y, ty) for y, ty in enumerate(tf.years[:simulated])])
    return out


def years_frame(run: RunResult, col: Collector, years: Collector | None) -> pd.DataFrame:
    """One row per trust and plan year: P(meet the control total) pre- and post-STF, the
    pre-STF surplus's mean and percentiles, STF/PSF and CIP expected, next to the plan run."""
    import pandas as pd

    rows = _rows(run, col, years)
    flat = [
        {"trust_code": tf.code, **row}
        for tf, trust_rows in zip(run.figures, rows, strict=True)
        for row in trust_rows
    ]
    return pd.DataFrame(flat)


def years_json(
    run: RunResult, col: Collector, years: Collector | None
) -> list[list[dict[str, Any]]]:
    """Per trust, the ``years`` list of ``simulate --json`` (NaN as null)."""
    return [
        [{k: _f(v) if isinstance(v, float) else v for k, v in row.items()} for row in trust_rows]
        for trust_rows in _rows(run, col, years)
    ]
