"""The row machinery of the Summary sheet: one column per trust, and "All trusts".

:class:`SummaryRows` writes the Summary sheet a row at a time: a label in column A, then a
value or formula per trust, and for a portfolio an "All trusts" column (B) that sums the
trusts or applies the trust formula to the totals. A row of formulas is described by a
*per-trust* function ``(trust index, trust column letter, row) -> formula or None``; the
methods :meth:`~SummaryRows.month_sum`, :meth:`~SummaryRows.monthly_at`,
:meth:`~SummaryRows.same` and :meth:`~SummaryRows.quarter_at` make the usual ones, addressing
the data sheets' columns through their layouts (never by typed letters).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from openpyxl.styles import Alignment
from openpyxl.utils import get_column_letter

from cipmodel.calendar import MONTHS_PER_YEAR
from cipmodel.io.cells import MONEY_FORMAT
from cipmodel.io.printing import wrapped_lines
from cipmodel.io.results_base import (
    INDENT,
    INTEGER,
    MONTHLY,
    SECTION,
    SECTION_FILL,
    Builder,
    Expected,
    expected,
)

__all__ = [
    "ALL_TRUSTS_COL",
    "LABEL_WIDTH",
    "LINE",
    "NOTE_CHARS",
    "VALUE_WIDTH",
    "PerTrust",
    "SummaryRows",
]

#: A row's formula for one trust: ``(trust index, its column letter, row) -> text or None``
#: (None leaves the cell blank; text not starting with ``=`` is written as text). For the
#: "All trusts" column the index is -1 and the column is ``"B"``.
PerTrust = Callable[[int, str, int], str | None]
#: The "All trusts" column of a portfolio's Summary.
ALL_TRUSTS_COL = 2
#: Characters a note wraps at across columns A and B; points per line of text.
NOTE_CHARS, LINE = 62, 15.0
#: Printed heights (points) of the title row and of a section heading (larger type).
TITLE_HEIGHT, SECTION_HEIGHT = 19.0, 16.5
#: Widths (characters) of the label column (A) and of each trust's column.
LABEL_WIDTH, VALUE_WIDTH = 58, 14
_WRAP = Alignment(wrap_text=True, vertical="top")


class SummaryRows:
    """The Summary sheet being written, a row at a time (``row`` is the next free row)."""

    def __init__(self, b: Builder, ws: Any) -> None:
        self.b = b
        self.ws = ws
        self.r = b.r
        self.plan = b.plan
        self.n_t = b.n_t
        self.first_col = 3 if b.multi else 2  # column of the first trust
        self.cols = [get_column_letter(self.first_col + i) for i in range(self.n_t)]
        self.grid = b.grid(ws)
        self._indent = b.styles.id(alignment=INDENT)
        self.sections: list[int] = []
        #: rows of a heading within a section (a list's), where a page may break too
        self.subheads: list[int] = []
        #: rows taller than one line (wrapped text), points
        self.heights: dict[int, float] = {}
        self.row = 1
        #: rows the charts read, by name (see :func:`cipmodel.io.charts.write_charts`)
        self.rows: dict[str, int] = {}

    # -- row writers --------------------------------------------------------------
    def label(self, text: str, *, indent: bool = False) -> int:
        """A row with only its label; returns the row."""
        r = self.row
        self.grid.text(r, 1, text, self._indent if indent else 0)
        self.row += 1
        return r

    def subheading(self, text: str) -> int:
        """A row with only its label, heading a list within a section (a page may break
        before it); returns the row."""
        r = self.label(text)
        self.subheads.append(r)
        return r

    def note(self, text: str) -> int:
        """A row of text wrapped across columns A and B (merged), as tall as it needs."""
        r = self.row
        self.grid.text(r, 1, text, self.b.styles.id(alignment=_WRAP))
        self.ws.merged_cells.add(f"A{r}:B{r}")
        self.wrap_height(r, [text], NOTE_CHARS)
        self.row += 1
        return r

    def wrap_height(self, r: int, texts: Sequence[str], per_line: int) -> None:
        """Make row ``r`` tall enough for the longest of ``texts`` wrapped at ``per_line``
        characters (with room for wider fonts than Calibri)."""
        lines = max((wrapped_lines(t, per_line) for t in texts), default=1)
        if lines > 1:
            self.heights[r] = LINE * lines
            self.ws.row_dimensions[r].height = LINE * lines

    def section(self, text: str) -> None:
        """A blank row, then a section heading across the sheet."""
        self.row += 1
        r = self.row
        styles = self.b.styles
        fill = styles.id(fill=SECTION_FILL)
        for j in range(2, self.first_col + self.n_t):
            self.grid.blank(r, j, fill)
        self.grid.text(r, 1, text, styles.id(fill=SECTION_FILL, font=SECTION))
        #: first row of each section, for page breaks
        self.sections.append(r)
        self.row += 1

    def printed_heights(self) -> dict[int, float]:
        """The rows taller than :data:`LINE` as they print: the title, the section headings
        and the wrapped rows, points."""
        return {1: TITLE_HEIGHT, **{r: SECTION_HEIGHT for r in self.sections}, **self.heights}

    def trust_range(self, r: int) -> str:
        return f"{self.cols[0]}{r}:{self.cols[-1]}{r}"

    def formulas(
        self,
        label: str,
        per_trust: PerTrust,
        values: Sequence[Any],
        fmt: str,
        *,
        kind: str = "money",
        total: str | None = "sum",
        total_expected: Any = None,
        indent: bool = False,
    ) -> int:
        """One row of formulas: ``per_trust(i, column, row)`` gives the formula or None;
        ``values`` are the engine's values, per trust. Returns the row.

        ``total``: ``"sum"`` (SUM across trusts), ``"same"`` (the trust formula applied to
        the All-trusts column), ``"count_yes"`` or None.
        """
        r = self.label(label, indent=indent)
        for i, c in enumerate(self.cols):
            text = per_trust(i, c, r)
            if text is None:
                continue
            if text.startswith("="):
                exp = expected(values[i], kind)
                self.b.formula(self.ws, r, self.first_col + i, text, exp, fmt)
            else:
                self.b.text(self.ws, r, self.first_col + i, text)
        if self.b.multi and total is not None:
            if total == "sum":
                vals = [float(x) for x in values if not isinstance(x, str)]
                text = f"=SUM({self.trust_range(r)})"
                exp_total = expected(np.nansum(vals) if vals else 0.0, kind)
            elif total == "same":
                text = per_trust(-1, get_column_letter(ALL_TRUSTS_COL), r)
                exp_total = expected(total_expected, kind)
            elif total == "count_yes":
                text = f'=COUNTIF({self.trust_range(r)},"yes")'
                exp_total = Expected(float(total_expected), "count")
            else:  # pragma: no cover
                raise ValueError(total)
            assert text is not None
            total_fmt = INTEGER if total == "count_yes" else fmt
            self.b.formula(self.ws, r, ALL_TRUSTS_COL, text, exp_total, total_fmt)
        return r

    def values(
        self,
        label: str,
        vals: Sequence[Any],
        fmt: str | None = MONEY_FORMAT,
        *,
        total: bool = True,
        indent: bool = False,
    ) -> int:
        """One row of values (text as text; None and NaN blank), summed across trusts for a
        portfolio when ``total``. Returns the row."""
        r = self.label(label, indent=indent)
        for i, v in enumerate(vals):
            if isinstance(v, str):
                self.b.text(self.ws, r, self.first_col + i, v)
            elif v is not None and not (isinstance(v, float) and not np.isfinite(v)):
                self.b.value(self.ws, r, self.first_col + i, v, fmt)
        if self.b.multi and total:
            nums = [
                float(v)
                for v in vals
                if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
            ]
            self.b.formula(
                self.ws,
                r,
                ALL_TRUSTS_COL,
                f"=SUM({self.trust_range(r)})",
                expected(np.nansum(nums) if nums else 0.0),
                fmt or MONEY_FORMAT,
            )
        return r

    # -- per-trust formulas ---------------------------------------------------------
    def same(self, template: str, *, need_ct: bool = False) -> PerTrust:
        """The same formula in each trust's column: ``template`` with ``{c}`` for the column.
        With ``need_ct``, blank for a trust without a year-1 control total."""
        has_ct = self.b.has_ct

        def fn(i: int, c: str, row: int) -> str | None:
            if need_ct and i >= 0 and not has_ct[i, 0]:
                return None
            return template.format(c=c)

        return fn

    def month_sum(self, key: str, y: int = 0) -> PerTrust:
        """``=SUM(Monthly!E2:E13)``: a Monthly column over plan year ``y + 1`` (blank for a
        trust whose plan is shorter)."""
        monthly, mrow, horizon = self.b.layout(MONTHLY), self.b.month_row, self.plan.horizon
        last = MONTHS_PER_YEAR - 1

        def fn(i: int, c: str, row: int) -> str | None:
            if y >= int(horizon[i]):
                return None
            return f"=SUM({monthly.span(key, mrow[(i, y, 0)], mrow[(i, y, last)])})"

        return fn

    def monthly_at(
        self, key: str, y: int, m: int, *, when: Sequence[bool] | None = None
    ) -> PerTrust:
        """``=Monthly!N14``: a Monthly column at month ``m`` of plan year ``y + 1``; blank
        for trust ``i`` unless ``when[i]`` (when given)."""
        monthly, mrow = self.b.layout(MONTHLY), self.b.month_row

        def fn(i: int, c: str, row: int) -> str | None:
            if when is not None and not when[i]:
                return None
            return f"={monthly.ref(key, mrow[(i, y, m)])}"

        return fn

    def quarter_at(
        self, title: str, key: str, rows: Mapping[tuple[int, int], int], q: int
    ) -> PerTrust:
        """``='STF by quarter'!K5``: column ``key`` of sheet ``title`` in the row of quarter
        ``q`` (``rows[(trust, quarter)]``, as the STF and Metrics writers record them)."""
        layout = self.b.layout(title)

        def fn(i: int, c: str, row: int) -> str | None:
            return f"={layout.ref(key, rows[(i, q)])}"

        return fn

    def ct_live(self, y: int = 0) -> list[bool]:
        """Per trust: whether plan year ``y + 1`` is in its plan and has a control total."""
        return [
            y < int(self.plan.horizon[i]) and bool(self.b.has_ct[i, y]) for i in range(self.n_t)
        ]
