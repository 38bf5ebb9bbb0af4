"""Sector tables for a portfolio of many trusts: the shape NHS Improvement published.

:func:`sector_tables` turns a :class:`~cipmodel.results.run.RunResult` into DataFrames by trust
type: how many trusts meet their control total, STF/PSF earned and forfeited, the finance
and use of resources score and the candidate segment (finance theme only — a candidate,
since segmentation is the regulator's judgement).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cipmodel.results.run import RunResult

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["sector_tables", "TYPE_ORDER"]

TYPE_ORDER = ("acute", "specialist", "mental_health", "community", "ambulance")


def _by_type(frame: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    order = [t for t in TYPE_ORDER if t in set(frame.index)]
    total = frame.sum(numeric_only=True).to_frame("all trusts").T
    return pd.concat([frame.loc[order], total])


def sector_tables(result: RunResult) -> dict[str, pd.DataFrame]:
    """Sector tables by trust type (first plan year; money £000).

    Returns
    -------
    dict of DataFrame
        ``finance``: trusts, meeting the pre-STF control total, control totals not
        accepted, in deficit after STF/PSF, operating income, pre-STF and reported surplus,
        CIP planned; ``funding``: STF/PSF allocation, earned, forfeited, incentive, bonus;
        ``score``: count of trusts at each overall score and the finance trigger;
        ``segment``: count of trusts in each candidate segment.
    """
    import pandas as pd

    a = result.assessment
    f = a.funding
    plan = result.plan
    first = [t.first_year for t in result.figures]
    types = np.array([t.trust_type for t in result.figures])
    reported = a.reported_surplus_ytd[0, :, 3]
    base = pd.DataFrame(
        {
            "type": types,
            "trusts": 1,
            "meeting_control_total": np.array([bool(y.met) for y in first]).astype(int),
            "control_total_not_accepted": (~plan.ct_accepted[:, 0]).astype(int),
            "in_deficit_after_stf": (reported < 0).astype(int),
            "operating_income": np.array([y.operating_income for y in first]),
            "surplus_pre_stf": np.array([y.surplus_pre_stf for y in first]),
            "reported_surplus": reported,
            "cip_planned": np.array([y.cip_planned for y in first]),
            "stf_allocation": f.allocation,
            "stf_earned": f.total_earned[0],
            "stf_forfeited": f.forfeited[0],
            "stf_incentive": f.incentive[0],
            "stf_bonus": f.bonus[0],
        }
    )
    g = base.groupby("type")
    finance_cols = [
        "trusts",
        "meeting_control_total",
        "control_total_not_accepted",
        "in_deficit_after_stf",
        "operating_income",
        "surplus_pre_stf",
        "reported_surplus",
        "cip_planned",
    ]
    funding_cols = [
        "trusts",
        "stf_allocation",
        "stf_earned",
        "stf_forfeited",
        "stf_incentive",
        "stf_bonus",
    ]
    overall = np.asarray(a.full_year_score.overall)[0]
    segment = np.asarray(a.segment.segment)[0]
    score = pd.crosstab(types, overall).reindex(columns=[1, 2, 3, 4], fill_value=0)
    score.columns = [f"score_{c}" for c in score.columns]
    score["finance_trigger"] = pd.Series(a.trigger[0], index=types).groupby(level=0).sum()
    seg = pd.crosstab(types, segment).reindex(columns=[1, 2, 3, 4], fill_value=0)
    seg.columns = [f"segment_{c}" for c in seg.columns]
    return {
        "finance": _by_type(g[finance_cols].sum()),
        "funding": _by_type(g[funding_cols].sum()),
        "score": _by_type(score),
        "segment": _by_type(seg),
    }
