"""The board summary: the results workbook's first sheet, one landscape page for a board.

Its numbers are checked against ``run --json`` (the contract every output renders) and
against figures worked out here from the run's scheme table, not from the sheet's own code;
its print setup here, and how it really prints (one page) and recalculates (every formula
to the engine's value) in ``test_results_libreoffice.py``.
"""

from __future__ import annotations

import dataclasses
import re
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from test_results_workbook import fake_simulation

from cipmodel.examples import example_portfolio
from cipmodel.formatting import money
from cipmodel.io import board_charts
from cipmodel.io.charts import WATERFALL_SERIES, waterfall_parts
from cipmodel.io.results_workbook import build_results_workbook, write_results_workbook
from cipmodel.results.run import RunResult, run_plan

BOARD = "Board summary"


@pytest.fixture(scope="module")
def board(example_result: RunResult) -> Any:
    """The board sheet as a viewer that does not recalculate sees it (saved values)."""
    return build_results_workbook(example_result).reopen(data_only=True)[BOARD]


def _find(ws: Any, label: str, col: int = 1) -> int:
    """The row whose column ``col`` holds ``label``."""
    for r in range(1, ws.max_row + 1):
        if ws.cell(r, col).value == label:
            return r
    raise AssertionError(f"no {label!r} in column {col} of {ws.title}")


def test_board_is_the_first_and_active_sheet_on_one_landscape_page(
    example_result: RunResult, multi_result: RunResult
) -> None:
    """One trust or a portfolio: the board summary comes first and opens first; it prints
    on one landscape A4 page, fitted to it, its charts' data right of the print area."""
    for result in (example_result, multi_result):
        wb = build_results_workbook(result).reopen()
        assert wb.sheetnames[0] == BOARD and wb.active.title == BOARD
        ws = wb[BOARD]
        assert ws.page_setup.orientation == "landscape"
        assert int(ws.page_setup.paperSize) == 9
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 1
        assert ws.oddFooter.center.text == "Page &P of &N"
    ws = build_results_workbook(example_result).reopen()[BOARD]
    area = ws.print_area.split("!")[-1].replace("$", "")
    last_col = re.match(r"A1:([A-Z]+)\d+", area)
    assert last_col is not None
    data = _find(ws, "Chart data (not printed)", openpyxl.utils.column_index_from_string("M"))
    assert data  # column M: right of the print area A..K
    assert last_col.group(1) == "K"


def test_key_figures_are_the_run_answers(board: Any, example_result: RunResult) -> None:
    """Control total pre- and post-STF (post = pre-STF target + allocation; reported =
    pre-STF surplus + STF/PSF earned), CIP needed with its band, planned, unidentified,
    the gap, the score, trigger and segment: the saved values are ``run --json``'s."""
    t = example_result.to_dict()["trusts"][0]
    ct, cip, f = t["control_total"], t["cip"], t["funding"]

    def b(label: str, col: int = 2) -> Any:
        return board.cell(_find(board, label), col).value

    assert b("Control total, pre-STF basis") == pytest.approx(ct["target"])
    assert b("Forecast surplus/(deficit) before STF/PSF") == pytest.approx(ct["forecast"])
    assert b("Variance, pre-STF (the STF/PSF gate)") == pytest.approx(ct["variance"], abs=1e-6)
    assert b("Variance, pre-STF (the STF/PSF gate)", 4) == ("met" if ct["met"] else "missed")
    assert b("STF/PSF allocation") == pytest.approx(f["allocation"])
    post = ct["target"] + f["allocation"]
    assert b("Control total with STF/PSF (post-STF)") == pytest.approx(post)
    reported = t["reported_surplus"]
    assert reported == pytest.approx(ct["forecast"] + f["earned"], abs=1e-5)  # JSON: 6 dp
    assert b("Reported surplus/(deficit), with STF/PSF earned") == pytest.approx(reported)
    assert b("Variance, post-STF") == pytest.approx(reported - post, abs=1e-6)
    assert b("Variance, post-STF", 4) == ("met" if reported >= post else "missed")
    assert b("CIP needed to meet the control total") == pytest.approx(cip["needed"], abs=1e-6)
    assert b("CIP needed to meet the control total", 3) == pytest.approx(
        cip["needed_pct"], abs=1e-6
    )
    assert b("CIP needed to meet the control total", 4) == cip["needed_band"]
    assert b("CIP planned") == pytest.approx(cip["planned"], abs=1e-6)
    unidentified = b("of which unidentified (no scheme yet)")
    assert unidentified == pytest.approx(cip["unidentified"], abs=1e-6) and unidentified > 0
    gap = b("Gap: CIP needed less CIP planned")
    assert gap == pytest.approx(cip["needed"] - cip["planned"], abs=1e-6)
    score = "Finance and use of resources score (1 best, 4 worst)"
    assert b(score) == t["score"]["overall"]
    assert b("Finance trigger (score 3 or 4)") == ("yes" if t["finance_trigger"] else "no")
    segment = t["candidate_segment"]
    assert b("Candidate segment (finance theme only)") == segment["segment"]


def test_stf_by_quarter_and_each_plan_year(board: Any, example_result: RunResult) -> None:
    """STF/PSF by quarter (and the year, with the year-end amounts) and each plan year side
    by side are ``run --json``'s figures."""
    t = example_result.to_dict()["trusts"][0]
    f = t["funding"]
    earned = _find(board, "Earned (year: with year-end amounts)", 6)
    lost = _find(board, "Lost (year: forfeited)", 6)
    for q, key in enumerate(("q1", "q2", "q3", "q4")):
        assert board.cell(earned, 7 + q).value == pytest.approx(f["quarters"][key]["earned"])
        assert board.cell(lost, 7 + q).value == pytest.approx(f["quarters"][key]["lost"])
    assert board.cell(earned, 11).value == pytest.approx(f["earned"])
    assert board.cell(lost, 11).value == pytest.approx(f["lost"])
    years = t["years"]
    assert len(years) == 2
    head = _find(board, "Each plan year (£000)", 6) + 1
    assert [board.cell(head, 7 + k).value for k in range(2)] == ["2017/18", "2018/19"]
    rows = {
        "Surplus/(deficit) before STF/PSF": "surplus_pre_stf",
        "Control total, pre-STF basis": "control_total_pre_stf",
        "Variance: surplus less control total": "variance",
        "CIP planned, the year's own": "cip_planned",
        "CIP, % of expenditure before CIP": "cip_planned_pct",
    }
    for label, key in rows.items():
        r = _find(board, label, 6)
        for k, y in enumerate(years):
            assert board.cell(r, 7 + k).value == pytest.approx(y[key], abs=1e-6), (label, k)
    met = _find(board, "Control total met, pre-STF?", 6)
    assert [board.cell(met, 7 + k).value for k in range(2)] == [
        "met" if y["met"] else "missed" for y in years
    ]
    score = _find(board, "Finance and use of resources score", 6)
    assert board.cell(score, 7).value == t["score"]["overall"]
    # every plan year is assessed (2018/19 under its own rules)
    assert board.cell(score, 8).value == years[1]["score"]["overall"]


def test_largest_risks_are_the_largest_red_amber_or_unidentified_schemes(
    board: Any, example_result: RunResult
) -> None:
    """The five largest red, amber or unidentified schemes by in-year value, with stage and
    RAG, worked out here from the run's scheme table."""
    df = example_result.schemes()
    risky = df[df.rag.isin(["red", "amber"]) | (df.stage == "unidentified")]
    top = risky.sort_values(["in_year_y1", "scheme_id"], ascending=[False, True]).head(5)
    head = _find(board, "Scheme", 6)
    got = [
        (str(board.cell(head + 1 + k, 6).value).split(" ")[0], board.cell(head + 1 + k, 7).value)
        for k in range(5)
    ]
    want = [(str(s), float(v)) for s, v in zip(top.scheme_id, top.in_year_y1, strict=True)]
    assert [g[0] for g in got] == [w[0] for w in want]
    assert [g[1] for g in got] == pytest.approx([w[1] for w in want])
    for k, row in enumerate(top.itertuples()):
        rag = board.cell(head + 1 + k, 8).value
        assert rag == ("unidentified" if row.stage == "unidentified" else row.rag)
    assert board.cell(head + 6, 6).value is None  # five, no more


def test_pipeline_chart_data_is_cip_by_stage_and_rag(
    tmp_path: Path, example_result: RunResult
) -> None:
    """The CIP pipeline's data: in-year CIP by stage and RAG (unidentified its own column)
    summing to the CIP planned; the chart stacks one series per RAG and unidentified, and
    the board's two charts read the Summary and the board."""
    path = tmp_path / "results.xlsx"
    write_results_workbook(path, example_result)
    ws = openpyxl.load_workbook(path, data_only=True)[BOARD]
    col = openpyxl.utils.column_index_from_string("M")
    head = _find(ws, "Stage", col)
    series = [ws.cell(head, col + 1 + j).value for j in range(5)]
    assert series == ["blue (complete)", "green", "amber", "red", "unidentified"]
    df = example_result.schemes()
    total = 0.0
    for k in range(6):
        stage = ws.cell(head + 1 + k, col).value
        key = "qia_approved" if stage == "QIA approved" else stage
        for j, rag in enumerate(["blue", "green", "amber", "red", "unidentified"]):
            got = ws.cell(head + 1 + k, col + 1 + j).value or 0.0
            named = df[(df.stage == key) & (df.rag == rag) & (df.stage != "unidentified")]
            want = (
                df[df.stage == "unidentified"].in_year_y1.sum()
                if rag == "unidentified" and key == "unidentified"
                else named.in_year_y1.sum()
            )
            assert got == pytest.approx(want, abs=1e-6), (stage, rag)
            total += got
    assert total == pytest.approx(example_result.to_dict()["trusts"][0]["cip"]["planned"])
    with zipfile.ZipFile(path) as zf:
        rels = zf.read("xl/worksheets/_rels/sheet1.xml.rels").decode()
        drawing = re.search(r"drawings/(drawing\d+\.xml)", rels)
        assert drawing is not None
        drels = zf.read(f"xl/drawings/_rels/{drawing.group(1)}.rels").decode()
        charts = re.findall(r"charts/(chart\d+\.xml)", drels)
        xml = [zf.read(f"xl/charts/{c}").decode() for c in charts]
    assert len(xml) == 3  # the example gives an outturn, so the bridge is drawn too
    assert any("Bridge from outturn to plan" in x for x in xml)
    pipeline = next(x for x in xml if "CIP pipeline" in x)
    assert re.search(r'<(c:)?grouping val="stacked"\s*/>', pipeline)
    assert len(re.findall(r"<(?:c:)?ser>", pipeline)) == 5
    assert any("Year to date against control total" in x for x in xml)


def test_headline_says_met_or_not_by_how_much_pre_and_post_stf(
    example_result: RunResult,
) -> None:
    """The headline: met or missed and by how much, pre-STF and post-STF, in the JSON's
    numbers; with a simulation, P(meet) too."""
    t = example_result.to_dict()["trusts"][0]
    ct, f = t["control_total"], t["funding"]
    sim = fake_simulation(["RXX"])
    ws = build_results_workbook(example_result, simulation=sim).reopen()[BOARD]
    text = ws["A2"].value
    post = ct["target"] + f["allocation"]
    post_var = t["reported_surplus"] - post
    pre_word = "meets" if ct["met"] else "misses"
    post_word = "meets" if post_var >= 0 else "misses"
    assert text.startswith(f"The plan {pre_word} the 2017/18 control total before STF/PSF")
    assert f"With STF/PSF it {post_word} it by {money(abs(post_var))}" in text
    assert money(ct["forecast"]) in text and money(post) in text
    assert "met in 42.0% of 10,000 simulated outcomes" in text
    p = _find(ws, "P(meet the pre-STF control total), simulated")
    assert ws.cell(p, 2).value == pytest.approx(0.42)
    assert "has no" not in (ws["A3"].value or "")


def test_portfolio_board_counts_by_trust_type(multi_result: RunResult) -> None:
    """A portfolio's board: by trust type and all trusts, the counts of trusts meeting the
    control total, at each score and in each candidate segment, and STF/PSF earned and
    forfeited, counted here from ``run --json``."""
    trusts = multi_result.to_dict()["trusts"]
    ws = build_results_workbook(multi_result).reopen(data_only=True)[BOARD]
    head = _find(ws, "Trust type")
    heads = [ws.cell(head, j).value for j in range(1, 19)]
    row = _find(ws, "All trusts")
    got = {h: ws.cell(row, j).value for j, h in enumerate(heads, start=1)}
    scores = Counter(t["score"]["overall"] for t in trusts)
    segments = Counter(t["candidate_segment"]["segment"] for t in trusts)
    met = sum(1 for t in trusts if t["control_total"]["met"])
    assert got["Trusts"] == len(trusts)
    assert got["Meeting the control total"] == met
    assert got["Share meeting it"] == pytest.approx(met / len(trusts))
    for k in range(1, 5):
        label = f"Score {k}" + (" (best)" if k == 1 else " (worst)" if k == 4 else "")
        assert got[label] == scores.get(k, 0), label
        assert got[f"Segment {k}"] == segments.get(k, 0)
    assert got["STF/PSF earned"] == pytest.approx(sum(t["funding"]["earned"] for t in trusts))
    assert got["STF/PSF forfeited"] == pytest.approx(sum(t["funding"]["lost"] for t in trusts))
    acute = _find(ws, "Acute")
    assert ws.cell(acute, 2).value == len(trusts)  # the three are acute
    short = _find(ws, "Trust", 1)
    variances = [ws.cell(short + 1 + k, 5).value for k in range(3)]
    assert variances == sorted(variances)  # furthest below the control total first
    assert ws["A2"].value.startswith(f"{met} of 3 trusts")
    assert ws.cell(short - 1, 1).value.startswith("Every trust")
    charts = build_results_workbook(multi_result).reopen()[BOARD]._charts
    assert len(charts) == 2  # trusts at each score and in each segment, by trust type
    sim = fake_simulation(list(multi_result.plan.codes))  # P(meet) 0.42 each
    simulated = build_results_workbook(multi_result, simulation=sim).reopen()[BOARD]
    assert "Simulated, 1.3 of them are expected to meet it" in simulated["A2"].value


def test_a_plan_without_cip_says_so(example_result: RunResult) -> None:
    """No CIP schemes: the plan misses by the CIP it needs, the sentence says none is
    planned, and the risks say there are none."""
    base = example_portfolio("acute-11pc")
    result = run_plan(dataclasses.replace(base, cip=()))
    t = result.to_dict()["trusts"][0]
    ws = build_results_workbook(result).reopen(data_only=True)[BOARD]
    assert ws["A2"].value.startswith("The plan misses the 2017/18 control total before STF/PSF")
    assert f"by {money(abs(t['control_total']['variance']))}:" in ws["A2"].value
    assert "no CIP is planned" in ws["A3"].value
    assert _find(ws, "No red, amber or unidentified schemes.", 6)
    assert ws.cell(_find(ws, "CIP planned"), 2).value == 0


def test_waterfall_parts_draw_each_step_from_where_the_last_ended() -> None:
    """A bridge from an outturn of (5,000) through a pay award of (2,000), CIP of 8,000 to a
    plan of 1,000: each bar's stacked parts, worked out by hand."""
    steps = [("outturn", -5000.0), ("pay award", -2000.0), ("CIP", 8000.0), ("plan", 1000.0)]
    parts = waterfall_parts(steps)
    nonzero = [{k: v for k, v in p.items() if v} for p in parts]
    assert nonzero[0] == {"level below 0": -5000.0}  # 0 down to (5,000)
    assert nonzero[1] == {"base": -5000.0, "fall below 0": -2000.0}  # (5,000) to (7,000)
    assert nonzero[2] == {"rise": 1000.0, "rise below 0": -7000.0}  # (7,000) up to 1,000
    assert nonzero[3] == {"level": 1000.0}
    assert [name for name, _fill in WATERFALL_SERIES][0] == "base"


def test_a_bridge_adds_a_waterfall_beside_the_pipeline(
    example_result: RunResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the run gives a bridge from the outturn, the board draws it as a third chart."""
    steps = [("outturn", -5000.0), ("pay award", -2000.0), ("CIP", 8000.0), ("plan", 1000.0)]
    monkeypatch.setattr(board_charts, "bridge_steps", lambda fig, short=False: steps)
    wb = build_results_workbook(example_result).reopen()
    ws = wb[BOARD]
    assert len(ws._charts) == 3
    col = openpyxl.utils.column_index_from_string("M")
    head = _find(ws, "Step", col)
    assert [ws.cell(head + 1 + k, col).value for k in range(4)] == [s for s, _v in steps]


def test_risk_adjusted_cip_has_its_own_line() -> None:
    """The risk-adjusted CIP (each scheme's expected delivery under the priors pack, the
    plan views of docs/plan-views.md) shows on its own line under the unidentified CIP,
    equal to run --json's year-1 ``cip.risk_adjusted.expected`` and named for linking."""
    result = run_plan(example_portfolio("acute-11pc"))
    want = result.to_dict()["trusts"][0]["years"][0]["cip"]["risk_adjusted"]["expected"]
    built = build_results_workbook(result)
    ws = built.reopen(data_only=True)[BOARD]
    r = _find(ws, "CIP risk-adjusted (expected, by stage and RAG)")
    assert ws.cell(r, 2).value == pytest.approx(want, abs=1e-6)
    assert ws.cell(r, 2).value < result.figures[0].cip.planned
    assert r == _find(ws, "of which unidentified (no scheme yet)") + 1
    assert built.names["RXX_CIP_risk_adjusted"] == f"'{BOARD}'!$B${r}"
