"""Definitions a finance director would sign (issue 10, item 7), each checked by hand.

- Thresholds: metric values are rounded to the precision the regulator publishes
  (``sof-2016`` ``decimals``) before they meet a threshold, so float noise cannot move a score.
- 2018/19 PSF 2:1 incentive: by default it rewards the control-total improvement agreed in
  the plan (domain.md §2.2: +£14m for raising the control total by £7m); the variant
  ``psf-2018-19:outperformance`` rewards year-end outturn beyond the control total.
- Catch-up: on by default in 2017/18 and 2018/19 ([B]), off in 2016/17 ([?]); unverified.
- Agency ceiling: phased with the plan's monthly agency spend (or the trust's own profile).
- PFI: the unitary charge split into service, interest and capital elements counts interest
  and capital once in capital service (domain.md §1.4).

Expected values are plain arithmetic written out in each test (no engine in them).
Money is £000.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cipmodel.engine.assess import assess
from cipmodel.engine.compile import compile_plan
from cipmodel.engine.metrics import compute_metrics
from cipmodel.engine.project import project
from cipmodel.errors import RulePackError, ValidationError
from cipmodel.examples import example_portfolio
from cipmodel.inputs.records import CostLine, Financing, Profile, Scheme, definition_notes
from cipmodel.regime.funding import assess_funding
from cipmodel.regime.packs import Leaf, load_pack
from cipmodel.regime.score import round_published, score, score_metric, sof_pack

# --- Thresholds: rounding to the published precision ----------------------------------------

SOF = load_pack("sof-2016")
METRICS = tuple(SOF.get("weights"))  # type: ignore[arg-type]


def test_published_precision_per_metric_is_unverified():
    """CSC to 2 dp of x, liquidity to 1 dp of days, the three fractions to 0.01%: all [?]."""
    want = {
        "capital_service_capacity": 2,
        "liquidity_days": 1,
        "ie_margin": 4,
        "distance_from_plan": 4,
        "agency_vs_ceiling": 4,
    }
    for name, decimals in want.items():
        leaf = SOF.leaf(f"metrics.{name}.decimals")
        assert leaf.value == decimals
        assert not leaf.verified
        assert leaf.source.strip()


def test_noise_of_013_minus_012_does_not_move_a_score():
    """0.13 - 0.12 is 0.010000000000000009 in floats: above the 1% I&E margin threshold.

    Unrounded it would score 1 (> 1%); published to 0.01% it is 1.00%, which the pack's
    boundary rule for ie_margin ("worse": 1% scores 2) puts in score 2, as 0.01 itself.
    """
    noisy = 0.13 - 0.12
    assert noisy > 0.01  # the noise is real
    assert score_metric("ie_margin", noisy) == score_metric("ie_margin", 0.01) == 2
    # distance from plan: margin 21% against a planned 22% is -1pp, on the threshold (score
    # 2, boundary "better"); in floats 0.21 - 0.22 = -0.010000000000000009, which unrounded
    # would score 3
    noisy_dist = 0.21 - 0.22
    assert noisy_dist < -0.01
    assert score_metric("distance_from_plan", noisy_dist) == 2
    # CSC 0.7 x 2.5 = 1.75 (float 1.75 exactly here) and 1.1 + 0.65 = 1.7500000000000002
    assert score_metric("capital_service_capacity", 1.1 + 0.65) == 2


def test_round_published_halves_away_from_zero_and_keeps_nan():
    """1.005 (stored 1.00499...) -> 1.01; -0.125 -> -0.13; 0.04499 -> 0.04; NaN and inf
    pass through."""
    out = round_published([1.005, -0.125, 0.04499, np.nan, np.inf], 2)
    assert out[:3].tolist() == [1.01, -0.13, 0.04]
    assert np.isnan(out[3]) and np.isinf(out[4])


THRESHOLDS = [
    (name, k)
    for name in ("capital_service_capacity", "liquidity_days", "ie_margin", "distance_from_plan")
    + ("agency_vs_ceiling",)
    for k in range(3)
]


@settings(max_examples=300, deadline=None)
@given(
    pick=st.sampled_from(THRESHOLDS),
    a=st.floats(-1e3, 1e3, allow_nan=False),
    scale=st.sampled_from([1.0, 3.0, 7.0, 0.1, 12.0]),
)
def test_value_at_threshold_through_noisy_arithmetic_scores_as_the_threshold(pick, a, scale):
    """A threshold reached through float arithmetic that does not cancel exactly
    ((t + a) - a, (t * s) / s) scores exactly as the threshold itself, for every metric."""
    name, k = pick
    t = float(SOF.get(f"metrics.{name}.thresholds")[k])  # type: ignore[index]
    exact = int(score_metric(name, t))
    for noisy in ((t + a) - a, (t * scale) / scale, t + 1e-12, t - 1e-12):
        assert int(score_metric(name, noisy)) == exact, (name, t, noisy)


def test_overall_score_uses_rounded_values():
    """Case H of domain.md §6.3 with noisy inputs (margin -0.5% as 0.07 - 0.075, liquidity
    and distance from plan off by float noise): metric scores 2,2,3,3,2 -> mean 2.4 -> 2."""
    r = score(
        {
            "capital_service_capacity": 2.0,
            "liquidity_days": -5.0 + 1e-11,
            "ie_margin": 0.07 - 0.075,
            "distance_from_plan": -0.015 + 1e-13,
            "agency_vs_ceiling": 0.1,
        }
    )
    assert [r.metric_scores[m] for m in METRICS] == [2, 2, 3, 3, 2]
    assert r.overall == 2
    assert "sof-2016:metrics.ie_margin.decimals" in r.unverified


@pytest.mark.parametrize(("value", "reason"), [(-1, "whole number"), (2.5, "whole number")])
def test_decimals_must_be_a_whole_number(value, reason):
    p = load_pack("sof-2016")
    leaves = {**p.leaves, "metrics.ie_margin.decimals": Leaf(value, "test", True)}
    with pytest.raises(RulePackError, match=reason):
        sof_pack(dataclasses.replace(p, leaves=leaves))


def test_decimals_coarser_than_a_threshold_is_refused():
    """Rounding CSC to 1 dp would move the 1.75x and 1.25x thresholds: refused."""
    p = load_pack("sof-2016")
    leaves = {**p.leaves, "metrics.capital_service_capacity.decimals": Leaf(1, "test", True)}
    with pytest.raises(RulePackError, match="more than the 1 decimal"):
        sof_pack(dataclasses.replace(p, leaves=leaves))


# --- 2018/19 PSF 2:1 incentive ---------------------------------------------------------------


def _funding(pack: str, surplus: list[float], improvement: float | None):
    return assess_funding(
        load_pack(pack),
        ytd_surplus_pre=np.asarray(surplus, dtype=float)[None, None, :],
        ytd_target_pre=0.0,
        allocation=[10_000.0],
        accepted=[True],
        ae_applies=[True],
        catch_up=False,
        improvement_agreed=None if improvement is None else [improvement],
    )


def test_psf_incentive_rewards_the_improvement_agreed():
    """Surrey & Borders (domain.md §2.2): control total raised by £7m -> £14m incentive.

    The control total (already including the 7,000) met exactly at year end: 2 x 7,000 =
    14,000; beating it by a further 3,000 adds nothing under the default; missing the year
    end by £1k earns none of it.
    """
    pack = load_pack("psf-2018-19")
    assert pack.get("incentive.basis") == "agreed_improvement"
    assert not pack.leaf("incentive.basis").verified
    assert _funding("psf-2018-19", [0.0] * 4, 7_000.0).incentive[0, 0] == 14_000.0
    beat = _funding("psf-2018-19", [0.0, 0.0, 0.0, 3_000.0], 7_000.0)
    assert beat.incentive[0, 0] == 14_000.0
    missed = _funding("psf-2018-19", [0.0, 0.0, 0.0, -1.0], 7_000.0)
    assert missed.incentive[0, 0] == 0.0
    assert _funding("psf-2018-19", [0.0, 0.0, 0.0, 3_000.0], None).incentive[0, 0] == 0.0


def test_psf_outperformance_variant():
    """psf-2018-19:outperformance: 2 x the year-end outturn above the control total
    (3,000 -> 6,000), whatever improvement was agreed; 2016/17 and 2017/18 pay 1:1 on it."""
    r = _funding("psf-2018-19:outperformance", [0.0, 0.0, 0.0, 3_000.0], 7_000.0)
    assert r.incentive[0, 0] == 6_000.0
    for pack in ("stf-2016-17", "stf-2017-18"):
        assert load_pack(pack).get("incentive.basis") == "outperformance"
        assert _funding(pack, [0.0, 0.0, 0.0, 3_000.0], 7_000.0).incentive[0, 0] == 3_000.0


def test_improvement_agreed_flows_from_the_control_total_sheet():
    """A small trust (2017/18 plan assessed under psf-2018-19) that agreed 100 of its 200
    control total as an improvement meets it at year end (surplus 12,000 - 11,180 - 600 =
    220 >= 200): incentive 2 x 100 = 200 (no allocation needed for it)."""
    p = example_portfolio("small")
    ct = dataclasses.replace(p.control_total[0], improvement_agreed=100.0)
    p = p.replace(control_total=(ct,))
    plan = compile_plan(p)
    assert plan.ct_improvement[0, 0] == 100.0
    pr = project(plan)
    a = assess(pr, pr, funding_rules="psf-2018-19")
    assert a.funding.met_year[0, 0]
    assert a.funding.incentive[0, 0] == pytest.approx(200.0)
    b = assess(pr, pr, funding_rules="psf-2018-19:outperformance")
    assert b.funding.incentive[0, 0] == pytest.approx(2 * (220.0 - 200.0))


def test_negative_improvement_refused():
    with pytest.raises(ValueError, match="improvement_agreed"):
        _funding("psf-2018-19", [0.0] * 4, -1.0)


# --- Catch-up defaults -------------------------------------------------------------------------


def test_catch_up_defaults_per_year_are_unverified():
    """On in 2017/18 and 2018/19 (a catch-up existed in some form, [B]); off in 2016/17."""
    on = {n: load_pack(n).leaf("catch_up.enabled") for n in ("stf-2016-17", "stf-2017-18")}
    on["psf-2018-19"] = load_pack("psf-2018-19").leaf("catch_up.enabled")
    assert {n: leaf.value for n, leaf in on.items()} == {
        "stf-2016-17": False,
        "stf-2017-18": True,
        "psf-2018-19": True,
    }
    assert not any(leaf.verified for leaf in on.values())


# --- Agency ceiling phased with the agency spend ------------------------------------------------

# Agency 1,800 a year on profile "front" (3,3,3 then 1 x 9; sum 18): 300 a month in Q1,
# 100 a month after. A scheme on pay_agency of FYE 240 from month 7 saves 20 a month.
# Planned agency YTD: Q1 900; Q2 900 + 300 = 1,200; Q3 1,200 + 3 x 80 = 1,440; Q4 1,680.
FRONT = (3.0, 3.0, 3.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
CEILING = 1_200.0


def _agency_trust(ceiling_profile: str | None = None):
    p = example_portfolio("small")
    trust = dataclasses.replace(
        p.trusts[0], agency_ceiling=CEILING, agency_ceiling_profile=ceiling_profile
    )
    costs = (
        *p.costs,
        CostLine(trust_code="RSM", line="pay_agency", annual_value=1_800.0, profile="front"),
    )
    cip = (
        *p.cip,
        Scheme(
            trust_code="RSM",
            scheme_id="A1",
            name="Agency to bank",
            category="pay",
            target_line="pay_agency",
            value_fye=240.0,
            start_month=7,
        ),
    )
    profiles = (Profile(trust_code="RSM", profile="front", weight=FRONT),)
    return p.replace(trusts=(trust,), costs=costs, cip=cip, profiles=profiles)


def _quarters(p):
    pr = project(compile_plan(p))
    out = []
    for m in (3, 6, 9, 12):
        mv = compute_metrics(pr, pr, stf_earned_ytd=0.0, stf_planned_ytd=0.0, months=m)
        out.append(
            (
                float(mv.components["agency"][0, 0]),
                float(mv.components["agency_ceiling"][0, 0]),
                float(mv.values["agency_vs_ceiling"][0, 0]),
            )
        )
    return out


def test_agency_ceiling_follows_the_plans_agency_profile():
    """YTD ceiling = 1,200 x planned agency YTD / 1,680: 642.857, 857.143, 1,028.571, 1,200.

    The plan's own spend then sits the same 1,680 / 1,200 - 1 = +40% over the ceiling at
    every quarter end (score 3); phased flat, Q1 would read 900 / 300 - 1 = +200% (score 4).
    """
    spend = [900.0, 1_200.0, 1_440.0, 1_680.0]
    got = _quarters(_agency_trust())
    for (agency, ceiling, ratio), s in zip(got, spend, strict=True):
        assert agency == pytest.approx(s)
        assert ceiling == pytest.approx(CEILING * s / 1_680.0)
        assert ratio == pytest.approx(1_680.0 / 1_200.0 - 1.0)
    assert got[-1][1] == CEILING  # the full year is the whole ceiling, exactly
    assert score_metric("agency_vs_ceiling", got[0][2]) == 3


@pytest.mark.parametrize(
    ("profile", "shares"),
    [
        ("flat", [3 / 12, 6 / 12, 9 / 12, 1.0]),
        ("front", [9 / 18, 12 / 18, 15 / 18, 1.0]),
    ],
)
def test_agency_ceiling_own_profile(profile, shares):
    """A ceiling profile given on the Trusts sheet phases the ceiling instead: flat gives
    300 / 600 / 900 / 1,200; "front" gives 600 / 800 / 1,000 / 1,200."""
    got = _quarters(_agency_trust(profile))
    for (_, ceiling, _), share in zip(got, shares, strict=True):
        assert ceiling == pytest.approx(CEILING * share)


def test_agency_ceiling_follows_the_plan_not_the_draw():
    """A projection whose agency differs from the plan (flat 1,800, no agency scheme: 450 a
    quarter) is measured against the plan-phased ceiling: at Q1 642.857 (1,200 x 900 /
    1,680), so (450 - 642.857) / 642.857 = -30%, not the +0% a flat ceiling would give."""
    planned = project(compile_plan(_agency_trust()))
    base = _agency_trust()
    flat_costs = tuple(
        dataclasses.replace(c, profile="flat") if c.line == "pay_agency" else c for c in base.costs
    )
    other = base.replace(costs=flat_costs, cip=tuple(s for s in base.cip if s.scheme_id != "A1"))
    actual = project(compile_plan(other))
    mv = compute_metrics(actual, planned, stf_earned_ytd=0.0, stf_planned_ytd=0.0, months=3)
    ceiling = CEILING * 900.0 / 1_680.0
    assert float(mv.components["agency_ceiling"][0, 0]) == pytest.approx(ceiling)
    assert float(mv.values["agency_vs_ceiling"][0, 0]) == pytest.approx(450.0 / ceiling - 1.0)


def test_agency_ceiling_profile_must_exist():
    with pytest.raises(ValidationError) as exc:
        _agency_trust("missing")
    assert any("agency_ceiling_profile" in pr.place for pr in exc.value.problems)


# --- PFI unitary charge split into service, interest and capital -----------------------------

# Small trust: income 12,000; pay 9,000; other non-pay 2,400; depreciation 600; CIP 220 in
# year; PDC 150; interest payable 50; PFI unitary charge 1,200 (flat); principal 120 on
# loans; opening working capital -300; no capex, no STF.


def _pfi_trust(interest: float | None, capital: float | None):
    p = example_portfolio("small")
    costs = (
        *p.costs,
        CostLine(trust_code="RSM", line="pfi_unitary", annual_value=1_200.0),
        CostLine(trust_code="RSM", line="pdc_dividend", annual_value=150.0),
        CostLine(trust_code="RSM", line="interest_payable", annual_value=50.0),
    )
    fin = Financing(
        trust_code="RSM",
        opening_working_capital=-300.0,
        principal_repayment=120.0,
        pfi_interest=interest,
        pfi_capital=capital,
    )
    return p.replace(costs=costs, financing=(fin,))


def _full_year(p):
    pr = project(compile_plan(p))
    mv = compute_metrics(pr, pr, stf_earned_ytd=0.0, stf_planned_ytd=0.0, months=12)
    comp = {k: float(v[0, 0]) for k, v in mv.components.items()}
    return comp, {k: float(v[0, 0]) for k, v in mv.values.items()}


def test_pfi_not_split_keeps_todays_numbers():
    """Only pfi_unitary: the whole charge in opex, capital service = PDC + interest +
    principal as entered: opex 9,000 + 2,400 + 1,200 - 220 = 12,380; EBITDA -380;
    capital service 150 + 50 + 120 = 320; surplus -380 - 600 - 150 - 50 = -1,180."""
    comp, val = _full_year(_pfi_trust(None, None))
    assert comp["operating_expenditure"] == pytest.approx(12_380.0)
    assert comp["capital_service"] == pytest.approx(320.0)
    assert comp["reported_surplus"] == pytest.approx(-1_180.0)
    assert val["capital_service_capacity"] == pytest.approx(-380.0 / 320.0)
    assert not compile_plan(_pfi_trust(None, None)).pfi_split.any()


def test_pfi_split_counts_interest_and_capital_once():
    """Split 1,200 = service 660 + interest 300 + capital 240.

    opex = 9,000 + 2,400 + 660 - 220 = 11,840; EBITDA = 12,000 - 11,840 = 160
    capital service = PDC 150 + interest (50 + 300) + principal (120 + 240) = 860
    CSC = 160 / 860; surplus = 160 - 600 - 150 - 350 = -940 (the capital element is a
    repayment, not an I&E cost: +240 against the unsplit run)
    cash: 160 - 350 - 150 - 360 = -700, the same as unsplit (-380 - 50 - 150 - 120): the
    unitary charge is paid once either way; WC close -1,000; liquidity -1,000 / 11,840 x 360.
    """
    comp, val = _full_year(_pfi_trust(300.0, 240.0))
    assert comp["operating_expenditure"] == pytest.approx(11_840.0)
    assert comp["revenue_available_for_capital_service"] == pytest.approx(160.0)
    assert comp["capital_service"] == pytest.approx(860.0)
    assert val["capital_service_capacity"] == pytest.approx(160.0 / 860.0)
    assert comp["reported_surplus"] == pytest.approx(-940.0)
    assert comp["working_capital_close"] == pytest.approx(-1_000.0)
    assert val["liquidity_days"] == pytest.approx(-1_000.0 / 11_840.0 * 360.0)
    plan = compile_plan(_pfi_trust(300.0, 240.0))
    assert plan.pfi_split.tolist() == [True]
    assert plan.pfi_elements[0].tolist() == [300.0, 240.0]


@pytest.mark.parametrize(
    ("interest", "capital", "place", "text"),
    [
        (300.0, None, "pfi_capital", "must be too"),
        (None, 240.0, "pfi_interest", "must be too"),
        (1_000.0, 240.0, "pfi_capital", "more than the trust's pfi_unitary"),
    ],
)
def test_pfi_split_refused_when_incomplete_or_too_large(interest, capital, place, text):
    with pytest.raises(ValidationError) as exc:
        _pfi_trust(interest, capital)
    assert any(place in pr.place and text in pr.message for pr in exc.value.problems)


def test_unsplit_pfi_gets_a_note():
    """An old workbook's single pfi_unitary line keeps working, with a note saying the
    split was not given; a split trust (or one without PFI) gets none."""
    notes = definition_notes(_pfi_trust(None, None))
    assert len(notes) == 1 and "RSM" in notes[0] and "not split" in notes[0]
    assert definition_notes(_pfi_trust(300.0, 240.0)) == []
    assert definition_notes(example_portfolio("small")) == []


def test_each_year_reads_its_own_improvement_agreed():
    """A two-year small trust: 2017/18 (stf-2017-18, 1:1 on outperformance) then 2018/19
    (psf-2018-19, 2:1 on the improvement agreed).

    Year 1: surplus 12,000 - 11,180 - 600 = 220 against 200: incentive 1 x 20 = 20 (its
    improvement_agreed of 30 is not what 2017/18 rewards). Year 2: the recurrent pay scheme
    at full year (240) and no one-off: 12,000 - 11,160 - 600 = 240 against 200, of which 50
    agreed as an improvement: incentive 2 x 50 = 100 (not 2 x 40 on the outturn).
    """
    from cipmodel.results.run import run_plan

    p = example_portfolio("small")
    trust = dataclasses.replace(p.trusts[0], horizon_years=2)
    ct1 = dataclasses.replace(p.control_total[0], improvement_agreed=30.0)
    ct2 = dataclasses.replace(ct1, year=2, improvement_agreed=50.0)
    p = p.replace(trusts=(trust,), control_total=(ct1, ct2))
    years = run_plan(p, catch_up=False).to_dict()["trusts"][0]["years"]
    assert [y["funding"]["rules"] for y in years] == ["stf-2017-18", "psf-2018-19"]
    assert [y["control_total"]["forecast"] for y in years] == pytest.approx([220.0, 240.0])
    assert years[0]["funding"]["incentive"] == pytest.approx(20.0)
    assert years[1]["funding"]["incentive"] == pytest.approx(100.0)


def test_pfi_split_on_the_example_bridge_still_adds_up():
    """The worked example (PFI unitary charge 12,000; principal 3,000 said to include the PFI
    capital element) split as interest 4,000 + capital 2,000 (+ service 6,000), loan
    principal 1,000. The plan surplus rises by the capital element (2,000: a repayment, not
    an I&E cost) and by the year-1 non-pay inflation no longer applied to the interest and
    capital elements (6,000 x 2% = 120: they follow the contract, not the index); capital
    service gains the PFI interest (4,000) while principal 3,000 becomes 1,000 + 2,000
    (repaid once); the bridge from the prior-year outturn still adds up exactly."""
    from cipmodel.results.bridge import bridge
    from cipmodel.results.run import run_plan

    p = example_portfolio("acute-11pc")
    base = run_plan(p)
    fin = dataclasses.replace(
        p.financing[0], principal_repayment=1_000.0, pfi_interest=4_000.0, pfi_capital=2_000.0
    )
    split = p.replace(financing=(fin,))
    run = run_plan(split)
    surplus = [r.projection.by_year(r.projection.surplus_pre_stf)[0, 0, 0] for r in (base, run)]
    inflation = next(d.non_pay_inflation for d in p.drivers if d.year == 1)
    assert inflation == 0.02
    assert surplus[1] - surplus[0] == pytest.approx(2_000.0 + 6_000.0 * inflation)
    steps = bridge(split, run.plan, run.projection, "RXX")
    assert steps is not None
    assert sum(s.value for s in steps[:-1]) == pytest.approx(steps[-1].value, abs=1e-6)
    assert steps[-1].value == pytest.approx(surplus[1])
    cs = [float(r.assessment.metrics[-1].components["capital_service"][0, 0]) for r in (base, run)]
    # PDC and loan interest unchanged; + PFI interest 4,000; principal 3,000 -> 1,000 + 2,000
    assert cs[1] - cs[0] == pytest.approx(4_000.0)
