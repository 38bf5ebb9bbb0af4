"""Print setup: every sheet cipmodel writes prints as something to hand over.

A4, with a header and footer on every page (who the results are for, the sheet, the plan
year; cipmodel's version and the input's short hash, "Page 3 of 12", the date printed), the
header rows repeated on every page (print titles) and a print area over what was written
(none on a plan's input sheets: the rows a user adds print too).

* **Tables** (:func:`table_sheet`: Monthly, STF by quarter, Metrics, Schemes, Lines, the
  sector tables, the input sheets): portrait when they fit at nine tenths of full size or
  more, otherwise landscape, fitted to one page wide (``fitToWidth=1``, ``fitToHeight=0``:
  as many pages down as needed), with gridlines. A table so wide that one page would
  shrink it below :data:`MIN_SCALE` (Metrics: about a third) is fitted to two or more pages
  wide instead, its first columns repeated on each.
* **Blocks** (:func:`block_sheet`: Summary, Charts): a fixed scale (Excel ignores manual
  page breaks under "fit to"), and a page break before a block (a Summary section, a chart)
  that would not fit on the rest of the page, so no section or chart is cut in two.

Page sizes are worked out from the column widths and row heights as Excel lays them out
(Calibri 11: a column ``w`` characters wide is ``7w + 5`` pixels) with some room to spare,
since LibreOffice's fonts differ slightly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl.styles import Alignment
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.pagebreak import Break

from cipmodel.io.grid import Grid

__all__ = [
    "LANDSCAPE_HEIGHT",
    "LANDSCAPE_WIDTH",
    "MIN_SCALE",
    "PORTRAIT_HEIGHT",
    "PORTRAIT_WIDTH",
    "ROW_HEIGHT",
    "PageHeading",
    "block_sheet",
    "one_page",
    "column_points",
    "print_provenance",
    "table_sheet",
    "tall_header",
    "wrapped_lines",
]

# A4 (8.27 x 11.69 in) less the margins below, in points
_MARGINS = PageMargins(left=0.5, right=0.5, top=0.75, bottom=0.75, header=0.3, footer=0.3)
PORTRAIT_WIDTH = (8.27 - 1.0) * 72  # 523 pt
PORTRAIT_HEIGHT = (11.69 - 1.5) * 72  # 734 pt
LANDSCAPE_WIDTH = (11.69 - 1.0) * 72  # 770 pt
LANDSCAPE_HEIGHT = (8.27 - 1.5) * 72  # 487 pt
#: The smallest scale a table is fitted to one page wide at; wider tables take more pages.
MIN_SCALE = 0.55
#: Excel's default row height (Calibri 11), points.
ROW_HEIGHT = 15.0
_WRAP_TOP = Alignment(wrap_text=True, vertical="top")
_SPARE = 0.92  # room for the difference between Excel's and LibreOffice's fonts
_DEFAULT_WIDTH = 8.43


@dataclass(frozen=True)
class PageHeading:
    """The header and footer of every printed page.

    ``who``: the trust ("RXX Example Acute Hospitals NHS Trust") or "Portfolio of 235
    trusts"; ``year``: "Plan year 2017/18"; ``made``: "cipmodel 0.9.0, input
    sha256:1a2b3c4d". ``sheet_in_footer``: the footer names the sheet too ("CIP, page 1 of
    2"): a plan workbook's sheets, which a results workbook carries after its own and
    whose pages a reader may hold apart from the header.
    """

    who: str
    year: str
    made: str
    sheet_in_footer: bool = False

    def apply(self, ws: Any) -> None:
        """Header: who, the sheet's name, the plan year. Footer: the version and input
        hash, "Page 1 of 9" (or "CIP, page 1 of 9"), the date printed."""
        for part, text in (
            (ws.oddHeader.left, _escape(self.who)),
            (ws.oddHeader.center, "&B&A"),
            (ws.oddHeader.right, _escape(self.year)),
            (ws.oddFooter.left, _escape(self.made)),
            (ws.oddFooter.center, "&A, page &P of &N" if self.sheet_in_footer else "Page &P of &N"),
            (ws.oddFooter.right, "Printed &D"),
        ):
            part.text = text
            part.size = 8


def _escape(text: str) -> str:
    """Text for a header or footer: ``&`` doubled, at most 80 characters."""
    text = text if len(text) <= 80 else text[:79] + "…"
    return text.replace("&", "&&")


def column_points(ws: Any, last_col: int, first_col: int = 1) -> float:
    """The printed width of columns ``first_col``..``last_col``, in points."""
    dims = ws.column_dimensions
    total = 0.0
    for j in range(first_col, last_col + 1):
        letter = get_column_letter(j)
        width = dims[letter].width if letter in dims and dims[letter].width else _DEFAULT_WIDTH
        total += (math.trunc(width * 7 + 5)) * 0.75
    return total


def _common(ws: Any, heading: PageHeading, area: str | None, landscape: bool) -> None:
    ps = ws.page_setup
    ps.paperSize = ws.PAPERSIZE_A4
    ps.orientation = "landscape" if landscape else "portrait"
    ws.page_margins = _MARGINS
    if area is not None:
        ws.print_area = area
    heading.apply(ws)


def table_sheet(
    ws: Any,
    grid: Grid,
    heading: PageHeading,
    *,
    title_rows: int = 1,
    title_cols: int = 1,
    gridlines: bool = True,
    area: bool = True,
) -> None:
    """A table's print setup (see the module docstring): header rows ``1..title_rows``
    (none for 0) repeated on every page, fitted to one page wide where that keeps it
    readable. ``area``: a print area over what was written; without, what the sheet holds
    when printed prints (an input sheet, to which the user adds rows)."""
    last_row, last_col = max(grid.max_row, 1), max(grid.max_column, 1)
    width = column_points(ws, last_col)
    landscape = width * 0.9 > PORTRAIT_WIDTH
    usable = LANDSCAPE_WIDTH if landscape else PORTRAIT_WIDTH
    cells = f"A1:{get_column_letter(last_col)}{last_row}"
    _common(ws, heading, cells if area else None, landscape)
    if title_rows:
        ws.print_title_rows = f"1:{title_rows}"
    pages_wide = max(1, math.ceil(width * MIN_SCALE / usable))
    if pages_wide > 1:  # too wide for one page: its first columns on each page
        ws.print_title_cols = f"A:{get_column_letter(title_cols)}"
        repeated = column_points(ws, title_cols)
        pages_wide = max(1, math.ceil((width + repeated) * MIN_SCALE / usable))
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = pages_wide
    ws.page_setup.fitToHeight = 0
    ws.print_options.gridLines = gridlines


def block_sheet(
    ws: Any,
    heading: PageHeading,
    *,
    last_row: int,
    last_col: int,
    blocks: Sequence[int],
    heights: dict[int, float] | None = None,
    title_rows: tuple[int, int] | None = None,
    title_cols: int | None = None,
    landscape: bool = False,
    scale: int = 100,
    new_page: Sequence[int] = (),
) -> list[int]:
    """A sheet of blocks (see the module docstring): ``blocks`` are the first rows of the
    blocks (ascending); ``new_page`` the blocks that always start a page (a chart);
    ``heights`` the rows taller than :data:`ROW_HEIGHT`. Returns the rows a page break
    comes after."""
    _common(ws, heading, f"A1:{get_column_letter(last_col)}{last_row}", landscape)
    ws.sheet_properties.pageSetUpPr.fitToPage = False
    ws.page_setup.scale = scale
    if title_rows is not None:
        ws.print_title_rows = f"{title_rows[0]}:{title_rows[1]}"
    if title_cols is not None:
        ws.print_title_cols = f"A:{get_column_letter(title_cols)}"
    heights = heights or {}

    def height(r0: int, r1: int) -> float:
        return sum(heights.get(r, ROW_HEIGHT) for r in range(r0, r1))

    page = (LANDSCAPE_HEIGHT if landscape else PORTRAIT_HEIGHT) * _SPARE * 100 / scale
    if title_rows is not None:
        page -= height(title_rows[0], title_rows[1] + 1)
    starts = sorted({*blocks, *new_page})
    ends = [*starts[1:], last_row + 1]
    breaks: list[int] = []
    used = height(1, starts[0]) if starts else 0.0
    for start, end in zip(starts, ends, strict=True):
        size = height(start, end)
        if used and (start in new_page or used + size > page):
            breaks.append(start - 1)
            used = 0.0
        used += size
        while used > page:  # a block longer than a page runs on
            used -= page
    for row in breaks:
        ws.row_breaks.append(Break(id=row))
    return breaks


def one_page(ws: Any, heading: PageHeading, *, last_row: int, last_col: int) -> None:
    """A sheet that prints on one landscape page, fitted to it (a board summary)."""
    _common(ws, heading, f"A1:{get_column_letter(last_col)}{last_row}", True)
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 1
    ws.print_options.horizontalCentered = True
    ws.print_options.gridLines = False


def wrapped_lines(text: str, per_line: int) -> int:
    """Lines ``text`` takes wrapped at ``per_line`` characters (words kept whole)."""
    total = 0
    for para in text.split("\n"):
        length, lines = 0, 1
        for word in para.split(" "):
            need = len(word) + (1 if length else 0)
            if length and length + need > per_line:
                lines += 1 + (len(word) - 1) // per_line
                length = len(word) % per_line or per_line
            else:
                length += need
        total += lines
    return total


def tall_header(ws: Any, grid: Grid) -> None:
    """Give row 1 (wrapped column headers) the height of its longest header, so headers
    print in full instead of over each other."""
    lines = 1
    for col, entry in (grid.rows.get(1) or {}).items():
        text = entry[2]
        if not isinstance(text, str):
            continue
        dim = ws.column_dimensions[get_column_letter(col)]
        per_line = max(int((dim.width or 8.43) * 0.95) - 1, 4)  # bold, and wider fonts
        lines = max(lines, wrapped_lines(text, per_line))
    ws.row_dimensions[1].height = ROW_HEIGHT * min(lines, 6)


def print_provenance(ws: Any, grid: Grid, page: PageHeading) -> None:
    """Provenance on a page or two: keys and wrapped values, each row as tall as its text."""
    ws.column_dimensions["A"].width = 18
    ws.column_dimensions["B"].width = 74  # a sha256 hash fits on one line
    wrap = grid.styles.id(alignment=_WRAP_TOP)
    for row, cells in grid.rows.items():
        if row == 1:
            continue
        for col, (style, kind, value, cached) in list(cells.items()):
            if style == 0:
                cells[col] = (wrap, kind, value, cached)
        text = cells.get(2, (0, "", "", None))[2]
        lines = wrapped_lines(str(text), 72) if text is not None else 1
        if lines > 1:
            ws.row_dimensions[row].height = ROW_HEIGHT * min(lines, 27)
    table_sheet(ws, grid, page, gridlines=True)
