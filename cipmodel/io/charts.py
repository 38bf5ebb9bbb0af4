"""The results workbook's native Excel charts, drawn from the Summary sheet's rows.

Three charts of plan year 1, for the one trust or the "All trusts" column: the year to date
against the control-total profile (line), CIP planned by category (columns) and STF/PSF
earned and lost by quarter (stacked columns). They sit on the Summary sheet below the
figures for one trust, on a ``Charts`` sheet for a portfolio, one under the other
(:data:`CHART_ROWS` rows apart): the three fit one A4 portrait page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from openpyxl.chart import BarChart, LineChart, Reference, Series
from openpyxl.drawing.text import CharacterProperties, ParagraphProperties

from cipmodel.calendar import MONTHS_PER_YEAR
from cipmodel.engine.project import CATEGORIES
from cipmodel.io.cells import BOLD, MONEY_FORMAT
from cipmodel.io.results_base import SUMMARY, Builder

__all__ = [
    "CHART_ROWS",
    "PIPELINE_FILLS",
    "pipeline_chart",
    "size_chart",
    "SCORE_CHART_FILLS",
    "WATERFALL_SERIES",
    "counts_chart",
    "waterfall_chart",
    "waterfall_parts",
    "write_charts",
    "ytd_chart",
]

#: Rows from one chart's top to the next (a chart is 6.6 cm tall; rows are 15 pt).
CHART_ROWS = 14
_VALUES_COL = 2  # on the Summary sheet: the trust (one trust) or "All trusts" column
_LABELS_COL = 1  # on the Summary sheet: the row labels


def _stacked_bar(kind: str, gap: int, title: str) -> BarChart:
    """An empty stacked bar chart: ``kind`` "col" (upright) or "bar" (across), bars
    ``gap`` % of a bar apart, with its title."""
    chart = BarChart()
    chart.type = kind
    chart.grouping = "stacked"
    chart.overlap = 100
    chart.gapWidth = gap
    chart.title = title
    return chart


def write_charts(b: Builder, ws: Any, rows: Mapping[str, int], first: int) -> list[int]:
    """Add the three charts to ``ws``, from row ``first`` down; return their first rows.

    ``rows`` are the Summary rows the charts read: ``ytd_surplus`` and ``ytd_ct`` (the first
    of twelve months), ``cip_category`` (the first category), ``stf_earned`` and
    ``stf_lost`` (the first of four quarters).
    """
    summary = b.wb[SUMMARY]
    who = "all trusts" if b.multi else b.plan.codes[0]
    if b.multi:
        b.text(
            ws, 1, 1, "Charts of the 'All trusts' column of the Summary sheet (plan year 1).", BOLD
        )
    tops = [first + k * CHART_ROWS for k in range(3)]
    anchors = [f"A{r}" for r in tops]
    charts = (
        _ytd_chart(summary, rows, who),
        _category_chart(summary, rows, who),
        _funding_chart(summary, rows, who),
    )
    for chart, anchor in zip(charts, anchors, strict=True):
        ws.add_chart(chart, anchor)
    return tops


def _column(summary: Any, first: int, n: int, col: int = _VALUES_COL) -> Reference:
    return Reference(summary, min_col=col, min_row=first, max_row=first + n - 1)


def ytd_chart(summary: Any, rows: Mapping[str, int], who: str) -> LineChart:
    """Year to date against the control total, by month, from the Summary's rows."""
    return _ytd_chart(summary, rows, who)


def _ytd_chart(summary: Any, rows: Mapping[str, int], who: str) -> LineChart:
    """Year to date against the control total, by month."""
    chart = LineChart()
    chart.title = f"Year to date against control total, {who} (£000)"
    chart.y_axis.title = "£000"
    chart.y_axis.number_format = MONEY_FORMAT
    s1, s2 = rows["ytd_surplus"], rows["ytd_ct"]
    for first, title in (
        (s1, "YTD surplus/(deficit) before STF/PSF"),
        (s2, "YTD control total"),
    ):
        ser = Series(_column(summary, first, MONTHS_PER_YEAR), title=title)
        ser.smooth = False
        chart.series.append(ser)
    chart.set_categories(_column(summary, s1, MONTHS_PER_YEAR, _LABELS_COL))
    chart.x_axis.tickLblPos = "low"  # month names below the plot, also for deficits
    chart.legend.position = "b"
    _size(chart)
    return chart


def _category_chart(summary: Any, rows: Mapping[str, int], who: str) -> BarChart:
    """CIP planned in year, by category."""
    chart = BarChart()
    chart.type = "col"
    chart.title = f"CIP planned by category, {who} (£000, in year)"
    chart.y_axis.number_format = MONEY_FORMAT
    c0, n = rows["cip_category"], len(CATEGORIES)
    chart.series.append(Series(_column(summary, c0, n), title="CIP planned"))
    chart.set_categories(_column(summary, c0, n, _LABELS_COL))
    chart.legend = None
    _size(chart)
    return chart


def _funding_chart(summary: Any, rows: Mapping[str, int], who: str) -> BarChart:
    """STF/PSF earned and lost, by quarter (stacked)."""
    chart = BarChart()
    chart.type = "col"
    chart.grouping = "stacked"
    chart.overlap = 100
    chart.title = f"STF/PSF by quarter, {who} (£000)"
    chart.y_axis.number_format = MONEY_FORMAT
    e0, l0 = rows["stf_earned"], rows["stf_lost"]
    chart.series.append(Series(_column(summary, e0, 4), title="earned"))
    chart.series.append(Series(_column(summary, l0, 4), title="lost"))
    chart.set_categories(_column(summary, e0, 4, _LABELS_COL))
    chart.legend.position = "b"
    _size(chart)
    return chart


def _title_size(chart: Any, points: int = 11) -> None:
    """Set the chart title in bold ``points`` type (the default, 18 pt, crowds the plot)."""
    for para in chart.title.tx.rich.p:
        para.pPr = ParagraphProperties(defRPr=CharacterProperties(sz=points * 100, b=True))
        for run in para.r or ():
            run.rPr = CharacterProperties(sz=points * 100, b=True)


def _size(chart: Any) -> None:
    _title_size(chart)
    chart.width = 13.4  # cm: within columns A and B of the Summary, on an A4 portrait page
    chart.height = 6.6
    # openpyxl 3.1 marks axes as deleted unless told otherwise; Excel then hides them
    chart.x_axis.delete = False
    chart.y_axis.delete = False


#: Fill of each RAG rating (blue: delivered) and of unidentified CIP, as the PDF report's.
PIPELINE_FILLS = {
    "blue": "41B6E6",
    "green": "009639",
    "amber": "ED8B00",
    "red": "DA291C",
    "unidentified": "768692",
}


def pipeline_chart(
    ws: Any, head: int, first_col: int, n_stages: int, series: Sequence[str], title: str
) -> BarChart:
    """The CIP pipeline: in-year CIP by delivery stage (categories), stacked by RAG rating
    (series), unidentified CIP its own series.

    The data is a block on ``ws``: row ``head`` holds the series names from column
    ``first_col + 1`` on, and the ``n_stages`` rows below it the stage in column
    ``first_col`` and the amounts; ``series`` names the columns' fills
    (:data:`PIPELINE_FILLS`).
    """
    chart = _stacked_bar("col", 60, title)
    chart.y_axis.number_format = MONEY_FORMAT
    chart.y_axis.title = "£000 in year"
    for j, key in enumerate(series, start=first_col + 1):
        data = Reference(ws, min_col=j, min_row=head, max_row=head + n_stages)
        ser = Series(data, title_from_data=True)
        ser.graphicalProperties.solidFill = PIPELINE_FILLS.get(key, "425563")
        ser.graphicalProperties.line.solidFill = PIPELINE_FILLS.get(key, "425563")
        chart.series.append(ser)
    labels = Reference(ws, min_col=first_col, min_row=head + 1, max_row=head + n_stages)
    chart.set_categories(labels)
    chart.legend.position = "b"
    return chart


#: The series of a waterfall's data block after its labels: an invisible base, then each
#: kind of bar's part above and below zero (Excel stacks positives up from zero and
#: negatives down from zero, each in series order).
WATERFALL_SERIES = (
    ("base", None),
    ("level", "005EB8"),
    ("level below 0", "005EB8"),
    ("rise", "009639"),
    ("rise below 0", "009639"),
    ("fall", "DA291C"),
    ("fall below 0", "DA291C"),
)


def waterfall_parts(steps: Sequence[tuple[str, float]]) -> list[dict[str, float]]:
    """Each step of a bridge as the stacked parts that draw it (:data:`WATERFALL_SERIES`).

    The first and last steps are levels (the outturn, the plan), drawn from zero; the others
    are movements from where the previous step ended, a rise or a fall. A bar from ``lo`` to
    ``hi`` is drawn as an invisible base of ``lo`` and a part of ``hi - lo`` when both are
    at or above zero, a base of ``hi`` and a part of ``lo - hi`` when both are at or below
    zero, and as a part above zero (``hi``) and one below (``lo``) when it crosses zero.
    """
    out: list[dict[str, float]] = []
    level = 0.0
    for k, (_label, value) in enumerate(steps):
        if k in (0, len(steps) - 1):
            kind, lo, hi = "level", min(0.0, value), max(0.0, value)
            level = value
        else:
            new = level + value
            kind, lo, hi = ("rise" if value >= 0 else "fall"), min(level, new), max(level, new)
            level = new
        parts = dict.fromkeys((name for name, _fill in WATERFALL_SERIES), 0.0)
        if lo >= 0:
            parts["base"], parts[kind] = lo, hi - lo
        elif hi <= 0:
            parts["base"], parts[f"{kind} below 0"] = hi, lo - hi
        else:
            parts[kind], parts[f"{kind} below 0"] = hi, lo
        out.append(parts)
    return out


def waterfall_chart(ws: Any, head: int, first_col: int, n_steps: int, title: str) -> BarChart:
    """A bridge as a waterfall: stacked columns whose first series (an invisible base)
    lifts or lowers each bar to where the previous step ended.

    The data is a block on ``ws``: row ``head`` holds the headers, and each of the
    ``n_steps`` rows below it the step's label (column ``first_col``) and its parts
    (:func:`waterfall_parts`, in the order of :data:`WATERFALL_SERIES`, from the next
    column on).
    """
    chart = _stacked_bar("col", 40, title)
    chart.y_axis.number_format = MONEY_FORMAT
    for k, (_name, fill) in enumerate(WATERFALL_SERIES, start=1):
        data = Reference(ws, min_col=first_col + k, min_row=head, max_row=head + n_steps)
        ser = Series(data, title_from_data=True)
        if fill is None:
            ser.graphicalProperties.noFill = True
            ser.graphicalProperties.line.noFill = True
        else:
            ser.graphicalProperties.solidFill = fill
        chart.series.append(ser)
    chart.set_categories(Reference(ws, min_col=first_col, min_row=head + 1, max_row=head + n_steps))
    chart.x_axis.tickLblPos = "low"
    chart.legend = None
    return chart


#: Fills of the finance and use of resources score 1 (best) to 4 (worst), and of the
#: candidate segments 1 to 4.
SCORE_CHART_FILLS = ("009639", "FFB81C", "ED8B00", "DA291C")


def counts_chart(
    ws: Any, head: int, rows: tuple[int, int], cols: Sequence[int], label_col: int, title: str
) -> BarChart:
    """Counts by category (a trust type a row, ``rows`` first to last), one stacked series
    a column of ``cols`` (its header in row ``head``), filled green to red
    (:data:`SCORE_CHART_FILLS`): trusts at each score, or in each segment, by trust type."""
    chart = _stacked_bar("bar", 50, title)
    first, last = rows
    for col, fill in zip(cols, SCORE_CHART_FILLS, strict=False):
        ser = Series(Reference(ws, min_col=col, min_row=head, max_row=last), title_from_data=True)
        ser.graphicalProperties.solidFill = fill
        ser.graphicalProperties.line.solidFill = fill
        chart.series.append(ser)
    chart.set_categories(Reference(ws, min_col=label_col, min_row=first, max_row=last))
    chart.x_axis.scaling.orientation = "maxMin"  # the first type at the top
    chart.y_axis.number_format = "0"
    chart.legend.position = "b"
    return chart


def size_chart(chart: Any, width: float, height: float, title_points: int = 10) -> None:
    """A chart ``width`` x ``height`` cm, its title in bold ``title_points`` type, its axes
    shown."""
    _title_size(chart, title_points)
    chart.width = width
    chart.height = height
    chart.x_axis.delete = False
    chart.y_axis.delete = False
