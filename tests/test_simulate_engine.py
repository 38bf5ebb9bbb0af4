"""The engine as the Monte Carlo uses it: against a slow reference, batch invariance,
truncation, per-draw run-rate factors.

The reference model below is a second, independent reading of the engine's docstring: a
Python loop over draws and schemes building each scheme's monthly phase as
``(k + 1) / (ramp + 1)`` capped at 1 in its start year, then 1 (recurrent) or 0 in later
years. The vectorised engine accumulates ramps as second differences instead; both must
agree to rounding (1e-9 £000).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cipmodel.engine.project import LINES, SIGN, Draws, compile_plan, project
from cipmodel.examples import example_portfolio
from cipmodel.inputs.records import Portfolio

GBP_K = 1e-9


def _two_trust_portfolio(years: int = 3) -> Portfolio:
    a, b = example_portfolio("acute-11pc"), example_portfolio("small")
    tr = [dataclasses.replace(a.trusts[0], horizon_years=years, source=None), b.trusts[0]]
    ct = [
        *a.control_total,
        *(dataclasses.replace(c, year=3, source=None) for c in a.control_total[:1]),
    ]
    drivers = [*a.drivers, dataclasses.replace(a.drivers[0], year=3, source=None)]
    return Portfolio(
        trusts=tr,
        income=(*a.income, *b.income),
        costs=(*a.costs, *b.costs),
        cip=(*a.cip, *b.cip),
        control_total=(*ct, *b.control_total),
        funding=a.funding,
        financing=a.financing,
        drivers=drivers,
        profiles=a.profiles,
    )


def _reference_cip(plan, delivery, slip, scale, extra):  # noqa: ANN001, ANN202
    """(D, T, L, M) CIP by line and (D, S, Y) by scheme, one scheme and draw at a time."""
    n_d = delivery.shape[0]
    n_m, n_y = plan.n_months, plan.n_years
    cip = np.zeros((n_d, plan.n_trusts, len(LINES), n_m))
    by_scheme = np.zeros((n_d, plan.n_schemes, n_y))
    for d in range(n_d):
        for s in range(plan.n_schemes):
            start = int(plan.scheme_start[s] + slip[d, s])
            ramp = int(plan.scheme_ramp[s])
            t = int(plan.scheme_trust[s])
            value = plan.scheme_fye[s] / 12.0 * delivery[d, s] * scale[d, t]
            for m in range(n_m):
                if m // 12 > start // 12:
                    phase = 1.0 if plan.scheme_recurrent[s] else 0.0
                else:
                    phase = min(max((m - start + 1) / (ramp + 1), 0.0), 1.0)
                if m < 12 * plan.horizon[t]:
                    cip[d, t, plan.scheme_line[s], m] += value * phase
                    by_scheme[d, s, m // 12] += value * phase
        for t in range(plan.n_trusts):
            for m in range(min(n_m, 12 * plan.horizon[t])):
                cip[d, t, LINES.index("other_non_pay"), m] += extra[d, t] / 12.0
    return cip, by_scheme


def test_engine_matches_slow_reference_with_slippage_across_years() -> None:
    """Ramps, slippage into later years, recurrence, horizons, scale and the notional
    programme give the reference's CIP by line and by scheme."""
    plan = compile_plan(_two_trust_portfolio())
    rng = np.random.default_rng(0)
    n_d = 4
    delivery = rng.random((n_d, plan.n_schemes))
    slip = rng.integers(0, 16, (n_d, plan.n_schemes))
    scale = rng.random((n_d, plan.n_trusts)) * 2
    extra = rng.random((n_d, plan.n_trusts)) * 50
    pr = project(plan, Draws(n=n_d, delivery=delivery, slip=slip, cip_scale=scale, extra_cip=extra))
    ref_cip, ref_scheme = _reference_cip(plan, delivery, slip, scale, extra)
    np.testing.assert_allclose(pr.cip, ref_cip, atol=GBP_K)
    # cip_scheme_year leaves out the notional programme
    np.testing.assert_allclose(pr.cip_scheme_year, ref_scheme, atol=GBP_K)
    lines = pr.do_nothing + pr.cip * SIGN[None, None, :, None]
    np.testing.assert_allclose(pr.lines, lines, atol=GBP_K)
    np.testing.assert_allclose(pr.surplus_pre_stf, np.einsum("dtlm,l->dtm", lines, SIGN), atol=1e-8)
    np.testing.assert_allclose(pr.cip_total, ref_cip.sum(axis=2), atol=GBP_K)
    sel = np.array([5, 0, 40])
    np.testing.assert_array_equal(pr.cip_of_schemes(sel), pr.cip_scheme_year[:, sel])


def test_a_draw_is_the_same_alone_or_in_any_batch() -> None:
    """Every aggregate of a draw is bit-identical whether computed alone or in a batch."""
    plan = compile_plan(example_portfolio("acute-11pc")).truncate(1)
    rng = np.random.default_rng(1)
    n = 50
    kw = dict(
        delivery=rng.random((n, plan.n_schemes)),
        slip=rng.integers(0, 7, (n, plan.n_schemes)),
        driver_shift=rng.normal(0, 0.01, (n, 1, 1, 6)),
        line_scale=rng.random((n, 1, len(LINES))) + 0.5,
    )
    full = project(plan, Draws(n=n, **kw))
    names = (
        "surplus_pre_stf",
        "operating_income",
        "operating_expenditure",
        "agency",
        "cip_total",
        "non_operating",
        "operating_expenditure_do_nothing",
        "lines",
        "cip_scheme_year",
    )
    for start, count in ((0, 1), (7, 3), (20, 30)):
        part = project(plan, Draws(n=count, **{k: v[start : start + count] for k, v in kw.items()}))
        for name in names:
            np.testing.assert_array_equal(
                getattr(part, name), getattr(full, name)[start : start + count], err_msg=name
            )
        # the metrics' year-to-date sums over months of the lines
        for m in (3, 12):
            np.testing.assert_array_equal(
                part.lines[..., :m].sum(-1), full.lines[start : start + count, ..., :m].sum(-1)
            )


def test_truncated_plan_gives_the_same_first_year_exactly() -> None:
    """Projecting only the first year gives bit-identical first-year numbers."""
    plan = compile_plan(example_portfolio("acute-11pc"))
    one = plan.truncate(1)
    assert one.n_years == 1 and plan.truncate(plan.n_years) is plan
    a, b = project(plan), project(one)
    for name in (
        "surplus_pre_stf",
        "operating_income",
        "operating_expenditure",
        "cip_total",
        "agency",
    ):
        np.testing.assert_array_equal(getattr(a, name)[..., :12], getattr(b, name))
    np.testing.assert_array_equal(a.cip_scheme_year[..., :1], b.cip_scheme_year)
    with pytest.raises(ValueError, match="years must be from 1 to 2"):
        plan.truncate(3)


def test_line_scale_multiplies_the_run_rate() -> None:
    """Draws.line_scale scales a line's do-nothing run rate (agency spend above plan)."""
    plan = compile_plan(example_portfolio("acute-11pc"))
    scale = np.ones((2, 1, len(LINES)))
    scale[1, 0, LINES.index("pay_agency")] = 1.1
    pr = project(plan, Draws(n=2, line_scale=scale))
    dn = pr.do_nothing[:, 0, LINES.index("pay_agency")]
    np.testing.assert_allclose(dn[1], 1.1 * dn[0])
    np.testing.assert_allclose(
        pr.surplus_pre_stf[0] - pr.surplus_pre_stf[1], 0.1 * dn[0][None], atol=1e-9
    )
