"""Monte Carlo engine: closed forms, reproducibility, no-uncertainty = plan run, goal seek.

Golden numbers and their sources:

* Poisson-binomial: a trust whose control total is met iff at least k of n independent
  all-or-nothing schemes deliver has P(meet) = P(K >= k), K ~ Poisson-binomial(p_1..p_n),
  computed exactly here by the usual convolution recursion. Tolerance: 4 Monte Carlo
  standard errors sqrt(p (1 - p) / n) (binomial; conservative for LHS and Sobol').
* Normal shock: with pay P and a pay-award shift ~ N(0, sigma^2) the year's surplus is
  S0 - P x shift, so P(meet CT) = Phi((S0 - CT) / (P sigma)); here (1000 - 500) /
  (100000 x 0.01) = 0.5 and Phi(0.5) = 0.691462... Same tolerance.
* Calibration: domain.md §4.2 [V-derived]: sector CIP delivered / planned 85-90%,
  non-recurrent 25-30% of delivered.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cipmodel.errors import RulePackError
from cipmodel.examples import example_portfolio
from cipmodel.inputs.records import Portfolio
from cipmodel.montecarlo import (
    AEShock,
    Priors,
    ShareDist,
    Shock,
    SimulationError,
    load_priors,
    nearest_correlation,
    simulate,
    solve_probability,
)
from cipmodel.montecarlo.inputs import InputModel
from cipmodel.montecarlo.sensitivity import first_order
from cipmodel.montecarlo.simulation import OUTPUTS
from cipmodel.regime.packs import load_pack
from cipmodel.results.run import run_plan

MC_SIGMAS = 4.0
P_VALUES = (0.2, 0.35, 0.5, 0.6, 0.7, 0.8, 0.9, 0.55)
SCHEME_VALUE = 120.0  # £000 a year, delivered in full from month 1


def _poisson_binomial_at_least(ps: tuple[float, ...], k: int) -> float:
    dist = np.array([1.0])
    for p in ps:
        dist = np.convolve(dist, [1 - p, p])
    return float(dist[k:].sum())


def _bernoulli_trust(k: int) -> tuple[Portfolio, Priors]:
    """A trust with no surplus before CIP whose control total needs k of its 8 schemes."""
    code = "RBN"
    cip = [
        {
            "trust_code": code,
            "scheme_id": f"S{i}",
            "name": f"scheme {i}",
            "category": "pay",
            "value_fye": SCHEME_VALUE,
            "start_month": 1,
            "ramp_months": 0,
            "stage": "plan",
            "rag": "amber",
        }
        for i in range(len(P_VALUES))
    ]
    p = Portfolio(
        trusts=[{"trust_code": code, "name": "Bernoulli Trust", "trust_type": "community"}],
        income=[{"trust_code": code, "line": "nhs_clinical", "annual_value": 12000.0}],
        costs=[{"trust_code": code, "line": "pay_substantive", "annual_value": 12000.0}],
        cip=cip,
        control_total=[{"trust_code": code, "year": 1, "target_pre_stf": SCHEME_VALUE * (k - 0.5)}],
        name="bernoulli-test",
    )
    pri = Priors.none().replace(
        name="bernoulli",
        delivery_scheme={f"{code}/S{i}": ShareDist.bernoulli(q) for i, q in enumerate(P_VALUES)},
    )
    return p, pri


def _pay_shock_trust() -> Portfolio:
    code = "RNS"
    return Portfolio(
        trusts=[{"trust_code": code, "name": "Normal Shock Trust", "trust_type": "acute"}],
        income=[{"trust_code": code, "line": "nhs_clinical", "annual_value": 101_000.0}],
        costs=[{"trust_code": code, "line": "pay_substantive", "annual_value": 100_000.0}],
        control_total=[{"trust_code": code, "year": 1, "target_pre_stf": 500.0}],
        name="normal-shock-test",
    )


def _p_meet(r) -> float:  # noqa: ANN001
    return float(r.collector.probability("met_year")[0, 0])


# -- closed forms -------------------------------------------------------------------------


@pytest.mark.parametrize("sampler", ["random", "lhs", "sobol"])
@pytest.mark.parametrize("k", [3, 5, 7])
def test_independent_bernoulli_schemes_give_poisson_binomial(sampler: str, k: int) -> None:
    """P(meet) of a trust needing k of 8 all-or-nothing schemes is the exact
    Poisson-binomial P(K >= k), within 4 Monte Carlo standard errors."""
    p, pri = _bernoulli_trust(k)
    n = 2**14
    r = simulate(p, draws=n, seed=42, sampler=sampler, priors=pri)
    exact = _poisson_binomial_at_least(P_VALUES, k)
    se = math.sqrt(exact * (1 - exact) / n)
    assert abs(_p_meet(r) - exact) <= MC_SIGMAS * se, (_p_meet(r), exact)


@pytest.mark.parametrize("national_share", [1.0, 0.4])
def test_normal_pay_shock_gives_analytic_normal_probability(national_share: float) -> None:
    """A N(0, 0.01^2) pay-award shock on £100m pay, £500k above the control total, meets
    it with probability Phi(0.5) (whatever part of the shock is national)."""
    pri = Priors.none().replace(
        name="pay-shock", shocks={"pay_award": Shock(sd=0.01, national_share=national_share)}
    )
    n = 2**14
    r = simulate(_pay_shock_trust(), draws=n, seed=7, sampler="random", priors=pri)
    exact = float(stats.norm.cdf(0.5))
    se = math.sqrt(exact * (1 - exact) / n)
    assert abs(_p_meet(r) - exact) <= MC_SIGMAS * se
    # and the surplus itself is normal: mean S0 - CT + CT = 1000, sd 1000
    assert r.collector.mean("surplus_pre_stf")[0, 0] == pytest.approx(
        1000.0, abs=MC_SIGMAS * 1000 / math.sqrt(n)
    )
    assert r.collector.std("surplus_pre_stf")[0, 0] == pytest.approx(1000.0, rel=0.05)


# -- no uncertainty reproduces the plan run -------------------------------------------------


@pytest.mark.parametrize("shift", [0.0, 100.0])
def test_no_uncertainty_reproduces_run_exactly(shift: float) -> None:
    """With every uncertainty off each draw is the plan run: P(meet) is 1 or 0 as in the run
    and every percentile equals the run's value exactly."""
    p = example_portfolio("acute-11pc")
    if shift:
        p = p.replace(
            control_total=tuple(
                dataclass_replace(c, target_pre_stf=c.target_pre_stf + shift, month=None)
                for c in p.control_total
            )
        )
    run = run_plan(p)
    r = simulate(p, draws=64, seed=1, priors="none", chunk_size=16, sampler="random")
    c = r.collector
    met = bool(run.to_dict()["trusts"][0]["control_total"]["met"])
    assert _p_meet(r) == (1.0 if met else 0.0)
    year1 = run.trust_summary().query("year == 1").iloc[0]
    assert np.all(c.percentiles("surplus_pre_stf") == year1.surplus_pre_stf)
    assert np.all(c.percentiles("variance") == year1.variance)
    assert np.all(c.percentiles("reported_surplus") == run.assessment.reported_surplus_ytd[0, 0, 3])
    assert np.all(c.percentiles("stf_earned_q")[:, 0] == run.assessment.funding.earned[0, 0])
    assert np.all(c.percentiles("cip_delivered") == run.solved.planned[0])
    np.testing.assert_array_equal(
        c.probability("met_q")[0], run.projection.ytd_variance()[0, 0, 0, [2, 5, 8, 11]] >= -1e-6
    )
    overall = int(np.asarray(run.assessment.full_year_score.overall)[0, 0])
    assert c.distribution("score_q")[0, 3, overall] == 1.0
    # the JSON is run --json plus the simulation's keys (and a simulation object per year)
    sim_t, run_t = r.to_dict()["trusts"][0], run.to_dict()["trusts"][0]
    assert all("simulation" in y for y in sim_t["years"])
    sim_t = {
        **sim_t,
        "years": [{k: v for k, v in y.items() if k != "simulation"} for y in sim_t["years"]],
    }
    assert {
        k: v
        for k, v in sim_t.items()
        if k not in ("probability", "percentiles", "funding_expected")
    } == run_t
    assert sim_t["percentiles"]["surplus_pre_stf"]["p5"] == run_t["control_total"]["forecast"]
    assert sim_t["percentiles"]["surplus_pre_stf"]["p95"] == run_t["control_total"]["forecast"]


def dataclass_replace(obj, **kw):  # noqa: ANN001, ANN003, ANN201
    import dataclasses

    return dataclasses.replace(obj, source=None, **kw)


# -- reproducibility ----------------------------------------------------------------------


def _summaries(r) -> dict:  # noqa: ANN001
    c = r.collector
    d = r.to_dict()
    for k in ("chunk_size", "workers"):
        d["provenance"].pop(k)
    return {
        "kept_f": c._kept_f,
        "kept_b": c._kept_b,
        "kept_c": c._kept_c,
        "bool": c._bool,
        "cat": c._cat,
        "min": c._min,
        "max": c._max,
        "hist": c._hist,
        "sum": c._sum.result(),
        "sq": c._sq.result(),
        "json": json.dumps(d, sort_keys=True),
    }


def _assert_identical(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], str):
            assert a[k] == b[k], k
        else:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_seed_42_bit_identical_across_chunk_sizes_and_runs() -> None:
    """Seed 42 gives bit-identical per-draw outputs and summaries with chunks of 1,000 and
    100,000 draws, and again on a second run (histogram percentiles included)."""
    p = example_portfolio("acute-11pc")
    kw = dict(draws=2**15, seed=42, keep=4096)
    big = _summaries(simulate(p, chunk_size=100_000, **kw))
    small = _summaries(simulate(p, chunk_size=1_000, **kw))
    _assert_identical(big, small)
    _assert_identical(big, _summaries(simulate(p, chunk_size=100_000, **kw)))
    assert big["hist"] is not None  # more draws than kept: percentiles from histograms


def test_chunk_of_one_and_workers_give_identical_results() -> None:
    """Chunks of 1 draw, odd chunks and two worker threads change nothing."""
    p = example_portfolio("acute-11pc")
    kw = dict(draws=300, seed=5, sampler="random", keep=200)
    ref = _summaries(simulate(p, chunk_size=300, **kw))
    _assert_identical(ref, _summaries(simulate(p, chunk_size=1, **kw)))
    _assert_identical(ref, _summaries(simulate(p, chunk_size=7, workers=2, **kw)))


def test_different_seeds_differ_and_fresh_seed_is_recorded() -> None:
    """Another seed gives other draws; a run without a seed records one that repeats it."""
    p = example_portfolio("acute-11pc")
    a = simulate(p, draws=512, seed=1, sampler="random")
    b = simulate(p, draws=512, seed=2, sampler="random")
    assert not np.array_equal(a.collector._kept_f, b.collector._kept_f)
    c = simulate(p, draws=512, sampler="random")
    seed = c.provenance["seed"]
    assert isinstance(seed, int)
    again = simulate(p, draws=512, seed=seed, sampler="random")
    np.testing.assert_array_equal(c.collector._kept_f, again.collector._kept_f)
    for key in ("seed", "sampler", "draws", "chunk_size", "priors", "input_hash", "version"):
        assert key in c.provenance


def test_convergence_stop() -> None:
    """With a tolerance the run stops at a check point once P(meet) is known to ± tolerance,
    with the same answers as a run of that many draws."""
    p, pri = _bernoulli_trust(5)
    r = simulate(p, draws=100_000, seed=3, sampler="random", priors=pri, tolerance=0.02)
    n = r.provenance["draws"]
    assert r.provenance["converged_at"] == n and n in (1024, 2048, 4096)
    assert n < 100_000
    pm = _p_meet(r)
    assert 1.96 * math.sqrt(pm * (1 - pm) / n) <= 0.02 + 1e-3
    fixed = simulate(p, draws=n, seed=3, sampler="random", priors=pri)
    assert _p_meet(fixed) == pm


# -- calibration on the national portfolio ------------------------------------------------


def test_priors_calibrated_on_national_portfolio() -> None:
    """The default priors deliver 85-90% of the national portfolio's planned in-year CIP,
    with non-recurrent schemes 25-30% of what is delivered (domain.md §4.2)."""
    national = pytest.importorskip("cipmodel.examples.national")
    r = simulate(national.national_portfolio(), draws=256, seed=2017, sampler="random")
    c = r.collector
    planned = r.run.solved.planned.sum()
    delivered = c.mean("cip_delivered")[:, 0].sum()
    assert 0.85 <= delivered / planned <= 0.90, delivered / planned
    nonrec = c.mean("cip_nonrecurrent")[:, 0].sum()
    assert 0.25 <= nonrec / delivered <= 0.30, nonrec / delivered


# -- goal seek ----------------------------------------------------------------------------


def test_goal_seek_on_probability() -> None:
    """The CIP returned for P(meet) >= 0.8 meets it when simulated; 0.5% less does not."""
    p = example_portfolio("acute-11pc")
    kw = dict(draws=4096, seed=42)
    res = solve_probability(p, 0.8, **kw)
    k = float(res.scale[0])
    assert res.reachable[0] and k > 1  # an 11% plan is far from 80% likely
    assert _p_meet(simulate(p.with_cip_scaled(k), **kw)) >= 0.8
    assert _p_meet(simulate(p.with_cip_scaled(k * 0.995), **kw)) < 0.8
    assert res.needed[0] == pytest.approx(k * res.planned[0])
    assert res.p_at_plan[0] == _p_meet(simulate(p, **kw))
    curve = res.curve(points=41)
    assert (np.diff(curve.probability) >= 0).all()
    assert curve.probability.iloc[0] == 0.0 and curve.probability.iloc[-1] == pytest.approx(
        1.0, abs=0.01
    )
    d = res.to_dict()["trusts"][0]
    assert d["needed_pct"] == pytest.approx(d["needed"] / res.opex[0], abs=1e-6)


def test_goal_seek_reports_an_unreachable_probability() -> None:
    """When some draws miss whatever the programme, a higher probability is unreachable."""
    p, pri = _bernoulli_trust(1)
    # every scheme all-or-nothing with p = 0.3: all eight fail with probability 0.7**8
    pri = pri.replace(delivery_scheme={k: ShareDist.bernoulli(0.3) for k in pri.delivery_scheme})
    res = solve_probability(p, 0.99, draws=4096, seed=1, sampler="random", priors=pri)
    assert not res.reachable[0] and np.isnan(res.needed[0])
    assert res.p_max[0] == pytest.approx(1 - 0.7**8, abs=4 * math.sqrt(0.06 * 0.94 / 4096))
    assert res.to_dict()["trusts"][0]["band"] == "unreachable"
    with pytest.raises(SimulationError, match="probability must be between 0 and 1"):
        solve_probability(p, 1.0)


# -- inputs -------------------------------------------------------------------------------


def test_delivered_share_table_matches_exact_inverse_cdf() -> None:
    """The interpolated delivered share is within 1e-6 of SciPy's exact Beta inverse CDF and
    inside each distribution's [min, max]."""
    from cipmodel.engine.project import compile_plan

    plan = compile_plan(example_portfolio("acute-11pc")).truncate(1)
    im = InputModel(plan, load_priors())
    # latent normals over the table's range (|z| > 8.5 has probability < 2e-17 and takes
    # the end value of the table)
    z = np.clip(
        np.random.default_rng(0).normal(size=(2000, im.random_schemes.size)) * 2.5, -8.5, 8.5
    )
    got = im.share(z)
    for j, s in enumerate(im.random_schemes):
        d = im.share_dists[s]
        exact = d.ppf(stats.norm.cdf(z[:, j]))
        np.testing.assert_allclose(got[:, j], exact, atol=1e-6)
        assert got[:, j].min() >= d.low and got[:, j].max() <= d.high


def test_drawn_inputs_are_bounded_and_correlated_as_specified() -> None:
    """Delivered shares stay in [0, 1] by construction; a trust's factors have the priors'
    correlations, scaled by sqrt(w_i w_j) + sqrt((1 - w_i)(1 - w_j)) where the factors'
    national shares w differ."""
    p = example_portfolio("acute-11pc")
    from cipmodel.engine.project import compile_plan
    from cipmodel.montecarlo.samplers import make_sampler

    plan = compile_plan(p).truncate(1)
    pri = load_priors()
    im = InputModel(plan, pri)
    u = make_sampler("random", im.n_dims, seed=1, total=20_000).sample(0, 20_000)
    d = im.map(u)
    assert d.delivery.min() >= 0.0 and d.delivery.max() <= 1.0
    corr = np.corrcoef(d.factors[:, 0, :].T)
    from cipmodel.montecarlo.priors import FACTORS

    w = np.array([pri.national_share(f) for f in FACTORS])
    scale = np.sqrt(np.outer(w, w)) + np.sqrt(np.outer(1 - w, 1 - w))
    np.fill_diagonal(scale, 1.0)
    np.testing.assert_allclose(corr, pri.correlation * scale, atol=0.03)
    assert d.slip.min() >= 0 and d.slip.max() <= 4


def test_ae_bias_loses_the_performance_element() -> None:
    """A&E performance far below forecast loses the A&E element in every quarter and
    nothing else."""
    p = example_portfolio("acute-11pc")
    run = run_plan(p)
    pri = Priors.none().replace(name="ae-miss", ae=AEShock(sd=0.0, bias=-0.2))
    r = simulate(p, draws=32, seed=1, priors=pri, sampler="random")
    f = run.assessment.funding
    assert r.collector.probability("ae_met_q")[0].tolist() == [0.0, 0.0, 0.0, 0.0]
    expected = f.finance_earned[0, 0].sum()  # the plan meets every quarter's gate
    assert r.collector.mean("stf_earned_q")[0].sum() == pytest.approx(expected)


def test_agency_shock_is_mean_one_lognormal() -> None:
    """The agency factor has mean 1: mean agency spend equals the plan within MC error."""
    p = example_portfolio("acute-11pc")
    pri = Priors.none().replace(name="agency", shocks={"agency": Shock(sd=0.2, national_share=0.5)})
    n = 2**13
    r = simulate(p, draws=n, seed=9, sampler="random", priors=pri)
    planned = run_plan(p).trust_summary().query("year == 1").agency.iloc[0]
    sd = planned * math.sqrt(math.exp(0.04) - 1)
    assert r.collector.mean("agency")[0, 0] == pytest.approx(
        planned, abs=MC_SIGMAS * sd / math.sqrt(n)
    )


# -- priors -------------------------------------------------------------------------------


def test_priors_pack_sources_flags_and_order() -> None:
    """Every prior has a source and a verified flag; the RAG weights of domain.md §4.5 are
    [B] (unverified); unidentified CIP has the lowest expected delivery."""
    pack = load_pack("priors-2017", kind="priors")
    assert all(leaf.source.strip() for leaf in pack.leaves.values())
    for rag in ("blue", "green", "amber", "red"):
        assert pack.leaf(f"delivery.rag.{rag}").verified is False
    pri = load_priors("priors-2017")
    means = {k: d.mean() for k, d in pri.delivery_rag.items()}
    means.update({k: d.mean() for k, d in pri.delivery_stage.items()})
    assert min(means, key=means.get) == "unidentified"
    assert means["blue"] > means["green"] > means["amber"] > means["red"] > means["unidentified"]
    tracker = load_priors("priors-2017:tracker")
    assert (
        tracker.delivery_rag["red"].mean() < 0.25
        and tracker.delivery_stage["unidentified"].mean() < 0.05
    )
    assert Priors.none().is_none and not pri.is_none


def test_bad_priors_packs(tmp_path) -> None:  # noqa: ANN001
    """A broken priors pack is refused naming the file and the key."""
    text = load_pack("priors-2017").origin  # noqa: F841  (the packaged file exists)
    from importlib import resources

    src = (
        resources.files("cipmodel")
        .joinpath("rules", "priors-2017.toml")
        .read_text(encoding="utf-8")
    )
    bad = tmp_path / "bad.toml"
    bad.write_text(
        src.replace(
            "value = { min = 0.45, mode = 0.95, max = 1.0 }",
            "value = { min = 0.45, mode = 0.3, max = 1.0 }",
        ),
        encoding="utf-8",
    )
    with pytest.raises(RulePackError, match="delivery.rag.red.*mode 0.3 is outside"):
        load_priors(bad)
    bad.write_text(src.replace("value = [0.95, 0.05]", "value = [0.95, 0.15]"), encoding="utf-8")
    with pytest.raises(RulePackError, match="slip.delivering: probabilities .* sum to 1"):
        load_priors(bad)
    with pytest.raises(RulePackError, match="pack.kind: is 'sof'"):
        load_priors("sof-2016")


def test_correlation_repair() -> None:
    """A matrix that is not positive definite is repaired to a nearby correlation matrix and
    the change reported; a valid one is kept; malformed ones are refused."""
    bad = np.array([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]])
    fixed, change = nearest_correlation(bad)
    np.linalg.cholesky(fixed)
    np.testing.assert_allclose(np.diag(fixed), 1.0)
    assert 0 < change == pytest.approx(np.abs(fixed - bad).max())
    assert change < 0.6
    ok = np.array([[1.0, 0.3], [0.3, 1.0]])
    same, zero = nearest_correlation(ok)
    np.testing.assert_array_equal(same, ok) and zero == 0.0
    with pytest.raises(SimulationError, match="not symmetric"):
        nearest_correlation([[1.0, 0.2], [0.3, 1.0]])
    with pytest.raises(SimulationError, match="outside \\[-1, 1\\]"):
        nearest_correlation([[1.0, 1.2], [1.2, 1.0]])
    with pytest.raises(SimulationError, match="diagonal"):
        nearest_correlation([[0.9, 0.2], [0.2, 1.0]])
    pri = load_priors().with_correlation(
        np.eye(7) + np.where(np.eye(7) == 0, 0.95, 0) * np.sign(np.arange(49).reshape(7, 7) % 3 - 1)
    )
    assert pri.correlation_change > 0
    np.linalg.cholesky(pri.correlation)


# -- outputs ------------------------------------------------------------------------------


def test_tables_json_and_sensitivity() -> None:
    """Tidy tables have one row per trust and item; the JSON has no NaN; the drivers table
    ranks the one uncertain scheme first, with a first-order Sobol' index near 1."""
    p = example_portfolio("acute-11pc")
    only = "RXX/U01"
    pri = Priors.none().replace(
        name="one-scheme", delivery_scheme={only: ShareDist.pert(0.0, 0.5, 1.0)}
    )
    r = simulate(p, draws=4096, seed=1, priors=pri)
    json.dumps(r.to_dict(), allow_nan=False)
    assert len(r.fan_chart()) == 12 and len(r.funding()) == 4
    assert set(r.probabilities().measure) == {
        "meet_control_total",
        "funding_gate",
        "ae_trajectory_met",
        "finance_trigger",
    }
    assert {"p5", "p50", "p95", "mean"} <= set(r.percentiles().columns)
    assert len(r.per_draw()) == 4096
    s = r.scores()
    assert np.allclose(s[["p_1", "p_2", "p_3", "p_4", "p_not_applicable"]].sum(axis=1), 1.0)
    drivers = r.sensitivity()
    top = drivers.iloc[0]
    assert top.scheme_id == "U01" and top.spearman > 0.99 and top.s1_surplus > 0.95
    assert set(OUTPUTS) <= set(r.collector.specs)
    sheets = r.sheets()
    assert "Simulation" in sheets and isinstance(sheets["Simulation"], pd.DataFrame)


def test_first_order_indices_of_known_functions() -> None:
    """Given-data first-order Sobol' indices: Y = X1 gives S1 = 1, 0; Y = X1 + X2 (i.i.d.)
    gives 0.5 each; noise gives 0."""
    rng = np.random.default_rng(0)
    x = rng.random((20_000, 3))
    ranks = stats.rankdata(x, axis=0)
    np.testing.assert_allclose(first_order(ranks, x[:, 0], 40), [1, 0, 0], atol=0.02)
    np.testing.assert_allclose(first_order(ranks, x[:, 0] + x[:, 1], 40), [0.5, 0.5, 0], atol=0.03)
    assert np.isnan(first_order(ranks, np.ones(20_000), 40)).all()


def test_bad_settings_are_refused() -> None:
    """Draws, sampler, tolerance, chunk size and the draw cap are checked."""
    p = example_portfolio("small")
    with pytest.raises(SimulationError, match="draws must be"):
        simulate(p, draws=0)
    with pytest.raises(SimulationError, match="allow_large"):
        simulate(p, draws=10_000_001)
    with pytest.raises(SimulationError, match="unknown sampler"):
        simulate(p, draws=10, sampler="halton")
    with pytest.raises(SimulationError, match="tolerance"):
        simulate(p, draws=10, tolerance=0.7)
    with pytest.raises(SimulationError, match="chunk_size"):
        simulate(p, draws=10, chunk_size=0)
    with pytest.raises(SimulationError, match="keep must be at least 100"):
        simulate(p, draws=10, keep=5)
    typo = Priors.none().with_scheme("RSM/NO-SUCH", ShareDist.bernoulli(0.5))
    with pytest.raises(SimulationError, match="schemes not in the plan: RSM/NO-SUCH"):
        simulate(p, draws=10, priors=typo)
    g = simulate(p, draws=16, seed=np.random.default_rng(3), sampler="random").provenance
    assert "entropy" in g and "seed" not in g  # a Generator's child stream is recorded
