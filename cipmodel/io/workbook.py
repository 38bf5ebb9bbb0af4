"""Plan workbooks: read a plan from ``.xlsx``, write templates and results workbooks.

The workbook contract (``DESIGN.md`` §4, "Plan workbook") in short:

* one sheet per input table of the schema (``Trusts``, ``Income``, ``Costs``, ``CIP``,
  ``ControlTotal``, and the optional ``Funding``, ``Financing``, ``Drivers``,
  ``Profiles``), found by name (case, spaces and underscores do not matter);
* on each sheet one Excel Table (``tblCIP``...) whose header row holds the schema headers,
  ``name (unit)``. Columns are found by header, never by position: case, spacing, column
  order and the unit suffix in brackets do not matter (a suffix naming a *different* money
  or percentage unit, e.g. ``value_fye (£m)``, is refused, so values are never read at the
  wrong scale). Without an Excel Table the header row is the first row holding a known
  header;
* every row below the header row that is not blank is one record, including rows typed
  just below an Excel Table that was not extended (LibreOffice does not extend tables);
* every cell goes through :meth:`cipmodel.inputs.schema.Field.coerce`. All problems in the file
  are collected, each with its cell (``CIP!F14``), and raised as one
  :class:`~cipmodel.errors.ValidationError`;
* formulas are read by the value the spreadsheet application saved with them (what
  openpyxl calls ``data_only=True``). A formula with no saved value (a file written by a
  program and never opened in Excel or LibreOffice) is a problem, never a blank.

How it reads: the file is read once into memory and never opened for writing. openpyxl's
reader reads the workbook's structure: sheet names, which cell styles are dates. The shared
strings, then the cells of each input sheet, are read by SAX handlers (the sheet's sees both
the formula and the saved value of a cell), several times faster than openpyxl's cell
objects (a 9,000-scheme plan reads in about a second). All XML goes through ``defusedxml``
(openpyxl uses it when installed; this is checked on every read), so entity-expansion and
external-entity attacks are refused. Size limits (:data:`MAX_UNPACKED_BYTES`,
:data:`MAX_ROWS`, :data:`MAX_CELLS`; raised by keyword or environment variable) refuse zip
bombs and runaway sheets before they fill memory. Macros in ``.xlsm`` files are neither run
nor kept; links to other workbooks are never followed.

Writing goes through :func:`cipmodel.io.atomic.atomic_write`: a workbook appears complete or
not at all, and an existing file is replaced only when asked to.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import json
import math
import os
import re
import stat
import warnings
import xml.sax.handler
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

import defusedxml.sax
import openpyxl.xml
from defusedxml import DefusedXmlException
from openpyxl import Workbook, load_workbook
from openpyxl.packaging.relationship import get_dependents, get_rels_path
from openpyxl.reader.excel import ExcelReader
from openpyxl.styles import Alignment, Font, NamedStyle, PatternFill
from openpyxl.styles.stylesheet import apply_stylesheet
from openpyxl.utils import column_index_from_string, get_column_letter, range_boundaries
from openpyxl.utils.datetime import from_excel, from_ISO8601
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.table import Table as XlTable
from openpyxl.worksheet.table import TableStyleInfo
from openpyxl.xml import functions as _xml
from openpyxl.xml.constants import SHARED_STRINGS

from cipmodel.errors import CipModelError, Problem, ValidationError, WorkbookError
from cipmodel.inputs.records import RECORD_CLASSES, Portfolio, Source
from cipmodel.inputs.schema import Field, Table, load_schema
from cipmodel.io.atomic import atomic_write, check_writable

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "read_plan",
    "read_plan_with_notes",
    "write_template",
    "write_results",
    "workbooks_equal",
    "OPTIONAL_TABLES",
    "README_SHEET",
    "PROVENANCE_SHEET",
]

#: Tables whose sheet may be left out of a plan (absent = no rows).
OPTIONAL_TABLES = frozenset({"funding", "financing", "drivers", "profiles"})
README_SHEET = "README"
PROVENANCE_SHEET = "Provenance"

READ_SUFFIXES = (".xlsx", ".xlsm")
TEMPLATE_ROWS = 1000  # rows below the header that carry drop-downs in a blank template
EXTRA_ROWS = 500  # rows below the last record that carry drop-downs in a filled plan
MAX_UNPACKED_BYTES = 512 * 1024 * 1024  # refuse zip bombs: a big plan unpacks to ~10 MB
MAX_ROWS = 200_000  # rows with values on one input sheet (a national plan has ~10,000)
MAX_CELLS = 3_000_000  # cells with values on one input sheet (bounds memory: ~170 B a cell)
# Environment variables that raise (or lower) the limits for every read.
LIMIT_ENV = {
    "max_unpacked_bytes": "CIPMODEL_MAX_UNPACKED_MB",
    "max_rows": "CIPMODEL_MAX_ROWS",
    "max_cells": "CIPMODEL_MAX_CELLS",
}
HEADER_SCAN_ROWS = 20  # without an Excel Table, look this far down for the header row

MONEY_FORMAT = "#,##0;(#,##0)"
PERCENT_FORMAT = "0.0%"
TEXT_FORMAT = "@"

_INPUT_FILL = PatternFill(fill_type="solid", fgColor="FFFFF2CC")  # light yellow: type here
_HEADER_FILL = PatternFill(fill_type="solid", fgColor="FFD9E1F2")
_BOLD = Font(bold=True)
_TITLE = Font(bold=True, size=14)
_WRAP = Alignment(wrap_text=True, vertical="top")
_TABLE_STYLE = TableStyleInfo(
    name="TableStyleLight1",
    showFirstColumn=False,
    showLastColumn=False,
    showRowStripes=False,
    showColumnStripes=False,
)

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_UNIT_SUFFIX = re.compile(r"^(.*?)\s*[\(\[]([^\)\]]*)[\)\]]\s*$")
_RISKY_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")
# Spellings accepted in a header's unit suffix, after lower-casing and removing spaces and
# apostrophes. Only money and percentages are checked: there a wrong unit misreads values
# silently by a factor of 1,000 or 100.
_UNIT_ALIASES: dict[str, frozenset[str]] = {
    "£000": frozenset({"£000", "£000s", "£k", "k", "gbp000", "gbpk", "£thousand", "£thousands"}),
    "%": frozenset({"%", "percent", "pct", "fraction", "rate"}),
}


# =========================================================================================
# Reading
# =========================================================================================
def read_plan(
    path: str | os.PathLike[str],
    *,
    max_rows: int | None = None,
    max_cells: int | None = None,
    max_unpacked_bytes: int | None = None,
) -> Portfolio:
    """Read a plan workbook into a :class:`~cipmodel.inputs.records.Portfolio`.

    Parameters
    ----------
    path : path-like
        An ``.xlsx`` or ``.xlsm`` workbook laid out as ``cipmodel template`` writes it (a
        results workbook is a plan workbook too).
    max_rows, max_cells : int, optional
        Refuse an input sheet with more rows (cells) holding values: default
        :data:`MAX_ROWS` (200,000) and :data:`MAX_CELLS` (3,000,000), or the environment
        variables ``CIPMODEL_MAX_ROWS`` / ``CIPMODEL_MAX_CELLS``.
    max_unpacked_bytes : int, optional
        Refuse a file larger than this, or one whose parts unpack to more (a zip bomb):
        default :data:`MAX_UNPACKED_BYTES` (512 MB), or ``CIPMODEL_MAX_UNPACKED_MB``.

    Returns
    -------
    Portfolio
        Records carry ``source`` (sheet, row, column letters), so later problems name cells.

    Raises
    ------
    WorkbookError
        The file is missing, is not an ``.xlsx``/``.xlsm`` workbook, is damaged, holds
        unsafe XML, or is over a size limit. The message says what to do.
    ValidationError
        The workbook was read but breaks the schema: every problem found, each naming its
        cell (``CIP!F14``) or sheet; ``source`` is the file name.

    See Also
    --------
    read_plan_with_notes : the same, plus notes on what was ignored.
    """
    portfolio, _notes = read_plan_with_notes(
        path, max_rows=max_rows, max_cells=max_cells, max_unpacked_bytes=max_unpacked_bytes
    )
    return portfolio


def read_plan_with_notes(
    path: str | os.PathLike[str],
    *,
    max_rows: int | None = None,
    max_cells: int | None = None,
    max_unpacked_bytes: int | None = None,
) -> tuple[Portfolio, list[str]]:
    """Read a plan workbook; also return notes on what was ignored or assumed.

    Notes are plain sentences such as ``"sheet 'Notes' ignored: not an input sheet"`` or
    ``"column 'comment' on CIP ignored: not a CIP column"``. They are not errors.

    Raises
    ------
    WorkbookError, ValidationError
        As :func:`read_plan`.
    """
    p = Path(path)
    limits = _Limits.resolve(max_rows, max_cells, max_unpacked_bytes)
    data = _read_bytes(p, limits.max_unpacked_bytes)
    return _parse(data, p.name, limits)


class _Limits(NamedTuple):
    """Size limits for one read (hostile or runaway files are refused, not read)."""

    max_rows: int
    max_cells: int
    max_unpacked_bytes: int

    @classmethod
    def resolve(
        cls, max_rows: int | None, max_cells: int | None, max_unpacked_bytes: int | None
    ) -> _Limits:
        """Keyword, else environment variable (``LIMIT_ENV``), else the default."""

        def pick(value: int | None, key: str, default: int, scale: int = 1) -> int:
            if value is None:
                text = os.environ.get(LIMIT_ENV[key], "").strip().replace("_", "")
                if not text:
                    return default
                if not text.isdigit() or not text.isascii():
                    msg = f"{LIMIT_ENV[key]} must be a whole number, got {text[:40]!r}"
                    raise WorkbookError(msg)
                value = int(text) * scale
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                msg = f"{key} must be a whole number of at least 1, got {value!r}"
                raise WorkbookError(msg)
            return value

        return cls(
            pick(max_rows, "max_rows", MAX_ROWS),
            pick(max_cells, "max_cells", MAX_CELLS),
            pick(max_unpacked_bytes, "max_unpacked_bytes", MAX_UNPACKED_BYTES, 2**20),
        )


def _read_bytes(p: Path, max_bytes: int = MAX_UNPACKED_BYTES) -> bytes:
    """The file's bytes, after checking its extension; WorkbookError if unreadable."""
    name = p.name
    suffix = p.suffix.lower()
    if suffix not in READ_SUFFIXES:
        raise WorkbookError(_suffix_message(name, suffix))
    try:
        exists, is_dir = p.exists(), p.is_dir()
        mode = p.stat().st_mode if exists else 0
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte, no permission
        msg = f"{name} cannot be opened: {getattr(exc, 'strerror', None) or exc}"
        raise WorkbookError(msg) from exc
    if not exists:
        msg = f"{name}: file not found ({str(p)!r})"
        raise WorkbookError(msg)
    if is_dir:
        msg = f"{name} is a folder, not a workbook"
        raise WorkbookError(msg)
    if not stat.S_ISREG(mode):  # a pipe would block forever, /dev/zero never ends
        msg = f"{name} is not a file (a device, pipe or socket): refused"
        raise WorkbookError(msg)
    too_big = (
        f"{name} is more than the {max_bytes / 2**20:,.0f} MB a plan workbook can be: "
        f"refused (set {LIMIT_ENV['max_unpacked_bytes']} to raise the limit)"
    )
    try:
        if p.stat().st_size > max_bytes:
            raise WorkbookError(too_big)
        with open(p, "rb") as fh:
            data = fh.read(max_bytes + 1)  # at most the limit, even if the file grows
    except OSError as exc:
        msg = f"{name} cannot be opened: {exc.strerror or exc}"
        raise WorkbookError(msg) from exc
    if len(data) > max_bytes:
        raise WorkbookError(too_big)
    return data


def _suffix_message(name: str, suffix: str) -> str:
    """What to do with a file that is not .xlsx/.xlsm."""
    if suffix == ".xls":
        return (
            f"{name} is an Excel 97-2003 workbook (.xls), which cipmodel does not read: "
            "open it in Excel or LibreOffice and save it as .xlsx (Excel Workbook)"
        )
    if suffix in (".csv", ".txt", ".tsv"):
        return (
            f"{name} is a text file: a plan has several tables, so cipmodel reads a "
            "workbook. Write a template with `cipmodel template plan.xlsx`, paste the rows "
            "into its sheets and save it as .xlsx"
        )
    if suffix in (".ods", ".fods"):
        return (
            f"{name} is an OpenDocument spreadsheet: in LibreOffice use File > Save As and "
            "choose 'Excel 2007-365 (.xlsx)'"
        )
    if suffix in (".xlsb", ".xltx", ".xltm", ".xlam"):
        return (
            f"{name} is an Excel {suffix} file, which cipmodel does not read: save it as "
            ".xlsx (Excel Workbook)"
        )
    what = f"'{suffix}'" if suffix else "a file without an extension"
    return f"{name}: cipmodel reads plan workbooks saved as .xlsx or .xlsm, not {what}: save it as .xlsx"


def _require_safe_xml() -> None:
    """Refuse to parse unless openpyxl parses XML through defusedxml."""
    safe = bool(openpyxl.xml.DEFUSEDXML) and getattr(_xml.iterparse, "__module__", "").startswith(
        "defusedxml"
    )
    if not safe:
        msg = (
            "cipmodel reads workbooks only with protection against XML attacks: install "
            "defusedxml (pip install defusedxml) and do not set OPENPYXL_DEFUSEDXML=False"
        )
        raise WorkbookError(msg)


# What zipfile raises for a damaged archive or member: a bad header or CRC, deflate data
# that does not decompress (zlib.error), an unknown compression method
# (NotImplementedError), an encrypted member (RuntimeError).
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    OSError,
    EOFError,
    ValueError,
    zlib.error,
    NotImplementedError,
    RuntimeError,
)


def _open_zip(data: bytes, name: str, max_unpacked: int = MAX_UNPACKED_BYTES) -> zipfile.ZipFile:
    """The workbook's zip archive, after checks that give clear messages for non-workbooks.

    The sizes the archive declares are checked before any part is unpacked; zipfile never
    unpacks more than a part declares (a part that holds more fails its CRC check), so a
    zip bomb is refused without being unpacked.
    """
    if not data:
        msg = f"{name} is empty (0 bytes): it is not a saved workbook"
        raise WorkbookError(msg)
    if data.startswith(_OLE_MAGIC):
        msg = (
            f"{name} is password-protected or is an old Excel 97-2003 file renamed to "
            f"{Path(name).suffix}: remove the password (File > Info > Protect Workbook) or "
            "save it as .xlsx, then try again"
        )
        raise WorkbookError(msg)
    buf = io.BytesIO(data)
    if not zipfile.is_zipfile(buf):
        msg = (
            f"{name} is not an Excel workbook: it is not in .xlsx format (it may be "
            "damaged, or another kind of file renamed). Open it in Excel or LibreOffice and "
            "save it as .xlsx"
        )
        raise WorkbookError(msg)
    try:
        zf = zipfile.ZipFile(buf)
        infos = zf.infolist()
        names = {i.filename for i in infos}
        unpacked = sum(i.file_size for i in infos)
    except _ZIP_ERRORS as exc:
        msg = f"{name} is damaged and cannot be read as a workbook ({exc})"
        raise WorkbookError(msg) from exc
    if unpacked > max_unpacked:
        msg = (
            f"{name} unpacks to {unpacked / 2**20:,.0f} MB, more than the "
            f"{max_unpacked / 2**20:,.0f} MB a plan workbook can be: refused as a possible "
            f"zip bomb (set {LIMIT_ENV['max_unpacked_bytes']} to raise the limit)"
        )
        raise WorkbookError(msg)
    try:
        mimetype = b""
        if "mimetype" in names:
            with zf.open("mimetype") as fh:
                mimetype = fh.read(100)
        strict = "xl/workbook.xml" in names and b"purl.oclc.org/ooxml/spreadsheetml" in zf.read(
            "xl/workbook.xml"
        )
    except _ZIP_ERRORS as exc:
        msg = f"{name} is damaged and cannot be read as a workbook ({exc})"
        raise WorkbookError(msg) from exc
    if b"opendocument" in mimetype:
        msg = (
            f"{name} is an OpenDocument spreadsheet renamed to {Path(name).suffix}: in "
            "LibreOffice use File > Save As and choose 'Excel 2007-365 (.xlsx)'"
        )
        raise WorkbookError(msg)
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/") for n in names):
        msg = f"{name} is a zip file but not an Excel workbook: save the plan as .xlsx"
        raise WorkbookError(msg)
    if strict:
        msg = (
            f"{name} is saved as 'Strict Open XML Spreadsheet', which cipmodel does not read: "
            "save it as 'Excel Workbook (.xlsx)'"
        )
        raise WorkbookError(msg)
    return zf


def _parse(data: bytes, name: str, limits: _Limits | None = None) -> tuple[Portfolio, list[str]]:
    """Parse workbook bytes; ``name`` labels messages and the portfolio."""
    limits = limits or _Limits.resolve(None, None, None)
    _require_safe_xml()
    zf = _open_zip(data, name, limits.max_unpacked_bytes)
    try:
        with warnings.catch_warnings():
            # openpyxl warns about features it drops (extensions, odd styles); they do not
            # affect the values read, and the test suite turns warnings into errors.
            warnings.simplefilter("ignore")
            return _Reader(data, zf, name, limits).run()
    except CipModelError:
        raise
    except Exception as exc:  # a malformed file can fail anywhere inside openpyxl
        if _caused_by(exc, DefusedXmlException):
            msg = (
                f"{name} holds XML with entity or DTD declarations, which workbooks saved "
                "by Excel or LibreOffice never contain; refused as a possible attack "
                f"({type(exc).__name__})"
            )
        else:
            msg = (
                f"{name} is damaged and cannot be read as a workbook ({type(exc).__name__}: {exc})"
            )
        raise WorkbookError(msg) from exc


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``exc`` or an exception it was raised from is a ``kind`` (openpyxl wraps)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _sheet_key(title: str) -> str:
    """Sheet-name key: case, surrounding spaces and inner spaces/underscores ignored."""
    return re.sub(r"[\s_\-]+", "", title.strip().casefold())


def _split_header(text: str) -> tuple[str, str | None]:
    """``'Value FYE (£000)'`` -> ``('value_fye', '£000')``; the unit is None if absent."""
    m = _UNIT_SUFFIX.match(text)
    base, unit = (m.group(1), m.group(2)) if m else (text, None)
    key = re.sub(r"[\s\-]+", "_", base.strip().lower())
    return key, unit


def _unit_ok(field: Field, unit: str) -> bool:
    """Whether a header's unit suffix agrees with the field's unit (money and % only)."""
    aliases = _UNIT_ALIASES.get(field.unit)
    key = re.sub(r"[\s'’]", "", unit.lower())
    return aliases is None or not key or key in aliases


_REPORTED: Any = object()  # a cell whose problem (error value, formula) is already reported


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class _Cell(NamedTuple):
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
    """SAX handler collecting the cells of one worksheet part: {row: {column: _Cell}}.

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
        self.rows: dict[int, dict[int, _Cell]] = {}
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
            cell = _Cell(v or "#VALUE!", "error", f)
        elif f is not None and not v and t != "str":
            cell = _Cell(None, "nocache", f)
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
            cell = _Cell(value, "value", f)
        cells = self.rows.get(row)
        if cells is None:
            if len(self.rows) >= self._max_rows:
                raise _TooBig("rows")
            cells = self.rows[row] = {}
        self._cells_left -= 1
        if self._cells_left < 0:
            raise _TooBig("cells")
        cells[col] = cell


class _SheetRef(NamedTuple):
    """A sheet of the workbook: its name and its part in the zip."""

    title: str
    path: str


@dataclass(frozen=True)
class _XlTableRef:
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


class _Reader:
    """One read of one workbook: collects records, notes and problems."""

    def __init__(
        self, data: bytes, zf: zipfile.ZipFile, name: str, limits: _Limits | None = None
    ) -> None:
        self.zf = zf
        self.limits = limits or _Limits.resolve(None, None, None)
        self.names = set(zf.namelist())
        self.name = name
        self.notes: list[str] = []
        self.problems: list[Problem] = []
        self.failed: set[str] = set()  # tables with a missing sheet/column or a bad row
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
            _SheetRef(sheet.name, str(rel.target).lstrip("/"))
            for sheet, rel in reader.parser.find_sheets()
        ]
        self._date_styles = {str(i) for i in getattr(reader.wb, "_date_formats", ())}
        self._timedelta_styles = {str(i) for i in getattr(reader.wb, "_timedelta_formats", ())}
        reader.archive.close()

    # -- whole workbook -------------------------------------------------------------
    def run(self) -> tuple[Portfolio, list[str]]:
        if any(n.lower().endswith("vbaproject.bin") for n in self.names):
            self.notes.append(f"{self.name} contains macros: they were not run and are not read")
        schema = load_schema()
        by_key: dict[str, list[str]] = {}
        first: dict[str, _SheetRef] = {}
        for ref in self.sheets:
            by_key.setdefault(_sheet_key(ref.title), []).append(ref.title)
            first.setdefault(ref.title, ref)
        used: set[str] = set()
        records: dict[str, list[Any]] = {t.name: [] for t in schema.tables}
        for table in schema.tables:
            titles = by_key.get(_sheet_key(table.sheet), [])
            used.update(titles)
            if not titles:
                if table.name in OPTIONAL_TABLES:
                    self.notes.append(f"optional sheet '{table.sheet}' not found: no rows")
                else:
                    self.failed.add(table.name)
                    self.problems.append(
                        Problem(
                            table.sheet,
                            f"sheet '{table.sheet}' is missing: add it (a template from "
                            "`cipmodel template` has every sheet)",
                        )
                    )
                continue
            if len(titles) > 1:
                self.failed.add(table.name)
                shown = ", ".join(f"'{t}'" for t in titles)
                self.problems.append(
                    Problem(table.sheet, f"sheets {shown} all match '{table.sheet}': keep one")
                )
                continue
            records[table.name] = self._read_sheet(first[titles[0]], table)
        for title in first:
            if title not in used and _sheet_key(title) != _sheet_key(README_SHEET):
                self.notes.append(f"sheet '{title}' ignored: not an input sheet")
        return self._portfolio(records), self.notes

    def _portfolio(self, records: dict[str, list[Any]]) -> Portfolio:
        """Build the Portfolio; raise one ValidationError with cell and cross-record problems."""
        kwargs = {k: tuple(v) for k, v in records.items()}
        if not self.problems:
            try:
                return Portfolio(**kwargs, name=self.name)
            except ValidationError as exc:
                raise ValidationError(exc.problems, source=self.name) from None
        if "trusts" not in self.failed:
            # Cross-record checks on the rows that did parse. Drop the problems that only
            # follow from rows left out: 'no control total' when a ControlTotal row failed,
            # 'profile not found' when a Profiles row failed.
            try:
                Portfolio(**kwargs, name=self.name)
            except ValidationError as exc:
                drop: set[str] = set()
                if "control_total" in self.failed:
                    drop.add(load_schema().table("control_total").sheet)
                if "profiles" in self.failed:
                    drop.update(
                        r.source.cell("profile") for t in ("income", "costs") for r in records[t]
                    )
                self.problems.extend(p for p in exc.problems if p.place not in drop)
        raise ValidationError(self.problems, source=self.name)

    # -- one sheet ------------------------------------------------------------------
    def _read_sheet(self, ws: Any, table: Table) -> list[Any]:
        """The records on one input sheet; problems and notes are collected on self."""
        title = ws.title.strip()
        rows = self._cells(ws)
        lookup = {f.name: f for f in table.fields}

        def known(r: int) -> int:
            return sum(
                1
                for c in rows.get(r, {}).values()
                if isinstance(c.value, str) and _split_header(c.value.strip())[0] in lookup
            )

        ordered = sorted(
            r
            for r, cells in rows.items()
            if any(c.kind != "value" or not _blank(c.value) for c in cells.values())
        )
        # the Excel Table whose header row holds most of this sheet's headers, if any
        tables = [t for t in self._xl_tables(ws) if known(t.min_row)]
        xl = max(tables, key=lambda t: known(t.min_row)) if tables else None
        if xl is not None:
            header_row = xl.min_row
        else:
            scan = ordered[:HEADER_SCAN_ROWS]
            header_row = next((r for r in scan if known(r)), scan[0] if scan else 0)
        if not header_row:
            if table.name in OPTIONAL_TABLES:
                self.notes.append(f"sheet '{title}' is empty: no rows")
                return []
            self.failed.add(table.name)
            self.problems.append(
                Problem(title, f"sheet '{title}' is empty: it needs the header row of a template")
            )
            return []

        columns, ok = self._header(rows.get(header_row, {}), header_row, table, title)
        if not ok:
            self.failed.add(table.name)
        letters = MappingProxyType({f: get_column_letter(c) for f, c in columns.items()})
        totals = range(0)  # a range, not a set: totalsRowCount may be anything
        if xl is not None and xl.totals_rows:
            totals = range(xl.max_row - xl.totals_rows + 1, xl.max_row + 1)
        cls = RECORD_CLASSES[table.name]
        # record attribute -> None (one column of the same name) or its columns' names
        plan: list[tuple[str, tuple[str, ...] | None]] = []
        for attr in table.attributes:
            group = table.group(attr)
            single = len(group) == 1 and group[0].group is None
            plan.append((attr, None if single else tuple(c.name for c in group)))
        out: list[Any] = []
        below_table: list[int] = []
        ignored_only: list[int] = []
        for r in ordered:
            if r <= header_row or r in totals:
                continue
            cells = rows[r]
            row_problems: list[Problem] = []
            raw = {
                f: self._raw(cells.get(c), f"{title}!{letters[f]}{r}", row_problems)
                for f, c in columns.items()
            }
            if all(v is None for v in raw.values()):
                ignored_only.append(r)
                continue
            if xl is not None and r > xl.max_row:
                below_table.append(r)
            values: dict[str, Any] = {}
            for fname, value in raw.items():
                if value is _REPORTED:
                    continue
                value, message = lookup[fname].coerce(value)
                if message:
                    row_problems.append(Problem(f"{title}!{letters[fname]}{r}", message))
                values[fname] = value
            if row_problems:
                self.problems.extend(row_problems)
                self.failed.add(table.name)
                continue
            if not ok:
                continue
            kwargs: dict[str, Any] = {}
            for attr, names in plan:
                if names is None:
                    if attr in values:
                        kwargs[attr] = values[attr]
                elif any(n in values for n in names):
                    kwargs[attr] = tuple(values.get(n) for n in names)
            try:
                out.append(cls(**kwargs, source=Source(title, r, letters)))
            except ValidationError as exc:  # the record's own checks (normally none left)
                self.problems.extend(exc.problems)
                self.failed.add(table.name)
        if below_table and xl is not None:
            self.notes.append(
                f"{title}: rows {_ranges(below_table)} are below the Excel Table "
                f"'{xl.name}' ({xl.ref}) and were read too; extend the table to include them"
            )
        if ignored_only:
            self.notes.append(
                f"{title}: rows {_ranges(ignored_only)} have values only in ignored columns "
                "and were skipped"
            )
        return out

    def _header(
        self, cells: dict[int, _Cell], r: int, table: Table, title: str
    ) -> tuple[dict[str, int], bool]:
        """Map field name -> 1-based column from the header row; False if unusable."""
        lookup = {f.name: f for f in table.fields}
        columns: dict[str, int] = {}
        ok = True
        for col, cell in sorted(cells.items()):
            if cell.kind != "value" or _blank(cell.value):
                continue
            text = str(cell.value).strip()
            key, unit = _split_header(text)
            field = lookup.get(key)
            place = f"{title}!{get_column_letter(col)}{r}"
            if field is None:
                self.notes.append(f"column '{text}' on {title} ignored: not a {table.sheet} column")
                continue
            if field.name in columns:
                first = get_column_letter(columns[field.name])
                self.problems.append(
                    Problem(
                        place,
                        f"column '{field.name}' appears twice ({first}{r} and here): delete one",
                    )
                )
                ok = False
                continue
            if unit is not None and not _unit_ok(field, unit):
                self.problems.append(
                    Problem(
                        place,
                        f"column '{text}' is in {unit.strip()}, but {field.name} is read in "
                        f"{field.unit}: convert the values and head the column '{field.header}'",
                    )
                )
                ok = False
                continue
            columns[field.name] = col
        for f in table.fields:
            if f.required and f.default is None and f.name not in columns:
                ok = False
                self.problems.append(
                    Problem(
                        f"{title}!row {r}",
                        f"column '{f.name}' is missing: add a column headed '{f.header}'",
                    )
                )
        return columns, ok

    @staticmethod
    def _raw(cell: _Cell | None, place: str, problems: list[Problem]) -> Any:
        """A cell's raw value (stripped text, number, bool, date), None if blank, or
        ``_REPORTED`` after adding a problem for an error value or a formula without one."""
        if cell is None:
            return None
        if cell.kind == "error":
            problems.append(
                Problem(
                    place, f"the cell shows the error {cell.value}: fix the formula or type a value"
                )
            )
            return _REPORTED
        if cell.kind == "nocache":
            formula = str(cell.formula)
            shown = formula if len(formula) <= 60 else formula[:57] + "..."
            problems.append(
                Problem(
                    place,
                    f"formula {shown} has no saved value: open and save the workbook in Excel "
                    "or LibreOffice",
                )
            )
            return _REPORTED
        value = cell.value
        if isinstance(value, str):
            return value.strip() or None
        return value

    # -- workbook parts ---------------------------------------------------------------
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

    def _sheet_path(self, ws: _SheetRef) -> str:
        path = ws.path
        if path not in self.names:
            msg = f"{self.name}: the part {path!r} of sheet '{ws.title}' is missing"
            raise WorkbookError(msg)
        return path

    def _cells(self, ws: Any) -> dict[int, dict[int, _Cell]]:
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

    def _xl_tables(self, ws: Any) -> list[_XlTableRef]:
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
            out.append(_XlTableRef(name, min_col, min_row, max_col, max_row, totals_rows))
        return out


def _ranges(rows: list[int]) -> str:
    """[3, 4, 5, 9] -> '3-5, 9' (at most six parts)."""
    parts: list[str] = []
    start = prev = rows[0]
    for r in [*rows[1:], None]:
        if r is not None and r == prev + 1:
            prev = r
            continue
        parts.append(f"{start}-{prev}" if prev > start else str(start))
        if r is not None:
            start = prev = r
    if len(parts) > 6:
        parts = [*parts[:6], "..."]
    return ", ".join(parts)


# =========================================================================================
# Writing
# =========================================================================================
def write_template(
    path: str | os.PathLike[str], portfolio: Portfolio | None = None, *, overwrite: bool = False
) -> Path:
    """Write a blank plan template, or a plan workbook holding ``portfolio``.

    The workbook has a ``README`` sheet first (every sheet and column: header, rule, unit,
    default, description), then one sheet per input table, each with one Excel Table
    (``tblCIP``...), drop-downs for categories and Y/N, input checks on numbers, number
    formats (£000 with thousands separators, ``%``) and input cells in light yellow.

    Parameters
    ----------
    path : path-like
        Where to write; must end in ``.xlsx``.
    portfolio : Portfolio, optional
        Records to fill in. None writes header rows only.
    overwrite : bool
        Replace an existing file. Default False: an existing file is an error.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    WorkbookError
        If the file exists (and ``overwrite`` is false), the folder is missing, the file
        cannot be written, or the extension is not ``.xlsx``.
    """
    target = _check_target(path, overwrite)
    wb = _plan_workbook(portfolio)
    return atomic_write(target, wb.save)


def write_results(
    path: str | os.PathLike[str],
    portfolio: Portfolio,
    sheets: Mapping[str, pd.DataFrame],
    provenance: Mapping[str, Any],
    *,
    overwrite: bool = False,
) -> Path:
    """Write a results workbook: the plan's input sheets, result sheets and provenance.

    The input sheets are exactly those :func:`write_template` writes for ``portfolio``, so
    ``read_plan`` of the results workbook gives the same Portfolio (result sheets are
    ignored, with a note).

    Parameters
    ----------
    path : path-like
        Where to write; must end in ``.xlsx``.
    portfolio : Portfolio
        The plan the results come from.
    sheets : mapping of str to DataFrame
        One result sheet per entry, in order. An index that is not a plain RangeIndex is
        written as leading columns. Names are cut to Excel's 31 characters, with
        ``[]:*?/\\`` replaced by ``_``.
    provenance : mapping
        Key/value rows for the ``Provenance`` sheet (version, rule pack, seed, ...).
        Values that are not text, numbers, booleans or dates are written as JSON.
    overwrite : bool
        Replace an existing file. Default False.

    Raises
    ------
    WorkbookError
        As :func:`write_template`, or if a result sheet name clashes with an input sheet,
        ``README`` or ``Provenance``, or two names are the same once made safe.
    """
    target = _check_target(path, overwrite)
    wb = _plan_workbook(portfolio)
    reserved = {_sheet_key(n) for n in wb.sheetnames} | {_sheet_key(PROVENANCE_SHEET)}
    for raw_name, frame in sheets.items():
        name = _safe_sheet_name(raw_name)
        if _sheet_key(name) in reserved:
            msg = f"result sheet name {raw_name!r} clashes with a sheet of the plan workbook"
            raise WorkbookError(msg)
        reserved.add(_sheet_key(name))
        _write_frame(wb.create_sheet(name), frame)
    _write_provenance(wb.create_sheet(PROVENANCE_SHEET), provenance)
    return atomic_write(target, wb.save)


def _check_target(path: str | os.PathLike[str], overwrite: bool) -> Path:
    if Path(path).suffix.lower() != ".xlsx":
        msg = f"cannot write {Path(path).name}: cipmodel writes workbooks as .xlsx; use a name ending in .xlsx"
        raise WorkbookError(msg)
    return check_writable(path, overwrite=overwrite)


def _safe_sheet_name(name: str) -> str:
    """An Excel-legal sheet name: no ``[]:*?/\\``, no edge apostrophes, <= 31 characters."""
    text = _SHEET_NAME_BAD.sub("_", str(name)).strip().strip("'")[:31].strip()
    if not text or text.casefold() == "history":
        msg = f"{name!r} cannot be used as a sheet name"
        raise WorkbookError(msg)
    return text


def _number_format(field: Field) -> str:
    """The cell number format for a field: £000, %, whole number, text, or General."""
    if field.type in ("str", "enum", "bool"):
        return TEXT_FORMAT
    if field.unit == "£000":
        return MONEY_FORMAT
    if field.unit == "%":
        return PERCENT_FORMAT
    if field.type == "int":
        return "0"
    if field.unit == "weight":
        return "0.00"
    return "General"


def _column_width(field: Field) -> float:
    if field.type == "str" and (field.max_length or 0) >= 200:
        return 40
    return max(len(field.header) + 3, 12)


def _fmt_bound(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _validation(field: Field, sqref: str) -> DataValidation:
    """The data validation (drop-down or input check, with a prompt) for a field's column."""
    kw: dict[str, Any] = {}
    if field.type == "enum":
        items = ",".join(field.values)
        if len(items) > 253:  # Excel's limit for an in-cell list
            msg = f"the values of {field.name} are too long for an Excel drop-down"
            raise WorkbookError(msg)
        kw = {"type": "list", "formula1": f'"{items}"'}
    elif field.type == "bool":
        kw = {"type": "list", "formula1": '"Y,N"'}
    elif field.type in ("int", "float"):
        big = 2_000_000_000 if field.type == "int" else 1e15
        lo = field.min if field.min is not None else -big
        hi = field.max if field.max is not None else big
        kw = {
            "type": "whole" if field.type == "int" else "decimal",
            "operator": "between",
            "formula1": _fmt_bound(lo),
            "formula2": _fmt_bound(hi),
        }
    elif field.max_length:
        kw = {
            "type": "textLength",
            "operator": "lessThanOrEqual",
            "formula1": str(field.max_length),
        }
    dv = DataValidation(
        allow_blank=True,
        showErrorMessage=True,
        showInputMessage=True,
        errorTitle="cipmodel",
        error=f"{field.name} must be {field.rule()}"[:255],
        promptTitle=field.header[:32],
        prompt=field.description[:255],
        **kw,
    )
    dv.add(sqref)
    return dv


def _set_text(cell: Any, text: str) -> None:
    """Put user text in a cell as text, never as a formula."""
    if _XML_ILLEGAL.search(text):
        msg = f"cannot write {text[:40]!r} to cell {cell.coordinate}: it holds control characters"
        raise WorkbookError(msg)
    cell.value = text
    cell.data_type = "s"
    if text.startswith(_RISKY_START):
        cell.quotePrefix = True  # Excel keeps it as text even when the cell is edited


def _set_value(cell: Any, value: Any, *, yes_no: bool = False) -> None:
    """Write one value: bool as Y/N (plan sheets) or TRUE/FALSE, text as text, NaN blank."""
    if value is None:
        return
    if isinstance(value, bool):
        if yes_no:
            _set_text(cell, "Y" if value else "N")
        else:
            cell.value = value
        return
    if isinstance(value, str):
        _set_text(cell, value)
        return
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            if math.isnan(value):
                return
            _set_text(cell, "inf" if value > 0 else "-inf")
            return
        cell.value = value
        if isinstance(value, float) and float(f"{value:.16g}") != value:
            # openpyxl writes numbers with 16 significant digits, which can change the last
            # bit; its writer passes text through unchanged, so give it the exact repr.
            cell._value = repr(value)
        return
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        if isinstance(value, (_dt.datetime, _dt.time)) and value.tzinfo is not None:
            value = value.replace(tzinfo=None)
        cell.value = value
        return
    _set_text(cell, str(value))


def _plan_workbook(portfolio: Portfolio | None) -> Workbook:
    """The README sheet plus every input sheet, filled from ``portfolio`` if given."""
    schema = load_schema()
    wb = Workbook()
    wb.active.title = README_SHEET
    _write_readme(wb.active)
    for table in schema.tables:
        records = () if portfolio is None else getattr(portfolio, table.name)
        _write_input_sheet(wb.create_sheet(table.sheet), table, records)
    props = wb.properties
    props.creator = "cipmodel"
    props.title = "cipmodel plan workbook"
    props.created = props.modified = _dt.datetime(2000, 1, 1)
    return wb


_STYLE_LABELS = {
    MONEY_FORMAT: "£000",
    PERCENT_FORMAT: "%",
    TEXT_FORMAT: "text",
    "0": "whole number",
    "0.00": "weight",
    "General": "number",
}


def _input_style(wb: Workbook, fmt: str) -> str:
    """The name of the workbook's input-cell style with number format ``fmt`` (added once)."""
    name = f"cipmodel input {_STYLE_LABELS.get(fmt, fmt)}"
    if name not in wb.named_styles:
        wb.add_named_style(NamedStyle(name=name, fill=_INPUT_FILL, number_format=fmt))
    return name


def _write_input_sheet(ws: Any, table: Table, records: Iterable[Any]) -> None:
    """One input sheet: header row, records, Excel Table, validations, formats."""
    fields = table.fields
    last_col = get_column_letter(len(fields))
    for j, field in enumerate(fields, start=1):
        cell = ws.cell(row=1, column=j)
        _set_text(cell, field.header)
        cell.font = _BOLD
        cell.fill = _HEADER_FILL
        letter = get_column_letter(j)
        dim = ws.column_dimensions[letter]
        dim.width = _column_width(field)
        # a column style, so cells typed below the records get the fill and the format
        dim.fill = _INPUT_FILL
        dim.number_format = _number_format(field)
    styles = [_input_style(ws.parent, _number_format(f)) for f in fields]
    n = 0
    for n, rec in enumerate(records, start=1):
        row = n + 1
        for j, field in enumerate(fields, start=1):
            value = getattr(rec, field.group or field.name)
            if field.group is not None:
                value = None if value is None else value[field.index]
            cell = ws.cell(row=row, column=j)
            cell.style = styles[j - 1]  # a named style: much faster than fill + format
            _set_value(cell, value, yes_no=True)
    if n == 0:  # an Excel Table needs one data row: leave it blank, styled for input
        for j in range(1, len(fields) + 1):
            ws.cell(row=2, column=j).style = styles[j - 1]
    last_row = max(n, 1) + 1
    tbl = XlTable(
        displayName="tbl" + re.sub(r"\W", "", table.sheet),
        ref=f"A1:{last_col}{last_row}",
        tableStyleInfo=_TABLE_STYLE,
    )
    ws.add_table(tbl)
    dv_last = max(TEMPLATE_ROWS + 1, n + 1 + EXTRA_ROWS)
    for j, field in enumerate(fields, start=1):
        letter = get_column_letter(j)
        ws.add_data_validation(_validation(field, f"{letter}2:{letter}{dv_last}"))
    ws.freeze_panes = "A2"


def _readme_default(field: Field) -> str:
    d = field.default
    if d is None:
        return ""
    if isinstance(d, bool):
        return "Y" if d else "N"
    if isinstance(d, (int, float)):
        return _fmt_bound(d)
    return str(d)


def _write_readme(ws: Any) -> None:
    """The README sheet: how to fill the workbook, every sheet, every column."""
    schema = load_schema()
    lines = [
        "Fill in one row per record on each sheet, in the yellow cells. Every table has a "
        "trust_code column, so one workbook holds one trust or many.",
        "Money is in £000 (thousands of pounds). Rates are fractions shown as percentages: "
        "type 5% or 0.05. Months are financial-year months: 1 = April, 12 = March. Surplus is "
        "positive, deficit negative.",
        "Columns are found by their header: keep the header text, but you may reorder "
        "columns or add your own (they are ignored). Blank rows are skipped. Formulas are "
        "fine: the value saved with the workbook is read.",
        "Check a filled workbook with: cipmodel validate plan.xlsx",
    ]
    ws["A1"] = "cipmodel plan workbook"
    ws["A1"].font = _TITLE
    row = 2
    for text in lines:
        _set_text(ws.cell(row=row, column=1), text)
        row += 1
    _set_text(ws.cell(row=row, column=1), f"Schema version {schema.version}.")
    row += 2
    ws.cell(row=row, column=1, value="Sheets").font = _BOLD
    row += 1
    for j, head in enumerate(("Sheet", "Required", "What it holds"), start=1):
        c = ws.cell(row=row, column=j, value=head)
        c.font, c.fill = _BOLD, _HEADER_FILL
    for table in schema.tables:
        row += 1
        ws.cell(row=row, column=1, value=table.sheet)
        ws.cell(row=row, column=2, value="no" if table.name in OPTIONAL_TABLES else "yes")
        _set_text(ws.cell(row=row, column=3), table.description)
        ws.cell(row=row, column=3).alignment = _WRAP
    row += 2
    ws.cell(row=row, column=1, value="Columns").font = _BOLD
    row += 1
    heads = (
        "Sheet",
        "Column header",
        "Rule",
        "Unit",
        "Required",
        "Default (if blank)",
        "Description",
    )
    for j, head in enumerate(heads, start=1):
        c = ws.cell(row=row, column=j, value=head)
        c.font, c.fill = _BOLD, _HEADER_FILL
    for table in schema.tables:
        for field in table.fields:
            row += 1
            values = (
                table.sheet,
                field.header,
                field.rule(),
                field.unit,
                "yes" if field.required and field.default is None else "no",
                _readme_default(field),
                field.description,
            )
            for j, value in enumerate(values, start=1):
                _set_text(ws.cell(row=row, column=j), value)
            ws.cell(row=row, column=3).alignment = _WRAP
            ws.cell(row=row, column=7).alignment = _WRAP
    for letter, width in zip("ABCDEFG", (16, 30, 40, 8, 10, 18, 90), strict=True):
        ws.column_dimensions[letter].width = width


def _cell_python(value: Any) -> Any:
    """A DataFrame value as a plain Python value for openpyxl (None for NA)."""
    import pandas as pd  # writers only: reading a plan needs no pandas

    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        if pd.isna(value):
            return None
        return (value.tz_localize(None) if value.tzinfo else value).to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            return str(value)
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def _result_format(header: str) -> str | None:
    if header.endswith("(£000)"):
        return MONEY_FORMAT
    if header.endswith("(%)"):
        return PERCENT_FORMAT
    return None


def _write_frame(ws: Any, frame: pd.DataFrame) -> None:
    """A result sheet: bold header, one row per DataFrame row, index as leading columns."""
    import pandas as pd  # writers only: reading a plan needs no pandas

    df = frame if isinstance(frame.index, pd.RangeIndex) else frame.reset_index()
    headers = [
        " / ".join(str(x) for x in col) if isinstance(col, tuple) else str(col)
        for col in df.columns
    ]
    formats = [_result_format(h) for h in headers]
    for j, head in enumerate(headers, start=1):
        cell = ws.cell(row=1, column=j)
        _set_text(cell, head)
        cell.font = _BOLD
        cell.fill = _HEADER_FILL
        ws.column_dimensions[get_column_letter(j)].width = min(max(len(head) + 3, 10), 50)
    for i, values in enumerate(df.itertuples(index=False, name=None), start=2):
        for j, value in enumerate(values, start=1):
            cell = ws.cell(row=i, column=j)
            _set_value(cell, _cell_python(value))
            if formats[j - 1] and isinstance(cell.value, (int, float)):
                cell.number_format = formats[j - 1]
    ws.freeze_panes = "A2"


def _write_provenance(ws: Any, provenance: Mapping[str, Any]) -> None:
    """Key/value rows recording how the results were made."""
    for j, head in enumerate(("key", "value"), start=1):
        cell = ws.cell(row=1, column=j, value=head)
        cell.font = _BOLD
        cell.fill = _HEADER_FILL
    for i, (key, value) in enumerate(provenance.items(), start=2):
        _set_text(ws.cell(row=i, column=1), str(key))
        plain = value is None or isinstance(
            value, (str, bool, int, float, _dt.date, _dt.datetime, _dt.time)
        )
        shown = value if plain else json.dumps(value, sort_keys=True, default=str)
        _set_value(ws.cell(row=i, column=2), shown)
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 60
    ws.freeze_panes = "A2"


# =========================================================================================
# Comparing
# =========================================================================================
def workbooks_equal(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> list[str]:
    """Differences between two workbooks' content; an empty list if they match.

    Compares sheet names and order, every cell's value, type and number format, bold
    and fill, column widths, frozen panes, data validations and Excel Tables. Zip
    timestamps and document properties (dates, author) are ignored, so a committed
    template can be checked against what the code writes now.

    Returns
    -------
    list of str
        One sentence per difference, e.g. ``"CIP!B1: value 'scheme_id' != 'scheme'"``;
        at most 50, then a count of the rest.
    """
    wa, wb_ = _load_full(Path(a)), _load_full(Path(b))
    diffs: list[str] = []
    if wa.sheetnames != wb_.sheetnames:
        diffs.append(f"sheets {wa.sheetnames} != {wb_.sheetnames}")
    for title in [t for t in wa.sheetnames if t in wb_.sheetnames]:
        sa, sb = _sheet_summary(wa[title]), _sheet_summary(wb_[title])
        for key in sorted(set(sa) | set(sb)):
            va, vb = sa.get(key), sb.get(key)
            if va != vb:
                diffs.append(f"{title}!{key}: {va!r} != {vb!r}")
    if len(diffs) > 50:
        diffs = [*diffs[:50], f"... and {len(diffs) - 50} more differences"]
    return diffs


def _load_full(p: Path) -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return load_workbook(io.BytesIO(p.read_bytes()), data_only=False)
    except OSError as exc:
        msg = f"{p.name} cannot be opened: {exc.strerror or exc}"
        raise WorkbookError(msg) from exc


def _sheet_summary(ws: Any) -> dict[str, Any]:
    """Everything compared for one sheet, keyed by a short label."""
    out: dict[str, Any] = {
        "(state)": ws.sheet_state,
        "(freeze_panes)": ws.freeze_panes,
        "(validations)": sorted(
            (
                str(dv.sqref),
                dv.type,
                dv.operator,
                dv.formula1,
                dv.formula2,
                bool(dv.allow_blank),
                dv.prompt,
                dv.error,
            )
            for dv in ws.data_validations.dataValidation
        ),
        "(tables)": sorted(
            (
                t.displayName,
                t.ref,
                t.tableStyleInfo.name if t.tableStyleInfo else None,
                tuple(c.name for c in t.tableColumns),
            )
            for t in ws.tables.values()
        ),
    }
    for letter, dim in sorted(ws.column_dimensions.items()):
        out[f"(column {letter})"] = (dim.width, dim.number_format, _fill(dim.fill))
    for row in ws.iter_rows():
        for c in row:
            if c.value is None and c.number_format == "General" and not c.has_style:
                continue
            out[c.coordinate] = (
                c.value,
                c.data_type,
                c.number_format,
                bool(c.font and c.font.b),
                _fill(c.fill),
            )
    return out


def _fill(fill: Any) -> str | None:
    if fill is None or fill.fill_type is None:
        return None
    return str(fill.fgColor.rgb)
