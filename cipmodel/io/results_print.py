"""How each sheet of the results workbook prints (the rules are in :mod:`cipmodel.io.printing`).

* **Board summary**: one landscape page, fitted to it (the figures and charts; the charts'
  data right of the print area does not print);
* **Summary**: one trust, A4 portrait at :data:`SUMMARY_SCALE` (three pages: the figures
  on two and a bit, the three charts together after them), a page breaking only before a
  section or a list within one (the quarters lost, the year-to-date control total), so the
  charts need no page of their own; a portfolio of up to
  eight trusts, scaled to fit the width, portrait down to 3/4 size, else landscape; more
  trusts run across landscape pages at 70%, the row labels and the "All trusts" column
  repeated on each; the row of trust codes repeated on every page.
* **Plan years**: portrait (landscape when the years do not fit its width), fitted to the
  width, the header row and the trust and figure columns repeated, each section kept on
  one page, each bridge chart kept whole;
* **Charts** (portfolio): the three charts on one portrait page.
* the data sheets, the sector tables and the input sheets: tables, fitted to the page width,
  header row and first columns repeated;
* **Provenance**: portrait, the values wrapped, each row as tall as its text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from cipmodel.io.board_cells import BoardSheet
from cipmodel.io.cells import PROVENANCE_SHEET
from cipmodel.io.charts import CHART_ROWS
from cipmodel.io.grid import Grid
from cipmodel.io.printing import (
    LANDSCAPE_WIDTH,
    MIN_SCALE,
    PORTRAIT_WIDTH,
    ROW_HEIGHT,
    PageHeading,
    block_sheet,
    column_points,
    one_page,
    print_provenance,
    table_sheet,
    tall_header,
)
from cipmodel.io.results_base import Builder
from cipmodel.io.sheets_years import YearsSheet
from cipmodel.io.summary_rows import SummaryRows

__all__ = [
    "heading",
    "print_board",
    "print_charts",
    "print_sheets",
    "print_summary",
    "print_table",
    "print_years",
]

#: Trusts a portfolio Summary fits across one landscape page; more run across pages.
FIT_TRUSTS = 8
_WIDE_SCALE = 70
_PORTRAIT_MIN = 0.75
#: One trust's Summary print scale, %.
SUMMARY_SCALE = 70
#: The Plan years sheet's print scale, %.
YEARS_SCALE = 72
#: How much wider LibreOffice draws a column than Excel's width in characters says.
_LO_WIDER = 1.15


def heading(b: Builder) -> PageHeading:
    """The page header and footer of the results workbook."""
    pf, prov = b.r.portfolio, b.r.provenance
    if b.multi:
        who = f"Portfolio of {b.n_t} trusts"
    else:
        t = pf.trusts[0]
        who = f"{t.trust_code} {t.name or ''}".strip()
    years = ", ".join(sorted({t.financial_year for t in pf.trusts}))
    digest = str(prov.get("input_hash", ""))
    algo, _, hexes = digest.partition(":")
    short = f"{algo}:{hexes[:8]}" if hexes else digest[:15]
    made = f"cipmodel {prov.get('version', '')}, input {short}".strip()
    return PageHeading(who=who, year=f"Plan year {years}", made=made)


def print_summary(ws: Any, s: SummaryRows, charts: Sequence[int], page: PageHeading) -> None:
    """The Summary's print setup: sections kept whole, one trust's charts together (see the
    module docstring)."""
    head = s.rows["head"]
    last_col = s.first_col + s.n_t - 1
    blocks = [*s.sections, *s.subheads]
    last_row = s.grid.max_row
    width = column_points(ws, last_col)
    kw: dict[str, Any] = {"landscape": False, "scale": 100}
    if charts:  # one trust: the three charts together below the figures
        blocks.append(charts[0])
        last_row = max(last_row, charts[-1] + CHART_ROWS - 1)
        kw["scale"] = SUMMARY_SCALE
    elif width > PORTRAIT_WIDTH:  # a portfolio: portrait down to 3/4 size, else landscape
        if s.n_t > FIT_TRUSTS:
            kw.update(landscape=True, scale=_WIDE_SCALE, title_cols=s.first_col - 1)
        elif PORTRAIT_WIDTH / width >= _PORTRAIT_MIN:
            kw["scale"] = math.floor(PORTRAIT_WIDTH / width * 98)
        else:
            kw["landscape"] = True
            kw["scale"] = max(_WIDE_SCALE, min(100, math.floor(LANDSCAPE_WIDTH / width * 98)))
    block_sheet(
        ws,
        page,
        last_row=last_row,
        last_col=last_col,
        blocks=sorted(blocks),
        heights=s.printed_heights(),
        title_rows=(head, head),
        **kw,
    )


def print_charts(ws: Any, charts: Sequence[int], page: PageHeading) -> None:
    """A portfolio's Charts sheet: the three charts on one portrait page."""
    block_sheet(
        ws,
        page,
        last_row=charts[-1] + CHART_ROWS - 1,
        last_col=8,  # a chart 13.4 cm wide spans eight columns of the default width
        blocks=list(charts),
        heights={1: ROW_HEIGHT},
    )


def print_table(ws: Any, grid: Grid, page: PageHeading, *, title_cols: int = 1) -> None:
    """A data or sector table: header row and ``title_cols`` columns repeated."""
    tall_header(ws, grid)
    table_sheet(ws, grid, page, title_cols=title_cols)


def print_sheets(
    b: Builder, s: SummaryRows, charts: Sequence[int], tables: Sequence[tuple[Any, int]]
) -> None:
    """Print setup of every result sheet: the Summary (and Charts), ``tables`` (worksheet,
    columns repeated when too wide), Provenance."""
    page = heading(b)
    summary = s.ws
    print_summary(summary, s, [] if b.multi else charts, page)
    if b.multi:
        print_charts(b.wb["Charts"], charts, page)
    for ws, cols in tables:
        print_table(ws, b.grid(ws), page, title_cols=cols)
    prov = b.wb[PROVENANCE_SHEET]
    print_provenance(prov, b.grid(prov), page)


def print_board(b: Builder, board: BoardSheet) -> None:
    """The board summary: one landscape A4 page, fitted to it, its tall rows (headline
    sentences) set."""
    ws = board.ws
    for row, height in board.heights.items():
        ws.row_dimensions[row].height = height
    one_page(ws, heading(b), last_row=board.last_row, last_col=board.last_col)


def print_years(b: Builder, ys: YearsSheet) -> None:
    """The Plan years sheet at :data:`YEARS_SCALE` (one trust's two plan years and its bridge
    on two portrait pages), its sections kept whole, each bridge chart with its table;
    landscape, and smaller still, when the plan years do not fit the width."""
    ws = ys.ws
    width = column_points(ws, ys.last_col) * _LO_WIDER
    landscape = width * YEARS_SCALE / 100 > PORTRAIT_WIDTH
    usable = LANDSCAPE_WIDTH if landscape else PORTRAIT_WIDTH
    scale = max(MIN_SCALE * 100, min(YEARS_SCALE, math.floor(usable / width * 98)))
    block_sheet(
        ws,
        heading(b),
        last_row=ys.last_row,
        last_col=ys.last_col,
        blocks=ys.blocks,
        heights={1: ROW_HEIGHT},
        title_rows=(1, 1),
        title_cols=2,
        landscape=landscape,
        scale=int(scale),
    )
