"""The DataFrame views of a plan run: tidy tables, one row per trust and period (or line, or
scheme), money £000.

The summary, funding and metrics tables render :class:`~cipmodel.results.figures.TrustFigures`,
the same objects the ``run --json`` contract renders, so a table and the JSON cannot disagree.
The monthly, lines and schemes tables are the projection's own arrays laid out flat (the JSON
does not carry them). The results workbook writes these tables as its sheets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from cipmodel.engine.project import (
    CATEGORIES,
    IS_INCOME,
    LINES,
    RAGS,
    STAGES,
    PlanArrays,
    Projection,
)
from cipmodel.results.figures import TrustFigures, TrustYear

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "funding_table",
    "lines_table",
    "metrics_table",
    "monthly_table",
    "schemes_table",
    "summary_table",
]


def summary_table(trusts: Sequence[TrustFigures]) -> pd.DataFrame:
    """One row per trust and plan year: income, costs, surplus, the control total on both
    bases (pre-STF and post-STF), the year's CIP (brought forward + new) against the CIP
    needed, the STF/PSF earned and lost, score, trigger and candidate segment (NaN/None
    where the year is not assessed, with the reason in ``not_assessed``)."""
    import pandas as pd

    rows: list[dict[str, object]] = []
    for t in trusts:
        for y in t.years:
            row: dict[str, object] = {
                "trust_code": y.trust_code,
                "year": y.year,
                "operating_income": y.operating_income,
                "operating_expenditure": y.operating_expenditure,
                "ebitda": y.ebitda,
                "non_operating": y.non_operating,
                "surplus_pre_stf": y.surplus_pre_stf,
                "control_total_pre_stf": y.control_total_pre_stf,
                "variance": y.variance,
                "met": y.met,
                "cip_planned": y.cip_planned,
                "cip_planned_pct": y.cip_planned_pct,
                "cip_fye": y.cip_fye,
                "cip_unidentified": y.cip_unidentified,
                "cip_recurrent": y.cip_recurrent,
                "opex_do_nothing": y.opex_do_nothing,
                "agency": y.agency,
            }
            for q, v in enumerate(y.ytd_variance, start=1):
                row[f"ytd_variance_q{q}"] = v
            row.update(_year_answer(y))
            rows.append(row)
    return pd.DataFrame(rows)


def _year_answer(y: TrustYear) -> dict[str, object]:
    """The per-year columns of the summary: post-STF, the year's CIP, funding and score."""
    a = y.assessed
    nan = float("nan")
    return {
        "financial_year": y.financial_year,
        "stf_allocation": y.allocation,
        "control_total_post_stf": y.control_total_post_stf,
        "reported_surplus": y.reported_surplus,
        "variance_post_stf": y.variance_post_stf,
        "met_post_stf": y.met_post_stf,
        "cip_brought_forward": y.cip_brought_forward,
        "cip_new": y.cip_new,
        "cip_non_recurrent_gap": y.cip_non_recurrent_gap,
        "cip_needed": y.cip_needed,
        "cip_needed_pct": y.cip_needed_pct,
        "cip_needed_band": y.cip_needed_band,
        "stf_rules": None if a is None else a.funding.rules,
        "stf_earned": nan if a is None else a.funding.earned,
        "stf_lost": nan if a is None else a.funding.lost,
        "score": None if a is None else int(a.full_year.overall),
        "finance_trigger": None if a is None else a.finance_trigger,
        "candidate_segment": None if a is None else a.candidate_segment,
        "not_assessed": y.not_assessed,
    }


def funding_table(trusts: Sequence[TrustFigures]) -> pd.DataFrame:
    """One row per trust and quarter: STF/PSF available, earned and lost, gate met."""
    import pandas as pd

    rows = [
        {
            "trust_code": t.code,
            "quarter": q.quarter.upper(),
            "ytd_surplus_pre_stf": q.ytd_surplus_pre_stf,
            "ytd_control_total_pre_stf": q.ytd_control_total_pre_stf,
            "gate_met": q.gate_met,
            "available": q.available,
            "finance_earned": q.finance_earned,
            "performance_earned": q.performance_earned,
            "earned": q.earned,
            "lost": q.lost,
        }
        for t in trusts
        for q in t.funding.quarters
    ]
    return pd.DataFrame(rows)


def metrics_table(trusts: Sequence[TrustFigures]) -> pd.DataFrame:
    """One row per trust, quarter end and metric: value, score, not-applicable reason; then
    the overall score of the period (``metric`` = ``overall``, ``value`` = the mean)."""
    import pandas as pd

    rows: list[dict[str, object]] = []
    for t in trusts:
        for p in t.periods:
            rows.extend(
                {
                    "trust_code": t.code,
                    "period": p.period,
                    "metric": m.metric,
                    "value": m.value if np.isfinite(m.value) else None,
                    "score": m.score,
                    "not_applicable": m.not_applicable,
                }
                for m in p.metrics
            )
            rows.append(
                {
                    "trust_code": t.code,
                    "period": p.period,
                    "metric": "overall",
                    "value": p.mean,
                    "score": p.overall,
                    "not_applicable": "",
                }
            )
    return pd.DataFrame(rows)


def monthly_table(plan: PlanArrays, projection: Projection) -> pd.DataFrame:
    """Tidy monthly table: one row per trust and month, the I&E and YTD against plan."""
    import pandas as pd

    pr = projection
    n_t, n_m = plan.n_trusts, plan.n_months
    months = np.arange(n_m)
    ytd_s = pr.ytd(pr.surplus_pre_stf)[0].reshape(n_t, n_m)
    ytd_ct = pr.control_total_ytd().reshape(n_t, n_m)
    data = {
        "trust_code": np.repeat(np.array(plan.codes, dtype=object), n_m),
        "year": np.tile(months // 12 + 1, n_t),
        "month": np.tile(months % 12 + 1, n_t),
        "operating_income": pr.operating_income[0].ravel(),
        "pay": pr.pay[0].ravel(),
        "non_pay": pr.non_pay[0].ravel(),
        "ebitda": pr.ebitda[0].ravel(),
        "non_operating": pr.non_operating[0].ravel(),
        "cip": pr.cip_total[0].ravel(),
        "surplus_pre_stf": pr.surplus_pre_stf[0].ravel(),
        "ytd_surplus_pre_stf": ytd_s.ravel(),
        "ytd_control_total": ytd_ct.ravel(),
        "ytd_variance": (ytd_s - ytd_ct).ravel(),
    }
    df = pd.DataFrame(data)
    keep = plan.month_mask.ravel()
    return df[keep].reset_index(drop=True)


def lines_table(plan: PlanArrays, projection: Projection) -> pd.DataFrame:
    """Annual value of every income and cost line, before CIP, CIP, and after [£000]."""
    import pandas as pd

    pr = projection
    dn = pr.by_year(pr.do_nothing[0])  # (T, L, Y)
    cip = pr.by_year(pr.cip[0])
    rows = []
    for i, code in enumerate(plan.codes):
        for yr in range(int(plan.horizon[i])):
            for li, line in enumerate(LINES):
                sign = 1.0 if IS_INCOME[li] else -1.0
                rows.append(
                    {
                        "trust_code": code,
                        "year": yr + 1,
                        "line": line,
                        "do_nothing": dn[i, li, yr],
                        "cip": cip[i, li, yr],
                        "plan": dn[i, li, yr] + sign * cip[i, li, yr],
                    }
                )
    return pd.DataFrame(rows)


def schemes_table(plan: PlanArrays, projection: Projection) -> pd.DataFrame:
    """One row per scheme: its attributes and in-year effect in each plan year."""
    import pandas as pd

    eff = projection.cip_scheme_year[0]
    df = pd.DataFrame(
        {
            "trust_code": [plan.codes[t] for t in plan.scheme_trust],
            "scheme_id": [s.split("/", 1)[1] for s in plan.scheme_ids],
            "category": [CATEGORIES[c] for c in plan.scheme_category],
            "line": [LINES[x] for x in plan.scheme_line],
            "stage": [STAGES[x] for x in plan.scheme_stage],
            "rag": [RAGS[x] for x in plan.scheme_rag],
            "recurrent": plan.scheme_recurrent,
            "value_fye": plan.scheme_fye,
        }
    )
    for yr in range(plan.n_years):
        df[f"in_year_y{yr + 1}"] = eff[:, yr] if len(df) else []
    return df
