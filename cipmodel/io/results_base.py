"""What every sheet of the results workbook shares: names, formats, cell writers, layouts.

* the result sheets' names (:data:`RESULT_SHEETS`) and number formats;
* :class:`Expected`: the engine's value of a formula cell, so a test can recalculate the
  workbook in a spreadsheet application and compare;
* :class:`Builder`: the workbook being written and the run it shows, the cell writers
  (values blue, formulas black, each formula's engine value recorded) and what the sheets
  written so far offer the later ones: which row holds what (``month_row``...) and which
  column holds what (``layouts``);
* :class:`Head`, :class:`Columns`, :class:`Layout`, :class:`Row`: a sheet writer lists its
  columns once; the letter of each column is worked out from that list when the header row
  is written, and every formula, on the sheet itself or on another sheet, addresses a column
  by its key through that map, never by a typed letter. Moving a column moves every formula
  that reads it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from openpyxl.styles import Alignment, Font, NamedStyle, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname

from cipmodel.io.cells import BOLD, FONT_NAME, HEADER_FILL
from cipmodel.io.grid import Grid, GridWorkbook

__all__ = [
    "BLACK",
    "BOARD",
    "BLUE",
    "CHARTS",
    "DAYS",
    "DETAIL",
    "INDENT",
    "INTEGER",
    "LINES_SHEET",
    "MARGIN",
    "METRICS",
    "MONTHLY",
    "NA",
    "PERCENT",
    "QUARTER_LABELS",
    "RESULT_MARK",
    "RESULT_SHEETS",
    "SCHEMES",
    "SECTION",
    "SECTION_FILL",
    "STF",
    "SUMMARY",
    "TIMES",
    "YEARS",
    "Builder",
    "Columns",
    "Expected",
    "Head",
    "Layout",
    "Row",
    "expected",
    "sheet_ref",
]

BOARD, SUMMARY, CHARTS, MONTHLY, STF, METRICS, SCHEMES, LINES_SHEET = (
    "Board summary",
    "Summary",
    "Charts",
    "Monthly",
    "STF by quarter",
    "Metrics",
    "Schemes",
    "Lines",
)
#: Every plan year of every trust, one column a year (:mod:`cipmodel.io.sheets_years`).
YEARS = "Plan years"
#: Result sheets, in the order they are written (``Charts`` only for a portfolio; the board
#: summary first, :mod:`cipmodel.io.sheets_board`).
RESULT_SHEETS = (BOARD, SUMMARY, CHARTS, YEARS, MONTHLY, STF, METRICS, SCHEMES, LINES_SHEET)
#: The hidden sheet-level defined name cipmodel gives every sheet it writes as a result
#: sheet: what a later run (``--in-place``, or a results workbook carried again) replaces.
#: It moves and is copied with its sheet, and editing a Provenance sheet cannot make it.
RESULT_MARK = "_cipmodel_result"

QUARTER_LABELS = ("Q1 (Apr-Jun)", "Q2 (Jul-Sep)", "Q3 (Oct-Dec)", "Q4 (Jan-Mar)")
PERCENT = "0.0%"
MARGIN = "0.00%"
DAYS = "0.0"
TIMES = '0.00"x"'
INTEGER = "0"
DETAIL = '#,##0.00;(#,##0.00);"-"'
NA = "n/a"

BLUE = Font(name=FONT_NAME, size=11, color="FF1F4E9A")  # values computed by cipmodel
BLACK = Font(name=FONT_NAME, size=11, color="FF000000")  # Excel formulas
SECTION = Font(name=FONT_NAME, size=12, bold=True)
SECTION_FILL = PatternFill(fill_type="solid", fgColor="FFF2F2F2")
INDENT = Alignment(horizontal="left", indent=1)
_HEADER_ALIGN = Alignment(wrap_text=True, vertical="top")
_PLAIN_NAME = re.compile(r"[A-Za-z]{4,}")


@dataclass(frozen=True)
class Expected:
    """The engine's value of one formula cell.

    ``kind`` says how to compare: ``"money"`` (£000, to £1k), ``"ratio"`` (to 1e-9),
    ``"count"`` (exact) or ``"text"`` (exact; ``"n/a"`` where the engine has no value).
    """

    value: float | str
    kind: str


def expected(x: Any, kind: str = "money") -> Expected:
    """The Expected of an engine value: text as text, NaN or infinite as ``"n/a"``."""
    if isinstance(x, str):
        return Expected(x, "text")
    v = float(x)
    if not np.isfinite(v):
        return Expected(NA, "text")
    return Expected(v, kind)


def sheet_ref(title: str) -> str:
    """A sheet's name as a formula writes it: quoted unless it is a plain word (``Monthly``,
    but ``'STF by quarter'``; a short all-letter name could read as a column, so is quoted)."""
    return title if _PLAIN_NAME.fullmatch(title) else quote_sheetname(title)


class Head(NamedTuple):
    """One column of a result sheet: the key formulas use, the header text, the width."""

    key: str
    text: str
    width: float


class Columns(Mapping[str, str]):
    """The column letter of each header a sheet writer wrote, by the header's key."""

    def __init__(self, keys: Sequence[str]) -> None:
        if len(set(keys)) != len(keys):
            msg = f"column keys repeat: {list(keys)}"
            raise ValueError(msg)
        self._index = {k: j for j, k in enumerate(keys, start=1)}
        self._letters: dict[str, str] = {k: get_column_letter(j) for k, j in self._index.items()}
        self.last: str = get_column_letter(len(keys)) if keys else "A"

    def __getitem__(self, key: str) -> str:
        return self._letters[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._letters)

    def __len__(self) -> int:
        return len(self._letters)

    def index(self, key: str) -> int:
        """The 1-based column number of ``key``."""
        return self._index[key]


@dataclass(frozen=True)
class Layout:
    """A written sheet's name and columns, for formulas on other sheets."""

    title: str
    columns: Columns

    def ref(self, key: str, row: int) -> str:
        """``Monthly!N14``: the cell of column ``key`` in ``row``."""
        return f"{sheet_ref(self.title)}!{self.columns[key]}{row}"

    def span(self, key: str, first: int, last: int) -> str:
        """``Monthly!E2:E13``: column ``key`` from row ``first`` to ``last``."""
        col = self.columns[key]
        return f"{sheet_ref(self.title)}!{col}{first}:{col}{last}"


class Builder:
    """The results workbook being written: the run, the cell writers, the layout so far.

    Parameters
    ----------
    wb : GridWorkbook
        The workbook the result sheets go into (their cells are kept in grids).
    result : RunResult
        The plan run.
    simulation : dict, optional
        A simulation result in the ``simulate --json`` shape.
    """

    def __init__(self, wb: GridWorkbook, result: Any, simulation: dict[str, Any] | None) -> None:
        self.wb = wb
        self.styles = wb.styles
        self.r = result
        self.plan = result.plan
        self.pr = result.projection
        self.sim = simulation
        self.expected: dict[str, Expected] = {}
        self.n_t = len(self.plan.codes)
        self.multi = self.n_t > 1
        self._styles: dict[tuple[str, bool], int] = {}
        self._letters = [""] + [get_column_letter(j) for j in range(1, self.n_t + 200)]
        # row maps filled as the data sheets are written
        self.month_row: dict[tuple[int, int, int], int] = {}  # (trust, year, month) -> row
        self.stf_row: dict[tuple[int, int], int] = {}  # (trust, quarter) -> row
        self.metric_row: dict[tuple[int, int], int] = {}  # (trust, quarter) -> row
        self.scheme_rows: dict[int, tuple[int, int]] = {}  # trust -> (first, last)
        #: sheet title -> its columns, filled as each sheet's header row is written
        self.layouts: dict[str, Layout] = {}
        self.has_ct = np.isfinite(self.plan.ct_target)  # (T, Y)
        #: whether the plan's input sheets are hidden (a new results workbook)
        self.hide_inputs = False
        #: the headline figures' defined names, name -> cell
        self.names: dict[str, str] = {}

    # -- cells --------------------------------------------------------------------
    def style(self, fmt: str, value: bool) -> int:
        """The cell format of a number: its number format, blue font (values) or black
        (formulas), as a named style."""
        key = (fmt, value)
        sid = self._styles.get(key)
        if sid is None:
            name = f"cipmodel {'value' if value else 'formula'} {fmt}"
            if name not in self.wb.named_styles:
                self.wb.add_named_style(
                    NamedStyle(name=name, number_format=fmt, font=BLUE if value else BLACK)
                )
            sid = self._styles[key] = self.styles.id(name)
        return sid

    def grid(self, ws: Any) -> Grid:
        return self.wb.grids[ws.title]

    def formula(self, ws: Any, row: int, col: int, text: str, exp: Expected, fmt: str) -> None:
        """A formula cell (black), saved with the engine's value, which is also recorded."""
        self.wb.grids[ws.title].formula(row, col, text, exp.value, self.style(fmt, False))
        self.expected[f"{ws.title}!{self._letters[col]}{row}"] = exp

    def value(self, ws: Any, row: int, col: int, v: Any, fmt: str | None = None) -> None:
        """A value the engine computed (blue when it is a number with a format)."""
        if fmt is not None and (type(v) is float or type(v) is np.float64):  # the usual case
            self.wb.grids[ws.title].number(row, col, float(v), self.style(fmt, True))
            return
        if isinstance(v, (float, np.floating)):
            v = float(v)
        elif isinstance(v, (np.integer,)):
            v = int(v)
        elif isinstance(v, np.bool_):
            v = bool(v)
        grid = self.wb.grids[ws.title]
        if fmt is not None and isinstance(v, (int, float)) and not isinstance(v, bool):
            grid.value(row, col, v, self.style(fmt, True))
        elif v is not None:
            grid.value(row, col, v)

    def text(self, ws: Any, row: int, col: int, v: str, font: Font | None = None) -> None:
        """A text cell (never read as a formula)."""
        style = 0 if font is None else self.styles.id(font=font)
        self.wb.grids[ws.title].text(row, col, str(v), style)

    def header(self, ws: Any, heads: Sequence[Head]) -> Columns:
        """Write a data sheet's header row; record and return where each column went."""
        grid = self.wb.grids[ws.title]
        style = self.styles.id(font=BOLD, fill=HEADER_FILL, alignment=_HEADER_ALIGN)
        for j, head in enumerate(heads, start=1):
            grid.text(1, j, head.text, style)
            ws.column_dimensions[get_column_letter(j)].width = head.width
        ws.freeze_panes = "C2"
        columns = Columns([h.key for h in heads])
        self.layouts[ws.title] = Layout(ws.title, columns)
        return columns

    def layout(self, title: str) -> Layout:
        """The columns of sheet ``title``, written earlier (KeyError if not yet)."""
        return self.layouts[title]

    def new_sheet(self, title: str) -> Any:
        """A new result sheet, its cells kept in a grid."""
        return self.wb.grid_sheet(title)[0]


class Row:
    """One row of a data sheet, its cells addressed by column key.

    ``row[key]`` is the cell's address (``"F14"``), for formulas on the same row.
    """

    __slots__ = ("b", "cols", "row", "ws")

    def __init__(self, b: Builder, ws: Any, cols: Columns, row: int) -> None:
        self.b, self.ws, self.cols, self.row = b, ws, cols, row

    def __getitem__(self, key: str) -> str:
        return f"{self.cols[key]}{self.row}"

    def text(self, key: str, v: str) -> None:
        self.b.text(self.ws, self.row, self.cols.index(key), v)

    def value(self, key: str, v: Any, fmt: str | None = None) -> None:
        self.b.value(self.ws, self.row, self.cols.index(key), v, fmt)

    def formula(self, key: str, text: str, exp: Expected, fmt: str) -> None:
        self.b.formula(self.ws, self.row, self.cols.index(key), text, exp, fmt)
