"""Samplers on the unit hypercube, streamable in chunks.

Every sampler has the same signature::

    sample(n_dims, start, count, *, seed, total) -> ndarray (count, n_dims)

returning points ``start .. start + count - 1`` of a design of ``total`` points in
``n_dims`` dimensions, strictly inside (0, 1). Point ``i`` depends only on ``(seed, i,
total, n_dims)``, never on how the design is cut into chunks, so a simulation gives
bit-identical results whatever its chunk size. The Monte Carlo engine maps the points
through inverse CDFs (``cipmodel.montecarlo``).

For repeated calls build the sampler once with :func:`make_sampler` (the Sobol engine's
scrambling is costly in high dimension) and call its ``sample(start, count)``.

``random``
    Plain Monte Carlo: counter-based Philox rows (:class:`cipmodel.montecarlo.streams.PhiloxRows`).
``lhs``
    Latin hypercube over the *whole* design of ``total`` points, computed point by point:
    in dimension ``j`` point ``i`` falls in stratum ``pi_j(i)`` of ``total`` equal strata,
    where ``pi_j`` is a pseudo-random permutation of ``0 .. total - 1`` evaluated without
    storing it (a 4-round alternating Feistel network on ``ceil(log2(total))`` bits with a
    keyed 32-bit multiply-xorshift round function, cycle-walking back into range), jittered uniformly within the stratum. Any
    ``total`` points are stratified in every dimension exactly; a chunk is a slice of that
    design. Costs a few times more than ``random``. If a run stops early (convergence), the
    points used are a random part of the design: unbiased, but no longer stratified.
``sobol``
    Scrambled Sobol' (:class:`scipy.stats.qmc.Sobol`, LMS + digital shift) fast-forwarded to
    ``start``; points are moved to the centre of their ``2**-bits`` cell so none is 0.
    Balance needs ``total`` to be a power of 2 (a :class:`SamplingWarning` says so). SciPy's
    direction numbers stop at 21,201 dimensions: dimensions beyond are padded with ``random``
    points (recorded by :meth:`SobolSampler.describe`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
from scipy.stats import qmc

from cipmodel.errors import SamplingWarning
from cipmodel.montecarlo.streams import PhiloxRows, SeedLike, as_seed_sequence, substream

__all__ = [
    "SAMPLERS",
    "SOBOL_MAX_DIMS",
    "Sampler",
    "SamplingWarning",
    "RandomSampler",
    "LatinHypercubeSampler",
    "SobolSampler",
    "make_sampler",
    "random",
    "lhs",
    "sobol",
]

SOBOL_MAX_DIMS = 21201  # scipy.stats.qmc.Sobol direction numbers (Joe & Kuo)


class Sampler(Protocol):
    """What every sampler object provides."""

    name: str
    n_dims: int
    total: int

    def sample(self, start: int, count: int) -> np.ndarray:
        """(count, n_dims) points ``start .. start + count - 1`` in (0, 1)."""
        ...

    def describe(self) -> dict[str, Any]:
        """Provenance: the sampler's name and settings."""
        ...


def _check(n_dims: int, total: int) -> None:
    if n_dims < 0:
        raise ValueError(f"n_dims must be >= 0, got {n_dims}")
    if total < 1:
        raise ValueError(f"total must be >= 1, got {total}")


def _check_range(start: int, count: int, total: int) -> None:
    if start < 0 or count < 0 or start + count > total:
        raise ValueError(f"points {start}..{start + count - 1} are outside the design of {total}")


class RandomSampler:
    """Plain Monte Carlo on counter-based Philox streams."""

    name = "random"

    def __init__(self, n_dims: int, *, seed: SeedLike, total: int) -> None:
        _check(n_dims, total)
        self.n_dims, self.total = int(n_dims), int(total)
        self._rows = PhiloxRows(substream(as_seed_sequence(seed), "uniform"), self.n_dims)

    def sample(self, start: int, count: int) -> np.ndarray:
        _check_range(start, count, self.total)
        return self._rows.rows(start, count)

    def describe(self) -> dict[str, Any]:
        return {"sampler": self.name, "bit_generator": "Philox4x64 (counter per draw)"}


# -- Latin hypercube -----------------------------------------------------------------------
_ROUNDS = 4
_MULT = np.uint32(0x9E3779B1)


def _round_fn(x: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Keyed mixing of ``x``: multiply-xorshift of ``x ^ key`` (uint32 arithmetic wraps)."""
    z = (x ^ key) * _MULT
    return z ^ (z >> np.uint32(15))


def _feistel(x: np.ndarray, keys: list[np.ndarray], bits: int) -> np.ndarray:
    """A keyed bijection of ``0 .. 2**bits - 1`` (``keys[r]`` broadcast against ``x``).

    An alternating (unbalanced) Feistel network on uint32: ``x`` is split into a high part
    of ``bits // 2`` bits and a low part of the rest; each round XORs one part with the top
    bits of a keyed hash of the other, which is invertible whatever the widths.
    """
    lo_bits = bits - bits // 2
    hi_bits = bits // 2
    sh = np.uint32(lo_bits)
    hi, lo = x >> sh, x & np.uint32((1 << lo_bits) - 1)
    for r in range(_ROUNDS):
        if r % 2 == 0:
            hi = hi ^ (_round_fn(lo, keys[r]) >> np.uint32(32 - hi_bits))
        else:
            lo = lo ^ (_round_fn(hi, keys[r]) >> np.uint32(32 - lo_bits))
    return (hi << sh) | lo


class LatinHypercubeSampler:
    """Latin hypercube of ``total`` points, evaluated point by point (see module notes)."""

    name = "lhs"

    def __init__(self, n_dims: int, *, seed: SeedLike, total: int) -> None:
        _check(n_dims, total)
        self.n_dims, self.total = int(n_dims), int(total)
        ss = as_seed_sequence(seed)
        self._bits = max(2, math.ceil(math.log2(max(self.total, 2))))
        if self._bits > 32:
            raise ValueError(f"Latin hypercube designs hold at most 2**32 points, not {self.total}")
        state = substream(ss, "lhs_permutation").generate_state(
            max(1, self.n_dims) * _ROUNDS, np.uint32
        )
        self._keys = state.reshape(max(1, self.n_dims), _ROUNDS)[: self.n_dims]
        self._jitter = PhiloxRows(substream(ss, "lhs_jitter"), self.n_dims)
        # jitter with few enough bits that stratum + jitter is exact in float64
        self._jitter_bits = 52 - max(1, math.ceil(math.log2(max(self.total, 2))))

    def strata(self, start: int, count: int) -> np.ndarray:
        """(count, n_dims) stratum of each point in each dimension (0 .. total - 1)."""
        _check_range(start, count, self.total)
        idx = np.arange(start, start + count, dtype=np.uint32)
        keys = [self._keys[None, :, r] for r in range(_ROUNDS)]
        y = _feistel(idx[:, None], keys, self._bits)
        n = np.uint32(self.total)
        flat = y.ravel()
        todo = np.flatnonzero(flat >= n)
        while todo.size:  # cycle-walk: re-apply the bijection until back in 0 .. total - 1
            dims = todo % self.n_dims
            keys = [self._keys[dims, r] for r in range(_ROUNDS)]
            flat[todo] = _feistel(flat[todo], keys, self._bits)
            todo = todo[flat[todo] >= n]
        return y

    def sample(self, start: int, count: int) -> np.ndarray:
        strata = self.strata(start, count)
        words = self._jitter.words(start, count)
        jitter = ((words >> np.uint64(64 - self._jitter_bits)).astype(np.float64) + 0.5) * 2.0 ** (
            -self._jitter_bits
        )
        out = strata.astype(np.float64)
        out += jitter
        out /= self.total
        return out

    def describe(self) -> dict[str, Any]:
        return {
            "sampler": self.name,
            "design": f"Latin hypercube over all {self.total} points (Feistel permutations)",
        }


class SobolSampler:
    """Scrambled Sobol' points, fast-forwarded to each chunk's start."""

    name = "sobol"

    def __init__(self, n_dims: int, *, seed: SeedLike, total: int) -> None:
        _check(n_dims, total)
        self.n_dims, self.total = int(n_dims), int(total)
        ss = as_seed_sequence(seed)
        self.sobol_dims = min(self.n_dims, SOBOL_MAX_DIMS)
        self.bits = max(30, math.ceil(math.log2(self.total)))
        if self.bits > 64:
            raise ValueError(f"Sobol' designs hold at most 2**64 points, not {self.total}")
        self._engine = (
            qmc.Sobol(
                self.sobol_dims,
                scramble=True,
                bits=self.bits,
                rng=np.random.Generator(np.random.Philox(substream(ss, "sobol_scramble"))),
            )
            if self.sobol_dims
            else None
        )
        self._position = 0
        self._padding = (
            PhiloxRows(substream(ss, "sobol_padding"), self.n_dims - self.sobol_dims)
            if self.n_dims > self.sobol_dims
            else None
        )
        if self.n_dims and self.total & (self.total - 1):
            warnings.warn(
                f"Sobol' points are balanced only for a power-of-2 number of draws; {self.total} "
                f"is not (use e.g. {1 << math.ceil(math.log2(self.total))})",
                SamplingWarning,
                stacklevel=3,
            )

    def sample(self, start: int, count: int) -> np.ndarray:
        _check_range(start, count, self.total)
        parts = []
        if self._engine is not None:
            if start != self._position:
                self._engine.reset()
                if start:
                    self._engine.fast_forward(start)
            with warnings.catch_warnings():  # balance is warned about once, for the design
                warnings.simplefilter("ignore", UserWarning)
                pts = self._engine.random(count)
            self._position = start + count
            pts += 2.0 ** -(self.bits + 1)  # centre of the 2**-bits cell: never 0
            parts.append(pts)
        if self._padding is not None:
            parts.append(self._padding.rows(start, count))
        if not parts:
            return np.empty((count, 0))
        return parts[0] if len(parts) == 1 else np.hstack(parts)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "sampler": self.name,
            "scramble": "LMS + digital shift",
            "bits": self.bits,
        }
        if self._padding is not None:
            out["padded_dims"] = self.n_dims - self.sobol_dims
        return out


SAMPLERS: dict[str, Callable[..., Sampler]] = {
    "random": RandomSampler,
    "lhs": LatinHypercubeSampler,
    "sobol": SobolSampler,
}


def make_sampler(name: str, n_dims: int, *, seed: SeedLike, total: int) -> Sampler:
    """A sampler object by name (``random``, ``lhs``, ``sobol``) for repeated chunks."""
    try:
        cls = SAMPLERS[name]
    except KeyError:
        known = ", ".join(SAMPLERS)
        raise ValueError(f"unknown sampler {name!r} (known: {known})") from None
    return cls(n_dims, seed=seed, total=total)


def random(n_dims: int, start: int, count: int, *, seed: SeedLike, total: int) -> np.ndarray:
    """Plain Monte Carlo points ``start .. start + count - 1`` of ``total`` (Philox)."""
    return RandomSampler(n_dims, seed=seed, total=total).sample(start, count)


def lhs(n_dims: int, start: int, count: int, *, seed: SeedLike, total: int) -> np.ndarray:
    """Latin hypercube points ``start .. start + count - 1`` of a design of ``total``."""
    return LatinHypercubeSampler(n_dims, seed=seed, total=total).sample(start, count)


def sobol(n_dims: int, start: int, count: int, *, seed: SeedLike, total: int) -> np.ndarray:
    """Scrambled Sobol' points ``start .. start + count - 1`` of a design of ``total``."""
    return SobolSampler(n_dims, seed=seed, total=total).sample(start, count)
