"""The bridge from the prior-year forecast outturn to the plan (issue 10 item 6).

The example's steps are worked by hand from its inputs (acute_11pc.py: the Income, Costs,
Drivers and Outturn rows); the property test checks that the steps add up exactly (within
1e-6 £000, float rounding) to the engine's plan year 1 pre-STF surplus on random plans.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cipmodel.errors import ValidationError
from cipmodel.examples import example_portfolio
from cipmodel.inputs.records import Portfolio
from cipmodel.results.bridge import BRIDGE_ORDER, bridge, bridge_dict
from cipmodel.results.run import run_plan

TOL = 1e-6  # £000: the steps telescope exactly; only float rounding remains


def _steps(p: Portfolio, code: str) -> dict[str, float]:
    run = run_plan(p)
    steps = bridge(p, run.plan, run.projection, code)
    assert steps is not None
    assert tuple(s.step for s in steps) == BRIDGE_ORDER
    total = sum(s.value for s in steps[:-1])
    assert abs(total - steps[-1].value) <= TOL
    return {s.step: s.value for s in steps}


def test_example_by_hand() -> None:
    s = _steps(example_portfolio("acute-11pc"), "RXX")
    # recurrent outturn: income 396,200 - opex 418,600 - non-operating 19,760 = -42,160;
    # one-offs: land sale +1,800, accrual release +1,500, escalation ward -1,200 = +2,100
    assert s["prior_year_outturn"] == pytest.approx(-40060.0, abs=TOL)
    assert s["remove_non_recurrent"] == pytest.approx(-2100.0, abs=TOL)
    # tariff: (2.1% - 2.0%) x clinical income 358,000
    assert s["tariff"] == pytest.approx(358.0, abs=TOL)
    # activity 2% at the year's prices: income 358,000 x 1.001; pay 279,000 x 1.021,
    # drugs 42,000 x 1.04, clinical supplies 40,000 x 1.02
    act = 0.02 * (358000 * 1.001 - 279000 * 1.021 - 42000 * 1.04 - 40000 * 1.02)
    assert s["activity"] == pytest.approx(act, abs=TOL)
    assert s["pay_award"] == pytest.approx(-0.021 * 279000, abs=TOL)
    assert s["non_pay_and_drug_inflation"] == pytest.approx(
        -(0.04 * 42000 + 0.02 * (40000 + 12000 + 50000)), abs=TOL
    )
    # base-year plan: income 400,000 - opex 423,000 - non-operating 20,000 = -43,000
    assert s["other_cost_pressures"] == pytest.approx(-43000.0 + 42160.0, abs=TOL)
    assert s["non_recurrent_plan_items"] == 0.0
    assert s["plan_surplus"] == pytest.approx(-3999.04, abs=0.01)


def test_no_outturn_no_bridge() -> None:
    p = example_portfolio("acute-11pc").replace(outturn=())
    run = run_plan(p)
    assert bridge(p, run.plan, run.projection, "RXX") is None
    assert bridge_dict(None) is None


def test_json_shape() -> None:
    p = example_portfolio("acute-11pc")
    run = run_plan(p)
    d = bridge_dict(bridge(p, run.plan, run.projection, "RXX"))
    assert d is not None
    assert [e["step"] for e in d] == list(BRIDGE_ORDER)
    assert set(d[0]) == {"step", "value"}


LINES_IN = ["nhs_clinical", "other_clinical", "education_training", "research", "other_operating"]
LINES_OUT = [
    "pay_substantive",
    "pay_bank",
    "pay_agency",
    "drugs",
    "clinical_supplies",
    "pfi_unitary",
    "other_non_pay",
    "depreciation",
    "pdc_dividend",
    "interest_payable",
    "interest_receivable",
]
money = st.floats(min_value=1, max_value=500_000, allow_nan=False)
rate = st.floats(min_value=-0.05, max_value=0.1, allow_nan=False)
flag = st.sampled_from(["Y", "N", "NR", None])


@st.composite
def plans(draw: st.DrawFn) -> Portfolio:
    code = "RP1"
    income = [
        {"trust_code": code, "line": ln, "annual_value": draw(money), "recurrent": draw(flag)}
        for ln in draw(st.lists(st.sampled_from(LINES_IN), min_size=1, max_size=6))
    ]
    costs = [
        {"trust_code": code, "line": ln, "annual_value": draw(money), "recurrent": draw(flag)}
        for ln in ["pay_substantive", *draw(st.lists(st.sampled_from(LINES_OUT), max_size=12))]
    ]
    # a trust has some recurrent pay: with every line one-off its plan year 2 has nothing to
    # score, which the run refuses (naming the trust and year), a different test's business
    costs[0]["recurrent"] = "Y"
    cip = [
        {
            "trust_code": code,
            "scheme_id": f"S{k}",
            "name": "s",
            "category": draw(st.sampled_from(["pay", "non_pay", "income"])),
            "value_fye": draw(st.floats(min_value=0, max_value=20_000)),
            "start_month": draw(st.integers(1, 12)),
            "start_year": draw(st.integers(1, 2)),
            "ramp_months": draw(st.integers(0, 12)),
            "recurrent": draw(st.booleans()),
            "stage": draw(st.sampled_from(["unidentified", "idea", "plan", "delivered"])),
        }
        for k in range(draw(st.integers(0, 8)))
    ]
    outturn = [
        {
            "trust_code": code,
            "line": ln,
            "outturn": draw(st.floats(min_value=-5_000, max_value=500_000)),
            "recurrent": draw(flag),
        }
        for ln in draw(st.lists(st.sampled_from(LINES_IN + LINES_OUT), min_size=1, max_size=20))
    ]
    drivers = {
        "trust_code": code,
        "year": 1,
        "tariff_uplift": draw(rate),
        "efficiency_factor": draw(st.floats(min_value=0, max_value=0.05)),
        "activity_growth": draw(rate),
        "pay_award": draw(rate),
        "non_pay_inflation": draw(rate),
        "drug_inflation": draw(rate),
    }
    return Portfolio(
        trusts=[{"trust_code": code, "name": "P", "trust_type": "acute", "horizon_years": 2}],
        income=income,
        costs=costs,
        cip=cip,
        control_total=[{"trust_code": code, "year": 1, "target_pre_stf": 0.0}],
        drivers=[drivers],
        outturn=outturn,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans())
def test_bridge_adds_up_on_random_plans(p: Portfolio) -> None:
    try:
        _steps(p, "RP1")
    except ValidationError as exc:  # a plan with nothing to score in year 2 is refused
        assume("no finance metric can be scored" not in str(exc))
        raise


def test_waterfall_chart() -> None:
    """cipmodel.plot.bridge_waterfall: one bar per step; each step floats from the running
    total, so the last step's top is the plan surplus's bar."""
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from cipmodel import plot

    p = example_portfolio("acute-11pc")
    run = run_plan(p)
    ax = plot.bridge_waterfall(run, "RXX")
    bars = ax.patches
    assert len(bars) == len(BRIDGE_ORDER)
    last_step = bars[-2]
    top = last_step.get_y() + last_step.get_height()
    assert top == pytest.approx(bars[-1].get_height(), abs=TOL)
    assert ax.get_xticklabels()[0].get_text().replace("\n", " ") == "Prior-year forecast outturn"
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="no Outturn rows"):
        plot.bridge_waterfall(run_plan(p.replace(outturn=())), "RXX")


def test_run_json_carries_the_views() -> None:
    """run --json: per trust `bridge` (null without an outturn); per year
    `cip.risk_adjusted`, `control_total.forecast_risk_adjusted` and `underlying`."""
    p = example_portfolio("acute-11pc")
    (t,) = run_plan(p).to_dict()["trusts"]
    assert t["bridge"] is not None
    assert [e["step"] for e in t["bridge"]] == list(BRIDGE_ORDER)
    assert len(t["years"]) == 2
    for y in t["years"]:
        assert set(y["cip"]["risk_adjusted"]) >= {"planned", "expected", "at_risk"}
        assert set(y["control_total"]["forecast_risk_adjusted"]) == {"forecast", "variance", "met"}
        assert y["underlying"]["surplus"] is not None
    (t,) = run_plan(p.replace(outturn=())).to_dict()["trusts"]
    assert t["bridge"] is None
