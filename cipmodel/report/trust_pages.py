"""The pages of a one-trust board report: summary, charts, and STF/PSF and the score.

Each ``*_page`` function draws on a :class:`~cipmodel.report.layout.Page` (header and footer
already drawn). What the pages say is in :mod:`cipmodel.report.summary` (page 1) and here
(pages 2 and 3); the charts are :mod:`cipmodel.report.plots`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from cipmodel.calendar import QUARTERS
from cipmodel.formatting import money, pct
from cipmodel.report import plots
from cipmodel.report.layout import (
    BLUE,
    BODY_BOTTOM,
    BODY_TOP,
    DARK,
    GREEN,
    GREY,
    MARGIN,
    RED,
    SCORE_COLOURS,
    Column,
    Page,
    Row,
    row_height,
)
from cipmodel.report.summary import (
    KEY_COLUMNS,
    RISK_COLUMNS,
    TrustView,
    amount,
    headline,
    key_figure_rows,
    quarter_table,
    risk_table,
    supporting_sentences,
    year_label,
    year_table,
)
from cipmodel.results.figures import MetricResult

if TYPE_CHECKING:
    from cipmodel.results.run import RunResult

__all__ = [
    "METRIC_LABELS",
    "OVERRIDE_LABELS",
    "charts_page",
    "format_metric",
    "regime_page",
    "summary_page",
]

#: Left edge of the right-hand column on the summary page [inches].
RIGHT = MARGIN + 6.0

#: Each SOF metric as the report names it.
METRIC_LABELS = {
    "capital_service_capacity": "Capital service capacity",
    "liquidity_days": "Liquidity",
    "ie_margin": "I&E margin",
    "distance_from_plan": "Distance from financial plan",
    "agency_vs_ceiling": "Agency spend against ceiling",
}
#: What each override of the sof-2016 pack does, in words.
OVERRIDE_LABELS = {
    "O1": "a metric scores 4, so the overall score is no better than 3",
    "O2": "control total not accepted and a deficit planned: no better than 3",
    "O3": "control total not accepted and a surplus planned: no better than 2",
    "O4": "in financial special measures: overall score 4",
}


def format_metric(name: str, value: float | None) -> str:
    """A metric value as the report shows it: times, days or a percentage (n/a if none)."""
    if value is None or not math.isfinite(value):
        return "n/a"
    if name == "capital_service_capacity":
        return f"{value:.2f}x"
    if name == "liquidity_days":
        return f"({abs(value):.1f}) days" if value < 0 else f"{value:.1f} days"
    return pct(value)


# -- page 1 -------------------------------------------------------------------------------
def summary_page(page: Page, v: TrustView) -> None:
    """Headline, key figures, the plan years side by side (a plan of several years) or the
    year to date by quarter (one year: a longer plan has it on the STF/PSF and score page),
    and the largest risks."""
    y = _headline(page, v)
    top = y + 0.15
    page.heading(MARGIN, top, "Key figures")
    page.table(MARGIN, top + 0.25, KEY_COLUMNS, key_figure_rows(v), size=8.5)

    if len(v.t["years"]) > 1:
        y = page.heading(RIGHT, top, "Plan years side by side") + 0.02
        cols, rows = year_table(v)
    else:
        y = page.heading(RIGHT, top, "Year to date at each quarter end") + 0.02
        cols, rows = quarter_table(v)
    y = page.table(RIGHT, y, cols, rows, size=8.5) + 0.14
    y = page.heading(RIGHT, y, "Largest risks in the CIP (in year, £000)") + 0.02
    # as many schemes as fit above the footer (a header row, unidentified CIP and a note)
    fit = int((BODY_BOTTOM - y - 0.3) / row_height(8.5)) - 2
    page.table(RIGHT, y, RISK_COLUMNS, risk_table(v, top=max(1, min(7, fit))), size=8.5)


def _headline(page: Page, v: TrustView) -> float:
    """The status box, the headline sentence and the sentences behind it; returns the y below."""
    met = v.t["control_total"]["met"]
    colour = GREY if met is None else (GREEN if met else RED)
    status = "NO CONTROL TOTAL" if met is None else ("MEETS" if met else "MISSES")
    page.box(MARGIN, BODY_TOP, 1.15, 0.5, colour)
    page.text(
        MARGIN + 0.575,
        BODY_TOP + 0.25,
        f"{status}\ncontrol total",
        ha="center",
        va="center",
        color="white",
        fontsize=9,
        fontweight="bold",
        linespacing=1.2,
    )
    x = MARGIN + 1.35
    y = page.paragraph(x, BODY_TOP - 0.02, headline(v), 95, size=12, fontweight="bold", color=DARK)
    y = max(y, BODY_TOP + 0.5) + 0.05
    for sentence in supporting_sentences(v):
        y = page.paragraph(x, y, sentence, 146, size=9)
    return y


# -- page 2 -------------------------------------------------------------------------------
def charts_page(page: Page, v: TrustView, result: RunResult) -> None:
    """Year to date against the control total, STF/PSF by quarter, the CIP pipeline and phasing."""
    code = v.t["code"]
    left, right = MARGIN + 0.75, MARGIN + 6.05
    top, low = BODY_TOP, BODY_TOP + 3.3

    _chart_title(
        page,
        MARGIN,
        top,
        "Year to date against the control total, pre- and post-STF",
        _ytd_caption(v),
    )
    ax = page.axes(left, top + 0.72, 4.45, 1.45)
    plots.ytd_vs_control_total(result, code, ax=ax)
    ax.set_title("")
    ax.set_xticklabels([])
    # five entries in three columns, kept inside the chart's column (the STF/PSF chart is
    # to its right)
    ax.legend(
        fontsize=6.8,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncol=3,
        borderaxespad=0.1,
        columnspacing=0.9,
        handlelength=1.6,
        handletextpad=0.4,
    )
    ax2 = page.axes(left, top + 2.24, 4.45, 0.56)
    plots.ytd_variance(result, code, ax=ax2)
    ax2.set_title("")
    ax2.set_ylabel("variance")
    ax2.yaxis.set_major_locator(_locator(3))

    f = v.t["funding"]
    _chart_title(page, MARGIN + 5.3, top, f"STF/PSF by quarter ({f['rules']})", _funding_caption(v))
    ax = page.axes(right, top + 0.72, 4.35, 2.08)
    plots.funding_by_quarter(result, code, ax=ax)
    ax.set_title("")
    ax.legend(fontsize=7, ncol=2, loc="lower left", bbox_to_anchor=(0.0, 1.0), borderaxespad=0.1)

    _chart_title(page, MARGIN, low, "CIP pipeline by stage and RAG (in year)", _pipeline_caption(v))
    ax = page.axes(left, low + 0.72, 4.45, 2.08)
    plots.cip_pipeline(result, code, ax=ax)
    ax.set_title("")
    ax.tick_params(axis="x", labelsize=7.5)
    ax.legend(fontsize=7, ncol=5, loc="lower left", bbox_to_anchor=(0.0, 1.0), borderaxespad=0.1)

    _chart_title(page, MARGIN + 5.3, low, "CIP by month (in year)", _phasing_caption(v))
    ax = page.axes(right, low + 0.72, 4.35, 2.08)
    plots.cip_by_month(result, code, ax=ax)
    ax.set_title("")
    ax.legend(fontsize=7, ncol=2, loc="lower left", bbox_to_anchor=(0.0, 1.0), borderaxespad=0.1)


def _locator(n: int) -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=n)


def _chart_title(page: Page, x: float, y: float, title: str, caption: str) -> None:
    page.text(x, y, title, fontsize=10.5, fontweight="bold", color=DARK)
    page.paragraph(x, y + 0.22, caption, 80, size=8.5, color=GREY)


def _ytd_caption(v: TrustView) -> str:
    q = v.t["control_total"]["quarters"]
    behind = [k.upper() for k in QUARTERS if (q[k] or 0.0) < -0.5]
    year = money(v.t["control_total"]["variance"])
    ct = v.t["control_total"]
    post = (
        f"; post-STF {money(ct['forecast_post_stf'])} vs {money(ct['target_post_stf'])}."
        if ct.get("target_post_stf") is not None
        else "."
    )
    if not behind:
        return f"Ahead pre-STF at every quarter end ({year} at year end){post}"
    when = "every quarter end" if len(behind) == len(QUARTERS) else ", ".join(behind)
    return f"Behind pre-STF at {when} ({year} at year end){post}"


def _funding_caption(v: TrustView) -> str:
    f = v.t["funding"]
    quarters = f["quarters"]
    lost = [k for k in QUARTERS if (quarters[k]["lost"] or 0) >= 0.5]
    text = f"Earned {money(f['earned'])} of the {money(f['allocation'])} allocation"
    if not lost:
        return f"{text}; nothing lost."
    where = ", ".join(f"{k.upper()} {money(quarters[k]['lost'])}" for k in lost)
    if money(f["lost"]) == "0":  # withheld in a quarter, returned at year end
        return f"{text}; withheld in {where}, released at year end (catch-up): none lost."
    if len(lost) == len(QUARTERS):
        return f"{text}; lost {money(f['lost'])}, in every quarter."
    return f"{text}; lost {money(f['lost'])} ({where})."


def _pipeline_caption(v: TrustView) -> str:
    df = v.schemes
    total = float(df.in_year_y1.sum())
    if total <= 0:
        return "No CIP is planned in year."
    unidentified = float(df[df.stage == "unidentified"].in_year_y1.sum())
    red = float(df[(df.stage != "unidentified") & (df.rag == "red")].in_year_y1.sum())
    early = float(df[df.stage.isin(["idea", "plan"])].in_year_y1.sum())
    return (
        f"Of the {money(total)}: {pct(unidentified / total, 0)} unidentified, "
        f"{pct(early / total, 0)} at idea or plan stage, {pct(red / total, 0)} in red schemes."
    )


def _phasing_caption(v: TrustView) -> str:
    cip = v.monthly.cip.to_numpy(dtype=float)
    total = float(cip.sum())
    if total <= 0:
        return "No CIP is planned in year."
    h2 = float(cip[6:].sum()) / total
    return f"{pct(h2, 0)} of the in-year CIP falls in October to March (the second half)."


# -- page 3 -------------------------------------------------------------------------------
def regime_page(page: Page, v: TrustView) -> None:
    """STF/PSF by quarter and the five SOF metrics with their scores, first plan year."""
    fy1 = year_label(v.fy, 1)
    years = v.t["years"]
    note = f"STF/PSF and the oversight score of plan year 1 ({fy1}) in detail."
    if len(years) > 1:
        later = ", ".join(year_label(v.fy, y["year"]) for y in years[1:])
        note += (
            f" Later plan years ({later}): STF/PSF, score and CIP on page 2, the risk-adjusted"
            " and underlying view on page 3."
        )
    page.text(MARGIN, BODY_TOP, note, fontsize=8.5, color=GREY)

    y = page.heading(
        MARGIN, BODY_TOP + 0.3, f"STF/PSF by quarter, {fy1} ({v.t['funding']['rules']})"
    )
    cols, rows = _funding_rows(v)
    y = page.table(MARGIN, y + 0.02, cols, rows, size=8.5)
    _funding_notes(page, v, MARGIN + 6.25, BODY_TOP + 0.3)

    score_top = y + 0.3
    y = page.heading(
        MARGIN, score_top, f"Finance and use of resources score, {fy1} ({v.t['score']['rules']})"
    )
    cols, rows = _score_rows(v)
    y = page.table(MARGIN, y + 0.02, cols, rows, size=8.5)
    _score_notes(page, v, y + 0.3)
    _reading_notes(page, v, MARGIN + 7.4, score_top)


def _funding_rows(v: TrustView) -> tuple[list[Column], list[Row]]:
    f = v.t["funding"]
    fq = v.figures.funding.quarters
    cols = [Column("Year to date, £000", 2.3, "left")]
    cols += [Column(q.upper(), 0.68) for q in QUARTERS] + [Column("Year", 0.78)]
    qd = [f["quarters"][q] for q in QUARTERS]
    gate = ["met" if q["gate_met"] else "missed" for q in qd]
    rows = [
        Row(["Surplus/(deficit), pre-STF", *(amount(q.ytd_surplus_pre_stf) for q in fq), ""]),
        Row(["Control total, pre-STF", *(amount(q.ytd_control_total_pre_stf) for q in fq), ""]),
        Row(
            ["Finance gate (control total)", *gate, ""],
            colours={j + 1: GREEN if g == "met" else RED for j, g in enumerate(gate)},
        ),
        Row(["For the quarter, £000"], kind="section"),
        Row(
            [
                "Available",
                *(amount(q["available"]) for q in qd),
                amount(sum(q["available"] or 0 for q in qd)),
            ]
        ),
        Row(["Earned: finance element", *(amount(q.finance_earned) for q in fq), ""], indent=True),
        Row(
            ["Earned: performance element", *(amount(q.performance_earned) for q in fq), ""],
            indent=True,
        ),
        Row(
            [
                "Earned",
                *(amount(q["earned"]) for q in qd),
                amount(sum(q["earned"] or 0 for q in qd)),
            ],
            kind="total",
        ),
        Row(
            ["Lost", *(amount(q["lost"]) for q in qd), amount(sum(q["lost"] or 0 for q in qd))],
            colours={j + 1: RED for j, q in enumerate(qd) if (q["lost"] or 0) >= 0.5},
        ),
    ]
    return cols, rows


def _funding_notes(page: Page, v: TrustView, x: float, y: float) -> None:
    f = v.t["funding"]
    y = page.heading(x, y, "Year total")
    cols = [Column("", 2.65, "left"), Column("£000", 0.95)]
    rows = [
        Row(["Allocation", amount(f["allocation"])]),
        Row(
            [
                "Earned in the quarters",
                amount(sum(q["earned"] or 0 for q in f["quarters"].values())),
            ]
        ),
        Row(["Catch-up released at year end", amount(f["catch_up_released"])]),
        Row(["Incentive", amount(f["incentive"])]),
        Row(["Bonus (shared forfeits)", amount(f["bonus"])]),
        Row(["STF/PSF earned", amount(f["earned"])], kind="total"),
        Row(
            ["STF/PSF lost", amount(f["lost"])], colours={1: RED} if (f["lost"] or 0) >= 0.5 else {}
        ),
        Row(["Reported position (with STF/PSF)", amount(v.t["reported_surplus"])], kind="total"),
    ]
    page.table(x, y + 0.02, cols, rows, size=8.5, header=False)


def _score_rows(v: TrustView) -> tuple[list[Column], list[Row]]:
    periods = v.figures.periods
    cols = [Column("Metric", 2.3, "left")]
    for p in periods:
        label = p.period.replace(" YTD", "").upper() if p.period != "full year" else "Year"
        cols += [Column(f"{label} value", 0.78), Column("score", 0.42, "center")]
    rows = []
    for j, name in enumerate(METRIC_LABELS):
        cells = [METRIC_LABELS[name]]
        fills = {}
        for k, p in enumerate(periods):
            m: MetricResult = p.metrics[j]
            cells += [format_metric(name, m.value), "n/a" if m.score is None else str(m.score)]
            if m.score in SCORE_COLOURS:
                fills[2 + 2 * k] = SCORE_COLOURS[m.score]
        rows.append(Row(cells, fills=fills))
    cells = ["Overall (after overrides)"]
    fills = {}
    for k, p in enumerate(periods):
        cells += [f"mean {p.mean:.1f}", str(p.overall)]
        fills[2 + 2 * k] = SCORE_COLOURS.get(p.overall, GREY)
    rows.append(Row(cells, kind="total", fills=fills))
    return cols, rows


def _score_notes(page: Page, v: TrustView, y: float) -> None:
    """Notes under the score table: overrides, trigger, segment and unverified rule values."""
    t = v.t
    overrides = [str(o) for o in v.figures.score.overrides]
    lines = [f"Override {o}: {OVERRIDE_LABELS.get(o, 'applied')}." for o in overrides] or [
        "No override applied: the overall score is the mean of the metric scores, rounded."
    ]
    for name, reason in v.figures.score_not_applicable.items():
        lines.append(f"{METRIC_LABELS.get(name, name)} not applicable: {reason}.")
    trigger = "yes (score 3 or 4: potential support need)" if t["finance_trigger"] else "no"
    lines.append(f"Finance trigger: {trigger}.")
    lines.append(
        f"Candidate segment {t['candidate_segment']['segment']}, finance theme only: "
        "segmentation is the regulator's judgement."
    )
    lines.append(
        f"These results depend on {v.unverified} unverified rule values: see docs/rules.md "
        "(listed in the provenance of run --json)."
    )
    y = page.heading(MARGIN, y, "Notes", size=10)
    for line in lines:
        page.text(MARGIN + 0.05, y, "•", fontsize=8.5, color=BLUE)
        y = page.paragraph(MARGIN + 0.22, y, line, 170, size=8.5) - 0.02


def _reading_notes(page: Page, v: TrustView, x: float, y: float) -> None:
    """How to read the page: the gate, the two elements, what is lost, how the score works."""
    rules = v.t["funding"]["rules"]
    lines = [
        "Finance gate: a quarter's finance element is earned when the year-to-date pre-STF "
        "position meets the year-to-date control total.",
        f"Performance element: earned against the A&E trajectory ({rules}); other "
        "standards are not modelled.",
        "Lost: forfeited for good. Catch-up, where the rules allow it, returns withheld funding "
        "at year end if the year's control total is met.",
        "Score: each metric scores 1 (best) to 4 (worst); the overall score is their mean, "
        "rounded, then capped or set by any override.",
    ]
    y = page.heading(x, y, "Reading this page", size=10)
    for line in lines:
        page.text(x, y, "•", fontsize=8, color=BLUE)
        y = page.paragraph(x + 0.15, y, line, 50, size=8, color=GREY) + 0.02
