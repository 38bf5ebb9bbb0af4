"""What the board report says about one trust: sentences and table rows, no drawing.

Every number is read from the plan run's ``run --json`` contract (``result.to_dict()``, a
:class:`~cipmodel.results.contract.TrustDict`) and, with a simulation, from the
``simulate --json`` contract, then formatted with :func:`~cipmodel.formatting.money` and
:func:`~cipmodel.formatting.pct`: so the PDF shows exactly what the terminal, the JSON and the
results workbook show. Only figures the JSON does not carry (the CIP shares of unidentified
CIP, the scheme list) are read from :class:`~cipmodel.results.figures.TrustFigures` and the
scheme table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from cipmodel.calendar import QUARTERS
from cipmodel.formatting import money, pct
from cipmodel.report.layout import AMBER, GREEN, GREY, RED, SCORE_COLOURS, Column, Row
from cipmodel.results.contract import TrustDict
from cipmodel.results.figures import TrustFigures

__all__ = [
    "amount",
    "RAG_COLOURS",
    "STAGE_LABELS",
    "TrustView",
    "headline",
    "key_figure_rows",
    "quarter_table",
    "risk_table",
    "supporting_sentences",
    "year_headline",
    "year_label",
    "year_table",
]

#: How a delivery stage reads in the report.
STAGE_LABELS = {
    "unidentified": "unidentified",
    "idea": "idea",
    "plan": "plan",
    "qia_approved": "QIA approved",
    "delivering": "delivering",
    "delivered": "delivered",
}
#: The fill of each RAG rating (blue: delivered).
RAG_COLOURS = {"blue": "#41B6E6", "green": GREEN, "amber": AMBER, "red": RED}


@dataclass(frozen=True)
class TrustView:
    """One trust of a report: its ``run --json`` entry, its figures and its schemes.

    ``sim`` is the trust's entry of the ``simulate --json`` contract (None without a
    simulation); ``draws`` and ``seed`` describe that simulation; ``unverified`` is the number
    of unverified rule values the plan run depends on. ``schemes`` is this
    trust's rows of :meth:`~cipmodel.results.run.RunResult.schemes` with a ``name`` column;
    ``monthly`` its plan-year-1 rows of :meth:`~cipmodel.results.run.RunResult.monthly`.
    """

    t: TrustDict
    figures: TrustFigures
    schemes: pd.DataFrame
    monthly: pd.DataFrame
    sim: dict[str, Any] | None = None
    draws: int | None = None
    seed: Any = None
    unverified: int = 0

    @property
    def fy(self) -> str:
        return self.t["financial_year"]

    @property
    def p_meet(self) -> float | None:
        """P(meet the control total) of the simulation (None without one)."""
        if self.sim is None:
            return None
        value = self.sim["probability"]["meet_control_total"]
        return None if value is None else float(value)


def year_label(financial_year: str, year: int) -> str:
    """Plan year ``year`` of a plan starting in ``financial_year``: ``2017/18``, 2 -> ``2018/19``."""
    try:
        start = int(financial_year[:4]) + year - 1
    except ValueError:
        return f"year {year}"
    return f"{start}/{(start + 1) % 100:02d}"


def amount(x: float | None) -> str:
    """£000 in a table, as the results workbook shows it: :func:`~cipmodel.formatting.money`
    (thousands separators, negatives in brackets) with zero as '-'."""
    s = money(x)
    return "-" if s == "0" else s


def _by(value: float | None) -> str:
    """A variance as an amount: 1,234 (never in brackets; the sentence says which way)."""
    return money(None if value is None else abs(value))


def headline(v: TrustView) -> str:
    """The report in one sentence: meets the pre-STF control total or not, by how much."""
    ct = v.t["control_total"]
    target, forecast, variance = ct["target"], ct["forecast"], ct["variance"]
    if ct["met"] is None or target is None:
        return (
            f"There is no {v.fy} control total: the plan forecasts a pre-STF position of "
            f"{money(forecast)}."
        )
    if ct["met"]:
        margin = "exactly" if money(variance) == "0" else f"{_by(variance)} better"
        return (
            f"The plan meets the {v.fy} pre-STF control total of {money(target)} with a "
            f"forecast of {money(forecast)}, {margin}."
        )
    return (
        f"The plan misses the {v.fy} pre-STF control total of {money(target)} by "
        f"{_by(variance)}: the forecast is {money(forecast)}."
    )


def _funding_sentence(v: TrustView) -> str:
    """The reported position with STF/PSF against the control total with STF/PSF."""
    t = v.t
    ct, f = t["control_total"], t["funding"]
    allocation = f["allocation"] or 0.0
    reported = money(t["reported_surplus"])
    if allocation <= 0 or ct["target"] is None:
        if money(f["earned"]) != "0":
            return (
                f"No STF/PSF is allocated, but {money(f['earned'])} is earned (incentive): "
                f"the reported position is {reported}."
            )
        return f"No STF/PSF is allocated: the reported position is {reported}."
    post = ct["target"] + allocation
    gap = (t["reported_surplus"] or 0.0) - post
    against = (
        f"{_by(gap)} {'above' if gap >= 0 else 'below'} the control total with STF/PSF of "
        f"{money(post)}"
    )
    if not ct["accepted"]:
        return (
            f"The control total is not accepted, so no STF/PSF can be earned (the "
            f"{money(allocation)} allocation is lost): the reported position is {reported}."
        )
    if money(f["earned"]) == "0":
        return (
            f"No STF/PSF is earned (all {money(allocation)} lost): the reported position is "
            f"{reported}, {against}."
        )
    return (
        f"With {money(f['earned'])} STF/PSF earned ({money(f['lost'])} lost of "
        f"{money(allocation)}), the reported position is {reported}: {against}."
    )


def year_headline(financial_year: str, y: dict[str, Any]) -> str:
    """One plan year in a sentence: met or not, by how much, pre- and post-STF."""
    ct = y["control_total"]

    def side(basis: str, met: bool | None, variance: float | None, target: float | None) -> str:
        if met is None or target is None:
            return f"no {basis} control total"
        if money(variance) == "0":
            return f"{basis} control total {money(target)} met exactly"
        return (
            f"{basis} control total {money(target)} {'met' if met else 'missed'} by {_by(variance)}"
        )

    pre = side("pre-STF", ct["met"], ct["variance"], ct["target"])
    if y["funding"] is None:
        return f"{financial_year}: {pre}; post-STF not assessed."
    post = side("post-STF", ct["met_post_stf"], ct["variance_post_stf"], ct["target_post_stf"])
    return f"{financial_year}: {pre}; {post}."


def supporting_sentences(v: TrustView) -> list[str]:
    """The reported position with STF/PSF, the CIP it takes and, simulated, P(meet)."""
    t = v.t
    cip = t["cip"]
    out = [_funding_sentence(v)]
    if cip["met_without_cip"]:
        out.append(f"The control total is met without any CIP; {money(cip['planned'])} is planned.")
    else:
        unidentified = cip["unidentified"] or 0.0
        share = unidentified / cip["planned"] if cip["planned"] else None
        gap = (
            f"{money(unidentified)} ({pct(share, 0)}) of it not yet identified"
            if money(unidentified) != "0"
            else "all of it in identified schemes"
        )
        out.append(
            f"Meeting it takes a CIP of {money(cip['needed'])} ({pct(cip['needed_pct'])} of "
            f"operating expenditure: {cip['needed_band']}); {money(cip['planned'])} is "
            f"planned, {gap}."
        )
    years = t["years"]
    if len(years) > 1:
        out.append(" ".join(year_headline(y["financial_year"], dict(y)) for y in years))
    if v.p_meet is not None:
        s = v.sim["percentiles"]["surplus_pre_stf"] if v.sim else {}
        out.append(
            f"Simulated ({v.draws:,} draws, seed {v.seed}): met in {pct(v.p_meet)} of "
            f"outcomes; median pre-STF position {money(s.get('p50'))}, 90% between "
            f"{money(s.get('p5'))} and {money(s.get('p95'))}."
        )
    return out


KEY_COLUMNS = (
    Column("", 2.55, "left"),
    Column("£000", 0.85),
    Column("% opex", 0.65),
    Column("", 1.65, "left"),
)


def key_figure_rows(v: TrustView) -> list[Row]:
    """The key-figures table: control total, CIP, STF/PSF and oversight, first plan year."""
    return [*_control_rows(v), *_cip_rows(v), *_funding_rows(v), *_oversight_rows(v)]


def _control_rows(v: TrustView) -> list[Row]:
    ct = v.t["control_total"]
    met = ct["met"]
    return [
        Row([f"Control total {v.fy} (pre-STF)"], kind="section"),
        Row(
            [
                "Control total",
                amount(ct["target"]),
                "",
                "accepted" if ct["accepted"] else "not accepted",
            ]
        ),
        Row(["Forecast surplus/(deficit)", amount(ct["forecast"]), "", ""]),
        Row(
            [
                "Variance",
                amount(ct["variance"]),
                "",
                "n/a" if met is None else ("met" if met else "missed"),
            ],
            kind="total",
            colours={3: GREY if met is None else (GREEN if met else RED)},
        ),
    ]


def _cip_rows(v: TrustView) -> list[Row]:
    cip, first = v.t["cip"], v.figures.first_year
    unidentified_pct = (
        first.cip_unidentified / first.opex_do_nothing if first.opex_do_nothing > 0 else None
    )
    return [
        Row(["Cost improvement programme (in year)"], kind="section"),
        Row(
            [
                "CIP planned",
                amount(cip["planned"]),
                pct(cip["planned_pct"]),
                f"full-year effect {money(cip['planned_fye'])}",
            ]
        ),
        Row(
            [
                "of which unidentified",
                amount(cip["unidentified"]),
                pct(unidentified_pct),
                "no scheme yet",
            ],
            indent=True,
            colours={1: RED} if (cip["unidentified"] or 0) > 0 else {},
        ),
        Row(
            [
                "CIP needed for the control total",
                amount(cip["needed"]),
                pct(cip["needed_pct"]),
                cip["needed_band"],
            ],
            kind="total",
        ),
    ]


def _funding_rows(v: TrustView) -> list[Row]:
    t = v.t
    ct, f = t["control_total"], t["funding"]
    post = None if ct["target"] is None else ct["target"] + (f["allocation"] or 0.0)
    return [
        Row([f"STF/PSF ({f['rules']})"], kind="section"),
        Row(["Allocation", amount(f["allocation"]), "", ""]),
        Row(["STF/PSF earned", amount(f["earned"]), "", "incl. catch-up, incentive"]),
        Row(["STF/PSF lost", amount(f["lost"]), "", ""], colours={1: RED} if f["lost"] else {}),
        Row(["Reported position (with STF/PSF)", amount(t["reported_surplus"]), "", ""]),
        Row(["Control total with STF/PSF", amount(post), "", "plus allocation"]),
    ]


def _oversight_rows(v: TrustView) -> list[Row]:
    t = v.t
    overall = v.figures.score.overall
    rows = [
        Row(["Single Oversight Framework (full year)"], kind="section"),
        Row(
            ["Finance and use of resources score", str(overall), "", "1 best, 4 worst"],
            fills={1: SCORE_COLOURS.get(overall, GREY)},
        ),
        Row(
            [
                "Finance trigger (score 3 or 4)",
                "yes" if t["finance_trigger"] else "no",
                "",
                "potential support need" if t["finance_trigger"] else "",
            ]
        ),
        Row(
            [
                "Candidate segment",
                str(t["candidate_segment"]["segment"]),
                "",
                "finance theme only",
            ]
        ),
    ]
    if v.p_meet is not None and v.sim is not None:
        se = v.sim["probability"]["meet_control_total_se"] or 0.0
        rows.append(
            Row(
                [
                    "P(meet the control total)",
                    pct(v.p_meet),
                    "",
                    f"± {pct(1.96 * se)}, {v.draws:,} draws",
                ],
                kind="total",
                colours={1: GREEN if v.p_meet >= 0.5 else RED},
            )
        )
    return rows


def quarter_table(v: TrustView) -> tuple[list[Column], list[Row]]:
    """Year to date by quarter: variance to the control total, STF/PSF earned and lost, score."""
    t = v.t
    ct, f = t["control_total"], t["funding"]
    cols = [Column("Year to date", 1.45, "left")] + [Column(q.upper(), 0.63) for q in QUARTERS]
    cols.append(Column("Year", 0.62))
    variance = [ct["quarters"][q] for q in QUARTERS]
    earned = [f["quarters"][q]["earned"] for q in QUARTERS]
    lost = [f["quarters"][q]["lost"] for q in QUARTERS]
    gate = ["met" if f["quarters"][q]["gate_met"] else "missed" for q in QUARTERS]
    scores = [t["score_by_quarter"][q] for q in QUARTERS]
    rows = [
        Row(
            ["Variance", *map(amount, variance), amount(ct["variance"])],
            colours={j + 1: RED for j, x in enumerate(variance) if (x or 0) < -0.5},
        ),
        Row(
            ["STF/PSF gate", *gate, ""],
            colours={j + 1: RED for j, g in enumerate(gate) if g == "missed"},
        ),
        Row(["STF/PSF earned", *map(amount, earned), amount(f["earned"])]),
        Row(
            ["STF/PSF lost", *map(amount, lost), amount(f["lost"])],
            colours={j + 1: RED for j, x in enumerate(lost) if (x or 0) >= 0.5},
        ),
        Row(
            ["Finance score", *map(str, scores), str(t["score"]["overall"])],
            fills={j + 1: SCORE_COLOURS[s] for j, s in enumerate(scores) if s in SCORE_COLOURS},
        ),
    ]
    return cols, rows


def year_table(v: TrustView) -> tuple[list[Column], list[Row]]:
    """Each plan year side by side: surplus, control total, variance, met, CIP planned and %."""
    years = v.t["years"]
    width = min(0.95, 2.95 / max(len(years), 1))
    cols = [Column("Plan year", 1.6, "left")] + [
        Column(year_label(v.fy, y["year"]), width) for y in years
    ]

    def met(y: Any) -> str:
        return "n/a" if y["met"] is None else ("met" if y["met"] else "missed")

    rows = [
        Row(["Forecast surplus/(deficit)", *(amount(y["surplus_pre_stf"]) for y in years)]),
        Row(["Control total (pre-STF)", *(amount(y["control_total_pre_stf"]) for y in years)]),
        Row(
            ["Variance", *(amount(y["variance"]) for y in years)],
            kind="total",
        ),
        Row(
            ["Control total", *(met(y) for y in years)],
            colours={
                j + 1: GREEN if y["met"] else RED
                for j, y in enumerate(years)
                if y["met"] is not None
            },
        ),
        Row(["CIP planned", *(amount(y["cip_planned"]) for y in years)]),
        Row(["CIP, % of operating expenditure", *(pct(y["cip_planned_pct"]) for y in years)]),
    ]
    return cols, rows


RISK_COLUMNS = (
    Column("Scheme", 2.3, "left"),
    Column("Stage", 0.95, "left"),
    Column("RAG", 0.6, "center"),
    Column("In year", 0.7),
)


def risk_table(v: TrustView, top: int = 5) -> list[Row]:
    """The largest risks: unidentified CIP, then the largest red and amber schemes (in year)."""
    df = v.schemes
    rows = []
    unidentified = df[df.stage == "unidentified"]
    if len(unidentified):
        rows.append(
            Row(
                [
                    "Unidentified CIP (no scheme yet)",
                    "unidentified",
                    "",
                    amount(float(unidentified.in_year_y1.sum())),
                ],
                colours={3: RED},
            )
        )
    risky = df[(df.stage != "unidentified") & df.rag.isin(["red", "amber"])]
    risky = risky.sort_values(["in_year_y1", "scheme_id"], ascending=[False, True]).head(top)
    for s in risky.to_dict("records"):
        label = f"{s['scheme_id']} {s['name']}"
        if len(label) > 34:
            label = label[:33].rstrip() + "…"
        stage, rag = str(s["stage"]), str(s["rag"])
        rows.append(
            Row(
                [label, STAGE_LABELS.get(stage, stage), rag, amount(float(s["in_year_y1"]))],
                fills={2: RAG_COLOURS[rag]},
            )
        )
    named = df[df.stage != "unidentified"]
    parts = []
    for rag in ("red", "amber"):
        sel = named[named.rag == rag]
        parts.append(f"{rag} {len(sel)} schemes, {money(float(sel.in_year_y1.sum()))}")
    total = float(df.in_year_y1.sum())
    rows.append(Row([f"All schemes: {'; '.join(parts)} (of {money(total)})."], kind="note"))
    return rows
