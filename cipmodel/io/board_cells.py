"""What the board summary sheets share: the cell writer, fills, sentences' money.

:class:`BoardCells` writes the cells of a board summary (:mod:`cipmodel.io.sheets_board`,
:mod:`cipmodel.io.sheets_board_portfolio`) into its grid: labels, section bands, values
(blue) and formulas (black, saved with the engine's value, which is recorded in the
builder's ``expected`` so the LibreOffice tests check it), each with its number format and,
where the figure is a judgement (met or missed, a score, a RAG rating), a light fill.
:class:`BoardSheet` is what a board writer hands the print setup and the defined names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from cipmodel.io.cells import FONT_NAME, HEADER_FILL, MONEY_FORMAT
from cipmodel.io.printing import wrapped_lines
from cipmodel.io.results_base import (
    BLACK,
    BLUE,
    SECTION_FILL,
    SUMMARY,
    Builder,
    Expected,
    sheet_ref,
)

__all__ = [
    "JUDGEMENT_FILLS",
    "RAG_FILLS",
    "SCORE_FILLS",
    "BoardCells",
    "BoardSheet",
    "fill_of",
]

#: Light fills for a judgement: met or missed, a score 1-4, a RAG rating (text stays black).
JUDGEMENT_FILLS = {"met": "FFC6EFCE", "missed": "FFFFC7CE", "n/a": "FFEDEDED"}
SCORE_FILLS = {1: "FFC6EFCE", 2: "FFFFEB9C", 3: "FFF8CBAD", 4: "FFFFC7CE"}
RAG_FILLS = {
    "blue": "FFDDEBF7",
    "green": "FFC6EFCE",
    "amber": "FFFFEB9C",
    "red": "FFFFC7CE",
    "unidentified": "FFD9D9D9",
}
_TITLE = Font(name=FONT_NAME, size=16, bold=True)
_HEADLINE = Font(name=FONT_NAME, size=13, bold=True)
_SECTION = Font(name=FONT_NAME, size=11, bold=True)
_BOLD = Font(name=FONT_NAME, size=11, bold=True)
_WRAP = Alignment(wrap_text=True, vertical="top")
_RIGHT = Alignment(horizontal="right")
_INDENT = Alignment(horizontal="left", indent=1)
_HEAD_LEFT = Alignment(wrap_text=True, vertical="bottom")
_HEAD_RIGHT = Alignment(horizontal="right", wrap_text=True, vertical="bottom")


@dataclass
class BoardSheet:
    """A written board summary: its worksheet, the print area's last row and column, the
    rows charts start at, and its headline cells to name, ``name suffix -> (row, column)``
    (the writer of the names adds the trust's prefix)."""

    ws: Any
    last_row: int
    last_col: int
    charts: list[int] = field(default_factory=list)
    cells: dict[str, tuple[int, int]] = field(default_factory=dict)
    heights: dict[int, float] = field(default_factory=dict)


class BoardCells:
    """The cell writers of a board summary sheet (see the module docstring)."""

    def __init__(self, b: Builder, ws: Any, summary_rows: Mapping[str, int]) -> None:
        self.b = b
        #: the Summary sheet's rows by key (:class:`cipmodel.io.summary_rows.SummaryRows`)
        self.summary_rows = summary_rows
        self.ws = ws
        self.grid = b.grid(ws)
        self.styles = b.styles
        self.heights: dict[int, float] = {}

    # -- styles -----------------------------------------------------------------------
    def style(
        self, fmt: str | None, *, value: bool, fill: str | None = None, bold: bool = False
    ) -> int:
        """A number cell's format: blue (a value) or black (a formula), bold, a fill."""
        font = BLUE if value else BLACK
        if bold:
            font = Font(name=FONT_NAME, size=11, bold=True, color=font.color)
        return self.styles.id(
            font=font,
            fill=PatternFill(fill_type="solid", fgColor=fill) if fill else None,
            number_format=fmt,
            alignment=_RIGHT if fmt is None else None,
        )

    # -- text ---------------------------------------------------------------------------
    def title(self, row: int, text: str) -> None:
        self.grid.text(row, 1, text, self.styles.id(font=_TITLE))
        self.heights[row] = 22.0

    def sentence(self, row: int, last_col: int, text: str, *, headline: bool = False) -> None:
        """Text merged across columns A..``last_col``, wrapped, the row as tall as it needs
        (``per_line`` characters a line, from the merged width)."""
        width = sum(
            self.ws.column_dimensions[get_column_letter(j)].width or 8.43
            for j in range(1, last_col + 1)
        )
        per_line = int(width * (0.78 if headline else 0.92))
        font = _HEADLINE if headline else None
        self.grid.text(row, 1, text, self.styles.id(font=font, alignment=_WRAP))
        self.ws.merged_cells.add(f"A{row}:{get_column_letter(last_col)}{row}")
        lines = wrapped_lines(text, per_line)
        self.heights[row] = (18.0 if headline else 15.0) * lines + 2

    def section(self, row: int, first_col: int, last_col: int, text: str) -> None:
        """A section band: bold text on grey across ``first_col..last_col``."""
        fill = PatternFill(fill_type="solid", fgColor=SECTION_FILL.fgColor)
        for j in range(first_col + 1, last_col + 1):
            self.grid.blank(row, j, self.styles.id(fill=fill))
        self.grid.text(row, first_col, text, self.styles.id(font=_SECTION, fill=fill))

    def heads(self, row: int, first_col: int, texts: Sequence[str]) -> None:
        """A table's column headers (bold on the header fill, right-aligned but the first)."""
        for j, text in enumerate(texts, start=first_col):
            align = _HEAD_LEFT if j == first_col else _HEAD_RIGHT
            style = self.styles.id(font=_BOLD, fill=HEADER_FILL, alignment=align)
            self.grid.text(row, j, text, style)

    def label(
        self, row: int, col: int, text: str, *, indent: bool = False, bold: bool = False
    ) -> None:
        font = _BOLD if bold else None
        self.grid.text(
            row, col, text, self.styles.id(font=font, alignment=_INDENT if indent else None)
        )

    def text(self, row: int, col: int, text: str, *, fill: str | None = None) -> None:
        """A judgement or a note as text (right-aligned, with a fill when given)."""
        self.grid.text(row, col, text, self.style(None, value=True, fill=fill))

    # -- numbers ------------------------------------------------------------------------
    def value(
        self,
        row: int,
        col: int,
        v: float | int | None,
        fmt: str = MONEY_FORMAT,
        *,
        fill: str | None = None,
    ) -> None:
        """A value the engine computed (blue); None leaves the cell blank."""
        if v is None:
            return
        self.grid.value(row, col, v, self.style(fmt, value=True, fill=fill))

    def formula(
        self,
        row: int,
        col: int,
        text: str,
        exp: Expected,
        fmt: str | None = MONEY_FORMAT,
        *,
        fill: str | None = None,
        bold: bool = False,
    ) -> None:
        """A formula (black), saved with the engine's value, which is also recorded."""
        self.grid.formula(
            row, col, text, exp.value, self.style(fmt, value=False, fill=fill, bold=bold)
        )
        self.b.expected[f"{self.ws.title}!{get_column_letter(col)}{row}"] = exp

    def summary_ref(self, key: str, col: int, below: int = 0) -> str:
        """``Summary!$B$12``: the Summary cell of row ``key`` (``below`` rows under it) in
        column ``col``."""
        row = self.summary_rows[key] + below
        return f"{sheet_ref(SUMMARY)}!${get_column_letter(col)}${row}"


def fill_of(judgement: str) -> str | None:
    """The fill of ``"met"``, ``"missed"`` or ``"n/a"``."""
    return JUDGEMENT_FILLS.get(judgement)
