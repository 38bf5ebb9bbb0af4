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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["BLOCK", "BlockSum", "OutputSpec", "Collector", "PERCENTILES"]

BLOCK = 256  # draws per summation block (a power of 2 for the pairwise tree)
_LOCAL_HIST_BYTES = 8 << 20  # histograms above this are counted cell by cell (see _count)
_HIST_BATCH_VALUES = 1 << 23  # values counted at once in a large histogram (64 MB)
_CELL_BLOCK = 256  # (trust, value) cells of a large histogram turned draw-last at once
PERCENTILES = (5, 10, 25, 50, 75, 90, 95)


def _tree_sum(blocks: np.ndarray) -> np.ndarray:
    """Sum axis 1 (length BLOCK) of (nb, BLOCK, ...) by halving: a fixed pairwise tree."""
    a = blocks
    while a.shape[1] > 1:
        h = a.shape[1] // 2
        a = a[:, :h] + a[:, h:]
    return a[:, 0]


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

    def _add_block_sums(self, blocks: np.ndarray) -> None:
        for s in _tree_sum(blocks):
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
                self._add_block_sums(self._buf[None])
                self._fill = 0
        nb = (c - i) // BLOCK
        if nb:
            self._add_block_sums(x[i : i + nb * BLOCK].reshape(nb, BLOCK, *self.shape))
            i += nb * BLOCK
        if i < c:
            self._buf[: c - i] = x[i:]
            self._fill = c - i

    def result(self) -> np.ndarray:
        """The sum so far (the last, partial block padded with zeros)."""
        if not self._fill:
            return self.total.copy()
        pad = self._buf.copy()
        pad[self._fill :] = 0.0
        return self.total + _tree_sum(pad[None])[0]


def _add_counts(hist: np.ndarray, pos: np.ndarray) -> None:
    """Add 1 to ``hist`` at every cell index in ``pos`` (floats), in ``pos``'s C order;
    NaN (a value that is not finite) is not counted."""
    if np.isnan(pos).any():
        flat = pos[~np.isnan(pos)].astype(np.intp)
    else:
        flat = pos.astype(np.intp, order="C").ravel()  # one copy, in that order
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


class Collector:
    """Summaries of every output for T trusts (see the module docstring).

    Outputs of one kind are folded together (one stacked array per kind), so the cost of a
    chunk does not grow with the number of outputs' Python objects.

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
        self.specs = dict(specs)
        self.n_trusts, self.keep = n_trusts, int(keep)
        self.n = 0
        self.cols: dict[str, slice] = {}
        widths = {"float": 0, "bool": 0, "category": 0}
        for name, sp in self.specs.items():
            if sp.kind not in widths:
                raise ValueError(f"unknown output kind {sp.kind!r}")
            self.cols[name] = slice(widths[sp.kind], widths[sp.kind] + sp.width)
            widths[sp.kind] += sp.width
        self.widths = widths
        self._nan_cols = np.concatenate(
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
        t, wf, wb, wc = n_trusts, widths["float"], widths["bool"], widths["category"]
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
        self._hcounts: np.ndarray | None = None  # read through _hist (counts waiting added)
        self._hbuf: np.ndarray | None = None  # draws waiting to be counted (see _count)
        self._hfill = 0
        self._lo: NDArray[np.float64] = np.zeros((t, wf))
        self._width: NDArray[np.float64] = np.ones((t, wf))
        self._inv_width: NDArray[np.float64] = np.ones((t, wf))
        self._cell0: NDArray[np.float64] = np.zeros((t, wf))

    @property
    def n_kept(self) -> int:
        return min(self.n, self.keep)

    def _stack(self, outputs: Mapping[str, np.ndarray], kind: str, dtype: type) -> np.ndarray:
        names = [k for k, sp in self.specs.items() if sp.kind == kind]
        if not names:
            return np.zeros((0, self.n_trusts, 0), dtype=dtype)
        parts = []
        for k in names:
            x = np.asarray(outputs[k])
            parts.append(x.reshape(x.shape[0], self.n_trusts, self.specs[k].width))
        return np.concatenate(parts, axis=-1).astype(dtype, copy=False)

    def add(self, outputs: Mapping[str, np.ndarray]) -> None:
        """Fold the outputs of the next consecutive draws: arrays (c, T) or (c, T, width)."""
        xf = self._stack(outputs, "float", np.float64)
        xb = self._stack(outputs, "bool", np.bool_)
        xc = self._stack(outputs, "category", np.int64)
        c = max(xf.shape[0], xb.shape[0], xc.shape[0])
        if c == 0:
            return
        # a kind with no outputs (no columns) still has a row per draw
        xf, xb, xc = (
            x if x.shape[0] == c else np.zeros((c, *x.shape[1:]), x.dtype) for x in (xf, xb, xc)
        )
        lo = self.n
        if lo < self.keep:
            take = min(c, self.keep - lo)
            self._kept_f[lo : lo + take] = xf[:take]
            self._kept_b[lo : lo + take] = xb[:take]
            self._kept_c[lo : lo + take] = xc[:take]
        if self._nan_cols.size:  # only outputs that can be not applicable may hold NaN
            part = xf[..., self._nan_cols]
            bad = np.isnan(part)
            if bad.any():
                self._nan[:, self._nan_cols] += bad.sum(axis=0)
                clean = xf.copy()
                clean[..., self._nan_cols] = np.where(bad, 0.0, part)
            else:
                clean = xf
        else:
            clean = xf
        self._sum.add(clean)
        self._sq.add(clean * clean)
        self._min = np.fmin(self._min, np.fmin.reduce(xf, axis=0))
        self._max = np.fmax(self._max, np.fmax.reduce(xf, axis=0))
        self._bool += xb.sum(axis=0)
        if xc.shape[-1]:
            k = self.n_categories
            cells = (np.arange(self.n_trusts * xc.shape[-1]) * k).reshape(
                self.n_trusts, xc.shape[-1]
            )
            self._cat += np.bincount((cells[None] + xc).ravel(), minlength=cells.size * k).reshape(
                self._cat.shape
            )
        self.n += c
        if self.n > self.keep:
            if self._hcounts is None:
                self._start_histogram()
                xf = xf[self.keep - lo :]  # the kept draws are already counted
            self._count(xf)

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
        self._inv_width = 1.0 / self._width
        # cell of (trust, value) k starts at k * (bins + 2); +1 skips the underflow cell
        self._cell0 = (np.arange(lo.size).reshape(lo.shape) * (self.bins + 2) + 1).astype(
            np.float64
        )
        self._hcounts = np.zeros((*lo.shape, self.bins + 2), dtype=np.int64)
        step = max(1, (1 << 19) // max(1, lo.size))  # 4 MB slices: in cache, no fresh pages
        for i in range(0, kept.shape[0], step):  # in slices: no large temporaries
            self._count_now(kept[i : i + step])

    def _count(self, x: np.ndarray) -> None:
        """Count draws in the histogram. A histogram larger than the caches is counted in
        batches of ~1,000 draws (:data:`_HIST_BATCH_VALUES` values) gathered in a buffer:
        each (trust, value) cell then takes a batch's increments in one go, ~3x cheaper than
        a chunk's at a time. Counts are integers: the batching changes no result."""
        assert self._hcounts is not None
        if self._hcounts.nbytes <= _LOCAL_HIST_BYTES:
            self._count_now(x)
            return
        if self._hbuf is None:
            batch = max(1, _HIST_BATCH_VALUES // max(1, self._lo.size))
            self._hbuf = np.empty((batch, *self._lo.shape))
        buf, i = self._hbuf, 0
        while i < x.shape[0]:
            take = min(x.shape[0] - i, buf.shape[0] - self._hfill)
            buf[self._hfill : self._hfill + take] = x[i : i + take]
            self._hfill += take
            i += take
            if self._hfill == buf.shape[0]:
                self._flush()

    @property
    def _hist(self) -> np.ndarray | None:
        """(T, width, bins + 2) histogram counts (under, bins, over), every draw counted."""
        self._flush()
        return self._hcounts

    def _flush(self) -> None:
        """Count the draws waiting in the batch buffer."""
        if self._hbuf is not None and self._hfill:
            self._count_now(self._hbuf[: self._hfill], scratch=True)
            self._hfill = 0

    def _count_now(self, x: np.ndarray, scratch: bool = False) -> None:
        """Count draws ``x`` (c, T, width) now; ``scratch``: ``x`` may be overwritten."""
        assert self._hcounts is not None
        pos = x if scratch else x.copy()
        pos -= self._lo
        pos *= self._inv_width
        np.floor(pos, out=pos)
        np.clip(pos, -1.0, float(self.bins), out=pos)  # -1 = under, bins = over
        pos += self._cell0
        hist = self._hcounts.reshape(-1)
        if self._hcounts.nbytes <= _LOCAL_HIST_BYTES:  # in cache: in the order draws come
            _add_counts(hist, pos)
            return
        # a histogram larger than the caches: by (trust, value), then draw, so the
        # increments stay local, turned a block of cells at a time (the block in cache)
        cells = pos.reshape(pos.shape[0], -1)
        for k in range(0, cells.shape[1], _CELL_BLOCK):
            _add_counts(hist, cells[:, k : k + _CELL_BLOCK].T)

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
