"""The pages of a board report on a portfolio of several trusts.

One summary page per trust would run to hundreds of pages for the sector, so a portfolio
gets, whatever its size: a portfolio summary (counts by trust type from
:func:`~cipmodel.results.sector.sector_tables`), the largest variances against the control
total, a page of charts and, simulated, P(meet the control total) across the trusts.
Trust-level numbers are read from the ``run --json`` (and ``simulate --json``) contracts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, cast

import numpy as np

from cipmodel.formatting import TYPE_LABELS, amount, money, pct
from cipmodel.report import plots
from cipmodel.report.layout import (
    BLUE,
    BODY_BOTTOM,
    BODY_TOP,
    DARK,
    GREEN,
    GREY,
    LIGHT,
    MARGIN,
    PAGE_WIDTH,
    RED,
    SCORE_COLOURS,
    Column,
    Page,
    Row,
    row_height,
)
from cipmodel.results import headlines
from cipmodel.results.run import RunResult
from cipmodel.results.sector import sector_tables

__all__ = ["TYPE_LABELS", "portfolio_headline", "portfolio_specs", "variance_rows"]


Draw = Callable[[Page], None]
#: A portfolio this small also gets its variances as a chart (the table leaves room).
SMALL_PORTFOLIO = 12


def portfolio_specs(result: RunResult, sim: dict[str, Any] | None) -> list[tuple[str, Draw]]:
    """The pages of a portfolio report: (heading, draw) in order, at most four.

    ``sim`` is the ``simulate --json`` document of a simulation of the same plan, or None.
    """
    run = cast(dict[str, Any], result.to_dict())
    tables = sector_tables(result)
    pages: list[tuple[str, Draw]] = [
        ("Portfolio summary", lambda p: _summary(p, result, run, sim, tables)),
        ("Largest variances against the control total", lambda p: _variances(p, run, sim)),
        ("Charts: score, segment, CIP needed and STF/PSF", lambda p: _charts(p, result, tables)),
    ]
    if sim is not None:
        pages.append(
            (
                "Simulation: P(meet the control total) across the trusts",
                lambda p: _simulated(p, run, sim),
            )
        )
    return pages


# -- summary --------------------------------------------------------------------------------
def portfolio_headline(result: RunResult, sim: dict[str, Any] | None = None) -> str:
    """The portfolio in one sentence, word for word the results workbook's portfolio Board
    summary (:func:`cipmodel.results.headlines.portfolio_headline`): the trusts meeting their
    control total before STF/PSF, the totals, STF/PSF and the finance trigger; simulated, the
    trusts expected to meet it."""
    years = ", ".join(sorted({t.financial_year for t in result.portfolio.trusts}))
    p_meet = None
    if sim is not None:
        by_code = {
            str(t.get("code")): (t.get("probability") or {}).get("meet_control_total")
            for t in sim.get("trusts", [])
        }
        p_meet = [
            float(p) if isinstance(p, (int, float)) else None
            for p in (by_code.get(f.code) for f in result.figures)
        ]
    return headlines.portfolio_headline(result.figures, years, p_meet)


def _summary_tiles(run: dict[str, Any], sim: dict[str, Any] | None) -> list[tuple[str, str, str]]:
    """The portfolio's key numbers: (label, value, detail)."""
    trusts = run["trusts"]
    n = len(trusts)
    met = sum(1 for t in trusts if t["control_total"]["met"])
    variance = sum(t["control_total"]["variance"] or 0.0 for t in trusts)
    allocation = sum(t["funding"]["allocation"] or 0.0 for t in trusts)
    earned = sum(t["funding"]["earned"] or 0.0 for t in trusts)
    lost = sum(t["funding"]["lost"] or 0.0 for t in trusts)
    deficit = sum(1 for t in trusts if (t["reported_surplus"] or 0.0) < 0)
    trigger = sum(1 for t in trusts if t["finance_trigger"])
    needed = sum(1 for t in trusts if (t["cip"]["needed_pct"] or 0.0) > 0.04)
    out = [
        ("Meeting the control total", f"{met} of {n}", f"total variance {money(variance)}"),
        ("STF/PSF earned", money(earned), f"of {money(allocation)}; lost {money(lost)}"),
        ("Deficit after STF/PSF", f"{deficit}", "trusts (reported position)"),
        ("Finance trigger", f"{trigger}", "trusts scoring 3 or 4"),
        ("CIP needed above 4%", f"{needed}", "trusts: high or very high risk"),
    ]
    if sim is not None:
        p = [t["probability"]["meet_control_total"] or 0.0 for t in sim["trusts"]]
        draws = int(sim["provenance"].get("draws", 0))
        out.append(
            (
                "Expected to meet it",
                f"{sum(p):,.0f} of {len(p)}",
                f"{draws:,} draws, seed {sim['provenance'].get('seed')}",
            )
        )
    return out


def _tiles(page: Page, y: float, items: list[tuple[str, str, str]]) -> float:
    """A row of tiles across the page; returns the y below them."""
    gap = 0.15
    width = (PAGE_WIDTH - 2 * MARGIN - gap * (len(items) - 1)) / len(items)
    for k, (label, value, detail) in enumerate(items):
        x = MARGIN + k * (width + gap)
        page.box(x, y, width, 0.8, LIGHT)
        page.text(x + 0.12, y + 0.08, label, fontsize=8, color=GREY)
        page.text(x + 0.12, y + 0.25, value, fontsize=15, color=DARK, fontweight="bold")
        page.text(x + 0.12, y + 0.58, detail, fontsize=7, color=GREY)
    return y + 0.8


def _summary(
    page: Page,
    result: RunResult,
    run: dict[str, Any],
    sim: dict[str, Any] | None,
    tables: dict[str, Any],
) -> None:
    y = page.paragraph(
        MARGIN,
        BODY_TOP,
        portfolio_headline(result, sim),
        105,
        size=12,
        fontweight="bold",
        color=DARK,
    )
    y = _tiles(page, y + 0.05, _summary_tiles(run, sim))
    y = page.heading(MARGIN, y + 0.25, "Control totals, I&E and STF/PSF by trust type (£000)")
    cols, rows = _finance_table(tables)
    y = page.table(MARGIN, y + 0.02, cols, rows, size=8.5)
    y = page.heading(
        MARGIN,
        y + 0.3,
        "Finance and use of resources score and candidate segment (count of trusts)",
    )
    cols, rows = _score_table(tables)
    y = page.table(MARGIN, y + 0.02, cols, rows, size=8.5)
    page.paragraph(
        MARGIN,
        y + 0.1,
        "Candidate segment: finance theme only; segmentation is the regulator's judgement. "
        f"Funding rules {result.assessment.rules['funding']}, score rules "
        f"{result.assessment.rules['sof']}; STF/PSF forfeited by one trust is not shared "
        "with the others (no bonus) in this report.",
        170,
        size=8,
        color=GREY,
    )


def _finance_table(tables: dict[str, Any]) -> tuple[list[Column], list[Row]]:
    fin, fund = tables["finance"], tables["funding"]
    cols = [
        Column("Trust type", 1.45, "left"),
        Column("Trusts", 0.7),
        Column("Meeting the\ncontrol total", 1.05),
        Column("Control total\nnot accepted", 1.05),
        Column("Deficit after\nSTF/PSF", 1.0),
        Column("Pre-STF\nsurplus", 1.1),
        Column("Reported\nsurplus", 1.1),
        Column("CIP\nplanned", 1.0),
        Column("STF/PSF\nearned", 1.0),
        Column("STF/PSF\nlost", 1.0),
    ]
    rows = []
    for kind in fin.index:
        f, g = fin.loc[kind], fund.loc[kind]
        rows.append(
            Row(
                [
                    TYPE_LABELS.get(str(kind), str(kind)),
                    amount(float(f.trusts)),
                    amount(float(f.meeting_control_total)),
                    amount(float(f.control_total_not_accepted)),
                    amount(float(f.in_deficit_after_stf)),
                    amount(float(f.surplus_pre_stf)),
                    amount(float(f.reported_surplus)),
                    amount(float(f.cip_planned)),
                    amount(float(g.stf_earned)),
                    amount(float(g.stf_forfeited)),
                ],
                kind="total" if kind == "all trusts" else "row",
            )
        )
    return cols, rows


def _score_table(tables: dict[str, Any]) -> tuple[list[Column], list[Row]]:
    score, seg = tables["score"], tables["segment"]
    cols = [Column("Trust type", 1.45, "left")]
    cols += [Column(f"Score\n{k}", 0.7) for k in range(1, 5)]
    cols += [Column("Finance\ntrigger", 1.05)]
    cols += [Column(f"Segment\n{k}", 0.8) for k in range(1, 5)]
    rows = []
    for kind in score.index:
        s, g = score.loc[kind], seg.loc[kind]
        rows.append(
            Row(
                [
                    TYPE_LABELS.get(str(kind), str(kind)),
                    *(amount(float(s[f"score_{k}"])) for k in range(1, 5)),
                    amount(float(s.finance_trigger)),
                    *(amount(float(g[f"segment_{k}"])) for k in range(1, 5)),
                ],
                kind="total" if kind == "all trusts" else "row",
            )
        )
    return cols, rows


# -- largest variances ------------------------------------------------------------------
VARIANCE_COLUMNS = [
    Column("Trust", 2.35, "left"),
    Column("Type", 0.95, "left"),
    Column("Control total", 1.0),
    Column("Forecast", 0.95),
    Column("Variance", 0.9),
    Column("CIP\nplanned", 0.7),
    Column("CIP\nneeded", 0.8),
    Column("Band", 0.95, "left"),
    Column("STF lost", 0.75),
    Column("Score", 0.55, "center"),
]


def variance_rows(run: dict[str, Any], sim: dict[str, Any] | None, *, rows: int) -> list[Row]:
    """The trusts furthest behind their control total, then those furthest ahead, in at most
    ``rows`` rows (two of them section headings); every trust if they all fit."""
    p_meet = (
        {t["code"]: t["probability"]["meet_control_total"] for t in sim["trusts"]}
        if sim is not None
        else None
    )
    trusts = [t for t in run["trusts"] if t["control_total"]["variance"] is not None]
    trusts.sort(key=lambda t: (t["control_total"]["variance"], t["code"]))
    behind = [t for t in trusts if t["control_total"]["variance"] < -0.5]
    ahead = [t for t in reversed(trusts) if t["control_total"]["variance"] >= -0.5]
    room = max(rows - 2, 2)
    n_ahead = min(len(ahead), max(5, room - len(behind)))
    n_behind = min(len(behind), room - n_ahead)
    n_ahead = min(len(ahead), room - n_behind)
    out: list[Row] = []
    if n_behind:
        out.append(
            Row(
                [f"Furthest behind the control total ({n_behind} of {len(behind)} behind)"],
                kind="section",
            )
        )
        out += [_variance_row(t, p_meet) for t in behind[:n_behind]]
    if n_ahead:
        out.append(
            Row(
                [f"Furthest ahead of the control total ({n_ahead} of {len(ahead)} meeting it)"],
                kind="section",
            )
        )
        out += [_variance_row(t, p_meet) for t in ahead[:n_ahead]]
    return out


def _variance_row(t: dict[str, Any], p_meet: dict[str, Any] | None) -> Row:
    ct, cip = t["control_total"], t["cip"]
    name = f"{t['code']} {t['name']}"
    if len(name) > 38:
        name = name[:37].rstrip() + "…"
    score = t["score"]["overall"]
    cells = [
        name,
        TYPE_LABELS.get(t["trust_type"], t["trust_type"]),
        amount(ct["target"]),
        amount(ct["forecast"]),
        amount(ct["variance"]),
        pct(cip["planned_pct"]),
        pct(cip["needed_pct"]),
        cip["needed_band"],
        amount(t["funding"]["lost"]),
        str(score),
    ]
    if p_meet is not None:
        cells.append(pct(p_meet.get(t["code"])))
    return Row(
        cells,
        colours={4: RED if (ct["variance"] or 0.0) < -0.5 else GREEN},
        fills={9: SCORE_COLOURS.get(int(score), GREY)},
    )


def _variances(page: Page, run: dict[str, Any], sim: dict[str, Any] | None) -> None:
    cols = list(VARIANCE_COLUMNS)
    if sim is not None:
        cols.append(Column("P(meet)", 0.65))
    n = len(run["trusts"])
    fit = int((BODY_BOTTOM - BODY_TOP - 0.55) / row_height(8.5)) - 1
    rows = variance_rows(run, sim, rows=fit)
    page.text(
        MARGIN,
        BODY_TOP,
        f"Pre-STF variance against the control total, plan year 1, £000; {n} trusts in all. "
        "CIP as % of operating expenditure; score: finance and use of resources (1 best, 4 worst).",
        fontsize=8.5,
        color=GREY,
    )
    y = page.table(MARGIN, BODY_TOP + 0.3, cols, rows, size=8.5)
    if n <= SMALL_PORTFOLIO:  # the table leaves room: the variances as a chart too
        _title(page, MARGIN, y + 0.35, "Variance against the control total by trust (£000)")
        height = min(0.3 * n + 0.3, BODY_BOTTOM - y - 1.25)
        ax = page.axes(MARGIN + 2.6, y + 0.75, 6.5, height)
        _variance_bars(run, ax)


def _variance_bars(run: dict[str, Any], ax: Any) -> None:
    """Horizontal bars: each trust's pre-STF variance, largest shortfall at the top."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    trusts = [t for t in run["trusts"] if t["control_total"]["variance"] is not None]
    trusts.sort(key=lambda t: (t["control_total"]["variance"], t["code"]))
    values = np.array([t["control_total"]["variance"] for t in trusts], dtype=float)
    y = np.arange(len(trusts))[::-1]
    bars = ax.barh(y, values, color=np.where(values < -0.5, RED, GREEN), height=0.6)
    ax.bar_label(bars, labels=[amount(v) for v in values], fontsize=7.5, padding=3)
    labels = [f"{t['code']} {t['name']}" for t in trusts]
    ax.set_yticks(y, [x if len(x) <= 34 else x[:33] + "…" for x in labels])
    ax.axvline(0, color="k", lw=0.8)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: money(v)))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    span = max(float(np.abs(values).max()) if len(values) else 1.0, 1.0)
    ax.set_xlim(
        min(float(values.min()), 0.0) - 0.2 * span, max(float(values.max()), 0.0) + 0.2 * span
    )
    ax.tick_params(axis="both", labelsize=7.5)


# -- charts -------------------------------------------------------------------------------
def _charts(page: Page, result: RunResult, tables: dict[str, Any]) -> None:
    top, low = BODY_TOP, BODY_TOP + 3.3
    left, right = MARGIN + 0.6, MARGIN + 5.9

    _title(page, MARGIN, top, "Finance and use of resources score by trust type")
    ax = page.axes(left, top + 0.55, 4.5, 2.2)
    plots.score_counts(tables["score"], ax=ax)
    ax.legend(fontsize=7, ncol=4, loc="lower left", bbox_to_anchor=(0.0, 1.0), borderaxespad=0.1)
    _type_ticks(ax)

    _title(page, MARGIN + 5.3, top, "Candidate segment (finance theme only) by trust type")
    ax = page.axes(right, top + 0.55, 4.6, 2.2)
    plots.score_counts(tables["segment"], ax=ax, prefix="segment_")
    ax.legend(fontsize=7, ncol=4, loc="lower left", bbox_to_anchor=(0.0, 1.0), borderaxespad=0.1)
    _type_ticks(ax)

    _title(page, MARGIN, low, "Trusts by the CIP their control total needs (evidence band)")
    ax = page.axes(left, low + 0.45, 4.5, 2.3)
    _band_counts(result, ax)

    _title(page, MARGIN + 5.3, low, "STF/PSF earned and lost by trust type (£000)")
    ax = page.axes(right + 0.5, low + 0.45, 4.1, 2.3)
    _funding_by_type(tables["funding"], ax)


def _title(page: Page, x: float, y: float, title: str) -> None:
    page.text(x, y, title, fontsize=10.5, fontweight="bold", color=DARK)


def _type_ticks(ax: Any) -> None:
    labels = [TYPE_LABELS.get(t.get_text(), t.get_text()) for t in ax.get_xticklabels()]
    ax.set_xticks(ax.get_xticks(), labels)
    ax.tick_params(axis="x", labelrotation=0, labelsize=7.5)


def _band_counts(result: RunResult, ax: Any) -> None:
    from cipmodel.regime.bands import load_bands

    labels = ["met without CIP", *load_bands().texts("labels")]
    counts = dict.fromkeys(labels, 0)
    for t in result.figures:
        key = "met without CIP" if t.cip.met_without_cip else t.cip.band
        counts[key] = counts.get(key, 0) + 1
    colours = [BLUE, GREEN, "#FFB81C", "#ED8B00", RED]
    names = list(counts)
    values = [counts[k] for k in names]
    bars = ax.bar(np.arange(len(names)), values, color=(colours * 2)[: len(names)])
    ax.bar_label(bars, labels=[amount(float(v)) for v in values], fontsize=8, padding=2)
    ax.set_xticks(np.arange(len(names)), names)
    ax.tick_params(axis="x", labelsize=7.5)
    ax.set_ylabel("trusts")
    ax.set_ylim(0, max([*values, 1]) * 1.18)


def _funding_by_type(funding: Any, ax: Any) -> None:
    rows = [r for r in funding.index if r != "all trusts"]
    y = np.arange(len(rows))[::-1]
    earned = funding.loc[rows, "stf_earned"].to_numpy(dtype=float)
    lost = funding.loc[rows, "stf_forfeited"].to_numpy(dtype=float)
    ax.barh(y, earned, color=GREEN, label="earned")
    ax.barh(y, lost, left=earned, color=RED, label="lost")
    ax.set_yticks(y, [TYPE_LABELS.get(str(r), str(r)) for r in rows])
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: money(v)))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
    for yi, e, lo in zip(y, earned, lost, strict=True):
        total = e + lo
        share = e / total if total > 0 else math.nan
        ax.annotate(
            f"{pct(share, 0)} earned",
            (total, yi),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=7.5,
        )
    ax.set_xlim(0, max(float((earned + lost).max()), 1.0) * 1.22)
    ax.legend(fontsize=7, ncol=2, loc="lower left", bbox_to_anchor=(0.0, 1.0), borderaxespad=0.1)


# -- simulation -----------------------------------------------------------------------------
def _simulated(page: Page, run: dict[str, Any], sim: dict[str, Any]) -> None:
    trusts = sim["trusts"]
    p = np.array([t["probability"]["meet_control_total"] or 0.0 for t in trusts])
    lost = sum(t["funding_expected"]["year"]["lost"] or 0.0 for t in trusts)
    p34 = sum(
        (t["probability"]["score"]["overall"]["3"] or 0.0)
        + (t["probability"]["score"]["overall"]["4"] or 0.0)
        for t in trusts
    )
    met = sum(1 for t in run["trusts"] if t["control_total"]["met"])
    items = [
        ("Average P(meet)", pct(float(p.mean())), "the control total, across the trusts"),
        ("Expected to meet it", f"{p.sum():,.0f} of {len(p)}", f"plan run: {met}"),
        ("P(meet) under 50%", f"{int((p < 0.5).sum()):,}", "trusts"),
        ("Expected STF/PSF lost", money(lost), "mean over the draws"),
        ("Expected scoring 3 or 4", f"{p34:,.0f}", "trusts (finance trigger)"),
    ]
    _tiles(page, BODY_TOP, items)

    top = BODY_TOP + 1.05
    _title(page, MARGIN, top, "Trusts by their probability of meeting the control total")
    ax = page.axes(MARGIN + 0.6, top + 0.4, 4.2, 1.85)
    bins = np.linspace(0, 1, 11)
    counts, _, bars = ax.hist(p, bins=bins, color=BLUE, edgecolor="white")
    ax.bar_label(bars, labels=[f"{int(c)}" if c else "" for c in counts], fontsize=7.5, padding=2)
    ax.set_xticks(bins, [pct(b, 0) for b in bins])
    ax.tick_params(axis="x", labelsize=7)
    ax.set_xlabel("P(meet the pre-STF control total)")
    ax.set_ylabel("trusts")
    ax.yaxis.set_major_locator(_integer_locator())
    ax.set_ylim(0, max(float(counts.max()), 1.0) * 1.18)

    _title(page, MARGIN, top + 2.75, "Average P(meet the control total) by trust type")
    ax = page.axes(MARGIN + 1.2, top + 3.15, 3.6, 1.55)
    _p_by_type(run, p, ax)

    by_code = {t["code"]: t for t in run["trusts"]}
    order = sorted(trusts, key=lambda t: (t["probability"]["meet_control_total"] or 0.0, t["code"]))
    fit = int((BODY_BOTTOM - top - 0.75) / row_height(8.5)) - 1
    cols = [
        Column("Least likely to meet\nthe control total", 2.7, "left"),
        Column("P(meet)", 0.75),
        Column("Plan\nvariance", 0.95),
        Column("P50 pre-STF\nposition", 1.0),
    ]
    rows = []
    for t in order[:fit]:
        name = f"{t['code']} {by_code[t['code']]['name']}"
        rows.append(
            Row(
                [
                    name if len(name) <= 40 else name[:39] + "…",
                    pct(t["probability"]["meet_control_total"]),
                    amount(t["control_total"]["variance"]),
                    amount(t["percentiles"]["surplus_pre_stf"]["p50"]),
                ]
            )
        )
    page.table(MARGIN + 5.2, top + 0.3, cols, rows, size=8.5)


def _p_by_type(run: dict[str, Any], p: Any, ax: Any) -> None:
    """Horizontal bars: the mean P(meet) of each trust type (count of trusts on the label)."""
    types = [t["trust_type"] for t in run["trusts"]]
    order = [k for k in TYPE_LABELS if k in set(types)]
    means = [
        float(np.mean([q for q, k in zip(p, types, strict=True) if k == kind])) for kind in order
    ]
    counts = [types.count(kind) for kind in order]
    y = np.arange(len(order))[::-1]
    bars = ax.barh(y, means, color=BLUE, height=0.6)
    ax.bar_label(bars, labels=[pct(m) for m in means], fontsize=7.5, padding=2)
    ax.set_yticks(y, [f"{TYPE_LABELS[k]} ({c})" for k, c in zip(order, counts, strict=True)])
    ax.set_xlim(0, 1.0)
    ax.xaxis.set_major_formatter(_pct_formatter())
    ax.tick_params(axis="both", labelsize=7.5)


def _pct_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: pct(v, 0))


def _integer_locator() -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)
