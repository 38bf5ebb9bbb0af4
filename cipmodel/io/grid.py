"""Fast cells: the worksheets cipmodel fills itself, held as plain tuples and written
straight to the sheet's XML, every formula with its value.

openpyxl builds one Python object per cell (about 4 µs each) and serialises each through
an XML tree (about 15 µs), and it cannot save a formula's value at all: a viewer that does
not recalculate (a mail preview, a phone, ``pandas.read_excel``) then shows a blank cell.
So the sheets cipmodel writes itself (the result sheets, README and the input sheets) keep
their cells in a :class:`Grid` instead, one tuple per cell, and :class:`GridWorkbook` saves
in two steps:

1. openpyxl writes the package with those sheets' cells left out: everything else it does
   well and unchanged (styles, column widths, frozen panes, Excel Tables, data validations,
   charts, page setup, defined names, the user's own sheets when writing in place), into an
   uncompressed in-memory zip;
2. each grid's ``<sheetData>`` is written as text into its sheet's part (and the sheet's
   ``<dimension>`` set), formulas with their cached value (``<v>``: a number, or text with
   ``t="str"``, a boolean with ``t="b"``; never an error), and the parts are compressed
   once into the target file (in a second thread, while the next sheet is written).

Styles are openpyxl's own: :class:`StyleBook` gives the index of a cell format
(``cellXfs``) by applying the font, fill, number format... to a scratch openpyxl cell, so a
grid cell is styled exactly as the same openpyxl cell would be. Text is written as inline
strings, as openpyxl writes it.
"""

from __future__ import annotations

import io
import math
import os
import re
import zipfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import range_boundaries
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet.filters import AutoFilter
from openpyxl.worksheet.table import TableColumn
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from cipmodel.errors import WorkbookError

__all__ = [
    "EXACT_INT",
    "RISKY_START",
    "Grid",
    "GridWorkbook",
    "StyleBook",
    "grid_of",
    "grid_workbook",
    "xml_text",
]

#: The largest whole number a spreadsheet holds exactly (a double: 2**53); larger ones, such
#: as a simulation's seed, are written as text so that no digit is lost.
EXACT_INT = 2**53
#: Text that a spreadsheet could read as a formula: written with Excel's quote prefix.
RISKY_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ESCAPE = re.compile(r"[&<>\r]")
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"}
_SHEET_DATA = re.compile(rb"<sheetData\s*/>|<sheetData>\s*</sheetData>")
_DIMENSION = re.compile(rb'<dimension ref="[^"]*"\s*/>')
_DATE_FORMAT = "yyyy-mm-dd h:mm:ss"

# cell kinds
TEXT, NUMBER, BOOL, FORMULA, BLANK = "s", "n", "b", "f", "e"

#: One cell: (style index, kind, value, cached value of a formula or None).
Entry = tuple[int, str, Any, Any]


def xml_text(text: str) -> str:
    """``text`` escaped for an XML text node (``&``, ``<``, ``>``; CR kept as ``&#13;``)."""
    if _ESCAPE.search(text) is None:
        return text
    return _ESCAPE.sub(lambda m: _ESCAPES[m.group()], text)


def _number_text(x: float | int) -> str:
    """A number exactly as Python holds it (the shortest text that reads back bit for bit:
    ``800``, ``0.1``, ``392447.62356116174``)."""
    if type(x) is not float:
        return str(int(x))
    text = repr(x)
    return text[:-2] if text.endswith(".0") else text


class StyleBook:
    """The workbook's cell formats (``cellXfs``) by what they apply, added on first use.

    :meth:`id` applies a named style and/or a font, fill, alignment and number format to a
    scratch openpyxl cell and returns the index openpyxl gives that format, so grid cells
    are styled exactly as openpyxl cells would be.
    """

    def __init__(self, wb: Workbook) -> None:
        self.wb = wb
        self._scratch = Worksheet(wb)  # not added to the workbook
        self._ids: dict[tuple[Any, ...], int] = {}
        self._quoted: dict[int, int] = {}
        #: text already checked -> whether it starts like a formula
        self.texts: dict[str, bool] = {}

    def id(
        self,
        named: str | None = None,
        *,
        font: Any = None,
        fill: Any = None,
        alignment: Any = None,
        number_format: str | None = None,
    ) -> int:
        """The index of the cell format with these attributes (0: the default)."""
        key = (named, font, fill, alignment, number_format)
        sid = self._ids.get(key)
        if sid is None:
            cell = Cell(self._scratch)
            if named is not None:
                cell.style = named
            if font is not None:
                cell.font = font
            if fill is not None:
                cell.fill = fill
            if alignment is not None:
                cell.alignment = alignment
            if number_format is not None:
                cell.number_format = number_format
            sid = int(cell.style_id)
            self._ids[key] = sid
        return sid

    def quoted(self, sid: int) -> int:
        """Format ``sid`` with Excel's quote prefix (the cell stays text when edited)."""
        q = self._quoted.get(sid)
        if q is None:
            arr = StyleArray(self.wb._cell_styles[sid])  # noqa: SLF001 - openpyxl's cellXfs
            arr.quotePrefix = 1
            q = self._quoted[sid] = int(self.wb._cell_styles.add(arr))  # noqa: SLF001
        return q


class Grid:
    """The cells of one worksheet, as tuples: ``rows[row][column] = (style, kind, value,
    cached)``. The writers (:meth:`text`, :meth:`number`, :meth:`value`, :meth:`formula`,
    :meth:`blank`) follow :func:`cipmodel.io.cells.set_value`'s rules."""

    __slots__ = ("rows", "styles", "title")

    def __init__(self, title: str, styles: StyleBook) -> None:
        self.title = title
        self.styles = styles
        self.rows: dict[int, dict[int, Entry]] = {}

    def _put(self, row: int, col: int, entry: Entry) -> None:
        cells = self.rows.get(row)
        if cells is None:
            cells = self.rows[row] = {}
        cells[col] = entry

    def text(self, row: int, col: int, text: str, style: int = 0) -> None:
        """Text, never a formula: control characters refused, a formula-like start quoted;
        empty text leaves the cell blank."""
        if not text:
            self.blank(row, col, style)
            return
        risky = self.styles.texts.get(text)  # codes, names and labels repeat: check once
        if risky is None:
            if _XML_ILLEGAL.search(text):
                ref = f"{get_column_letter(col)}{row}"
                msg = f"cannot write {text[:40]!r} to cell {ref}: it holds control characters"
                raise WorkbookError(msg)
            risky = self.styles.texts[text] = text.startswith(RISKY_START)
        if risky:
            style = self.styles.quoted(style)
        cells = self.rows.get(row)
        if cells is None:
            cells = self.rows[row] = {}
        cells[col] = (style, TEXT, text, None)

    def number(self, row: int, col: int, x: float | int, style: int = 0) -> None:
        """A number (exact); NaN leaves the cell blank (styled), infinities are text, and so
        are whole numbers beyond :data:`EXACT_INT` (a spreadsheet would round them)."""
        if type(x) is int and not -EXACT_INT <= x <= EXACT_INT:
            self.text(row, col, str(x), style)
            return
        if type(x) is float and not math.isfinite(x):
            if math.isnan(x):
                self.blank(row, col, style)
            else:
                self.text(row, col, "inf" if x > 0 else "-inf", style)
            return
        cells = self.rows.get(row)
        if cells is None:
            cells = self.rows[row] = {}
        cells[col] = (style, NUMBER, x, None)

    def value(self, row: int, col: int, v: Any, style: int = 0, *, yes_no: bool = False) -> None:
        """Any value: None blank, bool TRUE/FALSE (Y/N text with ``yes_no``), text as text,
        numbers exact, dates as Excel serial numbers with a date format."""
        if v is None:
            self.blank(row, col, style)
        elif isinstance(v, bool):
            if yes_no:
                self.text(row, col, "Y" if v else "N", style)
            else:
                self._put(row, col, (style, BOOL, v, None))
        elif isinstance(v, str):
            self.text(row, col, v, style)
        elif isinstance(v, int):
            if -EXACT_INT <= v <= EXACT_INT:
                self._put(row, col, (style, NUMBER, int(v), None))
            else:  # a spreadsheet holds numbers as doubles: a 64-bit seed would be rounded
                self.text(row, col, str(int(v)), style)
        elif isinstance(v, float):
            self.number(row, col, float(v), style)
        elif hasattr(v, "isoformat"):  # date, datetime or time
            if getattr(v, "tzinfo", None) is not None:
                v = v.replace(tzinfo=None)
            if style == 0:
                style = self.styles.id(number_format=_DATE_FORMAT)
            self._put(row, col, (style, NUMBER, float(to_excel(v)), None))
        else:
            self.text(row, col, str(v), style)

    def formula(self, row: int, col: int, text: str, cached: Any, style: int = 0) -> None:
        """A formula (``=...``) and its value as the engine computed it (None: no value)."""
        self._put(row, col, (style, FORMULA, text, cached))

    def blank(self, row: int, col: int, style: int) -> None:
        """An empty cell with a format (nothing at all for the default format)."""
        if style:
            self._put(row, col, (style, BLANK, None, None))

    # -- reading back ---------------------------------------------------------------
    def get(self, row: int, col: int) -> Any:
        """The value written to a cell (a formula's text for a formula), or None."""
        entry = self.rows.get(row, {}).get(col)
        return None if entry is None else entry[2]

    def bounds(self) -> tuple[int, int, int, int]:
        """(first row, first column, last row, last column); (1, 1, 1, 1) when empty."""
        if not self.rows:
            return 1, 1, 1, 1
        cols = [c for cells in self.rows.values() for c in cells] or [1]
        return min(self.rows), min(cols), max(self.rows), max(cols)

    @property
    def max_row(self) -> int:
        return max(self.rows, default=1)

    @property
    def max_column(self) -> int:
        return max((max(c) for c in self.rows.values() if c), default=1)

    # -- XML --------------------------------------------------------------------------
    def sheet_data(self, row_attrs: dict[int, dict[str, str]]) -> str:
        """The ``<sheetData>`` element; ``row_attrs``: row heights and such, by row."""
        letters = [""] + [get_column_letter(j) for j in range(1, self.max_column + 1)]
        out = ["<sheetData>"]
        append = out.append
        styles: dict[int, str] = {0: ""}
        texts: dict[str, str] = {}  # text -> its <is> element (codes, names repeat)
        for r in sorted(self.rows.keys() | row_attrs.keys()):
            attrs = "".join(f' {k}="{v}"' for k, v in row_attrs.get(r, {}).items())
            cells = self.rows.get(r)
            if not cells:
                append(f'<row r="{r}"{attrs}/>')
                continue
            append(f'<row r="{r}"{attrs}>')
            rs = str(r)
            for c in sorted(cells):
                entry = cells[c]
                style, kind, value = entry[0], entry[1], entry[2]
                s = styles.get(style)
                if s is None:
                    s = styles[style] = f' s="{style}"'
                if kind == NUMBER:  # the common case, inline
                    if type(value) is float:
                        v = repr(value)
                        if v[-2:] == ".0":
                            v = v[:-2]
                    else:
                        v = str(value)
                    append(f'<c r="{letters[c]}{rs}"{s} t="n"><v>{v}</v></c>')
                elif kind == TEXT:
                    t = texts.get(value)
                    if t is None:
                        t = texts[value] = _inline_string(value)
                    append(f'<c r="{letters[c]}{rs}"{s} t="inlineStr">{t}</c>')
                else:
                    append(_cell_xml(letters[c] + rs, s, entry))
            append("</row>")
        append("</sheetData>")
        return "".join(out)


def _cell_xml(ref: str, s: str, entry: Entry) -> str:
    """One cell's XML; ``s`` is its style attribute (``' s="3"'`` or empty)."""
    _style, kind, value, cached = entry
    if kind == NUMBER:
        return f'<c r="{ref}"{s} t="n"><v>{_number_text(value)}</v></c>'
    if kind == TEXT:
        return f'<c r="{ref}"{s} t="inlineStr">{_inline_string(value)}</c>'
    if kind == FORMULA:
        f = xml_text(value[1:])
        if cached is None:
            return f'<c r="{ref}"{s}><f>{f}</f></c>'
        if isinstance(cached, str):
            return f'<c r="{ref}"{s} t="str"><f>{f}</f><v>{xml_text(cached)}</v></c>'
        if isinstance(cached, bool):
            return f'<c r="{ref}"{s} t="b"><f>{f}</f><v>{int(cached)}</v></c>'
        return f'<c r="{ref}"{s}><f>{f}</f><v>{_number_text(cached)}</v></c>'
    if kind == BOOL:
        return f'<c r="{ref}"{s} t="b"><v>{int(value)}</v></c>'
    return f'<c r="{ref}"{s}/>'


def _inline_string(text: str) -> str:
    """``<is><t>text</t></is>``, spaces at either end kept."""
    space = ' xml:space="preserve"' if text != text.strip() and text.strip() else ""
    return f"<is><t{space}>{xml_text(text)}</t></is>"


class GridWorkbook(Workbook):
    """An openpyxl workbook whose sheets listed in :attr:`grids` keep their cells in a
    :class:`Grid`; :meth:`save` writes both (see the module docstring).

    A workbook loaded by openpyxl (writing in place) becomes one with :func:`grid_workbook`.
    """

    grids: dict[str, Grid]
    styles: StyleBook
    #: sheet title -> a function applied to the sheet's XML as openpyxl writes it (the
    #: user's sheets carried into a results workbook: :mod:`cipmodel.io.carry`)
    patches: dict[str, Callable[[bytes], bytes]]
    #: zlib level of the saved package: 3 writes 3x faster than zlib's default 6 (which
    #: openpyxl uses) for a file about a tenth larger
    compresslevel: int = 3

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.grids = {}
        self.styles = StyleBook(self)
        self.patches = {}

    def grid_sheet(self, title: str, index: int | None = None) -> tuple[Any, Grid]:
        """A new worksheet whose cells are kept in a grid: (worksheet, grid)."""
        ws = self.create_sheet(title, index)
        grid = self.grids[ws.title] = Grid(ws.title, self.styles)
        return ws, grid

    def grid(self, ws: Any) -> Grid:
        """The grid of worksheet ``ws`` (KeyError if it is a plain openpyxl sheet)."""
        return self.grids[ws.title]

    def remove(self, worksheet: Any) -> None:
        self.grids.pop(worksheet.title, None)
        super().remove(worksheet)

    def save(self, filename: str | os.PathLike[str] | IO[bytes]) -> None:
        """Write the workbook, grid cells and formula values included."""
        save_grid_workbook(self, filename)


def grid_of(ws: Any) -> Grid:
    """The grid holding the cells of worksheet ``ws`` of a :class:`GridWorkbook`."""
    return ws.parent.grids[ws.title]


def grid_workbook(wb: Workbook) -> GridWorkbook:
    """Make an openpyxl workbook (e.g. one just loaded) a :class:`GridWorkbook` in place."""
    if not isinstance(wb, GridWorkbook):
        wb.__class__ = GridWorkbook
        wb.grids = {}
        wb.styles = StyleBook(wb)
        wb.patches = {}
    return wb


def save_grid_workbook(wb: GridWorkbook, filename: str | os.PathLike[str] | IO[bytes]) -> None:
    """Save ``wb``: openpyxl writes all but the grid cells, then the grids are written in."""
    sheets = [ws for ws in wb.worksheets if ws.title in wb.grids]
    stash: list[tuple[Any, dict[int, Any]]] = []
    for ws in sheets:
        if ws._cells:  # noqa: SLF001 - a grid sheet must not also hold openpyxl cells
            msg = f"sheet {ws.title!r} holds openpyxl cells as well as grid cells"
            raise RuntimeError(msg)
        _name_table_columns(ws, wb.grids[ws.title])
    row_attrs = {
        ws.title: {r: dict(d) for r, d in ws.row_dimensions.items() if dict(d)} for ws in sheets
    }
    buf = io.BytesIO()
    try:
        for ws in sheets:  # the grid writes the rows: openpyxl would write one per dimension
            stash.append((ws, dict(ws.row_dimensions)))
            ws.row_dimensions.clear()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            ExcelWriter(wb, archive).write_data()
    finally:
        for ws, dims in stash:
            ws.row_dimensions.update(dims)
    parts = {ws.path.lstrip("/"): ws.title for ws in sheets}
    patched = {ws.path.lstrip("/"): wb.patches[ws.title] for ws in wb if ws.title in wb.patches}

    def transform(name: str, data: bytes) -> bytes:
        patch = patched.get(name)
        return patch(data) if patch is not None else _fill(wb, parts, name, data, row_attrs)

    _repack(buf, filename, wb.compresslevel, transform)


def _fill(
    wb: GridWorkbook,
    parts: dict[str, str],
    name: str,
    data: bytes,
    row_attrs: dict[str, dict[int, dict[str, str]]],
) -> bytes:
    """A sheet part with its grid's cells written in (other parts unchanged)."""
    title = parts.get(name)
    if title is None:
        return data
    grid = wb.grids[title]
    body = grid.sheet_data(row_attrs[title]).encode("utf-8")
    r0, c0, r1, c1 = grid.bounds()
    ref = f"{get_column_letter(c0)}{r0}:{get_column_letter(c1)}{r1}".encode()
    data = _DIMENSION.sub(b'<dimension ref="' + ref + b'"/>', data, count=1)
    head, n = _SHEET_DATA.subn(b"\0", data, count=1)
    if n != 1:  # pragma: no cover - openpyxl always writes an empty sheetData
        msg = f"no sheetData in {name}"
        raise RuntimeError(msg)
    before, after = head.split(b"\0", 1)
    return before + body + after


def _repack(
    buf: io.BytesIO,
    filename: str | os.PathLike[str] | IO[bytes],
    level: int,
    transform: Callable[[str, bytes], bytes],
) -> None:
    """Copy the uncompressed package to ``filename``, compressed, each part transformed.

    A second thread compresses and writes each part while this one writes the cells of
    the next (zlib releases the interpreter lock): on two cores the compression is free.
    """
    buf.seek(0)
    with (
        zipfile.ZipFile(buf) as src,
        zipfile.ZipFile(
            filename, "w", zipfile.ZIP_DEFLATED, allowZip64=True, compresslevel=level
        ) as out,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        pending: Future[None] | None = None
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            zi.compress_type = zipfile.ZIP_DEFLATED
            data = transform(info.filename, src.read(info))
            if pending is not None:
                pending.result()
            pending = pool.submit(out.writestr, zi, data, zipfile.ZIP_DEFLATED, level)
        if pending is not None:
            pending.result()


def _name_table_columns(ws: Any, grid: Grid) -> None:
    """Give each Excel Table on a grid sheet its column names from the grid's header row
    (openpyxl would read them from its own cells, which a grid sheet does not have)."""
    for table in ws.tables.values():
        if table.tableColumns:
            continue
        c0, r0, c1, _r1 = _bounds(table.ref)
        for j in range(c0, c1 + 1):
            head = grid.get(r0, j) if table.headerRowCount else None
            table.tableColumns.append(TableColumn(id=j, name=str(head or f"Column{j}")))
        if table.headerRowCount and not table.autoFilter:
            table.autoFilter = AutoFilter(ref=table.ref)


def _bounds(ref: str) -> tuple[int, int, int, int]:
    c0, r0, c1, r1 = range_boundaries(ref)
    return int(c0), int(r0), int(c1), int(r1)
