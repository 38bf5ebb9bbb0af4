"""STF/PSF funding engine (cipmodel.regime.funding) and the funding rule packs.

Money is £000 throughout. Unless a test says otherwise a trust has an allocation of
£10,000k, accepted its control total, has a type 1 A&E that meets its trajectory, and its
YTD control-total profile is 0 at every quarter end (so the surplus is the YTD variance).
"""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cipmodel.errors import RulePackError
from cipmodel.regime.funding import (
    FundingResult,
    assess_funding,
    assess_funding_scalar,
    distribute_bonus,
    validate_funding_pack,
)
from cipmodel.regime.packs import Leaf, RulePack, load_pack

PACKS = ("stf-2016-17", "stf-2016-17:hsj", "stf-2017-18", "psf-2018-19")
EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "funding-pack-example.toml"


def with_values(pack: str | RulePack, values: dict[str, Any]) -> RulePack:
    """A copy of ``pack`` with some values replaced (marked verified, source 'test')."""
    p = load_pack(pack) if isinstance(pack, str) else pack
    leaves = {**p.leaves, **{k: Leaf(v, "test", True) for k, v in values.items()}}
    return dataclasses.replace(p, leaves=leaves, _used=set())


def run(
    pack: str | RulePack,
    surplus: Any,
    *,
    target: Any = 0.0,
    allocation: Any = (10_000.0,),
    accepted: Any = (True,),
    ae_applies: Any = (True,),
    ae_met: Any = None,
    catch_up: bool | None = False,
    improvement_agreed: Any = None,
) -> FundingResult:
    """assess_funding with the defaults above; a 1-d surplus is one draw of one trust.

    Catch-up is off unless a test turns it on (None: the pack's default)."""
    s = np.asarray(surplus, dtype=float)
    if s.ndim == 1:
        s = s[None, None, :]
    return assess_funding(
        load_pack(pack) if isinstance(pack, str) else pack,
        ytd_surplus_pre=s,
        ytd_target_pre=target,
        allocation=allocation,
        accepted=accepted,
        ae_applies=ae_applies,
        ae_met=ae_met,
        catch_up=catch_up,
        improvement_agreed=improvement_agreed,
    )


# --- Packs --------------------------------------------------------------------------------


def test_shipped_packs_validate_with_identical_keys():
    """Every shipped funding pack (and variant) validates and defines the same keys."""
    keys = None
    for name in PACKS:
        pack = load_pack(name, kind="funding")
        validate_funding_pack(pack)
        assert keys is None or set(pack.leaves) == keys
        keys = set(pack.leaves)
        assert all(leaf.source.strip() for leaf in pack.leaves.values())


def test_pack_values_per_year():
    """The headline numbers per year: phasing, split, incentive ratio, pool."""
    p16, p17, p18 = (load_pack(n) for n in ("stf-2016-17", "stf-2017-18", "psf-2018-19"))
    assert p16.get("phasing.quarters") == [0.25] * 4
    assert p17.get("phasing.quarters") == p18.get("phasing.quarters") == [0.15, 0.2, 0.3, 0.35]
    for p in (p16, p17, p18):
        assert (p.get("split.finance"), p.get("split.performance")) == (0.7, 0.3)
    assert [p.get("incentive.ratio") for p in (p16, p17, p18)] == [1.0, 1.0, 2.0]
    assert [p.get("pool.total") for p in (p16, p17, p18)] == [1_800_000, 1_800_000, 2_450_000]
    assert load_pack("stf-2016-17:hsj").get("performance.elements") == {
        "rtt": 0.1,
        "ae": 0.1,
        "cancer": 0.1,
    }


def test_verified_flags_follow_domain_tags():
    """[V] values are verified, [B]/[?]/[C] ones are not."""
    p16, p17, p18 = (load_pack(n) for n in ("stf-2016-17", "stf-2017-18", "psf-2018-19"))
    assert p16.leaf("split.finance").verified  # HFMA [V]
    assert not p17.leaf("split.finance").verified  # [B]
    assert not p16.leaf("performance.elements").verified  # [C]
    assert p17.leaf("performance.elements").verified  # A&E focus [V]
    assert not p18.leaf("performance.elements").verified  # [B]
    assert p18.leaf("incentive.ratio").verified  # 2:1 [V]
    for p in (p16, p17, p18):
        assert not p.leaf("catch_up.enabled").verified  # [?]
        assert p.leaf("phasing.quarters").verified


def test_example_pack_in_docs_loads_and_validates():
    """docs/funding-pack-example.toml is a valid funding pack with the shipped keys."""
    pack = load_pack(EXAMPLE, kind="funding")
    validate_funding_pack(pack)
    assert set(pack.leaves) == set(load_pack("stf-2017-18").leaves)


def test_result_lists_unverified_values_used():
    """The result names the unverified values it depended on, and only those."""
    r = run("stf-2017-18", [0.0] * 4, catch_up=None)
    assert "stf-2017-18:split.finance" in r.unverified
    assert "stf-2017-18:catch_up.enabled" in r.unverified
    assert "stf-2017-18:phasing.quarters" not in r.unverified  # verified
    assert "stf-2017-18:performance.untracked_rule" not in r.unverified  # A&E only: unused
    assert "stf-2017-18:performance.no_ae_rule" not in r.unverified  # every trust has A&E
    r16 = run("stf-2016-17", [0.0] * 4, ae_applies=[False])
    assert "stf-2016-17:performance.no_ae_rule" in r16.unverified


# --- Quarterly gate -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pack", "q2_finance", "q2_performance", "total_without", "total_with"),
    [
        ("stf-2016-17", 1_750.0, 750.0, 7_500.0, 10_000.0),
        ("stf-2016-17:hsj", 1_750.0, 750.0, 7_500.0, 10_000.0),
        ("stf-2017-18", 1_400.0, 600.0, 8_000.0, 10_000.0),
        ("psf-2018-19", 1_400.0, 600.0, 8_000.0, 10_000.0),
    ],
)
def test_missed_q2_under_each_pack(pack, q2_finance, q2_performance, total_without, total_with):
    """Q2 YTD £1k short, other quarters met: Q2 lost; catch-up at a met year end returns it.

    stf-2016-17 (25/25/25/25, 70/30): Q2 finance 10,000×0.7×0.25 = 1,750; Q2 performance
    10,000×0.3×0.25 = 750 (RTT 312.5 + A&E 312.5 + cancer 125 under HFMA, 250 each under
    HSJ; RTT and cancer treated as met) is lost too because performance.requires_finance.
    Earned 10,000 − 2,500 = 7,500.
    stf-2017-18 and psf-2018-19 (15/20/30/35, 70/30): Q2 finance 10,000×0.7×0.20 = 1,400;
    Q2 performance 10,000×0.3×0.20 = 600 lost with it. Earned 10,000 − 2,000 = 8,000.
    With catch-up the year end is met (Q4 YTD on profile), so the withheld Q2 amount is
    released: 10,000 in every case. No outperformance, so no incentive.
    """
    surplus = [0.0, -1.0, 0.0, 0.0]
    r = run(pack, surplus, catch_up=False)
    assert r.met_quarter[0, 0].tolist() == [True, False, True, True]
    assert r.finance_earned[0, 0, 1] == 0.0
    assert r.performance_earned[0, 0, 1] == 0.0
    assert r.lost[0, 0, 1] == pytest.approx(q2_finance + q2_performance)
    assert r.lost[0, 0, [0, 2, 3]].tolist() == [0.0, 0.0, 0.0]
    assert r.released_catch_up[0, 0] == 0.0
    assert r.total_earned[0, 0] == pytest.approx(total_without)
    assert r.forfeited[0, 0] == pytest.approx(q2_finance + q2_performance)

    c = run(pack, surplus, catch_up=True)
    assert c.earned[0, 0].tolist() == r.earned[0, 0].tolist()  # per quarter: still withheld
    assert c.released_catch_up[0, 0] == pytest.approx(q2_finance + q2_performance)
    assert c.total_earned[0, 0] == pytest.approx(total_with)
    assert c.forfeited[0, 0] == pytest.approx(0.0)


def test_catch_up_default_comes_from_pack():
    """catch_up=None uses the pack's catch_up.enabled: off in 2016/17 (no rule found, [?]),
    on in 2017/18 and 2018/19 (a catch-up existed in some form, domain.md §2.2 [B]).

    Q2 £1k short, year end met: 2017/18 withholds Q2 = 10,000 × 0.20 = 2,000 and releases it
    at year end (10,000); with catch-up off it is lost (8,000). 2016/17: Q2 = 2,500 lost.
    """
    surplus = [0.0, -1.0, 0.0, 0.0]
    for pack, total in (("stf-2017-18", 10_000.0), ("psf-2018-19", 10_000.0)):
        assert run(pack, surplus, catch_up=None).total_earned[0, 0] == pytest.approx(total)
    assert run("stf-2016-17", surplus, catch_up=None).total_earned[0, 0] == pytest.approx(7_500.0)
    off = with_values("stf-2017-18", {"catch_up.enabled": False})
    assert run(off, surplus, catch_up=None).total_earned[0, 0] == pytest.approx(8_000.0)


def test_catch_up_needs_the_year_end_met():
    """Q2 missed and Q4 missed: nothing released; Q2 and Q4 both lost.

    stf-2017-18: lost Q2 2,000 + Q4 3,500 = 5,500; earned 4,500 with or without catch-up.
    """
    r = run("stf-2017-18", [0.0, -1.0, 0.0, -1.0], catch_up=True)
    assert r.released_catch_up[0, 0] == 0.0
    assert r.total_earned[0, 0] == pytest.approx(4_500.0)
    assert not r.met_year[0, 0]


def test_performance_without_finance_gate():
    """requires_finance = false: a missed Q2 loses only the finance element.

    stf-2017-18: Q2 finance 1,400 lost, Q2 performance 600 kept; earned 8,600.
    """
    pack = with_values("stf-2017-18", {"performance.requires_finance": False})
    r = run(pack, [0.0, -1.0, 0.0, 0.0])
    assert r.finance_earned[0, 0, 1] == 0.0
    assert r.performance_earned[0, 0, 1] == pytest.approx(600.0)
    assert r.total_earned[0, 0] == pytest.approx(8_600.0)


@pytest.mark.parametrize(
    ("pack", "total"),
    [("stf-2016-17", 8_750.0), ("stf-2016-17:hsj", 9_000.0), ("stf-2017-18", 7_000.0)],
)
def test_ae_missed_all_year(pack, total):
    """Finance met, A&E missed every quarter: the A&E element's share is lost.

    stf-2016-17 (HFMA 12.5/12.5/5/0 of the allocation): A&E = 12.5% → 10,000 − 1,250 = 8,750.
    stf-2016-17:hsj (10/10/10): A&E = 10% → 10,000 − 1,000 = 9,000.
    stf-2017-18 (A&E is the whole 30%): 10,000 − 3,000 = 7,000.
    """
    r = run(pack, [0.0] * 4, ae_met=[[[False] * 4]])
    assert r.finance_earned[0, 0].sum() == pytest.approx(7_000.0)
    assert r.total_earned[0, 0] == pytest.approx(total)


def test_untracked_elements_lost():
    """untracked_rule = "lost": 2016/17 RTT and cancer never pay; only A&E does.

    Performance earned = A&E 12.5% of 10,000 = 1,250; total 7,000 + 1,250 = 8,250.
    """
    pack = with_values("stf-2016-17", {"performance.untracked_rule": "lost"})
    r = run(pack, [0.0] * 4)
    assert r.performance_earned[0, 0].sum() == pytest.approx(1_250.0)
    assert r.total_earned[0, 0] == pytest.approx(8_250.0)


def test_ae_catch_up_by_component():
    """A&E missed Q1–Q3, met Q4: catch-up on performance releases the withheld A&E money.

    stf-2017-18, finance met all year: performance earned only Q4 = 10,000×0.3×0.35 = 1,050,
    total 8,050; catch-up on both components releases 3,000 − 1,050 = 1,950 → 10,000;
    catch-up on finance only releases nothing → 8,050.
    """
    ae = [[[False, False, False, True]]]
    assert run("stf-2017-18", [0.0] * 4, ae_met=ae).total_earned[0, 0] == pytest.approx(8_050.0)
    r = run("stf-2017-18", [0.0] * 4, ae_met=ae, catch_up=True)
    assert r.released_catch_up[0, 0] == pytest.approx(1_950.0)
    assert r.total_earned[0, 0] == pytest.approx(10_000.0)
    fin_only = with_values("stf-2017-18", {"catch_up.applies_to": ["finance"]})
    r = run(fin_only, [0.0] * 4, ae_met=ae, catch_up=True)
    assert r.total_earned[0, 0] == pytest.approx(8_050.0)


@pytest.mark.parametrize("pack", PACKS)
def test_cliff_edge_one_thousand_pounds(pack):
    """£1k (1.0 in £000) short at Q3 loses Q3's finance element; exactly on the gate earns it.

    stf-2017-18: Q3 = 10,000×0.30 = 3,000 (finance 2,100 + performance 900) lost for a £1k
    miss; earned 7,000. stf-2016-17: Q3 = 2,500 lost; earned 7,500.
    """
    p = load_pack(pack)
    q3 = 10_000.0 * p.get("phasing.quarters")[2]
    short = run(pack, [0.0, 0.0, -1.0, 0.0])
    assert short.finance_earned[0, 0, 2] == 0.0
    assert short.lost[0, 0, 2] == pytest.approx(q3)
    assert short.total_earned[0, 0] == pytest.approx(10_000.0 - q3)
    on = run(pack, [5.0, 10.0, 0.0, 0.0], target=[[[5.0, 10.0, 0.0, 0.0]]])
    assert on.met_quarter.all()
    assert on.finance_earned[0, 0, 2] == pytest.approx(q3 * 0.7)
    assert on.total_earned[0, 0] == pytest.approx(10_000.0)


def test_gate_tolerance_from_pack():
    """gate.tolerance = 1.0: £1k short passes, £1.001k short fails."""
    pack = with_values("stf-2017-18", {"gate.tolerance": 1.0})
    assert run(pack, [0.0, 0.0, -1.0, 0.0]).met_quarter.all()
    assert not run(pack, [0.0, 0.0, -1.001, 0.0]).met_quarter[0, 0, 2]


@pytest.mark.parametrize("pack", PACKS)
@pytest.mark.parametrize("catch_up", [False, True])
def test_not_accepted_earns_nothing(pack, catch_up):
    """No accepted control total: nothing at all (no quarter, no catch-up, no incentive)."""
    r = run(pack, [50_000.0] * 4, accepted=[False], catch_up=catch_up)
    assert not r.met_quarter.any()
    assert not r.met_year.any()
    assert r.earned.sum() == 0.0
    assert r.incentive[0, 0] == 0.0
    assert r.total_earned[0, 0] == 0.0
    assert r.forfeited[0, 0] == pytest.approx(10_000.0)


def test_acceptance_not_required_pack():
    """acceptance.required = false: an unaccepted trust is tested on its position alone."""
    pack = with_values("stf-2017-18", {"acceptance.required": False})
    assert run(pack, [0.0] * 4, accepted=[False]).total_earned[0, 0] == pytest.approx(10_000.0)


@pytest.mark.parametrize("pack", PACKS)
def test_no_ae_whole_allocation_finance_conditional(pack):
    """No A&E: the whole allocation is finance element; A&E results are ignored.

    Every quarter met: 10,000 earned, all of it finance, even with ae_met all false.
    Q2 missed under stf-2017-18: all of Q2 (2,000) lost; under stf-2016-17: 2,500.
    """
    never = [[[False] * 4]]
    r = run(pack, [0.0] * 4, ae_applies=[False], ae_met=never)
    assert r.finance_earned[0, 0].sum() == pytest.approx(10_000.0)
    assert r.performance_earned.sum() == 0.0
    q2 = 10_000.0 * load_pack(pack).get("phasing.quarters")[1]
    m = run(pack, [0.0, -1.0, 0.0, 0.0], ae_applies=[False], ae_met=never)
    assert m.lost[0, 0, 1] == pytest.approx(q2)
    assert m.total_earned[0, 0] == pytest.approx(10_000.0 - q2)


def test_no_ae_rule_performance_met():
    """no_ae_rule = "performance_met": the performance element stays, its A&E test passes.

    stf-2017-18 with requires_finance = false, Q2 missed: only Q2 finance (1,400) lost → 8,600.
    """
    pack = with_values(
        "stf-2017-18",
        {"performance.no_ae_rule": "performance_met", "performance.requires_finance": False},
    )
    r = run(pack, [0.0, -1.0, 0.0, 0.0], ae_applies=[False], ae_met=[[[False] * 4]])
    assert r.performance_earned[0, 0].sum() == pytest.approx(3_000.0)
    assert r.total_earned[0, 0] == pytest.approx(8_600.0)


# --- Year end: incentive ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pack", "incentive"),
    [
        ("stf-2016-17", 7_000.0),
        ("stf-2017-18", 7_000.0),
        ("psf-2018-19:outperformance", 14_000.0),
        ("psf-2018-19", 0.0),
    ],
)
def test_beating_control_total_by_7m(pack, incentive):
    """Beating the control total by £7m at year end: £7m incentive at 1:1; £14m under the
    PSF 2:1 outperformance variant; nothing under the PSF default, which rewards the
    improvement agreed in the plan (none here), not the outturn beyond it.
    """
    r = run(pack, [0.0, 0.0, 0.0, 7_000.0])
    assert r.outperformance[0, 0] == 7_000.0
    assert r.incentive[0, 0] == incentive
    assert r.total_earned[0, 0] == pytest.approx(10_000.0 + incentive)


def test_incentive_only_at_year_end_and_capped():
    """Q2 outperformance with a missed year end earns no incentive; a pack cap binds."""
    r = run("psf-2018-19:outperformance", [0.0, 5_000.0, 0.0, -1.0])
    assert r.incentive[0, 0] == 0.0
    capped = with_values("psf-2018-19:outperformance", {"incentive.cap": 5_000.0})
    assert run(capped, [0.0, 0.0, 0.0, 7_000.0]).incentive[0, 0] == 5_000.0


# --- Bonus ----------------------------------------------------------------------------------


def test_bonus_pro_rata_among_trusts_that_met():
    """3 trusts (10,000 / 20,000 / 30,000); C misses the year end: its Q4 shared 1:2 by A, B.

    stf-2017-18, draw 0: C loses Q4 = 30,000×0.35 = 10,500; A gets 10,500×10/30 = 3,500,
    B 10,500×20/30 = 7,000. Totals 13,500 / 27,000 / 19,500 = 60,000: money conserved.
    Draw 1: all meet, pool 0, no bonus. Draw 2: all miss Q4, pool 21,000 not distributed
    (nobody qualifies): totals 6,500 / 13,000 / 19,500.
    """
    surplus = np.zeros((3, 3, 4))
    surplus[0, 2, 3] = -1.0
    surplus[2, :, 3] = -1.0
    kw = {"allocation": [10_000.0, 20_000.0, 30_000.0], "accepted": [True] * 3}
    kw["ae_applies"] = [True] * 3
    r = run("stf-2017-18", surplus, **kw)
    b = distribute_bonus(r, load_pack("stf-2017-18"))
    np.testing.assert_allclose(b.bonus[0], [3_500.0, 7_000.0, 0.0])
    np.testing.assert_allclose(b.total_earned[0], [13_500.0, 27_000.0, 19_500.0])
    np.testing.assert_allclose(b.bonus[1], 0.0)
    np.testing.assert_allclose(b.bonus[2], 0.0)
    np.testing.assert_allclose(b.total_earned[2], [6_500.0, 13_000.0, 19_500.0])
    np.testing.assert_allclose(b.total_earned.sum(axis=1), [60_000.0, 60_000.0, 39_000.0])
    conserved = b.available.sum(axis=(1, 2)) - b.forfeited.sum(1) + b.bonus.sum(1)
    np.testing.assert_allclose(b.total_earned.sum(axis=1), conserved + b.incentive.sum(1))
    np.testing.assert_allclose(b.earned.sum(-1) + b.lost.sum(-1), b.available.sum(-1))
    again = distribute_bonus(b, load_pack("stf-2017-18"))
    np.testing.assert_allclose(again.total_earned, b.total_earned)  # replaces, never adds


def test_bonus_given_pool_and_outperformance_basis():
    """A given pool of 1,200 is shared 1:3 by outperformance (1,000 vs 3,000) when so chosen.

    Bonus 300 / 900; totals = 10,000 + incentive (1:1) + bonus = 11,300 / 13,900.
    """
    pack = with_values("stf-2017-18", {"bonus.basis": "pro_rata_outperformance"})
    surplus = np.array([[[0.0, 0.0, 0.0, 1_000.0], [0.0, 0.0, 0.0, 3_000.0]]])
    kw = {"allocation": [10_000.0, 10_000.0], "accepted": [True, True]}
    r = run(pack, surplus, ae_applies=[True, True], **kw)
    b = distribute_bonus(r, pack, pool_forfeited=1_200.0)
    np.testing.assert_allclose(b.bonus[0], [300.0, 900.0])
    np.testing.assert_allclose(b.total_earned[0], [11_300.0, 13_900.0])


def test_bonus_disabled_and_wrong_pack():
    """bonus.enabled = false gives no bonus; a result from another pack is refused."""
    pack = with_values("stf-2017-18", {"bonus.enabled": False})
    surplus = np.array([[[0.0] * 4, [0.0, 0.0, 0.0, -1.0]]])
    r = run(pack, surplus, allocation=[1.0, 1.0], accepted=[True] * 2, ae_applies=[True] * 2)
    assert distribute_bonus(r, pack).bonus.sum() == 0.0
    with pytest.raises(ValueError, match="computed under"):
        distribute_bonus(r, load_pack("psf-2018-19"))


# --- Vectorised vs scalar; broadcasting -------------------------------------------------------

_OVERRIDES = st.fixed_dictionaries(
    {
        "performance.requires_finance": st.booleans(),
        "performance.no_ae_rule": st.sampled_from(["finance_conditional", "performance_met"]),
        "performance.untracked_rule": st.sampled_from(["met", "lost"]),
        "gate.tolerance": st.sampled_from([0.0, 0.5]),
        "incentive.cap": st.sampled_from([False, 100.0]),
        "catch_up.applies_to": st.sampled_from([["finance", "performance"], ["finance"], []]),
        "acceptance.required": st.booleans(),
        "incentive.basis": st.sampled_from(["outperformance", "agreed_improvement"]),
    }
)
_DELTA = st.one_of(
    st.sampled_from([-1.0, -0.5, 0.0, 0.5, 1.0]),
    st.floats(-2_000.0, 2_000.0, allow_nan=False),
)


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    name=st.sampled_from(PACKS),
    overrides=_OVERRIDES,
    n_draw=st.integers(1, 3),
    n_trust=st.integers(1, 4),
    catch_up=st.sampled_from([None, False, True]),
    give_ae=st.booleans(),
)
def test_vectorised_matches_scalar_reference(
    data, name, overrides, n_draw, n_trust, catch_up, give_ae
):
    """assess_funding agrees with the loop-by-loop reference for every draw and trust."""
    pack = with_values(name, overrides)
    shape = (n_draw, n_trust, 4)
    size = n_draw * n_trust * 4
    target = np.array(
        data.draw(st.lists(st.floats(-1_000.0, 1_000.0), min_size=size, max_size=size))
    ).reshape(shape)
    delta = np.array(data.draw(st.lists(_DELTA, min_size=size, max_size=size))).reshape(shape)
    surplus = target + delta
    alloc = np.array(
        data.draw(st.lists(st.floats(0.0, 50_000.0), min_size=n_trust, max_size=n_trust))
    )
    accepted = np.array(data.draw(st.lists(st.booleans(), min_size=n_trust, max_size=n_trust)))
    ae_applies = np.array(data.draw(st.lists(st.booleans(), min_size=n_trust, max_size=n_trust)))
    agreed = np.array(
        data.draw(st.lists(st.floats(0.0, 5_000.0), min_size=n_trust, max_size=n_trust))
    )
    ae_met = None
    if give_ae:
        ae_met = np.array(data.draw(st.lists(st.booleans(), min_size=size, max_size=size)))
        ae_met = ae_met.reshape(shape)

    r = assess_funding(
        pack,
        ytd_surplus_pre=surplus,
        ytd_target_pre=target,
        allocation=alloc,
        accepted=accepted,
        ae_applies=ae_applies,
        ae_met=ae_met,
        catch_up=catch_up,
        improvement_agreed=agreed,
    )
    for d in range(n_draw):
        for t in range(n_trust):
            ref = assess_funding_scalar(
                pack,
                ytd_surplus_pre=surplus[d, t].tolist(),
                ytd_target_pre=target[d, t].tolist(),
                allocation=float(alloc[t]),
                accepted=bool(accepted[t]),
                ae_applies=bool(ae_applies[t]),
                ae_met=None if ae_met is None else ae_met[d, t].tolist(),
                catch_up=catch_up,
                improvement_agreed=float(agreed[t]),
            )
            for field, want in ref.items():
                got = getattr(r, field)[d, t]
                if field in ("met_quarter", "met_year"):
                    assert np.asarray(got).tolist() == want, field
                else:
                    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-6, err_msg=field)


def test_broadcasting_draws_and_trusts():
    """(draw, trust, 4) inputs with a (trust, 4) target and (trust, 4) ae_met broadcast;
    every (draw, trust) equals the same trust run alone."""
    rng = np.random.default_rng(7)
    n_draw, n_trust = 5, 3
    target = rng.normal(0.0, 500.0, (n_trust, 4))
    surplus = target + rng.choice([-1.0, 0.0, 1.0, 250.0], (n_draw, n_trust, 4))
    alloc = np.array([5_000.0, 12_000.0, 0.0])
    accepted = np.array([True, True, False])
    ae_applies = np.array([True, False, True])
    ae_met = np.array([[True, False, True, True], [False] * 4, [True] * 4])
    r = assess_funding(
        load_pack("stf-2017-18"),
        ytd_surplus_pre=surplus,
        ytd_target_pre=target,
        allocation=alloc,
        accepted=accepted,
        ae_applies=ae_applies,
        ae_met=ae_met,
        catch_up=True,
    )
    assert r.earned.shape == r.lost.shape == r.met_quarter.shape == (n_draw, n_trust, 4)
    assert r.total_earned.shape == r.incentive.shape == r.met_year.shape == (n_draw, n_trust)
    for d in range(n_draw):
        for t in range(n_trust):
            one = assess_funding(
                load_pack("stf-2017-18"),
                ytd_surplus_pre=surplus[d : d + 1, t : t + 1],
                ytd_target_pre=target[t],
                allocation=alloc[t : t + 1],
                accepted=accepted[t : t + 1],
                ae_applies=ae_applies[t : t + 1],
                ae_met=ae_met[t],
                catch_up=True,
            )
            np.testing.assert_array_equal(one.earned[0, 0], r.earned[d, t])
            assert one.total_earned[0, 0] == r.total_earned[d, t]


def test_bad_input_shapes():
    """Shapes that do not fit and negative allocations are refused with the argument's name."""
    pack = load_pack("stf-2017-18")
    ok = {"ytd_target_pre": 0.0, "accepted": [True], "ae_applies": [True]}
    with pytest.raises(ValueError, match="ytd_surplus_pre"):
        assess_funding(pack, ytd_surplus_pre=np.zeros((1, 4)), allocation=[1.0], **ok)
    with pytest.raises(ValueError, match="allocation"):
        assess_funding(pack, ytd_surplus_pre=np.zeros((1, 1, 4)), allocation=[-1.0], **ok)
    with pytest.raises(ValueError, match="allocation"):
        assess_funding(pack, ytd_surplus_pre=np.zeros((1, 1, 4)), allocation=[1.0, 2.0], **ok)
    with pytest.raises(ValueError, match="ae_met"):
        run(pack, [0.0] * 4, ae_met=np.ones((2, 3), bool))


# --- Bad packs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        (
            "value = [0.15, 0.20, 0.30, 0.35]",
            "value = [0.15, 0.20, 0.30, 0.30]",
            "phasing.quarters",
        ),
        ("[values.split.finance]\nvalue = 0.7", "[values.split.finance]\nvalue = 0.6", "split"),
        (
            "[values.incentive.ratio]\nvalue = 1.0",
            "[values.incentive.ratio]\nvalue = -1.0",
            "incentive.ratio",
        ),
        ('value = "pro_rata_allocation"', 'value = "pro_rata_need"', "bonus.basis"),
        ('value = "ytd_pre_stf"', 'value = "ytd_post_stf"', "gate.basis"),
        ('value = "finance_conditional"', 'value = "ignore"', "performance.no_ae_rule"),
        (
            'value = ["finance", "performance"]',
            'value = ["finance", "quality"]',
            "catch_up.applies_to",
        ),
        ("value = { ae = 1.0 }", "value = { ae = -1.0 }", "performance.elements.ae"),
        ('kind = "funding"', 'kind = "sof"', "pack.kind"),
        (
            "[values.incentive.cap]\nvalue = false",
            "[values.incentive.cap]\nvalue = true",
            "incentive.cap",
        ),
        ("[values.acceptance.required]", "[values.acceptance.needed]", "acceptance.required"),
    ],
)
def test_bad_pack_names_file_and_key(tmp_path, old, new, key):
    """A broken copy of stf-2017-18 is refused with a message naming the file and the key."""
    text = resources.files("cipmodel").joinpath("rules", "stf-2017-18.toml").read_text("utf-8")
    assert text.count(old) == 1
    path = tmp_path / "broken.toml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    pack = load_pack(path)
    with pytest.raises(RulePackError) as err:
        validate_funding_pack(pack)
    assert str(path) in str(err.value)
    assert f": {key}: " in str(err.value)
    with pytest.raises(RulePackError, match=key.replace(".", r"\.")):
        run(pack, [0.0] * 4)


def test_split_error_names_both_keys(tmp_path):
    """A split that does not sum to 1 names split.finance and split.performance and the sum."""
    text = resources.files("cipmodel").joinpath("rules", "psf-2018-19.toml").read_text("utf-8")
    path = tmp_path / "psf.toml"
    old = "[values.split.performance]\nvalue = 0.3"
    path.write_text(text.replace(old, "[values.split.performance]\nvalue = 0.4"), "utf-8")
    with pytest.raises(RulePackError, match=r"split\.finance \(0\.7\) \+ split\.performance"):
        validate_funding_pack(load_pack(path))
