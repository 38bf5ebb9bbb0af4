"""The fast paths of the simulation kernels give the same bits as the general code they stand
in for (issue 13): quarter ends computed at once, lines read year to date, the run rate formed
line by line, the year-1 scheme effect looked up, the quarters scored stacked."""

from __future__ import annotations

import numpy as np
import pytest

from cipmodel.calendar import QUARTER_END_MONTHS
from cipmodel.engine.compile import LINES, compile_plan
from cipmodel.engine.metrics import compute_metrics, compute_metrics_by_period
from cipmodel.engine.project import Draws, project
from cipmodel.examples import example_portfolio
from cipmodel.montecarlo.allocator import keep_freed_memory
from cipmodel.regime.score import score


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.fixture(scope="module")
def drawn():
    """A first-year plan and a projection of 37 draws with everything varying."""
    plan = compile_plan(example_portfolio("acute-11pc")).truncate(1)
    rng = np.random.default_rng(5)
    n, s, t = 37, plan.n_schemes, plan.n_trusts
    draws = Draws(
        n=n,
        delivery=rng.uniform(0.0, 1.2, (n, s)),
        slip=rng.integers(0, 14, (n, s)),
        driver_shift=rng.normal(0.0, 0.01, (n, t, 1, 6)),
        line_scale=rng.uniform(0.8, 1.2, (n, t, len(LINES))),
    )
    return plan, project(plan, draws), project(plan)


def test_line_ytd_is_the_sum_of_lines(drawn) -> None:
    _, proj, _ = drawn
    idx = (LINES.index("interest_payable"), LINES.index("pay_agency"), 0)
    for m in range(1, 13):
        assert _same(proj.line_ytd(idx, m), proj.lines[..., :m].sum(axis=-1)[..., list(idx)])


def test_run_rate_by_line_is_the_full_array(drawn) -> None:
    plan, proj, _ = drawn
    dn = proj.do_nothing
    assert dn.shape == (37, plan.n_trusts, len(LINES), plan.n_months)
    for li in range(len(LINES)):
        line = proj._rate.line(li)  # noqa: SLF001 - the internal view is what is tested
        assert _same(np.ascontiguousarray(dn[:, :, li, :]), line.transpose(1, 2, 0))


def test_year_one_scheme_effect_matches_the_closed_form(drawn) -> None:
    plan, proj, _ = drawn
    full = compile_plan(example_portfolio("acute-11pc"))  # several years: the general formula
    rng = np.random.default_rng(9)
    slip = rng.integers(0, 30, (5, full.n_schemes))
    several = project(full, Draws(n=5, slip=slip)).cip_scheme_year[..., 0]
    one = project(full.truncate(1), Draws(n=5, slip=slip)).cip_scheme_year[..., 0]
    assert _same(one, several)


def test_metrics_by_period_are_the_metrics_of_each_period(drawn) -> None:
    _, proj, planned = drawn
    rng = np.random.default_rng(3)
    earned = rng.uniform(0, 500, (37, proj.plan.n_trusts, 4))
    expected = rng.uniform(0, 500, (proj.plan.n_trusts, 4))
    together = compute_metrics_by_period(
        proj,
        planned,
        stf_earned_ytd=earned,
        stf_planned_ytd=expected,
        months=tuple(QUARTER_END_MONTHS),
    )
    for q, m in enumerate(QUARTER_END_MONTHS):
        alone = compute_metrics(
            proj,
            planned,
            stf_earned_ytd=earned[..., q],
            stf_planned_ytd=expected[:, q],
            months=m,
        )
        mv = together[q]
        assert mv.months == alone.months
        for k in alone.values:
            assert _same(mv.values[k], alone.values[k])
            assert (mv.not_applicable[k] == alone.not_applicable[k]).all()
        for k in alone.components:
            assert _same(np.broadcast_to(mv.components[k], (37, 1)), alone.components[k])


def test_scores_of_stacked_periods_are_the_scores_of_each(drawn) -> None:
    rng = np.random.default_rng(4)
    values = {
        "capital_service_capacity": rng.normal(1.5, 1.0, (50, 3, 4)),
        "liquidity_days": rng.normal(-10, 15, (50, 3, 4)),
        "ie_margin": rng.normal(0.0, 0.02, (50, 3, 4)),
        "distance_from_plan": rng.normal(0.0, 0.01, (50, 3, 4)),
        "agency_vs_ceiling": rng.normal(0.1, 0.3, (50, 3, 4)),
    }
    accepted = np.array([True, False, True])
    surplus = np.array([True, True, False])
    special = np.array([False, False, True])
    stacked = score(
        values,
        control_total_accepted=accepted[:, None],
        planned_surplus=surplus[:, None],
        financial_special_measures=special[:, None],
    )
    for q in range(4):
        alone = score(
            {k: v[..., q] for k, v in values.items()},
            control_total_accepted=accepted,
            planned_surplus=surplus,
            financial_special_measures=special,
        )
        part = stacked.period(q)
        assert _same(part.overall, alone.overall)
        assert _same(part.mean, alone.mean)
        for k in alone.metric_scores:
            assert _same(part.metric_scores[k], alone.metric_scores[k])
        for k in alone.overrides:
            assert _same(part.overrides[k], alone.overrides[k])
        assert part.unverified == alone.unverified


def test_keeping_freed_memory_is_idempotent() -> None:
    first = keep_freed_memory()
    assert keep_freed_memory() is first
