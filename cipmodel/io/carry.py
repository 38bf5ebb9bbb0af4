"""Carry the user's own workbook into a results workbook: their sheets as they are, the
result sheets added (an earlier run's replaced).

:func:`write_carried_results` writes a **new** results workbook that is the user's plan
workbook plus the result sheets; :func:`load_for_results` is the step it shares with
:func:`cipmodel.io.in_place.write_in_place` (which writes back into the plan itself).

How the user's sheets are carried: each worksheet's cells (``<sheetData>``: values,
formulas with the values Excel saved, rich text, styles, hidden and sized rows) are kept as
the very bytes the user's file holds, and openpyxl loads the workbook with those cells left
out, so it is quick even for the 235-trust national workbook. openpyxl keeps everything
around the cells (column widths, number formats and cell formats, merged cells, comments,
hyperlinks, data validation, conditional formatting, Excel Tables, defined names, print
setup, hidden and very hidden sheets, frozen panes); on saving, each sheet's cells are put
back exactly as they were. Two things are rewritten, without change of content: a cell that
points into the shared-string table is written with its (rich) text inline, since openpyxl
writes a new table; and the ``cm``/``vm`` cell metadata marks are dropped with the metadata
openpyxl drops. Cell formats keep their numbers: openpyxl writes the workbook's cell formats
in the order it read them, and only appends the result sheets' formats.

What openpyxl cannot carry (charts, pictures, pivot tables, macros, ...) is listed by
:func:`cipmodel.io.losses.workbook_losses`: a new results workbook is written without them
and says so (on stderr and on its Provenance sheet); writing in place is refused.

Result sheets of an earlier run are the sheets carrying cipmodel's mark
(:data:`~cipmodel.io.results_base.RESULT_MARK`), never those a Provenance sheet lists.
"""

from __future__ import annotations

import io
import os
import re
import warnings
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openpyxl import load_workbook

from cipmodel.errors import WorkbookError
from cipmodel.io.atomic import atomic_write, check_writable, clean_stale_temps, same_file
from cipmodel.io.cells import PROVENANCE_SHEET
from cipmodel.io.grid import GridWorkbook, grid_workbook
from cipmodel.io.losses import marked_sheets, sheet_parts, workbook_losses
from cipmodel.io.names import HEADLINES, YEAR_HEADLINES, drop_names_on
from cipmodel.io.results_base import RESULT_SHEETS
from cipmodel.io.results_workbook import build_results_workbook, new_sheet_names
from cipmodel.io.xlsx import open_zip, read_bytes, require_safe_xml, sheet_key

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Carried", "load_for_results", "write_carried_results"]

#: Sheet names only cipmodel writes: one without cipmodel's mark is noted as a possible
#: earlier result (written by a cipmodel before the mark, or its mark removed).
LOOKALIKE_NAMES = (
    *RESULT_SHEETS,
    PROVENANCE_SHEET,
    "Sector finance",
    "Sector funding",
    "Sector score",
    "Sector segment",
    "Simulation",
    "Simulation percentiles",
    "Simulation scores",
    "Simulation funding",
    "Simulation fan chart",
    "Simulation drivers",
)

_ROOT = re.compile(rb"<worksheet\b[^>]*>")
_XMLNS = re.compile(rb'\sxmlns:([A-Za-z_][\w.-]*)="[^"]*"')
_IGNORABLE = re.compile(rb'\smc:Ignorable="[^"]*"')
_DIMENSION = re.compile(rb"<dimension\b[^>]*/>")
_SHARED_CELL = re.compile(
    rb'<c\b([^>]*?)\st="s"([^>]*?)(?:/>|>\s*(?:<v>\s*([0-9]+)\s*</v>)?\s*</c>)'
)
_LEFT_SHARED = re.compile(rb'<c\b[^>]*\st="s"')
_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")
_CELL_START = re.compile(rb"<c\b[^>]*>")
_METADATA_ATTR = re.compile(rb'\s(?:cm|vm)="[^"]*"')
_LINK_TARGET = re.compile(r"(?<=a link to another workbook) \(.*\)$")
_SI = re.compile(rb"<si\b[^>]*?(?:/>|>(.*?)</si>)", re.S)


@dataclass
class Carried:
    """A user's workbook loaded to have result sheets added.

    Attributes
    ----------
    workbook : GridWorkbook
        The workbook (openpyxl), its own sheets' cells kept aside until it is saved.
    losses : list of str
        What cannot be carried (:func:`~cipmodel.io.losses.workbook_losses`).
    notes : list of str
        Other things the user should know (a sheet that looks like an earlier result but
        carries no mark of cipmodel's and is kept as theirs).
    replaced : list of str
        The earlier run's result sheets, removed (the new ones take their place).
    """

    workbook: GridWorkbook
    losses: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)


def load_for_results(
    data: bytes, name: str, new_sheets: Sequence[str], *, refuse_losses: bool = False
) -> Carried:
    """Load workbook ``data`` (file name ``name``) to add the result sheets ``new_sheets``.

    Sheets carrying cipmodel's result mark are removed (with the headline names on them);
    a sheet of the user's that a result sheet's name would take is removed too, and listed
    in ``losses``.

    Raises
    ------
    InPlaceRefused
        With ``refuse_losses``, when anything would be lost (nothing is loaded).
    WorkbookError
        The file is not a workbook or is damaged.
    """
    from cipmodel.errors import InPlaceRefused

    require_safe_xml()
    losses = workbook_losses(data, name, [*new_sheets, PROVENANCE_SHEET])
    if refuse_losses and losses:
        raise InPlaceRefused(name, losses)
    zf = open_zip(data, name)
    try:
        wb, kept, lost = _load_without_cells(zf, name)
    except WorkbookError:
        raise
    except Exception as exc:  # noqa: BLE001 - openpyxl on a damaged workbook
        msg = f"{name} cannot be read as a workbook ({type(exc).__name__}: {exc})"
        raise WorkbookError(msg) from exc
    if refuse_losses and lost:
        raise InPlaceRefused(name, lost)
    losses += lost
    previous = [t for t in marked_sheets(zf.read("xl/workbook.xml")) if t in wb.sheetnames]
    taken = {sheet_key(n) for n in [*new_sheets, PROVENANCE_SHEET]}
    clashing = [t for t in wb.sheetnames if sheet_key(t) in taken and t not in previous]
    for title in [*previous, *clashing]:
        del wb[title]
        kept.pop(title, None)
    _drop_headline_names(wb, [*previous, *clashing])
    gwb = grid_workbook(wb)
    for title, patch in kept.items():
        gwb.patches[title] = patch
    lookalike = {sheet_key(n) for n in LOOKALIKE_NAMES}
    notes = [
        f"sheet '{t}' looks like an earlier cipmodel result but has no cipmodel mark: "
        "kept as it is (delete it if it is out of date)"
        for t in wb.sheetnames
        if sheet_key(t) in lookalike
    ]
    losses = [x.replace("would replace it", "takes its place") for x in losses]
    return Carried(gwb, losses, notes, previous)


def _drop_headline_names(wb: Any, titles: Sequence[str]) -> None:
    """Remove an earlier run's headline names (``RXX_CT_variance``...: defined anew) that
    point only at sheets ``titles``; names of the user's own are kept, even on those
    sheets (the new result sheets have the same titles)."""
    suffixes = tuple(f"_{suffix}" for _key, suffix, _what in HEADLINES)
    suffixes += tuple(f"_{suffix}" for _key, suffix in YEAR_HEADLINES)  # per year: _Y2_...
    theirs = {n for n in wb.defined_names if not n.endswith(suffixes)}
    kept = {n: wb.defined_names[n] for n in theirs}
    drop_names_on(wb, titles)
    for n, dn in kept.items():
        if n not in wb.defined_names:
            wb.defined_names[n] = dn


def write_carried_results(
    path: str | os.PathLike[str],
    source: str | os.PathLike[str],
    result: Any,
    *,
    overwrite: bool = False,
    simulation: Any = None,
    extra_sheets: Mapping[str, pd.DataFrame] | None = None,
    notes: Sequence[Any] = (),
) -> Carried:
    """Write a new results workbook at ``path`` that carries the plan workbook ``source``:
    its sheets as they are, the result sheets added (an earlier run's replaced); ``notes``
    (the reader's notes and warnings) on an ``Input notes`` result sheet.

    What cannot be carried is left out and listed in the returned ``losses`` and on the
    Provenance sheet (``not_carried``); the caller tells the user. ``source`` is never
    written: a ``path`` that is the same file (through a link, a hard link or ``..``) is
    refused.

    Raises
    ------
    WorkbookError
        ``path`` is not ``.xlsx``, is ``source``, is a link, or exists without
        ``overwrite``; ``source`` is not a workbook; the disk refuses the write.
    """
    target, src = Path(path), Path(source)
    if target.suffix.lower() != ".xlsx":
        msg = (
            f"cannot write {target.name}: results are written as .xlsx; use a name ending in .xlsx"
        )
        raise WorkbookError(msg)
    if same_file(target, src):
        msg = f"cannot write {target.name}: it is the plan {src.name}; results go to a new file"
        raise WorkbookError(msg)
    check_writable(target, overwrite=overwrite)
    data = read_bytes(src)
    try:
        carried = load_for_results(data, src.name, new_sheet_names(result, extra_sheets, notes))
    except WorkbookError as exc:  # read by cipmodel's reader, but not loadable to carry
        return _write_new(target, src, result, str(exc), overwrite, simulation, extra_sheets, notes)
    prov = {"carried_from": f"{src.name}: its sheets as they were, result sheets added"}
    # where a dropped link pointed is said on stderr, not kept in the workbook
    noted = [_LINK_TARGET.sub("", x) for x in carried.losses]
    prov["not_carried"] = "; ".join(noted) if noted else "nothing"
    if carried.notes:
        prov["notes"] = "; ".join(carried.notes)
    built = build_results_workbook(
        result,
        simulation=simulation,
        extra_sheets=extra_sheets,
        workbook=carried.workbook,
        provenance=prov,
        notes=notes,
    )
    clean_stale_temps(target)
    atomic_write(target, built.save, overwrite=overwrite)
    return carried


def _write_new(
    target: Path,
    src: Path,
    result: Any,
    reason: str,
    overwrite: bool,
    simulation: Any,
    extra_sheets: Mapping[str, pd.DataFrame] | None,
    notes: Sequence[Any] = (),
) -> Carried:
    """The results workbook written new (the plan's input sheets re-created, hidden) when
    the user's workbook cannot be carried at all; said in ``losses`` and on Provenance."""
    lost = f"the workbook itself ({reason}): its input sheets are written new, hidden"
    prov = {"carried_from": f"{src.name}: not carried", "not_carried": lost}
    built = build_results_workbook(
        result, simulation=simulation, extra_sheets=extra_sheets, provenance=prov, notes=notes
    )
    clean_stale_temps(target)
    atomic_write(target, built.save, overwrite=overwrite)
    return Carried(built.workbook, [lost])


# -- the cells kept aside -------------------------------------------------------------------
def _load_without_cells(
    zf: zipfile.ZipFile, name: str
) -> tuple[Any, dict[str, Callable[[bytes], bytes]], list[str]]:
    """openpyxl's load of the workbook with each worksheet's cells left out; by sheet
    title, the function that puts them back into the sheet as openpyxl writes it; and
    what is lost on the sheets whose cells openpyxl reads (an unusual XML form): the
    values saved with their formulas."""
    names = set(zf.namelist())
    parts = sheet_parts(zf, names)
    strings: list[bytes] | None = None
    stripped: dict[str, bytes] = {}
    kept: dict[str, Callable[[bytes], bytes]] = {}
    for part, title in parts.items():
        if not part.startswith("xl/worksheets/") or part not in names:
            continue
        data = zf.read(part)
        split = _split_cells(data)
        if split is None:
            continue  # an unusual sheet (prefixed XML): openpyxl reads its cells
        head, cells, tail = split
        if b't="s"' in cells:
            if strings is None:
                strings = _shared_strings(zf, names)
            if strings is None:
                continue
            cells = _inline_shared(cells, strings)
            if _LEFT_SHARED.search(cells):
                continue  # a shared-text cell of an unusual form: openpyxl reads the sheet
        if b'm="' in cells:
            cells = _CELL_START.sub(lambda m: _METADATA_ATTR.sub(b"", m.group()), cells)
        stripped[part] = head + b"<sheetData/>" + tail
        kept[title] = _put_back(head, cells)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED, allowZip64=True) as out:
        for info in zf.infolist():
            out.writestr(info.filename, stripped.get(info.filename) or zf.read(info))
    buf.seek(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # links to other workbooks are not carried (listed as lost): a results workbook
        # that is passed around must not fetch from wherever the plan's links pointed
        wb = load_workbook(buf, keep_links=False, rich_text=True)
    lost = [
        f"the saved values of the formulas on sheet '{title}' (its XML is of an unusual form)"
        for part, title in parts.items()
        if part.startswith("xl/worksheets/") and part in names and title not in kept
        if _FORMULA.search(zf.read(part))
    ]
    return wb, kept, lost


def _split_cells(data: bytes) -> tuple[bytes, bytes, bytes] | None:
    """(what comes before the cells, the ``<sheetData>`` element, what comes after), or
    None for a sheet whose XML uses a prefix for the spreadsheet namespace."""
    if _ROOT.search(data) is None:
        return None
    start = data.find(b"<sheetData")
    if start < 0:
        return None
    after = data[start + 10 : start + 11]
    if after == b"/" or data[start + 10 : data.find(b">", start)].rstrip().endswith(b"/"):
        end = data.find(b">", start) + 1
        return data[:start], b"<sheetData/>", data[end:]
    close = data.rfind(b"</sheetData>")
    if close < start:
        return None
    end = close + len(b"</sheetData>")
    return data[:start], data[start:end], data[end:]


def _shared_strings(zf: zipfile.ZipFile, names: set[str]) -> list[bytes] | None:
    """The shared-string table's items as raw XML (rich text and all), or None if it uses
    a prefix for the spreadsheet namespace."""
    part = next((n for n in ("xl/sharedStrings.xml", "xl/SharedStrings.xml") if n in names), None)
    if part is None:
        return []
    data = zf.read(part)
    if re.search(rb"<sst\b", data) is None:
        return None
    return [m.group(1) or b"" for m in _SI.finditer(data)]


def _inline_shared(cells: bytes, strings: list[bytes]) -> bytes:
    """Cells pointing into the shared-string table, written with their text inline."""

    def inline(m: re.Match[bytes]) -> bytes:
        attrs = m.group(1) + m.group(2)
        index = m.group(3)
        if index is None or int(index) >= len(strings):
            return b"<c" + attrs + b"/>"
        return b"<c" + attrs + b' t="inlineStr"><is>' + strings[int(index)] + b"</is></c>"

    return _SHARED_CELL.sub(inline, cells)


def _put_back(head: bytes, cells: bytes) -> Callable[[bytes], bytes]:
    """A patch for openpyxl's XML of the sheet: the kept cells in place of openpyxl's, the
    original ``<dimension>``, and the namespace declarations the cells may use."""
    root = _ROOT.search(head)
    root_tag = root.group() if root else b""
    decl_text = {m.group(1): m.group() for m in _XMLNS.finditer(root_tag)}
    ignorable = _IGNORABLE.search(root_tag)
    dim = _DIMENSION.search(head)

    def patch(data: bytes) -> bytes:
        m = _ROOT.search(data)
        if m is not None:
            have = set(_XMLNS.findall(m.group()))
            add = b"".join(t for p, t in decl_text.items() if p not in have)
            if ignorable is not None and b"mc" in decl_text and b"mc:Ignorable" not in m.group():
                add += ignorable.group()
            if add:
                data = data[: m.end() - 1] + add + data[m.end() - 1 :]
        if dim is not None:
            data = _DIMENSION.sub(lambda _m: dim.group(), data, count=1)
        split = _split_cells(data)
        if split is None:  # pragma: no cover - openpyxl always writes sheetData
            return data
        before, _openpyxl_cells, after = split
        return before + cells + after

    return patch
