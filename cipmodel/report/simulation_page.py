"""The simulation page of a one-trust board report: how likely is the plan?

Key numbers in tiles (read from the ``simulate --json`` contract), then four charts of
:mod:`cipmodel.report.plots`: the fan chart of the year-to-date surplus, P(meet the control
total) against the CIP delivered (the probability solve of the same draws), the
distribution of the finance score and the tornado of what drives the surplus.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from cipmodel.formatting import money, pct
from cipmodel.report import plots
from cipmodel.report.layout import (
    BODY_TOP,
    DARK,
    GREEN,
    GREY,
    LIGHT,
    MARGIN,
    PAGE_WIDTH,
    RED,
    Page,
)
from cipmodel.report.summary import TrustView

if TYPE_CHECKING:
    from cipmodel.montecarlo.result import SimulationResult
    from cipmodel.montecarlo.solve import ProbabilitySolveResult

__all__ = ["simulation_page", "tiles"]


def tiles(v: TrustView) -> list[tuple[str, str, str, str]]:
    """The key simulated numbers: (label, value, detail, colour of the value)."""
    sim = v.sim or {}
    p, pc = sim["probability"], sim["percentiles"]
    t = v.t
    s = pc["surplus_pre_stf"]
    fe = sim["funding_expected"]["year"]
    score = p["score"]["overall"]
    p34 = (score["3"] or 0.0) + (score["4"] or 0.0)
    cip = pc["cip_delivered"]
    p_meet = v.p_meet
    return [
        (
            "P(meet the control total)",
            pct(p_meet),
            f"± {pct(1.96 * (p['meet_control_total_se'] or 0.0))}; plan run: "
            + ("met" if t["control_total"]["met"] else "missed"),
            GREEN if (p_meet or 0.0) >= 0.5 else RED,
        ),
        (
            "Median pre-STF position",
            money(s["p50"]),
            f"90%: {money(s['p5'])} to {money(s['p95'])}",
            DARK,
        ),
        (
            "STF/PSF expected earned",
            money(fe["earned"]),
            f"of {money(t['funding']['allocation'])}; expected lost {money(fe['lost'])}",
            DARK,
        ),
        (
            "CIP delivered (mean)",
            money(cip["mean"]),
            f"of {money(t['cip']['planned'])} planned; P5 {money(cip['p5'])}",
            DARK,
        ),
        (
            "P(finance score 3 or 4)",
            pct(p34),
            f"P(finance trigger) {pct(p['finance_trigger'])}",
            RED if p34 >= 0.5 else GREEN,
        ),
    ]


def _tiles(page: Page, v: TrustView) -> None:
    items = tiles(v)
    gap = 0.15
    width = (PAGE_WIDTH - 2 * MARGIN - gap * (len(items) - 1)) / len(items)
    for k, (label, value, detail, colour) in enumerate(items):
        x = MARGIN + k * (width + gap)
        page.box(x, BODY_TOP, width, 0.8, LIGHT)
        page.text(x + 0.12, BODY_TOP + 0.08, label, fontsize=8, color=GREY)
        page.text(x + 0.12, BODY_TOP + 0.24, value, fontsize=16, color=colour, fontweight="bold")
        page.text(x + 0.12, BODY_TOP + 0.58, detail, fontsize=7.2, color=GREY)


def simulation_page(
    page: Page,
    v: TrustView,
    simulation: SimulationResult,
    goal: ProbabilitySolveResult | None,
) -> None:
    """Tiles, then the fan chart, P(meet) against CIP, the score distribution and the tornado."""
    _tiles(page, v)
    code = v.t["code"]
    top, low = BODY_TOP + 0.95, BODY_TOP + 3.7
    left, right = MARGIN, MARGIN + 5.3

    _title(page, left, top, "Year to date surplus: the range of outcomes", _fan_caption(v))
    ax = page.axes(left + 0.75, top + 0.62, 4.3, 1.58)
    plots.fan_chart(simulation, code, ax=ax)
    ax.set_title("")
    ax.legend(fontsize=7, loc="best", ncol=2)

    if goal is not None:
        _title(page, right, top, "Is the CIP achievable?", _goal_caption(v, goal))
        ax = page.axes(right + 0.6, top + 0.62, 4.55, 1.58)
        plots.probability_vs_cip(goal, code, ax=ax)
        ax.set_xlabel("CIP delivered, % of operating expenditure (programme scaled)", fontsize=8)
    else:
        _title(page, right, top, "Distribution of the pre-STF position", "")
        ax = page.axes(right + 0.6, top + 0.62, 4.55, 1.58)
        plots.s_curve(simulation, code, ax=ax)
    ax.set_title("")
    ax.legend(fontsize=7, loc="lower right")

    _title(
        page, left, low, "Finance and use of resources score: how likely each", _score_caption(v)
    )
    ax = page.axes(left + 1.6, low + 0.72, 3.45, 1.5)
    plots.score_distribution(simulation, code, ax=ax)
    ax.set_title("")
    ax.legend(fontsize=7, ncol=4, loc="lower left", bbox_to_anchor=(0.0, 1.0), borderaxespad=0.2)

    _title(page, right, low, "What drives the surplus", _driver_caption(simulation, code))
    ax = page.axes(right + 2.45, low + 0.55, 2.7, 1.67)
    plots.tornado(simulation, code, top=8, ax=ax)
    ax.set_title("")
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel("rank correlation with the pre-STF surplus", fontsize=8)


def _title(page: Page, x: float, y: float, title: str, caption: str) -> None:
    page.text(x, y, title, fontsize=10.5, fontweight="bold", color=DARK)
    if caption:
        page.paragraph(x, y + 0.22, caption, 84, size=8.5, color=GREY)


def _fan_caption(v: TrustView) -> str:
    s = (v.sim or {})["percentiles"]["surplus_pre_stf"]
    return (
        f"Median year-end position {money(s['p50'])} against a control total of "
        f"{money(v.t['control_total']['target'])}; 90% of outcomes between {money(s['p5'])} "
        f"and {money(s['p95'])}."
    )


def _goal_caption(v: TrustView, goal: ProbabilitySolveResult) -> str:
    g = goal.to_dict()["trusts"][0]
    head = f"With the CIP as planned ({pct(g['planned_pct'])}), P(meet) is {pct(g['p_at_plan'])}"
    target = pct(g["probability_target"], 0)
    article = "an" if target.startswith(("8", "11", "18")) else "a"
    if not g["reachable"]:
        return f"{head}; no CIP reaches {article} {target} chance (at most {pct(g['p_max'])})."
    return (
        f"{head}; {article} {target} chance needs {money(g['needed'])} ({pct(g['needed_pct'])} of "
        f"operating expenditure, {g['band']})."
    )


def _score_caption(v: TrustView) -> str:
    dist = (v.sim or {})["probability"]["score"]["overall"]
    probs = {k: (dist[k] or 0.0) for k in "1234"}
    likely = max(probs, key=lambda k: probs[k])
    return (
        f"Most likely overall score: {likely} ({pct(probs[likely])}); plan run: "
        f"{v.t['score']['overall']}."
    )


def _driver_caption(simulation: Any, code: str) -> str:
    df = simulation.sensitivity()
    df = df[df.trust_code == code]
    df = df[df.spearman.abs() > 0]
    if not len(df):
        return "Nothing uncertain moves the surplus."
    row = df.loc[df.spearman.abs().idxmax()]
    if not math.isfinite(float(row.spearman)):
        return ""
    label = plots.input_label(simulation.run.portfolio, code, str(row.input), row.scheme_id)
    return (
        f"Largest: {label} (rank correlation {row.spearman:+.2f}). Green: more of it raises "
        "the surplus; red: lowers it."
    )
