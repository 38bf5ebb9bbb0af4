"""Engine tests: hand-checked worked examples and property tests.

Hand-checked example (the ``small`` example in ``cipmodel/inputs/examples.py``), £000:

    Income: NHS clinical 12,000 a year, flat -> 1,000 a month.
    Costs:  pay 9,000 (750/month), other non-pay 2,400 (200/month), depreciation 600 (50/month).
    Do-nothing surplus = 12,000 - 9,000 - 2,400 - 600 = 0.

    Scheme S1: pay, FYE 240 (20/month), start month 4 (July), ramp 2 months:
        month 4: 1/3 x 20 = 6.667, month 5: 2/3 x 20 = 13.333, months 6..12: 7 x 20 = 140
        in-year = 160.000; recurrent, so year 2 (if projected) = 240.
    Scheme S2: non-pay, FYE 120 (10/month), start month 7, no ramp, non-recurrent:
        months 7..12 = 6 x 10 = 60; year 2 = 0.
    CIP in year = 220.000. Surplus = 0 + 220 = 220; control total 200 -> variance +20, met.
    Opex before CIP = 11,400 -> CIP planned = 220 / 11,400 = 1.9298%.
    YTD at Q1 (months 1-3): surplus 0 vs flat CT 3 x 200/12 = 50 -> variance -50.
    YTD at Q2 (months 1-6): CIP 6.667 + 13.333 + 20 = 40 vs CT 100 -> variance -60.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cipmodel.engine.project import Draws, compile_plan, project
from cipmodel.examples import example_portfolio
from cipmodel.inputs.records import Portfolio, Scheme
from cipmodel.results.run import run_plan

GBP_K = 1e-6  # £000 tolerance for hand-checked arithmetic (exact up to float rounding)


def _year(arr: np.ndarray, y: int = 1) -> np.ndarray:
    return arr[..., 12 * (y - 1) : 12 * y].sum(axis=-1)


def test_small_trust_by_hand() -> None:
    """The small example reproduces the arithmetic in the module docstring."""
    pr = project(compile_plan(example_portfolio("small")))
    assert _year(pr.cip_total)[0, 0] == pytest.approx(220.0, abs=GBP_K)
    assert _year(pr.surplus_pre_stf)[0, 0] == pytest.approx(220.0, abs=GBP_K)
    np.testing.assert_allclose(pr.cip_scheme_year[0, :, 0], [160.0, 60.0], atol=GBP_K)
    monthly_s1 = pr.cip[0, 0, :, :12].sum(axis=0)  # both schemes, by month
    np.testing.assert_allclose(
        monthly_s1, [0, 0, 0, 20 / 3, 40 / 3, 20, 30, 30, 30, 30, 30, 30], atol=GBP_K
    )
    var = pr.ytd_variance()[0, 0, 0]
    assert var[2] == pytest.approx(-50.0, abs=GBP_K)
    assert var[5] == pytest.approx(-60.0, abs=GBP_K)
    assert var[11] == pytest.approx(20.0, abs=GBP_K)


def test_small_trust_summary_by_hand() -> None:
    """run_plan reports the same control-total and CIP figures as the docstring."""
    r = run_plan(example_portfolio("small"))
    ct = r.to_dict()["trusts"][0]["control_total"]
    cip = r.to_dict()["trusts"][0]["cip"]
    assert ct["variance"] == pytest.approx(20.0, abs=1e-5)
    assert ct["met"] is True
    assert ct["quarters"]["q1"] == pytest.approx(-50.0, abs=1e-5)
    assert cip["planned"] == pytest.approx(220.0, abs=1e-5)
    assert cip["planned_pct"] == pytest.approx(220 / 11400, abs=1e-6)
    # needed = planned - variance = 200, scale = 200 / 220
    assert cip["needed"] == pytest.approx(200.0, abs=0.02)


def _two_year(p: Portfolio) -> Portfolio:
    trusts = tuple(dataclasses.replace(t, horizon_years=2, source=None) for t in p.trusts)
    return p.replace(trusts=trusts)


def test_recurrent_year_two_is_full_year_effect() -> None:
    """A recurrent scheme delivers its full-year effect in year 2; a non-recurrent one nothing."""
    pr = project(compile_plan(_two_year(example_portfolio("small"))))
    np.testing.assert_allclose(pr.cip_scheme_year[0, :, 1], [240.0, 0.0], atol=GBP_K)


def test_recurrent_ramp_past_year_end_still_full_in_year_two() -> None:
    """A scheme still ramping at 31 March is at full effect from April (FYE carried)."""
    p = _two_year(example_portfolio("small"))
    late = Scheme(
        trust_code="RSM",
        scheme_id="L",
        name="late",
        category="pay",
        value_fye=120.0,
        start_month=12,
        ramp_months=6,
    )
    pr = project(compile_plan(p.replace(cip=(*p.cip, late))))
    assert pr.cip_scheme_year[0, 2, 0] == pytest.approx(10 / 7, abs=GBP_K)
    assert pr.cip_scheme_year[0, 2, 1] == pytest.approx(120.0, abs=GBP_K)


def test_start_month_formula_matches_domain_rule() -> None:
    """A scheme starting in month m with no ramp delivers FYE x (13 - m) / 12 in year 1."""
    p = example_portfolio("small")
    for m in range(1, 13):
        s = Scheme(
            trust_code="RSM",
            scheme_id="X",
            name="x",
            category="non_pay",
            value_fye=1200.0,
            start_month=m,
        )
        pr = project(compile_plan(p.replace(cip=(s,))))
        assert pr.cip_scheme_year[0, 0, 0] == pytest.approx(1200 * (13 - m) / 12, abs=GBP_K)


def test_drivers_compound_by_line() -> None:
    """Year-2 drivers move each line by its own price and volume driver, compounding."""
    p = _two_year(example_portfolio("small")).replace(
        cip=(),
        drivers=(
            {"trust_code": "RSM", "year": 1, "pay_award": 0.01},
            {
                "trust_code": "RSM",
                "year": 2,
                "tariff_uplift": 0.03,
                "efficiency_factor": 0.02,
                "activity_growth": 0.05,
                "pay_award": 0.02,
                "non_pay_inflation": 0.1,
            },
        ),
    )
    pr = project(compile_plan(p))
    lines = pr.by_year(pr.do_nothing[0, 0])  # (L, Y)
    from cipmodel.engine.project import LINES

    L = {k: i for i, k in enumerate(LINES)}
    assert lines[L["pay_substantive"], 0] == pytest.approx(9000 * 1.01)
    assert lines[L["pay_substantive"], 1] == pytest.approx(9000 * 1.01 * 1.02 * 1.05)
    assert lines[L["nhs_clinical"], 1] == pytest.approx(12000 * 1.01 * 1.05)
    assert lines[L["other_non_pay"], 1] == pytest.approx(2400 * 1.1)  # no volume driver
    assert lines[L["depreciation"], 1] == pytest.approx(600)


def test_profiles_sum_to_annual() -> None:
    """Lines on a custom monthly profile still sum to their annual value."""
    p = example_portfolio("acute-11pc")
    pr = project(compile_plan(p.replace(cip=(), drivers=())))
    annual = {}
    for rec in (*p.income, *p.costs):
        annual[rec.line] = annual.get(rec.line, 0.0) + rec.annual_value
    from cipmodel.engine.project import LINES

    by_year = pr.by_year(pr.do_nothing[0, 0])
    for li, line in enumerate(LINES):
        assert by_year[li, 0] == pytest.approx(annual.get(line, 0.0), rel=1e-12)
    # and the working-day profile is not flat
    nhs = pr.do_nothing[0, 0, LINES.index("nhs_clinical"), :12]
    assert nhs.max() > nhs.min() * 1.1


def test_zero_value_scheme_changes_nothing() -> None:
    """Adding a scheme worth 0 leaves every output unchanged."""
    p = example_portfolio("acute-11pc")
    zero = Scheme(trust_code="RXX", scheme_id="Z", name="zero", category="income", value_fye=0.0)
    a = project(compile_plan(p))
    b = project(compile_plan(p.replace(cip=(*p.cip, zero))))
    np.testing.assert_array_equal(a.surplus_pre_stf, b.surplus_pre_stf)
    np.testing.assert_array_equal(a.cip, b.cip)


@settings(max_examples=30, deadline=None)
@given(k=st.floats(min_value=0.0, max_value=5.0, allow_nan=False))
def test_scaling_schemes_scales_cip(k: float) -> None:
    """Scaling every scheme's value by k scales CIP delivered by k."""
    p = example_portfolio("acute-11pc")
    a = project(compile_plan(p))
    b = project(compile_plan(p.with_cip_scaled(k)))
    np.testing.assert_allclose(b.cip_total, k * a.cip_total, rtol=1e-12, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    fye=st.floats(min_value=0, max_value=1e5),
    start=st.integers(1, 12),
    ramp=st.integers(0, 12),
    recurrent=st.booleans(),
)
def test_scheme_effect_bounds(fye: float, start: int, ramp: int, recurrent: bool) -> None:
    """In-year effect is between 0 and the FYE; a recurrent scheme gives FYE in year 2."""
    p = _two_year(example_portfolio("small"))
    s = Scheme(
        trust_code="RSM",
        scheme_id="H",
        name="h",
        category="pay",
        value_fye=fye,
        start_month=start,
        ramp_months=ramp,
        recurrent=recurrent,
    )
    pr = project(compile_plan(p.replace(cip=(s,))))
    y1, y2 = pr.cip_scheme_year[0, 0]
    assert -1e-9 <= y1 <= fye * (13 - start) / 12 + 1e-9
    assert y2 == pytest.approx(fye if recurrent else 0.0, abs=1e-9)


def test_draws_are_one_code_path() -> None:
    """Many identical draws give exactly the plan run, draw by draw."""
    plan = compile_plan(example_portfolio("acute-11pc"))
    one = project(plan)
    many = project(plan, Draws(n=3, delivery=np.ones((3, plan.n_schemes))))
    for d in range(3):
        np.testing.assert_array_equal(many.surplus_pre_stf[d], one.surplus_pre_stf[0])


def test_delivery_and_slip_draws() -> None:
    """Half delivery halves the CIP; a slip of three months delays the start."""
    plan = compile_plan(example_portfolio("small"))
    half = project(plan, Draws(n=1, delivery=np.full((1, 2), 0.5)))
    assert _year(half.cip_total)[0, 0] == pytest.approx(110.0)
    slipped = project(plan, Draws(n=1, slip=np.array([[3, 0]])))
    # S1 now starts in month 7 with a 2-month ramp: 20/3 + 40/3 + 4 x 20 = 100
    assert slipped.cip_scheme_year[0, 0, 0] == pytest.approx(100.0)


def test_portfolio_of_many_matches_each_alone() -> None:
    """Running trusts together gives each trust the same answers as running it alone."""
    a, b = example_portfolio("acute-11pc"), example_portfolio("small")
    both = Portfolio(
        **{
            t: (*getattr(a, t), *getattr(b, t))
            for t in (
                "trusts",
                "income",
                "costs",
                "cip",
                "control_total",
                "funding",
                "financing",
                "drivers",
                "profiles",
            )
        }
    )
    pr = project(compile_plan(both))
    pa = project(compile_plan(a))
    pb = project(compile_plan(b))
    np.testing.assert_allclose(pr.surplus_pre_stf[0, 0], pa.surplus_pre_stf[0, 0])
    # the small trust has a 1-year horizon: months beyond are masked to 0
    np.testing.assert_allclose(pr.surplus_pre_stf[0, 1, :12], pb.surplus_pre_stf[0, 0])
    assert np.all(pr.surplus_pre_stf[0, 1, 12:] == 0)
