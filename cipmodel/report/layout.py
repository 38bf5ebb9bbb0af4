"""Page layout of the board report: an A4 landscape page with a header, a footer and tables.

A :class:`Page` is a matplotlib :class:`~matplotlib.figure.Figure` (no pyplot, so no global
state) measured in inches from its top-left corner, which is how a page is designed:
``page.text(x, y, ...)``, ``page.axes(x, y, w, h)`` and ``page.table(x, y, columns, rows)``
place things at a distance from the top and the left edge. The header names the trust (or
portfolio), the report and the date; the footer carries the cipmodel version, the short
input hash, the simulation seed and "page X of Y" on every page.

matplotlib is imported when a page is made, never when this module is imported.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "AMBER",
    "BLUE",
    "DARK",
    "GREEN",
    "GREY",
    "LIGHT",
    "MARGIN",
    "BODY_TOP",
    "BODY_BOTTOM",
    "PAGE_HEIGHT",
    "PAGE_WIDTH",
    "RED",
    "SCORE_COLOURS",
    "YELLOW",
    "Column",
    "Frame",
    "Page",
    "Row",
    "row_height",
    "wrap",
]

#: A4 landscape [inches].
PAGE_WIDTH = 11.69
PAGE_HEIGHT = 8.27
#: Left and right margin [inches].
MARGIN = 0.55
#: The body of a page: below the header, above the footer [inches from the top].
BODY_TOP = 1.05
BODY_BOTTOM = 7.7

#: NHS identity colours (blue, dark blue, green, warm yellow, orange, red) and greys.
BLUE = "#005EB8"
DARK = "#003087"
GREEN = "#009639"
AMBER = "#ED8B00"
YELLOW = "#FFB81C"
RED = "#DA291C"
GREY = "#425563"
LIGHT = "#E8EDEE"
#: Fill of score 1 (best) to 4 (worst).
SCORE_COLOURS = {1: GREEN, 2: YELLOW, 3: AMBER, 4: RED}

Align = Literal["left", "right", "center"]


def row_height(size: float) -> float:
    """The height of a table row in text of ``size`` points [inches]."""
    return size * 1.72 / 72


def wrap(text: str, width: int) -> list[str]:
    """``text`` broken into lines of at most ``width`` characters (at least one line)."""
    return textwrap.wrap(text, width=width, break_long_words=False) or [""]


@dataclass(frozen=True)
class Frame:
    """What every page of one report shows in its header and footer.

    ``title`` is the trust (or portfolio) name; ``subtitle`` what the report is (the
    financial year, "plan run" and the date); ``footer`` the provenance line (version,
    short input hash, seed).
    """

    title: str
    subtitle: str
    footer: str


@dataclass(frozen=True)
class Column:
    """One column of a table: its heading (``\n`` breaks it), width [inches] and alignment."""

    title: str
    width: float
    align: Align = "right"


@dataclass(frozen=True)
class Row:
    """One row of a table.

    ``kind`` is ``"row"`` (plain), ``"section"`` (a heading spanning the table, shaded),
    ``"total"`` (bold, a rule above) or ``"note"`` (small grey text spanning the table).
    ``colours`` maps a column index to a text colour; ``fills`` a column index to a cell
    fill (the text then turns white).
    """

    cells: Sequence[str]
    kind: Literal["row", "section", "total", "note"] = "row"
    colours: dict[int, str] = field(default_factory=dict)
    fills: dict[int, str] = field(default_factory=dict)
    indent: bool = False


class Page:
    """One A4 landscape page: header, footer and a body placed in inches from the top-left."""

    def __init__(self, frame: Frame, number: int, total: int, heading: str) -> None:
        from matplotlib.figure import Figure

        self.fig: Any = Figure(figsize=(PAGE_WIDTH, PAGE_HEIGHT))
        self.frame = frame
        self._header(heading)
        self._footer(number, total)

    # -- coordinates ----------------------------------------------------------------
    @staticmethod
    def fx(x: float) -> float:
        """Inches from the left edge -> figure fraction."""
        return x / PAGE_WIDTH

    @staticmethod
    def fy(y: float) -> float:
        """Inches from the top edge -> figure fraction."""
        return 1.0 - y / PAGE_HEIGHT

    # -- drawing --------------------------------------------------------------------
    def text(self, x: float, y: float, s: str, **kw: Any) -> Any:
        """Text with its top-left corner (by default) ``x``, ``y`` inches from the top-left."""
        kw.setdefault("va", "top")
        kw.setdefault("ha", "left")
        kw.setdefault("fontsize", 9)
        kw.setdefault("color", "black")
        return self.fig.text(self.fx(x), self.fy(y), s, **kw)

    def paragraph(
        self, x: float, y: float, text: str, width: int, *, size: float = 9, **kw: Any
    ) -> float:
        """Wrapped text (``width`` characters a line); returns the y below it [inches]."""
        lines = wrap(text, width)
        self.text(x, y, "\n".join(lines), fontsize=size, linespacing=1.35, **kw)
        return y + len(lines) * size * 1.35 / 72 + 0.06

    def rule(self, x: float, y: float, w: float, *, colour: str = GREY, lw: float = 0.6) -> None:
        """A horizontal line ``w`` inches long."""
        from matplotlib.lines import Line2D

        self.fig.add_artist(
            Line2D(
                [self.fx(x), self.fx(x + w)],
                [self.fy(y), self.fy(y)],
                color=colour,
                lw=lw,
                transform=self.fig.transFigure,
            )
        )

    def box(self, x: float, y: float, w: float, h: float, colour: str, **kw: Any) -> None:
        """A filled rectangle with its top-left corner at ``x``, ``y``."""
        from matplotlib.patches import Rectangle

        self.fig.add_artist(
            Rectangle(
                (self.fx(x), self.fy(y + h)),
                w / PAGE_WIDTH,
                h / PAGE_HEIGHT,
                transform=self.fig.transFigure,
                facecolor=colour,
                edgecolor="none",
                **kw,
            )
        )

    def axes(self, x: float, y: float, w: float, h: float) -> Any:
        """Axes whose plotting area has its top-left corner at ``x``, ``y`` [inches]."""
        return self.fig.add_axes((self.fx(x), self.fy(y + h), w / PAGE_WIDTH, h / PAGE_HEIGHT))

    def heading(self, x: float, y: float, s: str, *, size: float = 11) -> float:
        """A section heading in dark blue; returns the y below it."""
        self.text(x, y, s, fontsize=size, fontweight="bold", color=DARK)
        return y + size * 1.5 / 72

    def table(
        self,
        x: float,
        y: float,
        columns: Sequence[Column],
        rows: Sequence[Row],
        *,
        size: float = 8.5,
        header: bool = True,
    ) -> float:
        """A table with its top-left corner at ``x``, ``y``; returns the y below it [inches].

        Numbers align right (``Column.align``); a header row in bold sits on a rule.
        """
        width = sum(c.width for c in columns)
        height = row_height(size)
        if header:
            lines = max(c.title.count("\n") + 1 for c in columns)
            head = height + (lines - 1) * size * 1.2 / 72
            self._cells(x, y, head, columns, [c.title for c in columns], size, bold=True)
            y += head
            self.rule(x, y, width, colour=DARK, lw=0.8)
        for row in rows:
            y = self._row(x, y, height, width, columns, row, size)
        return y

    # -- internals ------------------------------------------------------------------
    def _row(
        self,
        x: float,
        y: float,
        height: float,
        width: float,
        columns: Sequence[Column],
        row: Row,
        size: float,
    ) -> float:
        if row.kind == "note":
            lines = wrap(row.cells[0], int(width * 72 / (size * 0.5)))
            self.text(x, y + 0.04, "\n".join(lines), fontsize=size - 1, color=GREY)
            return y + len(lines) * (size - 1) * 1.3 / 72 + 0.08
        if row.kind == "section":
            self.box(x, y + 0.02, width, height - 0.02, LIGHT)
            self.text(
                x + 0.05,
                y + height / 2 + 0.01,
                row.cells[0],
                fontsize=size,
                fontweight="bold",
                color=DARK,
                va="center",
            )
            return y + height
        if row.kind == "total":
            self.rule(x, y, width, colour=GREY, lw=0.6)
        for j, colour in row.fills.items():
            left = x + sum(c.width for c in columns[:j])
            self.box(left + 0.04, y + 0.03, columns[j].width - 0.08, height - 0.06, colour)
        colours = dict(row.colours)
        colours.update({j: "black" if f == YELLOW else "white" for j, f in row.fills.items()})
        self._cells(
            x,
            y,
            height,
            columns,
            list(row.cells),
            size,
            bold=row.kind == "total",
            colours=colours,
            indent=row.indent,
        )
        return y + height

    def _cells(
        self,
        x: float,
        y: float,
        height: float,
        columns: Sequence[Column],
        cells: Sequence[str],
        size: float,
        *,
        bold: bool = False,
        colours: dict[int, str] | None = None,
        indent: bool = False,
    ) -> None:
        left = x
        for j, (col, cell) in enumerate(zip(columns, cells, strict=False)):
            pad = 0.06
            if col.align == "right":
                cx = left + col.width - pad
            elif col.align == "center":
                cx = left + col.width / 2
            else:
                cx = left + pad + (0.15 if indent and j == 0 else 0.0)
            self.text(
                cx,
                y + height / 2 + 0.01,
                cell,
                fontsize=size,
                ha=col.align,
                va="center",
                fontweight="bold" if bold else "normal",
                color=(colours or {}).get(j, "black"),
            )
            left += col.width

    def _header(self, heading: str) -> None:
        self.box(0, 0, PAGE_WIDTH, 0.12, BLUE)
        title, size = self.frame.title, 15.0
        if len(title) > 48:  # a long name: smaller, and cut to leave room for the subtitle
            size = 12.0
            title = title if len(title) <= 60 else title[:59].rstrip() + "…"
        self.text(MARGIN, 0.3, title, fontsize=size, fontweight="bold", color=DARK)
        self.text(
            PAGE_WIDTH - MARGIN, 0.33, self.frame.subtitle, fontsize=9, color=GREY, ha="right"
        )
        self.text(MARGIN, 0.62, heading, fontsize=11, color=BLUE, fontweight="bold")
        self.text(
            PAGE_WIDTH - MARGIN,
            0.64,
            "£000 · surplus positive, deficit (in brackets) · percentages of operating expenditure",
            fontsize=7.5,
            color=GREY,
            ha="right",
        )
        self.rule(MARGIN, 0.88, PAGE_WIDTH - 2 * MARGIN, colour=BLUE, lw=1.0)

    def _footer(self, number: int, total: int) -> None:
        y = PAGE_HEIGHT - 0.32
        self.rule(MARGIN, y - 0.1, PAGE_WIDTH - 2 * MARGIN, colour=LIGHT, lw=0.8)
        self.text(MARGIN, y, self.frame.footer, fontsize=7, color=GREY)
        self.text(
            PAGE_WIDTH - MARGIN,
            y,
            f"page {number} of {total}",
            fontsize=7.5,
            color=GREY,
            ha="right",
        )
