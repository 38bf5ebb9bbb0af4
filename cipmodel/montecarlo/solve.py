"""Goal seek on probability: the CIP needed for P(meet the control total) >= p.

As in :func:`cipmodel.engine.solve.solve_cip`, the unknown for each trust is a multiplier ``k`` on
its whole CIP programme (its mix of schemes, stages, phasing and risks kept as planned). In
a draw, the first year's pre-STF surplus is linear in ``k`` — ``s(k) = a + k c`` with ``c``
the CIP the draw delivers at ``k = 1`` (the delivered shares and slippage of a draw do not
depend on the size of the programme) — so the draw meets the control total ``CT`` exactly
when ``k >= k* = (CT - a) / c``. With common random numbers (the same draws for every
``k``), P(meet | k) is therefore the empirical distribution function of ``k*`` over the
draws: the whole probability curve comes from one simulation, exactly, and the ``k``
needed for probability ``p`` is the ``ceil(p n)``-th smallest ``k*``.

The CIP needed is ``k`` times the planned in-year CIP [£000] and as a share of operating
expenditure before CIP [fraction], as in the deterministic solve. A trust with no CIP
programme gets a notional flat, recurrent programme from month 1 (as ``solve_cip``), which
is certain: its ``k*`` is the shortfall itself.

A probability that no CIP reaches (some draws miss the control total whatever the
programme, e.g. through shocks a programme that delivers nothing cannot offset) gives
``needed = NaN`` and ``reachable = False``; the curve shows the highest probability there is.
"""

from __future__ import annotations

import math
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from cipmodel.calendar import cip_share
from cipmodel.formatting import json_float
from cipmodel.inputs.records import Portfolio
from cipmodel.montecarlo.context import (
    DEFAULT_DRAWS,
    DEFAULT_SAMPLER,
    SimulationContext,
    build_context,
    check_draws,
    resolve_packs,
)
from cipmodel.montecarlo.executors import check_workers, open_runner, sample_points
from cipmodel.montecarlo.outputs import auto_chunk_size
from cipmodel.montecarlo.priors import DEFAULT_PRIORS, Priors, SimulationError, load_priors
from cipmodel.montecarlo.samplers import SAMPLERS
from cipmodel.montecarlo.streams import SeedLike, as_seed_sequence, resolve_seed, seed_record
from cipmodel.regime.bands import cip_band
from cipmodel.regime.packs import RulePack
from cipmodel.results.run import MET_TOLERANCE, run_plan

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ProbabilitySolveResult", "solve_probability", "MAX_VALUES"]

MAX_VALUES = 50_000_000  # draws x trusts held for the exact curve
_NUDGE = 1e-9  # relative margin so the draw on the boundary meets despite rounding


@dataclass(frozen=True, eq=False)
class ProbabilitySolveResult:
    """The CIP each trust needs for P(meet its first-year control total) >= ``probability``.

    Attributes (arrays over trusts, in portfolio order)
    ----------
    codes : tuple of str
    probability : float
        The target probability.
    draws : int
    planned : ndarray
        Planned in-year CIP [£000].
    opex : ndarray
        Operating expenditure before CIP in the year [£000] (the % denominator).
    scale : ndarray
        Multiplier on the programme that reaches the probability (NaN for trusts without
        a programme, or when unreachable).
    needed : ndarray
        In-year CIP needed [£000] (NaN when unreachable).
    reachable : ndarray of bool
    p_at_plan : ndarray
        P(meet) with the CIP as planned (``k = 1``).
    p_max : ndarray
        The highest P(meet) any CIP gives.
    band : ndarray of str
        Evidence band of ``needed_pct`` (``cip-bands``).
    provenance : dict
    """

    codes: tuple[str, ...]
    probability: float
    draws: int
    planned: np.ndarray
    opex: np.ndarray
    scale: np.ndarray
    needed: np.ndarray
    reachable: np.ndarray
    p_at_plan: np.ndarray
    p_max: np.ndarray
    band: np.ndarray
    has_programme: np.ndarray
    provenance: dict[str, Any]
    _thresholds: np.ndarray = field(repr=False)  # (T, n) sorted k* (or notional £000)

    @property
    def needed_pct(self) -> np.ndarray:
        """Needed CIP as a share of operating expenditure [fraction]."""
        return cip_share(self.needed, self.opex)

    @property
    def planned_pct(self) -> np.ndarray:
        return cip_share(self.planned, self.opex)

    def probability_at(self, trust: int, cip: float | np.ndarray) -> np.ndarray:
        """P(meet) of trust ``trust`` (index) with an in-year CIP of ``cip`` [£000]."""
        x = np.asarray(cip, dtype=float)
        k = x / self.planned[trust] if self.has_programme[trust] else x
        sorted_k = self._thresholds[trust]
        return np.searchsorted(sorted_k, k, side="right") / sorted_k.size

    def curve(self, points: int = 101, max_pct: float | None = None) -> pd.DataFrame:
        """P(meet the control total) across CIP levels: the 'is 11% achievable?' chart.

        One row per trust and CIP level from 0 to ``max_pct`` of operating expenditure
        (default: twice the larger of the planned and needed CIP, at least 10%).
        """
        import pandas as pd

        rows = []
        for i, code in enumerate(self.codes):
            top = max_pct
            if top is None:
                cands = [
                    0.10,
                    2 * float(np.nan_to_num(self.planned_pct[i])),
                    2 * float(np.nan_to_num(self.needed_pct[i])),
                ]
                top = max(cands)
            pct = np.linspace(0.0, top, points)
            cip = pct * self.opex[i]
            p = self.probability_at(i, cip)
            for j in range(points):
                rows.append(
                    {
                        "trust_code": code,
                        "cip_pct": pct[j],
                        "cip": cip[j],
                        "scale": cip[j] / self.planned[i] if self.has_programme[i] else np.nan,
                        "probability": p[j],
                    }
                )
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe result: per trust the CIP needed (£000 and fraction) and probabilities."""
        f = json_float
        trusts = []
        for i, code in enumerate(self.codes):
            trusts.append(
                {
                    "code": code,
                    "probability_target": f(self.probability),
                    "planned": f(self.planned[i]),
                    "planned_pct": f(self.planned_pct[i]),
                    "needed": f(self.needed[i]),
                    "needed_pct": f(self.needed_pct[i]),
                    "band": str(self.band[i]),
                    "scale": f(self.scale[i]),
                    "reachable": bool(self.reachable[i]),
                    "p_at_plan": f(self.p_at_plan[i]),
                    "p_max": f(self.p_max[i]),
                }
            )
        return {"trusts": trusts, "provenance": self.provenance}


def solve_probability(
    portfolio: Portfolio,
    probability: float,
    *,
    draws: int = DEFAULT_DRAWS,
    seed: SeedLike = None,
    sampler: str = DEFAULT_SAMPLER,
    priors: str | Path | RulePack | Priors | None = DEFAULT_PRIORS,
    chunk_size: int | None = None,
    allow_large: bool = False,
    workers: int | None = None,
    executor: Executor | None = None,
    client: Any = None,
    **provenance_extra: Any,
) -> ProbabilitySolveResult:
    """The CIP (% and £000) each trust needs for P(meet the control total) >= ``probability``.

    Parameters
    ----------
    portfolio : Portfolio
    probability : float
        Target, strictly between 0 and 1.
    draws, seed, sampler, priors, chunk_size, allow_large, workers, executor, client
        As for :func:`cipmodel.montecarlo.simulate` (same seed: same draws; the result does
        not depend on where the chunks are computed).

    Returns
    -------
    ProbabilitySolveResult
    """
    n = _check_settings(portfolio, probability, draws, sampler, allow_large)
    n_t = len(portfolio.trusts)
    seed = resolve_seed(seed)
    pri = load_priors(priors)
    packs = resolve_packs(portfolio, None, "sof-2016")
    run = run_plan(portfolio, funding_rules=packs.funding, sof_rules=packs.sof, **provenance_extra)
    ss = as_seed_sequence(seed)
    ctx = build_context(run, pri, sampler, ss, n, packs, None, False)
    ctx.sampler_seed = ss
    plan = ctx.plan
    solved = run.solved
    planned, opex = solved.planned, solved.opex
    has_prog = planned > 1e-9
    chunk = int(chunk_size) if chunk_size is not None else auto_chunk_size(plan, ctx.inputs.n_dims)
    job = ThresholdJob(ctx, plan.ct_target[:, 0] - MET_TOLERANCE, has_prog)
    thresholds = _thresholds(job, n, chunk, workers, executor, client)  # (T, n) sorted
    j = max(0, math.ceil(probability * n) - 1)
    kth = thresholds[:, j]
    reachable = np.isfinite(kth)
    k_needed = np.where(reachable, np.maximum(kth, 0.0), np.nan)
    k_needed = k_needed * (1 + _NUDGE) + _NUDGE
    needed = np.where(has_prog, k_needed * planned, k_needed)
    scale = np.where(has_prog, k_needed, np.nan)
    p_plan = np.array(
        [
            np.searchsorted(thresholds[i], 1.0 if has_prog[i] else 0.0, side="right") / n
            for i in range(n_t)
        ]
    )
    p_max = np.isfinite(thresholds).sum(axis=1) / n
    needed_pct = cip_share(needed, opex)
    band = np.array(
        [str(cip_band(float(x))) if np.isfinite(x) else "unreachable" for x in needed_pct],
        dtype=object,
    )
    prov = dict(run.provenance)
    prov.update(
        {
            "mode": "solve_probability",
            **seed_record(seed, ctx.sampler_seed),
            "sampler": sampler,
            **ctx.sampler.describe(),
            "draws": n,
            "chunk_size": chunk,
            **pri.describe(),
            "probability": probability,
            "unverified": sorted({*run.provenance.get("unverified", []), *pri.unverified}),
        }
    )
    return ProbabilitySolveResult(
        codes=plan.codes,
        probability=float(probability),
        draws=n,
        planned=planned,
        opex=opex,
        scale=scale,
        needed=needed,
        reachable=reachable,
        p_at_plan=p_plan,
        p_max=p_max,
        band=band,
        has_programme=has_prog,
        provenance=prov,
        _thresholds=thresholds,
    )


def _check_settings(
    portfolio: Portfolio, probability: object, draws: object, sampler: str, allow_large: bool
) -> int:
    """The number of draws, after checking the probability, draws and sampler."""
    if (
        isinstance(probability, bool)
        or not isinstance(probability, int | float)
        or not 0 < probability < 1
    ):
        raise SimulationError(
            f"probability must be between 0 and 1 (exclusive), got {probability!r}"
        )
    n = check_draws(draws, allow_large)
    if sampler not in SAMPLERS:
        raise SimulationError(f"unknown sampler {sampler!r} (known: {', '.join(SAMPLERS)})")
    n_t = len(portfolio.trusts)
    if n * n_t > MAX_VALUES:
        raise SimulationError(
            f"{n:,} draws x {n_t} trusts is more than the {MAX_VALUES:,} values the exact "
            "probability curve holds: use fewer draws"
        )
    return n


@dataclass(frozen=True)
class ThresholdJob:
    """What every chunk of the probability solve needs (sent to each worker once)."""

    ctx: SimulationContext
    target: NDArray[np.float64]  # (T,) first-year control total less the met tolerance
    has_programme: NDArray[np.bool_]  # (T,)


def threshold_chunk(job: ThresholdJob, start: int, count: int) -> NDArray[np.float64]:
    """(count, T) each draw's ``k*`` (the programme multiplier from which it meets the control
    total; for a trust without a programme, the notional CIP it needs [£000]) for draws
    ``start .. start + count - 1`` (a module-level function: runs on any worker)."""
    ctx, target = job.ctx, job.target
    _, proj = ctx.project_points(sample_points(ctx.sampler, start, count))
    surplus = proj.by_year(proj.surplus_pre_stf)[..., 0]
    cip = proj.by_year(proj.cip_total)[..., 0]
    base = surplus - cip  # the surplus with no programme
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(
            cip > 0,
            (target - base) / np.where(cip > 0, cip, 1.0),
            np.where(base >= target, -np.inf, np.inf),
        )
    # trusts without a programme: the notional, certain CIP needed [£000]
    return np.where(job.has_programme, k, target - surplus)


def _thresholds(
    job: ThresholdJob,
    n: int,
    chunk: int,
    workers: int | None,
    executor: Executor | None,
    client: Any,
) -> NDArray[np.float64]:
    """(T, n) every draw's threshold (:func:`threshold_chunk`), sorted per trust; the chunks
    computed where ``workers``, ``executor`` or ``client`` say."""
    threads = check_workers(workers, remote=executor is not None or client is not None)
    thresholds = np.empty((n, job.ctx.plan.n_trusts))
    chunks = ((s, min(chunk, n - s)) for s in range(0, n, chunk))
    with open_runner(threshold_chunk, job, workers=threads, executor=executor, client=client) as r:
        for start, count, k in r.map(chunks):
            thresholds[start : start + count] = k
    return np.sort(thresholds.T, axis=1)
