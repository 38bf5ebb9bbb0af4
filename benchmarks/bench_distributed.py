"""Scale-out benchmark (issue 13): a Dask LocalCluster of 1 and 2 workers against threads (1
and 2) and a process pool (2), for the national portfolio (4,096 draws) and one trust (2**16
draws); throughput and the cost per chunk of computing elsewhere, measured in the same run.

Each case times the chunked part of ``simulate`` — the context sent to the workers, every
chunk computed and folded into the summaries in draw order — on a context built once
(``run_plan`` and the context cost the same wherever chunks run). Worker processes are
started and warmed (imports done) before timing; the context's transfer is timed. Every
setup runs twice, in alternating rounds, and keeps its faster run (this VM is shared: its
timings vary by tens of per cent); the summaries of every run are checked to be identical.

Columns:

- **draws/s**: draws / wall seconds; **x 1 thread**: the ratio to one thread in this run;
- **overhead/chunk**: ``(workers x wall - wall of 1 thread) / chunks``: the worker-seconds
  spent per chunk beyond the work itself (shipping the context, the chunk and its outputs,
  scheduling, the caller folding in order while workers wait, idle tails, and on this
  2-core VM the caller and the workers sharing the cores);
- **tasks**: remote tasks (a task holds several chunks once the first say how long one
  takes: ~0.2 s of work a task, ``cipmodel.montecarlo.executors.TASK_SECONDS``);
- **CPU µs/draw**: CPU time (user + system) where the chunks were computed, per draw: this
  process for threads (folding included), the workers for Dask (folding is the caller's,
  below); less sensitive than wall time to other load on the machine;
- **faults/chunk**: minor page faults per chunk where they computed (this process for
  threads, the workers for Dask): fresh memory the kernel had to map — a machine-independent
  sign of the malloc settings' effect (docs/scale-out.md).

"dask, Dask's malloc" runs workers with Dask's default ``MALLOC_TRIM_THRESHOLD_`` (64 kB);
the other Dask rows use :data:`WORKER_MALLOC`, which docs/scale-out.md recommends.

Then the caller's own cost per chunk, which bounds how many workers one caller can feed:
unpickling a chunk's outputs and folding them into the summaries, and their size.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cipmodel.examples import example_portfolio
from cipmodel.examples.national import national_portfolio
from cipmodel.montecarlo import simulate
from cipmodel.montecarlo.executors import open_runner
from cipmodel.montecarlo.outputs import OUTPUTS, auto_chunk_size
from cipmodel.montecarlo.simulation import chunk_at, chunk_plan
from cipmodel.montecarlo.summary import Collector

CASES = (("national (235 trusts)", "national", 4096), ("one trust (acute example)", "one", 1 << 16))
ROUNDS = 2

#: glibc malloc settings for the workers (docs/scale-out.md): keep freed memory for reuse
#: rather than hand it back at once (with Dask's default trim threshold, 64 kB, the large
#: arrays of every chunk are fresh pages: page faults).
WORKER_MALLOC = {"MALLOC_TRIM_THRESHOLD_": 268_435_456, "MALLOC_MMAP_THRESHOLD_": 33_554_432}


def _context(kind: str, draws: int) -> tuple[Any, int]:
    """A simulation's context for ``draws`` draws, and its automatic chunk size."""
    p = national_portfolio() if kind == "national" else example_portfolio("acute-11pc")
    r = simulate(p, draws=draws, seed=2017, tolerance=0.49)  # stops at once: the context only
    return r.context, auto_chunk_size(r.context.plan, r.context.inputs.n_dims)


def _usage() -> tuple[int, float]:
    """Minor page faults and CPU seconds (user + system) of this process so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_minflt, r.ru_utime + r.ru_stime


def _counters(client: Any) -> NDArray[np.float64]:
    """(faults, CPU seconds) of this process, or summed over a Dask client's workers."""
    if client is None:
        return np.array(_usage(), dtype=float)
    return np.sum([np.array(v, dtype=float) for v in client.run(_usage).values()], axis=0)


def _timed(ctx: Any, draws: int, chunk: int, **where: Any) -> dict[str, Any]:
    """One chunked run (send, compute, fold in order): seconds, tasks, faults, the sums."""
    col = Collector(OUTPUTS, ctx.plan.n_trusts, 1024)
    client = where.get("client")
    seen = "executor" not in where  # a process pool's counters are out of reach
    c0 = _counters(client) if seen else None
    t0 = time.perf_counter()
    with open_runner(chunk_at, ctx, **where) as runner:
        for _, _, out in runner.map(chunk_plan(draws, chunk, None)):
            col.add(out)
    seconds = time.perf_counter() - t0
    used = _counters(client) - c0 if c0 is not None else None
    return {"seconds": seconds, "tasks": runner.tasks, "used": used, "sum": col._sum.result()}


def _cluster(n: int, malloc: bool = True) -> Any:
    """A LocalCluster of ``n`` single-threaded worker processes and its client.

    The nannies set their worker's environment by writing it into this process's
    ``os.environ`` (and read it back from there for the next cluster): restored after.
    """
    import dask
    from distributed import Client, LocalCluster

    env = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
    if malloc:
        env.update(WORKER_MALLOC)
    saved = dict(os.environ)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": env}):
        lc = LocalCluster(
            n_workers=n,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # None would still bind :8787
            silence_logs=logging.ERROR,
        )
    os.environ.clear()
    os.environ.update(saved)
    return lc, Client(lc, set_as_default=False)


def _caller_cost(ctx: Any, chunk: int) -> tuple[float, float, int]:
    """Seconds to unpickle and to fold one chunk's outputs in the caller, and their bytes."""
    out = chunk_at(ctx, 0, chunk)
    blob = pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL)
    col = Collector(OUTPUTS, ctx.plan.n_trusts, 1024)
    while col.n <= col.keep:  # past the kept draws: histograms, as in a long run
        col.add(out)
    loads, fold = [], []
    for _ in range(5):
        t = time.perf_counter()
        got = pickle.loads(blob)
        loads.append(time.perf_counter() - t)
        t = time.perf_counter()
        col.add(got)
        fold.append(time.perf_counter() - t)
    return min(loads), min(fold), len(blob)


def _table(label: str, ctx: Any, draws: int, chunk: int, setups: list[Any]) -> list[Any]:
    chunks = -(-draws // chunk)
    for _, _, where in setups[2:]:  # warm: worker imports, first-use caches
        _timed(ctx, min(draws, 2 * chunk), chunk, **where)
    best: dict[int, dict[str, Any]] = {}
    for _ in range(ROUNDS):
        for i, (_, _, where) in enumerate(setups):
            run = _timed(ctx, draws, chunk, **where)
            if i not in best or run["seconds"] < best[i]["seconds"]:
                best[i] = run
    ref = best[0]["sum"]
    for i, (name, n, _) in enumerate(setups):
        assert np.array_equal(best[i]["sum"], ref), f"{name} x{n}: summaries differ"
    print(
        f"\nScale-out: {label}, {draws:,} draws in {chunks} chunks of {chunk} "
        f"({ctx.plan.n_trusts} trusts, {ctx.inputs.n_dims:,} random dimensions a draw; "
        f"best of {ROUNDS})"
    )
    print(
        f"{'where':<22} {'workers':>7} {'seconds':>8} {'draws/s':>9} {'x 1 thread':>10} "
        f"{'overhead/chunk':>15} {'tasks':>6} {'CPU µs/draw':>12} {'faults/chunk':>13}"
    )
    base = best[0]["seconds"]
    rows = []
    for i, (name, n, _) in enumerate(setups):
        sec, used = best[i]["seconds"], best[i]["used"]
        over = (n * sec - base) / chunks
        if used is None:
            counters = f"{'-':>12} {'-':>13}"
        else:
            counters = f"{used[1] / draws * 1e6:>12,.1f} {used[0] / chunks:>13,.0f}"
        print(
            f"{name:<22} {n:>7} {sec:>8.2f} {draws / sec:>9,.0f} {base / sec:>10.2f} "
            f"{over * 1e3:>12.1f} ms {best[i]['tasks']:>6} {counters}"
        )
        rows.append((f"{label}: {name} x{n}", sec, f"{draws / sec:,.0f} draws/s"))
    loads, fold, size = _caller_cost(ctx, chunk)
    print(
        f"caller per chunk: unpickle {loads * 1e3:.1f} ms + fold {fold * 1e3:.1f} ms for "
        f"{size / 1e6:.1f} MB of outputs ({size / chunk:,.0f} bytes a draw)"
    )
    return rows


def main() -> list[tuple[str, float, str]]:
    logging.getLogger("distributed").setLevel(logging.ERROR)
    rows: list[tuple[str, float, str]] = []
    pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))
    clusters = {(n, True): _cluster(n) for n in (1, 2)}
    clusters[2, False] = _cluster(2, malloc=False)
    try:
        for label, kind, draws in CASES:
            ctx, chunk = _context(kind, draws)
            setups: list[tuple[str, int, dict[str, Any]]] = [
                ("threads", 1, {"workers": 1}),
                ("threads", 2, {"workers": 2}),
                ("processes", 2, {"executor": pool}),
                ("dask LocalCluster", 1, {"client": clusters[1, True][1]}),
                ("dask LocalCluster", 2, {"client": clusters[2, True][1]}),
                ("dask, Dask's malloc", 2, {"client": clusters[2, False][1]}),
            ]
            rows += _table(label, ctx, draws, chunk, setups)
    finally:
        for lc, client in clusters.values():
            client.close()
            lc.close()
        pool.shutdown()
    return rows


if __name__ == "__main__":
    main()
