"""The hardened low level of reading an ``.xlsx`` file: the file, its zip archive, its XML.

Before any part of a workbook is parsed:

* :func:`read_bytes` checks the file's extension (with a message saying what to do with an
  ``.xls``, ``.csv``, ``.ods``... file), that it is a regular file (never a pipe or a
  device) and its size, and reads it once into memory;
* :func:`open_zip` checks the archive: empty, password-protected or Excel 97-2003, not a
  zip, an OpenDocument file renamed, Strict Open XML, damaged; and the sizes its parts
  declare, so a zip bomb is refused before anything is unpacked;
* :func:`require_safe_xml` refuses to go on unless openpyxl parses XML through
  ``defusedxml`` (entity-expansion and external-entity attacks).

The size limits (:data:`MAX_UNPACKED_BYTES`, :data:`MAX_ROWS`, :data:`MAX_CELLS`) are
raised by keyword or environment variable (:data:`LIMIT_ENV`), resolved by
:meth:`Limits.resolve`.
"""

from __future__ import annotations

import io
import os
import re
import stat
import zipfile
import zlib
from pathlib import Path
from typing import NamedTuple

import openpyxl.xml
from openpyxl.xml import functions as _xml

from cipmodel.errors import WorkbookError

__all__ = [
    "LIMIT_ENV",
    "MAX_CELLS",
    "MAX_ROWS",
    "MAX_UNPACKED_BYTES",
    "READ_SUFFIXES",
    "Limits",
    "caused_by",
    "open_zip",
    "read_bytes",
    "require_safe_xml",
    "sheet_key",
]

READ_SUFFIXES = (".xlsx", ".xlsm")
MAX_UNPACKED_BYTES = 512 * 1024 * 1024  # refuse zip bombs: a big plan unpacks to ~10 MB
MAX_ROWS = 200_000  # rows with values on one input sheet (a national plan has ~10,000)
MAX_CELLS = 3_000_000  # cells with values on one input sheet (bounds memory: ~170 B a cell)
# Environment variables that raise (or lower) the limits for every read.
LIMIT_ENV = {
    "max_unpacked_bytes": "CIPMODEL_MAX_UNPACKED_MB",
    "max_rows": "CIPMODEL_MAX_ROWS",
    "max_cells": "CIPMODEL_MAX_CELLS",
}

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class Limits(NamedTuple):
    """Size limits for one read (hostile or runaway files are refused, not read)."""

    max_rows: int
    max_cells: int
    max_unpacked_bytes: int

    @classmethod
    def resolve(
        cls, max_rows: int | None, max_cells: int | None, max_unpacked_bytes: int | None
    ) -> Limits:
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


def read_bytes(p: Path, max_bytes: int = MAX_UNPACKED_BYTES) -> bytes:
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


def require_safe_xml() -> None:
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


def open_zip(data: bytes, name: str, max_unpacked: int = MAX_UNPACKED_BYTES) -> zipfile.ZipFile:
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


def caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``exc`` or an exception it was raised from is a ``kind`` (openpyxl wraps)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def sheet_key(title: str) -> str:
    """Sheet-name key: case, surrounding spaces and inner spaces/underscores ignored."""
    return re.sub(r"[\s_\-]+", "", title.strip().casefold())
