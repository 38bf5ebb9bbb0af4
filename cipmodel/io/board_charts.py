"""The charts of the one-trust board summary (:mod:`cipmodel.io.sheets_board`).

Under the tables, one row of charts: the year to date against the control-total profile
(under columns A-D, drawn from the Summary) and the CIP pipeline by stage and RAG, stacked,
unidentified CIP its own series (under columns F onwards; with a bridge from the prior-year
outturn, the pipeline and the bridge's waterfall share that width). The pipeline's and the
bridge's data sit right of the print area: the pipeline as ``SUMIFS`` over the Schemes
sheet, saved with the engine's values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from openpyxl.chart import BarChart
from openpyxl.drawing.spreadsheet_drawing import AnchorMarker, OneCellAnchor
from openpyxl.drawing.xdr import XDRPositiveSize2D
from openpyxl.utils import get_column_letter
from openpyxl.utils.units import cm_to_EMU, pixels_to_EMU

from cipmodel.engine.project import RAGS, STAGES
from cipmodel.io.board_cells import BoardCells
from cipmodel.io.charts import (
    WATERFALL_SERIES,
    pipeline_chart,
    size_chart,
    waterfall_chart,
    waterfall_parts,
    ytd_chart,
)
from cipmodel.io.results_base import SCHEMES, SUMMARY, expected
from cipmodel.results.figures import TrustFigures

__all__ = ["CHART_ROWS", "STAGE_NAMES", "anchor_at", "board_charts", "bridge_steps", "width_cm"]

#: Rows a chart takes (6.3 cm, rows of 15 pt).
CHART_ROWS = 13
_CHART_CM = 6.3
#: How a delivery stage reads on the board.
STAGE_NAMES = {"qia_approved": "QIA approved"}
_RAG_SERIES = {"blue": "blue (complete)", "green": "green", "amber": "amber", "red": "red"}


def bridge_steps(fig: TrustFigures, *, short: bool = False) -> list[tuple[str, float]]:
    """The bridge from the prior-year outturn to plan year 1 as (label, £000) pairs, the
    first the outturn and the last the plan (their values are levels, the others
    movements); ``short``: the labels under a waterfall's columns. Empty where the run has
    no bridge (the plan gives no outturn)."""
    steps = () if fig.views is None or fig.views.bridge is None else fig.views.bridge
    return [
        (step.short_label if short else step.label, float(step.value))
        for step in steps
        if np.isfinite(step.value)
    ]


def board_charts(w: BoardCells, fig: TrustFigures, last_col: int, top: int) -> list[int]:
    """The charts under the tables: the year to date against the control total (under A-D),
    the CIP pipeline (under F onwards; with a bridge, the pipeline and the bridge share it).
    Their data goes right of the print area. Returns the charts' first row."""
    ws = w.ws
    summary = w.b.wb[SUMMARY]
    left_cm = width_cm(ws, 1, 4)
    right_cm = width_cm(ws, 6, last_col)
    data_col = last_col + 2
    w.grid.text(top, data_col, "Chart data (not printed)", w.styles.id())
    head = _pipeline_data(w, top + 1, data_col)
    ytd = ytd_chart(summary, w.summary_rows, fig.code)
    size_chart(ytd, left_cm - 0.3, _CHART_CM)
    ws.add_chart(ytd, f"A{top}")
    pipe = pipeline_chart(
        ws,
        head,
        data_col,
        len(STAGES),
        [*_RAG_SERIES, "unidentified"],
        "CIP pipeline by stage and RAG, plan year 1 (£000)",
    )
    # narrow on one page: the legend beside the bars, not under them (it took half the
    # height), and the axis's unit in the title already
    pipe.legend.position = "r"
    pipe.y_axis.title = None
    steps = bridge_steps(fig, short=True)
    pipe_cm = right_cm / 2 if steps else right_cm
    size_chart(pipe, pipe_cm - 0.3, _CHART_CM)
    ws.add_chart(pipe, f"F{top}")
    if steps:
        bridge = _bridge(w, head + len(STAGES) + 2, data_col, steps)
        size_chart(bridge, right_cm / 2 - 0.3, _CHART_CM)
        bridge.anchor = anchor_at(ws, top, 6, pipe_cm, bridge.width, bridge.height)
        ws.add_chart(bridge)
    return [top]


def _pipeline_data(w: BoardCells, head: int, col: int) -> int:
    """The pipeline chart's data: stage by RAG, in-year plan year 1, SUMIFS over Schemes
    (unidentified its own column); returns the header row."""
    b = w.b
    plan = b.plan
    w.heads(head, col, ["Stage", *_RAG_SERIES.values(), "unidentified"])
    eff = b.pr.cip_scheme_year[0][:, 0] if len(plan.scheme_ids) else np.zeros(0)
    mine = plan.scheme_trust == 0 if len(plan.scheme_ids) else np.zeros(0, dtype=bool)
    schemes = b.layout(SCHEMES)
    span = b.scheme_rows.get(0)
    for k, stage in enumerate(STAGES):
        r = head + 1 + k
        w.grid.text(r, col, STAGE_NAMES.get(stage, stage))
        is_stage = mine & (plan.scheme_stage == k) if len(eff) else mine
        for j, rag in enumerate([*_RAG_SERIES, "unidentified"], start=col + 1):
            if (rag == "unidentified") != (stage == "unidentified"):
                continue
            sel = (
                is_stage
                if rag == "unidentified"
                else is_stage & (plan.scheme_rag == RAGS.index(rag))
            )
            value = float(eff[sel].sum()) if len(eff) else 0.0
            if span is None:
                w.value(r, j, value)
                continue
            lo, hi = span
            crit = f'{schemes.span("stage", lo, hi)},"{stage}"'
            if rag != "unidentified":
                crit += f',{schemes.span("rag", lo, hi)},"{rag}"'
            w.formula(r, j, f"=SUMIFS({schemes.span('effect_1', lo, hi)},{crit})", expected(value))
    return head


def _bridge(w: BoardCells, head: int, col: int, steps: Sequence[tuple[str, float]]) -> BarChart:
    """The bridge's data (each step, its £000 and the parts that draw it) and its
    waterfall chart."""
    w.heads(head, col, ["Step", *(name for name, _fill in WATERFALL_SERIES), "£000"])
    for k, ((label, value), parts) in enumerate(zip(steps, waterfall_parts(steps), strict=True)):
        r = head + 1 + k
        w.grid.text(r, col, label)
        for j, (name, _fill) in enumerate(WATERFALL_SERIES, start=col + 1):
            w.value(r, j, parts[name])
        w.value(r, col + 1 + len(WATERFALL_SERIES), value)
    return waterfall_chart(w.ws, head, col, len(steps), "Bridge from outturn to plan (£000)")


def width_cm(ws: Any, first: int, last: int) -> float:
    """The width of columns ``first..last`` on screen, cm (Calibri 11: 7 px a character)."""
    px = sum(
        int((ws.column_dimensions[get_column_letter(j)].width or 8.43) * 7 + 5)
        for j in range(first, last + 1)
    )
    return px * 2.54 / 96


def anchor_at(
    ws: Any, row: int, col: int, offset_cm: float, width_cm: float, height_cm: float
) -> OneCellAnchor:
    """The anchor of a chart ``width_cm`` x ``height_cm``, ``offset_cm`` right of the left
    edge of column ``col`` in ``row``."""
    emu = cm_to_EMU(offset_cm)
    c = col
    while True:
        w = pixels_to_EMU(int((ws.column_dimensions[get_column_letter(c)].width or 8.43) * 7 + 5))
        if emu < w:
            break
        emu -= w
        c += 1
    marker = AnchorMarker(col=c - 1, colOff=int(emu), row=row - 1, rowOff=0)
    size = XDRPositiveSize2D(cm_to_EMU(width_cm), cm_to_EMU(height_cm))
    return OneCellAnchor(_from=marker, ext=size)
