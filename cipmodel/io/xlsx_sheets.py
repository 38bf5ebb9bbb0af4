"""The sheets of an ``.xlsx`` workbook and the cells on them, read fast and within limits.

:class:`XlsxSheets` reads a workbook's structure with openpyxl's reader (sheet names and
parts, which cell styles are dates), then the shared strings and the cells of a sheet with
SAX handlers: several times faster than openpyxl's cell objects (a 9,000-scheme plan reads
in about a second), and each cell is seen both as its formula and as the value the
spreadsheet application saved with it, so a formula saved without a value is told apart
from a blank cell. Every part is parsed by ``defusedxml`` with DTDs forbidden; a part
holding more rows, cells or texts than the limits allow is refused while it is parsed.

The file, zip and XML checks that come first are in :mod:`cipmodel.io.xlsx`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import xml.sax.handler
import zipfile
from dataclasses import dataclass
from typing import Any, NamedTuple

import defusedxml.sax
from openpyxl.packaging.relationship import get_dependents, get_rels_path
from openpyxl.reader.excel import ExcelReader
from openpyxl.styles.stylesheet import apply_stylesheet
from openpyxl.utils import column_index_from_string, get_column_letter, range_boundaries
from openpyxl.utils.datetime import from_excel, from_ISO8601
from openpyxl.xml import functions as _xml
from openpyxl.xml.constants import SHARED_STRINGS

from cipmodel.errors import WorkbookError
from cipmodel.io.xlsx import LIMIT_ENV, MAX_CELLS, MAX_ROWS, Limits

__all__ = ["Cell", "SheetRef", "XlTableRef", "XlsxSheets"]


class Cell(NamedTuple):
    """One non-empty cell as saved: its value, or why it has none.

    ``kind`` is ``"value"`` (``value`` is text, a number, a bool or a date), ``"error"``
    (``value`` is the error shown, e.g. ``#DIV/0!``) or ``"nocache"`` (a formula saved
    without its result). ``formula`` is the formula text, or None.
    """

    value: Any
    kind: str = "value"
    formula: str | None = None


class _Done(Exception):
    """Raised by the sheet handler at the end of ``sheetData``: nothing more is needed."""


class _TooBig(Exception):
    """Raised by a SAX handler when a part holds more rows, cells or texts than allowed."""


class _StringsHandler(xml.sax.handler.ContentHandler):
    """SAX handler for the shared strings part: one string per ``<si>``, its rich-text runs
    joined and phonetic runs left out, as openpyxl reads them but five times faster, and
    refusing more than ``limit`` strings (a 2.5 MB file can hold a million)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.strings: list[str] = []
        self._left = limit
        self._local: dict[str, str] = {}
        self._parts: list[str] | None = None
        self._text: list[str] | None = None
        self._phonetic = 0

    def _tag(self, name: str) -> str:
        tag = self._local.get(name)
        if tag is None:
            tag = self._local[name] = name.rpartition(":")[2]
        return tag

    def startElement(self, name: str, attrs: Any) -> None:  # noqa: N802 (SAX API)
        tag = self._tag(name)
        if tag == "si":
            self._parts = []
        elif tag == "t" and self._parts is not None and not self._phonetic:
            self._text = []
        elif tag == "rPh":
            self._phonetic += 1

    def characters(self, content: str) -> None:
        if self._text is not None:
            self._text.append(content)

    def endElement(self, name: str) -> None:  # noqa: N802 (SAX API)
        tag = self._tag(name)
        if tag == "t" and self._text is not None:
            if self._parts is not None:
                self._parts.append("".join(self._text))
            self._text = None
        elif tag == "si":
            self._left -= 1
            if self._left < 0:
                raise _TooBig("strings")
            # openpyxl's reading of the escaped underscore (_x005F_), kept for equal results
            self.strings.append("".join(self._parts or ()).replace("x005F_", ""))
            self._parts = None
        elif tag == "rPh":
            self._phonetic -= 1


class _SheetHandler(xml.sax.handler.ContentHandler):
    """SAX handler collecting the cells of one worksheet part: {row: {column: Cell}}.

    One pass reads both views of a cell: the formula (``<f>``) and the value the
    spreadsheet application saved with it (``<v>``). This is several times faster than
    openpyxl's cell objects and makes a formula saved without a value easy to tell from a
    blank cell.
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
        self._max_rows = max_rows
        self._cells_left = max_cells
        self._strings = strings
        self._date_styles = date_styles
        self._timedelta_styles = timedelta_styles
        self._epoch = epoch
        self._local: dict[str, str] = {}
        self._row = 0
        self._col = 0
        self._cell: tuple[int, int, str, str | None] | None = None
        self._text: list[str] | None = None
        self._v: str | None = None
        self._f: str | None = None
        self._f_attrs: tuple[str | None, str | None] = (None, None)
        self._is: list[str] | None = None
        self._phonetic = 0
        self._shared: dict[str, str] = {}

    def _tag(self, name: str) -> str:
        tag = self._local.get(name)
        if tag is None:
            tag = self._local[name] = name.rpartition(":")[2]
        return tag

    def startElement(self, name: str, attrs: Any) -> None:  # noqa: N802 (SAX API)
        tag = self._tag(name)
        if tag == "c":
            ref = attrs.get("r")
            if ref:
                letters = ref.rstrip("0123456789")
                col = column_index_from_string(letters)
                row = int(ref[len(letters) :])
            else:
                col, row = self._col + 1, self._row
            self._col = col
            self._cell = (row, col, attrs.get("t", "n"), attrs.get("s"))
            self._v = self._f = None
            self._is = None
        elif tag == "row":
            r = attrs.get("r")
            self._row = int(r) if r else self._row + 1
            self._col = 0
        elif tag == "v":
            self._text = []
        elif tag == "f":
            self._text = []
            self._f_attrs = (attrs.get("t"), attrs.get("si"))
        elif tag == "is":
            self._is = []
        elif tag == "t" and self._is is not None and not self._phonetic:
            self._text = []
        elif tag == "rPh":
            self._phonetic += 1

    def characters(self, content: str) -> None:
        if self._text is not None:
            self._text.append(content)

    def endElement(self, name: str) -> None:  # noqa: N802 (SAX API)
        tag = self._tag(name)
        if tag == "c":
            self._end_cell()
        elif tag == "v" and self._text is not None:
            self._v = "".join(self._text)
            self._text = None
        elif tag == "f" and self._text is not None:
            text = "".join(self._text)
            self._text = None
            ftype, si = self._f_attrs
            if ftype == "shared" and si is not None:
                if text:
                    self._shared[si] = text
                else:
                    text = self._shared.get(si, "")
            self._f = "=" + text
        elif tag == "t" and self._text is not None and self._is is not None:
            self._is.append("".join(self._text))
            self._text = None
        elif tag == "rPh":
            self._phonetic -= 1
        elif tag == "sheetData":
            raise _Done

    def _end_cell(self) -> None:
        assert self._cell is not None
        row, col, t, style = self._cell
        v, f = self._v, self._f
        if t == "e":
            cell = Cell(v or "#VALUE!", "error", f)
        elif f is not None and not v and t != "str":
            cell = Cell(None, "nocache", f)
        else:
            value: Any = None
            if t == "s":
                value = self._strings[int(v)] if v else None
            elif t == "inlineStr":
                value = "".join(self._is or ())
            elif t == "str":
                value = v
            elif t == "b":
                value = v is not None and v.strip() in ("1", "true")
            elif t == "d":
                value = from_ISO8601(v) if v else None
            elif v:
                value = float(v) if ("." in v or "E" in v or "e" in v) else int(v)
                if style in self._date_styles:
                    with contextlib.suppress(OverflowError, ValueError):
                        value = from_excel(
                            value, self._epoch, timedelta=style in self._timedelta_styles
                        )
            if value is None or value == "":
                return
            cell = Cell(value, "value", f)
        cells = self.rows.get(row)
        if cells is None:
            if len(self.rows) >= self._max_rows:
                raise _TooBig("rows")
            cells = self.rows[row] = {}
        self._cells_left -= 1
        if self._cells_left < 0:
            raise _TooBig("cells")
        cells[col] = cell


class SheetRef(NamedTuple):
    """A sheet of the workbook: its name and its part in the zip."""

    title: str
    path: str


@dataclass(frozen=True)
class XlTableRef:
    """Where an Excel Table sits on a sheet (1-based, inclusive)."""

    name: str
    min_col: int
    min_row: int
    max_col: int
    max_row: int
    totals_rows: int

    @property
    def ref(self) -> str:
        return (
            f"{get_column_letter(self.min_col)}{self.min_row}:"
            f"{get_column_letter(self.max_col)}{self.max_row}"
        )


class XlsxSheets:
    """One workbook's sheets: their names and parts, their cells, their Excel Tables.

    Parameters
    ----------
    data : bytes
        The file, as read by :func:`cipmodel.io.xlsx.read_bytes`.
    zf : zipfile.ZipFile
        Its archive, as checked by :func:`cipmodel.io.xlsx.open_zip`.
    name : str
        The file name, for messages.
    limits : Limits, optional
        Row, cell and size limits (default: :meth:`Limits.resolve` of nothing given).
    """

    def __init__(
        self, data: bytes, zf: zipfile.ZipFile, name: str, limits: Limits | None = None
    ) -> None:
        self.zf = zf
        self.limits = limits or Limits.resolve(None, None, None)
        self.names = set(zf.namelist())
        self.name = name
        # openpyxl reads the workbook's structure: sheet names and parts, shared strings,
        # which styles are dates. Cells are read by _SheetHandler. Not load_workbook: in
        # read-only mode it parses every sheet that has no <dimension> to its end before a
        # cell is read (12 s for a million-row sheet, ahead of the row limit), and it reads
        # document properties, themes and defined names, which are not needed.
        reader = ExcelReader(
            io.BytesIO(data), read_only=True, keep_vba=False, data_only=True, keep_links=False
        )
        reader.read_manifest()
        self.strings = self._shared_strings(reader.package.find(SHARED_STRINGS))
        reader.read_workbook()
        apply_stylesheet(reader.archive, reader.wb)
        self.epoch: _dt.datetime = reader.wb.epoch
        self.sheets = [
            SheetRef(sheet.name, str(rel.target).lstrip("/"))
            for sheet, rel in reader.parser.find_sheets()
        ]
        self._date_styles = {str(i) for i in getattr(reader.wb, "_date_formats", ())}
        self._timedelta_styles = {str(i) for i in getattr(reader.wb, "_timedelta_formats", ())}
        reader.archive.close()

    @property
    def has_macros(self) -> bool:
        """Whether the workbook holds a VBA project (never run, never read)."""
        return any(n.lower().endswith("vbaproject.bin") for n in self.names)

    def _shared_strings(self, part: Any) -> list[str]:
        """The shared strings (none if the workbook has no such part)."""
        if part is None:
            return []
        handler = _StringsHandler(self.limits.max_cells)
        try:
            with self.zf.open(part.PartName.lstrip("/")) as fh:
                defusedxml.sax.parse(fh, handler, forbid_dtd=True)
        except _TooBig:
            msg = (
                f"{self.name} holds more than {self.limits.max_cells:,} different texts, more "
                "than a plan can have: refused. If the plan really is this big, set "
                f"{LIMIT_ENV['max_cells']} to raise the limit"
            )
            raise WorkbookError(msg) from None
        return handler.strings

    def _sheet_path(self, ws: SheetRef) -> str:
        path = ws.path
        if path not in self.names:
            msg = f"{self.name}: the part {path!r} of sheet '{ws.title}' is missing"
            raise WorkbookError(msg)
        return path

    def cells(self, ws: SheetRef) -> dict[int, dict[int, Cell]]:
        """Every non-empty cell of a sheet, parsed with defusedxml's SAX parser."""
        lim = self.limits
        handler = _SheetHandler(
            self.strings,
            self._date_styles,
            self._timedelta_styles,
            self.epoch,
            lim.max_rows,
            lim.max_cells,
        )
        try:
            with self.zf.open(self._sheet_path(ws)) as fh, contextlib.suppress(_Done):
                # no workbook part has a DTD: refuse any, and with it every entity trick
                defusedxml.sax.parse(fh, handler, forbid_dtd=True)
        except _TooBig as exc:
            what, limit, key = (
                ("rows", lim.max_rows, "max_rows")
                if str(exc) == "rows"
                else ("cells", lim.max_cells, "max_cells")
            )
            msg = (
                f"{self.name}: sheet '{ws.title}' has more than {limit:,} {what} with values, "
                f"more than a plan can have (a national plan has about 10,000 rows): refused. "
                f"If the plan really is this big, set {LIMIT_ENV[key]} to raise the limit"
            )
            raise WorkbookError(msg) from None
        return handler.rows

    def xl_tables(self, ws: SheetRef) -> list[XlTableRef]:
        """The Excel Tables on a sheet (with a header row), from the sheet's relationships."""
        rels_path = get_rels_path(self._sheet_path(ws))
        if rels_path not in self.names:
            return []
        out = []
        for rel in get_dependents(self.zf, rels_path):
            if rel.TargetMode == "External" or not str(rel.Type).endswith("/table"):
                continue
            if rel.target not in self.names:
                continue
            root = _xml.fromstring(self.zf.read(rel.target))
            try:
                min_col, min_row, max_col, max_row = range_boundaries(root.get("ref", ""))
                header_rows = int(root.get("headerRowCount", "1"))
                totals_rows = int(root.get("totalsRowCount", "0"))
            except (TypeError, ValueError):
                continue
            if header_rows < 1 or None in (min_col, min_row, max_col, max_row):
                continue
            name = root.get("displayName") or root.get("name") or "?"
            out.append(XlTableRef(name, min_col, min_row, max_col, max_row, totals_rows))
        return out
