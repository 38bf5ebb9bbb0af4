"""The last step of the synthetic national portfolio: its arrays as input tables.

:func:`build_portfolio` turns the per-trust arrays (:class:`TrustArrays`) and the schemes
(:class:`~cipmodel.examples.national_schemes.Schemes`) into plain rows, one list per table,
and those into one validated :class:`~cipmodel.inputs.records.Portfolio`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cipmodel.engine.compile import LINES
from cipmodel.examples.national_calibration import (
    ACTIVITY_GROWTH,
    CIP_CATEGORIES,
    DRAWN_RAGS,
    DRAWN_STAGES,
    DRIVERS_2017,
    FINANCIAL_YEAR,
    INCOME_LINES,
    NAME,
    NR_SCHEME_NAMES,
    SCHEME_NAMES,
    TRUST_TYPES,
    TYPE_SCHEME_NAMES,
    by_type,
)
from cipmodel.examples.national_schemes import Schemes
from cipmodel.inputs.records import Portfolio

__all__ = ["TrustArrays", "build_portfolio"]

FloatArray = NDArray[np.float64]
Row = dict[str, Any]


@dataclass(frozen=True)
class TrustArrays:
    """Everything per trust the tables are made of (arrays over trusts, T).

    Money in £000, rounded to £100 where the tables hold it so.
    """

    codes: list[str]
    names: list[str]
    ti: NDArray[np.intp]
    types: NDArray[np.str_]
    fsm: NDArray[np.bool_]
    ceiling: FloatArray
    base_vals: FloatArray  # (T, L) base-year run rate of every line
    ct_month: FloatArray  # (T, 12)
    ct_target: FloatArray
    accepted: NDArray[np.bool_]
    alloc: FloatArray
    traj: FloatArray  # (T, 4)
    fc: FloatArray  # (T, 4)
    cash: FloatArray
    wc: FloatArray
    loans: FloatArray
    drawdown: FloatArray
    principal: FloatArray
    capex: FloatArray


def build_portfolio(t: TrustArrays, s: Schemes) -> Portfolio:
    """Plain dicts from the arrays, then one validated Portfolio."""
    income, costs = _line_rows(t)
    return Portfolio(
        trusts=_trust_rows(t),
        income=income,
        costs=costs,
        cip=[*_scheme_rows(t, s), *_unidentified_rows(t, s)],
        control_total=_control_total_rows(t),
        funding=_funding_rows(t),
        financing=_financing_rows(t),
        drivers=_driver_rows(t),
        name=NAME,
    )


def _trust_rows(t: TrustArrays) -> list[Row]:
    types_l = t.types.tolist()
    return [
        {
            "trust_code": t.codes[i],
            "name": t.names[i],
            "trust_type": types_l[i],
            "financial_year": FINANCIAL_YEAR,
            "horizon_years": 1,
            "agency_ceiling": float(t.ceiling[i]),
            "financial_special_measures": bool(t.fsm[i]),
        }
        for i in range(len(t.codes))
    ]


def _line_rows(t: TrustArrays) -> tuple[list[Row], list[Row]]:
    """Income and cost rows: every line with a positive base run rate."""
    income: list[Row] = []
    costs: list[Row] = []
    vals = t.base_vals.tolist()
    for i in range(len(t.codes)):
        row = vals[i]
        for j, line in enumerate(LINES):
            v = row[j]
            if v <= 0.0:
                continue
            rec = {"trust_code": t.codes[i], "line": line, "annual_value": v}
            (income if line in INCOME_LINES else costs).append(rec)
    return income, costs


def _scheme_rows(t: TrustArrays, s: Schemes) -> list[Row]:
    """One row per scheme: ids numbered by category within each trust, a name drawn from
    the line's (or the non-recurrent category's) names."""
    cip: list[Row] = []
    line_names = [
        [TYPE_SCHEME_NAMES.get((tt, line), ()) + SCHEME_NAMES.get(line, ()) for line in LINES]
        for tt in TRUST_TYPES
    ]
    cat_prefix = ("P", "N", "I")
    counter = np.zeros((len(t.codes), 3), dtype=int)
    st, sc, sl = s.trust.tolist(), s.category.tolist(), s.line.tolist()
    ss, sr, snr = s.start.tolist(), s.ramp.tolist(), s.nonrecurrent.tolist()
    sst, srag, sf, su = s.stage.tolist(), s.rag.tolist(), s.fye.tolist(), s.name_u.tolist()
    tis = t.ti.tolist()
    for k in range(len(st)):
        i, c, line = st[k], sc[k], sl[k]
        counter[i, c] += 1
        cat = CIP_CATEGORIES[c]
        pool = NR_SCHEME_NAMES[cat] if snr[k] else line_names[tis[i]][line]
        cip.append(
            {
                "trust_code": t.codes[i],
                "scheme_id": f"{cat_prefix[c]}{counter[i, c]:02d}",
                "name": pool[int(su[k] * len(pool))],
                "category": cat,
                "target_line": LINES[line],
                "value_fye": sf[k],
                "start_month": ss[k] + 1,
                "ramp_months": sr[k],
                "recurrent": not snr[k],
                "stage": DRAWN_STAGES[sst[k]],
                "rag": DRAWN_RAGS[srag[k]],
            }
        )
    return cip


def _unidentified_rows(t: TrustArrays, s: Schemes) -> list[Row]:
    """The unidentified balancing lines (after every trust's schemes)."""
    return [
        {
            "trust_code": t.codes[i],
            "scheme_id": "U01",
            "name": "Unidentified CIP (balancing line)",
            "category": "pay" if on_pay else "non_pay",
            "target_line": "pay_substantive" if on_pay else "other_non_pay",
            "value_fye": v,
            "start_month": start + 1,
            "ramp_months": 0,
            "recurrent": True,
            "stage": "unidentified",
            "rag": "red",
        }
        for i, start, v, on_pay in zip(
            s.unidentified_trust.tolist(),
            s.unidentified_start.tolist(),
            s.unidentified_fye.tolist(),
            s.unidentified_on_pay.tolist(),
            strict=True,
        )
    ]


def _control_total_rows(t: TrustArrays) -> list[Row]:
    ctm = t.ct_month.tolist()
    return [
        {
            "trust_code": t.codes[i],
            "year": 1,
            "target_pre_stf": float(t.ct_target[i]),
            "accepted": bool(t.accepted[i]),
            "month": tuple(ctm[i]),
        }
        for i in range(len(t.codes))
    ]


def _funding_rows(t: TrustArrays) -> list[Row]:
    """STF allocation; acute trusts have an A&E trajectory and forecast."""
    types_l = t.types.tolist()
    traj_l, fc_l = t.traj.tolist(), t.fc.tolist()
    return [
        {
            "trust_code": t.codes[i],
            "allocation": float(t.alloc[i]),
            "ae_applies": types_l[i] == "acute",
            "ae_trajectory": tuple(traj_l[i]) if types_l[i] == "acute" else None,
            "ae_forecast": tuple(fc_l[i]) if types_l[i] == "acute" else None,
        }
        for i in range(len(t.codes))
    ]


def _financing_rows(t: TrustArrays) -> list[Row]:
    return [
        {
            "trust_code": t.codes[i],
            "opening_cash": float(t.cash[i]),
            "opening_working_capital": float(t.wc[i]),
            "opening_loans": float(t.loans[i]),
            "loan_drawdown": float(t.drawdown[i]),
            "principal_repayment": float(t.principal[i]),
            "capital_expenditure": float(t.capex[i]),
        }
        for i in range(len(t.codes))
    ]


def _driver_rows(t: TrustArrays) -> list[Row]:
    act = by_type(ACTIVITY_GROWTH, t.ti).tolist()
    return [
        {"trust_code": t.codes[i], "year": 1, **DRIVERS_2017, "activity_growth": act[i]}
        for i in range(len(t.codes))
    ]
