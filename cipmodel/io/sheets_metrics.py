"""The Metrics sheet of the results workbook: the SOF finance metrics at each quarter end.

One row per trust and period (Q1, Q2 and Q3 year to date, full year): the metric
components (sums over the Monthly sheet, STF/PSF earned from the STF by quarter sheet,
balances from the engine), the five ratios as Excel formulas over them, each metric's
score, the overall score with overrides, and why a metric does not apply. Records
``b.metric_row``, which the Summary sheet reads.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cipmodel.engine.project import LINES
from cipmodel.io.cells import MONEY_FORMAT
from cipmodel.io.results_base import (
    DAYS,
    INTEGER,
    MARGIN,
    MONTHLY,
    NA,
    STF,
    TIMES,
    Builder,
    Head,
    Row,
    expected,
)

__all__ = ["METRICS_HEADS", "METRIC_FORMATS", "METRIC_LABELS", "write_metrics"]

M = MONEY_FORMAT

#: The five metrics, in column order, and the number format of each value.
METRIC_FORMATS = {
    "capital_service_capacity": TIMES,
    "liquidity_days": DAYS,
    "ie_margin": MARGIN,
    "distance_from_plan": MARGIN,
    "agency_vs_ceiling": MARGIN,
}
#: Each metric's name as the Metrics header and the Summary label show it.
METRIC_LABELS = {
    "capital_service_capacity": "Capital service capacity (times)",
    "liquidity_days": "Liquidity (days)",
    "ie_margin": "I&E margin",
    "distance_from_plan": "Distance from financial plan",
    "agency_vs_ceiling": "Agency spend against ceiling",
}

METRICS_HEADS = (
    Head("trust_code", "trust_code", 11),
    Head("period", "period", 10),
    Head("months", "months", 7),
    Head("income", "Operating income incl. STF/PSF (£000)", 14),
    Head("opex", "Operating expenditure (£000)", 14),
    Head("ebitda", "EBITDA incl. STF/PSF (£000)", 14),
    Head("stf_earned", "STF/PSF earned YTD (£000)", 14),
    Head("reported_surplus", "Reported surplus/(deficit) (£000)", 14),
    Head("interest_receivable", "Interest receivable (£000)", 14),
    Head("revenue_available", "Revenue available for capital service (£000)", 14),
    Head("capital_service", "Capital service (£000)", 14),
    Head("working_capital", "Working capital, close (£000)", 14),
    Head("cash", "Cash, close (£000)", 14),
    Head("agency", "Agency spend (£000)", 14),
    Head("agency_ceiling", "Agency ceiling, year (£000)", 14),
    Head("agency_ceiling_ytd", "Agency ceiling YTD (£000)", 14),
    Head("planned_margin", "Planned I&E margin", 14),
    *[
        head
        for name, text in METRIC_LABELS.items()
        for head in (Head(name, text, 11), Head(f"{name}_score", "score", 7))
    ],
    Head("overall", "Overall score (after overrides)", 10),
    Head("mean", "Mean metric score", 10),
    Head("overrides", "Overrides applied", 24),
    Head("not_applicable", "Not applicable", 40),
)


def write_metrics(b: Builder, ws: Any) -> None:
    """The Metrics sheet (see the module docstring); needs Monthly and STF by quarter."""
    c = b.header(ws, METRICS_HEADS)
    a, plan = b.r.assessment, b.plan
    int_rec = b.pr.lines[0, :, LINES.index("interest_receivable"), :]
    row = 2
    for i, code in enumerate(plan.codes):
        for q, (mv, sc) in enumerate(zip(a.metrics, a.scores, strict=True)):
            b.metric_row[(i, q)] = row
            x = Row(b, ws, c, row)
            x.text("trust_code", code)
            x.text("period", "full year" if q == 3 else f"Q{q + 1} YTD")
            x.value("months", mv.months)
            _components(b, x, i, q, mv, int_rec)
            _ratios(x, i, mv, sc)
            row += 1
    ws.auto_filter.ref = f"A1:{c.last}{max(row - 1, 1)}"


def _components(b: Builder, x: Row, i: int, q: int, mv: Any, int_rec: Any) -> None:
    """The metric components of trust ``i`` over the first ``mv.months`` months."""
    monthly, stf = b.layout(MONTHLY), b.layout(STF)
    months = mv.months
    comp = {k: float(v[0, i]) for k, v in mv.components.items()}
    lo, hi = b.month_row[(i, 0, 0)], b.month_row[(i, 0, months - 1)]
    x.formula(
        "income",
        f"=SUM({monthly.span('income', lo, hi)})+{x['stf_earned']}",
        expected(comp["operating_income_incl_stf"]),
        M,
    )
    x.formula(
        "opex",
        f"=SUM({monthly.span('opex', lo, hi)})",
        expected(comp["operating_expenditure"]),
        M,
    )
    x.formula("ebitda", f"={x['income']}-{x['opex']}", expected(comp["ebitda_incl_stf"]), M)
    x.formula(
        "stf_earned",
        f"={stf.ref('earned_ytd', b.stf_row[(i, q)])}",
        expected(comp["stf_earned"]),
        M,
    )
    x.formula(
        "reported_surplus",
        f"=SUM({monthly.span('surplus', lo, hi)})+{x['stf_earned']}",
        expected(comp["reported_surplus"]),
        M,
    )
    x.value("interest_receivable", int_rec[i, :months].sum(), M)
    x.formula(
        "revenue_available",
        f"={x['ebitda']}+{x['interest_receivable']}",
        expected(comp["revenue_available_for_capital_service"]),
        M,
    )
    x.value("capital_service", comp["capital_service"], M)
    x.value("working_capital", comp["working_capital_close"], M)
    x.value("cash", comp["cash_close"], M)
    x.formula("agency", f"=SUM({monthly.span('agency', lo, hi)})", expected(comp["agency"]), M)
    ceiling = float(b.plan.agency_ceiling[i])
    if np.isfinite(ceiling):
        x.value("agency_ceiling", ceiling, M)
        _agency_ceiling_ytd(b, x, i, months, comp["agency_ceiling"])
    dist_reason = str(mv.not_applicable["distance_from_plan"][0, i])
    if np.isfinite(comp["planned_margin"]) and not (
        dist_reason and comp["operating_income_incl_stf"] > 0
    ):
        x.value("planned_margin", comp["planned_margin"], MARGIN)


def _agency_ceiling_ytd(b: Builder, x: Row, i: int, months: int, ytd: float) -> None:
    """The YTD agency ceiling (metrics.agency_ceiling_ytd): phased with the plan's monthly
    agency spend (months of negative spend weigh 0; none at all: evenly) as a formula on
    the Monthly sheet, or, where the trust gives its own ceiling profile, the value."""
    if not np.isnan(b.plan.agency_ceiling_profile[i, 0]):
        x.value("agency_ceiling_ytd", ytd, M)
        return
    monthly = b.layout(MONTHLY)
    first = b.month_row[(i, 0, 0)]
    ytd_span = monthly.span("agency", first, b.month_row[(i, 0, months - 1)])
    year_span = monthly.span("agency", first, b.month_row[(i, 0, 11)])
    spent, planned = (f"SUMPRODUCT(({r}>0)*{r})" for r in (ytd_span, year_span))
    x.formula(
        "agency_ceiling_ytd",
        f"=IF({x['months']}=12,{x['agency_ceiling']},IF({planned}>0,"
        f"{x['agency_ceiling']}*{spent}/{planned},{x['agency_ceiling']}*{x['months']}/12))",
        expected(ytd),
        M,
    )


def _ratio_formulas(x: Row) -> dict[str, str]:
    """The five metric ratios of one row as Excel formulas (``"n/a"`` where undefined)."""
    return {
        "capital_service_capacity": (
            f'=IF({x["capital_service"]}>0,{x["revenue_available"]}/{x["capital_service"]},"{NA}")'
        ),
        "liquidity_days": (
            f'=IF({x["opex"]}>0,{x["working_capital"]}/({x["opex"]}/({x["months"]}/12))*360,"{NA}")'
        ),
        "ie_margin": f'=IF({x["income"]}>0,{x["reported_surplus"]}/{x["income"]},"{NA}")',
        "distance_from_plan": (
            f"=IF(AND(ISNUMBER({x['ie_margin']}),ISNUMBER({x['planned_margin']})),"
            f'{x["ie_margin"]}-{x["planned_margin"]},"{NA}")'
        ),
        "agency_vs_ceiling": (
            f"=IF({x['agency_ceiling_ytd']}>0,"
            f'({x["agency"]}-{x["agency_ceiling_ytd"]})/{x["agency_ceiling_ytd"]},"{NA}")'
        ),
    }


def _ratios(x: Row, i: int, mv: Any, sc: Any) -> None:
    """The metric ratios and scores of trust ``i``, the overall score and the notes."""
    forms = _ratio_formulas(x)
    for name, fmt in METRIC_FORMATS.items():
        x.formula(name, forms[name], expected(mv.values[name][0, i], "ratio"), fmt)
        s = int(sc.metric_scores[name][0, i])
        if s:
            x.value(f"{name}_score", s, INTEGER)
        else:
            x.text(f"{name}_score", NA)
    x.value("overall", int(np.asarray(sc.overall)[0, i]), INTEGER)
    x.value("mean", float(np.asarray(sc.mean)[0, i]), "0.00")
    x.text("overrides", ", ".join(sc.item((0, i)).overrides) or "none")
    reasons = [
        f"{n}: {mv.not_applicable[n][0, i]}" for n in mv.values if str(mv.not_applicable[n][0, i])
    ]
    x.text("not_applicable", "; ".join(reasons))
