"""Every plan year assessed: a small two-year trust (2017/18 then 2018/19) worked by hand.

The expected values below are plain arithmetic on the inputs (no engine code), written out
in this docstring; the rule values they use are quoted from the packs (``stf-2017-18``,
``psf-2018-19``, ``sof-2016``, ``segmentation-2016``, ``cip-bands``). Money £000.

Trust RTW, flat months, no drivers (so both years' do-nothing run rate is the base):
    income 12,000; pay 9,000 (substantive 8,400, agency 600; agency ceiling 500);
    other non-pay 2,400; depreciation 600, PDC 150, interest payable 50.
    Do-nothing: operating expenditure 11,400; pre-STF surplus 12,000 - 11,400 - 800 = -200.
    Financing: opening WC -300, cash 100, loans 1,000; principal 120/yr, capex 240/yr.

Schemes (in-year effect year 1 / year 2):
    A pay, recurrent, FYE 240 from October of year 1:        120 / 240
    B non-pay, recurrent, FYE 120 from April of year 1:       120 / 120
    C non-pay, non-recurrent, FYE 60 from April of year 1:     60 /   0
    D pay, recurrent, FYE 120 from July of year 2:              0 /  90
Per-year CIP (NHS plan basis):
    year 1: new = 300, brought forward 0, planned 300;
    year 2: new = 90 (D), brought forward = A's rollover 240 - 120 = 120, planned 210;
            cumulative 450 = already in the base (A 120 + B 120) + 210;
            C's 60 does not carry: non-recurrent gap 60.
Pre-STF surplus: year 1 -200 + 300 = 100; year 2 -200 + 450 = 250.
    Monthly year 1: -200/12 + 15 (Apr-Sep), + 35 (Oct-Mar): YTD Q1 -5, Q2 -10, Q3 45, Q4 100.
    Monthly year 2: -200/12 + 30 (Apr-Jun), + 40 (Jul-Mar): YTD Q1 40, Q2 110, Q3 180, Q4 250.

Control totals (pre-STF), both accepted:
    year 1: 40 flat, YTD 10/20/30/40; STF 300 (Funding sheet). Gate: Q1 no, Q2 no, Q3 yes,
        Q4 yes; met by 60.
    year 2: 300 phased 10,10,10 / 20,20,20 / 40,40,40 / 30,30,30, YTD 30/90/210/300; PSF 600
        (ControlTotal stf_allocation). Gate: Q1 yes, Q2 yes, Q3 no, Q4 no; missed by 50.
Funding (no A&E, so the whole allocation is finance element; phasing 15/20/30/35 in both
packs; catch-up switched off for the test; bonus off):
    year 1 STF: available 45/60/90/105; earned 0/0/90/105; incentive ratio 1.0 x 60 = 60;
        earned 255, lost 105.
    year 2 PSF: available 90/120/180/210; earned 90/120/0/0; no incentive (missed);
        earned 210, lost 390.
Post-STF: year 1 target 40 + 300 = 340, reported 100 + 255 = 355, met (+15);
          year 2 target 300 + 600 = 900, reported 250 + 210 = 460, missed (-440).
Metrics (full year):
    year 1: income incl STF 12,255; opex 11,100; EBITDA 1,155; capital service 320;
        CSC 1,155/320; cash movement 1,155 - 50 - 150 - 240 - 120 = 595; WC close 295,
        cash close 695; liquidity 295/11,100 x 360; I&E margin 355/12,255;
        distance 355/12,255 - (40 + 300)/(12,000 + 300); agency (600 - 500)/500 = 0.2.
    year 2 opens on year 1's close: income 12,210; opex 10,950; EBITDA 1,260; CSC 1,260/320;
        cash movement 700; WC close 995, cash close 1,395; loans 1,000 - 2 x 120 = 760;
        liquidity 995/10,950 x 360; margin 460/12,210; distance 460/12,210 - 900/12,600.
Scores (sof-2016 thresholds): year 1 metrics 1,1,1,1,2 -> mean 1.2 -> 1, no trigger,
    segment 1; year 2 metrics 1,1,1,4,2 -> mean 1.8 -> 2, O1 (a metric at 4) caps at 3 ->
    3, trigger, candidate segment 2 (targeted support).
Solve year 2: only D moves: 250 + (k - 1) x 90 = 300, k = 1 + 50/90; needed = 120 + k x 90
    = 260, 260/11,400 = 2.28%: "stretching" (cip-bands 2-4%).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cipmodel.cli import cli
from cipmodel.errors import ValidationError
from cipmodel.inputs.records import Portfolio
from cipmodel.results.run import RunResult, run_plan

TOL = 1e-6  # £000 and ratios: exact up to float rounding


def _portfolio(first_year: str = "2017/18", **ct2: Any) -> Portfolio:
    code = "RTW"
    scheme = {"trust_code": code, "ramp_months": 0, "stage": "plan", "rag": "green"}
    pay, non_pay = "pay_substantive", "other_non_pay"
    return Portfolio(
        trusts=[
            {
                "trust_code": code,
                "name": "Two Year Trust",
                "trust_type": "acute",
                "financial_year": first_year,
                "horizon_years": 2,
                "agency_ceiling": 500.0,
            }
        ],
        income=[{"trust_code": code, "line": "nhs_clinical", "annual_value": 12000.0}],
        costs=[
            {"trust_code": code, "line": line, "annual_value": v}
            for line, v in (
                (pay, 8400.0),
                ("pay_agency", 600.0),
                (non_pay, 2400.0),
                ("depreciation", 600.0),
                ("pdc_dividend", 150.0),
                ("interest_payable", 50.0),
            )
        ],
        cip=[
            {
                **scheme,
                "scheme_id": "A",
                "name": "A",
                "category": "pay",
                "target_line": pay,
                "value_fye": 240.0,
                "start_year": 1,
                "start_month": 7,
                "recurrent": True,
            },
            {
                **scheme,
                "scheme_id": "B",
                "name": "B",
                "category": "non_pay",
                "target_line": non_pay,
                "value_fye": 120.0,
                "start_year": 1,
                "start_month": 1,
                "recurrent": True,
            },
            {
                **scheme,
                "scheme_id": "C",
                "name": "C",
                "category": "non_pay",
                "target_line": non_pay,
                "value_fye": 60.0,
                "start_year": 1,
                "start_month": 1,
                "recurrent": False,
            },
            {
                **scheme,
                "scheme_id": "D",
                "name": "D",
                "category": "pay",
                "target_line": pay,
                "value_fye": 120.0,
                "start_year": 2,
                "start_month": 4,
                "recurrent": True,
            },
        ],  # fmt: skip
        control_total=[
            {"trust_code": code, "year": 1, "target_pre_stf": 40.0, "accepted": True},
            {
                "trust_code": code,
                "year": 2,
                "target_pre_stf": 300.0,
                "accepted": True,
                "month": (10, 10, 10, 20, 20, 20, 40, 40, 40, 30, 30, 30),
                "stf_allocation": 600.0,
                **ct2,
            },
        ],
        funding=[{"trust_code": code, "allocation": 300.0, "ae_applies": False}],
        financing=[
            {
                "trust_code": code,
                "opening_cash": 100.0,
                "opening_working_capital": -300.0,
                "opening_loans": 1000.0,
                "principal_repayment": 120.0,
                "capital_expenditure": 240.0,
            }
        ],
        name="two-year",
    )


@pytest.fixture(scope="module")
def run() -> RunResult:
    return run_plan(_portfolio(), catch_up=False)


@pytest.fixture(scope="module")
def years(run: RunResult) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = run.to_dict()["trusts"][0]["years"]  # type: ignore[assignment]
    return out


def test_control_total_both_bases_by_hand(years: list[dict[str, Any]]) -> None:
    expected = [
        # target, forecast, met, target_post, reported, met_post
        (40.0, 100.0, True, 340.0, 355.0, True),
        (300.0, 250.0, False, 900.0, 460.0, False),
    ]
    assert [y["financial_year"] for y in years] == ["2017/18", "2018/19"]
    for y, (tgt, fc, met, tgt_post, rep, met_post) in zip(years, expected, strict=True):
        ct = y["control_total"]
        assert ct["target"] == pytest.approx(tgt, abs=TOL)
        assert ct["forecast"] == pytest.approx(fc, abs=TOL)
        assert ct["variance"] == pytest.approx(fc - tgt, abs=TOL)
        assert ct["met"] is met
        assert ct["target_post_stf"] == pytest.approx(tgt_post, abs=TOL)
        assert ct["forecast_post_stf"] == pytest.approx(rep, abs=TOL)
        assert ct["variance_post_stf"] == pytest.approx(rep - tgt_post, abs=TOL)
        assert ct["met_post_stf"] is met_post
        assert y["reported_surplus"] == pytest.approx(rep, abs=TOL)
    q1 = [-5 - 10, -10 - 20, 45 - 30, 100 - 40]
    q2 = [40 - 30, 110 - 90, 180 - 210, 250 - 300]
    for y, q in zip(years, (q1, q2), strict=True):
        assert list(y["control_total"]["quarters"].values()) == pytest.approx(q, abs=TOL)


def test_cip_per_year_by_hand(years: list[dict[str, Any]]) -> None:
    y1, y2 = (y["cip"] for y in years)
    assert (y1["planned"], y1["brought_forward"], y1["new"]) == pytest.approx((300, 0, 300))
    assert y1["non_recurrent_gap"] == pytest.approx(0.0)
    assert (y2["planned"], y2["brought_forward"], y2["new"]) == pytest.approx((210, 120, 90))
    assert y2["non_recurrent_gap"] == pytest.approx(60.0)
    assert y2["planned_pct"] == pytest.approx(210 / 11400, abs=1e-6)
    # the flat key the first contract had is the per-year measure too
    assert years[1]["cip_planned"] == pytest.approx(210.0, abs=TOL)
    # year 2's need: only D moves (see the module docstring)
    assert y2["needed"] == pytest.approx(260.0, abs=0.01)
    assert y2["needed_pct"] == pytest.approx(260 / 11400, abs=1e-6)
    assert y2["needed_band"] == "stretching"
    assert y2["met_without_new"] is False


def test_funding_by_quarter_by_hand(years: list[dict[str, Any]]) -> None:
    expected = [
        ("stf-2017-18", 300, [45, 60, 90, 105], [0, 0, 90, 105], 60, 255, 105),
        ("psf-2018-19", 600, [90, 120, 180, 210], [90, 120, 0, 0], 0, 210, 390),
    ]
    for y, (rules, alloc, avail, earned, incentive, total, lost) in zip(
        years, expected, strict=True
    ):
        f = y["funding"]
        assert f["rules"] == rules
        assert f["allocation"] == pytest.approx(alloc)
        qs = list(f["quarters"].values())
        assert [q["available"] for q in qs] == pytest.approx(avail, abs=TOL)
        assert [q["earned"] for q in qs] == pytest.approx(earned, abs=TOL)
        assert [q["lost"] for q in qs] == pytest.approx(
            [a - e for a, e in zip(avail, earned, strict=True)], abs=TOL
        )
        assert [q["gate_met"] for q in qs] == [e > 0 for e in earned]
        assert f["incentive"] == pytest.approx(incentive, abs=TOL)
        assert f["earned"] == pytest.approx(total, abs=TOL)
        assert f["lost"] == pytest.approx(lost, abs=TOL)


def test_metrics_chain_the_years_by_hand(run: RunResult, years: list[dict[str, Any]]) -> None:
    expected = [
        {
            "capital_service_capacity": 1155 / 320,
            "liquidity_days": 295 / 11100 * 360,
            "ie_margin": 355 / 12255,
            "distance_from_plan": 355 / 12255 - 340 / 12300,
            "agency_vs_ceiling": 0.2,
        },
        {
            "capital_service_capacity": 1260 / 320,
            "liquidity_days": 995 / 10950 * 360,
            "ie_margin": 460 / 12210,
            "distance_from_plan": 460 / 12210 - 900 / 12600,
            "agency_vs_ceiling": 0.2,
        },
    ]
    for y, exp in zip(years, expected, strict=True):
        got = {k: m["value"] for k, m in y["metrics"].items()}
        assert got == pytest.approx(exp, abs=1e-6)
    # the balances behind year 2's liquidity: year 1's close is year 2's opening
    y2 = run.assessment.plan_year(2)
    assert y2 is not None
    comp = y2.full_year_metrics.components
    assert float(comp["working_capital_close"][0, 0]) == pytest.approx(995.0)
    assert float(comp["cash_close"][0, 0]) == pytest.approx(1395.0)
    assert float(comp["loans_close"][0, 0]) == pytest.approx(760.0)


def test_score_trigger_and_segment_by_hand(years: list[dict[str, Any]]) -> None:
    y1, y2 = years
    assert {k: m["score"] for k, m in y1["metrics"].items()} == {
        "capital_service_capacity": 1,
        "liquidity_days": 1,
        "ie_margin": 1,
        "distance_from_plan": 1,
        "agency_vs_ceiling": 2,
    }
    assert y1["score"]["overall"] == 1 and y1["finance_trigger"] is False
    assert y1["candidate_segment"]["segment"] == 1
    assert y2["metrics"]["distance_from_plan"]["score"] == 4
    assert y2["score"]["overall"] == 3 and "O1" in y2["score"]["overrides"]
    assert y2["finance_trigger"] is True
    assert y2["candidate_segment"]["segment"] == 2


def test_year_one_top_level_is_year_one(run: RunResult, years: list[dict[str, Any]]) -> None:
    """The trust's first contract keys are year 1's figures, now with the post-STF basis."""
    t = run.to_dict()["trusts"][0]
    assert t["control_total"] == {k: years[0]["control_total"][k] for k in t["control_total"]}
    assert t["funding"] == years[0]["funding"]
    assert t["score"] == years[0]["score"]
    assert t["reported_surplus"] == years[0]["reported_surplus"]


def test_summary_table_renders_the_same_figures(run: RunResult) -> None:
    s = run.trust_summary().set_index("year")
    assert list(s.financial_year) == ["2017/18", "2018/19"]
    assert list(s.control_total_post_stf) == pytest.approx([340.0, 900.0])
    assert list(s.reported_surplus) == pytest.approx([355.0, 460.0])
    assert list(s.cip_brought_forward) == pytest.approx([0.0, 120.0])
    assert list(s.cip_new) == pytest.approx([300.0, 90.0])
    assert list(s.stf_earned) == pytest.approx([255.0, 210.0])
    assert list(s.score) == [1, 3]


def test_a_year_with_no_rule_pack_is_projected_not_scored() -> None:
    """2018/19 then 2019/20: no pack for 2019/20, so year 2 is projected and says why."""
    d = run_plan(_portfolio("2018/19"), catch_up=False).to_dict()
    y2 = d["trusts"][0]["years"][1]
    assert y2["financial_year"] == "2019/20"
    assert y2["not_assessed"] == "no rule pack for 2019/20: projected, not funded or scored"
    assert y2["funding"] is None and y2["score"] is None and y2["reported_surplus"] is None
    assert y2["control_total"]["forecast"] == pytest.approx(250.0)  # still projected
    assert y2["control_total"]["target_post_stf"] == pytest.approx(900.0)
    assert "psf-2018-19" in d["provenance"]["rules"]


def test_explicit_funding_rules_set_year_one_only() -> None:
    """--funding-rules X is year 1's pack; later years take their own financial year's."""
    d = run_plan(_portfolio(), funding_rules="psf-2018-19", catch_up=False).to_dict()
    years = d["trusts"][0]["years"]
    assert [y["funding"]["rules"] for y in years] == ["psf-2018-19", "psf-2018-19"]
    # PSF's 2:1 incentive rewards the control-total improvement agreed (incentive.basis
    # "agreed_improvement"); this trust agreed none, so beating year 1 by 60 earns nothing
    assert years[0]["funding"]["incentive"] == pytest.approx(0.0)
    # the outperformance reading (variant): 2 x 60 = 120
    d = run_plan(_portfolio(), funding_rules="psf-2018-19:outperformance", catch_up=False)
    years = d.to_dict()["trusts"][0]["years"]
    assert years[0]["funding"]["rules"] == "psf-2018-19:outperformance"
    assert years[0]["funding"]["incentive"] == pytest.approx(120.0)


def test_a_later_year_without_an_allocation_says_so() -> None:
    d = run_plan(_portfolio(stf_allocation=None), catch_up=False).to_dict()
    f = d["trusts"][0]["years"][1]["funding"]
    assert f["allocation"] == 0.0 and f["earned"] == pytest.approx(0.0)
    assert "no STF/PSF allocation given for 2018/19" in f["note"]
    assert d["trusts"][0]["years"][1]["control_total"]["target_post_stf"] == pytest.approx(300)


def test_year_one_allocation_given_twice_must_agree() -> None:
    p = _portfolio()
    ct1 = dataclasses.replace(p.control_total[0], stf_allocation=250.0)
    with pytest.raises(ValidationError, match="stf_allocation 250.0 differs"):
        p.replace(control_total=(ct1, p.control_total[1]))


def test_solve_year_two_answers_the_years_own_need(run: RunResult) -> None:
    from cipmodel.engine.solve import solve_cip

    d = solve_cip(run.plan, year=2, base=run.projection).to_dict()["trusts"][0]
    assert d["planned"] == pytest.approx(210.0)
    assert (d["brought_forward"], d["new"]) == pytest.approx((120.0, 90.0))
    assert d["needed"] == pytest.approx(260.0, abs=0.01)
    assert d["scale"] == pytest.approx(1 + 50 / 90, rel=1e-6)
    assert d["band"] == "stretching"


EXAMPLE = str(Path(__file__).resolve().parents[1] / "templates" / "example-acute-11pc.xlsx")


def test_terminal_summary_shows_both_years_on_both_bases() -> None:
    """`cipmodel run` on the two-year example prints each year pre- and post-STF."""
    r = CliRunner().invoke(cli, ["run", EXAMPLE])
    assert r.exit_code == 0, r.output
    assert "Control total (post-STF)" in r.output and "8,000" in r.output
    table = r.output[r.output.index("Plan years") :]
    assert "2017/18" in table and "2018/19" in table
    assert "stf-2017-18" in table and "psf-2018-19" in table
    assert "17,427/1,750" in table  # 2018/19 CIP: brought forward / new


def test_solve_year_two_on_the_command_line() -> None:
    r = CliRunner().invoke(cli, ["solve", EXAMPLE, "--year", "2", "--json"])
    assert r.exit_code == 0, r.output
    (t,) = json.loads(r.output)["trusts"]
    # the year's own need is the cumulative need less the year-1 recurrent savings already
    # in the 2018/19 cost base (brought forward + new = planned, on the same basis)
    assert t["planned"] == pytest.approx(t["brought_forward"] + t["new"])
    assert t["needed"] < t["planned"] and t["band"] == "high risk"


def test_a_later_year_without_a_control_total_is_not_scored() -> None:
    """No year-2 row: year 2 is projected, and not scored as a trust that refused one."""
    p = _portfolio()
    d = run_plan(p.replace(control_total=p.control_total[:1]), catch_up=False).to_dict()
    y2 = d["trusts"][0]["years"][1]
    assert y2["not_assessed"] == "no control total for 2018/19: projected, not funded or scored"
    assert y2["score"] is None and y2["cip"]["needed"] is None
    assert y2["cip"]["planned"] == pytest.approx(210.0)
