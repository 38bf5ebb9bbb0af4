"""The cells of a worksheet part and the shared strings, streamed by expat handlers.

:class:`SheetHandler` reads each cell both as its formula and as the value the spreadsheet
application saved with it, several times faster than openpyxl's cell objects, within the
row and cell limits. Elements are matched by namespace, as Excel and LibreOffice match
them; a value is read only as they would show it (checked against LibreOffice:
``tests/test_resources.py``), or refused with its cell (:class:`Damaged`): a shared-string
index out of range, digits of other scripts, ``"2_4_0"``, an unknown cell type.
:class:`StringsHandler` reads the shared strings. Both share :class:`Runs` (rich-text runs,
phonetic runs left out). :mod:`cipmodel.io.xlsx_sheets` drives them.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import math
import re
from bisect import bisect_right
from typing import IO, Any, NamedTuple

from openpyxl.utils import column_index_from_string, get_column_letter
from openpyxl.utils.datetime import from_excel, from_ISO8601

from cipmodel.io.xlsx import MAIN_NS, MAX_CELLS, MAX_ROWS, expat_parser

__all__ = [
    "ELEMENTS_PER_CELL",
    "MAX_COL",
    "MAX_ROW",
    "Cell",
    "Damaged",
    "Hidden",
    "OverLimit",
    "Runs",
    "SheetEnd",
    "SheetHandler",
    "StringsHandler",
    "parse_part",
]


class Cell(NamedTuple):
    """One non-empty cell as saved: its value, or why it has none.

    ``kind`` is ``"value"`` (``value`` is text, a number, a bool or a date), ``"error"``
    (``value`` is the error shown, e.g. ``#DIV/0!``) or ``"nocache"`` (a formula saved
    without its result). ``formula`` is the formula text, or None.
    """

    value: Any
    kind: str = "value"
    formula: str | None = None


class Hidden:
    """The rows and columns a sheet hides (``<row hidden="1">``, ``<col hidden="1">``: hidden
    by hand, by a filter or in a collapsed group), as sorted ``(first, last)`` ranges: a
    range per run of consecutive hidden rows, never a row each."""

    __slots__ = ("cols", "rows")

    def __init__(self) -> None:
        self.rows: list[tuple[int, int]] = []
        self.cols: list[tuple[int, int]] = []

    @staticmethod
    def _add(ranges: list[tuple[int, int]], first: int, last: int) -> None:
        if ranges and ranges[-1][0] <= first <= ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], last))
        else:
            ranges.append((first, last))

    def add_row(self, row: int) -> None:
        """Row ``row`` is hidden (rows come in order in a sheet part). The handler adds
        only rows holding a value, so the ranges never outnumber the rows it keeps."""
        self._add(self.rows, row, row)

    def add_cols(self, first: int, last: int) -> None:
        """Columns ``first`` to ``last`` are hidden. The ranges are merged whenever they
        pass 2 x 16,384 (then at most 8,192 remain): millions of ``<col>`` elements in any
        order take bounded memory."""
        self._add(self.cols, first, last)
        if len(self.cols) > 2 * MAX_COL:
            self.cols = self._merged(self.cols)

    @staticmethod
    def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
        merged: list[tuple[int, int]] = []
        for a, b in sorted(ranges):
            Hidden._add(merged, a, b)
        return merged

    @staticmethod
    def _among(ranges: list[tuple[int, int]], items: list[int]) -> list[int]:
        """Those of ``items`` inside one of ``ranges``, in their order."""
        if not ranges:
            return []
        merged = Hidden._merged(ranges)
        starts = [a for a, _b in merged]
        out = []
        for i in items:
            k = bisect_right(starts, i) - 1
            if k >= 0 and i <= merged[k][1]:
                out.append(i)
        return out

    def rows_among(self, rows: list[int]) -> list[int]:
        """Those of ``rows`` that are hidden, in their order."""
        return self._among(self.rows, rows)

    def cols_among(self, cols: list[int]) -> list[int]:
        """Those of ``cols`` that are hidden, in their order."""
        return self._among(self.cols, cols)


def _true(value: str | None) -> bool:
    """An XML boolean attribute that is set (``"1"`` or ``"true"``)."""
    return value is not None and value.strip() in ("1", "true")


class SheetEnd(Exception):
    """Raised by the sheet handler at the end of ``sheetData``: nothing more is needed."""


class OverLimit(Exception):
    """Raised by a handler when a part holds more rows, cells or texts than allowed."""


class Damaged(Exception):
    """Raised by the sheet handler for a cell no spreadsheet application would show as its
    saved text says: ``where`` is the cell (or row), ``why`` says what is wrong."""

    def __init__(self, where: str, why: str) -> None:
        super().__init__(f"{where}: {why}")
        self.where = where
        self.why = why


def _q(local: str) -> str:
    """An element's name as the namespace-aware parser gives it."""
    return f"{MAIN_NS}}}{local}"


_C, _ROW, _V, _F, _IS, _T, _RPH, _SI, _SHEET_DATA, _COL = map(
    _q, ("c", "row", "v", "f", "is", "t", "rPh", "si", "sheetData", "col")
)
#: The names the handlers look for, passed to them as these very strings (a parser's
#: ``intern``: matched by identity first, as ``==`` tries before comparing characters).
_NAMES = {n: n for n in (_C, _ROW, _V, _F, _IS, _T, _RPH, _SI, _SHEET_DATA, _COL)}
MAX_ROW, MAX_COL = 1_048_576, 16_384  # the largest sheet Excel and LibreOffice open
_CELL_TYPES = frozenset({"n", "s", "str", "inlineStr", "b", "e", "d"})
_REF = re.compile(r"\s*([A-Za-z]{1,3})([0-9]{1,7})\s*")  # fullmatch: linear, bounded
_REF_MATCH = _REF.fullmatch
#: The elements a sheet part may hold, per cell the limit allows (a cell with a value is
#: two or three: <c>, <v> or <c>, <is>, <t>; streaming one costs about a microsecond).
ELEMENTS_PER_CELL = 4


_new_cell = tuple.__new__  # Cell(value, kind, formula) without a call of Cell.__new__


def _number(text: str) -> int | float:
    """A number as a spreadsheet application saves it (``<v>``): ASCII digits, an optional
    sign, point and exponent, surrounding spaces; anything else is ValueError.

    Python's own ``int``/``float`` read more than any spreadsheet writes or LibreOffice
    reads: ``"2_4_0"`` as 240 (LibreOffice: 2), Arabic-Indic or fullwidth digits as their
    values (LibreOffice: 0), ``"nan"`` and ``"inf"``; those are refused here.
    """
    if not text.isascii() or "_" in text:
        raise ValueError(text)
    if "." in text or "e" in text or "E" in text:
        x = float(text)
        if not math.isfinite(x):
            raise ValueError(text)
        return x
    return int(text)


class Runs:
    """The text of rich-text runs (``<t>``) inside a string item (``<si>`` of the shared
    strings, ``<is>`` of an inline string), phonetic runs (``<rPh>``) left out, as Excel,
    LibreOffice and openpyxl show them. Shared by both handlers."""

    def __init__(self) -> None:
        self.parts: list[str] | None = None  # runs of the item being read, or None
        self.text: list[str] | None = None  # characters of the element being read
        self.phonetic = 0

    def characters(self, content: str) -> None:
        if self.text is not None:
            self.text.append(content)

    def start_run(self, name: str) -> None:
        if name == _T:
            if self.parts is not None and not self.phonetic:
                self.text = []
        elif name == _RPH:
            self.phonetic += 1

    def end_run(self, name: str) -> None:
        if name == _T:
            if self.text is not None and self.parts is not None:
                self.parts.append("".join(self.text))
            self.text = None
        elif name == _RPH:
            self.phonetic -= 1

    def item(self) -> str:
        """The runs of the item just ended, joined; the item is closed."""
        text = "".join(self.parts or ())
        self.parts = None
        return text


class StringsHandler(Runs):
    """Handler for the shared strings part: one string per ``<si>``, as openpyxl reads them
    but several times faster, refusing more than ``limit`` strings (a 2.5 MB file can hold a
    million)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.strings: list[str] = []
        self._left = limit

    def start(self, name: str, _attrs: dict[str, str]) -> None:
        if name == _SI:
            self.parts = []
        else:
            self.start_run(name)

    def end(self, name: str) -> None:
        if name == _SI:
            self._left -= 1
            if self._left < 0:
                raise OverLimit("strings")
            # openpyxl's reading of the escaped underscore (_x005F_), kept for equal results
            self.strings.append(self.item().replace("x005F_", ""))
        else:
            self.end_run(name)


class SheetHandler(Runs):
    """Handler collecting the cells of one worksheet part: {row: {column: Cell}}.

    One pass reads both views of a cell: the formula (``<f>``) and the value the
    spreadsheet application saved with it (``<v>``), so a formula saved without a value is
    told apart from a blank cell. Elements are matched by namespace, as Excel and
    LibreOffice match them: a ``<c>`` in another namespace is not a cell. A value no
    spreadsheet application would show as saved (a shared-string index out of range, a
    number in other digits, an unknown cell type...) raises :class:`Damaged`.
    """

    def __init__(
        self,
        strings: list[str],
        date_styles: set[str],
        timedelta_styles: set[str],
        epoch: _dt.datetime,
        max_rows: int = MAX_ROWS,
        max_cells: int = MAX_CELLS,
    ) -> None:
        super().__init__()
        self.rows: dict[int, dict[int, Cell]] = {}
        self.hidden = Hidden()
        self._hidden_row = 0  # the row being read, if its <row> is hidden
        self._max_rows = max_rows
        self._cells_left = max_cells
        # every element counts (empty cells and rows too): a part of millions of empty
        # elements is refused, not streamed for minutes
        self._elements_left = ELEMENTS_PER_CELL * max_cells
        self._strings = strings
        self._date_styles = date_styles
        self._timedelta_styles = timedelta_styles
        self._epoch = epoch
        self._row = 0
        self._col = 0
        self._cell: tuple[int, int, str, str | None] | None = None
        self._v: str | None = None
        self._f: str | None = None
        self._f_attrs: tuple[str | None, str | None] = (None, None)
        self._shared: dict[str, str] = {}

    @property
    def where(self) -> str:
        """The cell being read (``B7``)."""
        return f"{get_column_letter(min(max(self._col, 1), MAX_COL))}{self._row}"

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self._elements_left -= 1
        if self._elements_left < 0:
            raise OverLimit("elements")
        # the commonest first: <c>, then an inline string's <is><t>, then <v>
        if name == _C:
            self._start_cell(attrs)
        elif name == _IS:
            self.parts = []
        elif name == _T:
            if self.parts is not None and not self.phonetic:
                self.text = []
        elif name == _V:
            self.text = []
        elif name == _ROW:
            self._start_row(attrs)
        elif name == _F:
            self.text = []
            self._f_attrs = (attrs.get("t"), attrs.get("si"))
        elif name == _COL:
            self._start_col(attrs)
        else:
            self.start_run(name)

    @property
    def between_elements(self) -> bool:
        """Whether no text, string item or phonetic run is open (so character data between
        elements is ignored): where :mod:`cipmodel.io.xlsx_scan` may take over."""
        return self.text is None and self.parts is None and not self.phonetic

    def plain_row(self, attrs: dict[str, str]) -> None:
        """A ``<row>`` element's start, as the parser's event for it gives it."""
        self._elements_left -= 1
        if self._elements_left < 0:
            raise OverLimit("elements")
        self._start_row(attrs)

    def plain_cell(
        self,
        letters: str,
        digits: str,
        style: str | None,
        t: str | None,
        v: str | None,
        text: str | None,
    ) -> None:
        """A ``<c r="{letters}{digits}" s="{style}" t="{t}">`` element (``s`` and ``t`` None
        if absent) holding ``<v>v</v>``, an inline string of one run ``text`` or nothing,
        as the parser's events for its elements give it, for a caller that read them itself
        (:mod:`cipmodel.io.xlsx_scan`). A plain text or number is read here in fewer steps;
        any other cell through the events' own steps."""
        self._elements_left -= 1 if v is None and text is None else (2 if text is None else 3)
        if self._elements_left < 0:
            raise OverLimit("elements")
        col = column_index_from_string(letters)
        row = int(digits)
        if (
            not (col <= MAX_COL and 1 <= row <= MAX_ROW)
            or (t is not None and t != "n" and t != "inlineStr" and t != "s")
            or (style is not None and style in self._date_styles)
            or (
                t == "s" and v and not (v.isascii() and v.isdigit() and int(v) < len(self._strings))
            )
        ):
            self._event_cell(letters + digits, style, t, v, text)
            return
        self._row, self._col = row, col
        # as _end_cell and _value read them: the runs of an inline string (the value
        # ignored), a shared text by its index, a number (the runs ignored); none is kept
        # if it reads as blank
        if t == "inlineStr":
            if not text:
                return
            cell = _new_cell(Cell, (text, "value", None))
        elif not v:
            return
        elif t == "s":
            shared = self._strings[int(v)]
            if not shared:
                return
            cell = _new_cell(Cell, (shared, "value", None))
        else:
            cell = _new_cell(Cell, (_number(v), "value", None))
        kept = self.rows.get(row)
        if kept is None or self._cells_left <= 0:
            self._keep(row, col, cell)  # a new row, or the cell limit reached: checked there
        else:
            self._cells_left -= 1
            kept[col] = cell

    def _event_cell(
        self, ref: str, style: str | None, t: str | None, v: str | None, text: str | None
    ) -> None:
        """A cell read by the parser's events' own steps (:meth:`plain_cell`)."""
        attrs = {"r": ref}
        attrs.update({k: a for k, a in (("s", style), ("t", t)) if a is not None})
        self._start_cell(attrs)
        self._v = v
        if text is not None:
            self.parts = [text]
        self._end_cell()

    def _start_row(self, attrs: dict[str, str]) -> None:
        r = attrs.get("r")
        if r is None:
            self._row += 1
        else:
            text = r.strip()
            if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_ROW):
                raise Damaged(f"row {r[:20]!r}", f"not a row number from 1 to {MAX_ROW:,}")
            self._row = int(text)
        self._col = 0
        # noted only once the row holds a value (below): empty hidden rows cost nothing
        self._hidden_row = self._row if _true(attrs.get("hidden")) else 0

    def _start_col(self, attrs: dict[str, str]) -> None:
        """A ``<col>`` of ``<cols>`` (before the cells): note the columns it hides; a range
        that is not one is ignored, as it changes no value read."""
        if not _true(attrs.get("hidden")):
            return
        first, last = (attrs.get(k, "").strip() for k in ("min", "max"))
        if all(t.isascii() and t.isdigit() and len(t) <= 7 for t in (first, last)):
            a, b = int(first), min(int(last), MAX_COL)
            if 1 <= a <= b:
                self.hidden.add_cols(a, b)

    def _start_cell(self, attrs: dict[str, str]) -> None:
        ref = attrs.get("r")
        if ref:
            m = _REF_MATCH(ref)
            if m is None:
                col = row = 0
            else:
                col = column_index_from_string(m[1])  # any case; cached by openpyxl
                row = int(m[2])
            if not (1 <= col <= MAX_COL and 1 <= row <= MAX_ROW):
                shown = ref[:20]
                raise Damaged(
                    f"cell {shown!r}", "not a cell reference inside a sheet (A1 to XFD1048576)"
                )
        else:
            col, row = self._col + 1, max(self._row, 1)
            if col > MAX_COL:
                raise Damaged(f"row {row}", f"more than {MAX_COL:,} cells")
        self._row, self._col = row, col
        t = attrs.get("t", "n")
        if t not in _CELL_TYPES:
            raise Damaged(self.where, f"unknown cell type {t[:20]!r}")
        self._cell = (row, col, t, attrs.get("s"))
        self._v = self._f = None
        self.parts = None

    def end(self, name: str) -> None:
        # as start: the commonest first. The runs of <is> stay in self.parts until the
        # cell ends.
        if name == _C:
            self._end_cell()
        elif name == _T:
            text = self.text
            if text is not None and self.parts is not None:
                self.parts.append("".join(text))
            self.text = None
        elif name == _IS:
            return
        elif name == _V:
            if self.text is not None:
                self._v = "".join(self.text)
            self.text = None
        elif name == _F:
            if self.text is not None:
                self._end_formula("".join(self.text))
            self.text = None
        elif name == _SHEET_DATA:
            raise SheetEnd
        else:
            self.end_run(name)

    def _end_formula(self, text: str) -> None:
        ftype, si = self._f_attrs
        if ftype == "shared" and si is not None:
            if text:
                self._shared[si] = text
            else:
                text = self._shared.get(si, "")
        self._f = "=" + text

    def _value(self, t: str, v: str | None, style: str | None) -> Any:
        """The value of a cell of type ``t`` saved as ``v`` (None: blank)."""
        if t == "s":
            if not v:
                return None
            index = v.strip()
            if not (index.isascii() and index.isdigit()) or int(index) >= len(self._strings):
                raise Damaged(
                    self.where,
                    f"refers to shared text {v[:20]!r}, but the workbook holds "
                    f"{len(self._strings):,} shared texts (numbered from 0)",
                )
            return self._strings[int(index)]
        if t == "inlineStr":
            return self.item()
        if t == "str":
            return v
        if not v:
            return None
        if t == "d":
            try:
                return from_ISO8601(v.strip())
            except (ValueError, TypeError):
                raise Damaged(
                    self.where, f"holds {v[:40]!r} saved as a date, which it is not"
                ) from None
        try:
            number = _number(v)
        except ValueError:
            what = "true/false value" if t == "b" else "number"
            raise Damaged(
                self.where, f"holds {v[:40]!r} saved as a {what}, which it is not"
            ) from None
        if t == "b":
            return number != 0  # as LibreOffice reads it: 2 is TRUE
        if style in self._date_styles:
            with contextlib.suppress(OverflowError, ValueError):
                return from_excel(number, self._epoch, timedelta=style in self._timedelta_styles)
        return number

    def _end_cell(self) -> None:
        assert self._cell is not None
        row, col, t, style = self._cell
        v, f = self._v, self._f
        value: Any
        if f is not None or t not in ("inlineStr", "n") or style in self._date_styles:
            if v is None and f is None and self.parts is None and t != "e":
                return  # an empty (formatted) cell: the common case of a formatted sheet
            if t == "e":
                cell = Cell(v or "#VALUE!", "error", f)
            elif f is not None and not v and t != "str":
                cell = Cell(None, "nocache", f)
            else:
                value = self._value(t, v, style)
                self.parts = None
                if value is None or value == "":
                    return
                cell = _new_cell(Cell, (value, "value", f))
        else:
            # the common cells, a typed text or number with no formula and no date style,
            # read as _value reads them (fewer steps; tests/test_resources.py checks both)
            if t == "n":
                if not v:
                    self.parts = None
                    return
                try:
                    value = _number(v)
                except ValueError:
                    raise Damaged(
                        self.where, f"holds {v[:40]!r} saved as a number, which it is not"
                    ) from None
            else:
                parts = self.parts
                value = "".join(parts) if parts else ""
                self.parts = None
                if not value:
                    return
            cell = _new_cell(Cell, (value, "value", None))
        self._keep(row, col, cell)

    def _keep(self, row: int, col: int, cell: Cell) -> None:
        """Keep a cell with a value, within the row and cell limits."""
        cells = self.rows.get(row)
        if cells is None:
            if len(self.rows) >= self._max_rows:
                raise OverLimit("rows")
            cells = self.rows[row] = {}
            if row == self._hidden_row:
                self.hidden.add_row(row)
        self._cells_left -= 1
        if self._cells_left < 0:
            raise OverLimit("cells")
        cells[col] = cell


def parse_part(fh: IO[bytes], handler: StringsHandler | SheetHandler) -> None:
    """Stream one part through ``handler`` (a namespace-aware expat parser, no DTD)."""
    parser = expat_parser(intern=dict(_NAMES))
    parser.StartElementHandler = handler.start
    parser.EndElementHandler = handler.end
    parser.CharacterDataHandler = handler.characters
    parser.ParseFile(fh)
