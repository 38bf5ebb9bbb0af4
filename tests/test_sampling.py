"""Samplers on the unit hypercube and the seed policy (cipmodel.montecarlo.samplers, cipmodel.montecarlo.streams)."""

from __future__ import annotations

import numpy as np
import pytest

from cipmodel.montecarlo.samplers import (
    SAMPLERS,
    SOBOL_MAX_DIMS,
    LatinHypercubeSampler,
    SamplingWarning,
    SobolSampler,
    lhs,
    make_sampler,
    random,
    sobol,
)
from cipmodel.montecarlo.streams import PhiloxRows, as_seed_sequence, resolve_seed, seed_record


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_points_inside_open_unit_cube(name: str) -> None:
    """Every sampler gives points strictly inside (0, 1), so no inverse CDF sees 0 or 1."""
    x = make_sampler(name, 7, seed=3, total=1024).sample(0, 1024)
    assert x.shape == (1024, 7)
    assert x.min() > 0.0 and x.max() < 1.0


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_chunks_give_the_same_points(name: str) -> None:
    """Point i depends only on (seed, i): any chunking gives bit-identical points."""
    whole = make_sampler(name, 5, seed=42, total=1024).sample(0, 1024)
    s = make_sampler(name, 5, seed=42, total=1024)
    parts = [
        s.sample(a, b - a) for a, b in ((0, 1), (1, 300), (300, 301), (301, 1000), (1000, 1024))
    ]
    np.testing.assert_array_equal(np.vstack(parts), whole)
    # out of order too (the Sobol' engine fast-forwards)
    np.testing.assert_array_equal(s.sample(500, 10), whole[500:510])


def test_same_signature_functions() -> None:
    """random / lhs / sobol share sample(n_dims, start, count, *, seed, total)."""
    for fn in (random, lhs, sobol):
        a = fn(3, 10, 6, seed=1, total=32)
        b = fn(3, 0, 32, seed=1, total=32)[10:16]
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n", [1, 2, 3, 17, 1000, 4096, 9973])
def test_lhs_is_stratified_over_the_whole_design(n: int) -> None:
    """In every dimension each of the n strata holds exactly one point, whatever n."""
    x = LatinHypercubeSampler(6, seed=11, total=n).sample(0, n)
    strata = np.floor(x * n).astype(int)
    for j in range(6):
        np.testing.assert_array_equal(np.sort(strata[:, j]), np.arange(n))


def test_lhs_dimensions_are_not_aligned() -> None:
    """Different dimensions use different permutations (no diagonal design)."""
    x = LatinHypercubeSampler(4, seed=5, total=2000).sample(0, 2000)
    corr = np.corrcoef(x.T)
    assert np.abs(corr - np.eye(4)).max() < 0.1


def test_sobol_balance_for_power_of_two() -> None:
    """2**m scrambled Sobol' points: one point in each of the 2**m cells of every coordinate,
    and in each of the 4 x (2**m / 4) cells of the first two coordinates together."""
    n = 1024
    x = SobolSampler(8, seed=7, total=n).sample(0, n)
    for j in range(8):
        np.testing.assert_array_equal(np.sort(np.floor(x[:, j] * n).astype(int)), np.arange(n))
    # a (0, m, 2)-net in base 2: every elementary box of area 1/n holds one point
    cells = np.floor(x[:, 0] * 4).astype(int) * (n // 4) + np.floor(x[:, 1] * (n // 4)).astype(int)
    np.testing.assert_array_equal(np.sort(cells), np.arange(n))


def test_sobol_warns_when_not_power_of_two() -> None:
    """Sobol' balance needs 2**k points: other totals warn once, naming a better total."""
    with pytest.warns(SamplingWarning, match="power-of-2.*1024"):
        SobolSampler(3, seed=1, total=1000)


def test_sobol_pads_beyond_scipy_dimensions() -> None:
    """Dimensions beyond SciPy's Sobol' direction numbers are padded with random points."""
    s = SobolSampler(SOBOL_MAX_DIMS + 3, seed=2, total=4)
    x = s.sample(0, 4)
    assert x.shape == (4, SOBOL_MAX_DIMS + 3)
    assert x.min() > 0 and x.max() < 1
    assert s.describe()["padded_dims"] == 3
    np.testing.assert_array_equal(s.sample(2, 2), x[2:])


def test_design_range_and_unknown_sampler() -> None:
    """Points outside the design and unknown sampler names are refused."""
    with pytest.raises(ValueError, match="outside the design"):
        make_sampler("random", 2, seed=1, total=10).sample(5, 6)
    with pytest.raises(ValueError, match="unknown sampler 'halton'"):
        make_sampler("halton", 2, seed=1, total=10)


def test_seed_policy() -> None:
    """Same seed, same points; different seeds differ; SeedSequence and Generator accepted."""
    a = random(4, 0, 100, seed=42, total=100)
    np.testing.assert_array_equal(a, random(4, 0, 100, seed=42, total=100))
    assert not np.array_equal(a, random(4, 0, 100, seed=43, total=100))
    ss = np.random.SeedSequence(42)
    np.testing.assert_array_equal(a, random(4, 0, 100, seed=ss, total=100))
    g = np.random.default_rng(1)
    b = random(4, 0, 10, seed=g, total=10)
    c = random(4, 0, 10, seed=g, total=10)  # the generator advanced: a new child stream
    assert not np.array_equal(b, c)
    assert seed_record(42) == {"seed": 42, "entropy": "42"}
    fresh = resolve_seed(None)
    assert isinstance(fresh, int) and 0 <= fresh < 2**63
    with pytest.raises(ValueError, match="seed must be >= 0"):
        as_seed_sequence(-1)
    with pytest.raises(TypeError, match="seed must be an int"):
        as_seed_sequence(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        as_seed_sequence(True)


def test_philox_rows_are_counter_based() -> None:
    """Row i of a Philox stream is fixed by (key, i): reading from the middle gives it."""
    rows = PhiloxRows(9, n_dims=6)
    whole = rows.rows(0, 50)
    np.testing.assert_array_equal(rows.rows(17, 5), whole[17:22])
    # a row takes ceil(n_dims / 4) counters: 6 and 7 dimensions share the layout (a row of
    # 7 extends the row of 6), 9 dimensions (3 counters a row) do not
    np.testing.assert_array_equal(PhiloxRows(9, n_dims=7).rows(1, 1)[:, :6], whole[1:2])
    assert not np.array_equal(PhiloxRows(9, n_dims=9).rows(1, 1)[:, :6], whole[1:2])
