"""A hand-typed "Total" row at the end of an input table.

Finance teams often add a total under a table: ``Total`` in one cell and the column sums
beside it. Read as a record it would double every figure (or fail as a trust called
"Total"). :func:`total_row` recognises it — a total label in the row and every money value
in it equal to the sum of that column above — so the reader can skip it with a note; a row
labelled as a total whose values are not the sums is a problem, never a record.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from cipmodel.errors import Note, Problem, readable
from cipmodel.inputs.schema import Field, Table

__all__ = ["TOTAL_LABEL", "TotalRow", "drop_total", "total_row"]

#: Rows of one sheet as the reader holds them: row number, raw values by field, problems.
Entries = list[tuple[int, dict[str, Any], list[Problem]]]

#: A cell saying the row is a total: "Total", "Totals", "Grand total", "Sub-total",
#: "Total CIP", "TOTAL:" ... (a scheme called "Total parenteral nutrition" is not one).
TOTAL_LABEL = re.compile(
    r"(grand\s*|sub\s*-?\s*)?totals?"
    r"(\s+(cip|schemes?|savings?|income|costs?|plan|all|trusts?|\(?£000\)?|£k))?\s*:?",
    re.IGNORECASE,
)
# A typed total may be rounded: it agrees with the sum within half a unit (£500) or a
# millionth of the sum, whichever is larger.
_TOLERANCE = 0.5
_RELATIVE = 1e-6


class TotalRow:
    """A trailing total row: its row number, label, and the money columns that disagree
    with their sums (empty when it is a true total)."""

    def __init__(self, row: int, label: str, wrong: list[tuple[str, float, float]]) -> None:
        self.row = row
        self.label = label
        self.wrong = wrong


def _label(cells: Sequence[Any]) -> str | None:
    for value in cells:
        if isinstance(value, str) and len(value) <= 40 and TOTAL_LABEL.fullmatch(value.strip()):
            return value.strip()
    return None


def total_row(
    rows: Sequence[tuple[int, Mapping[str, Any], Sequence[Any]]],
    fields: Mapping[str, Field],
) -> TotalRow | None:
    """The last of ``rows`` if it is a hand-typed total, else None.

    ``rows`` holds, per record row in order, the row number, its raw values by field and
    every cell value of the row (a label may sit in a column the table does not read).
    """
    if len(rows) < 2:
        return None
    r, last, cells = rows[-1]
    label = _label(cells)
    if label is None:
        return None
    wrong: list[tuple[str, float, float]] = []
    checked = 0
    for name, raw in last.items():
        field = fields[name]
        if raw is None or field.unit != "£000":
            continue
        typed, problem = field.coerce(raw)
        if problem or not isinstance(typed, (int, float)):
            continue
        total = 0.0
        for _r, values, _cells in rows[:-1]:
            value, bad = field.coerce(values.get(name))
            if not bad and isinstance(value, (int, float)):
                total += value
        checked += 1
        if not math.isclose(typed, total, rel_tol=_RELATIVE, abs_tol=_TOLERANCE):
            wrong.append((name, float(typed), total))
    if not checked:
        return None
    return TotalRow(r, label, wrong)


def drop_total(
    entries: Entries, last: Sequence[Any], table: Table, title: str, letters: Mapping[str, str]
) -> tuple[Entries, Note | None, Problem | None]:
    """``entries`` without a hand-typed total row at the end, and a note saying so; or, for
    a row labelled as a total whose values are not the column sums, a problem (the row is
    still left out: it is no record). ``last`` holds every cell value of the last row."""
    fields = {f.name: f for f in table.fields}
    found = total_row(
        [(r, raw, last if i == len(entries) - 1 else []) for i, (r, raw, _p) in enumerate(entries)],
        fields,
    )
    if found is None:
        return entries, None, None
    label = readable(found.label)
    if not found.wrong:
        note = Note(
            f"{title}: row {found.row} ('{label}') is a total of the rows above and was ignored",
            f"{title}!row {found.row}",
        )
        return entries[:-1], note, None
    name, typed, total = found.wrong[0]
    problem = Problem(
        f"{title}!{letters[name]}{found.row}",
        f"row {found.row} is labelled '{label}' but its {name} {typed:,.2f} is not the sum of "
        f"the rows above ({total:,.2f}): delete the total row (cipmodel adds up the rows "
        "itself)",
    )
    return entries[:-1], None, problem
