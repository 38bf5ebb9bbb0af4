"""The sheets a one-trust results workbook holds, in order: what the workbook tests expect
(written out here once, not read from the code they test)."""

from __future__ import annotations

#: Result sheets of a one-trust run, first in the workbook; an Input notes sheet follows
#: them when the plan has notes, then the user's own sheets.
RESULT_SHEETS = [
    "Board summary",
    "Summary",
    "Plan years",
    "Monthly",
    "STF by quarter",
    "Metrics",
    "Schemes",
    "Lines",
    "Provenance",
]
