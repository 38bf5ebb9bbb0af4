"""The Plan years sheet, the board's plan-years table and the per-year names of the results
workbook, against ``run --json``.

Every figure the Plan years sheet shows is read back as a reader sees it (each formula's
saved value: ``openpyxl`` with ``data_only=True``) and compared with the same field of
``run --json``'s ``trusts[i].years[k]`` (or ``trusts[i].bridge``), by the row's label and
the JSON path this test lists itself, so a row showing the wrong field fails. Money is
compared to 1e-6 £000 (the saved values are the engine's float64 numbers), shares to 1e-9.
LibreOffice's recalculation of every formula, the new sheet's included, is checked in
``tests/test_results_libreoffice.py``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import openpyxl
import pytest

from cipmodel.examples import example_portfolio
from cipmodel.io.results_workbook import build_results_workbook
from cipmodel.results.run import RunResult, run_plan

SHEET = "Plan years"

#: Row label on the Plan years sheet -> the path of the same figure in a year of run --json.
YEAR_FIELDS: dict[str, tuple[str, ...]] = {
    "Financial year": ("financial_year",),
    "Control total, pre-STF": ("control_total", "target"),
    "Forecast surplus/(deficit) before STF/PSF": ("control_total", "forecast"),
    "Variance: forecast less control total": ("control_total", "variance"),
    "Control total met, pre-STF?": ("control_total", "met"),
    "Brought forward (earlier years' recurrent schemes)": ("cip", "brought_forward"),
    "New schemes in the year": ("cip", "new"),
    "CIP planned in year (brought forward + new)": ("cip", "planned"),
    "CIP planned, % of expenditure before CIP": ("cip", "planned_pct"),
    "of which unidentified": ("cip", "unidentified"),
    "Earlier years' non-recurrent savings to replace": ("cip", "non_recurrent_gap"),
    "CIP needed to meet the control total": ("cip", "needed"),
    "CIP needed, % of expenditure before CIP": ("cip", "needed_pct"),
    "CIP needed: evidence band": ("cip", "needed_band"),
    "CIP expected": ("cip", "risk_adjusted", "expected"),
    "CIP at risk: planned less expected": ("cip", "risk_adjusted", "at_risk"),
    "of which unidentified, expected": ("cip", "risk_adjusted", "unidentified_expected"),
    "Forecast surplus/(deficit), risk-adjusted": (
        "control_total",
        "forecast_risk_adjusted",
        "forecast",
    ),
    "Variance: risk-adjusted forecast less control total": (
        "control_total",
        "forecast_risk_adjusted",
        "variance",
    ),
    "Control total met, risk-adjusted?": ("control_total", "forecast_risk_adjusted", "met"),
    "less non-recurrent income and costs": ("underlying", "non_recurrent_lines"),
    "less non-recurrent CIP": ("underlying", "non_recurrent_cip"),
    "plus recurrent CIP's full-year effect": ("underlying", "cip_full_year_effect"),
    "Underlying surplus/(deficit)": ("underlying", "surplus"),
    "Rules": ("funding", "rules"),
    "STF/PSF earned in the year": ("funding", "earned"),
    "STF/PSF lost (forfeited)": ("funding", "lost"),
    "Year end: catch-up released": ("funding", "catch_up_released"),
    "Year end: incentive": ("funding", "incentive"),
    "Year end: bonus": ("funding", "bonus"),
    "Control total with STF/PSF: pre-STF target + allocation": ("control_total", "target_post_stf"),
    "Reported surplus/(deficit): pre-STF + STF/PSF earned": ("reported_surplus",),
    "Variance: reported less control total with STF/PSF": (
        "control_total",
        "variance_post_stf",
    ),
    "Control total met, with STF/PSF?": ("control_total", "met_post_stf"),
    "Finance and use of resources score": ("score", "overall"),
    "Finance trigger (score 3 or 4)?": ("finance_trigger",),
    "Candidate segment (finance theme only)": ("candidate_segment", "segment"),
}
QUARTERS = {"Q1 (Apr-Jun)": "q1", "Q2 (Jul-Sep)": "q2", "Q3 (Oct-Dec)": "q3", "Q4 (Jan-Mar)": "q4"}
METRICS = {
    "Capital service capacity (times)": "capital_service_capacity",
    "Liquidity (days)": "liquidity_days",
    "I&E margin": "ie_margin",
    "Distance from financial plan": "distance_from_plan",
    "Agency spend against ceiling": "agency_vs_ceiling",
}


@pytest.fixture(scope="module")
def example() -> RunResult:
    return run_plan(example_portfolio("acute-11pc"), input="example:acute-11pc")


def _get(d: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if d is None:
            return None
        d = d[key]
    return d


def _same(got: Any, want: Any) -> bool:
    """A cell as saved against a JSON value: met/missed and yes/no for booleans, blank for
    null, numbers to 1e-6."""
    if want is None:
        return got is None
    if isinstance(want, bool):
        return got in (("met", "yes") if want else ("missed", "no", "NO"))
    if isinstance(want, (int, float)):
        return isinstance(got, (int, float)) and abs(got - want) <= 1e-6 * max(1.0, abs(want))
    return bool(got == want)


def _blocks(ws: Any) -> dict[str, dict[str, list[Any]]]:
    """Per trust code, each row label -> the row's plan-year cells (column C on), the
    quarter rows keyed ``"Q1 (Apr-Jun): earned"`` as labelled; a repeated label (the
    metric scores) gets the metric's label before it."""
    n_years = ws.max_column
    heads = [c.value for c in ws[1]]
    n_years = sum(1 for h in heads if isinstance(h, str) and h.startswith("Plan year"))
    out: dict[str, dict[str, list[Any]]] = {}
    last = ""
    for row in ws.iter_rows(min_row=2, values_only=True):
        code, label = row[0], row[1]
        if not code or not label or label.startswith(str(code) + " "):
            continue
        label = str(label)
        key = f"{last} score" if label.startswith("score") else label
        last = label
        out.setdefault(str(code), {})[key] = list(row[2 : 2 + n_years])
    return out


def test_plan_years_sheet_equals_run_json(example: RunResult) -> None:
    """Every figure on the Plan years sheet, in every plan year, is run --json's."""
    wb = build_results_workbook(example).reopen(data_only=True)
    assert wb.sheetnames[:3] == ["Board summary", "Summary", SHEET]
    t = example.to_dict()["trusts"][0]
    rows = _blocks(wb[SHEET])["RXX"]
    years = t["years"]
    assert len(years) == 2  # the worked example: 2017/18 then 2018/19
    checked = 0
    for label, path in YEAR_FIELDS.items():
        for k, y in enumerate(years):
            got, want = rows[label][k], _get(y, path)
            assert _same(got, want), (label, k + 1, got, want)
            checked += 1
    for qlabel, q in QUARTERS.items():
        for part in ("available", "earned", "lost"):
            for k, y in enumerate(years):
                want = _get(y, ("funding", "quarters", q, part))
                assert _same(rows[f"{qlabel}: {part}"][k], want), (qlabel, part, k)
                checked += 1
        for k, y in enumerate(years):
            want = _get(y, ("funding", "quarters", q, "gate_met"))
            assert _same(rows[f"{qlabel}: gate met?"][k], want)
    for mlabel, m in METRICS.items():
        for k, y in enumerate(years):
            metric = y["metrics"][m]
            value = "n/a" if metric.get("not_applicable") else metric["value"]
            assert _same(rows[mlabel][k], value), (mlabel, k)
            score = "n/a" if metric["score"] is None else metric["score"]
            assert _same(rows[f"{mlabel} score"][k], score), (mlabel, k)
            checked += 2
    for k, y in enumerate(years):  # the allocation is given with the funding
        assert _same(rows["Allocation"][k], y["funding"]["allocation"])
    assert checked > 100
    # both years assessed, under their own rules
    assert [r for r in rows["Assessed (rule pack), or why not"]] == [
        y["funding"]["rules"] for y in years
    ]
    assert years[0]["funding"]["rules"] != years[1]["funding"]["rules"]


def test_bridge_on_the_plan_years_sheet(example: RunResult) -> None:
    """The bridge from outturn to plan: each step is run --json's, and the plan surplus is
    a SUM of the steps saved with the engine's plan year 1 surplus."""
    built = build_results_workbook(example)
    t = example.to_dict()["trusts"][0]
    if t.get("bridge") is None:
        pytest.skip("the worked example gives no outturn")
    ws = built.reopen(data_only=True)[SHEET]
    formulas = built.reopen()[SHEET]
    steps = t["bridge"]
    start = next(
        r for r in range(1, ws.max_row + 1) if str(ws.cell(r, 2).value).startswith("RXX: bridge")
    )
    got = [ws.cell(start + 1 + k, 3).value for k in range(len(steps))]
    assert got == pytest.approx([s["value"] for s in steps], abs=1e-6)  # in order
    r = start + len(steps)
    assert "sum" in str(ws.cell(r, 2).value)
    assert got[-1] == pytest.approx(t["years"][0]["control_total"]["forecast"], abs=1e-6)
    assert sum(got[:-1]) == pytest.approx(got[-1], abs=1e-6)
    assert str(formulas.cell(r, 3).value).startswith("=SUM(C")
    assert f"{SHEET}!C{r}" in built.expected


def test_bridge_labels_read_as_the_results_layer_words_them(example: RunResult) -> None:
    """The bridge table labels each step as results.bridge words it (one source; "CIP:
    pay", never a re-capitalised "Cip: pay"), and the waterfall's data the short names."""
    from cipmodel.results.bridge import BRIDGE_LABELS, BRIDGE_SHORT_LABELS

    t = example.to_dict()["trusts"][0]
    if t.get("bridge") is None:
        pytest.skip("the worked example gives no outturn")
    ws = build_results_workbook(example).reopen()[SHEET]
    steps = [s["step"] for s in t["bridge"]]
    start = next(
        r for r in range(1, ws.max_row + 1) if str(ws.cell(r, 2).value).startswith("RXX: bridge")
    )
    labels = [ws.cell(start + 1 + k, 2).value for k in range(len(steps) - 1)]
    assert labels == [BRIDGE_LABELS[s] for s in steps[:-1]]
    cells = {c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
    assert {BRIDGE_SHORT_LABELS[s] for s in steps} <= cells  # the chart's categories
    assert not any(v.startswith("Cip") for v in cells)


def test_every_year_named(example: RunResult) -> None:
    """Each plan year's headline figures have names (``RXX_Y2_CT_variance``...) whose
    cells hold run --json's values."""
    built = build_results_workbook(example)
    wb = built.reopen(data_only=True)
    t = example.to_dict()["trusts"][0]

    def value(name: str) -> Any:
        ((sheet, ref),) = list(wb.defined_names[name].destinations)
        return wb[sheet][ref.replace("$", "")].value

    fields = {
        "CT_variance": ("control_total", "variance"),
        "CT_post_STF": ("control_total", "target_post_stf"),
        "CT_variance_post_STF": ("control_total", "variance_post_stf"),
        "reported_surplus": ("reported_surplus",),
        "CIP_planned": ("cip", "planned"),
        "CIP_needed": ("cip", "needed"),
        "CIP_needed_pct": ("cip", "needed_pct"),
        "forecast_risk_adjusted": ("control_total", "forecast_risk_adjusted", "forecast"),
        "underlying_surplus": ("underlying", "surplus"),
        "STF_earned": ("funding", "earned"),
        "STF_lost": ("funding", "lost"),
        "finance_score": ("score", "overall"),
        "segment": ("candidate_segment", "segment"),
    }
    for y in t["years"]:
        for suffix, path in fields.items():
            name = f"RXX_Y{y['year']}_{suffix}"
            assert name in built.names, name
            assert _same(value(name), _get(y, path)), name
            assert built.names[name].startswith("'Plan years'!$")


def test_board_plan_years_table(example: RunResult) -> None:
    """The board's plan-years table: each year's post-STF control total and reported
    surplus, met pre/post, the year's own CIP and needed with its band, the risk-adjusted
    forecast, STF/PSF earned and lost, score and segment, as run --json."""
    ws = build_results_workbook(example).reopen(data_only=True)["Board summary"]
    t = example.to_dict()["trusts"][0]
    head = next(
        r for r in range(1, ws.max_row + 1) if ws.cell(r, 6).value == "Each plan year (£000)"
    )
    table: dict[str, list[Any]] = {}
    for r in range(head + 2, head + 30):
        label = ws.cell(r, 6).value
        if not isinstance(label, str) or label.startswith("Largest risks"):
            break
        table[label] = [ws.cell(r, 7 + k).value for k in range(len(t["years"]))]
    fields = {
        "Control total with STF/PSF": ("control_total", "target_post_stf"),
        "Reported surplus/(deficit), with STF/PSF": ("reported_surplus",),
        "Control total met, pre-STF?": ("control_total", "met"),
        "Control total met, with STF/PSF?": ("control_total", "met_post_stf"),
        "CIP planned, the year's own": ("cip", "planned"),
        "CIP needed": ("cip", "needed"),
        "CIP needed, % of expenditure": ("cip", "needed_pct"),
        "CIP needed: evidence band": ("cip", "needed_band"),
        "Forecast surplus/(deficit), risk-adjusted": (
            "control_total",
            "forecast_risk_adjusted",
            "forecast",
        ),
        "STF/PSF earned": ("funding", "earned"),
        "STF/PSF lost": ("funding", "lost"),
        "Finance and use of resources score": ("score", "overall"),
        "Candidate segment": ("candidate_segment", "segment"),
    }
    for label, path in fields.items():
        for k, y in enumerate(t["years"]):
            assert _same(table[label][k], _get(y, path)), (label, k + 1, table[label][k])


def test_a_year_not_assessed_says_why(example: RunResult) -> None:
    """A plan year with no control total is projected, not assessed: its column on the
    Plan years sheet says why, and its funding and score rows are blank."""
    pf = example.portfolio
    cts = tuple(c for c in pf.control_total if c.year != 2)
    assert len(cts) < len(pf.control_total)
    result = run_plan(dataclasses.replace(pf, control_total=cts))
    y2 = result.figures[0].years[1]
    assert y2.assessed is None and y2.not_assessed
    ws = build_results_workbook(result).reopen(data_only=True)[SHEET]
    rows = _blocks(ws)["RXX"]
    assert rows["Assessed (rule pack), or why not"][1] == f"not assessed: {y2.not_assessed}"
    for label in ("STF/PSF earned in the year", "Finance and use of resources score"):
        assert rows[label][1] is None
        assert rows[label][0] is not None


def test_carried_again_the_year_names_are_defined_anew(example: RunResult, tmp_path: Any) -> None:
    """Results carried into a new results workbook again: an earlier run's per-year names
    (here one pointing at an old cell, as after a layout change) are replaced by this run's,
    not kept as if they were the user's own."""
    from openpyxl.workbook.defined_name import DefinedName

    from cipmodel.io import write_results_workbook
    from cipmodel.io.carry import write_carried_results

    first, second = tmp_path / "first.xlsx", tmp_path / "second.xlsx"
    write_results_workbook(first, example)
    wb = openpyxl.load_workbook(first)
    for name in ("RXX_Y2_CT_post_STF", "RXX_Y1_underlying_surplus"):
        del wb.defined_names[name]
        wb.defined_names[name] = DefinedName(name, attr_text="'Plan years'!$A$1")
    wb.save(first)
    write_carried_results(second, first, example)
    got = openpyxl.load_workbook(second, data_only=True)
    y1, y2 = example.to_dict()["trusts"][0]["years"]
    for name, want in (
        ("RXX_Y2_CT_post_STF", y2["control_total"]["target_post_stf"]),
        ("RXX_Y1_underlying_surplus", y1["underlying"]["surplus"]),
    ):
        ((sheet, ref),) = list(got.defined_names[name].destinations)
        assert sheet == SHEET and ref != "$A$1", name
        assert got[sheet][ref.replace("$", "")].value == pytest.approx(want, abs=1e-6)
