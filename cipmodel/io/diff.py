"""Compare two workbooks' content, for checking committed templates against the code.

:func:`workbooks_equal` lists the differences a reader of the workbook would see (sheets,
cell values, types, number formats, bold, fills, column widths, frozen panes, data
validations, Excel Tables) and ignores what changes on every save (zip timestamps,
document properties).
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from cipmodel.errors import WorkbookError

__all__ = ["sheet_summary", "workbooks_equal"]


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
        sa, sb = sheet_summary(wa[title]), sheet_summary(wb_[title])
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


def sheet_summary(ws: Any) -> dict[str, Any]:
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
