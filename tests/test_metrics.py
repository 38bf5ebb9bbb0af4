"""The five SOF metrics from a projection, checked by hand on a small trust.

Small trust (``examples.small``) with added lines, £000 a year, flat months:
    income 12,000; pay 9,000 of which agency 600 (ceiling 480); other non-pay 2,400;
    depreciation 600; PDC 150; interest payable 50; CIP 220 in year (see test_engine).
    Financing: opening WC -300, cash 100, principal 120/yr, capex 240/yr, no drawdown.
    STF earned 400 for the year, planned 400.

Full year (months = 12):
    income incl STF = 12,000 + 400 = 12,400
    opex = 8,400 + 600 + 2,400 - 220 (CIP on pay and non-pay) = 11,180
    EBITDA = 12,400 - 11,180 = 1,220
    reported surplus = 1,220 - 600 - 150 - 50 = 420
    I&E margin = 420 / 12,400 = 3.3871%
    capital service = 150 + 50 + 120 = 320; CSC = (1,220 + 0) / 320 = 3.8125x
    cash movement = 1,220 - 50 - 150 - 240 - 120 = 660; WC close = -300 + 660 = 360
    liquidity = 360 / 11,180 x 360 = 11.592 days
    agency vs ceiling = (600 - 480) / 480 = +25%
    planned margin (CT accepted) = (CT 200 + planned STF 400) / (plan-run operating
        income 12,000 + planned STF 400) = 600 / 12,400; distance = (420 - 600) / 12,400
"""

from __future__ import annotations

import numpy as np
import pytest

from cipmodel.engine.metrics import compute_metrics
from cipmodel.engine.project import compile_plan, project
from cipmodel.examples import example_portfolio
from cipmodel.inputs.records import CostLine, Financing


def _trust(**kw):  # noqa: ANN003, ANN202
    p = example_portfolio("small")
    trusts = (
        p.trusts[0].__class__(
            **{
                **{
                    a: getattr(p.trusts[0], a)
                    for a in (
                        "trust_code",
                        "name",
                        "trust_type",
                        "financial_year",
                        "horizon_years",
                        "financial_special_measures",
                    )
                },
                "agency_ceiling": kw.get("ceiling", 480.0),
            }
        ),
    )
    costs = (
        CostLine(trust_code="RSM", line="pay_substantive", annual_value=8400.0),
        CostLine(trust_code="RSM", line="pay_agency", annual_value=600.0),
        *p.costs[1:],
        CostLine(trust_code="RSM", line="pdc_dividend", annual_value=150.0),
        CostLine(trust_code="RSM", line="interest_payable", annual_value=50.0),
    )
    fin = (
        Financing(
            trust_code="RSM",
            opening_working_capital=-300.0,
            opening_cash=100.0,
            principal_repayment=120.0,
            capital_expenditure=240.0,
        ),
    )
    return p.replace(trusts=trusts, costs=costs, financing=fin)


def test_full_year_metrics_by_hand() -> None:
    """Each metric matches the hand calculation in the module docstring."""
    pr = project(compile_plan(_trust()))
    mv = compute_metrics(pr, pr, stf_earned_ytd=400.0, stf_planned_ytd=400.0, months=12)
    v = {k: float(a[0, 0]) for k, a in mv.values.items()}
    assert v["ie_margin"] == pytest.approx(420 / 12400)
    assert v["capital_service_capacity"] == pytest.approx(1220 / 320)
    assert v["liquidity_days"] == pytest.approx(360 / 11180 * 360)
    assert v["agency_vs_ceiling"] == pytest.approx(0.25)
    assert v["distance_from_plan"] == pytest.approx((420 - 600) / 12400)


def test_quarter_metrics_are_year_to_date() -> None:
    """At Q2 flows and the agency ceiling are half a year's; liquidity annualises opex."""
    pr = project(compile_plan(_trust()))
    mv = compute_metrics(pr, pr, stf_earned_ytd=200.0, stf_planned_ytd=200.0, months=6)
    c = {k: float(a[0, 0]) for k, a in mv.components.items()}
    assert c["agency_ceiling"] == pytest.approx(240.0)
    assert c["capital_service"] == pytest.approx(75 + 25 + 60)
    assert mv.values["agency_vs_ceiling"][0, 0] == pytest.approx(0.25)


def test_stf_lost_lowers_margin() -> None:
    """Losing STF lowers the reported surplus and I&E margin one for one."""
    pr = project(compile_plan(_trust()))
    full = compute_metrics(pr, pr, stf_earned_ytd=400.0, stf_planned_ytd=400.0)
    lost = compute_metrics(pr, pr, stf_earned_ytd=0.0, stf_planned_ytd=400.0)
    assert lost.components["reported_surplus"][0, 0] == pytest.approx(
        full.components["reported_surplus"][0, 0] - 400.0
    )
    assert lost.values["ie_margin"][0, 0] == pytest.approx(20 / 12000)


@pytest.mark.parametrize(
    ("change", "metric", "reason"),
    [
        ({"ceiling": None}, "agency_vs_ceiling", "no agency ceiling set"),
        ({"ceiling": 0.0}, "agency_vs_ceiling", "no agency ceiling set"),
    ],
)
def test_not_applicable_has_reason(change: dict, metric: str, reason: str) -> None:
    """A metric that cannot be computed is NaN with a reason, never a bare NaN."""
    pr = project(compile_plan(_trust(**change)))
    mv = compute_metrics(pr, pr, stf_earned_ytd=0.0, stf_planned_ytd=0.0)
    assert np.isnan(mv.values[metric][0, 0])
    assert mv.not_applicable[metric][0, 0] == reason
    for other in mv.values:
        if other != metric:
            assert np.isfinite(mv.values[other][0, 0]), other


def test_zero_income_and_zero_capital_service() -> None:
    """No income and no capital service make those metrics not applicable, with reasons."""
    p = _trust()
    p = p.replace(
        income=(),
        costs=tuple(c for c in p.costs if c.line not in ("pdc_dividend", "interest_payable")),
        financing=(),
    )
    pr = project(compile_plan(p))
    mv = compute_metrics(pr, pr, stf_earned_ytd=0.0, stf_planned_ytd=0.0)
    assert mv.not_applicable["ie_margin"][0, 0] == "no operating income"
    assert mv.not_applicable["capital_service_capacity"][0, 0].startswith("no capital service")
    assert np.isnan(mv.values["ie_margin"][0, 0])
    assert np.isfinite(mv.values["liquidity_days"][0, 0])


def test_later_year_needs_its_opening_balances() -> None:
    """A later plan year is refused without the year before's closing balances (the
    working-capital projection chains the years), and a year beyond the plan is refused."""
    pr = project(compile_plan(example_portfolio("acute-11pc")))
    with pytest.raises(ValueError, match="opening balances"):
        compute_metrics(pr, pr, stf_earned_ytd=0.0, stf_planned_ytd=0.0, year=2)
    with pytest.raises(ValueError, match="year must be from 1 to 2"):
        compute_metrics(pr, pr, stf_earned_ytd=0.0, stf_planned_ytd=0.0, year=3, opening=(0, 0))
