"""The underlying position of each plan year: the recurrent exit run rate.

The underlying surplus is what the trust would earn in a year at the run rate it leaves the
year with, counting only what recurs (NHS planning guidance and board papers lead with it
beside the reported position; see ``docs/plan-views.md``). From the year's pre-STF forecast:

``underlying = forecast - non_recurrent_lines - non_recurrent_cip + cip_full_year_effect``

* ``forecast``: the year's surplus on the control-total basis, **before STF/PSF**: the
  STF/PSF allocation is non-recurrent by nature and is never in it;
* ``non_recurrent_lines``: the year's effect of the Income and Costs rows flagged
  non-recurrent (income positive, costs negative: their effect on the surplus); such a row
  is a one-off of plan year 1, so this is zero in later years;
* ``non_recurrent_cip``: the year's in-year effect of non-recurrent schemes;
* ``cip_full_year_effect``: the recurrent schemes' exit run rate (their effect in the last
  month of the year x 12: a scheme still ramping counts at its March rate) less their
  in-year effect: the savings in place by March that the year's figures count only in part.

The run rate of the income and cost lines is their annual value for the year: the model
applies the year's drivers to the whole year, so the annual value is the exit run rate
with any monthly profile (seasonality) taken out; "last month x 12" would instead scale a
seasonal March. Money £000, positive = better for the surplus.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

import numpy as np
from numpy.typing import NDArray

from cipmodel.engine.compile import SIGN, PlanArrays
from cipmodel.engine.project import Projection
from cipmodel.formatting import json_float

__all__ = [
    "UnderlyingDict",
    "UnderlyingYear",
    "recurrent_cip_exit",
    "underlying",
    "underlying_dict",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class UnderlyingYear:
    """One trust's underlying position in one plan year [£000, positive = better].

    Attributes
    ----------
    year : int
        Plan year (1 = the first).
    forecast : float
        Pre-STF surplus/(deficit) of the year as planned.
    non_recurrent_lines : float
        Effect on the surplus of the Income and Costs rows flagged non-recurrent.
    non_recurrent_cip : float
        In-year effect of the non-recurrent schemes.
    cip_full_year_effect : float
        Recurrent schemes' exit run rate less their in-year effect.
    underlying : float
        ``forecast - non_recurrent_lines - non_recurrent_cip + cip_full_year_effect``.
    """

    year: int
    forecast: float
    non_recurrent_lines: float
    non_recurrent_cip: float
    cip_full_year_effect: float
    underlying: float


def recurrent_cip_exit(plan: PlanArrays) -> FloatArray:
    """(S, Y) each recurrent scheme's effect in the last month of each plan year x 12
    [£000/yr]: its full-year effect times its phase in March (0 for a non-recurrent scheme,
    before its start and beyond its trust's horizon)."""
    n_y = plan.n_years
    last = 12 * np.arange(n_y)[None, :] + 11  # (1, Y) month index of each March
    start = plan.scheme_start[:, None]
    ramp = plan.scheme_ramp[:, None]
    same_year = start // 12 == np.arange(n_y)[None, :]
    phase = np.where(
        start > last,
        0.0,
        np.where(same_year, np.minimum((last - start + 1) / (ramp + 1), 1.0), 1.0),
    )
    live = np.arange(n_y)[None, :] < plan.horizon[plan.scheme_trust][:, None]
    out: FloatArray = plan.scheme_fye[:, None] * phase * plan.scheme_recurrent[:, None] * live
    return out


def _non_recurrent_lines(plan: PlanArrays, projection: Projection) -> FloatArray:
    """(T, Y) effect on the surplus of the non-recurrent Income and Costs rows."""
    out = np.zeros((plan.n_trusts, plan.n_years))
    if plan.base_month_recurrent is None:
        return out
    base = plan.base_month.sum(axis=-1)  # (T, L)
    rec = plan.base_month_recurrent.sum(axis=-1)
    share_nr = np.divide(base - rec, base, out=np.zeros_like(base), where=base != 0)
    dn_year1 = projection.by_year(projection.do_nothing[0])[:, :, 0]  # (T, L)
    out[:, 0] = (SIGN[None, :] * dn_year1 * share_nr).sum(axis=-1)
    return out


def underlying(plan: PlanArrays, projection: Projection) -> tuple[tuple[UnderlyingYear, ...], ...]:
    """The underlying position of every trust (plan order) and plan year of its horizon,
    from a plan run (``RunResult.plan``, ``RunResult.projection``)."""
    forecast = projection.by_year(projection.surplus_pre_stf)[0]  # (T, Y)
    in_year = projection.cip_scheme_year[0]  # (S, Y)
    exit_rate = recurrent_cip_exit(plan)
    nr_lines = _non_recurrent_lines(plan, projection)
    rec = plan.scheme_recurrent
    out = []
    for i in range(plan.n_trusts):
        mine = plan.scheme_trust == i
        years = []
        for y in range(int(plan.horizon[i])):
            nr_cip = float(in_year[mine & ~rec, y].sum())
            fye = float(exit_rate[mine, y].sum() - in_year[mine & rec, y].sum())
            fc, nr = float(forecast[i, y]), float(nr_lines[i, y])
            years.append(
                UnderlyingYear(
                    year=y + 1,
                    forecast=fc,
                    non_recurrent_lines=nr,
                    non_recurrent_cip=nr_cip,
                    cip_full_year_effect=fye,
                    underlying=fc - nr - nr_cip + fye,
                )
            )
        out.append(tuple(years))
    return tuple(out)


class UnderlyingDict(TypedDict):
    """``years[i].underlying`` of ``run --json`` [£000]."""

    basis: str
    forecast: float | None
    non_recurrent_lines: float | None
    non_recurrent_cip: float | None
    cip_full_year_effect: float | None
    surplus: float | None


def underlying_dict(y: UnderlyingYear) -> UnderlyingDict:
    """``years[i].underlying``: the steps from the year's pre-STF forecast to the underlying
    (recurrent exit run rate) surplus, and the underlying surplus itself."""
    return {
        "basis": "pre_stf_recurrent_exit_run_rate",
        "forecast": json_float(y.forecast),
        "non_recurrent_lines": json_float(y.non_recurrent_lines),
        "non_recurrent_cip": json_float(y.non_recurrent_cip),
        "cip_full_year_effect": json_float(y.cip_full_year_effect),
        "surplus": json_float(y.underlying),
    }
