"""Plots for notebooks and reports (matplotlib; install with ``pip install cipmodel[plot]``).

Every function draws on an ``ax`` you pass (or a new figure), returns the ``Axes`` and
defines no model logic: it only reads results computed by the library. Money on the axes
is £000; rates are shown as percentages.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

import numpy as np

from cipmodel.calendar import MONTH_NAMES, QUARTER_END_INDEX
from cipmodel.engine.compile import STAGES
from cipmodel.formatting import amount, money

if TYPE_CHECKING:
    import pandas as pd

    from cipmodel.inputs.records import Portfolio
    from cipmodel.montecarlo.result import SimulationResult
    from cipmodel.montecarlo.solve import ProbabilitySolveResult
    from cipmodel.results.run import RunResult

#: A matplotlib ``Axes`` (matplotlib is optional and carries no type information here).
Axes = Any

__all__ = [
    "ytd_vs_control_total",
    "ytd_variance",
    "cip_by_category",
    "cip_pipeline",
    "cip_by_month",
    "bridge_waterfall",
    "plan_years",
    "funding_by_quarter",
    "score_counts",
    "fan_chart",
    "s_curve",
    "tornado",
    "input_label",
    "score_distribution",
    "probability_vs_cip",
]


def _plt() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        msg = "cipmodel.report.plots needs matplotlib: pip install 'cipmodel[plot]'"
        raise ImportError(msg) from exc
    return plt


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    _, ax = _plt().subplots(figsize=(8, 4.5))
    return ax


def _trust_index(result: RunResult, trust: str | None) -> int:
    codes = list(result.plan.codes)
    if trust is None:
        return 0
    if trust not in codes:
        raise KeyError(
            f"trust {trust!r} is not in this result (trusts: {', '.join(codes[:10])}...)"
        )
    return codes.index(trust)


def _thousands(ax: Axes, axis: str = "y") -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(FuncFormatter(lambda v, _: money(v)))
    target.set_major_locator(MaxNLocator(nbins=6))


def _label_above(ax: Axes, text: str, xy: tuple[Any, Any], fontsize: float) -> None:
    """A value label centred just above the point ``xy`` (a bar's top)."""
    ax.annotate(
        text,
        xy,
        xytext=(0, 2),
        textcoords="offset points",
        ha="center",
        va="bottom",
        fontsize=fontsize,
    )


MONTHS = MONTH_NAMES

#: Fill of each RAG rating (blue: delivered) and of unidentified CIP.
RAG_FILLS = {"blue": "#41B6E6", "green": "#009639", "amber": "#ED8B00", "red": "#DA291C"}
UNIDENTIFIED_FILL = "#768692"
#: How a delivery stage reads on an axis.
STAGE_NAMES = {"qia_approved": "QIA approved"}
#: Each SOF metric as a chart labels it.
METRIC_NAMES = {
    "capital_service_capacity": "Capital service capacity",
    "liquidity_days": "Liquidity",
    "ie_margin": "I&E margin",
    "distance_from_plan": "Distance from plan",
    "agency_vs_ceiling": "Agency against ceiling",
    "overall": "Overall score",
}


def ytd_vs_control_total(
    result: RunResult, trust: str | None = None, *, ax: Axes | None = None
) -> Axes:
    """Year-to-date pre-STF surplus against the control-total profile, first plan year, and
    at each quarter end the post-STF view: the control total plus the STF/PSF available to
    date against the reported surplus (pre-STF + STF/PSF earned to date; at Q4 the year's
    ``control_total.target_post_stf`` and ``reported_surplus``)."""
    ax = _axes(ax)
    i = _trust_index(result, trust)
    pr = result.projection
    ytd = pr.ytd(pr.surplus_pre_stf)[0, i, 0]
    ct = pr.control_total_ytd()[i, 0]
    x = np.arange(12)
    ax.plot(x, ct, "k--", label="control total (YTD, pre-STF)")
    ax.plot(x, ytd, color="#005EB8", marker="o", label="forecast (YTD, pre-STF)")
    ax.fill_between(x, ytd, ct, where=ytd < ct, color="#DA291C", alpha=0.2, label="behind plan")
    # post-STF at each quarter end: the control total plus the STF/PSF available to date, and
    # the reported surplus (pre-STF + STF/PSF earned to date; Q4 with catch-up and incentive)
    a = result.assessment
    q_end = np.asarray(QUARTER_END_INDEX)
    ct_post = ct[q_end] + np.cumsum(a.funding.available[0, i])
    ax.plot(q_end, ct_post, color="k", ls=":", marker="s", ms=4, label="control total (post-STF)")
    ax.plot(
        q_end,
        a.reported_surplus_ytd[0, i],
        color="#41B6E6",
        marker="D",
        ms=4,
        label="reported surplus (post-STF)",
    )
    for q in QUARTER_END_INDEX:
        ax.axvline(q, color="grey", lw=0.5, alpha=0.5)
    ax.set_xticks(x, MONTHS)
    ax.set_ylabel("£000")
    _thousands(ax)
    ax.set_title(f"{result.plan.codes[i]}: year to date against the control total")
    ax.legend(loc="best", fontsize=8)
    return ax


def ytd_variance(result: RunResult, trust: str | None = None, *, ax: Axes | None = None) -> Axes:
    """Year-to-date variance to the control total at each month end, first plan year (bars:
    green ahead, red behind)."""
    ax = _axes(ax)
    i = _trust_index(result, trust)
    pr = result.projection
    variance = pr.ytd(pr.surplus_pre_stf)[0, i, 0] - pr.control_total_ytd()[i, 0]
    x = np.arange(12)
    ax.bar(x, variance, color=np.where(variance >= 0, "#009639", "#DA291C"), width=0.7)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(x, MONTHS)
    ax.set_ylabel("£000")
    _thousands(ax)
    ax.set_title(f"{result.plan.codes[i]}: year-to-date variance to the control total")
    return ax


def cip_pipeline(result: RunResult, trust: str | None = None, *, ax: Axes | None = None) -> Axes:
    """In-year CIP by delivery stage, stacked by RAG rating, first plan year.

    Unidentified CIP (no scheme yet) is its own grey bar, whatever its rating, so it is never
    hidden inside a stage or a category. Each bar carries its total.
    """
    ax = _axes(ax)
    i = _trust_index(result, trust)
    df = result.schemes()
    df = df[df.trust_code == result.plan.codes[i]]
    stages = list(STAGES)
    x = np.arange(len(stages))
    unidentified = df[df.stage == "unidentified"].in_year_y1.sum()
    ax.bar(
        [0],
        [unidentified],
        color=UNIDENTIFIED_FILL,
        hatch="//",
        edgecolor="white",
        label="unidentified",
    )
    named = df[df.stage != "unidentified"]
    bottom = np.zeros(len(stages))
    for rag in RAG_FILLS:
        vals = np.array(
            [named[(named.stage == s) & (named.rag == rag)].in_year_y1.sum() for s in stages]
        )
        if vals.any():
            label = "blue (complete)" if rag == "blue" else rag
            ax.bar(x, vals, bottom=bottom, color=RAG_FILLS[rag], label=label)
        bottom += vals
    totals = bottom + np.where(np.array(stages) == "unidentified", unidentified, 0.0)
    for xi, total in zip(x, totals, strict=True):
        _label_above(ax, amount(total), (xi, total), 8)
    ax.set_xticks(x, [STAGE_NAMES.get(s, s) for s in stages])
    ax.set_ylabel("£000 in year")
    ax.set_ylim(0, max(float(totals.max()), 1.0) * 1.15)
    _thousands(ax)
    ax.set_title(f"{result.plan.codes[i]}: CIP pipeline by stage and RAG")
    ax.legend(fontsize=8, ncol=5, loc="upper right")
    return ax


def cip_by_month(result: RunResult, trust: str | None = None, *, ax: Axes | None = None) -> Axes:
    """In-year CIP by month, first plan year (bars; the second half shaded darker)."""
    ax = _axes(ax)
    i = _trust_index(result, trust)
    df = result.monthly()
    df = df[(df.trust_code == result.plan.codes[i]) & (df.year == 1)].sort_values("month")
    x = np.arange(len(df))
    cip = df.cip.to_numpy(dtype=float)
    first = x < 6
    ax.bar(x[first], cip[first], color="#41B6E6", width=0.7, label="April to September")
    ax.bar(x[~first], cip[~first], color="#005EB8", width=0.7, label="October to March")
    ax.set_xticks(x, MONTHS[: len(x)])
    ax.set_ylabel("£000")
    _thousands(ax)
    ax.set_title(f"{result.plan.codes[i]}: CIP by month")
    ax.legend(fontsize=8)
    return ax


def cip_by_category(result: RunResult, trust: str | None = None, *, ax: Axes | None = None) -> Axes:
    """In-year CIP by category and stage, first plan year (stacked bars)."""
    ax = _axes(ax)
    i = _trust_index(result, trust)
    df = result.schemes()
    df = df[df.trust_code == result.plan.codes[i]]
    table = df.pivot_table(
        index="category", columns="stage", values="in_year_y1", aggfunc="sum", fill_value=0.0
    )
    table = table.reindex(columns=[s for s in STAGES if s in table.columns])
    bottom = np.zeros(len(table))
    for stage in table.columns:
        ax.bar(table.index, table[stage], bottom=bottom, label=stage)
        bottom += table[stage].to_numpy()
    ax.set_ylabel("£000 in year")
    _thousands(ax)
    ax.set_title(f"{result.plan.codes[i]}: CIP by category and stage")
    ax.legend(fontsize=8, title="stage")
    return ax


def bridge_waterfall(
    result: RunResult, trust: str | None = None, *, ax: Axes | None = None
) -> Axes:
    """Waterfall from the prior-year forecast outturn to the plan year 1 pre-STF surplus
    (:func:`cipmodel.results.bridge.bridge`): the two levels as full bars, each step as a
    floating bar from the running total (green improves the surplus, red worsens it).

    Raises
    ------
    ValueError
        The trust has no Outturn rows, so there is no bridge.
    """
    from cipmodel.results.bridge import bridge

    i = _trust_index(result, trust)
    code = result.plan.codes[i]
    steps = bridge(result.portfolio, result.plan, result.projection, code)
    if steps is None:
        raise ValueError(f"trust {code} has no Outturn rows: there is no bridge to draw")
    ax = _axes(ax)
    running = 0.0
    tops, lows = [], []
    for k, s in enumerate(steps):
        if s.is_total:
            bottom, height, colour = 0.0, s.value, "#425563"
            running = s.value
        else:
            bottom, height = running, s.value
            colour = "#009639" if s.value >= 0 else "#DA291C"
            running += s.value
        ax.bar(k, height, bottom=bottom, color=colour, width=0.7)
        if k + 1 < len(steps):  # a connector at the running total to the next bar
            ax.plot([k + 0.35, k + 0.65], [running, running], color="#425563", lw=0.6)
        top = max(bottom, bottom + height)
        tops.append(top)
        lows.append(min(bottom, bottom + height))
        _label_above(ax, amount(s.value), (k, top), 7)
    ax.axhline(0.0, color="black", linewidth=0.6)
    low, high = min(0.0, *lows), max(0.0, *tops)
    span = max(high - low, 1.0)
    ax.set_ylim(low - 0.04 * span, high + 0.1 * span)
    ax.set_xticks(range(len(steps)))
    ax.set_xticklabels([textwrap.fill(s.label, 14) for s in steps], fontsize=6.5)
    ax.set_ylabel("£000, surplus / (deficit)")
    _thousands(ax)
    ax.set_title(f"{code}: bridge from prior-year outturn to plan year 1")
    return ax


def plan_years(result: RunResult, trust: str | None = None, *, ax: Axes | None = None) -> Axes:
    """Every plan year: the control total before and after STF/PSF against the forecast, the
    risk-adjusted forecast and the reported surplus (one group of bars per plan year).

    Pre-STF: the control total (hatched), the forecast as planned and risk-adjusted
    (``years[k].control_total.forecast_risk_adjusted``); post-STF: the control total plus the
    year's allocation (hatched) and the reported surplus (pre-STF + STF/PSF earned; none where
    the year is not assessed). Each bar carries its value, £000.
    """
    ax = _axes(ax)
    i = _trust_index(result, trust)
    t = result.figures[i]
    ra = t.views.risk_adjusted if t.views is not None else None
    series = [
        ("control total, pre-STF", [y.control_total_pre_stf for y in t.years], "white", "#003087"),
        ("forecast, pre-STF", [y.surplus_pre_stf for y in t.years], "#005EB8", None),
        (
            "forecast risk-adjusted, pre-STF",
            [r.forecast_risk_adjusted for r in ra] if ra else [np.nan] * len(t.years),
            "#ED8B00",
            None,
        ),
        (
            "control total, post-STF",
            [y.control_total_post_stf for y in t.years],
            "white",
            "#425563",
        ),
        ("reported surplus, post-STF", [y.reported_surplus for y in t.years], "#41B6E6", None),
    ]
    x = np.arange(len(t.years))
    width = 0.8 / len(series)
    for k, (label, values, fill, edge) in enumerate(series):
        vals = np.asarray(values, dtype=float)
        pos = x - 0.4 + width * (k + 0.5)
        ax.bar(
            pos,
            np.nan_to_num(vals),
            width=width * 0.92,
            color=fill,
            edgecolor=edge or fill,
            hatch="///" if edge else None,
            linewidth=0.8,
            label=label,
        )
        for xi, v in zip(pos, vals, strict=True):
            if np.isfinite(v):
                ax.annotate(
                    amount(v),
                    (xi, v),
                    xytext=(0, 2 if v >= 0 else -2),
                    textcoords="offset points",
                    ha="center",
                    va="bottom" if v >= 0 else "top",
                    fontsize=6.5,
                    rotation=90,
                )
    ax.axhline(0.0, color="black", lw=0.6)
    ax.set_xticks(x, [y.financial_year or f"year {y.year}" for y in t.years])
    ax.set_ylabel("£000, surplus / (deficit)")
    _thousands(ax)
    low, high = ax.get_ylim()
    span = high - low
    ax.set_ylim(low - 0.15 * span, high + 0.15 * span)
    ax.set_title(f"{t.code}: every plan year against the control total")
    ax.legend(fontsize=7, ncol=3, loc="upper left")
    return ax


def funding_by_quarter(
    result: RunResult, trust: str | None = None, *, ax: Axes | None = None
) -> Axes:
    """STF/PSF earned and lost in each quarter (stacked bars)."""
    ax = _axes(ax)
    i = _trust_index(result, trust)
    f = result.assessment.funding
    q = ["Q1", "Q2", "Q3", "Q4"]
    ax.bar(q, f.earned[0, i], color="#009639", label="earned")
    ax.bar(q, f.lost[0, i], bottom=f.earned[0, i], color="#DA291C", label="lost")
    top = f.earned[0, i] + f.lost[0, i]
    for x, (earned, height) in enumerate(zip(f.earned[0, i], top, strict=True)):
        _label_above(ax, f"{money(earned)} of {money(height)}", (x, height), 8)
    ax.set_ylim(0, max(float(top.max()), 1.0) * 1.15)
    ax.set_ylabel("£000")
    _thousands(ax)
    ax.set_title(
        f"{result.plan.codes[i]}: STF/PSF by quarter ({result.assessment.rules['funding']})"
    )
    ax.legend(fontsize=8)
    return ax


def score_counts(table: pd.DataFrame, *, ax: Axes | None = None, prefix: str = "score_") -> Axes:
    """Stacked bars of trusts at each score (or segment) by trust type.

    ``table`` is ``sector_tables(result)["score"]`` or ``["segment"]`` (with
    ``prefix="segment_"``).
    """
    ax = _axes(ax)
    rows = [r for r in table.index if r != "all trusts"]
    cols = [c for c in table.columns if str(c).startswith(prefix)]
    colours = ["#009639", "#FFB81C", "#ED8B00", "#DA291C"]
    bottom = np.zeros(len(rows))
    for col, colour in zip(cols, colours, strict=False):
        vals = table.loc[rows, col].to_numpy(dtype=float)
        ax.bar(
            rows,
            vals,
            bottom=bottom,
            color=colour,
            label=col.replace(prefix, prefix.rstrip("_") + " "),
        )
        bottom += vals
    ax.set_ylabel("trusts")
    ax.legend(fontsize=8)
    ax.tick_params(axis="x", labelrotation=20)
    return ax


# -- Monte Carlo --------------------------------------------------------------------------
def fan_chart(sim: SimulationResult, trust: str | None = None, *, ax: Axes | None = None) -> Axes:
    """Year-to-date pre-STF surplus: P5-P95 and P25-P75 bands, median, control total."""
    ax = _axes(ax)
    code = sim.codes[_trust_index(sim.run, trust)]
    df = sim.fan_chart()
    df = df[df.trust_code == code].sort_values("month")
    x = np.arange(len(df))
    ax.fill_between(x, df.p5, df.p95, color="#005EB8", alpha=0.15, label="P5-P95")
    ax.fill_between(x, df.p25, df.p75, color="#005EB8", alpha=0.3, label="P25-P75")
    ax.plot(x, df.p50, color="#005EB8", label="median")
    ax.plot(x, df.ytd_control_total, "k--", label="control total (YTD, pre-STF)")
    ax.set_xticks(x, MONTHS[: len(x)])
    ax.set_ylabel("£000")
    _thousands(ax)
    ax.set_title(f"{code}: year to date surplus, {sim.n_draws:,} draws")
    ax.legend(fontsize=8, loc="best")
    return ax


def s_curve(
    sim: SimulationResult,
    trust: str | None = None,
    *,
    output: str = "surplus_pre_stf",
    ax: Axes | None = None,
) -> Axes:
    """Cumulative distribution of a per-draw output (kept draws), with the control total."""
    ax = _axes(ax)
    i = _trust_index(sim.run, trust)
    code = sim.codes[i]
    df = sim.per_draw()
    values = np.sort(df.loc[df.trust_code == code, output].to_numpy(dtype=float))
    p = (np.arange(values.size) + 0.5) / max(values.size, 1)
    ax.plot(values, p, color="#005EB8")
    target = float(sim.run.plan.ct_target[i, 0])
    if output in ("surplus_pre_stf", "reported_surplus"):
        ax.axvline(target, color="k", ls="--", label=f"control total {target:,.0f}")
        ax.legend(fontsize=8)
    ax.set_xlabel(f"{output.replace('_', ' ')} (£000)")
    _thousands(ax, "x")
    ax.set_ylabel("probability of at most this")
    ax.set_title(f"{code}: distribution of {output.replace('_', ' ')}")
    return ax


def input_label(portfolio: Portfolio, trust: str, name: str, scheme_id: object = None) -> str:
    """An uncertain input as a reader knows it: a scheme's delivery by the scheme's name
    (``U01 Unidentified CIP: delivered``), anything else by its own name."""
    if isinstance(scheme_id, str):
        for scheme in portfolio.cip:
            if scheme.trust_code == trust and scheme.scheme_id == scheme_id:
                return f"{scheme_id} {scheme.name}: delivered"
    return name


def tornado(
    sim: SimulationResult, trust: str | None = None, *, top: int = 12, ax: Axes | None = None
) -> Axes:
    """What drives the surplus: rank correlation of each uncertain input (top ``top``)."""
    ax = _axes(ax)
    code = sim.codes[_trust_index(sim.run, trust)]
    df = sim.sensitivity()
    df = df[df.trust_code == code].copy()
    df = df.reindex(df.spearman.abs().sort_values(ascending=False).index).head(top)[::-1]
    colours = np.where(df.spearman >= 0, "#009639", "#DA291C")
    labels = [
        input_label(sim.run.portfolio, code, str(row.input), row.scheme_id)
        for row in df.itertuples()
    ]
    labels = [x if len(x) <= 44 else x[:43].rstrip() + "…" for x in labels]
    ax.barh(np.arange(len(df)), df.spearman, color=colours)
    ax.set_yticks(np.arange(len(df)), labels)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel("rank correlation with the pre-STF surplus")
    ax.set_title(f"{code}: what drives missing the control total")
    ax.tick_params(axis="y", labelsize=8)
    return ax


def score_distribution(
    sim: SimulationResult, trust: str | None = None, *, ax: Axes | None = None
) -> Axes:
    """P(score = 1..4) for each metric and overall (stacked horizontal bars)."""
    ax = _axes(ax)
    code = sim.codes[_trust_index(sim.run, trust)]
    df = sim.scores()
    df = df[
        (df.trust_code == code) & (df.period == "full year") & (df.metric != "candidate_segment")
    ]
    # read top to bottom: the overall score, then the metrics in their usual order
    is_overall = df.metric.to_numpy() == "overall"
    df = df.iloc[[*np.flatnonzero(~is_overall)[::-1], *np.flatnonzero(is_overall)]]
    colours = ["#009639", "#FFB81C", "#ED8B00", "#DA291C"]
    left = np.zeros(len(df))
    y = np.arange(len(df))
    for s, colour in zip((1, 2, 3, 4), colours, strict=True):
        vals = df[f"p_{s}"].to_numpy(dtype=float)
        ax.barh(y, vals, left=left, color=colour, label=f"score {s}")
        left += vals
    ax.set_yticks(y, [METRIC_NAMES.get(m, m) for m in df.metric])
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability")
    ax.set_title(f"{code}: finance and use of resources score, full year")
    ax.legend(fontsize=8, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    return ax


def probability_vs_cip(
    goal: ProbabilitySolveResult, trust: str | None = None, *, ax: Axes | None = None
) -> Axes:
    """P(meet the control total) against the CIP delivered (% of operating expenditure)."""
    ax = _axes(ax)
    codes = list(goal.codes) if hasattr(goal, "codes") else None
    i = 0 if trust is None or codes is None else codes.index(trust)
    df = goal.curve()
    code = df.trust_code.unique()[i]
    df = df[df.trust_code == code]
    ax.plot(100 * df.cip_pct, df.probability, color="#005EB8")
    planned = float(np.atleast_1d(goal.planned_pct)[i])
    needed = float(np.atleast_1d(goal.needed_pct)[i])
    ax.axvline(100 * planned, color="grey", ls=":", label=f"planned {100 * planned:.1f}%")
    ax.axvline(
        100 * needed,
        color="#DA291C",
        ls="--",
        label=f"needed for P = {goal.probability:.0%}: {100 * needed:.1f}%",
    )
    ax.axhline(goal.probability, color="#DA291C", lw=0.5)
    ax.set_xlabel("CIP delivered, % of operating expenditure (programme scaled)")
    ax.set_ylabel("P(meet control total)")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{code}: is the CIP achievable?")
    ax.legend(fontsize=8, loc="lower right")
    return ax
