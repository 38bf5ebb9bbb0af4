"""The board summary of one trust: the first sheet of its results workbook, one A4 page.

For a board member, on one landscape page (printed fitted to the page):

* the headline in one sentence: whether the plan meets the control total and by how much,
  pre-STF (the STF/PSF gate) and post-STF (the published control total: the pre-STF target
  plus the STF/PSF allocation, against the reported surplus: pre-STF surplus plus STF/PSF
  earned), and P(meet) when a simulation is given; a second sentence on the CIP and STF/PSF;
* plan year 1's key figures: the control total pre- and post-STF; the CIP needed (with its
  evidence band), planned, unidentified (its own line), risk-adjusted (when the run has it)
  and the gap; the finance score, trigger and candidate segment;
* STF/PSF by quarter: available, gate, earned, lost, the year-end amounts;
* each plan year side by side, one column a year (:func:`year_rows` lists the rows): the
  control total pre- and post-STF and met, the year's own CIP against the CIP needed with
  its evidence band, the risk-adjusted forecast, STF/PSF earned and lost, the score and the
  candidate segment (blank in a year not assessed, with the reason under the table);
* the largest risks: the five largest red, amber or unidentified schemes by in-year value,
  with stage and RAG;
* charts: the year to date against the control-total profile and the CIP pipeline by stage
  and RAG (unidentified its own series); the bridge from outturn to plan as a waterfall
  where the run gives one (:func:`cipmodel.io.board_charts.bridge_steps`).

Figures that are on the Summary are formulas linking to it, saved with the engine's value;
the rest are the engine's values. The charts' data sits to the right of the print area.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from openpyxl.utils import get_column_letter

from cipmodel.engine.project import RAGS, STAGES
from cipmodel.io.board_cells import RAG_FILLS, SCORE_FILLS, BoardCells, BoardSheet, fill_of
from cipmodel.io.board_charts import CHART_ROWS, STAGE_NAMES, board_charts
from cipmodel.io.cells import MONEY_FORMAT
from cipmodel.io.results_base import (
    INTEGER,
    NA,
    PERCENT,
    QUARTER_LABELS,
    Builder,
    Expected,
    expected,
)
from cipmodel.io.summary_rows import SummaryRows
from cipmodel.results.figures import MET_TOLERANCE, TrustFigures, TrustYear
from cipmodel.results.headlines import headline, supporting

__all__ = [
    "BOARD_WIDTHS",
    "RISKS",
    "YearRow",
    "p_meet",
    "risk_schemes",
    "write_board",
    "year_rows",
]

M = MONEY_FORMAT
#: Column widths (characters): key figures in A-D, a gap, the tables in F onwards.
BOARD_WIDTHS = (49.0, 11.0, 9.0, 17.0, 2.0, 37.0, 11.5)
#: How many of the largest risky schemes the board lists.
RISKS = 5
_TABLE_COLS = 5  # columns G-K: Q1-Q4 and the year; at least as many plan years


@dataclass(frozen=True)
class YearRow:
    """A row of the plan-years table: its label, the value for each plan year (None: not
    assessed that year), its number format; text values are judgements (met / missed)."""

    label: str
    values: tuple[float | int | str | None, ...]
    fmt: str = M


def _met(met: bool | None) -> str:
    return NA if met is None else ("met" if met else "missed")


def year_rows(fig: TrustFigures) -> list[YearRow]:
    """The rows of the plan-years table for trust ``fig``: each plan year's control total
    pre- and post-STF and whether it is met, its own CIP against the CIP needed (with the
    evidence band), the risk-adjusted forecast, STF/PSF earned and lost, the score and the
    candidate segment (None where the year is not assessed or has no such figure)."""
    ys = fig.years
    ra = () if fig.views is None else fig.views.risk_adjusted

    def each(get: Callable[[TrustYear], Any]) -> tuple[Any, ...]:
        return tuple(get(y) for y in ys)

    def assessed(get: Callable[[Any], Any]) -> tuple[Any, ...]:
        return tuple(None if y.assessed is None else get(y.assessed) for y in ys)

    rows = [
        YearRow("Surplus/(deficit) before STF/PSF", each(lambda y: y.surplus_pre_stf)),
        YearRow("Control total, pre-STF basis", each(lambda y: y.control_total_pre_stf)),
        YearRow("Variance: surplus less control total", each(lambda y: y.variance)),
        YearRow("Control total met, pre-STF?", each(lambda y: _met(y.met)), ""),
        YearRow("Control total with STF/PSF", each(_post_stf_target)),
        YearRow("Reported surplus/(deficit), with STF/PSF", each(lambda y: y.reported_surplus)),
        YearRow("Variance with STF/PSF", each(lambda y: y.variance_post_stf)),
        YearRow("Control total met, with STF/PSF?", each(lambda y: _met(y.met_post_stf)), ""),
        YearRow("CIP planned, the year's own", each(lambda y: y.cip_planned)),
        YearRow("CIP, % of expenditure before CIP", each(lambda y: y.cip_planned_pct), PERCENT),
        YearRow("of which unidentified", each(lambda y: y.cip_unidentified)),
        YearRow("CIP needed", each(lambda y: y.cip_needed)),
        YearRow("CIP needed, % of expenditure", each(lambda y: y.cip_needed_pct), PERCENT),
        YearRow("CIP needed: evidence band", each(lambda y: y.cip_needed_band or None), ""),
    ]
    if len(ra) == len(ys):
        forecast = tuple(r.forecast_risk_adjusted for r in ra)
        rows.append(YearRow("Forecast surplus/(deficit), risk-adjusted", forecast))
    rows += [
        YearRow("STF/PSF earned", assessed(lambda a: a.funding.earned)),
        YearRow("STF/PSF lost", assessed(lambda a: a.funding.lost)),
        YearRow("Finance and use of resources score", assessed(lambda a: a.score.overall), INTEGER),
        YearRow("Candidate segment", assessed(lambda a: a.candidate_segment), INTEGER),
    ]
    return rows


def _post_stf_target(y: TrustYear) -> float | None:
    """The published control total, where the year has one and is assessed."""
    return None if y.assessed is None else y.control_total_post_stf


def risk_schemes(b: Builder, trust: int, top: int = RISKS) -> list[tuple[str, str, str, float]]:
    """The ``top`` largest red, amber or unidentified schemes of trust ``trust`` by in-year
    effect in plan year 1: (scheme, stage, RAG, £000), largest first (ties by scheme id)."""
    plan = b.plan
    if not len(plan.scheme_ids):
        return []
    eff = b.pr.cip_scheme_year[0][:, 0]
    unidentified = STAGES.index("unidentified")
    risky_rag = {RAGS.index("red"), RAGS.index("amber")}
    records = b.r.portfolio.cip
    rows = []
    for s in np.flatnonzero(plan.scheme_trust == trust):
        stage, rag = int(plan.scheme_stage[s]), int(plan.scheme_rag[s])
        if stage != unidentified and rag not in risky_rag:
            continue
        rec = records[s]
        name = f"{rec.scheme_id} {rec.name or ''}".strip()
        rows.append(
            (
                name,
                STAGES[stage],
                "unidentified" if stage == unidentified else RAGS[rag],
                float(eff[s]),
                str(rec.scheme_id),
            )
        )
    rows.sort(key=lambda r: (-r[3], r[4]))
    return [r[:4] for r in rows[:top]]


class _Board(BoardCells):
    """The one-trust board summary being written."""

    def __init__(self, b: Builder, ws: Any, s: SummaryRows) -> None:
        super().__init__(b, ws, s.rows)
        self.s = s
        self.fig: TrustFigures = b.r.figures[0]
        self.col = s.first_col  # the trust's Summary column
        self.cells: dict[str, tuple[int, int]] = {}
        n_years = len(self.fig.years)
        self.last_col = 6 + max(_TABLE_COLS, n_years)
        widths = [*BOARD_WIDTHS, *([BOARD_WIDTHS[-1]] * (self.last_col - len(BOARD_WIDTHS)))]
        for j, w in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(j)].width = w

    def link(
        self, row: int, col: int, key: str, exp: Expected, fmt: str | None = M, **kw: Any
    ) -> None:
        self.formula(row, col, f"={self.summary_ref(key, self.col)}", exp, fmt, **kw)

    def met_cell(self, row: int, variance_row: int, met: bool | None) -> None:
        """``met`` or ``missed``: a formula on the variance in column B, or n/a."""
        if met is None:
            self.text(row, 4, NA, fill=fill_of(NA))
            return
        word = "met" if met else "missed"
        self.formula(
            row,
            4,
            f'=IF(B{variance_row}>=-{MET_TOLERANCE:.6f},"met","missed")',
            Expected(word, "text"),
            None,
            fill=fill_of(word),
        )


def write_board(b: Builder, ws: Any, s: SummaryRows) -> BoardSheet:
    """Write the one-trust board summary on ``ws`` (see the module docstring); needs the
    Summary written first. Returns the sheet's extent, chart rows and headline cells."""
    w = _Board(b, ws, s)
    fig = w.fig
    t = b.r.portfolio.trusts[0]
    w.title(1, f"Board summary: {t.trust_code} {t.name or ''}".strip())
    p = p_meet(b, fig.code)
    sentence = headline(fig) if p is None else headline(fig, *p)
    w.sentence(2, w.last_col, sentence, headline=True)
    w.sentence(3, w.last_col, " ".join(supporting(fig)))
    w.grid.text(
        4,
        1,
        f"Plan year 1: {fig.financial_year}. Money in £000, deficits in brackets. "
        "Blue: computed by cipmodel; black: formulas linked to the Summary sheet.",
    )
    left = _key_figures(w, 6)
    right = _quarters(w, 6)
    right = _years(w, right + 2)
    right = _risks(w, right + 2)
    top = max(left, right) + 1
    charts = board_charts(w, fig, w.last_col, top)
    last = top + CHART_ROWS - 1 if charts else top - 1
    return BoardSheet(ws, last, w.last_col, charts, w.cells, w.heights)


def p_meet(b: Builder, code: str) -> tuple[float, int | None] | None:
    """P(meet the control total) of the simulation for trust ``code``, and its draws."""
    if b.sim is None:
        return None
    for t in b.sim.get("trusts", []):
        if isinstance(t, dict) and str(t.get("code")) == code:
            p = (t.get("probability") or {}).get("meet_control_total")
            if isinstance(p, (int, float)):
                draws = (b.sim.get("provenance") or {}).get("draws")
                return float(p), draws if isinstance(draws, int) else None
    return None


def _key_figures(w: _Board, row: int) -> int:
    """Plan year 1's control total, CIP and oversight in columns A-D; returns the last row."""
    fig = w.fig
    y1, f = fig.first_year, fig.funding
    w.section(row, 1, 4, f"Plan year 1 ({fig.financial_year}): the control total (£000)")
    r = row + 1
    w.label(r, 1, "Control total, pre-STF basis")
    if y1.met is not None:
        w.link(r, 2, "ct", expected(y1.control_total_pre_stf))
        w.text(r, 4, "accepted" if fig.control_total_accepted else "not accepted")
    r_ct = r
    r += 1
    w.label(r, 1, "Forecast surplus/(deficit) before STF/PSF")
    w.link(r, 2, "surplus", expected(y1.surplus_pre_stf))
    r += 1
    w.label(r, 1, "Variance, pre-STF (the STF/PSF gate)", bold=True)
    if y1.met is not None:
        w.link(r, 2, "ct_variance", expected(y1.variance), bold=True)
    w.met_cell(r, r, y1.met)
    r += 1
    w.label(r, 1, "STF/PSF allocation")
    w.link(r, 2, "stf_allocation", expected(f.allocation))
    r_alloc = r
    r += 1
    post = y1.control_total_post_stf
    w.label(r, 1, "Control total with STF/PSF (post-STF)")
    if y1.met is not None:
        w.formula(r, 2, f"=B{r_ct}+B{r_alloc}", expected(post))
        w.cells["CT_post_STF"] = (r, 2)
    r_post = r
    r += 1
    w.label(r, 1, "Reported surplus/(deficit), with STF/PSF earned")
    w.link(r, 2, "reported_surplus", expected(fig.reported_surplus))
    r_rep = r
    r += 1
    w.label(r, 1, "Variance, post-STF", bold=True)
    post_met = None
    if y1.met is not None:
        post_var = fig.reported_surplus - post
        post_met = post_var >= -MET_TOLERANCE
        w.formula(r, 2, f"=B{r_rep}-B{r_post}", expected(post_var), bold=True)
        w.cells["CT_variance_post_STF"] = (r, 2)
    w.met_cell(r, r, post_met)
    r += 1
    p = p_meet(w.b, fig.code)
    if p is not None:
        w.label(r, 1, "P(meet the pre-STF control total), simulated", bold=True)
        w.value(r, 2, p[0], PERCENT, fill=fill_of("met" if p[0] >= 0.5 else "missed"))
        w.text(r, 4, f"{p[1]:,} draws" if p[1] else "simulated")
        w.cells["P_meet_CT"] = (r, 2)
        r += 1
    return _cip_rows(w, r + 1)


def _cip_rows(w: _Board, r: int) -> int:
    """The CIP needed, planned, unidentified, risk-adjusted and the gap; then oversight."""
    y1, cip = w.fig.first_year, w.fig.cip
    w.section(r, 1, 4, "Cost improvement programme, in year")
    w.heads(r, 2, ["£000", "% opex"])
    r += 1
    w.label(r, 1, "CIP needed to meet the control total", bold=True)
    w.link(r, 2, "cip_needed", expected(cip.needed), bold=True)
    w.link(r, 3, "cip_needed_pct", expected(cip.needed_pct, "ratio"), PERCENT)
    w.link(r, 4, "cip_band", Expected(str(cip.band), "text"), None)
    r += 1
    w.label(r, 1, "CIP planned")
    w.link(r, 2, "cip_planned", expected(cip.planned))
    w.link(r, 3, "cip_planned_pct", expected(cip.planned_pct, "ratio"), PERCENT)
    r += 1
    w.label(r, 1, "of which unidentified (no scheme yet)", indent=True)
    red = RAG_FILLS["red"] if y1.cip_unidentified > 0.5 else None
    w.link(r, 2, "cip_unidentified", expected(y1.cip_unidentified), fill=red)
    if y1.opex_do_nothing > 0:
        w.value(r, 3, y1.cip_unidentified / y1.opex_do_nothing, PERCENT)
    w.cells["CIP_unidentified"] = (r, 2)
    r += 1
    # the risk-adjusted CIP: each scheme's expected delivery by stage and RAG (plan views)
    if w.fig.views is not None and w.fig.views.risk_adjusted:
        w.label(r, 1, "CIP risk-adjusted (expected, by stage and RAG)")
        w.value(r, 2, float(w.fig.views.risk_adjusted[0].expected))
        w.cells["CIP_risk_adjusted"] = (r, 2)
        r += 1
    w.label(r, 1, "Gap: CIP needed less CIP planned", bold=True)
    w.link(r, 2, "cip_gap", expected(cip.needed - cip.planned), bold=True)
    return _oversight_rows(w, r + 2)


def _oversight_rows(w: _Board, r: int) -> int:
    """The finance score, trigger and candidate segment; returns the last row."""
    fig = w.fig
    w.section(r, 1, 4, "Single Oversight Framework, full year")
    r += 1
    score = fig.score.overall
    w.label(r, 1, "Finance and use of resources score (1 best, 4 worst)", bold=True)
    w.link(
        r,
        2,
        "finance_score",
        Expected(float(score), "count"),
        INTEGER,
        fill=SCORE_FILLS.get(score),
        bold=True,
    )
    r += 1
    w.label(r, 1, "Finance trigger (score 3 or 4)")
    trig = "yes" if fig.finance_trigger else "no"
    w.link(r, 2, "finance_trigger", Expected(trig, "text"), None)
    r += 1
    w.label(r, 1, "Candidate segment (finance theme only)")
    w.link(r, 2, "segment", Expected(float(fig.candidate_segment), "count"), INTEGER)
    w.text(r, 4, "the regulator decides")
    return r


def _quarters(w: _Board, row: int) -> int:
    """STF/PSF by quarter in columns F-K; returns the last row."""
    f = w.fig.funding
    w.section(row, 6, w.last_col, f"STF/PSF by quarter ({f.rules}), £000")
    r = row + 1
    w.heads(r, 6, ["", *(q.split(" ")[0] for q in QUARTER_LABELS), "Year"])
    year = 11
    r += 1
    w.label(r, 6, "Available")
    for q, fq in enumerate(f.quarters):
        w.value(r, 7 + q, fq.available)
    w.link(r, year, "stf_allocation", expected(f.allocation))
    r += 1
    w.label(r, 6, "Gate (year-to-date control total)")
    for q, fq in enumerate(f.quarters):
        word = "met" if fq.gate_met else "missed"
        w.text(r, 7 + q, word, fill=fill_of(word))
    r += 1
    for key, label, total_key, total in (
        ("stf_earned", "Earned", "stf_earned_total", f.earned),
        ("stf_lost", "Lost", "stf_lost_total", f.lost),
    ):
        w.label(
            r,
            6,
            label
            + (" (year: with year-end amounts)" if key == "stf_earned" else " (year: forfeited)"),
        )
        for q, fq in enumerate(f.quarters):
            amount = fq.earned if key == "stf_earned" else fq.lost
            w.formula(r, 7 + q, f"={w.summary_ref(key, w.col, q)}", expected(amount))
        w.link(r, year, total_key, expected(total), bold=True)
        r += 1
    w.label(r, 6, "Year end: catch-up, incentive, bonus")
    w.value(r, year, f.catch_up_released + f.incentive + f.bonus)
    w.cells["STF_allocation"] = (row + 2, year)
    return r


def _years(w: _Board, row: int) -> int:
    """Each plan year side by side (columns G onwards); returns the last row."""
    fig = w.fig
    w.section(row, 6, w.last_col, "Each plan year (£000)")
    r = row + 1
    w.heads(r, 6, ["", *(_year_label(fig.financial_year, y.year) for y in fig.years)])
    for yr in year_rows(fig):
        r += 1
        w.label(r, 6, yr.label, indent=yr.label.startswith("of which"))
        for k, v in enumerate(yr.values):
            col = 7 + k
            if isinstance(v, str):
                w.text(r, col, v, fill=fill_of(v))
            elif yr.fmt == INTEGER and v is not None:
                w.value(r, col, v, INTEGER, fill=SCORE_FILLS.get(int(v)))
            elif v is not None and np.isfinite(v):
                w.value(r, col, v, yr.fmt)
    for y in fig.years:
        if y.assessed is None:
            r += 1
            why = y.not_assessed or "not assessed"
            w.grid.text(r, 6, f"{_year_label(fig.financial_year, y.year)}: {why}.")
    return r


def _year_label(financial_year: str, year: int) -> str:
    """``2017/18`` for plan year 1 of a plan starting in 2017/18, ``2018/19`` for year 2."""
    try:
        start = int(financial_year[:4]) + year - 1
    except ValueError:
        return f"Year {year}"
    return f"{start}/{(start + 1) % 100:02d}"


def _risks(w: _Board, row: int) -> int:
    """The largest risks (columns F-J); returns the last row."""
    w.section(row, 6, w.last_col, "Largest risks: red, amber and unidentified CIP, plan year 1")
    r = row + 1
    w.heads(r, 6, ["Scheme", "In year", "RAG", "Stage"])
    risks = risk_schemes(w.b, 0)
    for name, stage, rag, value in risks:
        r += 1
        w.label(r, 6, name if len(name) <= 34 else name[:33].rstrip() + "…")
        w.value(r, 7, value)
        w.text(r, 8, rag, fill=RAG_FILLS.get(rag))
        w.text(r, 9, STAGE_NAMES.get(stage, stage))
    if not risks:
        r += 1
        w.grid.text(r, 6, "No red, amber or unidentified schemes.")
    return r
