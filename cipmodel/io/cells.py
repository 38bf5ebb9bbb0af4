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

from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from cipmodel.errors import WorkbookError
from cipmodel.formatting import TYPE_LABELS
from cipmodel.io.grid import grid_of

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BOLD",
    "COUNT_FORMAT",
    "FONT_NAME",
    "HEADER_FILL",
    "MONEY_FORMAT",
    "PERCENT_FORMAT",
    "PROVENANCE_SHEET",
    "RESULT_COLUMNS",
    "TEXT_FORMAT",
    "TITLE",
    "TYPE_LABELS",
    "safe_sheet_name",
    "write_frame",
    "write_provenance",
]

#: The sheet recording how a workbook's results were made (version, rules, seed, ...).
PROVENANCE_SHEET = "Provenance"

MONEY_FORMAT = '#,##0;(#,##0);"-"'  # £000: deficits in brackets, zero as a dash
PERCENT_FORMAT = "0.0%"
TEXT_FORMAT = "@"

HEADER_FILL = PatternFill(fill_type="solid", fgColor="FFD9E1F2")
#: The workbook font (Calibri 11, as Excel's Normal style); every font names it, since a
#: font without a name prints in a serif face in LibreOffice.
FONT_NAME = "Calibri"
BOLD = Font(name=FONT_NAME, size=11, bold=True)
TITLE = Font(name=FONT_NAME, size=14, bold=True)
_HEAD_WRAP = Alignment(wrap_text=True, vertical="top")

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


COUNT_FORMAT = "#,##0"
_MONEY, _COUNT = MONEY_FORMAT, COUNT_FORMAT
#: Columns of the result tables (the sector tables of ``cipmodel portfolio``) by their
#: DataFrame name: the header written and its number format.
RESULT_COLUMNS: dict[str, tuple[str, str | None]] = {
    "type": ("Trust type", None),
    "trusts": ("Trusts", _COUNT),
    "meeting_control_total": ("Meeting the control total (pre-STF)", _COUNT),
    "control_total_not_accepted": ("Control total not accepted", _COUNT),
    "in_deficit_after_stf": ("In deficit after STF/PSF", _COUNT),
    "operating_income": ("Operating income (£000)", _MONEY),
    "surplus_pre_stf": ("Surplus/(deficit) before STF/PSF (£000)", _MONEY),
    "reported_surplus": ("Reported surplus/(deficit) (£000)", _MONEY),
    "cip_planned": ("CIP planned (£000)", _MONEY),
    "stf_allocation": ("STF/PSF allocation (£000)", _MONEY),
    "stf_earned": ("STF/PSF earned (£000)", _MONEY),
    "stf_forfeited": ("STF/PSF forfeited (£000)", _MONEY),
    "stf_incentive": ("Year-end incentive (£000)", _MONEY),
    "stf_bonus": ("Bonus (£000)", _MONEY),
    **{
        f"score_{k}": (f"Score {k}{' (best)' if k == 1 else ' (worst)' if k == 4 else ''}", _COUNT)
        for k in range(1, 5)
    },
    "finance_trigger": ("Finance trigger (score 3 or 4)", _COUNT),
    **{f"segment_{k}": (f"Candidate segment {k}", _COUNT) for k in range(1, 5)},
}


def _result_format(header: str) -> str | None:
    if header.endswith("(£000)"):
        return MONEY_FORMAT
    if header.endswith("(%)"):
        return PERCENT_FORMAT
    return None


def write_frame(ws: Any, frame: pd.DataFrame) -> None:
    """A result sheet: bold header, one row per DataFrame row, index as leading columns.

    Columns named in :data:`RESULT_COLUMNS` get its header and number format (a sector
    table's ``operating_income`` becomes "Operating income (£000)", shown #,##0 with
    deficits in brackets); other headers are kept, "(£000)" and "(%)" ones formatted.
    Trust types read as words (:data:`TYPE_LABELS`) and an "All trusts" row is bold.
    """
    import pandas as pd  # writers only: reading a plan needs no pandas

    grid = grid_of(ws)
    styles = grid.styles
    df = frame if isinstance(frame.index, pd.RangeIndex) else frame.reset_index()
    names = [
        " / ".join(str(x) for x in col) if isinstance(col, tuple) else str(col)
        for col in df.columns
    ]
    known = [RESULT_COLUMNS.get(n) for n in names]
    headers = [k[0] if k else n for n, k in zip(names, known, strict=True)]
    formats = [k[1] if k else _result_format(h) for h, k in zip(headers, known, strict=True)]
    head_style = styles.id(font=BOLD, fill=HEADER_FILL, alignment=_HEAD_WRAP)
    for j, head in enumerate(headers, start=1):
        grid.text(1, j, head, head_style)
        width = min(max(len(head) + 3, 10), 50) if known[j - 1] is None else 14
        ws.column_dimensions[get_column_letter(j)].width = width
    for i, values in enumerate(df.itertuples(index=False, name=None), start=2):
        total = any(v == "all trusts" for v in values if isinstance(v, str))
        font = BOLD if total else None
        for j, value in enumerate(values, start=1):
            v = _cell_python(value)
            if names[j - 1] == "type" and isinstance(v, str):
                v = TYPE_LABELS.get(v, v)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                grid.value(i, j, v, styles.id(font=font, number_format=formats[j - 1]))
            elif v is not None:
                grid.value(i, j, v, styles.id(font=font) if font else 0)
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
