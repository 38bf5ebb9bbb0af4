"""The engine's closed forms agree with the plain formulas in :mod:`cipmodel.engine.formulas`.

The projection computes a scheme's in-year effect in closed form and the monthly CIP by
cumulative slopes (for speed); the synthetic generator uses the dense month-by-month ramp.
These tests tie them together so the two cannot drift (tolerance: 1e-9 £000, float rounding).
"""

from __future__ import annotations

import numpy as np
import pytest

from cipmodel.calendar import QUARTER_END_INDEX, QUARTER_END_MONTHS, cip_share
from cipmodel.engine.formulas import (
    DRIVERS,
    PRICE,
    VOLUME,
    line_growth,
    ramp_months_in_year,
    ramp_phase,
)
from cipmodel.engine.project import LINES, compile_plan, project
from cipmodel.inputs.records import Portfolio

TOL = 1e-9  # £000: float rounding only


@pytest.mark.parametrize("ramp", range(0, 13))
def test_closed_form_in_year_months_is_the_sum_of_the_ramp(ramp: int) -> None:
    """n(n+1)/(2(r+1)) or n - r/2 equals the month-by-month ramp summed over the year."""
    start = np.arange(12)
    dense = ramp_phase(start, np.full(12, ramp)).sum(axis=1)
    closed = ramp_months_in_year(12 - start, np.full(12, ramp))
    np.testing.assert_allclose(closed, dense, rtol=0, atol=1e-12)


def test_ramp_phase_is_zero_before_the_start_and_full_after_the_ramp() -> None:
    """Nothing before the start month; a full month from month start + ramp on."""
    phase = ramp_phase(np.array([3]), np.array([2]))[0]
    assert (phase[:3] == 0).all()
    np.testing.assert_allclose(phase[3:6], [1 / 3, 2 / 3, 1.0])
    assert (phase[6:] == 1).all()


def test_line_growth_is_price_times_volume() -> None:
    """Each line grows by its price driver times activity where it is volume-driven."""
    rng = np.random.default_rng(1)
    drv = rng.uniform(-0.02, 0.05, size=(3, len(DRIVERS)))
    got = line_growth(drv)
    act = drv[:, DRIVERS.index("activity_growth")]
    for i, line in enumerate(LINES):
        price = sum(PRICE[i, k] * drv[:, k] for k in range(len(DRIVERS)))
        want = (1 + price) * (1 + act * VOLUME[i])
        np.testing.assert_allclose(got[:, i], want, rtol=1e-15, err_msg=line)


def test_projection_cip_equals_the_dense_ramp() -> None:
    """Year-1 monthly CIP of every scheme equals FYE/12 x ramp_phase, summed by trust."""
    rng = np.random.default_rng(7)
    n = 25
    starts = rng.integers(1, 13, n)
    ramps = rng.integers(0, 7, n)
    values = rng.uniform(10, 500, n).round(1)
    portfolio = Portfolio(
        trusts=[{"trust_code": "RAA", "name": "Test", "trust_type": "acute"}],
        income=[{"trust_code": "RAA", "line": "nhs_clinical", "annual_value": 100000.0}],
        costs=[{"trust_code": "RAA", "line": "other_non_pay", "annual_value": 90000.0}],
        cip=[
            {
                "trust_code": "RAA",
                "scheme_id": f"S{k}",
                "name": f"Scheme {k}",
                "category": "non_pay",
                "value_fye": float(values[k]),
                "start_month": int(starts[k]),
                "ramp_months": int(ramps[k]),
            }
            for k in range(n)
        ],
        control_total=[{"trust_code": "RAA", "year": 1, "target_pre_stf": 0.0}],
    )
    proj = project(compile_plan(portfolio))
    got = proj.cip_total[0, 0, :12]
    want = (ramp_phase(starts - 1, ramps) * (values / 12.0)[:, None]).sum(axis=0)
    np.testing.assert_allclose(np.ravel(got), want, rtol=0, atol=TOL)


def test_calendar_quarter_ends_and_cip_share() -> None:
    """Quarter ends are June, September, December, March; CIP share is NaN without opex."""
    assert QUARTER_END_MONTHS == (3, 6, 9, 12)
    assert tuple(m + 1 for m in QUARTER_END_INDEX) == QUARTER_END_MONTHS
    share = cip_share([11.0, 5.0, 1.0], [100.0, 0.0, -3.0])
    assert share[0] == pytest.approx(0.11)
    assert np.isnan(share[1:]).all()
