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
from cipmodel.formatting import amount, money, pct
from cipmodel.report.layout import AMBER, GREEN, GREY, RED, SCORE_COLOURS, Column, Row
from cipmodel.results import headlines
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


def headline(v: TrustView) -> str:
    """The report in one sentence (:func:`cipmodel.results.headlines.headline`, the board
    summary sheet's words): plan year 1's control total met or not, by how much, before and
    with STF/PSF, and, simulated, P(meet)."""
    return headlines.headline(v.figures, v.p_meet, v.draws)


def supporting_sentences(v: TrustView) -> list[str]:
    """The sentences behind the headline (:mod:`cipmodel.results.headlines`): the CIP it
    takes, STF/PSF and the score; each plan year's headline where there are several; the
    simulated position."""
    out = [" ".join(headlines.supporting(v.figures))]
    if len(v.figures.years) > 1:
        out.append(" ".join(headlines.year_headline(y) for y in v.figures.years))
    if v.sim is not None:
        s = v.sim["percentiles"]["surplus_pre_stf"]
        out.append(
            headlines.simulation_sentence(v.draws, v.seed, s.get("p50"), s.get("p5"), s.get("p95"))
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
                    "P(meet the pre-STF control total)",
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
    """Each plan year side by side, as the workbook's Plan years sheet: the forecast against
    the control total before STF/PSF and the reported surplus against the control total
    with STF/PSF, each with its variance and met; the CIP planned and its share."""
    years = v.t["years"]
    width = min(0.95, 2.75 / max(len(years), 1))
    cols = [Column("Plan year, £000", 1.8, "left")] + [
        Column(year_label(v.fy, y["year"]), width) for y in years
    ]
    cts: list[dict[str, Any]] = [dict(y["control_total"]) for y in years]

    def met(key: str, label: str) -> Row:
        flags = [c[key] for c in cts]
        return Row(
            [label, *("n/a" if m is None else ("met" if m else "missed") for m in flags)],
            colours={j + 1: GREEN if m else RED for j, m in enumerate(flags) if m is not None},
        )

    rows = [
        Row(["Forecast surplus/(deficit)", *(amount(c["forecast"]) for c in cts)]),
        Row(["Control total, pre-STF", *(amount(c["target"]) for c in cts)]),
        Row(["Variance, pre-STF", *(amount(c["variance"]) for c in cts)], kind="total"),
        met("met", "Control total met, pre-STF"),
        Row(["Control total with STF/PSF", *(amount(c["target_post_stf"]) for c in cts)]),
        Row(["Reported surplus/(deficit)", *(amount(c["forecast_post_stf"]) for c in cts)]),
        Row(
            ["Variance with STF/PSF", *(amount(c["variance_post_stf"]) for c in cts)], kind="total"
        ),
        met("met_post_stf", "Control total met, with STF/PSF"),
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
        if len(label) > 32:
            label = label[:31].rstrip() + "…"
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
