"""The Plan years sheet: every plan year of every trust, one column a year.

A sheet per concept, not a sheet per year: each trust is a block of rows (one figure a
row), each plan year a column (``Plan year 1``, ``Plan year 2``...; the block's first row
gives the financial year of each). The sections, in reading order:

* **Plan year**: the financial year and whether it is assessed (the rule pack, or the
  reason it is not: a year with no pack or no control total is projected, not scored);
* **Control total, pre-STF basis**: the target, the forecast surplus before STF/PSF, the
  variance and met;
* **CIP, the year's own savings**: expenditure before CIP, brought forward (the full-year
  effect of earlier years' recurrent schemes) and new, planned (their sum) and its share of
  expenditure, of which unidentified, the non-recurrent savings of earlier years to
  replace, the CIP needed with its share and evidence band, and the gap;
* **Risk-adjusted** (each scheme at its expected delivered share by stage and RAG,
  ``docs/plan-views.md``): CIP expected, at risk, unidentified expected, the risk-adjusted
  forecast, its variance and met;
* **Underlying position**: the forecast less non-recurrent lines and CIP, plus the
  recurrent CIP's full-year effect;
* **STF/PSF**: the rules, the allocation, each quarter's available, gate, earned and lost,
  the year-end catch-up, incentive and bonus, the year's earned and lost;
* **Control total with STF/PSF**: the published control total (pre-STF target plus the
  allocation), the reported surplus (pre-STF surplus plus STF/PSF earned), variance, met;
* **SOF finance score** (full year): the five metrics and their scores, the overall score,
  the finance trigger and the candidate segment.

Numbers the engine computed are values (blue); variances, sums, shares, met and the
post-STF figures are formulas over the block's own cells (black), each saved with the
engine's value (:attr:`Builder.expected`). A year not assessed leaves its STF/PSF, post-STF
and score rows blank; its "Assessed" row says why.

Below the trusts, the **bridge** from the prior-year forecast outturn to plan year 1 of each
trust that gives an outturn: the steps, and the plan surplus as the ``SUM`` of the steps
(saved with the engine's plan surplus: the steps add up), with a waterfall chart for the
first :data:`BRIDGE_CHARTS` trusts (:func:`cipmodel.io.charts.waterfall_chart`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from openpyxl.utils import get_column_letter

from cipmodel.engine.metrics import METRICS
from cipmodel.io.board_charts import bridge_steps, width_cm
from cipmodel.io.cells import BOLD, HEADER_FILL, MONEY_FORMAT
from cipmodel.io.charts import (
    WATERFALL_SERIES,
    size_chart,
    waterfall_chart,
    waterfall_parts,
)
from cipmodel.io.results_base import (
    INDENT,
    INTEGER,
    NA,
    PERCENT,
    QUARTER_LABELS,
    SECTION,
    SECTION_FILL,
    YEARS,
    Builder,
    Expected,
    expected,
)
from cipmodel.io.sheets_metrics import METRIC_FORMATS, METRIC_LABELS
from cipmodel.results.figures import MET_TOLERANCE, TrustFigures, TrustYear

__all__ = ["BRIDGE_CHARTS", "YEARS_SHEET", "YearsSheet", "write_years"]

YEARS_SHEET = YEARS
#: Trusts whose bridge gets a waterfall chart (the first ones with an outturn).
BRIDGE_CHARTS = 3
_BRIDGE_CM = 9.0  # the waterfall's height
_BRIDGE_ROWS = 18  # rows it covers (15 points each)
M = MONEY_FORMAT
_FIRST = 3  # column C: plan year 1
_MET = f">=-{MET_TOLERANCE:.6f}"


@dataclass
class YearsSheet:
    """What :func:`write_years` wrote: the sheet, where each figure is and the blocks.

    ``rows`` maps (trust index, row key) to the row; the column of plan year ``y`` (1-based)
    is ``first_col + y - 1``. ``blocks`` are the first rows of the sections (for page
    breaks), ``charts`` the first row of each bridge chart.
    """

    ws: Any
    last_col: int
    first_col: int = _FIRST
    rows: dict[tuple[int, str], int] = field(default_factory=dict)
    blocks: list[int] = field(default_factory=list)
    charts: list[int] = field(default_factory=list)
    last_row: int = 1


class _Writer:
    """The sheet being written: the next row, and cells addressed by plan year."""

    def __init__(self, b: Builder, ws: Any, n_years: int) -> None:
        self.b, self.ws = b, ws
        self.grid = b.grid(ws)
        self.out = YearsSheet(ws, _FIRST + n_years - 1)
        self.r = 1
        self.i = 0
        self.code = ""
        self.label_style = b.styles.id(alignment=INDENT)
        self.section_style = b.styles.id(font=SECTION, fill=SECTION_FILL)
        self.fill = b.styles.id(fill=SECTION_FILL)

    def col(self, k: int) -> int:
        return _FIRST + k

    def ref(self, key: str, k: int) -> str:
        """The cell of figure ``key`` of the current trust in plan year ``k + 1``."""
        return f"{get_column_letter(self.col(k))}{self.out.rows[(self.i, key)]}"

    def section(self, text: str) -> None:
        self.r += 1
        for j in range(1, self.out.last_col + 1):
            self.grid.blank(self.r, j, self.fill)
        self.grid.text(self.r, 2, text, self.section_style)
        self.out.blocks.append(self.r)

    def row(self, key: str, label: str) -> int:
        self.r += 1
        self.out.rows[(self.i, key)] = self.r
        self.grid.text(self.r, 1, self.code)
        self.grid.text(self.r, 2, label, self.label_style)
        return self.r

    def values(self, key: str, label: str, vals: list[Any], fmt: str | None = M) -> None:
        """A row of engine values (None or NaN: blank; text as text)."""
        r = self.row(key, label)
        for k, v in enumerate(vals):
            if isinstance(v, str):
                self.b.text(self.ws, r, self.col(k), v)
            elif v is not None:
                self.b.value(self.ws, r, self.col(k), v, fmt)

    def formulas(
        self,
        key: str,
        label: str,
        cells: list[tuple[str, Any] | None],
        fmt: str | None = M,
        kind: str = "money",
    ) -> None:
        """A row of formulas: each year (formula text, engine value) or None (blank)."""
        r = self.row(key, label)
        for k, cell in enumerate(cells):
            if cell is None:
                continue
            text, value = cell
            exp = value if isinstance(value, Expected) else expected(value, kind)
            self.b.formula(self.ws, r, self.col(k), text, exp, fmt or "General")


def _met(ref: str, met: bool | None) -> tuple[str, Expected] | None:
    if met is None:
        return None
    return f'=IF({ref}{_MET},"met","missed")', Expected("met" if met else "missed", "text")


def _variance_and_met(
    w: _Writer,
    keys: tuple[str, str],
    labels: tuple[str, str],
    of: tuple[str, str],
    figures: list[tuple[float | None, bool | None]],
) -> None:
    """A variance row (``of[0]`` less ``of[1]``, a formula saved with the engine's variance)
    and its "met"/"missed" row, one column a year; blank in a year whose ``met`` is None
    (no control total, or not assessed)."""
    var_key, met_key = keys
    left, right = of
    w.formulas(
        var_key,
        labels[0],
        [
            (f"={w.ref(left, k)}-{w.ref(right, k)}", v) if m is not None else None
            for k, (v, m) in enumerate(figures)
        ],
    )
    w.formulas(
        met_key, labels[1], [_met(w.ref(var_key, k), m) for k, (_v, m) in enumerate(figures)], None
    )


def write_years(b: Builder, ws: Any) -> YearsSheet:
    """Write the Plan years sheet on ``ws`` (see the module docstring)."""
    figs: tuple[TrustFigures, ...] = b.r.figures
    n_years = max((len(f.years) for f in figs), default=1)
    w = _Writer(b, ws, n_years)
    head = b.styles.id(font=BOLD, fill=HEADER_FILL)
    heads = ["Trust", "Figure (£000 unless said)"]
    heads += [f"Plan year {k + 1}" for k in range(n_years)]
    for j, text in enumerate(heads, start=1):
        w.grid.text(1, j, text, head)
    widths = [7.0, 44.0, *([12.0] * n_years)]
    for j, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = width
    ws.freeze_panes = "C2"
    for i, fig in enumerate(figs):
        w.i, w.code = i, fig.code
        _trust(w, fig)
        w.r += 1
    _bridges(w, figs)
    w.out.last_row = max(w.r, w.grid.max_row)
    return w.out


def _trust(w: _Writer, fig: TrustFigures) -> None:
    ys = fig.years
    w.r += 1
    w.grid.text(w.r, 1, fig.code, w.b.styles.id(font=BOLD))
    w.grid.text(w.r, 2, f"{fig.code} {fig.name}".strip(), w.b.styles.id(font=BOLD))
    w.out.blocks.append(w.r)
    w.values("financial_year", "Financial year", [y.financial_year for y in ys], None)
    w.values("assessed", "Assessed (rule pack), or why not", [_assessed(y) for y in ys], None)
    _control_total(w, ys)
    _cip(w, ys)
    _risk_adjusted(w, fig)
    _underlying(w, fig)
    _funding(w, ys)
    _post_stf(w, ys)
    _score(w, ys)


def _assessed(y: TrustYear) -> str:
    if y.assessed is None:
        return f"not assessed: {y.not_assessed}" if y.not_assessed else "not assessed"
    return y.assessed.funding.rules


def _control_total(w: _Writer, ys: tuple[TrustYear, ...]) -> None:
    w.section("Control total, pre-STF basis")
    w.values("ct", "Control total, pre-STF", [y.control_total_pre_stf for y in ys])
    w.values(
        "surplus", "Forecast surplus/(deficit) before STF/PSF", [y.surplus_pre_stf for y in ys]
    )
    _variance_and_met(
        w,
        ("ct_variance", "ct_met"),
        ("Variance: forecast less control total", "Control total met, pre-STF?"),
        ("surplus", "ct"),
        [(y.variance, y.met) for y in ys],
    )


def _share(w: _Writer, key: str, k: int, value: float) -> tuple[str, Any] | None:
    """``key`` as a share of expenditure before CIP (None where that is nil)."""
    opex = w.b.r.figures[w.i].years[k].opex_do_nothing
    if not np.isfinite(value) or not opex:
        return None
    return f"={w.ref(key, k)}/{w.ref('opex_before_cip', k)}", value


def _cip(w: _Writer, ys: tuple[TrustYear, ...]) -> None:
    w.section("CIP: the year's own savings")
    w.values("opex_before_cip", "Operating expenditure before CIP", [y.opex_do_nothing for y in ys])
    w.values(
        "cip_bf",
        "Brought forward (earlier years' recurrent schemes)",
        [y.cip_brought_forward for y in ys],
    )
    w.values("cip_new", "New schemes in the year", [y.cip_new for y in ys])
    w.formulas(
        "cip_planned",
        "CIP planned in year (brought forward + new)",
        [(f"={w.ref('cip_bf', k)}+{w.ref('cip_new', k)}", y.cip_planned) for k, y in enumerate(ys)],
    )
    w.formulas(
        "cip_planned_pct",
        "CIP planned, % of expenditure before CIP",
        [_share(w, "cip_planned", k, y.cip_planned_pct) for k, y in enumerate(ys)],
        PERCENT,
        "ratio",
    )
    w.values("cip_unidentified", "of which unidentified", [y.cip_unidentified for y in ys])
    w.values(
        "cip_nr_gap",
        "Earlier years' non-recurrent savings to replace",
        [y.cip_non_recurrent_gap for y in ys],
    )
    w.values("cip_needed", "CIP needed to meet the control total", [y.cip_needed for y in ys])
    w.formulas(
        "cip_needed_pct",
        "CIP needed, % of expenditure before CIP",
        [_share(w, "cip_needed", k, y.cip_needed_pct) for k, y in enumerate(ys)],
        PERCENT,
        "ratio",
    )
    w.values("cip_band", "CIP needed: evidence band", [y.cip_needed_band or None for y in ys], None)
    w.formulas(
        "cip_gap",
        "Gap: CIP needed less planned",
        [
            (f"={w.ref('cip_needed', k)}-{w.ref('cip_planned', k)}", y.cip_needed - y.cip_planned)
            if np.isfinite(y.cip_needed)
            else None
            for k, y in enumerate(ys)
        ],
    )


def _risk_adjusted(w: _Writer, fig: TrustFigures) -> None:
    if fig.views is None:
        return
    ra = fig.views.risk_adjusted
    w.section(f"Risk-adjusted: expected delivery by stage and RAG ({fig.views.priors})")
    w.values("ra_expected", "CIP expected", [y.expected for y in ra])
    w.formulas(
        "ra_at_risk",
        "CIP at risk: planned less expected",
        [
            (f"={w.ref('cip_planned', k)}-{w.ref('ra_expected', k)}", y.at_risk)
            for k, y in enumerate(ra)
        ],
    )
    w.values(
        "ra_unidentified", "of which unidentified, expected", [y.unidentified_expected for y in ra]
    )
    w.values(
        "ra_forecast",
        "Forecast surplus/(deficit), risk-adjusted",
        [y.forecast_risk_adjusted for y in ra],
    )
    _variance_and_met(
        w,
        ("ra_variance", "ra_met"),
        (
            "Variance: risk-adjusted forecast less control total",
            "Control total met, risk-adjusted?",
        ),
        ("ra_forecast", "ct"),
        [(y.variance_risk_adjusted, y.met_risk_adjusted) for y in ra],
    )


def _underlying(w: _Writer, fig: TrustFigures) -> None:
    if fig.views is None:
        return
    und = fig.views.underlying
    w.section("Underlying position (exit run rate, without non-recurrent items)")
    w.values(
        "und_lines", "less non-recurrent income and costs", [u.non_recurrent_lines for u in und]
    )
    w.values("und_nr_cip", "less non-recurrent CIP", [u.non_recurrent_cip for u in und])
    w.values(
        "und_fye", "plus recurrent CIP's full-year effect", [u.cip_full_year_effect for u in und]
    )
    w.formulas(
        "underlying",
        "Underlying surplus/(deficit)",
        [
            (
                f"={w.ref('surplus', k)}-{w.ref('und_lines', k)}-{w.ref('und_nr_cip', k)}"
                f"+{w.ref('und_fye', k)}",
                u.underlying,
            )
            for k, u in enumerate(und)
        ],
    )


def _funding(w: _Writer, ys: tuple[TrustYear, ...]) -> None:
    w.section("STF/PSF")
    fs = [None if y.assessed is None else y.assessed.funding for y in ys]
    w.values("stf_rules", "Rules", [None if f is None else f.rules for f in fs], None)
    w.values("stf_allocation", "Allocation", [y.allocation for y in ys])
    for q, label in enumerate(QUARTER_LABELS):
        qs = [None if f is None else f.quarters[q] for f in fs]
        n = q + 1
        w.values(
            f"stf_q{n}_available",
            f"{label}: available",
            [None if x is None else x.available for x in qs],
        )
        w.values(
            f"stf_q{n}_gate",
            f"{label}: gate met?",
            [None if x is None else ("yes" if x.gate_met else "NO") for x in qs],
            None,
        )
        w.values(
            f"stf_q{n}_earned", f"{label}: earned", [None if x is None else x.earned for x in qs]
        )
        w.formulas(
            f"stf_q{n}_lost",
            f"{label}: lost",
            [
                None
                if x is None
                else (f"={w.ref(f'stf_q{n}_available', k)}-{w.ref(f'stf_q{n}_earned', k)}", x.lost)
                for k, x in enumerate(qs)
            ],
        )
    w.values(
        "stf_catch_up",
        "Year end: catch-up released",
        [None if f is None else f.catch_up_released for f in fs],
    )
    w.values(
        "stf_incentive", "Year end: incentive", [None if f is None else f.incentive for f in fs]
    )
    w.values("stf_bonus", "Year end: bonus", [None if f is None else f.bonus for f in fs])
    earned = [
        "+".join(w.ref(f"stf_q{n}_earned", k) for n in range(1, 5))
        + f"+{w.ref('stf_catch_up', k)}+{w.ref('stf_incentive', k)}+{w.ref('stf_bonus', k)}"
        for k in range(len(ys))
    ]
    w.formulas(
        "stf_earned",
        "STF/PSF earned in the year",
        [None if f is None else (f"={earned[k]}", f.earned) for k, f in enumerate(fs)],
    )
    w.values("stf_lost", "STF/PSF lost (forfeited)", [None if f is None else f.lost for f in fs])


def _post_stf(w: _Writer, ys: tuple[TrustYear, ...]) -> None:
    w.section("Control total with STF/PSF (the published control total)")
    w.formulas(
        "ct_post_stf",
        "Control total with STF/PSF: pre-STF target + allocation",
        [
            (f"={w.ref('ct', k)}+{w.ref('stf_allocation', k)}", y.control_total_post_stf)
            if np.isfinite(y.control_total_post_stf)
            else None
            for k, y in enumerate(ys)
        ],
    )
    assessed = [y.assessed is not None and np.isfinite(y.reported_surplus) for y in ys]
    w.formulas(
        "reported_surplus",
        "Reported surplus/(deficit): pre-STF + STF/PSF earned",
        [
            (f"={w.ref('surplus', k)}+{w.ref('stf_earned', k)}", y.reported_surplus) if a else None
            for k, (y, a) in enumerate(zip(ys, assessed, strict=True))
        ],
    )
    _variance_and_met(
        w,
        ("ct_variance_post_stf", "ct_met_post_stf"),
        ("Variance: reported less control total with STF/PSF", "Control total met, with STF/PSF?"),
        ("reported_surplus", "ct_post_stf"),
        [(y.variance_post_stf, y.met_post_stf) for y in ys],
    )


def _score(w: _Writer, ys: tuple[TrustYear, ...]) -> None:
    w.section("SOF finance and use of resources (full year)")
    years = [None if y.assessed is None else y.assessed for y in ys]
    for m in METRICS:
        found = [None if a is None else _metric(a.full_year.metrics, m) for a in years]
        w.values(
            f"metric_{m}",
            METRIC_LABELS[m],
            [None if x is None else (NA if x.not_applicable else x.value) for x in found],
            METRIC_FORMATS[m],
        )
        w.values(
            f"score_{m}",
            "score (1 best, 4 worst)",
            [None if x is None else (NA if x.score is None else x.score) for x in found],
            INTEGER,
        )
    get: dict[str, tuple[str, Callable[[Any], Any], str | None]] = {
        "finance_score": ("Finance and use of resources score", lambda a: a.score.overall, INTEGER),
        "finance_trigger": (
            "Finance trigger (score 3 or 4)?",
            lambda a: "yes" if a.finance_trigger else "no",
            None,
        ),
        "segment": (
            "Candidate segment (finance theme only)",
            lambda a: a.candidate_segment,
            INTEGER,
        ),
    }
    for key, (label, fn, fmt) in get.items():
        w.values(key, label, [None if a is None else fn(a) for a in years], fmt)


def _metric(metrics: Any, name: str) -> Any:
    return next((m for m in metrics if m.metric == name), None)


def _bridges(w: _Writer, figs: tuple[TrustFigures, ...]) -> None:
    """Each trust's bridge from the prior-year outturn to plan year 1, with its waterfall."""
    charted = 0
    for i, fig in enumerate(figs):
        steps = bridge_steps(fig)
        if not steps:
            continue
        w.i, w.code = i, fig.code
        w.r += 1
        w.section(f"{fig.code}: bridge from the prior-year forecast outturn to plan year 1 (£000)")
        first = w.r + 1
        for k, (step, value) in enumerate(steps[:-1]):
            w.values(f"bridge_{k}", step, [value])
        last = w.r
        plan = steps[-1][1]
        col = get_column_letter(_FIRST)
        w.formulas(
            "bridge_plan",
            "Plan surplus/(deficit) before STF/PSF: the steps' sum",
            [(f"=SUM({col}{first}:{col}{last})", plan)],
        )
        if charted < BRIDGE_CHARTS:
            charted += 1
            _bridge_chart(w, fig, bridge_steps(fig, short=True))


def _bridge_chart(w: _Writer, fig: TrustFigures, steps: list[tuple[str, float]]) -> None:
    """The waterfall of ``steps`` under the bridge table; its data right of the table."""
    data_col = w.out.last_col + 2
    head = w.r + 2
    names = [name for name, _fill in WATERFALL_SERIES]
    for j, name in enumerate(["Step", *names], start=data_col):
        w.grid.text(head, j, name)
    for k, ((label, _value), parts) in enumerate(zip(steps, waterfall_parts(steps), strict=True)):
        w.grid.text(head + 1 + k, data_col, label)
        for j, name in enumerate(names, start=data_col + 1):
            w.grid.number(head + 1 + k, j, parts[name])
    chart = waterfall_chart(
        w.ws, head, data_col, len(steps), f"{fig.code}: bridge from outturn to plan (£000)"
    )
    size_chart(chart, max(16.0, width_cm(w.ws, 2, w.out.last_col) - 0.3), _BRIDGE_CM)
    w.ws.add_chart(chart, f"B{head}")
    w.out.charts.append(head)
    w.r = max(head + len(steps), head + _BRIDGE_ROWS - 1)
