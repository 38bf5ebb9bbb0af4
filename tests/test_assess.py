"""End to end: the STF gate, reported surplus, metrics and score move together.

The worked example (``acute-11pc``) plans to meet its 2017/18 pre-STF control total of
(4,000) with £963 to spare; its Q1..Q4 YTD margins over the profile are 99.6, 3.3, 81.8 and
1.0 (£000, tests/test_engine and the plan run). Its STF allocation is 12,000 under
stf-2017-18: 70% finance / 30% A&E, phased 15/20/30/35%.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cipmodel.engine.assess import assess
from cipmodel.engine.project import compile_plan, project
from cipmodel.examples import example_portfolio
from cipmodel.inputs.records import CostLine
from cipmodel.results.run import run_plan

NON_PAY_INFLATION_Y1 = 1.02  # the example's year-1 non-pay inflation (examples.py drivers)


def _with_extra_cost(amount: float):  # noqa: ANN202
    """The example with an extra flat other-non-pay cost of ``amount`` in year 1 (£000).

    The base value is deflated by the year-1 non-pay inflation so the year-1 cost is
    exactly ``amount`` (``amount / 12`` a month).
    """
    p = example_portfolio("acute-11pc")
    extra = CostLine(
        trust_code="RXX", line="other_non_pay", annual_value=amount / NON_PAY_INFLATION_Y1
    )
    return p.replace(costs=(*p.costs, extra))


def test_cliff_edge_one_thousand_pounds_short_loses_the_quarter() -> None:
    """£1k short of the Q2 gate loses Q2's finance element; exactly on it keeps it.

    Q2 YTD margin is 3.3289 (£000). An extra cost C a year is C/2 by month 6. With C/2 =
    3.3289 + 1 the trust is £1k short at Q2 (and still passes Q1 and Q3): Q2 finance element
    = 12,000 x 70% x 20% = 1,680 and, as the performance element needs the finance gate,
    the A&E element 12,000 x 30% x 20% = 720 too: 2,400 lost in Q2.
    """
    base = run_plan(example_portfolio("acute-11pc"))
    margin_q2 = float(base.projection.ytd_variance()[0, 0, 0, 5])
    short = run_plan(_with_extra_cost(2 * (margin_q2 + 1.0)))
    f = short.assessment.funding
    assert list(f.met_quarter[0, 0]) == [True, False, True, False]
    assert f.lost[0, 0, 1] == pytest.approx(2400.0)
    on_gate = run_plan(_with_extra_cost(2 * margin_q2 - 1e-6))
    assert bool(on_gate.assessment.funding.met_quarter[0, 0, 1])
    assert on_gate.assessment.funding.lost[0, 0, 1] == pytest.approx(0.0)


def test_missing_control_total_lowers_reported_surplus_by_stf_lost() -> None:
    """Reported surplus = pre-STF surplus + STF earned, so a miss costs the STF lost too."""
    base = run_plan(example_portfolio("acute-11pc"))
    miss = run_plan(_with_extra_cost(3000.0))  # misses Q2 and the year end
    for r in (base, miss):
        t = r.to_dict()["trusts"][0]
        assert t["reported_surplus"] == pytest.approx(
            t["control_total"]["forecast"] + t["funding"]["earned"], abs=1e-4
        )
    b, m = base.to_dict()["trusts"][0], miss.to_dict()["trusts"][0]
    assert b["control_total"]["forecast"] - m["control_total"]["forecast"] == pytest.approx(3000.0)
    drop = b["reported_surplus"] - m["reported_surplus"]
    stf_lost = b["funding"]["earned"] - m["funding"]["earned"]
    assert stf_lost > 0
    assert drop == pytest.approx(3000.0 + stf_lost, abs=1e-4)
    assert m["metrics"]["ie_margin"]["value"] < b["metrics"]["ie_margin"]["value"]


def test_ie_margin_score_reflects_stf_lost() -> None:
    """Missing Q2 and the year end by ~£39k loses 6,600 of STF and a point of I&E margin.

    Extra cost 40 a year: Q2 YTD margin 3.33 - 20 < 0 and Q4 margin 0.96 - 40 < 0, Q1 and
    Q3 still pass. Earned = Q1 1,260 (A&E missed in Q1) + Q3 3,600 = 4,860. Reported
    surplus = (4,039.0) + 4,860 = 821 on income ~414,518: margin 0.2% -> score 2, where the
    plan's 1.77% scored 1.
    """
    good = run_plan(_with_extra_cost(0.0)).to_dict()["trusts"][0]
    assert good["metrics"]["ie_margin"]["score"] == 1
    t = run_plan(_with_extra_cost(40.0)).to_dict()["trusts"][0]
    assert t["control_total"]["met"] is False
    q = t["funding"]["quarters"]
    assert [q[f"q{i}"]["gate_met"] for i in range(1, 5)] == [True, False, True, False]
    assert t["funding"]["earned"] == pytest.approx(1260.0 + 3600.0)
    assert t["reported_surplus"] == pytest.approx(t["control_total"]["forecast"] + 4860.0, abs=1e-4)
    assert t["metrics"]["ie_margin"]["score"] == 2


def test_not_accepted_means_no_funding_and_capped_score() -> None:
    """No accepted control total: no STF at all, and O2 caps the score (deficit plan)."""
    p = example_portfolio("acute-11pc")
    cts = tuple(dataclasses.replace(c, accepted=False, source=None) for c in p.control_total)
    t = run_plan(p.replace(control_total=cts)).to_dict()["trusts"][0]
    assert t["funding"]["earned"] == 0.0
    assert t["funding"]["lost"] == pytest.approx(12000.0)
    assert t["score"]["overall"] >= 3
    assert "O2" in t["score"]["overrides"]


def test_special_measures_sets_four() -> None:
    """A trust in financial special measures scores 4 and is a candidate for segment 4."""
    p = example_portfolio("acute-11pc")
    trusts = (dataclasses.replace(p.trusts[0], financial_special_measures=True, source=None),)
    t = run_plan(p.replace(trusts=trusts)).to_dict()["trusts"][0]
    assert t["score"]["overall"] == 4
    assert "O4" in t["score"]["overrides"]
    assert t["candidate_segment"]["segment"] == 4
    assert t["finance_trigger"] is True


def test_funding_rules_switch_without_code_branches() -> None:
    """The same plan under each funding pack phases the allocation as the pack says."""
    p = example_portfolio("acute-11pc")
    for pack, phasing in (
        ("stf-2016-17", [0.25] * 4),
        ("stf-2017-18", [0.15, 0.2, 0.3, 0.35]),
        ("psf-2018-19", [0.15, 0.2, 0.3, 0.35]),
    ):
        f = run_plan(p, funding_rules=pack).assessment.funding
        np.testing.assert_allclose(f.available[0, 0], 12000 * np.array(phasing))


def test_json_has_no_nan() -> None:
    """Nothing in run --json is NaN or infinite, even with a metric not applicable."""
    import json

    p = example_portfolio("acute-11pc")
    trusts = (dataclasses.replace(p.trusts[0], agency_ceiling=None, source=None),)
    d = run_plan(p.replace(trusts=trusts)).to_dict()
    text = json.dumps(d, allow_nan=False)
    assert "no agency ceiling set" in text
    assert d["trusts"][0]["metrics"]["agency_vs_ceiling"]["score"] is None


def test_plan_run_equals_engine_projection() -> None:
    """The plan run's forecast is the engine's projection at planned values."""
    p = example_portfolio("acute-11pc")
    pr = project(compile_plan(p))
    t = run_plan(p).to_dict()["trusts"][0]
    assert t["control_total"]["forecast"] == pytest.approx(
        float(pr.by_year(pr.surplus_pre_stf)[0, 0, 0]), abs=1e-6
    )


def test_default_funding_rules_come_from_the_plans_own_year() -> None:
    """Called without rules or years, assess uses the plan's financial year, not a default."""
    p = example_portfolio("acute-11pc")
    p18 = p.replace(
        trusts=tuple(dataclasses.replace(t, financial_year="2018/19") for t in p.trusts)
    )
    for portfolio, pack in ((p, "stf-2017-18"), (p18, "psf-2018-19")):
        proj = project(compile_plan(portfolio))
        assert assess(proj, proj).rules["funding"] == pack
