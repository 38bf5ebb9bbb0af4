"""The results workbook's ``Input notes`` sheet: what the reader ignored or assumed, and
the plausibility warnings, each with its place.

One row per note: level (note / warning), place (``CIP!M1``) and the sentence. Special
characters in user text (a no-break space in a header, a direction mark in a name) are
written by name (:func:`cipmodel.errors.readable`), as on the terminal.

It prints like the other result sheets (with their header and footer): landscape, fitted to
one page wide, the header row repeated, each row as tall as its wrapped sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from openpyxl.styles import Alignment

from cipmodel.errors import readable
from cipmodel.io.cells import BOLD, HEADER_FILL
from cipmodel.io.grid import grid_of
from cipmodel.io.printing import ROW_HEIGHT, PageHeading, table_sheet, wrapped_lines

__all__ = ["NOTES_SHEET", "write_notes"]

#: The sheet's title (not "Notes": users often have a sheet of that name already).
NOTES_SHEET = "Input notes"
_WRAP = Alignment(wrap_text=True, vertical="top")
#: Characters of a note per line in its column (100 wide), with room for wider fonts.
_NOTE_CHARS = 92


def write_notes(ws: Any, notes: Sequence[Any], page: PageHeading | None = None) -> None:
    """Fill ``ws`` with one row per note (objects with ``level``, ``place`` and
    ``message``, as :class:`~cipmodel.errors.Note`); with ``page``, set it up to print
    with that header and footer."""
    grid = grid_of(ws)
    head = grid.styles.id(font=BOLD, fill=HEADER_FILL)
    wrap = grid.styles.id(alignment=_WRAP)
    for j, title in enumerate(("Level", "Place", "Note"), start=1):
        grid.text(1, j, title, head)
    for i, note in enumerate(notes, start=2):
        grid.text(i, 1, str(getattr(note, "level", "note")), wrap)
        place = readable(str(getattr(note, "place", "")))
        grid.text(i, 2, place, wrap)
        message = readable(str(getattr(note, "message", note)), limit=2000)
        grid.text(i, 3, message, wrap)
        lines = max(wrapped_lines(message, _NOTE_CHARS), wrapped_lines(place, 20))
        if lines > 1:
            ws.row_dimensions[i].height = ROW_HEIGHT * min(lines, 27)
    ws.column_dimensions["A"].width = 10
    ws.column_dimensions["B"].width = 22
    ws.column_dimensions["C"].width = 100
    ws.freeze_panes = "A2"
    if page is not None:
        table_sheet(ws, grid, page)
