"""The sheets of an ``.xlsx`` workbook and the cells on them, read fast and within limits.

:class:`XlsxSheets` reads a workbook's structure with openpyxl's reader (sheet names and
parts, which cell styles are dates), then the shared strings and the cells of a sheet with
expat handlers (:mod:`cipmodel.io.xlsx_cells`): several times faster than openpyxl's cell
objects, and each cell is seen both as its formula and as the value the spreadsheet
application saved with it, so a formula saved without a value is told apart from a blank
cell. A sheet in the plain form Excel, LibreOffice and openpyxl write (no formulas, no
rich text) is read faster still, by :mod:`cipmodel.io.xlsx_scan`, into the same handler;
any other is left to expat (a 9,000-scheme plan reads in about half a second). Every part
is parsed by expat with a DTD, entity declarations and external references refused (as
``defusedxml`` does with ``forbid_dtd``); a part holding more rows, cells, texts or entries
than the limits allow is refused while it is streamed, before openpyxl builds a tree of it.
Elements are matched by namespace, and a value is read only as Excel and LibreOffice would
show it, or refused naming its sheet and cell.

The file, zip and XML checks that come first are in :mod:`cipmodel.io.xlsx`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import unicodedata
import zipfile
from dataclasses import dataclass
from typing import Any, NamedTuple
from xml.parsers.expat import ExpatError

from openpyxl.packaging.relationship import get_dependents, get_rels_path
from openpyxl.reader.excel import ExcelReader
from openpyxl.styles.stylesheet import apply_stylesheet
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.xml import functions as _xml
from openpyxl.xml.constants import SHARED_STRINGS, XLSM, XLSX, XLTM, XLTX

from cipmodel.errors import WorkbookError
from cipmodel.io.xlsx import LIMIT_DEFAULTS, LIMIT_ENV, Limits, PartTooBig, census
from cipmodel.io.xlsx_cells import (
    ELEMENTS_PER_CELL,
    Cell,
    Damaged,
    Hidden,
    OverLimit,
    SheetEnd,
    SheetHandler,
    StringsHandler,
    parse_part,
)
from cipmodel.io.xlsx_scan import SCAN_MAX_BYTES, scan_sheet

__all__ = ["Cell", "Hidden", "SheetRef", "XlTableRef", "XlsxSheets"]


class SheetRef(NamedTuple):
    """A sheet of the workbook: its name, its part in the zip and whether it is shown
    (``"visible"``, ``"hidden"``, or ``"veryHidden"``: listed nowhere in Excel)."""

    title: str
    path: str
    state: str = "visible"


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


_WORKBOOK_TYPES = (XLTM, XLTX, XLSM, XLSX)
#: Elements of the styles part counted against ``max_styles`` (one entry of a list each).
_STYLE_ENTRIES = ("font", "fill", "border", "xf", "numFmt", "dxf", "cellStyle", "tableStyle")
#: Other elements a part may hold besides its counted entries (their children and the rest).
_OTHER_ELEMENTS = 10_000
_TABLE_ELEMENTS = 100_000  # a table part: a column per sheet column (16,384) and filters


#: Letters of other scripts drawn like Latin ones (Cyrillic, Greek), and invisible ones.
_LOOK_ALIKE = str.maketrans(
    "АВСЕНІЈКМОРЅТХУаеіјорсхуԁһΑΒΕΗΙΚΜΝΟΡΤΧΥΖαοινρτ",
    "ABCEHIJKMOPSTXYaeijopcxydhABEHIKMNOPTXYZaoivpt",
    "\u200b\u200c\u200d\u2060\ufeff\u00ad _-",
)


def _look(title: str) -> str:
    """What a sheet name looks like: compatibility forms folded (fullwidth letters), look-
    alike letters of other scripts as Latin, invisible characters, spaces and case dropped."""
    return unicodedata.normalize("NFKC", title).translate(_LOOK_ALIKE).casefold()


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
        Row, cell, size and part limits (default: :meth:`Limits.resolve` of nothing given).
    """

    def __init__(
        self, data: bytes, zf: zipfile.ZipFile, name: str, limits: Limits | None = None
    ) -> None:
        self.zf = zf
        self.limits = limits or Limits.resolve(None, None, None)
        self.names = set(zf.namelist())
        self.name = name
        #: The hidden rows and columns of each sheet read by :meth:`cells`, by title.
        self.hidden: dict[str, Hidden] = {}
        # openpyxl reads the workbook's structure: sheet names and parts, shared strings,
        # which styles are dates. Cells are read by SheetHandler. Not load_workbook: in
        # read-only mode it parses every sheet that has no <dimension> to its end before a
        # cell is read (12 s for a million-row sheet, ahead of the row limit), and it reads
        # document properties, themes and defined names, which are not needed. Each part it
        # builds a tree of is counted first, streamed (census), against its limit.
        reader = ExcelReader(
            io.BytesIO(data), read_only=True, keep_vba=False, data_only=True, keep_links=False
        )
        lim = self.limits
        self._census(
            "[Content_Types].xml",
            {"*": "max_content_types"},
            {"max_content_types": lim.max_content_types + 1},
        )
        reader.read_manifest()
        self.strings = self._shared_strings(reader.package.find(SHARED_STRINGS))
        wb_part = next(
            (str(p.PartName).lstrip("/") for t in _WORKBOOK_TYPES if (p := reader.package.find(t))),
            "xl/workbook.xml",
        )
        self._census(
            wb_part,
            {"sheet": "max_sheets", "definedName": "max_names", "*": "other"},
            {"max_sheets": lim.max_sheets, "max_names": lim.max_names, "other": _OTHER_ELEMENTS},
        )
        self._census(get_rels_path(wb_part), {"*": "max_rels"}, {"max_rels": lim.max_rels + 1})
        reader.read_workbook()
        self._census(
            "xl/styles.xml",
            {**dict.fromkeys(_STYLE_ENTRIES, "max_styles"), "*": "other"},
            {"max_styles": lim.max_styles, "other": _OTHER_ELEMENTS + 20 * lim.max_styles},
        )
        apply_stylesheet(reader.archive, reader.wb)
        self.epoch: _dt.datetime = reader.wb.epoch
        self.sheets = [
            SheetRef(sheet.name, str(rel.target).lstrip("/"), str(sheet.state or "visible"))
            for sheet, rel in reader.parser.find_sheets()
        ]
        self._date_styles = {str(i) for i in getattr(reader.wb, "_date_formats", ())}
        self._timedelta_styles = {str(i) for i in getattr(reader.wb, "_timedelta_formats", ())}
        reader.archive.close()

    @property
    def has_macros(self) -> bool:
        """Whether the workbook holds a VBA project (never run, never read)."""
        return any(n.lower().endswith("vbaproject.bin") for n in self.names)

    def _census(self, path: str, counted: dict[str, str], limits: dict[str, int]) -> None:
        """Count the entries of part ``path`` (if present) while streaming it; refuse a part
        with more than its limits allow before anything builds a tree of it."""
        if path not in self.names:
            return
        try:
            with self.zf.open(path) as fh:
                census(fh, counted, limits)
        except PartTooBig as exc:
            if exc.key in LIMIT_DEFAULTS:
                raise self.limits.refusal(self.name, exc.key, f"the part {path!r}") from None
            msg = (
                f"{self.name}: the part {path!r} holds more than {limits[exc.key]:,} XML "
                "elements, far more than a workbook saved by Excel or LibreOffice: refused "
                "as damaged"
            )
            raise WorkbookError(msg) from None
        except ExpatError as exc:
            msg = f"{self.name} is damaged: the part {path!r} is not well-formed XML ({exc})"
            raise WorkbookError(msg) from None

    def _shared_strings(self, part: Any) -> list[str]:
        """The shared strings (none if the workbook has no such part)."""
        if part is None:
            return []
        handler = StringsHandler(self.limits.max_cells)
        path = part.PartName.lstrip("/")
        try:
            with self.zf.open(path) as fh:
                parse_part(fh, handler)
        except OverLimit:
            msg = (
                f"{self.name} holds more than {self.limits.max_cells:,} different texts, more "
                "than a plan can have: refused. If the plan really is this big, set "
                f"{LIMIT_ENV['max_cells']} to raise the limit"
            )
            raise WorkbookError(msg) from None
        except ExpatError as exc:
            msg = f"{self.name} is damaged: the part {path!r} is not well-formed XML ({exc})"
            raise WorkbookError(msg) from None
        return handler.strings

    def _sheet_path(self, ws: SheetRef) -> str:
        path = ws.path
        if path not in self.names:
            msg = f"{self.name}: the part {path!r} of sheet '{ws.title}' is missing"
            raise WorkbookError(msg)
        return path

    def cells(self, ws: SheetRef) -> dict[int, dict[int, Cell]]:
        """Every non-empty cell of a sheet, streamed by a namespace-aware expat parser;
        its hidden rows and columns are kept in :attr:`hidden`.

        A hidden or very hidden sheet is read, as LibreOffice reads it, unless a visible
        sheet has a look-alike name (``CΙP`` with a Greek Iota): then the user would edit
        one and cipmodel read the other, so it is refused.
        """
        if ws.state in ("hidden", "veryHidden"):
            twins = [
                o.title
                for o in self.sheets
                if o.state == "visible"
                and o.title != ws.title
                and _look(o.title) == _look(ws.title)
            ]
            if twins:
                how = (
                    "very hidden (Excel lists it nowhere)" if ws.state == "veryHidden" else "hidden"
                )
                msg = (
                    f"{self.name}: sheet '{ws.title}' is {how}, and the visible sheet "
                    f"{twins[0]!r} looks the same: cipmodel would read the hidden one while "
                    "you edit the other; delete one of them or rename it"
                )
                raise WorkbookError(msg)
        handler = self._handler()
        data = self._plain_part(self._sheet_path(ws))
        if data is not None and scan_sheet(data, handler):
            self.hidden[ws.title] = handler.hidden
            return handler.rows
        handler = self._handler()  # read by expat from the start, which decides
        try:
            with self.zf.open(self._sheet_path(ws)) as fh, contextlib.suppress(SheetEnd):
                parse_part(fh, handler)
        except OverLimit as exc:
            raise self._over_limit(ws, str(exc)) from None
        except Damaged as exc:
            msg = (
                f"{self.name} is damaged: sheet '{ws.title}', {exc.where}: {exc.why}. Open and "
                "save it again in Excel or LibreOffice, or correct the cell"
            )
            raise WorkbookError(msg) from None
        except ExpatError as exc:
            msg = (
                f"{self.name} is damaged: sheet '{ws.title}' is not well-formed XML "
                f"({exc}; last cell read: {handler.where})"
            )
            raise WorkbookError(msg) from None
        self.hidden[ws.title] = handler.hidden
        return handler.rows

    def _handler(self) -> SheetHandler:
        lim = self.limits
        return SheetHandler(
            self.strings,
            self._date_styles,
            self._timedelta_styles,
            self.epoch,
            lim.max_rows,
            lim.max_cells,
        )

    def _plain_part(self, path: str) -> bytes | None:
        """A part's bytes for :func:`scan_sheet`, or None if it is larger than
        ``SCAN_MAX_BYTES`` or cannot be read whole (expat's streaming then says why)."""
        try:
            with self.zf.open(path) as fh:
                data = fh.read(SCAN_MAX_BYTES + 1)
        except Exception:  # noqa: BLE001 - a damaged part: the streaming read reports it
            return None
        return data if len(data) <= SCAN_MAX_BYTES else None

    def _over_limit(self, ws: SheetRef, what: str) -> WorkbookError:
        """The refusal of a sheet with more rows, cells or elements than the limits."""
        lim = self.limits
        if what == "rows":
            limit, key, what = lim.max_rows, "max_rows", "rows with values"
        elif what == "cells":
            limit, key, what = lim.max_cells, "max_cells", "cells with values"
        else:
            limit, key = lim.max_cells * ELEMENTS_PER_CELL, "max_cells"
            what = "XML elements (cells, rows, formulas and values)"
        msg = (
            f"{self.name}: sheet '{ws.title}' has more than {limit:,} {what}, more than a plan "
            "can have (a national plan has about 10,000 rows): refused. If the plan really "
            f"is this big, set {LIMIT_ENV[key]} to raise the limit"
        )
        return WorkbookError(msg)

    def xl_tables(self, ws: SheetRef) -> list[XlTableRef]:
        """The Excel Tables on a sheet (with a header row), from the sheet's relationships."""
        rels_path = get_rels_path(self._sheet_path(ws))
        if rels_path not in self.names:
            return []
        self._census(rels_path, {"*": "max_rels"}, {"max_rels": self.limits.max_rels + 1})
        out = []
        for rel in get_dependents(self.zf, rels_path):
            if rel.TargetMode == "External" or not str(rel.Type).endswith("/table"):
                continue
            if rel.target not in self.names:
                continue
            self._census(rel.target, {"*": "other"}, {"other": _TABLE_ELEMENTS})
            try:
                root = _xml.fromstring(self.zf.read(rel.target))
            except Exception as exc:  # noqa: BLE001 - any parser error of a damaged part
                if type(exc).__module__.startswith("defusedxml"):
                    raise
                msg = (
                    f"{self.name} is damaged: sheet '{ws.title}': its Excel Table part "
                    f"{rel.target!r} cannot be read ({type(exc).__name__})"
                )
                raise WorkbookError(msg) from None
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
