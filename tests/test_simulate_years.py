"""``simulate`` on a plan of several years: every plan year's P(meet the control total).

The expected values come from independent sources, not from the code under test:

* with no uncertainty every draw is the plan run, so each year's probability is the plan
  run's ``met`` (0 or 1) and each mean its figure (the plan run's own hand-worked checks are
  in ``tests/test_multi_year.py``);
* with delivery and slip uncertainty only, the mean of year 2 equals the risk-adjusted
  forecast (``results.risk_adjusted``: the expectation worked from the priors pack's means,
  no simulation) within 4 standard errors of the mean (sd / sqrt(n), n seeded random draws);
* year 1 is bit-identical whether or not later years are simulated (the same sample points
  through the year-1 model), and years 2+ under draws agree exactly with assessing the whole
  horizon in one go (``engine.assess.assess`` with later years).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from cipmodel.engine.assess import assess
from cipmodel.engine.project import project
from cipmodel.examples import example_portfolio
from cipmodel.inputs.records import Portfolio
from cipmodel.montecarlo import Priors, load_priors, simulate
from cipmodel.montecarlo.context import build_context, resolve_packs
from cipmodel.montecarlo.outputs import OUTPUTS, chunk_outputs
from cipmodel.montecarlo.streams import as_seed_sequence
from cipmodel.montecarlo.years import PREFIX
from cipmodel.results.risk_adjusted import risk_adjusted
from cipmodel.results.run import run_plan


def _two_year_trust(target_2: float = 300.0) -> Portfolio:
    """A small 2017/18 + 2018/19 trust (the shape of tests/test_multi_year.py): flat months,
    four schemes, year 1 meets its control total and year 2 misses it by 50 at plan."""
    code = "RTW"
    scheme = {"trust_code": code, "ramp_months": 0, "stage": "plan", "rag": "green"}
    pay, non_pay = "pay_substantive", "other_non_pay"

    def cip(sid: str, cat: str, line: str, fye: float, year: int, month: int, rec: bool) -> dict:  # type: ignore[type-arg]
        return {
            **scheme,
            "scheme_id": sid,
            "name": sid,
            "category": cat,
            "target_line": line,
            "value_fye": fye,
            "start_year": year,
            "start_month": month,
            "recurrent": rec,
        }

    return Portfolio(
        trusts=[
            {
                "trust_code": code,
                "name": "Two Year Trust",
                "trust_type": "acute",
                "financial_year": "2017/18",
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
            cip("A", "pay", pay, 240.0, 1, 7, True),
            cip("B", "non_pay", non_pay, 120.0, 1, 1, True),
            cip("C", "non_pay", non_pay, 60.0, 1, 1, False),
            cip("D", "pay", pay, 120.0, 2, 4, True),
        ],
        control_total=[
            {"trust_code": code, "year": 1, "target_pre_stf": 40.0, "accepted": True},
            {
                "trust_code": code,
                "year": 2,
                "target_pre_stf": target_2,
                "accepted": True,
                "stf_allocation": 600.0,
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
    )


@pytest.mark.parametrize("name", ["small", "example"])
def test_no_uncertainty_gives_the_plan_run_every_year(name: str) -> None:
    """Priors.none(): every draw is the plan run, so P(meet) per year is the run's met (0/1),
    pre- and post-STF, and every mean is the run's figure for that year."""
    p = _two_year_trust() if name == "small" else example_portfolio("acute-11pc")
    run = run_plan(p)
    sim = simulate(p, draws=64, seed=5, priors=Priors.none())
    years = sim.years()
    plan_years = run.figures[0].years
    assert len(years) == len(plan_years) == 2
    for row, ty in zip(years.itertuples(), plan_years, strict=True):
        assert row.p_meet_control_total == float(ty.met)
        assert row.p_meet_control_total_post_stf == float(ty.met_post_stf)
        assert row.mean_surplus_pre_stf == pytest.approx(ty.surplus_pre_stf, abs=1e-9)
        assert row.p10_surplus_pre_stf == pytest.approx(ty.surplus_pre_stf, abs=1e-9)
        assert row.expected_reported_surplus == pytest.approx(ty.reported_surplus, abs=1e-9)
        assert row.expected_cip_delivered == pytest.approx(ty.cip_planned, abs=1e-9)
        assert ty.assessed is not None
        assert row.expected_stf_earned == pytest.approx(ty.assessed.funding.earned, abs=1e-9)
    both = float(plan_years[0].met and plan_years[1].met)
    assert years.p_meet_control_total_every_year_to_date.tolist() == [
        float(plan_years[0].met),
        both,
    ]
    if name == "small":  # the hand-worked plan: year 1 met (+60), year 2 missed (-50)
        assert years.p_meet_control_total.tolist() == [1.0, 0.0]
        assert years.p_meet_control_total_post_stf.tolist() == [1.0, 0.0]
        assert years.expected_cip_delivered.tolist() == pytest.approx([300.0, 210.0])


def test_year_one_is_the_same_with_or_without_later_years() -> None:
    """The same sample points give bit-identical year-1 outputs whether the context
    simulates later years or not (the sample layout does not depend on the horizon)."""
    p = example_portfolio("acute-11pc")
    run = run_plan(p)
    packs = resolve_packs(p, None, "sof-2016")
    pri = load_priors()
    ctx = {
        years: build_context(
            run, pri, "random", as_seed_sequence(11), 256, packs, None, False, years=years
        )
        for years in (False, True)
    }
    assert ctx[False].full is None and ctx[True].full is not None
    assert ctx[False].inputs.n_dims == ctx[True].inputs.n_dims
    u = ctx[False].sampler.sample(0, 256)
    one, both = chunk_outputs(ctx[False], u), chunk_outputs(ctx[True], u)
    for key in OUTPUTS:
        np.testing.assert_array_equal(one[key], both[key], err_msg=key)
    assert not any(k.startswith(PREFIX) for k in one)
    assert {k for k in both if k.startswith(PREFIX)}


def test_later_years_match_assessing_the_whole_horizon() -> None:
    """Years 2+ open on year 1's closing balances taken from the year-1 assessment: the
    same numbers as projecting and assessing the whole horizon in one go, draw by draw."""
    p = example_portfolio("acute-11pc")
    run = run_plan(p)
    packs = resolve_packs(p, None, "sof-2016")
    ctx = build_context(
        run, load_priors(), "random", as_seed_sequence(3), 128, packs, None, False, years=True
    )
    u = ctx.sampler.sample(0, 128)
    out = chunk_outputs(ctx, u)
    drawn = ctx.inputs.map(u)
    assert ctx.full is not None
    whole = project(ctx.full, drawn.draws)
    a = assess(
        whole,
        project(ctx.full),
        funding_rules=packs.funding,
        sof_rules=packs.sof,
        segmentation_rules=packs.segmentation,
        ae_met=drawn.ae_met,
    )
    y2 = a.plan_year(2)
    assert y2 is not None
    np.testing.assert_allclose(
        out[PREFIX + "reported_surplus"][..., 0], y2.reported_surplus_ytd[..., 3], rtol=0, atol=1e-9
    )
    np.testing.assert_allclose(
        out[PREFIX + "stf_earned"][..., 0], y2.funding.total_earned, rtol=0, atol=1e-9
    )
    np.testing.assert_allclose(
        out[PREFIX + "surplus_pre_stf"][..., 0],
        whole.by_year(whole.surplus_pre_stf)[..., 1],
        rtol=0,
        atol=1e-9,
    )
    # the draws differ: a real spread, not the plan
    assert np.ptp(out[PREFIX + "surplus_pre_stf"][..., 0]) > 1000.0


N_DRAWS = 20_000


def test_year_two_mean_agrees_with_the_risk_adjusted_forecast() -> None:
    """With delivery and slip uncertainty only (where the risk-adjusted view's assumptions
    hold exactly: docs/plan-views.md), the simulated mean of year 2's pre-STF surplus and own
    CIP equal the risk-adjusted forecast and expected CIP within 4 standard errors."""
    priors = load_priors().replace(shocks={})
    p = example_portfolio("acute-11pc")
    run = run_plan(p)
    ra = risk_adjusted(run.plan, run.projection, priors).trust("RXX")
    sim = simulate(p, draws=N_DRAWS, seed=20261202, sampler="random", priors=priors)
    years = sim.years().set_index("year")
    for y in (1, 2):
        row, view = years.loc[y], ra[y - 1]
        se = float(row.sd_surplus_pre_stf) / math.sqrt(N_DRAWS)
        assert se > 0
        assert abs(view.forecast_risk_adjusted - row.mean_surplus_pre_stf) <= 4 * se, (y, se)
        # the year's own CIP: both measure brought forward + new
        assert view.planned == pytest.approx(row.cip_planned, abs=1e-6)
    yc = sim.years_collector
    assert yc is not None
    cip_se = float(yc.std(PREFIX + "cip_delivered")[0, 0]) / math.sqrt(N_DRAWS)
    assert abs(ra[1].expected - years.loc[2].expected_cip_delivered) <= 4 * cip_se
    # and the view is not the plan: year 2's expected CIP is well below the planned
    assert ra[1].planned - years.loc[2].expected_cip_delivered > 20 * cip_se


def test_p_meet_is_monotone_in_a_control_total_shift() -> None:
    """The same seed, year 2's control total raised step by step: the draws are the same (the
    control total is no input of the sample), so P(meet year 2) can only fall; year 1 stays."""
    base = example_portfolio("acute-11pc")
    ct1, ct2 = base.control_total
    probs, year1 = [], []
    for shift in (-8000.0, -3000.0, 0.0, 3000.0, 8000.0):
        p = base.replace(
            control_total=(
                ct1,
                dataclasses.replace(ct2, target_pre_stf=ct2.target_pre_stf + shift, month=None),
            )
        )
        years = simulate(p, draws=1024, seed=9, sampler="sobol").years()
        probs.append(float(years.p_meet_control_total.iloc[1]))
        year1.append(float(years.p_meet_control_total.iloc[0]))
    assert probs == sorted(probs, reverse=True)
    assert probs[0] > probs[-1]
    assert len(set(year1)) == 1


def test_one_year_plan_has_one_simulated_year() -> None:
    """A plan of one year: no second collector, and its one year is the top-level answer."""
    p = _two_year_trust()
    t = dataclasses.replace(p.trusts[0], horizon_years=1)
    one = p.replace(
        trusts=(t,),
        control_total=p.control_total[:1],
        cip=tuple(s for s in p.cip if s.scheme_id != "D"),
    )
    sim = simulate(one, draws=256, seed=1)
    assert sim.years_collector is None
    d = sim.to_dict()["trusts"][0]
    (year,) = d["years"]
    s = year["simulation"]
    assert s["p_meet_control_total"] == d["probability"]["meet_control_total"]
    assert s["mean_surplus_pre_stf"] == d["percentiles"]["surplus_pre_stf"]["mean"]
    assert sim.provenance["simulated_years"] == 1


def test_year_without_a_pack_is_projected_not_assessed() -> None:
    """A later year with no rule pack for its financial year (2019/20): pre-STF P(meet) is
    simulated, the post-STF view is None (not scored on invented rules)."""
    p = _two_year_trust()
    t = dataclasses.replace(p.trusts[0], financial_year="2018/19")
    run = run_plan(p.replace(trusts=(t,)))
    assert run.figures[0].years[1].met_post_stf is None
    sim = simulate(p.replace(trusts=(t,)), draws=128, seed=2)
    y2 = sim.to_dict()["trusts"][0]["years"][1]["simulation"]
    assert y2["financial_year"] == "2019/20"
    assert y2["p_meet_control_total_post_stf"] is None
    assert y2["expected_stf_earned"] is None
    assert 0 <= y2["p_meet_control_total"] <= 1


def test_every_year_to_date_is_the_joint_probability() -> None:
    """P(meet every year to date) is the share of draws meeting year 1 and year 2, counted
    here from the kept per-draw outputs of both collectors (all 4,096 draws are kept)."""
    sim = simulate(example_portfolio("acute-11pc"), draws=4096, seed=17, sampler="random")
    yc = sim.years_collector
    assert yc is not None and sim.collector.exact_percentiles()
    met1 = sim.collector.kept["met_year"][:4096, 0, 0]
    met2 = yc.kept[PREFIX + "met"][:4096, 0, 0]
    years = sim.years()
    joint = float(np.mean(met1 & met2))
    assert years.p_meet_control_total_every_year_to_date.iloc[1] == pytest.approx(joint, abs=1e-12)
    assert years.p_meet_control_total.iloc[1] == pytest.approx(float(np.mean(met2)), abs=1e-12)
    p1, p2 = years.p_meet_control_total.tolist()
    assert max(0.0, p1 + p2 - 1) <= joint <= min(p1, p2)
    assert joint > 0  # the years move together: some draws meet both


def test_first_year_only_flag_gives_year_one_unchanged(tmp_path: object) -> None:
    """`simulate --first-year-only`: no later-year simulation in the JSON, and year 1's
    probabilities and percentiles identical to the default run's (same seed)."""
    import json

    from click.testing import CliRunner

    from cipmodel.cli import cli

    args = ["simulate", "templates/example-acute-11pc.xlsx", "-n", "512", "--seed", "3"]
    both = json.loads(CliRunner().invoke(cli, [*args, "--json"]).stdout)
    one = json.loads(CliRunner().invoke(cli, [*args, "--json", "--first-year-only"]).stdout)
    t_both, t_one = both["trusts"][0], one["trusts"][0]
    assert t_one["probability"] == t_both["probability"]
    assert t_one["percentiles"] == t_both["percentiles"]
    assert "simulation" in t_both["years"][1]
    assert "simulation" not in t_one["years"][1]
    assert one["provenance"]["simulated_years"] == 1 and both["provenance"]["simulated_years"] == 2
