"""The bridge from the prior year's forecast outturn to the plan's first-year surplus.

Every NHS plan submission and board paper explains the plan as steps from the year being
closed. Given an ``Outturn`` table (the prior year's forecast outturn by line, on the
control-total basis excluding STF/PSF, its one-off items flagged non-recurrent), the
bridge of a trust is, in £000 with surplus positive (each step is its effect on the
surplus; ``sign`` is +1 for income, -1 for a cost):

=============================  ==========================================================
step                           value
=============================  ==========================================================
``prior_year_outturn``         ``sum sign x outturn`` (every row)
``remove_non_recurrent``       ``- sum sign x outturn`` of the rows flagged non-recurrent
``other_cost_pressures``       ``sum sign x (base - recurrent outturn)``: the plan's
                               recurrent base-year run rate (Income and Costs sheets)
                               against the recurrent outturn, line by line: cost
                               pressures, developments and income changes the plan
                               assumes beyond last year's run rate (the balancing step)
``non_recurrent_plan_items``   ``sum sign x base`` of the Income and Costs rows flagged
                               non-recurrent (one-offs of plan year 1)
``tariff``                     ``sum sign x base x (tariff_uplift - efficiency_factor)``
                               on the clinical income lines
``activity``                   ``sum sign x base x (1 + price) x activity_growth`` on the
                               lines that grow with activity (at the year's prices)
``pay_award``                  ``- sum base x pay_award`` on the pay lines
``non_pay_and_drug_inflation`` ``- sum base x inflation`` on the non-pay lines
``cip_pay``, ``cip_non_pay``,  the plan year 1 in-year effect of the schemes of each CIP
``cip_income``                 category
``plan_surplus``               the engine's plan year 1 surplus before STF/PSF
=============================  ==========================================================

The steps telescope: the do-nothing value of a line in plan year 1 is ``base x (1 + price)
x (1 + volume x activity) = base + base x price + base x (1 + price) x volume x activity``,
so ``prior_year_outturn`` plus every step in between is exactly ``plan_surplus`` (up to
floating-point rounding; tested to 1e-6 £000 on the example and on random plans). The
order puts the balancing step after the drivers when shown (:data:`BRIDGE_ORDER`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

import numpy as np
from numpy.typing import NDArray

from cipmodel.engine.compile import (
    CATEGORIES,
    DRIVERS,
    IS_NON_PAY,
    IS_PAY,
    LINE_INDEX,
    LINES,
    SIGN,
    PlanArrays,
)
from cipmodel.engine.formulas import PRICE, VOLUME
from cipmodel.engine.project import Projection
from cipmodel.formatting import json_float
from cipmodel.inputs.records import Portfolio

__all__ = [
    "BRIDGE_LABELS",
    "BRIDGE_ORDER",
    "BRIDGE_SHORT_LABELS",
    "BridgeStep",
    "BridgeStepDict",
    "bridge",
    "bridge_dict",
    "outturn_by_line",
]

#: The steps of a bridge, in the order they are shown.
BRIDGE_ORDER: tuple[str, ...] = (
    "prior_year_outturn",
    "remove_non_recurrent",
    "tariff",
    "activity",
    "pay_award",
    "non_pay_and_drug_inflation",
    "other_cost_pressures",
    "non_recurrent_plan_items",
    *(f"cip_{c}" for c in CATEGORIES),
    "plan_surplus",
)
#: How each step is labelled on a chart or a sheet.
BRIDGE_LABELS: dict[str, str] = {
    "prior_year_outturn": "Prior-year forecast outturn",
    "remove_non_recurrent": "Remove non-recurrent items",
    "tariff": "Tariff (uplift less efficiency)",
    "activity": "Activity growth",
    "pay_award": "Pay award",
    "non_pay_and_drug_inflation": "Non-pay and drug inflation",
    "other_cost_pressures": "Other cost pressures (plan base vs recurrent outturn)",
    "non_recurrent_plan_items": "Non-recurrent items in the plan",
    "cip_pay": "CIP: pay",
    "cip_non_pay": "CIP: non-pay",
    "cip_income": "CIP: income",
    "plan_surplus": "Plan surplus, year 1 (pre-STF)",
}
#: Each step's short name, under a waterfall's column.
BRIDGE_SHORT_LABELS: dict[str, str] = {
    "prior_year_outturn": "Outturn",
    "remove_non_recurrent": "Non-recurrent",
    "tariff": "Tariff",
    "activity": "Activity",
    "pay_award": "Pay award",
    "non_pay_and_drug_inflation": "Inflation",
    "other_cost_pressures": "Other pressures",
    "non_recurrent_plan_items": "Plan one-offs",
    "cip_pay": "CIP pay",
    "cip_non_pay": "CIP non-pay",
    "cip_income": "CIP income",
    "plan_surplus": "Plan",
}

FloatArray = NDArray[np.float64]
_D = {name: i for i, name in enumerate(DRIVERS)}


@dataclass(frozen=True)
class BridgeStep:
    """One step of a bridge: ``value`` is the step's effect on the surplus [£000], or the
    level itself for the first (``prior_year_outturn``) and last (``plan_surplus``)."""

    step: str
    value: float

    @property
    def label(self) -> str:
        """How the step reads in a table (``Tariff (uplift less efficiency)``)."""
        return BRIDGE_LABELS[self.step]

    @property
    def short_label(self) -> str:
        """How the step reads under a waterfall's column (``Tariff``)."""
        return BRIDGE_SHORT_LABELS[self.step]

    @property
    def is_total(self) -> bool:
        """True for the levels the bridge starts and ends at."""
        return self.step in ("prior_year_outturn", "plan_surplus")


def outturn_by_line(portfolio: Portfolio, code: str) -> tuple[FloatArray, FloatArray] | None:
    """A trust's outturn ``(all rows, recurrent rows)`` by line, each ``(L,)`` [£000,
    costs positive]; None when it has no Outturn rows."""
    rows = [r for r in portfolio.outturn if r.trust_code == code]
    if not rows:
        return None
    total, recurrent = np.zeros(len(LINES)), np.zeros(len(LINES))
    for r in rows:
        total[LINE_INDEX[r.line]] += r.outturn
        if r.recurrent:
            recurrent[LINE_INDEX[r.line]] += r.outturn
    return total, recurrent


def _driver_steps(base: FloatArray, drivers: FloatArray) -> dict[str, float]:
    """The tariff, activity, pay award and inflation steps of plan year 1 from its base-year
    lines ``base`` (L,) and its drivers (K,)."""

    def price_effect(cols: list[int], mask: NDArray[np.bool_] | None = None) -> float:
        effect = SIGN * base * (PRICE[:, cols] @ drivers[cols])
        return float(effect.sum() if mask is None else effect[mask].sum())

    price = PRICE @ drivers  # (L,) each line's price growth
    activity = SIGN * base * (1.0 + price) * VOLUME * drivers[_D["activity_growth"]]
    return {
        "tariff": price_effect([_D["tariff_uplift"], _D["efficiency_factor"]]),
        "activity": float(activity.sum()),
        "pay_award": price_effect([_D["pay_award"]], IS_PAY),
        "non_pay_and_drug_inflation": price_effect(
            [_D["non_pay_inflation"], _D["drug_inflation"]], IS_NON_PAY
        ),
    }


def bridge(
    portfolio: Portfolio, plan: PlanArrays, projection: Projection, code: str
) -> tuple[BridgeStep, ...] | None:
    """The bridge of trust ``code`` from its prior-year outturn to its plan year 1 pre-STF
    surplus (see the module docstring), or None when it has no Outturn rows.

    ``plan`` and ``projection`` are the plan run of ``portfolio`` (``RunResult.plan``,
    ``RunResult.projection``).
    """
    outturn = outturn_by_line(portfolio, code)
    if outturn is None:
        return None
    total, recurrent = outturn
    i = plan.codes.index(code)
    base = plan.base_month[i].sum(axis=-1)  # (L,) base-year value of every row
    base_rec = (
        base if plan.base_month_recurrent is None else plan.base_month_recurrent[i].sum(axis=-1)
    )
    cip = projection.cip_scheme_year[0, :, 0]
    mine = plan.scheme_trust == i
    values = {
        "prior_year_outturn": float((SIGN * total).sum()),
        "remove_non_recurrent": -float((SIGN * (total - recurrent)).sum()),
        **_driver_steps(base, plan.drivers[i, 0]),
        "other_cost_pressures": float((SIGN * (base_rec - recurrent)).sum()),
        "non_recurrent_plan_items": float((SIGN * (base - base_rec)).sum()),
        **{
            f"cip_{c}": float(cip[mine & (plan.scheme_category == k)].sum())
            for k, c in enumerate(CATEGORIES)
        },
        "plan_surplus": float(projection.by_year(projection.surplus_pre_stf)[0, i, 0]),
    }
    return tuple(BridgeStep(step, values[step]) for step in BRIDGE_ORDER)


class BridgeStepDict(TypedDict):
    """One entry of a trust's ``bridge`` in ``run --json``."""

    step: str
    value: float | None


def bridge_dict(steps: tuple[BridgeStep, ...] | None) -> list[BridgeStepDict] | None:
    """A trust's ``bridge`` in ``run --json``: a list of ``{step, value}`` [£000] (None
    without an outturn)."""
    if steps is None:
        return None
    return [{"step": s.step, "value": json_float(s.value)} for s in steps]
