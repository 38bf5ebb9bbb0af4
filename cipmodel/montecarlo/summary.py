"""Mergeable summaries of simulated outputs, in bounded memory, chunk-size invariant.

A simulation streams its draws in chunks; :class:`Collector` folds each chunk's per-draw
outputs into summaries whose size does not grow with the number of draws, and whose value
does not depend on where the chunks were cut (the same draws in any chunking give
bit-identical summaries):

* **Counts** (probabilities, score distributions): integers, exact.
* **Sums** (means, standard deviations): :class:`BlockSum` adds the draws in fixed blocks of
  :data:`BLOCK` consecutive draws (by draw index) with a fixed pairwise tree, then the block
  sums in block order, so rounding never depends on the chunking.
* **Minimum and maximum**: exact.
* **Kept draws**: every output of the first ``keep`` draws is stored exactly (``keep`` is
  set from a memory budget; for one trust it is hundreds of thousands of draws).
  Percentiles are exact (NumPy's ``linear`` method) while all draws are kept.
* **Histograms** beyond ``keep``: once ``keep`` draws are stored, each output gets a
  fixed-bin histogram spanning the kept draws' range widened by half the range on each
  side (plus under/overflow counts), and every draw is counted in it from then on.
  Percentiles then come from the histogram by linear interpolation within a bin: error at
  most one bin width (the widened range / ``bins``), clamped to the exact min and max.

Most of a chunk's fold depends only on the chunk: a simulation has the worker that computed
it do that part (:mod:`~cipmodel.montecarlo.fold`) and merges the result here in draw order
(:meth:`Collector.add_part`), with the same summaries bit for bit.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from cipmodel.montecarlo.fold import (
    BLOCK,
    ChunkPart,
    Edges,
    Layout,
    OutputSpec,
    Rows,
    Stacked,
    add_counts,
    tree_sum,
)

__all__ = ["BLOCK", "BlockSum", "OutputSpec", "Collector", "PERCENTILES"]

_LOCAL_HIST_BYTES = 8 << 20  # histograms above this are counted cell by cell (see _count)
_HIST_BATCH_VALUES = 1 << 23  # values counted at once in a large histogram (64 MB)
_CELL_BLOCK = 256  # (trust, value) cells of a large histogram turned draw-last at once
PERCENTILES = (5, 10, 25, 50, 75, 90, 95)


class BlockSum:
    """Sum of per-draw values whose rounding does not depend on the chunking.

    Draws are summed in blocks of :data:`BLOCK` consecutive draws (by draw index) with a
    fixed pairwise tree, and the block sums added in block order; a block split across
    chunks waits in a buffer until it is complete.
    """

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape
        self.total = np.zeros(shape)
        self._buf = np.zeros((BLOCK, *shape))
        self._fill = 0

    def _add_block_sums(self, sums: np.ndarray) -> None:
        for s in sums:
            self.total = self.total + s

    def add(self, x: np.ndarray) -> None:
        """Add the values of consecutive draws (rows of ``x``), continuing the last call."""
        c, i = x.shape[0], 0
        if self._fill:
            take = min(BLOCK - self._fill, c)
            self._buf[self._fill : self._fill + take] = x[:take]
            self._fill += take
            i = take
            if self._fill == BLOCK:
                self._add_block_sums(tree_sum(self._buf[None]))
                self._fill = 0
        nb = (c - i) // BLOCK
        if nb:
            self._add_block_sums(tree_sum(x[i : i + nb * BLOCK].reshape(nb, BLOCK, *self.shape)))
            i += nb * BLOCK
        if i < c:
            self._buf[: c - i] = x[i:]
            self._fill = c - i

    def add_rows(self, rows: Rows) -> None:
        """Add the next draws cut at the block boundaries (:class:`Rows`): the same total as
        :meth:`add` of their values."""
        self.add(rows.head)
        if rows.blocks.shape[0]:
            if self._fill:
                raise ValueError("block sums must start at a block boundary")
            self._add_block_sums(rows.blocks)
        self.add(rows.tail)

    def result(self) -> np.ndarray:
        """The sum so far (the last, partial block padded with zeros)."""
        if not self._fill:
            return self.total.copy()
        pad = self._buf.copy()
        pad[self._fill :] = 0.0
        return self.total + tree_sum(pad[None])[0]


class Collector:
    """Summaries of every output for T trusts (see the module docstring).

    Outputs of one kind are folded together (one stacked array per kind), so the cost of a
    chunk does not grow with the number of outputs' Python objects. A chunk is folded in two
    steps: its partial summary (:meth:`Layout.part <cipmodel.montecarlo.fold.Layout.part>`,
    which a worker can compute where the chunk ran), then :meth:`add_part` here, in draw
    order; :meth:`add` does both.

    Parameters
    ----------
    specs : mapping of str -> OutputSpec
    n_trusts : int
    keep : int
        Draws stored exactly (the first ``keep``).
    hist_cells : int
        Histogram cells in all (bins per value = ``hist_cells`` / values, 256 to 4,096),
        used once more than ``keep`` draws are seen.
    """

    def __init__(
        self, specs: Mapping[str, OutputSpec], n_trusts: int, keep: int, hist_cells: int = 1 << 23
    ) -> None:
        self.layout = Layout(specs, n_trusts, keep)
        self.specs, self.cols, self.widths = self.layout.specs, self.layout.cols, self.layout.widths
        self.n_trusts, self.keep = n_trusts, self.layout.keep
        self.n_categories = self.layout.n_categories
        self.n = 0
        t, wf, wb, wc = n_trusts, self.widths["float"], self.widths["bool"], self.widths["category"]
        self.bins = int(min(4096, max(256, hist_cells // max(1, t * wf))))
        self._sum = BlockSum((t, wf))
        self._sq = BlockSum((t, wf))
        self._min = np.full((t, wf), np.inf)
        self._max = np.full((t, wf), -np.inf)
        self._nan = np.zeros((t, wf), dtype=np.int64)
        self._bool = np.zeros((t, wb), dtype=np.int64)
        self._cat = np.zeros((t, wc, self.n_categories), dtype=np.int64)
        self._kept_f = np.empty((self.keep, t, wf))
        self._kept_b = np.empty((self.keep, t, wb), dtype=bool)
        self._kept_c = np.empty((self.keep, t, wc), dtype=np.int8)
        self.edges: Edges | None = None  # the histogram's bins, once the kept draws are in
        self._hcounts: np.ndarray | None = None  # read through _hist (counts waiting added)
        self._hbuf: np.ndarray | None = None  # cells waiting to be counted (see _count)
        self._hfill = 0
        self._hlock = threading.Lock()  # the histogram's counts and buffer: see count_cells
        self._lo: NDArray[np.float64] = np.zeros((t, wf))
        self._width: NDArray[np.float64] = np.ones((t, wf))

    @property
    def n_kept(self) -> int:
        return min(self.n, self.keep)

    def add(self, outputs: Mapping[str, np.ndarray]) -> None:
        """Fold the outputs of the next consecutive draws: arrays (c, T) or (c, T, width)."""
        self.add_part(self.layout.part(outputs, self.n, self.edges))

    def add_part(self, part: ChunkPart | Stacked) -> None:
        """Fold the partial summary of the next consecutive draws (from :attr:`layout`), or
        their stacked outputs (:meth:`Layout.stacked <cipmodel.montecarlo.fold.Layout.stacked>`)."""
        if isinstance(part, Stacked):
            part = self.layout.fold(part, self.edges)
        if part.start != self.n:
            raise ValueError(f"chunk of draws from {part.start} folded after {self.n} draws")
        if part.count == 0:
            return
        lo = self.n
        if part.kept is not None:
            self.store_kept(lo, *part.kept)
        elif lo < self.keep and not part.kept_stored:
            raise ValueError(f"draws from {lo} among the first {self.keep} were not kept")
        if part.nan is not None:
            self._nan[:, self.layout.nan_cols] += part.nan
        self._sum.add_rows(part.sum)
        self._sq.add_rows(part.sq)
        self._min = np.fmin(self._min, part.min)
        self._max = np.fmax(self._max, part.max)
        self._bool += part.true
        if part.cat is not None:
            self._cat += part.cat
        self.n += part.count
        if self.n > self.keep:
            if self._hcounts is None:
                self._start_histogram()
            if part.counted:  # by the worker (count_cells): nothing to wait for here
                return
            with self._hlock:
                if part.unbinned is not None:
                    self._count(part.unbinned)
                elif part.cells is not None:
                    self._count_cells(part.cells)
                elif part.counts is not None:
                    hist = self._hist_flat()
                    hist += part.counts
                else:
                    raise ValueError(f"draws from {part.start} past keep were not counted")

    def store_kept(self, start: int, xf: np.ndarray, xb: np.ndarray, xc: np.ndarray) -> None:
        """Store the stacked outputs of kept draws ``start, start + 1, ...``: from any thread
        (a worker storing the chunk it computed; each chunk writes only its own rows, read
        only once merged)."""
        if start + xf.shape[0] > self.keep:
            raise ValueError(f"draws {start}..{start + xf.shape[0] - 1} are not all kept")
        self._kept_f[start : start + xf.shape[0]] = xf
        self._kept_b[start : start + xf.shape[0]] = xb
        self._kept_c[start : start + xf.shape[0]] = xc

    def count_cells(self, pos: np.ndarray) -> None:
        """Count draws' histogram cells ``pos`` (c, T, width; from :attr:`edges`) now: from
        any thread (a worker counting the chunk it computed), while the caller merges."""
        with self._hlock:
            self._count_cells(pos)

    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        del state["_hlock"]  # a lock does not pickle
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._hlock = threading.Lock()

    # -- histograms -----------------------------------------------------------------
    def _start_histogram(self) -> None:
        kept = self._kept_f
        fin = np.isfinite(kept)
        lo = np.min(kept, axis=0, where=fin, initial=np.inf)
        hi = np.max(kept, axis=0, where=fin, initial=-np.inf)
        del fin
        lo = np.where(np.isfinite(lo), lo, 0.0)
        hi = np.where(np.isfinite(hi), hi, 0.0)
        span = hi - lo
        span = np.where(span > 0, span, np.maximum(np.abs(lo) * 1e-9, 1e-9))
        self._lo = lo - 0.5 * span
        self._width = 2.0 * span / self.bins
        # cell of (trust, value) k starts at k * (bins + 2); +1 skips the underflow cell
        cell0 = (np.arange(lo.size).reshape(lo.shape) * (self.bins + 2) + 1).astype(np.float64)
        self.edges = Edges(self._lo, 1.0 / self._width, cell0, self.bins)
        self._hcounts = np.zeros((*lo.shape, self.bins + 2), dtype=np.int64)
        step = max(1, (1 << 19) // max(1, lo.size))  # 4 MB slices: in cache, no fresh pages
        for i in range(0, kept.shape[0], step):  # in slices: no large temporaries
            self._count(kept[i : i + step])  # a large histogram: in batches, as later draws

    def _count(self, x: np.ndarray) -> None:
        """Count draws ``x`` (c, T, width) in the histogram."""
        assert self.edges is not None
        self._count_cells(self.edges.positions(x))

    def _count_cells(self, pos: np.ndarray) -> None:
        """Count draws' histogram cells ``pos`` (c, T, width). A histogram larger than the
        caches is counted in batches of ~1,000 draws (:data:`_HIST_BATCH_VALUES` values)
        gathered in a buffer: each (trust, value) cell then takes a batch's increments in one
        go, ~3x cheaper than a chunk's at a time. Counts are integers: the batching changes
        no result."""
        assert self._hcounts is not None
        if self._hcounts.nbytes <= _LOCAL_HIST_BYTES:
            self._count_now(pos)
            return
        if self._hbuf is None:
            batch = max(1, _HIST_BATCH_VALUES // max(1, self._lo.size))
            self._hbuf = np.empty((batch, *self._lo.shape), dtype=pos.dtype)
        buf, i = self._hbuf, 0
        while i < pos.shape[0]:
            take = min(pos.shape[0] - i, buf.shape[0] - self._hfill)
            buf[self._hfill : self._hfill + take] = pos[i : i + take]
            self._hfill += take
            i += take
            if self._hfill == buf.shape[0]:
                self._flush()

    @property
    def _hist(self) -> np.ndarray | None:
        """(T, width, bins + 2) histogram counts (under, bins, over), every draw counted."""
        with self._hlock:
            self._flush()
        return self._hcounts

    def _flush(self) -> None:
        """Count the cells waiting in the batch buffer."""
        if self._hbuf is not None and self._hfill:
            self._count_now(self._hbuf[: self._hfill])
            self._hfill = 0

    def _hist_flat(self) -> np.ndarray:
        """The histogram counts, flat (a view: adding to it counts)."""
        assert self._hcounts is not None
        return self._hcounts.reshape(-1)

    def _count_now(self, pos: np.ndarray) -> None:
        """Count draws' histogram cells ``pos`` (c, T, width) now."""
        hist = self._hist_flat()
        if hist.nbytes <= _LOCAL_HIST_BYTES:  # in cache: in the order draws come
            add_counts(hist, pos)
            return
        # a histogram larger than the caches: by (trust, value), then draw, so the
        # increments stay local, turned a block of cells at a time (the block in cache)
        cells = pos.reshape(pos.shape[0], -1)
        for k in range(0, cells.shape[1], _CELL_BLOCK):
            add_counts(hist, cells[:, k : k + _CELL_BLOCK].T)

    # -- results ----------------------------------------------------------------------
    @property
    def kept(self) -> dict[str, np.ndarray]:
        """name -> (keep, T, width) stored outputs of the first draws (views)."""
        out = {}
        for name, sp in self.specs.items():
            src = {"float": self._kept_f, "bool": self._kept_b, "category": self._kept_c}[sp.kind]
            out[name] = src[..., self.cols[name]]
        return out

    @property
    def min(self) -> dict[str, np.ndarray]:
        return {k: self._min[:, self.cols[k]] for k, sp in self.specs.items() if sp.kind == "float"}

    @property
    def max(self) -> dict[str, np.ndarray]:
        return {k: self._max[:, self.cols[k]] for k, sp in self.specs.items() if sp.kind == "float"}

    @property
    def counts(self) -> dict[str, np.ndarray]:
        out = {}
        for k, sp in self.specs.items():
            if sp.kind == "bool":
                out[k] = self._bool[:, self.cols[k]]
            elif sp.kind == "category":
                out[k] = self._cat[:, self.cols[k]]
        return out

    def probability(self, name: str) -> np.ndarray:
        """(T, width) share of draws where a bool output is true."""
        return self._bool[:, self.cols[name]] / max(self.n, 1)

    def distribution(self, name: str) -> np.ndarray:
        """(T, width, n_categories) share of draws in each category."""
        return self._cat[:, self.cols[name]] / max(self.n, 1)

    def mean(self, name: str) -> np.ndarray:
        """(T, width) mean of the finite values."""
        c = self.cols[name]
        n = self.n - self._nan[:, c]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, self._sum.result()[:, c] / n, np.nan)

    def std(self, name: str) -> np.ndarray:
        """(T, width) standard deviation (ddof=1) of the finite values."""
        c = self.cols[name]
        n = self.n - self._nan[:, c]
        s, q = self._sum.result()[:, c], self._sq.result()[:, c]
        with np.errstate(invalid="ignore", divide="ignore"):
            var = (q - s * s / n) / (n - 1)
        return np.where(n > 1, np.sqrt(np.maximum(var, 0.0)), np.nan)

    def exact_percentiles(self) -> bool:
        """True while every draw is kept (percentiles exact)."""
        return self.n <= self.keep

    def percentiles(self, name: str, qs: tuple[float, ...] = PERCENTILES) -> np.ndarray:
        """(len(qs), T, width) percentiles of a float output (NaN values left out)."""
        c = self.cols[name]
        if self.n <= self.keep:
            kept = self._kept_f[: self.n, :, c]
            with np.errstate(invalid="ignore"):
                if np.isnan(kept).any():
                    return np.nanpercentile(kept, qs, axis=0)
                return np.percentile(kept, qs, axis=0)
        return self._hist_percentiles(c, qs)

    def _hist_percentiles(self, c: slice, qs: tuple[float, ...]) -> np.ndarray:
        assert self._hist is not None
        lo, width, hist = self._lo[:, c], self._width[:, c], self._hist[:, c]
        mn, mx = self._min[:, c], self._max[:, c]
        total = hist.sum(axis=-1)
        cum = np.cumsum(hist, axis=-1)
        out = np.empty((len(qs), *lo.shape))
        for qi, q in enumerate(qs):
            rank = q / 100.0 * (total - 1)  # 0-based position, as NumPy's "linear"
            k = np.argmax(cum > rank[..., None], axis=-1)  # cell holding that position
            inside = np.take_along_axis(hist, k[..., None], -1)[..., 0]
            before = np.take_along_axis(cum, k[..., None], -1)[..., 0] - inside
            frac = np.where(inside > 0, (rank - before + 0.5) / np.maximum(inside, 1), 0.5)
            left = np.where(k == 0, mn, lo + (k - 1) * width)
            right = np.where(k == self.bins + 1, mx, lo + k * width)
            left = np.where(k == self.bins + 1, lo + self.bins * width, left)
            right = np.where(k == 0, lo, right)
            val = left + np.clip(frac, 0.0, 1.0) * (right - left)
            out[qi] = np.where(total > 0, np.clip(val, mn, mx), np.nan)
        return out
