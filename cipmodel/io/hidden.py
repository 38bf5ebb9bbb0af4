"""Notes on rows and columns of an input table hidden in the workbook.

A row or column hidden by hand, by a filter or in a collapsed group is read like any other
(as Excel's own formulas read it), but the user may not see it: a scheme on a hidden row
counts in the totals without showing on the screen. The reader says so, with the place
(``CIP!rows 12-14``), grouping consecutive rows; :class:`cipmodel.io.xlsx_cells.Hidden`
holds the hidden ranges the sheet handler found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from openpyxl.utils import get_column_letter

from cipmodel.errors import Note
from cipmodel.io.xlsx_cells import Hidden

__all__ = ["hidden_notes", "row_ranges"]


def row_ranges(rows: Sequence[int], *, letters: bool = False) -> str:
    """[3, 4, 5, 9] -> '3-5, 9' (at most six parts); with ``letters``, columns: 'C-E, I'."""
    parts: list[str] = []
    shown = get_column_letter if letters else str
    start = prev = rows[0]
    for r in [*rows[1:], None]:
        if r is not None and r == prev + 1:
            prev = r
            continue
        parts.append(f"{shown(start)}-{shown(prev)}" if prev > start else shown(start))
        if r is not None:
            start = prev = r
    if len(parts) > 6:
        parts = [*parts[:6], "..."]
    return ", ".join(parts)


def hidden_notes(
    title: str, hidden: Hidden | None, read: Sequence[int], columns: Mapping[str, int]
) -> list[Note]:
    """Notes for the rows of ``read`` (the rows read as records) and the columns of
    ``columns`` (field -> column) that the sheet hides; none if nothing read is hidden."""
    if hidden is None:
        return []
    notes: list[Note] = []
    rows = hidden.rows_among(sorted(read))
    if rows:
        span = row_ranges(rows)
        what = f"row {span} is" if len(rows) == 1 else f"rows {span} ({len(rows):,} rows) are"
        notes.append(
            Note(
                f"{title}: {what} hidden in the workbook and read as inputs; unhide to see "
                "what is counted",
                f"{title}!{'row' if len(rows) == 1 else 'rows'} {span}",
            )
        )
    by_col = {c: f for f, c in columns.items()}
    cols = hidden.cols_among(sorted(by_col))
    if cols:
        span = row_ranges(cols, letters=True)
        fields = ", ".join(by_col[c] for c in cols)
        what = (
            f"column {span} ({fields}) is" if len(cols) == 1 else f"columns {span} ({fields}) are"
        )
        notes.append(
            Note(
                f"{title}: {what} hidden in the workbook and read as inputs; unhide to see "
                "what is counted",
                f"{title}!{'column' if len(cols) == 1 else 'columns'} {span}",
            )
        )
    return notes
