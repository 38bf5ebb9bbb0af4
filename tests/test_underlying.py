"""The underlying position and the recurrent flag of Income and Costs rows (issue 10 item 5).

Expected values are worked by hand in the docstrings (the ramp formula of docs/schema.md:
a scheme starting ``n`` months before the year end with a ramp of ``r`` delivers
``n - r / 2`` months of its full effect once the ramp is done).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cipmodel.engine.compile import compile_plan
from cipmodel.engine.project import project
from cipmodel.errors import ValidationError
from cipmodel.examples import example_portfolio
from cipmodel.inputs.records import CostLine, IncomeLine, Portfolio
from cipmodel.results.run import run_plan
from cipmodel.results.underlying import recurrent_cip_exit, underlying, underlying_dict


def _plan(flag: object = "NR") -> Portfolio:
    return Portfolio(
        trusts=[{"trust_code": "RU1", "name": "U", "trust_type": "acute", "horizon_years": 2}],
        income=[{"trust_code": "RU1", "line": "nhs_clinical", "annual_value": 12000.0}],
        costs=[
            {"trust_code": "RU1", "line": "pay_substantive", "annual_value": 9000.0},
            {
                "trust_code": "RU1",
                "line": "other_non_pay",
                "annual_value": 600.0,
                "description": "One-off consultancy",
                "recurrent": flag,
            },
        ],
        cip=[
            {
                "trust_code": "RU1",
                "scheme_id": "S1",
                "name": "Rostering",
                "category": "pay",
                "value_fye": 240.0,
                "start_month": 4,
                "ramp_months": 2,
            },
            {
                "trust_code": "RU1",
                "scheme_id": "S2",
                "name": "Accrual release",
                "category": "non_pay",
                "value_fye": 120.0,
                "start_month": 7,
                "recurrent": False,
            },
        ],
        control_total=[{"trust_code": "RU1", "year": y, "target_pre_stf": 2000.0} for y in (1, 2)],
        drivers=[{"trust_code": "RU1", "year": 2, "pay_award": 0.02}],
    )


def test_underlying_by_hand() -> None:
    """Year 1: 12,000 - 9,000 - 600 (one-off) + S1 (July start, ramp 2: 9 - 1 = 8 months x 20
    = 160) + S2 (October, 6 months x 10 = 60) = 2,620. Underlying: 12,000 - 9,000 + 240 (S1 at
    its March rate) = 3,240 = 2,620 + 600 - 60 + 80. Year 2: pay 9,000 x 1.02 = 9,180, the
    one-off gone, S1 in full, S2 not recurring: 12,000 - 9,180 + 240 = 3,060, all
    recurrent."""
    run = run_plan(_plan())
    ((y1, y2),) = underlying(run.plan, run.projection)
    assert y1.forecast == pytest.approx(2620.0, abs=1e-9)
    assert y1.non_recurrent_lines == pytest.approx(-600.0, abs=1e-9)
    assert y1.non_recurrent_cip == pytest.approx(60.0, abs=1e-9)
    assert y1.cip_full_year_effect == pytest.approx(80.0, abs=1e-9)
    assert y1.underlying == pytest.approx(3240.0, abs=1e-9)
    assert y2.forecast == pytest.approx(3060.0, abs=1e-9)
    assert (y2.non_recurrent_lines, y2.non_recurrent_cip) == (0.0, 0.0)
    assert y2.cip_full_year_effect == pytest.approx(0.0, abs=1e-9)
    assert y2.underlying == pytest.approx(3060.0, abs=1e-9)
    d = underlying_dict(y1)
    assert d["surplus"] == 3240.0 and d["basis"].startswith("pre_stf")


def test_recurrent_row_recurs() -> None:
    """The same plan with the row recurrent: year 2 carries the 600 grown by nothing (other
    non-pay has no inflation here): 3,060 - 600 = 2,460; year 1 is unchanged."""
    run = run_plan(_plan(flag="Y"))
    ((y1, y2),) = underlying(run.plan, run.projection)
    assert y1.forecast == pytest.approx(2620.0, abs=1e-9)
    assert y1.non_recurrent_lines == 0.0
    assert y2.forecast == pytest.approx(2460.0, abs=1e-9)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("", True),
        (None, True),
        ("Y", True),
        ("r", True),
        ("Recurrent", True),
        ("N", False),
        ("NR", False),
        ("non-recurrent", False),
        ("Non Recurrent", False),
    ],
)
def test_flag_words(text: object, value: bool) -> None:
    row = {"trust_code": "RU1", "line": "research", "annual_value": 1.0, "recurrent": text}
    assert IncomeLine(**row).recurrent is value
    row["line"] = "drugs"
    assert CostLine(**row).recurrent is value


def test_flag_refuses_anything_else() -> None:
    with pytest.raises(ValidationError, match=r"recurrent must be Y or N .*NR.*got 'sometimes'"):
        CostLine(trust_code="RU1", line="drugs", annual_value=1.0, recurrent="sometimes")


def test_existing_plans_unchanged() -> None:
    """No row flagged: the compiled plan has no recurrent base and every number is the same
    as with every row explicitly recurrent; flagging a row changes years 2 on only."""
    p = example_portfolio("acute-11pc")
    plan = compile_plan(p)
    assert plan.base_month_recurrent is None
    explicit = p.replace(income=tuple(dataclasses.replace(r, recurrent=True) for r in p.income))
    a = project(plan).surplus_pre_stf
    b = project(compile_plan(explicit)).surplus_pre_stf
    assert np.array_equal(a, b)
    flagged_costs = (dataclasses.replace(p.costs[0], recurrent=False), *p.costs[1:])
    c = project(compile_plan(p.replace(costs=flagged_costs))).surplus_pre_stf
    assert np.array_equal(a[..., :12], c[..., :12])
    assert np.all(c[..., 12:] > a[..., 12:])  # a cost that does not recur


def test_exit_rate_is_the_engines_march() -> None:
    """recurrent_cip_exit is the engine's CIP in each March x 12, for recurrent schemes."""
    p = example_portfolio("acute-11pc")
    p = p.replace(cip=tuple(s for s in p.cip if s.recurrent))
    plan = compile_plan(p)
    march = project(plan).cip_total[0, 0, 11::12] * 12  # (Y,)
    np.testing.assert_allclose(recurrent_cip_exit(plan).sum(axis=0), march, rtol=1e-12)


def test_example_underlying() -> None:
    run = run_plan(example_portfolio("acute-11pc"))
    ((y1, y2),) = underlying(run.plan, run.projection)
    # the example's one-off schemes (P07, P14, N10, N11, N17, I06) are taken out of year 1
    assert y1.non_recurrent_cip > 0
    assert y1.underlying == pytest.approx(
        y1.forecast - y1.non_recurrent_lines - y1.non_recurrent_cip + y1.cip_full_year_effect
    )
    assert y2.non_recurrent_lines == 0.0


def test_plan_views_of_a_run() -> None:
    """plan_views gathers each trust's three views; the example has a bridge."""
    from cipmodel.results.plan_views import plan_views

    p = example_portfolio("acute-11pc")
    run = run_plan(p)
    (views,) = plan_views(p, run.plan, run.projection)
    assert views.priors == "priors-2017"
    assert len(views.risk_adjusted) == len(views.underlying) == 2
    assert views.bridge is not None and views.bridge[-1].value == pytest.approx(
        views.underlying[0].forecast
    )
