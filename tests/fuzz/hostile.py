"""Hostile inputs: how each is built, and what cipmodel did with it.

Each :class:`Hostile` builds one input file (a workbook, a scenario, a plan with edge-case
numbers) in a folder and names the call it is given to. :func:`outcome` runs it and
returns a :class:`Row` (kind, message excerpt, notes) for the assertions in
``tests/test_hostile.py`` / ``tests/test_robustness.py`` and for the table in
``docs/hostile-inputs.md`` (:func:`markdown`). ``benchmarks/bench_hostile.py`` times the
resource-limit cases in a child process and measures its peak memory.

Every builder is deterministic, so the table is the same on every run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import random
import re
import socket
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cipmodel.errors import CipModelError, ValidationError
from cipmodel.examples import example_portfolio
from cipmodel.inputs.records import TABLE_NAMES, Portfolio
from cipmodel.io import read_plan_with_notes
from cipmodel.io.plan import load_plan
from cipmodel.results.run import run_plan

from .generators import plan_sheets
from .xlsx import Cell, Sheet, XlTable, build, read_parts, zip_parts

__all__ = ["HOSTILE", "Hostile", "Row", "outcome", "markdown", "no_network", "portfolio_rows"]

GB = 2**30
MB = 2**20
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


# =========================================================================================
# Building blocks
# =========================================================================================
def portfolio_rows(p: Portfolio) -> dict[str, list[dict[str, Any]]]:
    """A portfolio as rows of column values (None for blanks), table by table."""
    out: dict[str, list[dict[str, Any]]] = {}
    for table in TABLE_NAMES:
        frame = p.frame(table).astype(object)
        rows = frame.where(frame.notna(), None).to_dict(orient="records")
        out[table] = rows
    return out


def plan_parts(portfolio: Portfolio | None = None, **changes: Any) -> dict[str, bytes]:
    """The parts of a plain plan workbook (sheet1 = Trusts ... sheet9 = Profiles)."""
    rows = portfolio_rows(portfolio or example_portfolio("small"))
    for table, fn in changes.items():
        rows[table] = fn(rows[table])
    sheets = plan_sheets(random.Random(0), rows, vary=False)
    return read_parts(build(sheets))


SHEET = {name: f"xl/worksheets/sheet{i}.xml" for i, name in enumerate(TABLE_NAMES, start=1)}


def _with_dtd(xml: bytes, dtd: bytes) -> bytes:
    at = xml.find(b"?>") + 2 if xml.startswith(b"<?xml") else 0
    return xml[:at] + dtd + xml[at:]


def _laughs() -> bytes:
    """The "billion laughs" DTD: &lol9; expands to 10**9 "lol"s (3 GB)."""
    entities = ['<!ENTITY lol0 "lol">']
    for i in range(1, 10):
        entities.append(f'<!ENTITY lol{i} "' + f"&lol{i - 1};" * 10 + '">')
    return ("<!DOCTYPE lolz [" + "".join(entities) + "]>").encode()


LAUGHS = _laughs()


def _laughs_in(part: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        parts = plan_parts()
        xml = parts[part]
        root = xml.find(b">", xml.find(b"<", xml.find(b"?>") + 2)) + 1  # after the root tag
        parts[part] = _with_dtd(xml[:root] + b"&lol9;" + xml[root:], LAUGHS)
        return _save(folder, zip_parts(parts))

    return make


def _save(folder: Path, data: bytes, name: str = "plan.xlsx") -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def _raw_zip(entries: list[tuple[str, int, int, bytes, int]]) -> bytes:
    """A zip file from (name, method, crc, stored bytes, unpacked size): sizes as given."""
    out = bytearray()
    central = bytearray()
    for name, method, crc, data, size in entries:
        n = name.encode()
        offset = len(out)
        out += struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(data), size, len(n), 0
        )
        out += n + data
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            20,
            20,
            0,
            method,
            0,
            0x21,
            crc,
            len(data),
            size,
            len(n),
            0,
            0,
            0,
            0,
            0,
            offset,
        )
        central += n
    eocd = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), len(out), 0
    )
    return bytes(out + central + eocd)


@functools.cache
def deflated_rows(size: int, prefix: bytes = b"") -> tuple[bytes, int, int]:
    """(raw deflate stream, crc32, length) of ``prefix`` then ``size`` bytes of sheet rows.

    Built fast: the rows are one flushed block repeated. After a full flush a deflate block
    refers to nothing before it, so the same megabyte compresses to the same bytes every time.
    """
    chunk = b"<row><c><v>1</v></c></row>" * (MB // 26)
    chunk += b" " * (MB - len(chunk))
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    times = size // MB
    stream = head + block * times + c.flush()
    crc = zlib.crc32(prefix)
    for _ in range(times):
        crc = zlib.crc32(chunk, crc)
    return stream, crc, len(prefix) + times * MB


def _plan_entries(skip: str = "") -> list[tuple[str, int, int, bytes, int]]:
    out = []
    for name, data in plan_parts().items():
        if name == skip:
            continue
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        out.append((name, 8, zlib.crc32(data), c.compress(data) + c.flush(), len(data)))
    return out


def zip_bomb(folder: Path, size: int = GB) -> Path:
    """A plan whose CIP sheet unpacks to ``size`` bytes (1 GB: about 1 MB on disk)."""
    head = f'<?xml version="1.0"?><worksheet {_NS}><sheetData>'.encode()
    stream, crc, length = deflated_rows(size, head)
    entries = _plan_entries(skip=SHEET["cip"])
    entries.append((SHEET["cip"], 8, crc, stream, length))
    return _save(folder, _raw_zip(entries))


def lying_bomb(folder: Path) -> Path:
    """A plan whose CIP sheet declares 10 KB but holds 1 GB of rows."""
    head = f'<?xml version="1.0"?><worksheet {_NS}><sheetData>'.encode()
    stream, crc, _length = deflated_rows(GB, head)
    entries = _plan_entries(skip=SHEET["cip"])
    entries.append((SHEET["cip"], 8, crc, stream, 10_000))
    return _save(folder, _raw_zip(entries))


def overlapping_bomb(folder: Path) -> Path:
    """1,100 zip entries that all point at the same 1 MB member (an overlapping-files bomb)."""
    stream, crc, _length = deflated_rows(MB)
    entries = _plan_entries()
    data = _raw_zip([*entries, ("xl/media/m0000.bin", 8, crc, stream, MB)])
    eocd_at = data.rfind(b"PK\x05\x06")
    cd_size, cd_offset = struct.unpack("<II", data[eocd_at + 12 : eocd_at + 20])
    central = data[cd_offset : cd_offset + cd_size]
    last = central.rfind(b"PK\x01\x02")
    entry = central[last:]
    extra = b"".join(entry.replace(b"m0000", f"m{k:04d}".encode()) for k in range(1, 1100))
    central += extra
    n = len(entries) + 1100
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(central), cd_offset, 0)
    return _save(folder, data[:cd_offset] + central + eocd)


def _sheet_xml(rows_xml: str, *, dimension: str | None = None, extra: str = "") -> str:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return f'<?xml version="1.0"?><worksheet {_NS}>{dim}<sheetData>{rows_xml}</sheetData>{extra}</worksheet>'


def _cip_header_xml() -> str:
    from cipmodel.inputs.schema import load_schema

    cells = "".join(
        f'<c r="{chr(65 + j)}1" t="inlineStr"><is><t>{f.header}</t></is></c>'
        for j, f in enumerate(load_schema().table("cip").fields)
    )
    return f'<row r="1">{cells}</row>'


def million_rows(folder: Path, n: int = 1_000_000, *, empty: bool = False) -> Path:
    """A plan whose CIP sheet has ``n`` rows under its header (values, or empty rows)."""
    if empty:
        body = "".join(f'<row r="{i}"/>' for i in range(2, n + 2))
    else:
        body = "".join(
            f'<row r="{i}"><c r="A{i}" t="inlineStr"><is><t>RSM</t></is></c>'
            f'<c r="B{i}" t="inlineStr"><is><t>S{i}</t></is></c></row>'
            for i in range(2, n + 2)
        )
    parts = plan_parts()
    parts[SHEET["cip"]] = _sheet_xml(_cip_header_xml() + body).encode()
    return _save(folder, zip_parts(parts))


def _patch(part: str, fn: Callable[[bytes], bytes], **changes: Any) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        parts = plan_parts(**changes)
        parts[part] = fn(parts[part])
        return _save(folder, zip_parts(parts))

    return make


def _zip_entry_patch(
    fn: Callable[[bytearray, int, str], None], member: str
) -> Callable[[Path], Path]:
    """Patch the central directory entry (and bytes) of one member of a plain plan."""

    def make(folder: Path) -> Path:
        data = bytearray(zip_parts(plan_parts()))
        pos = 0
        while True:
            pos = data.find(b"PK\x01\x02", pos)
            n = struct.unpack("<H", data[pos + 28 : pos + 30])[0]
            if data[pos + 46 : pos + 46 + n].decode() == member:
                break
            pos += 4
        fn(data, pos, member)
        return _save(folder, bytes(data))

    return make


def _set_method(data: bytearray, pos: int, member: str) -> None:
    data[pos + 10 : pos + 12] = struct.pack("<H", 99)  # AES (WinZip): not supported


def _set_encrypted(data: bytearray, pos: int, member: str) -> None:
    data[pos + 8 : pos + 10] = struct.pack(
        "<H", struct.unpack("<H", data[pos + 8 : pos + 10])[0] | 1
    )


def _corrupt_deflate(data: bytearray, pos: int, member: str) -> None:
    offset = struct.unpack("<I", data[pos + 42 : pos + 46])[0]
    n, m = struct.unpack("<HH", data[offset + 26 : offset + 30])
    start = offset + 30 + n + m
    for k in range(3, 9):
        data[start + k] ^= 0xFF


def _flip_crc(data: bytearray, pos: int, member: str) -> None:
    data[pos + 16] ^= 0x01  # the CRC the central directory records


def _edit_sheets(
    fn: Callable[[list[Sheet]], None], name: str = "plan.xlsx", **build_kw: Any
) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        sheets = plan_sheets(
            random.Random(0), portfolio_rows(example_portfolio("small")), vary=False
        )
        fn(sheets)
        return _save(folder, build(sheets, **build_kw), name)

    return make


def _sheet(sheets: list[Sheet], title: str) -> Sheet:
    return next(s for s in sheets if s.title == title)


def _set_cell(title: str, row: int, col: int, cell: Cell) -> Callable[[list[Sheet]], None]:
    def fn(sheets: list[Sheet]) -> None:
        _sheet(sheets, title).set(row, col, cell)

    return fn


def _inline_strings(sheets: list[Sheet]) -> None:
    for sheet in sheets:
        for row in sheet.rows.values():
            for cell in row.values():
                if cell.t == "s":
                    cell.t = "inlineStr"


def _huge_drawdown(sheets: list[Sheet]) -> None:
    fin = Sheet("Financing")
    for j, name in enumerate(
        ["trust_code", "opening_cash", "opening_working_capital", "opening_loans", "loan_drawdown"],
        start=1,
    ):
        fin.set(1, j, Cell(name, "s"))
    fin.set(2, 1, Cell("RSM", "s"))
    fin.set(2, 5, Cell(1.7e308))
    sheets[:] = [s for s in sheets if s.title != "Financing"] + [fin]


def _many_columns(sheets: list[Sheet]) -> None:
    cip = _sheet(sheets, "CIP")
    for c in range(13, 16385):
        cip.set(2, c, Cell(c))


def _totals(sheets: list[Sheet]) -> None:
    cip = _sheet(sheets, "CIP")
    cip.tables = [XlTable("A1:L1048576", "tblCIP", ["c"] * 12, totals_rows=10**12)]


def _merge_all(sheets: list[Sheet]) -> None:
    _sheet(sheets, "CIP").merges.append("A1:XFD1048576")


def _dimension(sheets: list[Sheet]) -> None:
    for s in sheets:
        s.dimension = "A1:XFD1048576"


def _many_sheets(sheets: list[Sheet]) -> None:
    sheets += [Sheet(f"Extra {k}", {1: {1: Cell(k)}}) for k in range(2000)]


def _external_table(sheets: list[Sheet]) -> None:
    for t in _sheet(sheets, "CIP").tables:
        t.external = True


def _nested(sheets: list[Sheet]) -> None:
    _sheet(sheets, "Income").after_data = "<x>" * 100_000 + "</x>" * 100_000


def _xinclude(sheets: list[Sheet]) -> None:
    _sheet(
        sheets, "CIP"
    ).before_data = '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd" parse="text"/>'


EXTERNAL_LINK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    f'<externalLink {_NS}><externalBook xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" r:id="rId1">'
    '<sheetNames><sheetName val="Sheet1"/></sheetNames><sheetDataSet><sheetData sheetId="0">'
    '<row r="1"><cell r="A1"><v>999</v></cell></row></sheetData></sheetDataSet></externalBook></externalLink>'
)
EXTERNAL_LINK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/externalLinkPath" '
    'Target="http://127.0.0.1:9/evil.xlsx" TargetMode="External"/></Relationships>'
)


def external_link(folder: Path, cached: bool = True) -> Path:
    """A plan whose CIP!F2 is a formula on another workbook (on a web server)."""

    def fn(sheets: list[Sheet]) -> None:
        value = 240.0 if cached else None
        _sheet(sheets, "CIP").set(2, 6, Cell(value, formula="[1]Sheet1!$A$1"))

    make = _edit_sheets(
        fn,
        extra_parts={
            "xl/externalLinks/externalLink1.xml": EXTERNAL_LINK,
            "xl/externalLinks/_rels/externalLink1.xml.rels": EXTERNAL_LINK_RELS,
        },
        workbook_extra='<externalReferences><externalReference r:id="rIdX"/></externalReferences>',
    )
    path = make(folder)
    parts = read_parts(path.read_bytes())
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>",
        b'<Relationship Id="rIdX" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/externalLink" Target="externalLinks/externalLink1.xml"/></Relationships>',
    )
    return _save(folder, zip_parts(parts))


def _sheet_target(target: str, mode: str = "") -> Callable[[Path], Path]:
    def fn(data: bytes) -> bytes:
        old = b'Target="worksheets/sheet4.xml"'
        new = f'Target="{target}"{mode}'.encode()
        assert old in data
        return data.replace(old, new)

    return _patch("xl/_rels/workbook.xml.rels", fn)


def _fifo(folder: Path) -> Path:
    path = folder / "plan.xlsx"
    os.mkfifo(path)
    return path


def _dev_zero(folder: Path) -> Path:
    path = folder / "plan.xlsx"
    path.symlink_to("/dev/zero")
    return path


# -- scenario files -----------------------------------------------------------------------
def _toml(text: str | bytes, name: str = "scenario.toml") -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        data = text.encode("utf-8") if isinstance(text, str) else text
        return _save(folder, data, name)

    return make


def _scenario(body: str, head: str = 'example = "small"') -> Callable[[Path], Path]:
    return _toml(f"[scenario]\n{head}\n{body}\n")


def _scenario_on_fifo(folder: Path) -> Path:
    os.mkfifo(folder / "pipe.xlsx")
    return _save(folder, b'[scenario]\nplan = "pipe.xlsx"\n', "scenario.toml")


# -- plans with edge-case numbers ---------------------------------------------------------
def edge_plan(kind: str) -> Portfolio:
    """The small example changed to an edge case of the numbers (see NUMBERS below)."""
    p = example_portfolio("small")
    t = p.trusts[0]
    r = dataclasses.replace
    if kind == "zero-income":
        return p.replace(income=())
    if kind == "zero-opex":
        return p.replace(costs=tuple(c for c in p.costs if c.line == "depreciation"), cip=())
    if kind == "zero-capital-service":
        return p  # the small example has no PDC dividend, interest or loan repayments
    if kind == "zero-agency-ceiling":
        return p.replace(trusts=(r(t, agency_ceiling=0.0),))
    if kind == "all-zero-cip":
        return p.replace(cip=tuple(r(s, value_fye=0.0) for s in p.cip))
    if kind == "deficit-over-income":
        big = r(p.costs[0], annual_value=40_000.0)
        return p.replace(costs=(*p.costs, big))
    if kind == "nothing":
        return p.replace(income=(), costs=(), cip=())
    if kind == "income-only":
        return p.replace(costs=(), cip=())
    if kind == "overflow":  # surplus / income overflows: -9,000 / 2.5e-311 is -inf
        return p.replace(income=tuple(r(i, annual_value=1e-310) for i in p.income))
    if kind == "huge":
        return p.replace(income=tuple(r(i, annual_value=1e300) for i in p.income))
    if kind == "tiny":
        return p.replace(
            income=tuple(r(i, annual_value=5e-324) for i in p.income),
            costs=tuple(r(c, annual_value=5e-324) for c in p.costs),
            cip=(),
        )
    raise KeyError(kind)


# =========================================================================================
# The registry
# =========================================================================================
@dataclass(frozen=True)
class Hostile:
    """One hostile input.

    ``make(folder)`` writes it and returns the path given to ``via``: ``read_plan``
    (``read_plan_with_notes``), ``load_plan``, or ``run`` (the plan ``edge_plan(id)`` is
    run, no file). ``expect`` is the outcome kind it must end in and ``text`` a piece of
    the message it must show.
    """

    id: str
    group: str
    input: str
    make: Callable[[Path], Path] | None
    expect: str
    text: str = ""
    via: str = "read_plan"
    env: tuple[tuple[str, str], ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()
    resource: bool = False  # timed and measured by benchmarks/bench_hostile.py


G_SIZE = "Zip bombs, huge sheets and size limits"
G_XML = "XML attacks"
G_ZIP = "Damaged zip archives"
G_LINK = "Macros, external links and odd parts"
G_FILE = "Files that are not files"
G_TOML = "Scenario files"
G_NUM = "Edge-case numbers (plan runs)"

REFUSED, PROBLEMS, READ, RUN, RUN_REFUSED = "refused", "problems", "read", "run", "run refused"

HOSTILE: tuple[Hostile, ...] = (
    # -- size -------------------------------------------------------------------------------
    Hostile(
        "zip-bomb-1gb",
        G_SIZE,
        "a CIP sheet that unpacks to 1 GB (about 1 MB on disk)",
        zip_bomb,
        REFUSED,
        "refused as a possible zip bomb",
        resource=True,
    ),
    Hostile(
        "zip-bomb-overlap",
        G_SIZE,
        "1,100 zip entries sharing one 1 MB member (overlapping-files bomb)",
        overlapping_bomb,
        REFUSED,
        "refused as a possible zip bomb",
        resource=True,
    ),
    Hostile(
        "zip-bomb-lying",
        G_SIZE,
        "a CIP sheet that declares 10 KB but holds 1 GB",
        lying_bomb,
        REFUSED,
        "damaged",
        resource=True,
    ),
    Hostile(
        "file-over-limit",
        G_SIZE,
        "a workbook file larger than the size limit (limit lowered to 1 MB)",
        lambda f: _save(
            f, zip_parts({**plan_parts(), "xl/media/big.bin": random.Random(1).randbytes(2 * MB)})
        ),
        REFUSED,
        "more than the 1 MB",
        kwargs=(("max_unpacked_bytes", MB),),
    ),
    Hostile(
        "million-rows",
        G_SIZE,
        "a CIP sheet with 1,000,000 rows of values",
        million_rows,
        REFUSED,
        "more than 200,000 rows",
        resource=True,
    ),
    Hostile(
        "million-empty-rows",
        G_SIZE,
        "a CIP sheet with 1,000,000 empty rows (no dimension)",
        functools.partial(million_rows, empty=True),
        READ,
        resource=True,
    ),
    Hostile(
        "rows-env",
        G_SIZE,
        "a plan over a row limit set with CIPMODEL_MAX_ROWS=2",
        _edit_sheets(lambda s: None),
        REFUSED,
        "set CIPMODEL_MAX_ROWS",
        env=(("CIPMODEL_MAX_ROWS", "2"),),
    ),
    Hostile(
        "cells-keyword",
        G_SIZE,
        "a plan over a cell limit set with read_plan(max_cells=20)",
        _edit_sheets(_inline_strings, shared_strings=False),
        REFUSED,
        "more than 20 cells",
        kwargs=(("max_cells", 20),),
    ),
    Hostile(
        "strings-keyword",
        G_SIZE,
        "more different texts than the cell limit (max_cells=5)",
        _edit_sheets(lambda s: None),
        REFUSED,
        "more than 5 different texts",
        kwargs=(("max_cells", 5),),
    ),
    Hostile(
        "long-file-name",
        G_SIZE,
        "a file name of 5,000 characters",
        lambda f: f / ("a" * 5000 + ".xlsx"),
        REFUSED,
        "cannot be opened",
    ),
    Hostile(
        "dimension-xfd",
        G_SIZE,
        "every sheet claiming the dimension A1:XFD1048576",
        _edit_sheets(_dimension),
        READ,
        resource=True,
    ),
    Hostile(
        "columns-xfd",
        G_SIZE,
        "a CIP row with values in all 16,384 columns (A to XFD)",
        _edit_sheets(_many_columns),
        READ,
        resource=True,
    ),
    Hostile("merge-xfd", G_SIZE, "a merged range A1:XFD1048576", _edit_sheets(_merge_all), READ),
    Hostile(
        "totals-huge",
        G_SIZE,
        "an Excel Table claiming 10^12 totals rows",
        _edit_sheets(_totals),
        READ,
        resource=True,
    ),
    Hostile("many-sheets", G_SIZE, "2,000 extra sheets", _edit_sheets(_many_sheets), READ),
    Hostile(
        "long-text",
        G_SIZE,
        "a scheme name of 1,000,000 characters",
        _edit_sheets(_set_cell("CIP", 2, 3, Cell("x" * 1_000_000, "s"))),
        PROBLEMS,
        "name must be text of at most 200 characters",
    ),
    Hostile(
        "long-number",
        G_SIZE,
        "a cell holding a 400-digit number",
        _edit_sheets(_set_cell("CIP", 2, 6, Cell("9" * 400, raw=True))),
        PROBLEMS,
        "value_fye must be a number >= 0, got a whole number of about 400 digits",
    ),
    Hostile("deep-xml", G_SIZE, "100,000 nested elements in a sheet", _edit_sheets(_nested), READ),
    # -- XML --------------------------------------------------------------------------------
    Hostile(
        "laughs-sheet",
        G_XML,
        "billion laughs (entity expansion) in a sheet",
        _laughs_in(SHEET["cip"]),
        REFUSED,
        "possible attack",
        resource=True,
    ),
    Hostile(
        "laughs-workbook",
        G_XML,
        "billion laughs in xl/workbook.xml",
        _laughs_in("xl/workbook.xml"),
        REFUSED,
        "possible attack",
        resource=True,
    ),
    Hostile(
        "laughs-strings",
        G_XML,
        "billion laughs in the shared strings",
        _laughs_in("xl/sharedStrings.xml"),
        REFUSED,
        "possible attack",
        resource=True,
    ),
    Hostile(
        "laughs-styles",
        G_XML,
        "billion laughs in xl/styles.xml",
        _laughs_in("xl/styles.xml"),
        REFUSED,
        "possible attack",
    ),
    Hostile(
        "laughs-content-types",
        G_XML,
        "billion laughs in [Content_Types].xml",
        _laughs_in("[Content_Types].xml"),
        REFUSED,
        "possible attack",
    ),
    Hostile(
        "quadratic",
        G_XML,
        "quadratic blowup: one 100 KB entity used 100,000 times",
        _patch(
            SHEET["trusts"],
            lambda x: _with_dtd(
                x.replace(b"<sheetData>", b"<sheetData>" + b"&a;" * 100_000),
                b'<!DOCTYPE w [<!ENTITY a "' + b"a" * 100_000 + b'">]>',
            ),
        ),
        REFUSED,
        "possible attack",
    ),
    Hostile(
        "xxe-file",
        G_XML,
        "an external entity reading file:///etc/passwd",
        _patch(
            SHEET["trusts"],
            lambda x: _with_dtd(
                x.replace(b"<sheetData>", b"<sheetData>&x;"),
                b'<!DOCTYPE w [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
            ),
        ),
        REFUSED,
        "possible attack",
    ),
    Hostile(
        "xxe-http",
        G_XML,
        "an external DTD on a web server (http://127.0.0.1:9/) in a sheet",
        _patch(
            SHEET["cip"], lambda x: _with_dtd(x, b'<!DOCTYPE w SYSTEM "http://127.0.0.1:9/x.dtd">')
        ),
        REFUSED,
        "possible attack",
    ),
    Hostile(
        "xxe-http-workbook",
        G_XML,
        "the same external DTD in xl/workbook.xml (no entities)",
        _patch(
            "xl/workbook.xml",
            lambda x: _with_dtd(x, b'<!DOCTYPE w SYSTEM "http://127.0.0.1:9/x.dtd">'),
        ),
        READ,
    ),
    Hostile(
        "xxe-parameter",
        G_XML,
        "a parameter entity fetching a remote DTD",
        _patch(
            SHEET["cip"],
            lambda x: _with_dtd(
                x, b'<!DOCTYPE w [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]>'
            ),
        ),
        REFUSED,
        "possible attack",
    ),
    Hostile(
        "xinclude",
        G_XML,
        "an XInclude of file:///etc/passwd in a sheet",
        _edit_sheets(_xinclude),
        READ,
    ),
    # -- zip --------------------------------------------------------------------------------
    Hostile(
        "deflate-corrupt",
        G_ZIP,
        "corrupt deflate data in xl/workbook.xml",
        _zip_entry_patch(_corrupt_deflate, "xl/workbook.xml"),
        REFUSED,
        "damaged",
    ),
    Hostile(
        "method-99",
        G_ZIP,
        "xl/workbook.xml compressed with an unsupported method (AES, 99)",
        _zip_entry_patch(_set_method, "xl/workbook.xml"),
        REFUSED,
        "compression method",
    ),
    Hostile(
        "encrypted-member",
        G_ZIP,
        "xl/workbook.xml marked as encrypted",
        _zip_entry_patch(_set_encrypted, "xl/workbook.xml"),
        REFUSED,
        "encrypted",
    ),
    Hostile(
        "crc",
        G_ZIP,
        "a CRC that does not match xl/workbook.xml",
        _zip_entry_patch(_flip_crc, "xl/workbook.xml"),
        REFUSED,
        "Bad CRC-32",
    ),
    Hostile(
        "crc-sheet",
        G_ZIP,
        "a CRC that does not match a sheet",
        _zip_entry_patch(_flip_crc, SHEET["cip"]),
        REFUSED,
        "Bad CRC-32",
    ),
    Hostile(
        "no-central-directory",
        G_ZIP,
        "a workbook cut off before its central directory",
        lambda f: _save(f, zip_parts(plan_parts())[:-200]),
        REFUSED,
        "not in .xlsx format",
    ),
    # -- links and parts --------------------------------------------------------------------
    Hostile(
        "xlsm-macros",
        G_LINK,
        "an .xlsm with a VBA project (macros)",
        _edit_sheets(lambda s: None, name="plan.xlsm", vba=True),
        READ,
        "not run",
    ),
    Hostile(
        "external-link",
        G_LINK,
        "a formula on another workbook on a web server, with its saved value",
        external_link,
        READ,
    ),
    Hostile(
        "external-link-nocache",
        G_LINK,
        "the same formula without a saved value",
        functools.partial(external_link, cached=False),
        PROBLEMS,
        "has no saved value",
    ),
    Hostile(
        "sheet-outside",
        G_LINK,
        "a sheet whose part is outside the zip (../../../etc/passwd)",
        _sheet_target("../../../etc/passwd"),
        REFUSED,
        "is missing",
    ),
    Hostile(
        "sheet-external",
        G_LINK,
        "a sheet whose part is an external URL",
        _sheet_target("http://127.0.0.1:9/sheet.xml", ' TargetMode="External"'),
        REFUSED,
        "is missing",
    ),
    Hostile(
        "table-external",
        G_LINK,
        "an Excel Table part that is an external file",
        _edit_sheets(_external_table),
        READ,
    ),
    Hostile(
        "formula-names",
        G_LINK,
        "text that looks like formulas (=HYPERLINK(...), @SUM(A1), +1, -1, =cmd|...)",
        _edit_sheets(
            lambda s: [
                _sheet(s, "Trusts").set(2, 2, Cell('=HYPERLINK("http://x","y")', "s")),
                _sheet(s, "CIP").set(2, 3, Cell("@SUM(A1)", "s")),
                _sheet(s, "CIP").set(3, 3, Cell("=cmd|' /C calc'!A0", "s")),
            ]
        ),
        READ,
    ),
    # -- not files --------------------------------------------------------------------------
    Hostile("fifo", G_FILE, "a named pipe called plan.xlsx", _fifo, REFUSED, "not a file"),
    Hostile(
        "dev-zero", G_FILE, "a link called plan.xlsx to /dev/zero", _dev_zero, REFUSED, "not a file"
    ),
    # -- scenarios --------------------------------------------------------------------------
    Hostile(
        "toml-deep",
        G_TOML,
        "arrays nested 100,000 deep",
        _toml("[scenario]\nx = " + "[" * 100_000 + "]" * 100_000),
        PROBLEMS,
        "nested too deeply",
        via="load_plan",
    ),
    Hostile(
        "toml-digits",
        G_TOML,
        "an integer of 5,000 digits",
        _scenario("[cip]\nscale = " + "9" * 5000),
        PROBLEMS,
        "not valid TOML",
        via="load_plan",
    ),
    Hostile(
        "toml-bigint",
        G_TOML,
        "scale = a 400-digit integer",
        _scenario("[cip]\nscale = " + "9" * 400),
        PROBLEMS,
        "cip.scale: must be a number >= 0, got a whole number of about 400 digits",
        via="load_plan",
    ),
    Hostile(
        "toml-nan",
        G_TOML,
        "scale = nan",
        _scenario("[cip]\nscale = nan"),
        PROBLEMS,
        "cip.scale: must be a number >= 0, got nan",
        via="load_plan",
    ),
    Hostile(
        "toml-inf",
        G_TOML,
        "delivered_pct = inf",
        _scenario("[cip]\ndelivered_pct = inf"),
        PROBLEMS,
        "cip.delivered_pct",
        via="load_plan",
    ),
    Hostile(
        "toml-driver-bigint",
        G_TOML,
        "a driver of 10^400",
        _scenario("[drivers]\npay_award = 1" + "0" * 400),
        PROBLEMS,
        "drivers.pay_award",
        via="load_plan",
    ),
    Hostile(
        "toml-example-list",
        G_TOML,
        "example = a list",
        _toml('[scenario]\nexample = ["small"]'),
        PROBLEMS,
        "scenario.example",
        via="load_plan",
    ),
    Hostile(
        "toml-name-escape",
        G_TOML,
        "a scenario name holding a terminal escape sequence",
        _scenario("", 'example = "small"\nname = "\\u001b]0;pwned\\u0007"'),
        PROBLEMS,
        "scenario.name",
        via="load_plan",
    ),
    Hostile(
        "toml-unknown-key",
        G_TOML,
        "an unknown key in [scenario]",
        _scenario("", 'example = "small"\nexmaple = "x"'),
        PROBLEMS,
        "scenario.exmaple: unknown key",
        via="load_plan",
    ),
    Hostile(
        "toml-plan-nul",
        G_TOML,
        "plan = a path with a NUL byte",
        _toml('[scenario]\nplan = "a\\u0000.xlsx"'),
        PROBLEMS,
        "scenario.plan",
        via="load_plan",
    ),
    Hostile(
        "toml-plan-long",
        G_TOML,
        "plan = a 5,000-character file name",
        _toml(f'[scenario]\nplan = "{"a" * 5000}.xlsx"'),
        REFUSED,
        "cannot be opened",
        via="load_plan",
    ),
    Hostile(
        "toml-plan-fifo",
        G_TOML,
        "plan = a named pipe",
        _scenario_on_fifo,
        REFUSED,
        "not a file",
        via="load_plan",
    ),
    Hostile(
        "toml-plan-toml",
        G_TOML,
        "plan = another scenario",
        _toml('[scenario]\nplan = "scenario.toml"'),
        PROBLEMS,
        "not another scenario",
        via="load_plan",
    ),
    Hostile(
        "toml-huge-file",
        G_TOML,
        "a 2 MB scenario file",
        _toml('[scenario]\nexample = "small"\n' + "# x\n" * 500_000),
        PROBLEMS,
        "at most 1 MB",
        via="load_plan",
    ),
    Hostile(
        "toml-utf16",
        G_TOML,
        "a scenario saved as UTF-16",
        _toml('[scenario]\nexample = "small"\n'.encode("utf-16")),
        PROBLEMS,
        "not valid TOML",
        via="load_plan",
    ),
    # -- numbers ----------------------------------------------------------------------------
    Hostile(
        "zero-income", G_NUM, "no income at all", None, RUN, "ie_margin not applicable", via="run"
    ),
    Hostile(
        "zero-opex",
        G_NUM,
        "no operating expenditure",
        None,
        RUN,
        "liquidity_days not applicable",
        via="run",
    ),
    Hostile(
        "zero-capital-service",
        G_NUM,
        "no PDC dividend, interest or loan repayments",
        None,
        RUN,
        "capital_service_capacity not applicable",
        via="run",
    ),
    Hostile(
        "zero-agency-ceiling",
        G_NUM,
        "an agency ceiling of 0",
        None,
        RUN,
        "agency_vs_ceiling not applicable",
        via="run",
    ),
    Hostile("all-zero-cip", G_NUM, "every scheme worth 0", None, RUN, "CIP planned 0", via="run"),
    Hostile(
        "deficit-over-income", G_NUM, "a deficit larger than income", None, RUN, "score", via="run"
    ),
    Hostile(
        "income-only",
        G_NUM,
        "income but no costs",
        None,
        RUN,
        "liquidity_days not applicable",
        via="run",
    ),
    Hostile(
        "nothing",
        G_NUM,
        "no income, no costs, no capital service, no agency ceiling",
        None,
        RUN_REFUSED,
        "no finance metric can be scored",
        via="run",
    ),
    Hostile(
        "overflow",
        G_NUM,
        "income of 1e-310 (£000), so the I&E margin overflows",
        None,
        RUN,
        "ie_margin not applicable (figures too extreme to compute",
        via="run",
    ),
    Hostile("huge", G_NUM, "income of 10^300 (£000)", None, RUN_REFUSED, "typing error", via="run"),
    Hostile(
        "huge-cell",
        G_SIZE,
        "a loan drawdown of 1.7e308 (£000) in a cell",
        _edit_sheets(_huge_drawdown),
        PROBLEMS,
        "Financing!E2: loan_drawdown must be a number >= 0 of at most 1e+15",
    ),
    Hostile(
        "tiny",
        G_NUM,
        "income and costs of 5e-324 (the smallest float)",
        None,
        RUN_REFUSED,
        "no finance metric can be scored",
        via="run",
    ),
)
BY_ID = {h.id: h for h in HOSTILE}


@dataclass(frozen=True)
class Row:
    """What happened to one hostile input."""

    kind: str  # refused / problems / read / run / run refused
    error: str  # the exception class, or "" for a result
    message: str  # an excerpt of the message (or of the notes / the result)
    full: str  # the whole message, for assertions


@contextlib.contextmanager
def no_network() -> Iterator[list[Any]]:
    """Refuse (and record) any network connection while the block runs."""
    attempts: list[Any] = []
    real = socket.socket.connect, socket.socket.connect_ex, socket.create_connection

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args[1:] or kwargs)
        msg = "network use refused by the hostile-input tests"
        raise OSError(msg)

    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse  # type: ignore[assignment]
    try:
        yield attempts
    finally:
        socket.socket.connect, socket.socket.connect_ex, socket.create_connection = real  # type: ignore[method-assign]


@contextlib.contextmanager
def _env(pairs: tuple[tuple[str, str], ...]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k, _ in pairs}
    os.environ.update(dict(pairs))
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _excerpt(text: str, n: int = 150) -> str:
    text = " ".join(text.split())
    text = re.sub(r"(.)\1{19,}", lambda m: f"{m.group(1) * 3}…(×{len(m.group()):,})", text)
    return text if len(text) <= n else text[: n - 1] + "…"


def _run_summary(result: Any) -> str:
    d = result.to_dict()["trusts"][0]
    parts = []
    for name, m in d["metrics"].items():
        if m.get("not_applicable"):
            parts.append(f"{name} not applicable ({m['not_applicable']})")
    cip = d["cip"]
    parts.append(
        f"CIP planned {cip['planned']:g}" if cip["planned"] is not None else "CIP planned n/a"
    )
    parts.append(f"score {d['score']['overall']}")
    return "; ".join(parts)


def outcome(h: Hostile, folder: Path, path: Path | None = None) -> Row:
    """Build ``h`` in ``folder`` (which must be empty), or take it built at ``path``, and
    give it to its call."""
    folder.mkdir(parents=True, exist_ok=True)
    with no_network() as attempts, _env(h.env):
        try:
            if h.via == "run":
                result = run_plan(edge_plan(h.id))
                return Row(RUN, "", _run_summary(result), _run_summary(result))
            assert h.make is not None
            path = path or h.make(folder)
            if h.via == "load_plan":
                load_plan(path)
                return Row(READ, "", "", "")
            _portfolio, notes = read_plan_with_notes(path, **dict(h.kwargs))
            text = "; ".join(notes)
            return Row(READ, "", _excerpt(text), text)
        except CipModelError as exc:
            full = str(exc).replace(str(folder), "<folder>")
            if h.via == "run":
                kind = RUN_REFUSED
            else:
                kind = PROBLEMS if isinstance(exc, ValidationError) else REFUSED
            return Row(kind, type(exc).__name__, _excerpt(full), full)
        finally:
            assert not attempts, f"{h.id}: a network connection was attempted: {attempts}"


def markdown(rows: dict[str, Row]) -> str:
    """The text of ``docs/hostile-inputs.md`` from the outcome of every hostile input."""
    out = [
        "# Hostile inputs and what cipmodel does with them",
        "",
        "Generated by `tests/test_hostile.py` from the inputs in `tests/fuzz/hostile.py` — do not",
        "edit by hand; regenerate with `python tests/test_hostile.py`. Every input ends in a",
        "result or in an error that says what is wrong (on the command line: exit code 2 and the",
        "message, never a traceback). Timings and memory of the resource cases:",
        "`python benchmarks/bench_hostile.py`.",
        "",
        "Limits (each can be raised): 512 MB unpacked (`CIPMODEL_MAX_UNPACKED_MB`, or",
        "`read_plan(..., max_unpacked_bytes=)`), 200,000 rows with values per input sheet",
        "(`CIPMODEL_MAX_ROWS`, `max_rows=`), 500,000 cells with values per input sheet",
        "(`CIPMODEL_MAX_CELLS`, `max_cells=`), and per part: 200,000 style entries",
        "(`CIPMODEL_MAX_STYLES`), 100,000 defined names (`CIPMODEL_MAX_NAMES`), 100,000",
        "relationships in a part (`CIPMODEL_MAX_RELS`), 100,000 content types",
        "(`CIPMODEL_MAX_CONTENT_TYPES`), 10,000 sheets (`CIPMODEL_MAX_SHEETS`), 100,000 zip",
        "entries (`CIPMODEL_MAX_ZIP_ENTRIES`), each also a `read_plan` keyword; rule packs and",
        "priors at most 4 MB (`CIPMODEL_MAX_PACK_MB`); scenario files at most 1 MB. XML with a DTD or",
        "entity declarations is refused (defusedxml); no network or file outside the workbook is",
        "ever opened. Random and mutated inputs: `tests/test_fuzz.py` (and `make fuzz-long`).",
        "",
    ]
    groups: dict[str, list[Hostile]] = {}
    for h in HOSTILE:
        groups.setdefault(h.group, []).append(h)
    for group, cases in groups.items():
        out += [f"## {group}", "", "| input | outcome | message (excerpt) |", "|---|---|---|"]
        for h in cases:
            row = rows[h.id]
            what = row.kind + (f" ({row.error})" if row.error else "")
            msg = row.message.replace("|", "\\|") or "—"
            what_in = h.input.replace("|", "\\|")
            out.append(f"| {what_in} | {what} | {msg} |")
        out.append("")
    return "\n".join(out)


# =========================================================================================
# Issue 11, section 2 ("carry"): workbooks a results workbook carries (`run PLAN -o`).
# Each reads as a plan (the outcome in the table); tests/test_carry.py also runs `run -o` on
# each and checks what the results workbook carries.
# =========================================================================================
G_CARRY = "Workbooks carried into a results workbook (run -o)"

_MARK_ON_CIP = (
    '<definedNames><definedName name="_cipmodel_result" localSheetId="3" hidden="1">'
    '"cipmodel result sheet"</definedName></definedNames>'
)


def _forged_provenance(sheets: list[Sheet]) -> None:
    prov = Sheet("Provenance")
    for r, (k, v) in enumerate(
        [("key", "value"), ("package", "cipmodel"), ("result_sheets", '["CIP", "Trusts"]')], 1
    ):
        prov.set(r, 1, k)
        prov.set(r, 2, v)
    sheets.append(prov)


def _prefixed_workings(sheets: list[Sheet]) -> None:
    ws = Sheet("Workings", prefix="x:")
    ws.set(1, 1, "Stretch")
    ws.set(1, 2, 1250.5)
    ws.set(2, 2, Cell(2501, formula="B1*2"))
    sheets.append(ws)


def _excel_namespaces(data: bytes) -> bytes:
    """Row attributes in Excel's x14ac namespace (declared on the root, ignorable) and a
    cell with a ``vm`` metadata mark, as Excel 365 writes them."""
    root = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    assert root in data
    data = data.replace(
        root,
        root + b' xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
        b' xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac"'
        b' mc:Ignorable="x14ac"',
        1,
    )
    data = re.sub(rb'<row r="(\d+)"', rb'<row r="\1" x14ac:dyDescent="0.25"', data)
    return data.replace(b'<c r="A2"', b'<c r="A2" vm="1"', 1)


CARRY_CASES: tuple[Hostile, ...] = (
    Hostile(
        "carry-mark-on-input",
        G_CARRY,
        "cipmodel's result mark forged on the CIP input sheet (it must not be replaced)",
        _edit_sheets(lambda s: None, workbook_extra=_MARK_ON_CIP),
        READ,
    ),
    Hostile(
        "carry-forged-provenance",
        G_CARRY,
        "a Provenance sheet (package cipmodel) listing CIP and Trusts as result sheets",
        _edit_sheets(_forged_provenance),
        READ,
        "Provenance",
    ),
    Hostile(
        "carry-prefixed-sheet",
        G_CARRY,
        "a sheet of the user's written with an x: namespace prefix, with a formula",
        _edit_sheets(_prefixed_workings),
        READ,
    ),
    Hostile(
        "carry-excel-namespaces",
        G_CARRY,
        "rows with Excel's x14ac attributes and a cell with a vm metadata mark",
        _patch(SHEET["cip"], _excel_namespaces),
        READ,
    ),
)
HOSTILE = (*HOSTILE, *CARRY_CASES)
BY_ID.update({h.id: h for h in CARRY_CASES})


# =========================================================================================
# Issue 11, section 1 ("read" part): no silent wrong answer. Misspelt headers, numbers as
# finance people type them, look-alike trust codes, renamed sheets, hand-typed totals.
# Built on the "small" example (Trusts RSM; CIP H1 = start_month).
# =========================================================================================
G_READ = "Slips a finance team makes (no silent wrong answer)"


def _text(title: str, row: int, col: int, text: str) -> Callable[[list[Sheet]], None]:
    return _set_cell(title, row, col, Cell(text, "s"))


def _renamed(old: str, new: str) -> Callable[[list[Sheet]], None]:
    def fn(sheets: list[Sheet]) -> None:
        _sheet(sheets, old).title = new

    return fn


def _total_row(sheets: list[Sheet]) -> None:
    income = _sheet(sheets, "Income")
    income.set(3, 1, Cell("Total", "s"))
    income.set(3, 3, Cell(12000))


_READ_HOSTILE: tuple[Hostile, ...] = (
    Hostile(
        "header-typo",
        G_READ,
        "the optional start_month header typed 'Strat month' (every scheme would start in April)",
        _edit_sheets(_text("CIP", 1, 8, "Strat month")),
        PROBLEMS,
        "did you mean 'start_month'?",
    ),
    Hostile(
        "header-typo-allowed",
        G_READ,
        "the same, read with allow_extra_columns=['Strat month'] (--allow-extra-column)",
        _edit_sheets(_text("CIP", 1, 8, "Strat month")),
        READ,
        "ignored as an extra column, as asked",
        kwargs=(("allow_extra_columns", ("Strat month",)),),
    ),
    Hostile(
        "header-extra",
        G_READ,
        "an extra column 'Owner (SRO)' on CIP",
        _edit_sheets(_text("CIP", 1, 13, "Owner (SRO)")),
        READ,
        "column 'Owner (SRO)' on CIP ignored: not a CIP column",
    ),
    Hostile(
        "header-50k",
        G_READ,
        "a header of 50,000 letters (no near-miss search over it)",
        _edit_sheets(_text("CIP", 1, 13, "startmonth" * 5000)),
        READ,
        "ignored: not a CIP column",
    ),
    Hostile(
        "number-nbsp-bad-groups",
        G_READ,
        "an income of '35\\u00a000' (a no-break space, groups not of three)",
        _edit_sheets(_text("Income", 2, 3, "35\u00a000")),
        PROBLEMS,
        "groups of three, e.g. 1,250,000), got '35<no-break space>00'",
    ),
    Hostile(
        "number-brackets",
        G_READ,
        "a control total typed as text '(4,000)', the accounting format's negative",
        _edit_sheets(_text("ControlTotal", 2, 3, "(4,000)")),
        READ,
        "",
    ),
    Hostile(
        "number-na",
        G_READ,
        "'n/a' typed as the agency ceiling, where blank means no ceiling",
        _edit_sheets(_text("Trusts", 2, 6, "n/a")),
        PROBLEMS,
        "leave the cell blank for no ceiling",
    ),
    Hostile(
        "code-case",
        G_READ,
        "trust code 'rsm ' on CIP for RSM on Trusts",
        _edit_sheets(_text("CIP", 2, 1, "rsm ")),
        READ,
        "trust_code 'rsm' read as 'RSM', as on Trusts!A2",
    ),
    Hostile(
        "code-zero-width",
        G_READ,
        "trust code 'RSM' + zero-width space on Trusts",
        _edit_sheets(_text("Trusts", 2, 1, "RSM\u200b")),
        PROBLEMS,
        "holds an invisible character (<zero-width space>)",
    ),
    Hostile(
        "name-bidi",
        G_READ,
        "a trust name holding a right-to-left override (U+202E)",
        _edit_sheets(_text("Trusts", 2, 2, "Small \u202eTrust")),
        PROBLEMS,
        "must not contain control or text-direction characters",
    ),
    Hostile(
        "sheet-renamed",
        G_READ,
        "the CIP sheet renamed 'CIP schemes'",
        _edit_sheets(_renamed("CIP", "CIP schemes")),
        PROBLEMS,
        "'CIP schemes' looks like it: rename it 'CIP'",
    ),
    Hostile(
        "total-row",
        G_READ,
        "a hand-typed 'Total' row under the Income table, equal to the column's sum",
        _edit_sheets(_total_row),
        READ,
        "Income: row 3 ('Total') is a total of the rows above and was ignored",
    ),
)
HOSTILE = (*HOSTILE, *_READ_HOSTILE)
BY_ID = {h.id: h for h in HOSTILE}


# issue 11 "limits": parts with millions of entries, and cells as LibreOffice reads them.
# Kept in one block (appended) so the three issue-11 parts merge cleanly.
# =========================================================================================
_STYLE_ENTRY = {
    "fonts": (b'<fonts count="1">', b"<font/>"),
    "fills": (b'<fills count="2">', b"<fill/>"),
    "xfs": (b'<cellXfs count="7">', b'<xf numFmtId="0"/>'),
    "numfmts": (b'<numFmts count="1">', b'<numFmt numFmtId="200" formatCode="0"/>'),
}


def _insert(parts: dict[str, bytes], part: str, after: bytes, what: bytes) -> None:
    data = parts[part]
    at = data.index(after) + len(after)
    parts[part] = data[:at] + what + data[at:]


def many(kind: str, n: int) -> Callable[[Path], Path]:
    """A builder of a plain plan with ``n`` more entries of ``kind`` in one of its parts:
    ``fonts``, ``fills``, ``xfs``, ``numfmts`` (styles), ``names`` (defined names),
    ``sheets`` (entries of workbook.xml), ``rels`` (workbook relationships),
    ``content-types``, ``zip-entries``, ``strings`` (shared strings, none used), ``cells``
    (values on the CIP sheet, 1,000 a row), ``empty-cells`` (cells without a value)."""

    def make(folder: Path) -> Path:
        parts = plan_parts()
        if kind in _STYLE_ENTRY:
            after, entry = _STYLE_ENTRY[kind]
            _insert(parts, "xl/styles.xml", after, entry * n)
        elif kind == "names":
            names = b'<definedName name="n">Trusts!$A$1</definedName>' * n
            _insert(
                parts,
                "xl/workbook.xml",
                b"</sheets>",
                b"<definedNames>" + names + b"</definedNames>",
            )
        elif kind == "sheets":
            _insert(
                parts,
                "xl/workbook.xml",
                b"<sheets>",
                b'<sheet name="x" sheetId="99" r:id="rId1"/>' * n,
            )
        elif kind == "rels":
            rel = b'<Relationship Id="x" Type="http://example.org/x" Target="x.xml"/>'
            _insert(parts, "xl/_rels/workbook.xml.rels", b"<Relationships", b"")
            data = parts["xl/_rels/workbook.xml.rels"]
            parts["xl/_rels/workbook.xml.rels"] = data.replace(
                b"</Relationships>", rel * n + b"</Relationships>"
            )
        elif kind == "content-types":
            data = parts["[Content_Types].xml"]
            entry = b'<Override PartName="/x.xml" ContentType="application/xml"/>'
            parts["[Content_Types].xml"] = data.replace(b"</Types>", entry * n + b"</Types>")
        elif kind == "strings":
            data = parts["xl/sharedStrings.xml"]
            parts["xl/sharedStrings.xml"] = data.replace(
                b"</sst>", b"<si><t>s</t></si>" * n + b"</sst>"
            )
        elif kind in ("cells", "empty-cells"):
            cell = b"<c><v>1</v></c>" if kind == "cells" else b'<c s="0"/>'
            row = b"<row>" + cell * 1000 + b"</row>"
            head = _cip_header_xml().encode()
            parts[SHEET["cip"]] = (
                _sheet_xml("")
                .encode()
                .replace(b"<sheetData>", b"<sheetData>" + head + row * max(1, n // 1000))
            )
        elif kind == "zip-entries":
            return _save(folder, _zip_with_entries(parts, n))
        else:
            raise ValueError(kind)
        return _save(folder, zip_parts(parts))

    return make


def _zip_with_entries(parts: dict[str, bytes], n: int) -> bytes:
    """The plan's parts, then ``n`` empty stored entries (a zip of about 100 bytes each)."""
    entries = [(name, 8, *_deflated(data)) for name, data in parts.items()]
    out = bytearray()
    central = bytearray()
    local = struct.Struct("<IHHHHHIIIHH")
    cent = struct.Struct("<IHHHHHHIIIHHHHHII")

    def add(name: bytes, method: int, crc: int, data: bytes, size: int) -> None:
        offset = len(out)
        out.extend(
            local.pack(0x04034B50, 20, 0, method, 0, 0x21, crc, len(data), size, len(name), 0)
        )
        out.extend(name + data)
        central.extend(
            cent.pack(
                0x02014B50,
                20,
                20,
                0,
                method,
                0,
                0x21,
                crc,
                len(data),
                size,
                len(name),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
        )
        central.extend(name)

    for name, method, crc, data, size in entries:
        add(name.encode(), method, crc, data, size)
    for i in range(n):
        add(b"z/%d" % i, 0, 0, b"", 0)
    total = len(entries) + n
    if total < 0xFFFF:
        eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, total, total, len(central), len(out), 0)
        return bytes(out + central + eocd)
    cd_offset, cd_size = len(out), len(central)
    z64_at = cd_offset + cd_size
    z64 = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, total, total, cd_size, cd_offset)
    locator = struct.pack("<IIQI", 0x07064B50, 0, z64_at, 1)
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return bytes(out + central + z64 + locator + eocd)


def _deflated(data: bytes) -> tuple[int, bytes, int]:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return zlib.crc32(data), c.compress(data) + c.flush(), len(data)


#: The resource run: (kind, entries) of ``benchmarks/bench_hostile.py --resource``.
RESOURCE_RUN = (
    ("fonts", 2_000_000),
    ("fills", 2_000_000),
    ("xfs", 2_000_000),
    ("numfmts", 2_000_000),
    ("names", 2_000_000),
    ("sheets", 2_000_000),
    ("rels", 2_000_000),
    ("content-types", 2_000_000),
    ("zip-entries", 1_000_000),
    ("strings", 5_000_000),
    ("cells", 5_000_000),
    ("empty-cells", 20_000_000),
)


def _link_to(target: str, name: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        path.symlink_to(target)
        return path

    return make


def _scenario_fifo(folder: Path) -> Path:
    path = folder / "scenario.toml"
    os.mkfifo(path)
    return path


def _cip_f2(cell: str) -> Callable[[Path], Path]:
    """A plan whose CIP!F2 (240 in the plan) is the XML ``cell``."""

    def fn(x: bytes) -> bytes:
        assert b'<c r="F2"><v>240.0</v></c>' in x
        return x.replace(b'<c r="F2"><v>240.0</v></c>', cell.encode())

    return _patch(SHEET["cip"], fn)


def _very_hidden(x: bytes) -> bytes:
    return x.replace(b'<sheet name="CIP" ', b'<sheet name="CIP" state="veryHidden" ')


G_LIMITS = "Parts with millions of entries (limits lowered to keep the files small)"
G_CELLS = "Cells as Excel and LibreOffice show them"
_LIMIT_CASES = (
    ("fonts", 100, "CIPMODEL_MAX_STYLES", 30, "holds more than 30 style entries"),
    ("xfs", 100, "CIPMODEL_MAX_STYLES", 30, "holds more than 30 style entries"),
    ("numfmts", 100, "CIPMODEL_MAX_STYLES", 30, "holds more than 30 style entries"),
    ("names", 100, "CIPMODEL_MAX_NAMES", 10, "holds more than 10 defined names"),
    ("sheets", 100, "CIPMODEL_MAX_SHEETS", 20, "holds more than 20 sheets"),
    ("rels", 100, "CIPMODEL_MAX_RELS", 20, "holds more than 20 relationships"),
    ("content-types", 200, "CIPMODEL_MAX_CONTENT_TYPES", 60, "holds more than 60 content types"),
    ("zip-entries", 100, "CIPMODEL_MAX_ZIP_ENTRIES", 50, "holds more than 50 zip entries"),
    ("empty-cells", 5000, "CIPMODEL_MAX_CELLS", 1000, "more than 4,000 XML elements"),
)

LIMITS_HOSTILE: tuple[Hostile, ...] = (
    *(
        Hostile(
            f"part-{kind}",
            G_LIMITS,
            f"{n:,} more {kind.replace('-', ' ')} ({env}={limit}; the full-size run has "
            "millions: `bench_hostile.py --resource`)",
            many(kind, n),
            REFUSED,
            text,
            env=((env, str(limit)),),
        )
        for kind, n, env, limit, text in _LIMIT_CASES
    ),
    Hostile(
        "cell-underscore-digits",
        G_CELLS,
        "a number saved as '2_4_0' (Python: 240, LibreOffice: 2)",
        _cip_f2('<c r="F2"><v>2_4_0</v></c>'),
        REFUSED,
        "sheet 'CIP', F2: holds '2_4_0' saved as a number",
    ),
    Hostile(
        "cell-arabic-digits",
        G_CELLS,
        "a number saved in Arabic-Indic digits (Python: 240, LibreOffice: 0)",
        _cip_f2('<c r="F2"><v>\u0662\u0664\u0660</v></c>'),
        REFUSED,
        "sheet 'CIP', F2",
    ),
    Hostile(
        "cell-fullwidth-digits",
        G_CELLS,
        "a number saved in fullwidth digits (Python: 240, LibreOffice: 0)",
        _cip_f2('<c r="F2"><v>\uff12\uff14\uff10</v></c>'),
        REFUSED,
        "sheet 'CIP', F2",
    ),
    Hostile(
        "cell-negative-string-index",
        G_CELLS,
        "a shared-string index of -1 (Python: the last text; LibreOffice: blank)",
        _cip_f2('<c r="F2" t="s"><v>-1</v></c>'),
        REFUSED,
        "sheet 'CIP', F2: refers to shared text '-1'",
    ),
    Hostile(
        "cell-string-index-out-of-range",
        G_CELLS,
        "a shared-string index past the last text (LibreOffice: blank)",
        _cip_f2('<c r="F2" t="s"><v>100000</v></c>'),
        REFUSED,
        "sheet 'CIP', F2: refers to shared text",
    ),
    Hostile(
        "cell-unknown-type",
        G_CELLS,
        "a cell of type 'zz' (LibreOffice: blank)",
        _cip_f2('<c r="F2" t="zz"><v>240</v></c>'),
        REFUSED,
        "unknown cell type 'zz'",
    ),
    Hostile(
        "cell-foreign-namespace",
        G_CELLS,
        "CIP!F2 in a foreign XML namespace (LibreOffice: no cell there)",
        _cip_f2('<x:c xmlns:x="urn:other" r="F2"><x:v>240</x:v></x:c>'),
        PROBLEMS,
        "CIP!F2",
    ),
    Hostile(
        "cell-nan",
        G_CELLS,
        "a number saved as 'nan' (LibreOffice: 0)",
        _cip_f2('<c r="F2"><v>nan</v></c>'),
        REFUSED,
        "holds 'nan' saved as a number",
    ),
    Hostile(
        "cell-outside-sheet",
        G_CELLS,
        "a cell at XFE2, right of the last column (LibreOffice drops it with a warning)",
        _cip_f2('<c r="XFE2"><v>240</v></c>'),
        REFUSED,
        "not a cell reference inside a sheet",
    ),
    Hostile(
        "sheet-very-hidden",
        G_CELLS,
        "the CIP sheet very hidden, nothing in front of it (LibreOffice reads it too)",
        _patch("xl/workbook.xml", _very_hidden),
        READ,
    ),
    Hostile(
        "sheet-hidden-look-alike",
        G_CELLS,
        "the CIP sheet hidden behind a visible 'C\u0399P' (a Greek capital Iota)",
        _patch(
            "xl/workbook.xml",
            lambda x: x.replace(
                b'<sheet name="CIP" sheetId="4" r:id="rId4"/>',
                b'<sheet name="CIP" sheetId="4" state="hidden" r:id="rId4"/>'
                + '<sheet name="C\u0399P" sheetId="20" r:id="rId4"/>'.encode(),
            ),
        ),
        REFUSED,
        "sheet 'CIP' is hidden, and the visible sheet",
    ),
    Hostile(
        "proc-file",
        G_FILE,
        "a link called plan.xlsx to /proc/self/status (a regular file of size 0)",
        _link_to("/proc/self/status", "plan.xlsx"),
        REFUSED,
        "system file",
    ),
    Hostile(
        "scenario-proc-file",
        G_TOML,
        "a link called scenario.toml to /proc/self/status",
        _link_to("/proc/self/status", "scenario.toml"),
        REFUSED,
        "is not a scenario file",
        via="load_plan",
    ),
    Hostile(
        "scenario-fifo",
        G_TOML,
        "a named pipe called scenario.toml",
        _scenario_fifo,
        REFUSED,
        "is not a scenario file (a device, pipe",
        via="load_plan",
    ),
    Hostile(
        "scenario-bom",
        G_TOML,
        "a scenario saved with a UTF-8 byte-order mark (Notepad)",
        _toml(b'\xef\xbb\xbf[scenario]\nexample = "small"\n'),
        READ,
        via="load_plan",
    ),
)
HOSTILE = (*HOSTILE, *LIMITS_HOSTILE)
BY_ID.update({h.id: h for h in LIMITS_HOSTILE})
