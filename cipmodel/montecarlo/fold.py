"""A chunk's partial summary, computed where the chunk ran: what the caller merges.

A simulation folds every chunk of draws into a :class:`~cipmodel.montecarlo.summary.Collector`
in draw order. Most of that fold depends only on the chunk itself, so the worker that
computed the chunk does it (:meth:`Layout.part`) and the caller merges the result
(:meth:`~cipmodel.montecarlo.summary.Collector.add_part`), with bit-identical summaries
whatever the chunking, because each piece is merged exactly as the draws were before:

* **kept draws**: the stacked outputs of the draws among the first ``keep`` only (the
  caller stores them);
* **NaN counts, true counts, category counts**: integers, summed over the chunk;
* **minimum and maximum**: ``fmin``/``fmax`` over the chunk (the caller takes the
  ``fmin``/``fmax`` of its running value and the chunk's: the same as before);
* **sums and sums of squares** (:class:`Rows`): the tree sums of the complete blocks of
  :data:`BLOCK` draws (aligned by draw index: the worker knows where the chunk starts), and
  the raw rows of the partial blocks at the chunk's two edges, which the caller completes
  with its neighbours' rows; it adds the block sums in block order, as before;
* **histogram counts** of the draws past ``keep``: the bins are fixed by the kept draws, so
  only once the caller has them (:class:`Board`, shared with worker threads) can a worker
  turn its draws into histogram cells (:class:`Edges`), or into the chunk's counts where the
  histogram has no more cells than the chunk values; until then (and on workers in other processes, which never see the
  board) the draws come back as they are and the caller counts them. Counts are integers:
  who counts them changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "BLOCK",
    "Board",
    "ChunkPart",
    "Edges",
    "Layout",
    "OutputSpec",
    "Rows",
    "Stacked",
    "add_counts",
    "to_send",
    "tree_sum",
]

BLOCK = 256  # draws per summation block (a power of 2 for the pairwise tree)


def tree_sum(blocks: np.ndarray) -> np.ndarray:
    """Sum axis 1 (length BLOCK) of (nb, BLOCK, ...) by halving: a fixed pairwise tree."""
    a = blocks
    while a.shape[1] > 1:
        h = a.shape[1] // 2
        a = a[:, :h] + a[:, h:]
    return a[:, 0]


def add_counts(hist: np.ndarray, pos: np.ndarray) -> None:
    """Add 1 to flat ``hist`` at every cell in ``pos`` (integers, in ``pos``'s C order: a
    transposed view is counted in its own order); a negative cell (NaN) is not counted."""
    flat = pos.ravel()
    if flat.size and flat.min() < 0:
        flat = flat[flat >= 0]
    np.add.at(hist, flat, 1)  # cost grows with the draws, not the histogram


@dataclass(frozen=True)
class OutputSpec:
    """One per-draw output: ``kind`` ``float``, ``bool`` or ``category`` (0..n_categories-1),
    ``width`` values per trust (e.g. 4 quarters); ``may_be_nan`` for float outputs that can
    be not applicable (NaN values are left out of the sums and percentiles)."""

    kind: str
    width: int = 1
    n_categories: int = 5
    may_be_nan: bool = False


@dataclass(frozen=True)
class Edges:
    """A histogram's fixed bins, per (trust, value): ``bins`` bins from ``lo``, each of width
    1 / ``inv_width``, with an underflow and an overflow cell; (trust, value) ``k``'s cells
    start at ``k * (bins + 2)``, so ``cell0`` = that + 1 (the underflow cell skipped)."""

    lo: NDArray[np.float64]
    inv_width: NDArray[np.float64]
    cell0: NDArray[np.float64]
    bins: int

    @property
    def cells(self) -> int:
        """Cells of the whole histogram."""
        return int(self.lo.size * (self.bins + 2))

    def positions(self, x: np.ndarray) -> np.ndarray:
        """The histogram cell of every value of ``x`` (c, T, width); -1 for NaN."""
        pos = x - self.lo
        pos *= self.inv_width
        np.floor(pos, out=pos)
        np.clip(pos, -1.0, float(self.bins), out=pos)  # -1 = under, bins = over
        pos += self.cell0
        bad = np.isnan(pos)
        if bad.any():
            pos[bad] = -1.0
        return pos.astype(np.intp)  # np.add.at is fastest with intp indices


class Board:
    """Where the caller publishes the histogram bins once they are fixed, for the workers
    (threads of this process) to turn the draws they compute from then on into histogram
    cells; and, where every chunk computed is sure to be merged (no early stop), ``count``:
    a thread-safe way to count those cells into the caller's histogram at once. ``store``
    stores a chunk's kept draws in the caller's arrays (each chunk its own rows).

    A copy (a worker in another process, or any task that travelled pickled) is ``local =
    False`` and never sees either: its draws are counted by the caller, and it sends
    whichever of the chunk's partial summary and its stacked outputs is smaller
    (:func:`to_send`)."""

    def __init__(self, local: bool = True) -> None:
        self.local = local
        self.edges: Edges | None = None
        self.count: Callable[[np.ndarray], None] | None = None
        self.store: Callable[[int, np.ndarray, np.ndarray, np.ndarray], None] | None = None

    def __reduce__(self) -> tuple[type[Board], tuple[bool]]:
        return Board, (False,)


@dataclass(frozen=True)
class Rows:
    """Consecutive draws' values for a :class:`~cipmodel.montecarlo.summary.BlockSum`, cut at
    the blocks of :data:`BLOCK` draws (by draw index): ``head`` the rows before the chunk's
    first block boundary, ``blocks`` the tree sums of the complete blocks, ``tail`` the rows
    after the last boundary."""

    head: np.ndarray
    blocks: np.ndarray
    tail: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray, start: int) -> Rows:
        """The rows ``x`` of draws ``start, start + 1, ...`` cut at the block boundaries."""
        c = x.shape[0]
        h = min(c, -start % BLOCK)
        nb = (c - h) // BLOCK
        body = x[h : h + nb * BLOCK].reshape(nb, BLOCK, *x.shape[1:])
        return cls(x[:h], tree_sum(body) if nb else body[:, 0], x[h + nb * BLOCK :])


def _nbytes(*arrays: np.ndarray | Rows | None) -> int:
    total = 0
    for a in arrays:
        if isinstance(a, Rows):
            total += a.head.nbytes + a.blocks.nbytes + a.tail.nbytes
        elif a is not None:
            total += a.nbytes
    return total


@dataclass(frozen=True)
class Stacked:
    """The outputs of draws ``start, start + 1, ...`` stacked by kind: (c, T, columns)."""

    start: int
    xf: np.ndarray
    xb: np.ndarray
    xc: np.ndarray

    @property
    def nbytes(self) -> int:
        return _nbytes(self.xf, self.xb, self.xc)


@dataclass(frozen=True)
class ChunkPart:
    """The partial summary of draws ``start .. start + count - 1`` for one collector.

    ``kept``: the stacked float, bool and category outputs of the chunk's draws among the
    first ``keep`` (None if none); ``nan``: NaN counts of the columns that may hold NaN; ``unbinned``: the float
    outputs of the draws past ``keep``, for the caller to count; or ``cells``: their
    histogram cells; or ``counts``: their histogram counts (flat)."""

    start: int
    count: int
    kept: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    nan: np.ndarray | None
    sum: Rows
    sq: Rows
    min: np.ndarray
    max: np.ndarray
    true: np.ndarray
    cat: np.ndarray | None
    unbinned: np.ndarray | None = None
    cells: np.ndarray | None = None
    counts: np.ndarray | None = None
    counted: bool = False  # the draws past keep were counted where the chunk ran
    kept_stored: bool = False  # the kept draws were stored where the chunk ran

    @property
    def nbytes(self) -> int:
        """Bytes of its arrays (what it takes to send)."""
        kept = self.kept or ()
        return _nbytes(
            *kept, self.nan, self.sum, self.sq, self.min, self.max, self.true, self.cat,
            self.unbinned, self.cells, self.counts,
        )  # fmt: skip


class Layout:
    """Where each output sits in the stacked arrays of its kind (``cols``), the draws kept
    (``keep``), and the partial summary of a chunk (:meth:`part`). Small and picklable: it
    travels to the workers with the simulation."""

    def __init__(self, specs: Mapping[str, OutputSpec], n_trusts: int, keep: int) -> None:
        self.specs = dict(specs)
        self.n_trusts, self.keep = n_trusts, int(keep)
        self.cols: dict[str, slice] = {}
        widths = {"float": 0, "bool": 0, "category": 0}
        for name, sp in self.specs.items():
            if sp.kind not in widths:
                raise ValueError(f"unknown output kind {sp.kind!r}")
            self.cols[name] = slice(widths[sp.kind], widths[sp.kind] + sp.width)
            widths[sp.kind] += sp.width
        self.widths = widths
        self.nan_cols = np.concatenate(
            [
                np.arange(self.cols[k].start, self.cols[k].stop)
                for k, sp in self.specs.items()
                if sp.kind == "float" and sp.may_be_nan
            ]
            or [np.zeros(0, dtype=np.intp)]
        ).astype(np.intp)
        self.n_categories = max(
            (sp.n_categories for sp in self.specs.values() if sp.kind == "category"), default=1
        )

    def stack(self, outputs: Mapping[str, np.ndarray], kind: str, dtype: type) -> np.ndarray:
        """(c, T, columns of ``kind``) the outputs of one kind side by side."""
        names = [k for k, sp in self.specs.items() if sp.kind == kind]
        if not names:
            return np.zeros((0, self.n_trusts, 0), dtype=dtype)
        parts = []
        for k in names:
            x = np.asarray(outputs[k])
            parts.append(x.reshape(x.shape[0], self.n_trusts, self.specs[k].width))
        return np.concatenate(parts, axis=-1).astype(dtype, copy=False)

    def part(
        self, outputs: Mapping[str, np.ndarray], start: int, edges: Edges | None = None
    ) -> ChunkPart:
        """The partial summary of the outputs (arrays (c, T) or (c, T, width)) of draws
        ``start, start + 1, ...``; ``edges``: the histogram's bins if fixed."""
        return self.fold(self.stacked(outputs, start), edges)

    def stacked(self, outputs: Mapping[str, np.ndarray], start: int) -> Stacked:
        """The outputs of draws ``start, start + 1, ...`` stacked by kind."""
        xf = self.stack(outputs, "float", np.float64)
        xb = self.stack(outputs, "bool", np.bool_)
        xc = self.stack(outputs, "category", np.int64)
        c = max(xf.shape[0], xb.shape[0], xc.shape[0])
        # a kind with no outputs (no columns) still has a row per draw
        xf, xb, xc = (
            x if x.shape[0] == c else np.zeros((c, *x.shape[1:]), x.dtype) for x in (xf, xb, xc)
        )
        return Stacked(start, xf, xb, xc)

    def fold(self, st: Stacked, edges: Edges | None = None) -> ChunkPart:
        """The partial summary of stacked outputs; ``edges``: the histogram's bins if fixed."""
        start, xf, xb, xc = st.start, st.xf, st.xb, st.xc
        c = xf.shape[0]
        take = min(c, max(0, self.keep - start))
        nan, clean = None, xf
        if self.nan_cols.size:  # only outputs that can be not applicable may hold NaN
            part = xf[..., self.nan_cols]
            bad = np.isnan(part)
            if bad.any():
                nan = bad.sum(axis=0)
                clean = xf.copy()
                clean[..., self.nan_cols] = np.where(bad, 0.0, part)
        cat = None
        if xc.shape[-1]:
            k = self.n_categories
            cells = (np.arange(self.n_trusts * xc.shape[-1]) * k).reshape(
                self.n_trusts, xc.shape[-1]
            )
            cat = np.bincount((cells[None] + xc).ravel(), minlength=cells.size * k).reshape(
                self.n_trusts, xc.shape[-1], k
            )
        hist: dict[str, np.ndarray] = {}
        if take < c:  # draws past the kept ones: counted in the histogram
            past = xf[take:]
            if edges is None or start < self.keep:
                hist["unbinned"] = past
            else:
                pos = edges.positions(past)
                if pos.size >= edges.cells:  # as many values as cells: the chunk's counts
                    hist["counts"] = np.zeros(edges.cells, dtype=np.int64)
                    add_counts(hist["counts"], pos)
                else:
                    hist["cells"] = pos
        return ChunkPart(
            start=start,
            count=c,
            kept=(xf[:take], xb[:take], xc[:take].astype(np.int8)) if take else None,
            nan=nan,
            sum=Rows.of(clean, start),
            sq=Rows.of(clean * clean, start),
            min=np.fmin.reduce(xf, axis=0) if c else np.full(xf.shape[1:], np.inf),
            max=np.fmax.reduce(xf, axis=0) if c else np.full(xf.shape[1:], -np.inf),
            true=xb.sum(axis=0),
            cat=cat,
            unbinned=hist.get("unbinned"),
            cells=hist.get("cells"),
            counts=hist.get("counts"),
        )


def to_send(
    layout: Layout, outputs: Mapping[str, np.ndarray], start: int, board: Board
) -> ChunkPart | Stacked:
    """What a worker sends of a chunk's outputs for one collector: its partial summary
    (:meth:`Layout.fold`, with the bins on ``board`` if published, its kept draws stored
    and its histogram cells counted at once where the board says how); to another process, the stacked outputs
    instead where they are smaller (chunks of fewer than :data:`BLOCK` draws: their rows of
    sums and squares, and of draws to count, would be sent twice)."""
    st = layout.stacked(outputs, start)
    part = layout.fold(st, board.edges)
    if not board.local and part.nbytes > st.nbytes:
        return st
    if part.kept is not None and board.store is not None:
        board.store(start, *part.kept)
        part = replace(part, kept=None, kept_stored=True)
    if part.cells is not None and board.count is not None:
        board.count(part.cells)
        return replace(part, cells=None, counted=True)
    return part
