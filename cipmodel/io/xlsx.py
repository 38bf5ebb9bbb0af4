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

The size limits (:data:`MAX_UNPACKED_BYTES`, :data:`MAX_ROWS`, :data:`MAX_CELLS` and the
limits on the parts of a workbook in :data:`LIMIT_DEFAULTS`: styles, defined names,
relationships, content types, sheets, zip entries) are raised by keyword or environment
variable (:data:`LIMIT_ENV`), resolved by :meth:`Limits.resolve`. The parts are checked
while they are streamed (:func:`census`), before openpyxl builds a tree of any of them, so
a small file with millions of entries is refused in a fraction of a second.
"""

from __future__ import annotations

import io
import os
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, NamedTuple
from xml.parsers import expat

import openpyxl.xml
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from openpyxl.xml import functions as _xml

from cipmodel.errors import WorkbookError

__all__ = [
    "LIMIT_ENV",
    "MAX_CELLS",
    "MAX_ROWS",
    "MAX_UNPACKED_BYTES",
    "READ_SUFFIXES",
    "LIMIT_DEFAULTS",
    "MAIN_NS",
    "Limits",
    "PartTooBig",
    "caused_by",
    "census",
    "expat_parser",
    "open_zip",
    "read_bytes",
    "require_safe_xml",
    "sheet_key",
]

READ_SUFFIXES = (".xlsx", ".xlsm")
MAX_UNPACKED_BYTES = 512 * 1024 * 1024  # refuse zip bombs: a big plan unpacks to ~10 MB
MAX_ROWS = 200_000  # rows with values on one input sheet (a national plan has ~10,000)
MAX_CELLS = 500_000  # cells with values on one input sheet (a national plan: ~120,000)
#: The limits on the parts of a workbook (far above what Excel or LibreOffice write: Excel
#: allows 64,000 cell formats, LibreOffice 10,000 sheets; a plan has about 40 zip entries).
LIMIT_DEFAULTS = {
    "max_styles": 200_000,  # fonts + fills + borders + cell formats + number formats...
    "max_names": 100_000,  # defined names
    "max_rels": 100_000,  # relationships in one .rels part
    "max_content_types": 100_000,  # Default and Override entries of [Content_Types].xml
    "max_sheets": 10_000,
    "max_zip_entries": 100_000,
}
# Environment variables that raise (or lower) the limits for every read.
LIMIT_ENV = {
    "max_unpacked_bytes": "CIPMODEL_MAX_UNPACKED_MB",
    "max_rows": "CIPMODEL_MAX_ROWS",
    "max_cells": "CIPMODEL_MAX_CELLS",
    "max_styles": "CIPMODEL_MAX_STYLES",
    "max_names": "CIPMODEL_MAX_NAMES",
    "max_rels": "CIPMODEL_MAX_RELS",
    "max_content_types": "CIPMODEL_MAX_CONTENT_TYPES",
    "max_sheets": "CIPMODEL_MAX_SHEETS",
    "max_zip_entries": "CIPMODEL_MAX_ZIP_ENTRIES",
}
#: What each part limit counts, for messages.
_LIMIT_WHAT = {
    "max_styles": "style entries (fonts, fills, borders, cell and number formats)",
    "max_names": "defined names",
    "max_rels": "relationships",
    "max_content_types": "content types",
    "max_sheets": "sheets",
    "max_zip_entries": "zip entries (parts)",
}
#: The namespace of every SpreadsheetML element (Transitional; Strict files are refused).
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class Limits(NamedTuple):
    """Size limits for one read (hostile or runaway files are refused, not read)."""

    max_rows: int
    max_cells: int
    max_unpacked_bytes: int
    max_styles: int = LIMIT_DEFAULTS["max_styles"]
    max_names: int = LIMIT_DEFAULTS["max_names"]
    max_rels: int = LIMIT_DEFAULTS["max_rels"]
    max_content_types: int = LIMIT_DEFAULTS["max_content_types"]
    max_sheets: int = LIMIT_DEFAULTS["max_sheets"]
    max_zip_entries: int = LIMIT_DEFAULTS["max_zip_entries"]

    @classmethod
    def resolve(
        cls,
        max_rows: int | None,
        max_cells: int | None,
        max_unpacked_bytes: int | None,
        **parts: int | None,
    ) -> Limits:
        """Keyword, else environment variable (``LIMIT_ENV``), else the default.

        ``parts`` are the limits of :data:`LIMIT_DEFAULTS` by name (``max_styles=``...).
        """
        unknown = sorted(set(parts) - set(LIMIT_DEFAULTS))
        if unknown:
            msg = f"unknown limit {unknown[0]!r} (known: {', '.join([*LIMIT_ENV])})"
            raise WorkbookError(msg)

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
            **{k: pick(parts.get(k), k, d) for k, d in LIMIT_DEFAULTS.items()},
        )

    def refusal(self, name: str, key: str, where: str) -> WorkbookError:
        """The error for a part of ``name`` holding more entries than limit ``key``."""
        limit = getattr(self, key)
        msg = (
            f"{name}: {where} holds more than {limit:,} {_LIMIT_WHAT[key]}, far more than a "
            f"workbook saved by Excel or LibreOffice: refused. If it really is this big, set "
            f"{LIMIT_ENV[key]} to raise the limit"
        )
        return WorkbookError(msg)


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
    if not stat.S_ISREG(mode) or _system_file(p):  # a pipe would block, /dev/zero never ends
        msg = f"{name} is not a file (a device, pipe, socket or system file): refused"
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


def _system_file(p: Path) -> bool:
    """Whether ``p`` is (or links to) a file of /proc, /sys or /dev: regular files there
    can block or never end (/proc/kmsg), whatever size they report."""
    try:
        return os.path.realpath(p).startswith(("/proc/", "/sys/", "/dev/"))
    except (OSError, ValueError):
        return False


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


def _zip_entries(data: bytes) -> int:
    """How many entries the archive's central directory holds, at most: the count its end
    record declares or the entry signatures in the directory, whichever is larger (zipfile
    builds an object per entry, so this is checked before it reads the directory)."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 22 - 65_535))
    if end < 0 or end + 22 > len(data):
        return 0  # not a zip: is_zipfile says so
    declared, cd_size, cd_offset = struct.unpack("<H2I", data[end + 10 : end + 20])
    cd_end = end
    locator = end - 20
    if locator >= 0 and data[locator : locator + 4] == b"PK\x06\x07":  # zip64
        (record,) = struct.unpack("<Q", data[locator + 8 : locator + 16])
        if 0 <= record < locator and data[record : record + 4] == b"PK\x06\x06":
            declared, cd_size = struct.unpack("<2Q", data[record + 32 : record + 48])
            cd_end = record
    start = max(0, cd_end - cd_size)
    return max(declared, data.count(b"PK\x01\x02", start, cd_end))


def open_zip(
    data: bytes,
    name: str,
    max_unpacked: int = MAX_UNPACKED_BYTES,
    max_entries: int = LIMIT_DEFAULTS["max_zip_entries"],
) -> zipfile.ZipFile:
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
    if _zip_entries(data) > max_entries:
        msg = (
            f"{name}: the archive holds more than {max_entries:,} {_LIMIT_WHAT['max_zip_entries']}, "
            "far more than a workbook saved by Excel or LibreOffice: refused. If it really is "
            f"this big, set {LIMIT_ENV['max_zip_entries']} to raise the limit"
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
        strict = False
        if "xl/workbook.xml" in names:
            # the namespace is declared on the root element: its start is enough (the whole
            # part may be hundreds of MB of defined names)
            with zf.open("xl/workbook.xml") as fh:
                strict = b"purl.oclc.org/ooxml/spreadsheetml" in fh.read(1 << 16)
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


# -- streaming XML: the parser every part is read with, and the census of a part -----------
def _no_dtd(name: str, sysid: str | None, pubid: str | None, _internal: object) -> None:
    raise DTDForbidden(name, sysid, pubid)


def _no_entity(name: str, *args: Any) -> None:
    raise EntitiesForbidden(name, None, None, None, None, None)


def _no_external(context: str, base: str | None, sysid: str | None, pubid: str | None) -> int:
    raise ExternalReferenceForbidden(context, base, sysid, pubid)


def expat_parser(*, allow_dtd: bool = False, intern: dict[str, str] | None = None) -> Any:
    """A namespace-aware expat parser (element names ``"namespace}local"``) that refuses a
    DTD, entity declarations and external references, as defusedxml does with
    ``forbid_dtd`` (no workbook part has a DTD); ``allow_dtd`` lets a bare DTD through, as
    openpyxl's defusedxml parse of the structural parts does. Handlers are set by the
    caller.

    ``intern`` (a new dict for each parser: the parser adds the names it meets) maps names
    to the string objects to pass for them: handlers given their own constants there
    compare names by identity, which is faster than comparing equal strings."""
    if intern is None:
        parser = expat.ParserCreate(namespace_separator="}")
    else:
        parser = expat.ParserCreate(namespace_separator="}", intern=intern)
    parser.buffer_text = True
    parser.buffer_size = 1 << 16
    if not allow_dtd:
        parser.StartDoctypeDeclHandler = _no_dtd
    parser.EntityDeclHandler = _no_entity
    parser.UnparsedEntityDeclHandler = _no_entity
    parser.ExternalEntityRefHandler = _no_external
    return parser


class PartTooBig(Exception):
    """Raised by :func:`census` when a part holds more entries than its limit."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def census(fh: IO[bytes], counted: Mapping[str, str], limits: Mapping[str, int]) -> None:
    """Stream one XML part and count its elements, without building anything.

    ``counted`` maps an element's local name to the limit key it counts against (``"*"``:
    every element not named); ``limits`` maps a key to its limit. Raises
    :class:`PartTooBig` with the key as soon as a count passes its limit, so a part with
    millions of entries is refused after reading as many as the limit; raises
    ``expat.ExpatError`` for XML that is not well formed and defusedxml's errors for a DTD.
    """
    left = dict(limits)
    keys = {f"{MAIN_NS}}}{local}": key for local, key in counted.items() if local != "*"}
    other = counted.get("*")

    def start(name: str, _attrs: object) -> None:
        key = keys.get(name, other)
        if key is None:
            return
        left[key] -= 1
        if left[key] < 0:
            raise PartTooBig(key)

    parser = expat_parser(allow_dtd=True)  # openpyxl's own parse then decides on a DTD
    parser.StartElementHandler = start
    parser.ParseFile(fh)
