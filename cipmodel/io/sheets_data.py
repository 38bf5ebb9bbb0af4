"""The data sheets of the results workbook: Monthly, Schemes, STF by quarter, Lines.

One row per trust and month (Monthly), scheme (Schemes), quarter (STF by quarter) or
cost/income line and year (Lines). Engine values are written as values; totals, EBITDA,
surplus, running sums and variances as formulas. Each writer records its rows in the
:class:`~cipmodel.io.results_base.Builder` (``month_row``, ``scheme_rows``, ``stf_row``)
and its columns (``layouts``), which the Metrics and Summary formulas read.
"""

from __future__ import annotations

from typing import Any

from cipmodel.calendar import MONTH_NAMES, QUARTER_END_INDEX
from cipmodel.engine.project import CATEGORIES, IS_INCOME, KIND, LINES, RAGS, STAGES
from cipmodel.io.cells import MONEY_FORMAT
from cipmodel.io.results_base import (
    MONTHLY,
    QUARTER_LABELS,
    Builder,
    Head,
    Row,
    expected,
)

__all__ = [
    "LINES_HEADS",
    "MONTHLY_HEADS",
    "STF_HEADS",
    "write_lines",
    "write_monthly",
    "write_schemes",
    "write_stf",
]

M = MONEY_FORMAT

MONTHLY_HEADS = (
    Head("trust_code", "trust_code", 11),
    Head("year", "year", 6),
    Head("month", "month", 7),
    Head("month_name", "month name", 8),
    Head("income", "Operating income (£000)", 14),
    Head("pay", "Pay (£000)", 14),
    Head("agency", "of which agency (£000)", 14),
    Head("non_pay", "Non-pay (£000)", 14),
    Head("opex", "Operating expenditure (£000)", 14),
    Head("ebitda", "EBITDA (£000)", 14),
    Head("non_operating", "Non-operating costs, net (£000)", 14),
    Head("surplus", "Surplus/(deficit) before STF/PSF (£000)", 14),
    Head("cip", "CIP (£000)", 14),
    Head("ytd_surplus", "YTD surplus/(deficit) before STF/PSF (£000)", 14),
    Head("ct_month", "Control total, month (£000)", 14),
    Head("ytd_ct", "YTD control total (£000)", 14),
    Head("ytd_variance", "YTD variance against control total (£000)", 14),
)

STF_HEADS = (
    Head("trust_code", "trust_code", 11),
    Head("quarter", "quarter", 13),
    Head("ytd_surplus", "YTD surplus/(deficit) before STF/PSF (£000)", 14),
    Head("ytd_ct", "YTD control total (£000)", 14),
    Head("ytd_headroom", "YTD headroom against control total (£000)", 14),
    Head("ct_accepted", "control total accepted", 14),
    Head("gate_met", "gate met", 14),
    Head("available", "available (£000)", 14),
    Head("finance", "finance element earned (£000)", 14),
    Head("performance", "performance element earned (£000)", 14),
    Head("earned", "earned (£000)", 14),
    Head("lost", "lost (£000)", 14),
    Head("catch_up", "catch-up released at year end (£000)", 14),
    Head("incentive", "year-end incentive (£000)", 14),
    Head("bonus", "bonus (£000)", 14),
    Head("earned_ytd", "earned year to date, with year-end amounts (£000)", 14),
)

LINES_HEADS = (
    Head("trust_code", "trust_code", 11),
    Head("year", "year", 6),
    Head("line", "line", 20),
    Head("kind", "kind", 16),
    Head("before", "before CIP (£000)", 14),
    Head("cip", "CIP (£000)", 14),
    Head("after", "after CIP (£000)", 14),
)


def scheme_heads(n_years: int) -> tuple[Head, ...]:
    """The Schemes sheet's columns: the scheme, then its in-year effect in each plan year
    (keys ``effect_1``, ``effect_2``...)."""
    return (
        Head("trust_code", "trust_code", 11),
        Head("scheme_id", "scheme_id", 12),
        Head("name", "name", 36),
        Head("category", "category", 10),
        Head("line", "line", 16),
        Head("stage", "stage", 13),
        Head("rag", "rag", 8),
        Head("recurrent", "recurrent", 10),
        Head("start_year", "start_year", 8),
        Head("start_month", "start_month", 8),
        Head("value_fye", "value_fye (£000)", 12),
        *[
            Head(f"effect_{y + 1}", f"in-year effect, year {y + 1} (£000)", 14)
            for y in range(n_years)
        ],
    )


def write_monthly(b: Builder, ws: Any) -> None:
    """The Monthly sheet: income, costs, surplus, CIP and the year to date against the
    control-total profile, per trust and month; records ``b.month_row``."""
    c = b.header(ws, MONTHLY_HEADS)
    pr, plan = b.pr, b.plan
    inc, pay, agency = pr.operating_income[0], pr.pay[0], pr.agency[0]
    nonpay, nonop, cip = pr.non_pay[0], pr.non_operating[0], pr.cip_total[0]
    opex, ebitda, surplus = pr.operating_expenditure[0], pr.ebitda[0], pr.surplus_pre_stf[0]
    ytd_s = pr.ytd(pr.surplus_pre_stf)[0]
    ytd_ct = pr.control_total_ytd()
    row = 2
    for i, code in enumerate(plan.codes):
        for y in range(int(plan.horizon[i])):
            first = row
            ct = b.has_ct[i, y]
            for m in range(12):
                k = 12 * y + m
                b.month_row[(i, y, m)] = row
                x = Row(b, ws, c, row)
                x.text("trust_code", code)
                x.value("year", y + 1)
                x.value("month", m + 1)
                x.text("month_name", MONTH_NAMES[m])
                x.value("income", inc[i, k], M)
                x.value("pay", pay[i, k], M)
                x.value("agency", agency[i, k], M)
                x.value("non_pay", nonpay[i, k], M)
                x.formula("opex", f"={x['pay']}+{x['non_pay']}", expected(opex[i, k]), M)
                x.formula("ebitda", f"={x['income']}-{x['opex']}", expected(ebitda[i, k]), M)
                x.value("non_operating", nonop[i, k], M)
                x.formula(
                    "surplus", f"={x['ebitda']}-{x['non_operating']}", expected(surplus[i, k]), M
                )
                x.value("cip", cip[i, k], M)
                x.formula(
                    "ytd_surplus",
                    f"=SUM({c['surplus']}{first}:{x['surplus']})",
                    expected(ytd_s[i, y, m]),
                    M,
                )
                if ct:
                    x.value("ct_month", plan.ct_month[i, y, m], M)
                    x.formula(
                        "ytd_ct",
                        f"=SUM({c['ct_month']}{first}:{x['ct_month']})",
                        expected(ytd_ct[i, y, m]),
                        M,
                    )
                    x.formula(
                        "ytd_variance",
                        f"={x['ytd_surplus']}-{x['ytd_ct']}",
                        expected(ytd_s[i, y, m] - ytd_ct[i, y, m]),
                        M,
                    )
                row += 1
    ws.auto_filter.ref = f"A1:{c.last}{max(row - 1, 1)}"


def write_schemes(b: Builder, ws: Any) -> None:
    """The Schemes sheet: one row per CIP scheme, grouped by trust, with its in-year effect
    in each plan year; records ``b.scheme_rows``."""
    plan = b.plan
    n_y = plan.n_years
    c = b.header(ws, scheme_heads(n_y))
    eff = b.pr.cip_scheme_year[0]
    records = b.r.portfolio.cip
    order = sorted(range(len(records)), key=lambda s: int(plan.scheme_trust[s]))
    row = 2
    for s in order:
        rec = records[s]
        t = int(plan.scheme_trust[s])
        first, _ = b.scheme_rows.get(t, (row, row))
        b.scheme_rows[t] = (first, row)
        x = Row(b, ws, c, row)
        x.text("trust_code", plan.codes[t])
        x.text("scheme_id", str(rec.scheme_id))
        x.text("name", str(rec.name or ""))
        x.text("category", CATEGORIES[plan.scheme_category[s]])
        x.text("line", LINES[plan.scheme_line[s]])
        x.text("stage", STAGES[plan.scheme_stage[s]])
        x.text("rag", RAGS[plan.scheme_rag[s]])
        x.text("recurrent", "Y" if plan.scheme_recurrent[s] else "N")
        x.value("start_year", int(rec.start_year))
        x.value("start_month", int(rec.start_month))
        x.value("value_fye", plan.scheme_fye[s], M)
        for y in range(n_y):
            x.value(f"effect_{y + 1}", eff[s, y], M)
        row += 1
    ws.auto_filter.ref = f"A1:{c.last}{max(row - 1, 1)}"


def write_stf(b: Builder, ws: Any) -> None:
    """The STF by quarter sheet: the year to date against the control total at each quarter
    end, and STF/PSF available, earned and lost; records ``b.stf_row``."""
    c = b.header(ws, STF_HEADS)
    monthly = b.layout(MONTHLY)
    f, a, plan = b.r.assessment.funding, b.r.assessment, b.plan
    ytd_s = b.pr.ytd(b.pr.surplus_pre_stf)[0]
    ytd_ct = b.pr.control_total_ytd()
    row = 2
    for i, code in enumerate(plan.codes):
        first = row
        for q in range(4):
            m = QUARTER_END_INDEX[q]
            mrow = b.month_row[(i, 0, m)]
            b.stf_row[(i, q)] = row
            x = Row(b, ws, c, row)
            x.text("trust_code", code)
            x.text("quarter", QUARTER_LABELS[q])
            x.formula(
                "ytd_surplus", f"={monthly.ref('ytd_surplus', mrow)}", expected(ytd_s[i, 0, m]), M
            )
            if b.has_ct[i, 0]:
                x.formula("ytd_ct", f"={monthly.ref('ytd_ct', mrow)}", expected(ytd_ct[i, 0, m]), M)
                x.formula(
                    "ytd_headroom",
                    f"={x['ytd_surplus']}-{x['ytd_ct']}",
                    expected(ytd_s[i, 0, m] - ytd_ct[i, 0, m]),
                    M,
                )
            x.text("ct_accepted", "Y" if plan.ct_accepted[i, 0] else "N")
            x.text("gate_met", "Y" if f.met_quarter[0, i, q] else "N")
            x.value("available", f.available[0, i, q], M)
            x.value("finance", f.finance_earned[0, i, q], M)
            x.value("performance", f.performance_earned[0, i, q], M)
            x.formula(
                "earned", f"={x['finance']}+{x['performance']}", expected(f.earned[0, i, q]), M
            )
            x.formula("lost", f"={x['available']}-{x['earned']}", expected(f.lost[0, i, q]), M)
            if q == 3:
                x.value("catch_up", f.released_catch_up[0, i], M)
                x.value("incentive", f.incentive[0, i], M)
                x.value("bonus", f.bonus[0, i], M)
            x.formula(
                "earned_ytd",
                f"=SUM({c['earned']}{first}:{x['earned']})"
                f"+SUM({c['catch_up']}{first}:{c['bonus']}{row})",
                expected(a.stf_earned_ytd[0, i, q]),
                M,
            )
            row += 1
    ws.auto_filter.ref = f"A1:{c.last}{max(row - 1, 1)}"


def write_lines(b: Builder, ws: Any) -> None:
    """The Lines sheet: each cost and income line before CIP, its CIP and after CIP, per
    trust and plan year."""
    c = b.header(ws, LINES_HEADS)
    pr, plan = b.pr, b.plan
    dn = pr.by_year(pr.do_nothing[0])  # (T, L, Y)
    cip = pr.by_year(pr.cip[0])
    row = 2
    for i, code in enumerate(plan.codes):
        for y in range(int(plan.horizon[i])):
            for li, line in enumerate(LINES):
                x = Row(b, ws, c, row)
                x.text("trust_code", code)
                x.value("year", y + 1)
                x.text("line", line)
                x.text("kind", str(KIND[li]))
                x.value("before", dn[i, li, y], M)
                x.value("cip", cip[i, li, y], M)
                op, sign = ("+", 1.0) if IS_INCOME[li] else ("-", -1.0)
                x.formula(
                    "after",
                    f"={x['before']}{op}{x['cip']}",
                    expected(dn[i, li, y] + sign * cip[i, li, y]),
                    M,
                )
                row += 1
    ws.auto_filter.ref = f"A1:{c.last}{max(row - 1, 1)}"
