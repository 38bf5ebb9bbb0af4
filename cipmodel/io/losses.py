"""What writing into a workbook with openpyxl would lose, found by reading its parts.

:func:`workbook_losses` lists, in plain words and naming the sheet where it is known,
everything openpyxl would drop on saving a workbook it loaded: charts, pictures, shapes and
text boxes, header/footer pictures, sheet backgrounds, macros (VBA), form and ActiveX
controls, embedded objects, pivot tables, slicers and timelines, external links, data
connections and query tables, the data model, threaded comments, custom XML,
dynamic-array metadata, chart sheets and macro sheets; on each worksheet the Excel
extensions openpyxl drops (conditional formats and data validations kept only in
``extLst``, sparklines, ...), custom views, protected ranges, cell watches and smart tags;
and sheets a result sheet would replace. (Cells, formulas with their saved values included,
are carried as they are: :mod:`cipmodel.io.carry`.) Result sheets of an earlier cipmodel
run (:func:`previous_results`: the sheets carrying cipmodel's mark, never what a
Provenance sheet lists) are not counted: they are rewritten anyway.

Every XML part is parsed by ``defusedxml``.
"""

from __future__ import annotations

import re
import xml.sax.handler
import zipfile
from collections.abc import Callable, Sequence
from pathlib import PurePosixPath
from typing import Any

import defusedxml.ElementTree as _ET
import defusedxml.sax

from cipmodel.errors import WorkbookError
from cipmodel.inputs.schema import load_schema
from cipmodel.io.reader import README_SHEET
from cipmodel.io.results_base import RESULT_MARK
from cipmodel.io.xlsx import open_zip, require_safe_xml, sheet_key

__all__ = ["marked_sheets", "previous_results", "sheet_parts", "workbook_losses"]

_NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"

#: Worksheet children openpyxl reads and writes back.
_SHEET_KEPT = frozenset(
    {
        "sheetPr",
        "dimension",
        "sheetViews",
        "sheetFormatPr",
        "cols",
        "sheetData",
        "sheetProtection",
        "scenarios",
        "autoFilter",
        "mergeCells",
        "conditionalFormatting",
        "dataValidations",
        "hyperlinks",
        "printOptions",
        "pageMargins",
        "pageSetup",
        "headerFooter",
        "rowBreaks",
        "colBreaks",
        "drawing",
        "legacyDrawing",
        "tableParts",
    }
)
#: Worksheet children openpyxl drops but Excel rebuilds or that carry no content.
_SHEET_IGNORED = frozenset({"ignoredErrors", "phoneticPr", "sheetCalcPr", "sortState"})
_SHEET_DROPPED = {
    "customSheetViews": "custom views",
    "protectedRanges": "protected ranges (allow users to edit ranges)",
    "dataConsolidate": "data consolidation settings",
    "cellWatches": "cell watches",
    "smartTags": "smart tags",
    "picture": "a sheet background picture",
    "oleObjects": "embedded objects (OLE)",
    "controls": "form or ActiveX controls",
    "webPublishItems": "web publishing settings",
    "legacyDrawingHF": "header/footer pictures",
}
_EXT_URIS = {
    "{78C0D931-6437-407D-A8EE-F0AAD7539E65}": "conditional formats kept in an Excel extension (data bars, icon sets or rules referring to other sheets)",
    "{CCE6A557-97BC-4B89-ADB6-D9C93CAAB3DF}": "data validations kept in an Excel extension (lists from other sheets)",
    "{05C60535-1F16-4FD2-B633-F4F36F0B64E0}": "sparklines",
    "{A8765BA9-456A-4DAB-B4F3-ACF838C121DE}": "slicers",
    "{3A4CF648-6AED-40F4-86FF-DC5316D8AED3}": "slicers",
    "{7E03D99C-DC04-49D9-9315-930204A7B6E9}": "timelines",
    "{01252117-D84E-4E92-8308-4BE1C098FCBB}": "table slicers",
    "{F7C9EE02-42E1-4005-9D12-6889AFFD525C}": "web extensions",
}
_PART_KINDS: tuple[tuple[str, str], ...] = (  # (part path prefix, what is lost)
    ("xl/vbaProject.bin", "macros (VBA project)"),
    ("xl/vbaProjectSignature.bin", "macros (VBA signature)"),
    ("xl/charts/chart", "a chart"),
    ("xl/chartsheets/", "a chart sheet"),
    ("xl/media/", "a picture"),
    ("xl/pivotTables/", "a pivot table"),
    ("xl/slicers/", "a slicer"),
    ("xl/timelines/", "a timeline"),
    ("xl/externalLinks/externalLink", "a link to another workbook"),
    ("xl/threadedComments/", "threaded comments (replies)"),
    ("xl/activeX/", "ActiveX controls"),
    ("xl/ctrlProps/", "form controls"),
    ("xl/embeddings/", "an embedded object"),
    ("xl/model/", "the data model (Power Pivot)"),
    ("xl/connections.xml", "data connections"),
    ("xl/queryTables/", "a query table"),
    ("xl/macrosheets/", "an Excel 4 macro sheet"),
    ("xl/dialogsheets/", "a dialog sheet"),
    ("xl/richData/", "pictures in cells or linked data types"),
    ("xl/metadata.xml", "dynamic-array formula metadata"),
    ("xl/webextensions/", "Office add-in data"),
    ("customXml/", "custom XML data"),
)


def _rels(zf: zipfile.ZipFile, names: set[str], part: str) -> list[tuple[str, str, str]]:
    """(type suffix, target part path, target mode) of a part's relationships."""
    pp = PurePosixPath(part)
    rels_path = str(pp.parent / "_rels" / f"{pp.name}.rels")
    if rels_path not in names:
        return []
    root = _ET.fromstring(zf.read(rels_path))
    out = []
    for rel in root.iter(f"{{{_NS_PKG_REL}}}Relationship"):
        typ = rel.get("Type", "").rsplit("/", 1)[-1]
        target = rel.get("Target", "")
        mode = rel.get("TargetMode", "")
        if mode != "External":
            target = target.lstrip("/") if target.startswith("/") else _norm(pp.parent / target)
        out.append((typ, target, mode))
    return out


def _norm(p: PurePosixPath) -> str:
    parts: list[str] = []
    for x in p.parts:
        if x == "..":
            if parts:
                parts.pop()
        elif x != ".":
            parts.append(x)
    return "/".join(parts)


def sheet_parts(zf: zipfile.ZipFile, names: set[str]) -> dict[str, str]:
    """Sheet part path -> sheet name (worksheets, chart sheets, macro sheets)."""
    if "xl/workbook.xml" not in names:
        return {}
    root = _ET.fromstring(zf.read("xl/workbook.xml"))
    by_id: dict[str | None, str] = {}
    pp = PurePosixPath("xl/workbook.xml")
    rels_path = "xl/_rels/workbook.xml.rels"
    if rels_path in names:
        for rel in _ET.fromstring(zf.read(rels_path)).iter(f"{{{_NS_PKG_REL}}}Relationship"):
            target = rel.get("Target", "")
            target = target.lstrip("/") if target.startswith("/") else _norm(pp.parent / target)
            by_id[rel.get("Id")] = target
    out = {}
    for sheet in root.iter(f"{{{_NS_MAIN}}}sheet"):
        rid = sheet.get(f"{{{_NS_REL}}}id")
        if rid in by_id:
            out[by_id[rid]] = sheet.get("name", "")
    return out


class _SheetScan(xml.sax.handler.ContentHandler):
    """Top-level children, extension URIs and formula cells of one worksheet part."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.children: list[str] = []
        self.ext_uris: list[str] = []
        self.formulas = 0
        self.first_formula: str | None = None
        self._cell: str | None = None
        self._in_ext = False

    def startElement(self, name: str, attrs: Any) -> None:  # noqa: N802 (SAX API)
        tag = name.rpartition(":")[2]
        self.depth += 1
        if self.depth == 2:
            self.children.append(tag)
            self._in_ext = tag == "extLst"
        elif self.depth == 3 and self._in_ext and tag == "ext":
            self.ext_uris.append(str(attrs.get("uri", "")).upper())
        if tag == "c":
            self._cell = attrs.get("r")
        elif tag == "f":
            self.formulas += 1
            if self.first_formula is None:
                self.first_formula = self._cell

    def endElement(self, name: str) -> None:  # noqa: N802 (SAX API)
        self.depth -= 1


def _scan_sheet(data: bytes) -> _SheetScan:
    handler = _SheetScan()
    defusedxml.sax.parseString(data, handler)
    return handler


def previous_results(data: bytes) -> list[str]:
    """Result sheets an earlier cipmodel run wrote into this workbook: the sheets carrying
    cipmodel's mark (:data:`~cipmodel.io.results_base.RESULT_MARK`, a hidden sheet-level
    defined name it writes on each result sheet). A Provenance sheet's list is not
    trusted: anyone can edit it."""
    zf = open_zip(data, "workbook")
    names = set(zf.namelist())
    if "xl/workbook.xml" not in names:
        return []
    return marked_sheets(zf.read("xl/workbook.xml"))


def marked_sheets(workbook_xml: bytes) -> list[str]:
    """The titles of the sheets that hold cipmodel's result mark, in ``workbook.xml``.

    A mark on an input sheet (``Trusts``, ``CIP``, ... or ``README``) is ignored: cipmodel
    never writes a result sheet of such a name, so the mark is not its own.
    """
    if RESULT_MARK.encode() not in workbook_xml:
        return []
    inputs = {sheet_key(t.sheet) for t in load_schema().tables} | {sheet_key(README_SHEET)}
    root = _ET.fromstring(workbook_xml)
    titles = [s.get("name", "") for s in root.iter(f"{{{_NS_MAIN}}}sheet")]
    out = []
    for dn in root.iter(f"{{{_NS_MAIN}}}definedName"):
        local = dn.get("localSheetId")
        if (dn.get("name") or "").casefold() != RESULT_MARK.casefold() or local is None:
            continue
        try:
            i = int(local)
        except ValueError:
            continue
        if 0 <= i < len(titles) and sheet_key(titles[i]) not in inputs:
            out.append(titles[i])
    return [*dict.fromkeys(out)]


def workbook_losses(data: bytes, name: str, new_sheets: Sequence[str]) -> list[str]:
    """What saving workbook ``data`` through openpyxl, with ``new_sheets`` added, would
    lose: one item per thing, naming its sheet where known; [] if nothing.

    Raises
    ------
    WorkbookError
        The file is not a workbook, is damaged, or holds unsafe XML.
    """
    require_safe_xml()
    zf = open_zip(data, name)
    names = set(zf.namelist())
    try:
        sheets = sheet_parts(zf, names)
        wbx = zf.read("xl/workbook.xml") if "xl/workbook.xml" in names else b""
        previous = set(marked_sheets(wbx))
    except Exception as exc:  # noqa: BLE001 - a damaged workbook
        msg = f"{name} cannot be read as a workbook ({type(exc).__name__}: {exc})"
        raise WorkbookError(msg) from exc
    owner = _owners(zf, names, sheets)
    losses: list[str] = []
    # sheets that result sheets would replace
    existing = {sheet_key(s): s for s in sheets.values()}
    for new in new_sheets:
        have = existing.get(sheet_key(new))
        if have is not None and have not in previous:
            losses.append(f"sheet '{have}' (a result sheet of that name would replace it)")
    skipped = {p for p, s in sheets.items() if s in previous}
    skipped |= {p for p, s in owner.items() if s in previous}
    where = _where(owner, sheets)
    losses += _part_losses(zf, names, skipped, where)
    losses += _drawing_losses(zf, names, skipped, where)
    losses += _worksheet_losses(zf, names, sheets, previous)
    # workbook-level settings openpyxl drops
    if "xl/workbook.xml" in names:
        wbx = zf.read("xl/workbook.xml")
        if re.search(rb"<(?:\w+:)?customWorkbookViews[\s>]", wbx):
            losses.append("custom views (workbook)")
    return list(dict.fromkeys(losses))


def _owners(zf: zipfile.ZipFile, names: set[str], sheets: dict[str, str]) -> dict[str, str]:
    """Which sheet each part belongs to (sheet -> drawing -> chart/picture, ...)."""
    owner: dict[str, str] = {}
    frontier = [(p, s) for p, s in sheets.items()]
    while frontier:
        part, sheet = frontier.pop()
        for _typ, target, mode in _rels(zf, names, part):
            if mode == "External" or target in owner or target in sheets:
                continue
            owner[target] = sheet
            frontier.append((target, sheet))
    return owner


def _where(owner: dict[str, str], sheets: dict[str, str]) -> Callable[[str], str]:
    """A function giving `` on sheet 'X'`` for a part that belongs to a sheet, else ``""``."""

    def where(part: str) -> str:
        sheet = owner.get(part) or sheets.get(part)
        return f" on sheet '{sheet}'" if sheet else ""

    return where


def _part_losses(
    zf: zipfile.ZipFile, names: set[str], skipped: set[str], where: Callable[[str], str]
) -> list[str]:
    """Parts openpyxl drops (charts, pictures, macros, pivot tables, ...), counted."""
    counted: dict[str, int] = {}
    for part in sorted(names):
        if part in skipped:
            continue
        for prefix, what in _PART_KINDS:
            if part.startswith(prefix):
                if "/_rels/" in part:
                    break
                detail = what + where(part)
                if prefix.startswith("xl/externalLinks"):
                    ext = [t for _y, t, m in _rels(zf, names, part) if m == "External"]
                    detail += f" ({ext[0]})" if ext else ""
                counted[detail] = counted.get(detail, 0) + 1
                break
    return [detail if n == 1 else f"{detail} (x{n})" for detail, n in counted.items()]


def _drawing_losses(
    zf: zipfile.ZipFile, names: set[str], skipped: set[str], where: Callable[[str], str]
) -> list[str]:
    """Shapes and text boxes in drawings, and VML form controls."""
    losses: list[str] = []
    for part in sorted(names):
        if part in skipped:
            continue
        if part.startswith("xl/drawings/") and part.endswith(".xml") and "/_rels/" not in part:
            text = zf.read(part)
            if re.search(rb"<(?:\w+:)?(?:sp|grpSp|cxnSp)[\s>]", text):
                losses.append(f"shapes or text boxes{where(part)}")
        elif part.startswith("xl/drawings/") and part.endswith(".vml"):
            text = zf.read(part)
            kinds = set(re.findall(rb'ObjectType="(\w+)"', text)) - {b"Note"}
            if kinds:
                what = ", ".join(sorted(k.decode() for k in kinds))
                losses.append(f"form controls ({what}){where(part)}")
    return losses


def _worksheet_losses(
    zf: zipfile.ZipFile, names: set[str], sheets: dict[str, str], previous: set[str]
) -> list[str]:
    """Worksheet settings and extensions openpyxl drops. (Formulas and their saved values
    are carried: :mod:`cipmodel.io.carry` keeps each sheet's cells as they were.)"""
    losses: list[str] = []
    for part, sheet in sheets.items():
        if sheet in previous or not part.startswith("xl/worksheets/") or part not in names:
            continue
        scan = _scan_sheet(_without_cells(zf.read(part)))
        for child in dict.fromkeys(scan.children):
            if child in _SHEET_KEPT or child in _SHEET_IGNORED or child == "extLst":
                continue
            losses.append(f"{_SHEET_DROPPED.get(child, f'<{child}> settings')} on sheet '{sheet}'")
        for uri in dict.fromkeys(scan.ext_uris):
            what = _EXT_URIS.get(uri, f"Excel extension data {uri}")
            losses.append(f"{what} on sheet '{sheet}'")
    return losses


_SHEET_DATA_OPEN = re.compile(rb"<(?:\w+:)?sheetData\b")


def _without_cells(data: bytes) -> bytes:
    """A worksheet part with its cells left out (what lies outside them is what openpyxl
    may drop; the cells themselves are carried as they are)."""
    m = _SHEET_DATA_OPEN.search(data)
    if m is None:
        return data
    last = data.rfind(b"sheetData")
    lt = data.rfind(b"<", 0, last)
    if last <= m.start() or data[lt + 1 : lt + 2] != b"/":  # <sheetData/>
        return data
    end = data.find(b">", last) + 1
    tag = data[m.start() + 1 : m.end()]
    return data[: m.start()] + b"<" + tag + b"/>" + data[end:]
