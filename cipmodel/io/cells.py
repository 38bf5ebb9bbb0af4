"""Cell writers and formats shared by every workbook cipmodel writes.

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
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from cipmodel.errors import WorkbookError
from cipmodel.io.grid import grid_of

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

_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")


def safe_sheet_name(name: str) -> str:
    """An Excel-legal sheet name: no ``[]:*?/\\``, no edge apostrophes, <= 31 characters."""
    text = _SHEET_NAME_BAD.sub("_", str(name)).strip().strip("'")[:31].strip()
    if not text or text.casefold() == "history":
        msg = f"{name!r} cannot be used as a sheet name"
        raise WorkbookError(msg)
    return text


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

    grid = grid_of(ws)
    styles = grid.styles
    df = frame if isinstance(frame.index, pd.RangeIndex) else frame.reset_index()
    headers = [
        " / ".join(str(x) for x in col) if isinstance(col, tuple) else str(col)
        for col in df.columns
    ]
    head_style = styles.id(font=BOLD, fill=HEADER_FILL)
    formats = [_result_format(h) for h in headers]
    number_styles = [0 if f is None else styles.id(number_format=f) for f in formats]
    for j, head in enumerate(headers, start=1):
        grid.text(1, j, head, head_style)
        ws.column_dimensions[get_column_letter(j)].width = min(max(len(head) + 3, 10), 50)
    for i, values in enumerate(df.itertuples(index=False, name=None), start=2):
        for j, value in enumerate(values, start=1):
            v = _cell_python(value)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                grid.value(i, j, v, number_styles[j - 1])
            elif v is not None:
                grid.value(i, j, v)
    ws.freeze_panes = "A2"


def write_provenance(ws: Any, provenance: Mapping[str, Any]) -> None:
    """Key/value rows recording how the results were made."""
    grid = grid_of(ws)
    head_style = grid.styles.id(font=BOLD, fill=HEADER_FILL)
    for j, head in enumerate(("key", "value"), start=1):
        grid.text(1, j, head, head_style)
    for i, (key, value) in enumerate(provenance.items(), start=2):
        grid.text(i, 1, str(key))
        plain = value is None or isinstance(
            value, (str, bool, int, float, _dt.date, _dt.datetime, _dt.time)
        )
        shown = value if plain else json.dumps(value, sort_keys=True, default=str)
        if shown is not None:
            grid.value(i, 2, shown)
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 60
    ws.freeze_panes = "A2"
