"""The plan-year pages of a one-trust board report: every plan year, and the plan's risk.

* :func:`years_page`: each plan year side by side, the control total before and after
  STF/PSF, STF/PSF (rules, allocation, earned, lost), the finance and use of resources score,
  the finance trigger and the candidate segment, and the year's own CIP; beside it the
  :func:`~cipmodel.report.plots.plan_years` chart.
* :func:`views_page`: the risk-adjusted CIP (expected against planned, unidentified CIP on
  its own lines) and the risk-adjusted forecast, the underlying position, and the bridge from
  the prior-year forecast outturn to the plan (:func:`~cipmodel.report.plots.bridge_waterfall`)
  when the plan gives an outturn (``docs/plan-views.md``).

Every number is a number of ``run --json`` (``years[k]`` and ``bridge``), formatted with
:func:`amount`: £000 as the results workbook shows it (deficits in brackets, zero as "-").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
)
from cipmodel.report.summary import TrustView, amount
from cipmodel.results.bridge import BRIDGE_LABELS

if TYPE_CHECKING:
    from cipmodel.results.run import RunResult

__all__ = [
    "risk_rows",
    "underlying_rows",
    "views_page",
    "year_columns",
    "year_rows",
    "years_page",
]

#: Left edge of the right-hand column [inches].
RIGHT = MARGIN + 6.15
#: Table text size [points].
SIZE = 8.0


def _minus(x: float | None) -> float | None:
    return None if x is None else -x


def _met(value: bool | None) -> str:
    return "n/a" if value is None else ("met" if value else "missed")


def _met_colours(values: list[bool | None]) -> dict[int, str]:
    return {j + 1: GREEN if m else RED for j, m in enumerate(values) if m is not None}


def year_columns(v: TrustView, label: str, total: float = 5.5) -> list[Column]:
    """A label column, then one column per plan year (headed by its financial year); the
    table is ``total`` inches wide whatever the number of years (section titles fit)."""
    years = v.t["years"]
    width = min(1.05, 3.3 / max(len(years), 1))
    first = max(2.2, total - width * len(years))
    return [Column(label, first, "left")] + [Column(y["financial_year"], width) for y in years]


def year_rows(v: TrustView) -> list[Row]:
    """Each plan year: control total pre- and post-STF, STF/PSF, the score and the CIP."""
    years = v.t["years"]
    cts = [y["control_total"] for y in years]
    fund = [y["funding"] for y in years]
    cips = [y["cip"] for y in years]

    def row(label: str, cells: list[str], **kw: Any) -> Row:
        return Row([label, *cells], **kw)

    rows = [
        Row(["Control total, pre-STF (the basis of the quarterly gate)"], kind="section"),
        row("Control total", [amount(c["target"]) for c in cts]),
        row("Forecast surplus/(deficit)", [amount(c["forecast"]) for c in cts]),
        row("Variance", [amount(c["variance"]) for c in cts], kind="total"),
        row(
            "Pre-STF control total",
            [_met(c["met"]) for c in cts],
            colours=_met_colours([c["met"] for c in cts]),
        ),
        Row(["Control total, post-STF (pre-STF plus the allocation)"], kind="section"),
        row("Control total with STF/PSF", [amount(c["target_post_stf"]) for c in cts]),
        row(
            "Reported surplus (with STF/PSF earned)", [amount(c["forecast_post_stf"]) for c in cts]
        ),
        row("Variance", [amount(c["variance_post_stf"]) for c in cts], kind="total"),
        row(
            "Post-STF control total",
            [_met(c["met_post_stf"]) for c in cts],
            colours=_met_colours([c["met_post_stf"] for c in cts]),
        ),
        Row(["STF/PSF and the Single Oversight Framework (full year)"], kind="section"),
        row("Rules", [f["rules"] if f else "not assessed" for f in fund]),
        row("Allocation", [amount(f["allocation"]) if f else "n/a" for f in fund]),
        row("STF/PSF earned", [amount(f["earned"]) if f else "n/a" for f in fund]),
        row(
            "STF/PSF lost",
            [amount(f["lost"]) if f else "n/a" for f in fund],
            colours={j + 1: RED for j, f in enumerate(fund) if f and (f["lost"] or 0) >= 0.5},
        ),
        row(
            "Finance and use of resources score",
            [str(y["score"]["overall"]) if y["score"] else "n/a" for y in years],
            fills={
                j + 1: SCORE_COLOURS[y["score"]["overall"]]
                for j, y in enumerate(years)
                if y["score"] and y["score"]["overall"] in SCORE_COLOURS
            },
        ),
        row(
            "Finance trigger (score 3 or 4)",
            [
                "n/a" if y["finance_trigger"] is None else ("yes" if y["finance_trigger"] else "no")
                for y in years
            ],
        ),
        row(
            "Candidate segment (finance theme)",
            [
                str(y["candidate_segment"]["segment"]) if y["candidate_segment"] else "n/a"
                for y in years
            ],
        ),
        Row(["CIP: the year's own savings"], kind="section"),
        row("CIP planned", [amount(c["planned"]) for c in cips]),
        row("% of operating expenditure", [pct(c["planned_pct"]) for c in cips], indent=True),
        row(
            "brought forward (full-year effect)",
            [amount(c["brought_forward"]) for c in cips],
            indent=True,
        ),
        row("new schemes in the year", [amount(c["new"]) for c in cips], indent=True),
        row("Non-recurrent savings to replace", [amount(c["non_recurrent_gap"]) for c in cips]),
        row("CIP needed for the control total", [amount(c["needed"]) for c in cips], kind="total"),
        row("% of operating expenditure", [pct(c["needed_pct"]) for c in cips], indent=True),
        row("evidence band", [c["needed_band"] or "n/a" for c in cips], indent=True),
    ]
    return rows


def risk_rows(v: TrustView) -> list[Row]:
    """The risk-adjusted view per plan year: CIP expected against planned, unidentified CIP
    on its own lines, and the pre-STF forecast on that basis."""
    years = v.t["years"]
    ras = [y["cip"].get("risk_adjusted") for y in years]
    fras = [y["control_total"].get("forecast_risk_adjusted") for y in years]
    if any(r is None for r in ras) or any(f is None for f in fras):
        return [Row(["No risk-adjusted view in this run."], kind="note")]
    ra = [r for r in ras if r is not None]
    fra = [f for f in fras if f is not None]

    def row(label: str, cells: list[str], **kw: Any) -> Row:
        return Row([label, *cells], **kw)

    return [
        Row(
            [f"CIP, the year's own (delivery by stage and RAG, {ra[0]['priors']})"], kind="section"
        ),
        row("CIP planned", [amount(r["planned"]) for r in ra]),
        row("CIP expected", [amount(r["expected"]) for r in ra], kind="total"),
        row(
            "at risk",
            [amount(r["at_risk"]) for r in ra],
            indent=True,
            colours={j + 1: RED for j, r in enumerate(ra) if (r["at_risk"] or 0.0) >= 0.5},
        ),
        row("Unidentified CIP planned", [amount(r["unidentified_planned"]) for r in ra]),
        row(
            "Unidentified CIP expected",
            [amount(r["unidentified_expected"]) for r in ra],
            indent=True,
        ),
        Row(["Forecast, pre-STF: as planned and risk-adjusted"], kind="section"),
        row("Control total", [amount(y["control_total"]["target"]) for y in years]),
        row("Forecast as planned", [amount(y["control_total"]["forecast"]) for y in years]),
        row("Forecast risk-adjusted", [amount(f["forecast"]) for f in fra], kind="total"),
        row("Variance risk-adjusted", [amount(f["variance"]) for f in fra]),
        row(
            "Control total risk-adjusted",
            [_met(f["met"]) for f in fra],
            colours=_met_colours([f["met"] for f in fra]),
        ),
    ]


def underlying_rows(v: TrustView) -> list[Row]:
    """The underlying position per plan year: the forecast with one-offs out and recurrent
    CIP at its exit run rate."""
    years = v.t["years"]
    unds = [y.get("underlying") for y in years]
    if any(u is None for u in unds):
        return [Row(["No underlying position in this run."], kind="note")]
    u = [x for x in unds if x is not None]

    def row(label: str, cells: list[str], **kw: Any) -> Row:
        return Row([label, *cells], **kw)

    return [
        Row(["Underlying position (recurrent exit run rate, pre-STF)"], kind="section"),
        row("Forecast surplus/(deficit)", [amount(x["forecast"]) for x in u]),
        row(
            "less non-recurrent income and costs",
            [amount(_minus(x["non_recurrent_lines"])) for x in u],
            indent=True,
        ),
        row(
            "less non-recurrent CIP",
            [amount(_minus(x["non_recurrent_cip"])) for x in u],
            indent=True,
        ),
        row(
            "plus recurrent CIP at full-year effect",
            [amount(x["cip_full_year_effect"]) for x in u],
            indent=True,
        ),
        row("Underlying surplus/(deficit)", [amount(x["surplus"]) for x in u], kind="total"),
    ]


# -- the pages ------------------------------------------------------------------------------
def years_page(page: Page, v: TrustView, result: RunResult) -> None:
    """Every plan year: the table on the left, the chart and the notes on the right."""
    y = page.heading(MARGIN, BODY_TOP, "Each plan year, £000") + 0.02
    page.table(MARGIN, y, year_columns(v, ""), year_rows(v), size=SIZE)

    page.text(
        RIGHT,
        BODY_TOP,
        "Control total against forecast, each plan year",
        fontsize=10.5,
        fontweight="bold",
        color=DARK,
    )
    y = page.paragraph(RIGHT, BODY_TOP + 0.22, _years_caption(v), 80, size=8.5, color=GREY)
    ax = page.axes(RIGHT + 0.7, y + 0.55, 4.1, 2.6)
    plots.plan_years(result, v.t["code"], ax=ax)
    ax.set_title("")
    ax.legend(fontsize=6.5, ncol=2, loc="lower left", bbox_to_anchor=(0.0, 1.0), borderaxespad=0.1)
    _notes(page, RIGHT, y + 3.6, _year_notes(v))


def _years_caption(v: TrustView) -> str:
    parts = []
    for y in v.t["years"]:
        ct = y["control_total"]
        if ct["met"] is None:
            parts.append(f"{y['financial_year']}: no control total")
            continue
        post = "not assessed" if y["funding"] is None else _met(ct["met_post_stf"])
        parts.append(f"{y['financial_year']}: pre-STF {_met(ct['met'])}, post-STF {post}")
    return "; ".join(parts) + "."


def _year_notes(v: TrustView) -> list[str]:
    lines = []
    for y in v.t["years"]:
        if y.get("not_assessed"):
            lines.append(f"{y['financial_year']}: {y['not_assessed']}.")
        f = y["funding"]
        if f and f.get("note"):
            lines.append(f"{y['financial_year']}: {f['note']}.")
    lines += [
        "Post-STF: the published control total is the pre-STF target plus the year's STF/PSF "
        "allocation; the reported surplus is the pre-STF surplus plus STF/PSF earned.",
        "The year's own CIP: new schemes in the year plus the full-year-effect rollover of "
        "earlier years' recurrent schemes; earlier non-recurrent savings must be replaced "
        "(docs/multi-year.md).",
        "Each year is funded and scored on its own rule pack; working capital chains each "
        "year's closing balances into the next.",
    ]
    return lines


def views_page(page: Page, v: TrustView, result: RunResult) -> None:
    """The risk-adjusted view and the underlying position (left), the bridge (right)."""
    y = page.heading(MARGIN, BODY_TOP, "Risk-adjusted plan, £000") + 0.02
    y = page.table(MARGIN, y, year_columns(v, ""), risk_rows(v), size=SIZE) + 0.2
    y = page.heading(MARGIN, y, "Underlying position, £000") + 0.02
    y = page.table(MARGIN, y, year_columns(v, ""), underlying_rows(v), size=SIZE) + 0.2
    if y < BODY_BOTTOM - 0.9:
        _notes(page, MARGIN, y, _view_notes(v), width=100)

    bridge = v.t.get("bridge")
    page.text(
        RIGHT,
        BODY_TOP,
        "Bridge from prior-year forecast outturn to plan",
        fontsize=10.5,
        fontweight="bold",
        color=DARK,
    )
    if not bridge:
        page.paragraph(
            RIGHT,
            BODY_TOP + 0.22,
            "The plan gives no Outturn sheet: there is no "
            "bridge from last year's forecast outturn.",
            80,
            size=8.5,
            color=GREY,
        )
        return
    first, last = bridge[0]["value"], bridge[-1]["value"]
    caption = (
        f"From the prior-year forecast outturn of {money(first)} to the plan year 1 "
        f"pre-STF surplus of {money(last)}, step by step (green improves the surplus, "
        "red worsens it)."
    )
    y = page.paragraph(RIGHT, BODY_TOP + 0.22, caption, 80, size=8.5, color=GREY)
    ax = page.axes(RIGHT + 0.7, y + 0.15, 4.2, 2.9)
    plots.bridge_waterfall(result, v.t["code"], ax=ax)
    ax.set_title("")
    # one-line step names, slanted (their long forms are in docs/plan-views.md)
    ax.set_xticklabels(
        [BRIDGE_LABELS[s["step"]].split(" (")[0] for s in bridge],
        rotation=40,
        ha="right",
        fontsize=6.5,
        rotation_mode="anchor",
    )
    for text in ax.texts:
        text.set_fontsize(6)


def _view_notes(v: TrustView) -> list[str]:
    return [
        "Risk-adjusted: each scheme at its expected delivered share by stage and RAG, the "
        "mean of the priors Monte Carlo draws from (so it agrees with cipmodel simulate in "
        "expectation); unidentified CIP is its own risk line.",
        "Underlying: the year's forecast without its one-offs, recurrent CIP at its March "
        "exit rate (x 12); STF/PSF is never in it. Unverified definition (docs/plan-views.md).",
    ]


def _notes(page: Page, x: float, y: float, lines: list[str], width: int = 82) -> float:
    for line in lines:
        if y > BODY_BOTTOM - 0.2:
            break
        page.text(x, y, "•", fontsize=8, color=BLUE)
        y = page.paragraph(x + 0.15, y, line, width, size=8, color=GREY) + 0.02
    return y
