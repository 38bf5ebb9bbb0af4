"""One seed policy for all randomness in cipmodel.

Every stochastic function takes ``seed: int | np.random.SeedSequence | np.random.Generator |
None`` and normalises it here with :func:`as_seed_sequence`. Nothing uses the global
``np.random`` state.

Counter-based streams
---------------------
Monte Carlo draws must not depend on how the draws are cut into chunks (or, later, shared
between workers): draw ``i`` must get the same numbers whether it is computed alone, in a
chunk of 1,000 or in a chunk of 100,000. A sequential generator cannot promise that; a
counter-based one can. :class:`PhiloxRows` gives every draw its own fixed block of Philox
counters: row ``i`` of a stream of width ``n_dims`` is made from counters
``i * ceil(n_dims / 4)`` onwards (Philox 4x64 yields four 64-bit words per counter), so a
chunk starting at draw ``start`` simply advances the counter to ``start * ceil(n_dims / 4)``
(:meth:`numpy.random.Philox.advance`) and reads its rows. No state is carried from one chunk
to the next.

Separate uses of randomness (uniforms, Sobol scrambling, Latin hypercube permutations) get
independent streams from :func:`substream`, a child :class:`~numpy.random.SeedSequence`
keyed by a fixed number per use, so adding a use never changes the numbers of another.

Uniforms are made from the top 52 bits of each word, ``u = (k + 0.5) / 2**52``, so they lie
strictly inside (0, 1) and an inverse CDF never sees 0 or 1.
"""

from __future__ import annotations

import secrets
from typing import Any

import numpy as np

__all__ = [
    "SeedLike",
    "as_seed_sequence",
    "resolve_seed",
    "seed_record",
    "substream",
    "PhiloxRows",
    "STREAMS",
]

SeedLike = int | np.integer | np.random.SeedSequence | np.random.Generator | None

#: Fixed child-stream numbers, one per use of randomness. Never renumber: results depend on them.
STREAMS: dict[str, int] = {
    "uniform": 0,
    "sobol_scramble": 1,
    "lhs_permutation": 2,
    "lhs_jitter": 3,
    "sobol_padding": 4,
}

_WORDS_PER_COUNTER = 4  # Philox 4x64
_SCALE = 2.0**-52


def resolve_seed(seed: SeedLike) -> SeedLike:
    """A seed that can be written down: ``None`` becomes a fresh random 63-bit integer.

    A run without a seed is still reproducible: record the value returned here (it goes
    into the result's provenance) and pass it as ``seed`` to repeat the run.
    """
    if seed is None:
        return secrets.randbits(63)
    return seed


def as_seed_sequence(seed: SeedLike) -> np.random.SeedSequence:
    """Normalise a seed to a :class:`~numpy.random.SeedSequence`.

    Parameters
    ----------
    seed : int, SeedSequence, Generator or None
        An integer >= 0; a SeedSequence (used as is); a Generator (a child is spawned from
        it, so the caller's generator advances); or None (fresh entropy from the OS — use
        :func:`resolve_seed` first to be able to record it).

    Raises
    ------
    TypeError
        For anything else (a float, a bool, a string).
    ValueError
        For a negative integer.
    """
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        child = seed.spawn(1)[0]
        return child.bit_generator.seed_seq  # type: ignore[return-value]
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(
            f"seed must be an int >= 0, a SeedSequence, a Generator or None, got {seed!r}"
        )
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return np.random.SeedSequence(int(seed))


def seed_record(seed: SeedLike, ss: np.random.SeedSequence | None = None) -> dict[str, Any]:
    """What to write in provenance to reproduce a run: ``{"seed": ..., "entropy": ...}``.

    ``ss`` is the SeedSequence the run used (needed when ``seed`` was a Generator, whose
    spawned child cannot be rebuilt from the generator afterwards).
    """
    if ss is None and not isinstance(seed, np.random.Generator):
        ss = as_seed_sequence(seed)
    out: dict[str, Any] = {}
    if isinstance(seed, int | np.integer) and not isinstance(seed, bool):
        out["seed"] = int(seed)
    if ss is not None:
        out["entropy"] = str(ss.entropy)
        if ss.spawn_key:
            out["spawn_key"] = list(ss.spawn_key)
    return out


def substream(ss: np.random.SeedSequence, name: str) -> np.random.SeedSequence:
    """The child stream of ``ss`` for one use of randomness (a key of :data:`STREAMS`).

    Deterministic: it does not depend on how many children were spawned before.
    """
    return np.random.SeedSequence(
        ss.entropy, spawn_key=(*ss.spawn_key, STREAMS[name]), pool_size=ss.pool_size
    )


def uniforms_from_words(raw: np.ndarray) -> np.ndarray:
    """Map 64-bit words to uniforms strictly inside (0, 1): ``((w >> 12) + 0.5) / 2**52``."""
    out = (raw >> np.uint64(12)).astype(np.float64)
    out += 0.5
    out *= _SCALE
    return out


class PhiloxRows:
    """Rows of independent uniforms, row ``i`` fixed by (key, i) alone.

    Parameters
    ----------
    seed : int, SeedSequence, Generator or None
        Key of the stream (normalised by :func:`as_seed_sequence`).
    n_dims : int
        Numbers per row (per draw).

    Examples
    --------
    >>> rows = PhiloxRows(42, n_dims=3)
    >>> a = rows.rows(0, 10)
    >>> b = rows.rows(4, 3)
    >>> bool((a[4:7] == b).all())
    True
    """

    def __init__(self, seed: SeedLike, n_dims: int) -> None:
        if n_dims < 0:
            raise ValueError(f"n_dims must be >= 0, got {n_dims}")
        self.seed_sequence = as_seed_sequence(seed)
        self.n_dims = int(n_dims)
        self.counters_per_row = max(1, -(-self.n_dims // _WORDS_PER_COUNTER))
        self._key = np.random.Philox(self.seed_sequence).state["state"]["key"].copy()

    def _generator(self, start: int) -> np.random.Philox:
        bg = np.random.Philox(key=self._key)
        if start:
            bg.advance(int(start) * self.counters_per_row)
        return bg

    def words(self, start: int, count: int) -> np.ndarray:
        """(count, n_dims) raw 64-bit words of rows ``start .. start + count - 1``."""
        if start < 0 or count < 0:
            raise ValueError(f"start and count must be >= 0, got {start}, {count}")
        width = self.counters_per_row * _WORDS_PER_COUNTER
        raw = self._generator(start).random_raw(int(count) * width)
        return raw.reshape(int(count), width)[:, : self.n_dims]

    def rows(self, start: int, count: int) -> np.ndarray:
        """(count, n_dims) uniforms in (0, 1) of rows ``start .. start + count - 1``."""
        return uniforms_from_words(self.words(start, count))
