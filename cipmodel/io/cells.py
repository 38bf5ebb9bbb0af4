"""Cell writers and formats shared by every workbook cipmodel writes.

* :func:`set_text` / :func:`set_value`: user text always as text (never a formula: a
  leading ``=``, ``+``, ``-`` or ``@`` gets Excel's quote prefix), numbers bit for bit,
  NaN blank, infinities as text, booleans as Y/N on plan sheets;
* :func:`write_frame`: a DataFrame as a plain result sheet; :func:`write_provenance`: the
  key/value ``Provenance`` sheet;
* :func:`safe_sheet_name`: an Excel-legal sheet name;
* the number formats (:data:`MONEY_FORMAT` £000, :data:`PERCENT_FORMAT`, :data:`TEXT_FORMAT`)
  and header styles.

pandas is imported only inside the functions that take a DataFrame.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from cipmodel.errors import WorkbookError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BOLD",
    "HEADER_FILL",
    "MONEY_FORMAT",
    "PERCENT_FORMAT",
    "PROVENANCE_SHEET",
    "TEXT_FORMAT",
    "TITLE",
    "safe_sheet_name",
    "set_text",
    "set_value",
    "write_frame",
    "write_provenance",
]

#: The sheet recording how a workbook's results were made (version, rules, seed, ...).
PROVENANCE_SHEET = "Provenance"

MONEY_FORMAT = "#,##0;(#,##0)"
PERCENT_FORMAT = "0.0%"
TEXT_FORMAT = "@"

HEADER_FILL = PatternFill(fill_type="solid", fgColor="FFD9E1F2")
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)

_RISKY_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")


def safe_sheet_name(name: str) -> str:
    """An Excel-legal sheet name: no ``[]:*?/\\``, no edge apostrophes, <= 31 characters."""
    text = _SHEET_NAME_BAD.sub("_", str(name)).strip().strip("'")[:31].strip()
    if not text or text.casefold() == "history":
        msg = f"{name!r} cannot be used as a sheet name"
        raise WorkbookError(msg)
    return text


def set_text(cell: Any, text: str) -> None:
    """Put user text in a cell as text, never as a formula."""
    if _XML_ILLEGAL.search(text):
        msg = f"cannot write {text[:40]!r} to cell {cell.coordinate}: it holds control characters"
        raise WorkbookError(msg)
    cell.value = text
    cell.data_type = "s"
    if text.startswith(_RISKY_START):
        cell.quotePrefix = True  # Excel keeps it as text even when the cell is edited


def set_value(cell: Any, value: Any, *, yes_no: bool = False) -> None:
    """Write one value: bool as Y/N (plan sheets) or TRUE/FALSE, text as text, NaN blank."""
    if value is None:
        return
    if isinstance(value, bool):
        if yes_no:
            set_text(cell, "Y" if value else "N")
        else:
            cell.value = value
        return
    if isinstance(value, str):
        set_text(cell, value)
        return
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            if math.isnan(value):
                return
            set_text(cell, "inf" if value > 0 else "-inf")
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
    set_text(cell, str(value))


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


def write_frame(ws: Any, frame: pd.DataFrame) -> None:
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
        set_text(cell, head)
        cell.font = BOLD
        cell.fill = HEADER_FILL
        ws.column_dimensions[get_column_letter(j)].width = min(max(len(head) + 3, 10), 50)
    for i, values in enumerate(df.itertuples(index=False, name=None), start=2):
        for j, value in enumerate(values, start=1):
            cell = ws.cell(row=i, column=j)
            set_value(cell, _cell_python(value))
            if formats[j - 1] and isinstance(cell.value, (int, float)):
                cell.number_format = formats[j - 1]
    ws.freeze_panes = "A2"


def write_provenance(ws: Any, provenance: Mapping[str, Any]) -> None:
    """Key/value rows recording how the results were made."""
    for j, head in enumerate(("key", "value"), start=1):
        cell = ws.cell(row=1, column=j, value=head)
        cell.font = BOLD
        cell.fill = HEADER_FILL
    for i, (key, value) in enumerate(provenance.items(), start=2):
        set_text(ws.cell(row=i, column=1), str(key))
        plain = value is None or isinstance(
            value, (str, bool, int, float, _dt.date, _dt.datetime, _dt.time)
        )
        shown = value if plain else json.dumps(value, sort_keys=True, default=str)
        set_value(ws.cell(row=i, column=2), shown)
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 60
    ws.freeze_panes = "A2"
