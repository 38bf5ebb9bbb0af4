"""The board summary of a portfolio (an ICS, a region, the sector): the first sheet, one page.

What a regulator or an ICS board reads first, in the shape NHS Improvement published the
sector's finances (the tables of :func:`cipmodel.results.sector.sector_tables`), on one
landscape A4 page:

* the headline in one sentence: how many trusts meet their control total (pre-STF), the
  portfolio's forecast against the sum of the control totals, STF/PSF earned and forfeited,
  how many trusts are at the finance trigger;
* by trust type (and all trusts): trusts, meeting the control total (count and share), the
  finance and use of resources score (count at each score), the finance trigger, the
  candidate segment (count in each), the surplus before STF/PSF against the control total,
  STF/PSF earned and forfeited: each a ``COUNTIFS`` or ``SUMIFS`` over the Summary sheet's
  trust columns, saved with the engine's value;
* STF/PSF by quarter for all trusts: available, earned, lost, the year-end amounts;
* charts of the count of trusts at each score and in each candidate segment, by trust type;
* every trust, the furthest below its control total first (of a larger portfolio, the
  fifteen largest shortfalls), with its STF/PSF lost, score and segment; every trust is on
  the Summary.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from openpyxl.utils import get_column_letter

from cipmodel.io.board_cells import SCORE_FILLS, BoardCells, BoardSheet, fill_of
from cipmodel.io.board_charts import anchor_at, width_cm
from cipmodel.io.cells import COUNT_FORMAT, MONEY_FORMAT, TYPE_LABELS
from cipmodel.io.charts import counts_chart, size_chart
from cipmodel.io.results_base import (
    INTEGER,
    NA,
    PERCENT,
    QUARTER_LABELS,
    SUMMARY,
    Builder,
    Expected,
    expected,
    sheet_ref,
)
from cipmodel.io.sheets_board import p_meet
from cipmodel.io.summary_rows import ALL_TRUSTS_COL, SummaryRows
from cipmodel.results.headlines import portfolio_headline
from cipmodel.results.sector import TYPE_ORDER, sector_tables

__all__ = ["TOP_TRUSTS", "write_portfolio_board"]

M = MONEY_FORMAT
#: How many trusts the board lists (those furthest below their control total).
TOP_TRUSTS = 15
_LABEL_WIDTH, _TYPE_WIDTH, _NUMBER_WIDTH, _MONEY_WIDTH = 44.0, 13.0, 10.0, 12.5
_LAST_COL = 18  # A: label; B-R: the type table's 17 columns
_CHART_COL = 11  # the count charts from column K, right of the tables under the type table
#: The by-type table: (key, header, format); ``met_share`` is a formula on the row.
_TYPE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("trusts", "Trusts", COUNT_FORMAT),
    ("meeting_control_total", "Meeting the control total", COUNT_FORMAT),
    ("met_share", "Share meeting it", PERCENT),
    ("score_1", "Score 1 (best)", COUNT_FORMAT),
    ("score_2", "Score 2", COUNT_FORMAT),
    ("score_3", "Score 3", COUNT_FORMAT),
    ("score_4", "Score 4 (worst)", COUNT_FORMAT),
    ("finance_trigger", "Finance trigger (score 3-4)", COUNT_FORMAT),
    ("segment_1", "Segment 1", COUNT_FORMAT),
    ("segment_2", "Segment 2", COUNT_FORMAT),
    ("segment_3", "Segment 3", COUNT_FORMAT),
    ("segment_4", "Segment 4", COUNT_FORMAT),
    ("surplus_pre_stf", "Surplus before STF/PSF", M),
    ("control_total", "Control total (pre-STF)", M),
    ("stf_allocation", "STF/PSF allocation", M),
    ("stf_earned", "STF/PSF earned", M),
    ("stf_forfeited", "STF/PSF forfeited", M),
)


class _PortfolioBoard(BoardCells):
    """The portfolio board summary being written."""

    def __init__(self, b: Builder, ws: Any, s: SummaryRows) -> None:
        super().__init__(b, ws, s.rows)
        self.s = s
        first, last = s.first_col, s.first_col + s.n_t - 1
        self.span_cols = (get_column_letter(first), get_column_letter(last))
        self.cells: dict[str, tuple[int, int]] = {}
        ws.column_dimensions["A"].width = _LABEL_WIDTH
        for j in range(2, _LAST_COL + 1):
            ws.column_dimensions[get_column_letter(j)].width = _NUMBER_WIDTH
        for j in range(14, _LAST_COL + 1):  # money: sector totals run to 11 characters
            ws.column_dimensions[get_column_letter(j)].width = _MONEY_WIDTH

    def span(self, key: str) -> str:
        """``Summary!$C$12:$IZ$12``: the trusts' cells of Summary row ``key``."""
        row = self.summary_rows[key]
        a, z = self.span_cols
        return f"{sheet_ref(SUMMARY)}!${a}${row}:${z}${row}"


def write_portfolio_board(b: Builder, ws: Any, s: SummaryRows) -> BoardSheet:
    """Write the portfolio board summary on ``ws`` (see the module docstring); needs the
    Summary written first."""
    w = _PortfolioBoard(b, ws, s)
    tables = sector_tables(b.r)
    pf = b.r.portfolio
    years = ", ".join(sorted({t.financial_year for t in pf.trusts}))
    w.title(1, f"Board summary: {pf.name} ({b.n_t} trusts)")
    chances = [p_meet(b, f.code) for f in b.r.figures]
    p = None if b.sim is None else [None if c is None else c[0] for c in chances]
    w.sentence(2, _LAST_COL, portfolio_headline(b.r.figures, years, p), headline=True)
    w.grid.text(
        3,
        1,
        f"Plan year 1: {years}. Money in £000, deficits in brackets. Counts of trusts; "
        "formulas over the Summary sheet's trust columns (every trust is there).",
    )
    r = _by_type(w, 5, tables)
    top = r + 2
    r = _quarters(w, top)
    r = _shortfalls(w, r + 2)
    _count_charts(w, 6, (7, top - 3), top, r)
    return BoardSheet(ws, r, _LAST_COL, [top], w.cells, w.heights)


def _count_charts(
    w: _PortfolioBoard, head: int, rows: tuple[int, int], top: int, bottom: int
) -> None:
    """Trusts at each score and in each candidate segment by trust type (stacked bars from
    the by-type table's ``rows``), side by side right of the tables below it, from row
    ``top`` down to about row ``bottom``."""
    keys = [k for k, _h, _f in _TYPE_COLUMNS]
    score_cols = [2 + keys.index(f"score_{k}") for k in range(1, 5)]
    segment_cols = [2 + keys.index(f"segment_{k}") for k in range(1, 5)]
    first = _CHART_COL
    width = width_cm(w.ws, first, _LAST_COL) / 2 - 0.3
    for k, (cols, title) in enumerate(
        (
            (score_cols, "Finance and use of resources score, by trust type"),
            (segment_cols, "Candidate segment (finance theme), by trust type"),
        )
    ):
        chart = counts_chart(w.ws, head, rows, cols, 1, title)
        tall = min(max((bottom - top + 1) * 15 / 72 * 2.54, 6.0), 11.0)  # rows of 15 pt
        size_chart(chart, width, tall)
        chart.anchor = anchor_at(w.ws, top, first, k * (width + 0.3), chart.width, chart.height)
        w.ws.add_chart(chart)


def _type_values(b: Builder, tables: dict[str, Any], t: str) -> dict[str, float]:
    """The engine's value of each by-type column for trust type ``t`` (or "all trusts")."""
    fin, fund = tables["finance"].loc[t], tables["funding"].loc[t]
    score, seg = tables["score"].loc[t], tables["segment"].loc[t]
    types = np.array([f.trust_type for f in b.r.figures])
    mine = np.ones(len(types), bool) if t == "all trusts" else types == t
    ct = b.plan.ct_target[:, 0]
    out = {k: float(fin[k]) for k in ("trusts", "meeting_control_total", "surplus_pre_stf")}
    out["met_share"] = out["meeting_control_total"] / out["trusts"]
    out.update({k: float(score[k]) for k in tables["score"].columns})
    out.update({k: float(seg[k]) for k in tables["segment"].columns})
    out["control_total"] = float(np.nansum(ct[mine]))
    out.update({k: float(fund[k]) for k in ("stf_allocation", "stf_earned", "stf_forfeited")})
    return out


def _by_type(w: _PortfolioBoard, row: int, tables: dict[str, Any]) -> int:
    """The table by trust type; returns its last row."""
    w.section(row, 1, _LAST_COL, "By trust type, plan year 1")
    head = row + 1
    w.heads(head, 1, ["Trust type", *(h for _k, h, _f in _TYPE_COLUMNS)])
    w.heights[head] = 62.0
    present = [t for t in TYPE_ORDER if t in tables["finance"].index]
    r = head
    for t in present:
        r += 1
        w.label(r, 1, TYPE_LABELS.get(t, t))
        values = _type_values(w.b, tables, t)
        for j, (key, _h, fmt) in enumerate(_TYPE_COLUMNS, start=2):
            text = _type_formula(w, key, t, r)
            kind = "ratio" if fmt == PERCENT else ("count" if fmt == COUNT_FORMAT else "money")
            w.formula(r, j, text, Expected(values[key], kind), fmt)
    r += 1
    w.label(r, 1, "All trusts", bold=True)
    values = _type_values(w.b, tables, "all trusts")
    for j, (key, _h, fmt) in enumerate(_TYPE_COLUMNS, start=2):
        text = _type_formula(w, key, None, r)
        kind = "ratio" if fmt == PERCENT else ("count" if fmt == COUNT_FORMAT else "money")
        w.formula(r, j, text, Expected(values[key], kind), fmt, bold=True)
    cells = {
        "trusts_meeting_CT": 3,
        "share_meeting_CT": 4,
        "finance_trigger_count": 9,
        "STF_forfeited_total": 18,
    }
    for name, col in cells.items():
        w.cells[name] = (r, col)
    return r


def _type_formula(w: _PortfolioBoard, key: str, t: str | None, r: int) -> str:
    """The formula of by-type column ``key`` for trust type ``t`` (None: all trusts) in
    row ``r``: a COUNTIFS or SUMIFS over the Summary's trust columns."""
    of_type = f'{w.span("trust_type")},"{t}",' if t is not None else ""
    if key == "trusts":
        if t is None:
            return f"=COLUMNS({w.span('trust_type')})"
        return f'=COUNTIF({w.span("trust_type")},"{t}")'
    if key == "met_share":
        return f"=IF(B{r}>0,C{r}/B{r},0)"
    counts = {
        "meeting_control_total": ("ct_met", '"yes"'),
        "finance_trigger": ("finance_trigger", '"yes"'),
        **{f"score_{k}": ("finance_score", str(k)) for k in range(1, 5)},
        **{f"segment_{k}": ("segment", str(k)) for k in range(1, 5)},
    }
    if key in counts:
        row_key, crit = counts[key]
        return f"=COUNTIFS({of_type}{w.span(row_key)},{crit})"
    row_key = {
        "surplus_pre_stf": "surplus",
        "control_total": "ct",
        "stf_allocation": "stf_allocation",
        "stf_earned": "stf_earned_total",
        "stf_forfeited": "stf_lost_total",
    }[key]
    if t is None:
        return f"=SUM({w.span(row_key)})"
    return f"=SUMIFS({w.span(row_key)},{of_type[:-1]})"


def _quarters(w: _PortfolioBoard, row: int) -> int:
    """STF/PSF by quarter, all trusts; returns the last row."""
    f = w.b.r.assessment.funding
    w.section(row, 1, 7, "STF/PSF by quarter, all trusts (£000)")
    head = row + 1
    w.heads(head, 1, ["", *(q.split(" ")[0] for q in QUARTER_LABELS), "Year end", "Year"])
    r = head + 1
    w.label(r, 1, "Available")
    for q in range(4):
        w.value(r, 2 + q, float(f.available[0, :, q].sum()))
    w.formula(
        r,
        7,
        f"={w.summary_ref('stf_allocation', ALL_TRUSTS_COL)}",
        expected(float(f.allocation.sum())),
    )
    for key, label, total_key, amounts, total in (
        ("stf_earned", "Earned", "stf_earned_total", f.earned, f.total_earned[0]),
        ("stf_lost", "Lost (year: forfeited)", "stf_lost_total", f.lost, f.forfeited[0]),
    ):
        r += 1
        w.label(r, 1, label)
        for q in range(4):
            ref = w.summary_ref(key, ALL_TRUSTS_COL, q)
            w.formula(r, 2 + q, f"={ref}", expected(float(amounts[0, :, q].sum())))
        if key == "stf_earned":
            end = f.released_catch_up[0] + f.incentive[0] + f.bonus[0]
            w.value(r, 6, float(end.sum()))
        else:
            w.value(r, 6, -float(f.released_catch_up[0].sum()))
        ref = w.summary_ref(total_key, ALL_TRUSTS_COL)
        w.formula(r, 7, f"={ref}", expected(float(total.sum())), bold=True)
    r += 1
    w.grid.text(r, 1, "Year end: the catch-up released, the incentive and the bonus.")
    return r


def _shortfalls(w: _PortfolioBoard, row: int) -> int:
    """Every trust (up to :data:`TOP_TRUSTS`, else those furthest below their control
    total), the furthest below first, those without a control total last; returns the
    last row."""
    figs = list(w.b.r.figures)
    figs.sort(key=lambda f: (f.first_year.met is None, f.first_year.variance, f.code))
    top = figs[:TOP_TRUSTS]
    n = len(figs)
    if n <= TOP_TRUSTS:
        title = "Every trust, plan year 1, the furthest below its control total first"
    else:
        title = (
            f"The {len(top)} trusts furthest below their control total, plan year 1 (of {n}; "
            "all on the Summary sheet)"
        )
    w.section(row, 1, 9, title)
    head = row + 1
    w.heights[head] = 32.0
    w.heads(
        head,
        1,
        [
            "Trust",
            "Type",
            "Surplus",
            "Control total",
            "Variance",
            "Met?",
            "STF/PSF lost",
            "Score",
            "Segment",
        ],
    )
    w.ws.column_dimensions["B"].width = _TYPE_WIDTH
    r = head
    for f in top:
        r += 1
        y1 = f.first_year
        name = f"{f.code} {f.name or ''}".strip()
        w.label(r, 1, name if len(name) <= 46 else name[:45].rstrip() + "…")
        w.text(r, 2, TYPE_LABELS.get(f.trust_type, f.trust_type))
        w.value(r, 3, y1.surplus_pre_stf)
        if y1.met is not None:
            w.value(r, 4, y1.control_total_pre_stf)
            w.value(r, 5, y1.variance)
        word = NA if y1.met is None else ("met" if y1.met else "missed")
        w.text(r, 6, word, fill=fill_of(word))
        w.value(r, 7, f.funding.lost)
        w.value(r, 8, f.score.overall, INTEGER, fill=SCORE_FILLS.get(f.score.overall))
        w.value(r, 9, f.candidate_segment, INTEGER)
    return r
