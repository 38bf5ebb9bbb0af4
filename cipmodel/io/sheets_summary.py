"""The Summary sheet of the results workbook: plan year 1 per trust, for the board.

Sections, top to bottom: income and expenditure; the control total (year and each quarter
to date); the CIP planned, needed and delivered (by category, unidentified, recurrent);
STF/PSF earned and lost by quarter; the five SOF metrics with scores, overrides, trigger and
candidate segment; a simulation's probabilities and percentiles (when given); the year to
date against the control-total profile (the chart's data); later plan years; a footer.
Figures come from the data sheets by formula wherever the data sheets hold them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from openpyxl.styles import Alignment
from openpyxl.utils import get_column_letter

from cipmodel.calendar import MONTH_NAMES, MONTHS_PER_YEAR, QUARTER_END_INDEX, QUARTERS, cip_share
from cipmodel.engine.project import CATEGORIES
from cipmodel.io.cells import BOLD, HEADER_FILL, MONEY_FORMAT, TITLE
from cipmodel.io.results_base import (
    DETAIL,
    INTEGER,
    METRICS,
    NA,
    PERCENT,
    QUARTER_LABELS,
    SCHEMES,
    STF,
    Builder,
)
from cipmodel.io.sheets_metrics import METRIC_FORMATS, METRIC_LABELS
from cipmodel.io.summary_rows import (
    ALL_TRUSTS_COL,
    LABEL_WIDTH,
    VALUE_WIDTH,
    PerTrust,
    SummaryRows,
)
from cipmodel.results.run import MET_TOLERANCE

__all__ = ["write_summary"]

M = MONEY_FORMAT
_LAST_MONTH = MONTHS_PER_YEAR - 1


def write_summary(b: Builder, ws: Any) -> SummaryRows:
    """Write the Summary sheet; return its rows: ``.rows`` the rows the charts and the
    defined names read (see :func:`cipmodel.io.charts.write_charts`,
    :mod:`cipmodel.io.names`), ``.sections`` the first row of each section (and
    ``.subheads`` of each list within one where a page may break), ``.row`` the
    first free row. Needs every data sheet written first."""
    s = SummaryRows(b, ws)
    ts = b.r.trust_summary()
    y1 = ts[ts.year == 1].set_index("trust_code").loc[list(b.plan.codes)]
    _heading(s)
    r_sur = _income_and_expenditure(s, y1)
    _control_total(s, y1, r_sur)
    _cip(s, y1)
    _funding(s, r_sur)
    _sof(s)
    if b.sim is not None:
        _simulation(s, b.sim)
    _year_to_date(s)
    if b.plan.n_years > 1:
        _later_years(s, ts)
    s.row += 1
    prov = b.r.provenance
    s.note(
        f"Produced by cipmodel {prov.get('version', '')}; rules: "
        f"{', '.join(map(str, prov.get('rules', [])))}; input {prov.get('input_hash', '')}. "
        "Full record on the Provenance sheet."
    )
    return s


def _heading(s: SummaryRows) -> None:
    """Title, reading notes, the row of trust codes, and each trust's name, type and year."""
    ws, plan, pf, grid, styles = s.ws, s.plan, s.r.portfolio, s.grid, s.b.styles
    grid.text(1, 1, f"cipmodel results: {pf.name}", styles.id(font=TITLE))
    s.row = 2
    years = sorted({t.financial_year for t in pf.trusts})
    s.note(
        f"Plan year 1 ({', '.join(years)}). Money in £000, deficits in brackets; "
        "rates as percentages."
    )
    s.note(
        "Blue: numbers computed by cipmodel. Black: Excel formulas over the result "
        "sheets (Formulas > Trace Precedents shows where each comes from)."
        + ("" if s.b.multi else " Charts below the figures.")
    )
    if s.b.hide_inputs:
        s.note(
            "The plan's input sheets (README, Trusts, Income...) follow Provenance, hidden so "
            "that printing prints the results: right-click a sheet tab > Unhide to see them."
        )
    s.row += 1
    head = s.row
    grid.text(head, 1, "Trust", styles.id(font=BOLD))
    s.row += 1
    code_style = styles.id(font=BOLD, fill=HEADER_FILL)
    for i in range(s.n_t):
        grid.text(head, s.first_col + i, plan.codes[i], code_style)
    if s.b.multi:
        grid.text(head, ALL_TRUSTS_COL, "All trusts", code_style)
    s.rows["head"] = head
    names = [t.name or "" for t in pf.trusts]
    r_name = s.values("Name", names, None, total=False)
    wrap = styles.id(alignment=Alignment(wrap_text=True, vertical="top"))
    grid.text(r_name, 1, "Name", styles.id(alignment=Alignment(vertical="top")))
    for i in range(s.n_t):
        entry = grid.rows[r_name].get(s.first_col + i)
        if entry is not None:
            grid.text(r_name, s.first_col + i, entry[2], wrap)
    s.wrap_height(r_name, names, 12)
    s.rows["trust_type"] = s.values(
        "Trust type", [t.trust_type or "" for t in pf.trusts], None, total=False
    )
    s.values("Financial year", [t.financial_year for t in pf.trusts], None, total=False)
    ws.column_dimensions["A"].width = LABEL_WIDTH
    for j in range(2, s.first_col + s.n_t):
        ws.column_dimensions[get_column_letter(j)].width = VALUE_WIDTH
    ws.freeze_panes = f"{get_column_letter(s.first_col)}{head + 1}"


def _income_and_expenditure(s: SummaryRows, y1: Any) -> int:
    """Income, pay, non-pay, EBITDA and the surplus before STF/PSF; returns the surplus row."""
    s.section("Income and expenditure, plan year 1 (£000)")
    pr = s.r.projection
    opex = np.asarray(y1.operating_expenditure, dtype=float)
    r_inc = s.formulas("Operating income", s.month_sum("income"), y1.operating_income.tolist(), M)
    pay_y = pr.by_year(pr.pay[0])[:, 0]
    nonpay_y = pr.by_year(pr.non_pay[0])[:, 0]
    r_pay = s.formulas("Pay", s.month_sum("pay"), pay_y.tolist(), M, indent=True)
    r_np = s.formulas("Non-pay", s.month_sum("non_pay"), nonpay_y.tolist(), M, indent=True)
    r_opex = s.formulas(
        "Operating expenditure",
        s.same(f"={{c}}{r_pay}+{{c}}{r_np}"),
        opex.tolist(),
        M,
        total="same",
        total_expected=opex.sum(),
    )
    r_ebitda = s.formulas(
        "EBITDA",
        s.same(f"={{c}}{r_inc}-{{c}}{r_opex}"),
        y1.ebitda.tolist(),
        M,
        total="same",
        total_expected=y1.ebitda.sum(),
    )
    r_nonop = s.formulas(
        "Non-operating costs, net", s.month_sum("non_operating"), y1.non_operating.tolist(), M
    )
    s.rows["surplus"] = s.row
    return s.formulas(
        "Surplus/(deficit) before STF/PSF",
        s.same(f"={{c}}{r_ebitda}-{{c}}{r_nonop}"),
        y1.surplus_pre_stf.tolist(),
        M,
        total="same",
        total_expected=y1.surplus_pre_stf.sum(),
    )


def _control_total(s: SummaryRows, y1: Any, r_sur: int) -> None:
    """The control total, the forecast against it, whether it is met, and the year-to-date
    variance at each quarter end."""
    b, plan = s.b, s.plan
    s.section("Control total (pre-STF basis), plan year 1 (£000)")
    live = s.ct_live(0)
    r_ct = s.rows["ct"] = s.formulas(
        "Control total",
        s.monthly_at("ytd_ct", 0, _LAST_MONTH, when=live),
        plan.ct_target[:, 0].tolist(),
        M,
    )
    var = y1.variance.to_numpy(dtype=float)
    r_var = s.rows["ct_variance"] = s.formulas(
        "Forecast against control total (surplus less control total)",
        s.same(f"={{c}}{r_sur}-{{c}}{r_ct}", need_ct=True),
        var.tolist(),
        M,
    )
    met = [
        "yes" if m is not None and bool(m) else ("NO" if b.has_ct[i, 0] else NA)
        for i, m in enumerate(y1.met.tolist())
    ]

    def meets(i: int, c: str, row: int) -> str | None:
        if not b.has_ct[i, 0]:
            return "no control total"
        return f'=IF({c}{r_var}>=-{MET_TOLERANCE:.6f},"yes","NO")'

    s.rows["ct_met"] = s.formulas(
        "Meets control total?" + (" (All trusts: how many do)" if b.multi else ""),
        meets,
        met,
        M,
        kind="text",
        total="count_yes",
        total_expected=met.count("yes"),
    )
    s.values(
        "Control total accepted",
        ["Y" if x else "N" for x in plan.ct_accepted[:, 0]],
        None,
        total=False,
    )
    for q, m in enumerate(QUARTER_END_INDEX):
        s.formulas(
            f"Year-to-date variance at the end of {QUARTER_LABELS[q]}",
            s.monthly_at("ytd_variance", 0, m, when=live),
            y1[f"ytd_variance_{QUARTERS[q]}"].tolist(),
            M,
            indent=True,
        )


def _cip(s: SummaryRows, y1: Any) -> None:
    """CIP planned (by category, unidentified, recurrent), delivered and needed, as money and
    as a share of operating expenditure before CIP, and the gap."""
    sv = s.r.solved
    s.section("Cost improvement programme (CIP), plan year 1 (£000)")
    dn = np.asarray(sv.opex, dtype=float)
    r_dn = s.values("Operating expenditure before CIP (do nothing)", dn.tolist())
    r_plan = s.formulas("CIP planned, in year", s.month_sum("cip"), sv.planned.tolist(), M)
    s.rows["cip_planned"] = r_plan
    s.rows["cip_planned_pct"] = s.formulas(
        "CIP planned, % of operating expenditure before CIP",
        s.same(f'=IF({{c}}{r_dn}>0,{{c}}{r_plan}/{{c}}{r_dn},"{NA}")'),
        sv.planned_pct.tolist(),
        PERCENT,
        kind="ratio",
        total="same",
        total_expected=float(cip_share(sv.planned.sum(), dn.sum())),
    )
    _cip_by_scheme(s, y1)
    s.values("CIP full-year effect", y1.cip_fye.tolist())
    s.formulas(
        "CIP delivered (plan run: as planned)",
        s.same(f"={{c}}{r_plan}"),
        sv.planned.tolist(),
        M,
        total="same",
        total_expected=sv.planned.sum(),
    )
    r_need = s.rows["cip_needed"] = s.values(
        "CIP needed to meet the control total", sv.needed.tolist()
    )
    s.rows["cip_needed_pct"] = s.formulas(
        "CIP needed, % of operating expenditure before CIP",
        s.same(f'=IF({{c}}{r_dn}>0,{{c}}{r_need}/{{c}}{r_dn},"{NA}")'),
        sv.needed_pct.tolist(),
        PERCENT,
        kind="ratio",
        total="same",
        total_expected=float(cip_share(sv.needed.sum(), dn.sum())),
    )
    s.rows["cip_gap"] = s.formulas(
        "Gap: CIP needed less CIP planned",
        s.same(f"={{c}}{r_need}-{{c}}{r_plan}"),
        (sv.needed - sv.planned).tolist(),
        M,
        total="same",
        total_expected=(sv.needed - sv.planned).sum(),
    )
    s.rows["cip_band"] = s.values(
        "Evidence band of the CIP needed", [str(x) for x in sv.band], None, total=False
    )


def _cip_by_scheme(s: SummaryRows, y1: Any) -> None:
    """CIP planned in year by category, unidentified and recurrent: SUMIFS over Schemes."""
    b, plan = s.b, s.plan
    schemes = b.layout(SCHEMES)
    eff = s.r.projection.cip_scheme_year[0][:, 0] if len(plan.scheme_ids) else np.zeros(0)

    def schemes_sum(key: str, crit: str) -> PerTrust:
        def fn(i: int, c: str, row: int) -> str | None:
            if i not in b.scheme_rows:
                return "=0"
            lo, hi = b.scheme_rows[i]
            return (
                f'=SUMIFS({schemes.span("effect_1", lo, hi)},{schemes.span(key, lo, hi)},"{crit}")'
            )

        return fn

    def scheme_total(mask: np.ndarray) -> list[float]:
        out = np.zeros(s.n_t)
        np.add.at(out, plan.scheme_trust[mask], eff[mask])
        return out.tolist()

    first_cat = 0
    for k, catname in enumerate(CATEGORIES):
        row = s.formulas(
            f"{catname.replace('_', '-').capitalize()} schemes",
            schemes_sum("category", catname),
            scheme_total(plan.scheme_category == k),
            M,
            indent=True,
        )
        first_cat = first_cat or row
    s.rows["cip_category"] = first_cat
    s.rows["cip_unidentified"] = s.formulas(
        "of which unidentified",
        schemes_sum("stage", "unidentified"),
        y1.cip_unidentified.tolist(),
        M,
        indent=True,
    )
    s.formulas(
        "of which recurrent",
        schemes_sum("recurrent", "Y"),
        y1.cip_recurrent.tolist(),
        M,
        indent=True,
    )


def _funding(s: SummaryRows, r_sur: int) -> None:
    """STF/PSF: allocation, earned and lost by quarter, year-end amounts, totals and the
    reported surplus with STF/PSF."""
    a = s.r.assessment
    f = a.funding
    srow = s.b.stf_row
    s.section(f"STF/PSF ({a.rules['funding']}), plan year 1 (£000)")
    s.rows["stf_allocation"] = s.values("Allocation", f.allocation.tolist())
    by_quarter: dict[str, list[int]] = {}
    for key, heading, amounts in (
        ("earned", "Earned by quarter", f.earned),
        ("lost", "Lost by quarter", f.lost),
    ):
        (s.subheading if key == "lost" else s.label)(heading)  # a page may break before "Lost"
        by_quarter[key] = [
            s.formulas(
                QUARTER_LABELS[q],
                s.quarter_at(STF, key, srow, q),
                amounts[0, :, q].tolist(),
                M,
                indent=True,
            )
            for q in range(len(QUARTERS))
        ]
    e_rows, l_rows = by_quarter["earned"], by_quarter["lost"]
    s.rows["stf_earned"], s.rows["stf_lost"] = e_rows[0], l_rows[0]
    r_cu = s.values("Catch-up released at year end", f.released_catch_up[0].tolist())
    r_inc = s.values("Year-end incentive", f.incentive[0].tolist())
    r_bon = s.values("Bonus (share of the forfeited pool)", f.bonus[0].tolist())
    r_tot = s.rows["stf_earned_total"] = s.formulas(
        "Total earned",
        s.same(f"=SUM({{c}}{e_rows[0]}:{{c}}{e_rows[-1]})+{{c}}{r_cu}+{{c}}{r_inc}+{{c}}{r_bon}"),
        f.total_earned[0].tolist(),
        M,
        total="same",
        total_expected=f.total_earned[0].sum(),
    )
    s.rows["stf_lost_total"] = s.formulas(
        "Total lost (forfeited)",
        s.same(f"=SUM({{c}}{l_rows[0]}:{{c}}{l_rows[-1]})-{{c}}{r_cu}"),
        f.forfeited[0].tolist(),
        M,
        total="same",
        total_expected=f.forfeited[0].sum(),
    )
    rep = a.reported_surplus_ytd[0, :, 3]
    s.rows["reported_surplus"] = s.formulas(
        "Reported surplus/(deficit), with STF/PSF earned",
        s.same(f"={{c}}{r_sur}+{{c}}{r_tot}"),
        rep.tolist(),
        M,
        total="same",
        total_expected=rep.sum(),
    )


def _sof(s: SummaryRows) -> None:
    """The five SOF metrics (full year) with scores, the overall score, overrides, the
    score at each quarter end, the finance trigger and the candidate segment."""
    a, b = s.r.assessment, s.b
    trusts = range(s.n_t)
    s.section(f"Finance and use of resources ({a.rules['sof']}), full year")
    mv, sc = a.full_year_metrics, a.full_year_score
    for name in mv.values:
        if name not in METRIC_FORMATS:  # pragma: no cover - a metric this writer does not know
            continue
        s.formulas(
            METRIC_LABELS[name],
            s.quarter_at(METRICS, name, b.metric_row, len(QUARTERS) - 1),
            mv.values[name][0].tolist(),
            METRIC_FORMATS[name],
            kind="ratio",
            total=None,
        )
        scores = [int(x) if int(x) else NA for x in sc.metric_scores[name][0]]
        s.values("score (1 best, 4 worst)", scores, INTEGER, total=False, indent=True)
    s.rows["finance_score"] = s.values(
        "Overall score, after overrides",
        [int(x) for x in np.asarray(sc.overall)[0]],
        INTEGER,
        total=False,
    )
    overrides = [", ".join(a.score_dict(0, i)["overrides"]) or "none" for i in trusts]
    s.values("Overrides applied", overrides, None, total=False, indent=True)
    for q in range(len(QUARTERS)):
        s.values(
            f"Score at the end of {QUARTER_LABELS[q]} (year to date)",
            [int(np.asarray(a.scores[q].overall)[0, i]) for i in trusts],
            INTEGER,
            total=False,
            indent=True,
        )
    s.rows["finance_trigger"] = s.values(
        "Finance trigger (score 3 or 4)",
        ["yes" if a.trigger[0, i] else "no" for i in trusts],
        None,
        total=False,
    )
    s.rows["segment"] = s.values(
        "Candidate segment (finance theme only; the regulator decides)",
        [int(a.segment.segment[0, i]) for i in trusts],
        INTEGER,
        total=False,
    )


def _flatten(d: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            yield from _flatten(v, key + " / ")
        elif isinstance(v, (list, tuple)):
            for j, x in enumerate(v):
                yield f"{key} / {j}", x
        else:
            yield key, v


def _simulation(s: SummaryRows, sim: Mapping[str, Any]) -> None:
    """A simulation's probabilities and percentiles, per trust."""
    by_code = {str(t.get("code")): t for t in sim.get("trusts", []) if isinstance(t, Mapping)}
    draws = (sim.get("provenance") or {}).get("draws")
    s.section("Simulation" + (f" ({draws:,} draws)" if isinstance(draws, int) else ""))
    for part, fmt in (("probability", PERCENT), ("percentiles", M)):
        keys: list[str] = []
        flat: list[dict[str, Any]] = []
        for code in s.plan.codes:
            d = dict(_flatten(by_code.get(code, {}).get(part) or {}))
            flat.append(d)
            keys += [k for k in d if k not in keys]
        if not keys:
            continue
        if part == "probability":
            s.label("Probability of")
        else:
            s.subheading("Percentiles")
        for k in keys:
            vals = [d.get(k) for d in flat]
            vals = [v if isinstance(v, (int, float, str)) or v is None else str(v) for v in vals]
            shown = fmt if part == "probability" else _percentile_format(k)
            s.values(k.replace("_", " "), vals, shown, total=False, indent=True)


def _percentile_format(key: str) -> str:
    """The number format of a percentile row (``"metrics / ie_margin / p50"``...): a
    metric's own, a percentage for a ``_pct`` figure, £000 otherwise."""
    parts = key.split(" / ")
    if parts[0] == "metrics" and len(parts) > 1:
        return METRIC_FORMATS.get(parts[1], DETAIL)
    if any(p.endswith("_pct") for p in parts):
        return PERCENT
    return M


def _year_to_date(s: SummaryRows) -> None:
    """The year to date against the control-total profile, month by month (chart data)."""
    pr = s.r.projection
    s.section("Year to date against the control-total profile, plan year 1 (£000)")
    ytd_s = pr.ytd(pr.surplus_pre_stf)[0][:, 0]
    ytd_ct = pr.control_total_ytd()[:, 0]
    live = s.ct_live(0)
    s.label("Year-to-date surplus/(deficit) before STF/PSF, at the end of")
    rows_s = [
        s.formulas(
            MONTH_NAMES[m], s.monthly_at("ytd_surplus", 0, m), ytd_s[:, m].tolist(), M, indent=True
        )
        for m in range(MONTHS_PER_YEAR)
    ]
    s.subheading("Year-to-date control total, at the end of")
    rows_ct = [
        s.formulas(
            MONTH_NAMES[m],
            s.monthly_at("ytd_ct", 0, m, when=live),
            ytd_ct[:, m].tolist(),
            M,
            indent=True,
        )
        for m in range(MONTHS_PER_YEAR)
    ]
    s.rows["ytd_surplus"], s.rows["ytd_ct"] = rows_s[0], rows_ct[0]


def _later_years(s: SummaryRows, ts: Any) -> None:
    """Each later plan year: surplus, control total and the forecast against it."""
    plan = s.plan
    trusts = range(s.n_t)
    s.section("Later plan years (£000)")
    for y in range(1, plan.n_years):
        yy = ts[ts.year == y + 1].set_index("trust_code")
        exp_s = [float(yy.surplus_pre_stf.get(c, np.nan)) for c in plan.codes]
        r_s = s.formulas(
            f"Year {y + 1}: surplus/(deficit) before STF/PSF", s.month_sum("surplus", y), exp_s, M
        )
        live = s.ct_live(y)
        r_c = s.formulas(
            f"Year {y + 1}: control total",
            s.monthly_at("ytd_ct", y, _LAST_MONTH, when=live),
            [float(plan.ct_target[i, y]) for i in trusts],
            M,
            indent=True,
        )
        s.formulas(
            f"Year {y + 1}: forecast against control total",
            _difference(r_s, r_c, live),
            [exp_s[i] - float(plan.ct_target[i, y]) for i in trusts],
            M,
            indent=True,
        )


def _difference(r_a: int, r_b: int, live: list[bool]) -> PerTrust:
    """``=C40-C41`` in the columns of the trusts that are ``live``; never in All trusts."""

    def fn(i: int, c: str, row: int) -> str | None:
        return f"={c}{r_a}-{c}{r_b}" if i >= 0 and live[i] else None

    return fn
