"""A small, fast ``.xlsx`` writer for the fuzz and hostile-input tests.

openpyxl cannot write most hostile files (formulas with or without a saved value, error
cells, inline strings, hidden sheets with clashing names, cells without references, odd
dimensions, Excel Tables with huge totals rows...) and takes ~50 ms per workbook. This
writer puts exactly the XML it is given into each part, in about a millisecond, so a fuzz
run can build thousands of workbooks.

A workbook is a list of :class:`Sheet`; a sheet is a mapping ``row -> column -> Cell``
(1-based). :func:`build` returns the bytes of the zip file.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from openpyxl.utils import get_column_letter

__all__ = [
    "STYLE",
    "Cell",
    "Sheet",
    "XlTable",
    "build",
    "plain",
    "read_parts",
    "text_xml",
    "zip_parts",
]

# cellXfs indexes of the stylesheet below
STYLE = {
    "general": 0,
    "date": 1,  # m/d/yyyy (built-in 14)
    "datetime": 2,  # m/d/yy h:mm (built-in 22)
    "duration": 3,  # [h]:mm:ss (built-in 46): read as a timedelta
    "percent": 4,  # 0% (built-in 9)
    "text": 5,  # @ (built-in 49)
    "custom_date": 6,  # dd/mm/yyyy (custom 164)
}

_STYLES_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="dd/mm/yyyy"/></numFmts>'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="7">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="22" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="46" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="9" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)

_NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"

# characters XML 1.0 cannot hold: written the way Excel does, as _xHHHH_ (kept literally)
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def text_xml(text: str) -> str:
    """``text`` escaped for XML character data or a double-quoted attribute."""
    text = (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )
    text = text.replace("\r", "&#13;")  # a literal CR would be read back as LF
    return _XML_BAD.sub(lambda m: f"_x{ord(m.group()):04X}_", text)


@dataclass
class Cell:
    """One cell as saved.

    ``t`` is the cell type attribute: None (a number, or omitted), ``"s"`` (shared
    string), ``"inlineStr"``, ``"str"`` (a formula's text result), ``"b"``, ``"e"`` (an
    error such as ``#DIV/0!``), ``"d"`` (an ISO 8601 date), or any other text to test
    bad types. ``value`` is a Python value (text for s/inlineStr/str/e/d, a number or
    bool) or, with ``raw=True``, the exact text of ``<v>``. ``formula`` is written as
    ``<f>`` (without the leading ``=``); with ``value=None`` the formula has no saved
    value.
    """

    value: Any = None
    t: str | None = None
    style: int | None = None
    formula: str | None = None
    raw: bool = False
    ref: bool | str = True  # False: no r attribute; text: this r attribute instead


@dataclass
class XlTable:
    """An Excel Table (``xl/tables/tableN.xml``) on a sheet."""

    ref: str
    name: str
    columns: list[str]
    header_rows: int = 1
    totals_rows: int = 0
    external: bool = False  # point the relationship outside the package


@dataclass
class Sheet:
    """One worksheet: cells by row and column, and sheet-level parts."""

    title: str
    rows: dict[int, dict[int, Cell]] = field(default_factory=dict)
    state: str = "visible"  # visible | hidden | veryHidden
    dimension: str | None = None
    merges: list[str] = field(default_factory=list)
    tables: list[XlTable] = field(default_factory=list)
    row_refs: bool = True  # write r="" on <row>
    row_order: str = "sorted"  # sorted | reversed | as-is
    before_data: str = ""  # raw XML before <sheetData>
    after_data: str = ""  # raw XML after </sheetData> (before mergeCells)
    prefix: str = ""  # namespace prefix for every element ("x:")

    def set(self, row: int, col: int, cell: Cell | Any) -> None:
        self.rows.setdefault(row, {})[col] = cell if isinstance(cell, Cell) else plain(cell)


def plain(value: Any) -> Cell:
    """The cell a spreadsheet application saves for a typed value."""
    if value is None:
        return Cell()
    if isinstance(value, bool):
        return Cell(value, "b")
    if isinstance(value, (int, float)):
        return Cell(value)
    return Cell(str(value), "s")


def _num(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)
    return str(value)


class _Strings:
    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def add(self, text: str) -> int:
        i = self.index.get(text)
        if i is None:
            i = self.index[text] = len(self.index)
        return i

    def xml(self) -> str:
        items = "".join(f'<si><t xml:space="preserve">{text_xml(s)}</t></si>' for s in self.index)
        n = len(self.index)
        return (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<sst xmlns="{_NS_MAIN}" count="{n}" uniqueCount="{n}">{items}</sst>'
        )


def _cell_xml(ref: str, cell: Cell, strings: _Strings, p: str) -> str:
    if isinstance(cell.ref, str):
        attrs = f' r="{text_xml(cell.ref)}"'
    else:
        attrs = f' r="{ref}"' if cell.ref else ""
    t = cell.t
    inner = ""
    if cell.formula is not None:
        inner += f"<{p}f>{text_xml(cell.formula)}</{p}f>"
    value = cell.value
    if t == "inlineStr" and not cell.raw:
        inner += f'<{p}is><{p}t xml:space="preserve">{text_xml(str(value or ""))}</{p}t></{p}is>'
    elif value is not None:
        if cell.raw:
            v = text_xml(str(value))
        elif t == "s":
            v = str(strings.add(str(value)))
        elif t in ("str", "e", "d"):
            v = text_xml(str(value))
        else:
            v = _num(value)
        inner += f"<{p}v>{v}</{p}v>"
    if t:
        attrs += f' t="{text_xml(t)}"'
    if cell.style:
        attrs += f' s="{cell.style}"'
    return f"<{p}c{attrs}>{inner}</{p}c>" if inner else f"<{p}c{attrs}/>"


def _sheet_xml(sheet: Sheet, strings: _Strings, table_rids: list[str]) -> str:
    p = sheet.prefix
    ns = f'xmlns:{p[:-1]}="{_NS_MAIN}"' if p else f'xmlns="{_NS_MAIN}"'
    out = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n',
        f'<{p}worksheet {ns} xmlns:r="{_NS_R}">',
    ]
    if sheet.dimension:
        out.append(f'<{p}dimension ref="{text_xml(sheet.dimension)}"/>')
    out.append(sheet.before_data)
    out.append(f"<{p}sheetData>")
    order: Iterable[int] = sheet.rows
    if sheet.row_order == "sorted":
        order = sorted(sheet.rows)
    elif sheet.row_order == "reversed":
        order = sorted(sheet.rows, reverse=True)
    for r in order:
        cells = sheet.rows[r]
        row_attr = f' r="{r}"' if sheet.row_refs else ""
        out.append(f"<{p}row{row_attr}>")
        for c in sorted(cells):
            out.append(_cell_xml(f"{get_column_letter(c)}{r}", cells[c], strings, p))
        out.append(f"</{p}row>")
    out.append(f"</{p}sheetData>")
    out.append(sheet.after_data)
    if sheet.merges:
        items = "".join(f'<{p}mergeCell ref="{text_xml(m)}"/>' for m in sheet.merges)
        out.append(f'<{p}mergeCells count="{len(sheet.merges)}">{items}</{p}mergeCells>')
    if table_rids:
        parts = "".join(f'<{p}tablePart r:id="{rid}"/>' for rid in table_rids)
        out.append(f'<{p}tableParts count="{len(table_rids)}">{parts}</{p}tableParts>')
    out.append(f"</{p}worksheet>")
    return "".join(out)


def _table_xml(t: XlTable, n: int) -> str:
    cols = "".join(
        f'<tableColumn id="{i}" name="{text_xml(name)}"/>' for i, name in enumerate(t.columns, 1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<table xmlns="{_NS_MAIN}" id="{n}" name="{text_xml(t.name)}" '
        f'displayName="{text_xml(t.name)}" ref="{text_xml(t.ref)}" '
        f'headerRowCount="{t.header_rows}" totalsRowCount="{t.totals_rows}">'
        f'<tableColumns count="{len(t.columns)}">{cols}</tableColumns>'
        '<tableStyleInfo name="TableStyleLight1" showRowStripes="0"/></table>'
    )


def build(
    sheets: list[Sheet],
    *,
    shared_strings: bool = True,
    extra_parts: Mapping[str, bytes | str] | None = None,
    replace_parts: Mapping[str, bytes | str | None] | None = None,
    workbook_extra: str = "",
    date1904: bool = False,
    compression: int = zipfile.ZIP_DEFLATED,
    vba: bool = False,
) -> bytes:
    """The bytes of an ``.xlsx`` (``.xlsm`` with ``vba=True``) holding ``sheets``.

    ``extra_parts`` adds zip members; ``replace_parts`` replaces (or, with None, drops)
    generated members by name, e.g. ``{"xl/styles.xml": None}``. ``workbook_extra`` is raw
    XML added to ``xl/workbook.xml`` after ``<sheets>`` (defined names, external refs).
    """
    strings = _Strings()
    parts: dict[str, bytes | str] = {}
    overrides = [
        (
            "/xl/workbook.xml",
            f"{_CT}.sheet.main+xml"
            if not vba
            else "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
        ),
        ("/xl/styles.xml", f"{_CT}.styles+xml"),
    ]
    wb_rels = [f'<Relationship Id="rIdS" Type="{_REL}/styles" Target="styles.xml"/>']
    sheet_entries = []
    n_table = 0
    for i, sheet in enumerate(sheets, start=1):
        rids: list[str] = []
        rels: list[str] = []
        for t in sheet.tables:
            n_table += 1
            rid = f"rIdT{n_table}"
            rids.append(rid)
            if t.external:
                rels.append(
                    f'<Relationship Id="{rid}" Type="{_REL}/table" '
                    f'Target="file:///nonexistent/table{n_table}.xml" TargetMode="External"/>'
                )
            else:
                rels.append(
                    f'<Relationship Id="{rid}" Type="{_REL}/table" '
                    f'Target="../tables/table{n_table}.xml"/>'
                )
                parts[f"xl/tables/table{n_table}.xml"] = _table_xml(t, n_table)
                overrides.append((f"/xl/tables/table{n_table}.xml", f"{_CT}.table+xml"))
        parts[f"xl/worksheets/sheet{i}.xml"] = _sheet_xml(sheet, strings, rids)
        if rels:
            parts[f"xl/worksheets/_rels/sheet{i}.xml.rels"] = (
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                f'<Relationships xmlns="{_PKG_REL}">{"".join(rels)}</Relationships>'
            )
        overrides.append((f"/xl/worksheets/sheet{i}.xml", f"{_CT}.worksheet+xml"))
        wb_rels.append(
            f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        )
        state = f' state="{text_xml(sheet.state)}"' if sheet.state != "visible" else ""
        sheet_entries.append(
            f'<sheet name="{text_xml(sheet.title)}" sheetId="{i}"{state} r:id="rId{i}"/>'
        )
    if shared_strings:
        parts["xl/sharedStrings.xml"] = strings.xml()
        overrides.append(("/xl/sharedStrings.xml", f"{_CT}.sharedStrings+xml"))
        wb_rels.append(
            f'<Relationship Id="rIdSS" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/>'
        )
    elif strings.index:
        msg = "shared strings used but shared_strings=False"
        raise ValueError(msg)
    if vba:
        parts["xl/vbaProject.bin"] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
        overrides.append(("/xl/vbaProject.bin", "application/vnd.ms-office.vbaProject"))
        wb_rels.append(
            '<Relationship Id="rIdV" Type="http://schemas.microsoft.com/office/2006/'
            'relationships/vbaProject" Target="vbaProject.bin"/>'
        )
    pr = '<workbookPr date1904="1"/>' if date1904 else "<workbookPr/>"
    parts["xl/workbook.xml"] = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<workbook xmlns="{_NS_MAIN}" xmlns:r="{_NS_R}">{pr}'
        f"<sheets>{''.join(sheet_entries)}</sheets>{workbook_extra}</workbook>"
    )
    parts["xl/_rels/workbook.xml.rels"] = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{_PKG_REL}">{"".join(wb_rels)}</Relationships>'
    )
    parts["xl/styles.xml"] = _STYLES_XML
    parts["_rels/.rels"] = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{_PKG_REL}"><Relationship Id="rId1" '
        f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    )
    ct_over = "".join(f'<Override PartName="{n}" ContentType="{t}"/>' for n, t in overrides)
    parts["[Content_Types].xml"] = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        f"{ct_over}</Types>"
    )
    for name, data in (extra_parts or {}).items():
        parts[name] = data
    for name, data in (replace_parts or {}).items():
        if data is None:
            parts.pop(name, None)
        else:
            parts[name] = data
    return zip_parts(parts, compression=compression)


def zip_parts(
    parts: Mapping[str, bytes | str], *, compression: int = zipfile.ZIP_DEFLATED
) -> bytes:
    """A zip of ``parts`` (name -> bytes or text), ``[Content_Types].xml`` first."""
    out = io.BytesIO()
    names = sorted(parts, key=lambda n: (n != "[Content_Types].xml", n))
    with zipfile.ZipFile(
        out,
        "w",
        compression=compression,
        compresslevel=1 if compression == zipfile.ZIP_DEFLATED else None,
    ) as zf:
        for name in names:
            data = parts[name]
            zf.writestr(name, data.encode("utf-8") if isinstance(data, str) else data)
    return out.getvalue()


def read_parts(data: bytes) -> dict[str, bytes]:
    """The members of a zip file, by name (for mutating a built workbook)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}
