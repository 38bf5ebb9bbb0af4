"""Chunks folded where they ran (montecarlo/fold.py): the same summaries, bit for bit.

A worker computes each chunk's partial summary (kept rows, counts, minimum and maximum, the
tree sums of complete blocks of draws plus the rows of the partial blocks at the chunk's
edges, histogram cells or counts once the caller has published the bins) and the caller
merges it in draw order. The contract checked here: the summaries are bit-identical whatever
the chunk size (64, 100, 300, 1000: not multiples of BLOCK), whoever counts the histogram
(the caller or a worker), whether a part travelled pickled, and whatever runs the chunks
(this thread, threads, a process pool).

References are computed here independently: block sums by a recursive pairwise tree written
out in the test, counts by plain NumPy sums, histogram cells by a per-value loop over the
published bins. Tolerance: none (bit-identical), except where stated.
"""

from __future__ import annotations

import json
import pickle
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from cipmodel.examples import example_portfolio
from cipmodel.examples.national import national_portfolio
from cipmodel.montecarlo import simulate
from cipmodel.montecarlo import simulation as simulation_module
from cipmodel.montecarlo import summary as summary_module
from cipmodel.montecarlo.fold import BLOCK, Board, ChunkPart, Layout, Rows, Stacked, to_send
from cipmodel.montecarlo.summary import BlockSum, Collector, OutputSpec

CHUNKS = (64, 100, 300, 1000)
HIST_CELLS = 15 * 256  # 256 bins for the 15 float values of 3 trusts: chunks of 300 or
# more draws then hold more values than the histogram cells (counted by the worker whole)

SPECS = {
    "a": OutputSpec("float"),
    "b": OutputSpec("float", 3),
    "pct": OutputSpec("float", may_be_nan=True),
    "ok": OutputSpec("bool", 2),
    "score": OutputSpec("category", 2),
}


def _pairwise(rows: np.ndarray) -> np.ndarray:
    """The fixed tree of one block, one row at a time: add the second half onto the first
    (row i + h onto row i), then again on the first half, until one row is left."""
    rows = [r.copy() for r in rows]
    while len(rows) > 1:
        h = len(rows) // 2
        rows = [rows[i] + rows[i + h] for i in range(h)]
    return rows[0]


def _reference_sum(x: np.ndarray) -> np.ndarray:
    """Blocks of BLOCK draws summed by the pairwise tree, then added in block order; the
    last, partial block padded with zeros (as BlockSum.result)."""
    total = np.zeros(x.shape[1:])
    for b in range(0, x.shape[0], BLOCK):
        block = np.zeros((BLOCK, *x.shape[1:]))
        part = x[b : b + BLOCK]
        block[: part.shape[0]] = part
        total = total + _pairwise(block)
    return total


def _values(n: int, seed: int = 1) -> np.ndarray:
    """(n, 2, 3) values of a few orders of magnitude: the rounding of a sum depends on the
    order of its additions."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2, 3)) * 10.0 ** rng.integers(0, 3, size=(n, 2, 3))


@pytest.mark.parametrize("chunk", (1, 64, 100, 255, 256, 300, 1000, 2000))
def test_block_sums_from_parts_are_bit_identical_for_any_chunking(chunk: int) -> None:
    x = _values(2000)
    ref = _reference_sum(x)
    assert not np.array_equal(ref, np.cumsum(x, axis=0)[-1])  # the order does matter here
    bs = BlockSum(x.shape[1:])
    for start in range(0, x.shape[0], chunk):
        bs.add_rows(Rows.of(x[start : start + chunk], start))
    np.testing.assert_array_equal(bs.result(), ref)
    whole = BlockSum(x.shape[1:])
    whole.add(x)
    np.testing.assert_array_equal(whole.result(), ref)


def test_rows_are_cut_at_block_boundaries_by_draw_index() -> None:
    x = _values(600)
    r = Rows.of(x, start=100)  # draws 100..699: boundaries at 256 and 512
    assert r.head.shape[0] == 156 and r.blocks.shape[0] == 1 and r.tail.shape[0] == 188
    np.testing.assert_array_equal(r.blocks[0], _pairwise(x[156 : 156 + BLOCK]))
    np.testing.assert_array_equal(r.tail, x[412:])
    inside = Rows.of(x[:50], start=300)  # within one block: all head
    assert inside.head.shape[0] == 50 and inside.blocks.shape[0] == 0 and not inside.tail.size


def test_block_sums_must_start_at_a_boundary() -> None:
    bs = BlockSum((1,))
    bs.add(np.ones((3, 1)))
    with pytest.raises(ValueError, match="block boundary"):
        bs.add_rows(Rows.of(np.ones((BLOCK, 1)), 0))


def _outputs(n: int, n_trusts: int = 3, seed: int = 2) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    pct = rng.normal(size=(n, n_trusts))
    pct[rng.random((n, n_trusts)) < 0.1] = np.nan  # not applicable in some draws
    return {
        "a": rng.normal(size=(n, n_trusts)) * 1e6,
        "b": rng.lognormal(size=(n, n_trusts, 3)),
        "pct": pct,
        "ok": rng.random((n, n_trusts, 2)) < 0.3,
        "score": rng.integers(0, 5, size=(n, n_trusts, 2)),
    }


def _chunks(out: dict[str, np.ndarray], chunk: int) -> list[tuple[int, dict[str, np.ndarray]]]:
    n = next(iter(out.values())).shape[0]
    return [(s, {k: v[s : s + chunk] for k, v in out.items()}) for s in range(0, n, chunk)]


def _state(c: Collector) -> dict[str, Any]:
    """Every summary a collector holds (the histogram counted in full)."""
    return {
        "n": c.n,
        "sum": c._sum.result(),
        "sq": c._sq.result(),
        "min": c._min,
        "max": c._max,
        "nan": c._nan,
        "bool": c._bool,
        "cat": c._cat,
        "kept_f": c._kept_f[: c.n_kept],
        "kept_b": c._kept_b[: c.n_kept],
        "kept_c": c._kept_c[: c.n_kept],
        "hist": c._hist,
        "pct": {k: c.percentiles(k) for k, s in c.specs.items() if s.kind == "float"},
    }


def _assert_same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], dict):
            _assert_same(a[k], b[k])
        elif a[k] is None or b[k] is None:
            assert a[k] is None and b[k] is None, k
        else:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def _fold_on_workers(
    out: dict[str, np.ndarray], chunk: int, keep: int, pickled: bool = False, count: bool = False
) -> tuple[Collector, list[str]]:
    """Fold as a simulation does: each part made by to_send (the bins published on the
    board once fixed, with ``count`` the collector's thread-safe counting too; ``pickled``:
    the board travels, as to another process), merged in order; with ``count`` kept draws
    are stored and histogram cells counted by the "worker" itself. Also returns what each
    chunk sent."""
    col = Collector(SPECS, 3, keep, HIST_CELLS)
    board = pickle.loads(pickle.dumps(Board())) if pickled else Board()
    if count and board.local:
        board.store = col.store_kept
    sent = []
    for start, o in _chunks(out, chunk):
        part = to_send(col.layout, o, start, board)
        if pickled:
            part = pickle.loads(pickle.dumps(part))
        sent.append(
            "stacked"
            if isinstance(part, Stacked)
            else "cells"
            if part.cells is not None
            else "counts"
            if part.counts is not None
            else "unbinned"
            if part.unbinned is not None
            else "counted"
            if part.counted
            else "stored"
            if part.kept_stored
            else "kept"
        )
        col.add_part(part)
        if board.local:
            board.edges = col.edges
            if count and col.edges is not None:
                board.count = col.count_cells
    return col, sent


@pytest.mark.parametrize("large", (False, True), ids=("cache-sized", "large-histogram"))
def test_collector_is_bit_identical_whoever_folds_and_counts(
    large: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``keep`` the histogram is counted: by the caller (add, a pickled board) or by
    the workers (cells, a chunk's counts, or counted into the collector at once);
    cache-sized and large (batched, cell by cell) histograms alike. Every summary is
    identical to folding all draws at once."""
    if large:  # the batched, cell-by-cell path, with several batches
        monkeypatch.setattr(summary_module, "_LOCAL_HIST_BYTES", 0)
        monkeypatch.setattr(summary_module, "_HIST_BATCH_VALUES", 15 * 150)
    n, keep = 2500, 300
    out = _outputs(n)
    ref = Collector(SPECS, 3, keep, HIST_CELLS)
    ref.add(out)
    want = _state(ref)
    assert want["hist"] is not None
    seen = set()
    for chunk in CHUNKS:
        col = Collector(SPECS, 3, keep, HIST_CELLS)
        for start, o in _chunks(out, chunk):
            assert start == col.n
            col.add(o)
        _assert_same(_state(col), want)
        for pickled, count in ((False, False), (False, True), (True, False)):
            col, sent = _fold_on_workers(out, chunk, keep, pickled, count)
            _assert_same(_state(col), want)
            seen.update(sent)
            if pickled:  # never counted on a worker that cannot see the bins
                assert not {"cells", "counts", "counted"} & set(sent)
    assert {"cells", "counts", "counted", "unbinned", "stacked", "kept", "stored"} <= seen


def test_collector_summaries_match_plain_numpy() -> None:
    """Counts, NaN counts, min, max and kept draws against NumPy on all draws at once; the
    histogram against a per-value count over the published bins."""
    n, keep = 1500, 200
    out = _outputs(n)
    col, _ = _fold_on_workers(out, 100, keep)
    a = col.layout
    np.testing.assert_array_equal(col.counts["ok"], out["ok"].sum(axis=0))
    for k in range(5):
        np.testing.assert_array_equal(col.counts["score"][..., k], (out["score"] == k).sum(axis=0))
    np.testing.assert_array_equal(col._nan[:, a.cols["pct"]][:, 0], np.isnan(out["pct"]).sum(0))
    np.testing.assert_array_equal(col.min["b"], out["b"].min(axis=0))
    np.testing.assert_array_equal(col.max["pct"][:, 0], np.nanmax(out["pct"], axis=0))
    np.testing.assert_array_equal(col.kept["a"][..., 0], out["a"][:keep])
    np.testing.assert_allclose(col.mean("a")[:, 0], out["a"].mean(axis=0), rtol=1e-12)
    e = col.edges
    assert e is not None and col._hist is not None
    x = out["b"][..., 1]  # value column 2 of "b": float column 2
    for t in range(3):
        hist = col._hist[t, a.cols["b"].start + 1]
        cells = np.clip(np.floor((x[:, t] - e.lo[t, 2]) * e.inv_width[t, 2]), -1, col.bins) + 1
        np.testing.assert_array_equal(hist, np.bincount(cells.astype(int), minlength=col.bins + 2))
    pct_hist = col._hist[:, a.cols["pct"].start].sum(axis=-1)
    np.testing.assert_array_equal(pct_hist, (~np.isnan(out["pct"])).sum(axis=0))


def test_worker_counts_only_past_keep_once_bins_are_published() -> None:
    out = _outputs(1000)
    layout = Layout(SPECS, 3, keep=300)
    board = Board()
    crossing = to_send(layout, {k: v[200:400] for k, v in out.items()}, 200, board)
    assert isinstance(crossing, ChunkPart)
    assert crossing.kept is not None and crossing.kept[0].shape[0] == 100
    assert crossing.unbinned is not None and crossing.unbinned.shape[0] == 100
    col = Collector(SPECS, 3, 300, HIST_CELLS)
    col.add({k: v[:400] for k, v in out.items()})
    board.edges = col.edges
    later = to_send(layout, {k: v[400:500] for k, v in out.items()}, 400, board)
    assert isinstance(later, ChunkPart) and later.kept is None and later.unbinned is None
    assert later.cells is not None or later.counts is not None
    with pytest.raises(ValueError, match="folded after"):  # parts are merged in draw order
        col.add_part(to_send(layout, {k: v[500:600] for k, v in out.items()}, 500, board))


def test_a_pickled_board_sends_the_smaller_of_part_and_outputs() -> None:
    """Another process never sees the bins: a chunk smaller than a block sends its stacked
    outputs (its rows would go twice in a part); a chunk of whole blocks its part."""
    out = _outputs(2048)
    layout = Layout(SPECS, 3, keep=100)
    remote = pickle.loads(pickle.dumps(Board()))
    assert not remote.local and remote.edges is None
    small = to_send(layout, {k: v[:64] for k, v in out.items()}, 1024, remote)
    assert isinstance(small, Stacked)
    big = to_send(layout, {k: v[:1024] for k, v in out.items()}, 0, Board())
    assert isinstance(big, ChunkPart)
    whole = to_send(layout, {k: v[1024:] for k, v in out.items()}, 1024, remote)
    assert isinstance(whole, ChunkPart) and whole.sum.blocks.shape[0] == 4


def _dump(r: Any) -> str:
    d = json.loads(json.dumps(r.to_dict()))
    for k in ("chunk_size", "workers"):
        d["provenance"].pop(k)
    return json.dumps(d, sort_keys=True)


def _sim_state(r: Any) -> dict[str, Any]:
    s = {"json": _dump(r), "first": _state(r.collector)}
    if r.years_collector is not None:
        s["later"] = _state(r.years_collector)
    return s


def _assert_same_sim(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a["json"] == b["json"]
    assert a.keys() == b.keys()
    for k in a.keys() - {"json"}:
        _assert_same(a[k], b[k])


def test_simulation_is_bit_identical_across_chunks_threads_and_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One trust over two plan years, most draws past ``keep`` (histograms, counted by the
    worker threads once the bins are published): chunks of 64, 100, 300 and 1000 draws,
    inline, two threads and a process pool give what one chunk of all draws gives."""
    p = example_portfolio("acute-11pc")
    kw: dict[str, Any] = dict(draws=3000, seed=4, sampler="random", keep=200)
    ref = _sim_state(simulate(p, chunk_size=3000, **kw))
    assert "later" in ref and ref["first"]["hist"] is not None
    counted_on_workers = []

    def spy(*args: Any) -> Any:
        part = to_send(*args)
        counted_on_workers.append(isinstance(part, ChunkPart) and part.unbinned is None)
        return part

    monkeypatch.setattr(simulation_module, "to_send", spy)
    for chunk in CHUNKS:
        _assert_same_sim(_sim_state(simulate(p, chunk_size=chunk, workers=2, **kw)), ref)
    assert sum(counted_on_workers) > len(counted_on_workers) / 2  # most of the draws
    monkeypatch.undo()
    _assert_same_sim(_sim_state(simulate(p, chunk_size=100, **kw)), ref)
    with ProcessPoolExecutor(2) as pool:
        for chunk in (64, 1000):
            _assert_same_sim(_sim_state(simulate(p, chunk_size=chunk, executor=pool, **kw)), ref)


def test_portfolio_and_early_stop_are_bit_identical_with_threads() -> None:
    """Twelve trusts (one collector for all) and a tolerance stop (chunks computed ahead are
    dropped, never counted): two threads give what this thread gives."""
    twelve = national_portfolio(seed=11, n_trusts=12)
    kw: dict[str, Any] = dict(draws=700, seed=7, sampler="lhs", keep=150)
    ref = _sim_state(simulate(twelve, chunk_size=700, **kw))
    for chunk in (64, 100, 300):
        _assert_same_sim(_sim_state(simulate(twelve, chunk_size=chunk, workers=2, **kw)), ref)
    one = example_portfolio("acute-11pc")
    tol: dict[str, Any] = dict(draws=1 << 14, seed=3, sampler="random", tolerance=0.02, keep=100)
    stop = simulate(one, chunk_size=1 << 14, **tol)
    assert stop.provenance["converged_at"] is not None
    assert stop.provenance["converged_at"] < 1 << 14
    _assert_same_sim(_sim_state(simulate(one, chunk_size=100, workers=2, **tol)), _sim_state(stop))


def test_collector_pickles_and_refuses_draws_left_uncounted() -> None:
    out = _outputs(400)
    col = Collector(SPECS, 3, 100, HIST_CELLS)
    col.add({k: v[:150] for k, v in out.items()})
    copy = pickle.loads(pickle.dumps(col))  # its histogram lock is made anew
    _assert_same(_state(copy), _state(col))
    for c in (col, copy):
        c.add({k: v[150:200] for k, v in out.items()})
    _assert_same(_state(copy), _state(col))
    part = col.layout.part({k: v[200:300] for k, v in out.items()}, 200, col.edges)
    assert part.cells is not None or part.counts is not None
    with pytest.raises(ValueError, match="not counted"):
        col.add_part(replace(part, cells=None, counts=None))
    fresh = Collector(SPECS, 3, 100, HIST_CELLS)
    first = fresh.layout.part({k: v[:50] for k, v in out.items()}, 0)
    with pytest.raises(ValueError, match="were not kept"):
        fresh.add_part(replace(first, kept=None))
    with pytest.raises(ValueError, match="not all kept"):
        fresh.store_kept(90, *fresh.layout.part(out, 0).kept[0:3])  # type: ignore[index]
