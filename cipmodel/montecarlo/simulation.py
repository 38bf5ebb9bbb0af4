"""Monte Carlo simulation of a plan: probabilities, percentiles and funding at risk.

:func:`simulate` draws the uncertain inputs (:mod:`cipmodel.montecarlo.priors`) on the unit
hypercube (:mod:`cipmodel.montecarlo.samplers`), maps them to the engine's draws
(:mod:`cipmodel.montecarlo.inputs`), and runs **the same engine and assessment as a plan
run** (:func:`cipmodel.engine.project` on arrays ``(draw, trust, month)``, then
:func:`cipmodel.engine.assess.assess`) on chunks of draws, folding each chunk into mergeable
summaries (:mod:`cipmodel.montecarlo.summary`). There is no per-draw Python loop.

What is simulated: every plan year, month by month. Year 1 is computed on the plan cut to
its first year exactly as it always has been; for a plan of several years the same drawn
inputs are projected over the whole horizon and years 2 onwards assessed under their own
rules (:mod:`~cipmodel.montecarlo.years`), into a collector of their own. Memory is bounded by the chunk size, chosen from the portfolio's
size (trusts x lines x months, schemes, sample dimensions) unless given, whatever the
number of draws.

Reproducibility: the same inputs, seed and settings give bit-identical results whatever the
chunk size and wherever the chunks run (this thread, threads, processes, a Dask cluster:
:mod:`~cipmodel.montecarlo.executors`), because (1) every draw's sample point depends only on
the seed and the draw's index (counter-based streams), (2) the engine computes every draw by
the same operations whatever the batch, and (3) the chunks come back and are merged in draw
order, the sums in fixed blocks of draws. The seed, sampler, draw count, chunk size and local
thread count are recorded in the provenance; where the chunks ran is not (so the JSON is the
same wherever it ran).

The parts: :mod:`~cipmodel.montecarlo.context` (settings, packs, the context of a run),
:mod:`~cipmodel.montecarlo.outputs` (what a chunk of draws produces),
:mod:`~cipmodel.montecarlo.result` (:class:`SimulationResult`: tables and JSON) and this
module (the chunked run); :mod:`~cipmodel.montecarlo.executors` says where chunks run.

With ``priors="none"`` (or :meth:`Priors.none`) nothing is uncertain and every draw
reproduces the plan run exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cipmodel.engine.compile import PlanArrays
from cipmodel.inputs.records import Portfolio
from cipmodel.montecarlo.context import (
    DEFAULT_DRAWS,
    DEFAULT_SAMPLER,
    MAX_DRAWS,
    SimulationContext,
    build_context,
    check_draws,
    resolve_packs,
)
from cipmodel.montecarlo.executors import Runner, check_workers, open_runner, sample_points
from cipmodel.montecarlo.fold import Board, ChunkPart, Layout, Stacked, to_send
from cipmodel.montecarlo.outputs import (
    FLOAT_WIDTH,
    OUTPUTS,
    auto_chunk_size,
    chunk_outputs,
    per_draw_elements,
)
from cipmodel.montecarlo.priors import DEFAULT_PRIORS, Priors, SimulationError, load_priors
from cipmodel.montecarlo.result import SimulationResult
from cipmodel.montecarlo.samplers import SAMPLERS
from cipmodel.montecarlo.streams import SeedLike, as_seed_sequence, resolve_seed, seed_record
from cipmodel.montecarlo.summary import Collector
from cipmodel.montecarlo.years import year_outputs_spec
from cipmodel.regime.packs import RulePack
from cipmodel.results.run import run_plan

__all__ = [
    "simulate",
    "SimulationResult",
    "OUTPUTS",
    "MAX_DRAWS",
    "DEFAULT_DRAWS",
    "DEFAULT_SAMPLER",
    "auto_chunk_size",
    "chunk_cap",
    "chunk_parts",
    "ChunkJob",
    "CHUNK_MEMORY",
]

#: Memory the chunks being computed at once may take together (all workers): a chunk size
#: given above what fits is lowered to it (results do not depend on the chunk size).
CHUNK_MEMORY = 1 << 29  # 512 MB
#: Bytes a draw of a chunk takes per element of its largest per-draw array: the arrays
#: and temporaries of the projection and assessment (measured for one trust: 36 at 32,768
#: draws a chunk, 50 at 87,000).
BYTES_PER_ELEMENT = 64

KEEP_VALUES = 1 << 24  # float values of per-draw outputs kept exactly (128 MB)
CHECK_FIRST = 1024  # convergence is checked after 1024, 2048, 4096, ... draws
Z_95 = 1.959963984540054

#: A chunk's per-draw outputs (see :data:`OUTPUTS`).
Outputs = dict[str, NDArray[np.generic]]
#: What a chunk sends for a collector: its partial summary, or its stacked outputs.
Part = ChunkPart | Stacked


def simulate(
    portfolio: Portfolio,
    *,
    draws: int = DEFAULT_DRAWS,
    seed: SeedLike = None,
    sampler: str = DEFAULT_SAMPLER,
    priors: str | Path | RulePack | Priors | None = DEFAULT_PRIORS,
    chunk_size: int | None = None,
    tolerance: float | None = None,
    keep: int | None = None,
    funding_rules: str | RulePack | None = None,
    sof_rules: str | RulePack = "sof-2016",
    catch_up: bool | None = None,
    bonus: bool = False,
    allow_large: bool = False,
    workers: int | None = None,
    executor: Executor | None = None,
    client: Any = None,
    progress: Callable[[int, int], None] | None = None,
    later_years: bool = True,
    **provenance_extra: Any,
) -> SimulationResult:
    """Simulate a portfolio's plan years and summarise the draws.

    Parameters
    ----------
    portfolio : Portfolio
        One trust or many (trusts share the national shocks of a draw).
    draws : int
        Number of draws (the maximum when ``tolerance`` is set). Default 16,384 (2**14).
    seed : int, SeedSequence, Generator or None
        None picks a fresh seed and records it in the provenance.
    sampler : {"sobol", "lhs", "random"}
        Design on the unit hypercube (:mod:`cipmodel.montecarlo.samplers`).
    priors : str, Path, RulePack, Priors or None
        Pack name (``"priors-2017"``, ``"priors-2017:tracker"``), path, or object;
        ``None`` / ``"none"``: no uncertainty (reproduces the plan run).
    chunk_size : int, optional
        Draws per chunk (memory); default :func:`auto_chunk_size`. Results do not depend
        on it.
    tolerance : float, optional
        Stop early once the 95% confidence interval of P(meet the control total) is at
        most ``± tolerance`` for every trust, checked after 1,024, 2,048, 4,096, ... draws.
    keep : int, optional
        Draws whose outputs are stored exactly, at least 100 (default: as many as fit in
        128 MB).
    funding_rules, sof_rules, catch_up, bonus
        As for :func:`cipmodel.results.run.run_plan`.
    allow_large : bool
        Allow more than :data:`MAX_DRAWS` draws.
    workers : int, optional
        Threads computing chunks at once (NumPy releases the GIL); default 1. Results do not
        depend on it; memory grows with it. Only 1 (or None) with an executor or client.
    executor : concurrent.futures.Executor, optional
        Compute the chunks there instead: a ``ProcessPoolExecutor``, Dask's
        ``client.get_executor()``, ... (:mod:`cipmodel.montecarlo.executors`). Results do not
        depend on it.
    client : distributed.Client or str, optional
        Compute the chunks on a Dask cluster: a ``Client`` or a scheduler address
        (``"tcp://host:8786"``; needs ``pip install 'cipmodel[distributed]'``). The context
        is sent to every worker once; a lost worker's chunks are computed again elsewhere.
        Results do not depend on it (docs/scale-out.md).
    progress : callable(done, total), optional
        Called after each chunk is folded in, in draw order (in the calling thread).
    later_years : bool
        For a plan of several years, simulate years 2 onwards too (default;
        :meth:`SimulationResult.years`); False: year 1 only (its numbers are the same
        either way).
    **provenance_extra
        Added to the provenance.

    Returns
    -------
    SimulationResult

    Raises
    ------
    SimulationError
        Bad settings (draws, sampler, tolerance, chunk size) or priors.
    """
    n = _check_settings(draws, allow_large, sampler, tolerance, chunk_size, keep)
    seed = resolve_seed(seed)
    ss = as_seed_sequence(seed)
    pri = load_priors(priors)
    packs = resolve_packs(portfolio, funding_rules, sof_rules)
    run = run_plan(
        portfolio,
        funding_rules=packs.funding,
        sof_rules=packs.sof,
        catch_up=catch_up,
        bonus=bonus,
        **provenance_extra,
    )
    ctx = build_context(run, pri, sampler, ss, n, packs, catch_up, bonus, years=later_years)
    workers = check_workers(workers, remote=executor is not None or client is not None)
    chunk = _chunk_size(ctx, chunk_size, workers)
    col, ycol, job = _collectors(ctx, n, keep)
    with open_runner(chunk_parts, job, workers=workers, executor=executor, client=client) as runner:
        start, converged = _run_chunks(runner, job, col, ycol, n, chunk, tolerance, progress)
    unverified = sorted({*run.provenance.get("unverified", []), *pri.unverified})
    prov = dict(run.provenance)
    prov.update(
        {
            "mode": "simulation",
            **seed_record(seed, ss),
            "sampler": sampler,
            **ctx.sampler.describe(),
            "draws": start,
            "draws_requested": n,
            "chunk_size": chunk,
            "workers": workers,
            "tolerance": tolerance,
            "converged_at": converged,
            **pri.describe(),
            **ctx.inputs.describe(),
            "percentiles": "exact (all draws kept)"
            if col.exact_percentiles()
            else f"histogram ({col.bins} bins) beyond the first {col.keep} draws",
            "simulated_year": 1,
            "simulated_years": 1 if ctx.full is None else ctx.full.n_years,
            "rules": sorted({*run.provenance.get("rules", []), pri.name}),
            "unverified": unverified,
        }
    )
    return SimulationResult(
        run=run,
        context=ctx,
        collector=col,
        priors=pri,
        seed=seed,
        provenance=prov,
        years_collector=ycol,
    )


def _chunk_size(ctx: SimulationContext, chunk_size: int | None, workers: int) -> int:
    """The draws a chunk holds: as asked, or sized for the plan; never more than
    ``workers`` chunks at once fit in memory (:func:`chunk_cap`)."""
    n_dims = ctx.inputs.n_dims
    chunk = int(chunk_size) if chunk_size is not None else auto_chunk_size(ctx.plan, n_dims)
    return min(chunk, chunk_cap(ctx.plan, n_dims, workers))


def _check_settings(
    draws: int,
    allow_large: bool,
    sampler: str,
    tolerance: float | None,
    chunk_size: int | None,
    keep: int | None,
) -> int:
    """The number of draws, after checking the settings (:class:`SimulationError` if bad)."""
    n = check_draws(draws, allow_large)
    if sampler not in SAMPLERS:
        raise SimulationError(f"unknown sampler {sampler!r} (known: {', '.join(SAMPLERS)})")
    if tolerance is not None and not (0 < tolerance < 0.5):
        raise SimulationError(f"tolerance must be between 0 and 0.5, got {tolerance}")
    if chunk_size is not None and (isinstance(chunk_size, bool) or int(chunk_size) < 1):
        raise SimulationError(f"chunk_size must be >= 1, got {chunk_size}")
    if keep is not None and (isinstance(keep, bool) or int(keep) < 100):
        raise SimulationError(f"keep must be at least 100 draws, got {keep!r}")
    return n


def _collectors(
    ctx: SimulationContext, n: int, keep: int | None
) -> tuple[Collector, Collector | None, ChunkJob]:
    """The collectors of year 1 and of the later years (:func:`_years_collector`), keeping
    ``keep`` draws (default: as many as fit in :data:`KEEP_VALUES` values), and the job the
    chunks run (:class:`ChunkJob`)."""
    if keep is None:
        keep = max(1024, KEEP_VALUES // max(1, ctx.plan.n_trusts * FLOAT_WIDTH))
    col = Collector(OUTPUTS, ctx.plan.n_trusts, min(int(keep), n))
    ycol = _years_collector(ctx, min(int(keep), n))
    job = ChunkJob(ctx, col.layout, None if ycol is None else ycol.layout)
    job.first_board.store = col.store_kept  # worker threads store their kept draws
    if ycol is not None:
        job.later_board.store = ycol.store_kept
    return col, ycol, job


def _years_collector(ctx: SimulationContext, keep: int) -> Collector | None:
    """The summaries of plan years 2 onwards (None for a plan of one year): their own
    collector, so year 1's (its kept draws, its histograms) is the same with or without.
    It keeps as many draws exactly as year 1's (fewer values a draw: less memory)."""
    if ctx.full is None:
        return None
    return Collector(year_outputs_spec(ctx.full.n_years), ctx.full.n_trusts, keep)


def chunk_cap(plan: PlanArrays, n_dims: int, workers: int) -> int:
    """The most draws a chunk may hold so that ``workers`` chunks computed at once take
    about :data:`CHUNK_MEMORY` at most (never below 64)."""
    per_draw = per_draw_elements(plan, n_dims) * BYTES_PER_ELEMENT
    return max(64, CHUNK_MEMORY // (per_draw * max(1, workers)))


def chunk_plan(n: int, chunk: int, tolerance: float | None) -> Iterator[tuple[int, int]]:
    """``(start, count)`` of the chunks of draws 0..n-1: ``chunk`` draws each, and with a
    tolerance cut at the convergence check points (1,024, 2,048, 4,096, ... draws)."""
    start, next_check = 0, CHECK_FIRST
    while start < n:
        stop = min(start + chunk, n)
        if tolerance is not None:
            stop = min(stop, next_check)
            if stop == next_check:
                next_check *= 2
        yield start, stop - start
        start = stop


def chunk_at(ctx: SimulationContext, start: int, count: int) -> Outputs:
    """The per-draw outputs of draws ``start .. start + count - 1``: what one chunk computes,
    in a worker thread, process or Dask worker (a module-level function: picklable)."""
    return chunk_outputs(ctx, sample_points(ctx.sampler, start, count))


@dataclass(frozen=True)
class ChunkJob:
    """What every chunk of a simulation needs (sent to each worker once): the context, the
    layouts of the year-1 collector and of the later years' (None for a plan of one year),
    and the boards where the caller publishes their histograms' bins
    (:mod:`~cipmodel.montecarlo.fold`)."""

    ctx: SimulationContext
    first: Layout
    later: Layout | None
    first_board: Board = field(default_factory=Board)
    later_board: Board = field(default_factory=Board)


def chunk_parts(job: ChunkJob, start: int, count: int) -> tuple[Part, Part | None]:
    """The partial summaries of draws ``start .. start + count - 1`` (year 1, later years):
    what one chunk computes and folds where it runs (:func:`chunk_at`, then
    :func:`~cipmodel.montecarlo.fold.to_send`), for the caller to merge in draw order."""
    out = chunk_at(job.ctx, start, count)
    first = to_send(job.first, out, start, job.first_board)
    if job.later is None:
        return first, None
    return first, to_send(job.later, out, start, job.later_board)


def _run_chunks(
    runner: Runner,
    job: ChunkJob,
    col: Collector,
    ycol: Collector | None,
    n: int,
    chunk: int,
    tolerance: float | None,
    progress: Callable[[int, int], None] | None,
) -> tuple[int, int | None]:
    """Stream draws 0..n-1 through the model in chunks; return (draws done, converged at).

    The runner computes chunks wherever it computes them (this thread, threads, processes,
    a Dask cluster), each with its partial summaries, and hands them back in draw order;
    they are merged into the collectors in that order, so the result is the same for any
    runner, worker count and chunk size. Once a collector's histogram bins are fixed they
    are published on the job's board, for worker threads to bin (without a tolerance: and
    count) their draws themselves (:func:`_publish`).
    With a tolerance, the check after 1,024, 2,048, ... draws sees exactly the chunks up to
    that point (chunks computed ahead are dropped if it stops), so the stop is the same too.
    """
    done, next_check = 0, CHECK_FIRST
    for start, count, (first, later) in runner.map(chunk_plan(n, chunk, tolerance)):
        col.add_part(first)
        _publish(job.first_board, col, tolerance is None)
        if ycol is not None and later is not None:
            ycol.add_part(later)
            _publish(job.later_board, ycol, tolerance is None)
        done = start + count
        if progress is not None:
            progress(done, n)
        if tolerance is not None and done == next_check:
            if _half_width(col) <= tolerance:
                return done, done
            next_check *= 2
    return done, None


def _publish(board: Board, col: Collector, all_merged: bool) -> None:
    """Publish a collector's histogram bins, once fixed, for worker threads; where every
    chunk computed is merged (``all_merged``: no early stop, which drops chunks computed
    ahead), let them count their draws into it too (integers: the same counts)."""
    if board.edges is None and col.edges is not None:
        if all_merged:
            board.count = col.count_cells
        board.edges = col.edges


def _half_width(col: Collector) -> float:
    """Largest 95% half-width of P(meet the control total) over trusts (Agresti-Coull)."""
    x = col.counts["met_year"][:, 0]
    n = col.n
    p = (x + 2.0) / (n + 4.0)
    return float(np.max(Z_95 * np.sqrt(p * (1 - p) / (n + 4.0))))
