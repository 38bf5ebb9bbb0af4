"""Monte Carlo simulation of a plan: probabilities, percentiles and funding at risk.

:func:`simulate` draws the uncertain inputs (:mod:`cipmodel.montecarlo.priors`) on the unit
hypercube (:mod:`cipmodel.montecarlo.samplers`), maps them to the engine's draws
(:mod:`cipmodel.montecarlo.inputs`), and runs **the same engine and assessment as a plan
run** (:func:`cipmodel.engine.project` on arrays ``(draw, trust, month)``, then
:func:`cipmodel.engine.assess.assess`) on chunks of draws, folding each chunk into mergeable
summaries (:mod:`cipmodel.montecarlo.summary`). There is no per-draw Python loop.

What is simulated: the first plan year (the year STF/PSF and the SOF score are assessed
for), month by month. Memory is bounded by the chunk size, chosen from the portfolio's
size (trusts x lines x months, schemes, sample dimensions) unless given, whatever the
number of draws.

Reproducibility: the same inputs, seed and settings give bit-identical results whatever the
chunk size, because (1) every draw's sample point depends only on the seed and the draw's
index (counter-based streams), (2) the engine computes every draw by the same operations
whatever the batch, and (3) the summaries are merged in fixed blocks of draws. The seed,
sampler, draw count and chunk size are recorded in the provenance.

With ``priors="none"`` (or :meth:`Priors.none`) nothing is uncertain and every draw
reproduces the plan run exactly.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cipmodel.calendar import QUARTER_END_INDEX, QUARTERS, cip_share
from cipmodel.engine.assess import Assessment, assess, default_funding_pack
from cipmodel.engine.metrics import METRICS
from cipmodel.engine.project import LINES, PlanArrays, Projection, project
from cipmodel.formatting import json_float as _f
from cipmodel.inputs.records import Portfolio
from cipmodel.montecarlo.inputs import DrawnInputs, InputModel
from cipmodel.montecarlo.priors import DEFAULT_PRIORS, Priors, SimulationError, load_priors
from cipmodel.montecarlo.samplers import SAMPLERS, Sampler, make_sampler
from cipmodel.montecarlo.streams import SeedLike, as_seed_sequence, resolve_seed, seed_record
from cipmodel.montecarlo.summary import PERCENTILES, Collector, OutputSpec
from cipmodel.regime.funding import ae_trajectory_met
from cipmodel.regime.packs import RulePack, load_pack
from cipmodel.regime.score import sof_pack
from cipmodel.regime.segmentation import segmentation_pack
from cipmodel.results.run import MET_TOLERANCE, RunResult, run_plan

__all__ = [
    "simulate",
    "SimulationResult",
    "OUTPUTS",
    "MAX_DRAWS",
    "DEFAULT_DRAWS",
    "DEFAULT_SAMPLER",
    "auto_chunk_size",
]

MAX_DRAWS = 10_000_000  # refused above this without allow_large (CLI --allow-large)
DEFAULT_DRAWS = 16_384  # 2**14: balanced for Sobol'
DEFAULT_SAMPLER = "sobol"
KEEP_VALUES = 1 << 24  # float values of per-draw outputs kept exactly (128 MB)
CHUNK_ELEMENTS = 1 << 20  # working-set target per array of a chunk (elements)
CHECK_FIRST = 1024  # convergence is checked after 1024, 2048, 4096, ... draws
Z_95 = 1.959963984540054

_Q_IDX = list(QUARTER_END_INDEX)

#: Per-draw outputs collected for every trust.
OUTPUTS: dict[str, OutputSpec] = {
    "surplus_pre_stf": OutputSpec("float"),
    "variance": OutputSpec("float"),
    "reported_surplus": OutputSpec("float"),
    "stf_earned": OutputSpec("float"),
    "stf_lost": OutputSpec("float"),
    "stf_earned_q": OutputSpec("float", 4),
    "stf_lost_q": OutputSpec("float", 4),
    "ytd_variance_q": OutputSpec("float", 4),
    "ytd_surplus": OutputSpec("float", 12),
    "cip_delivered": OutputSpec("float"),
    "cip_delivered_pct": OutputSpec("float", may_be_nan=True),
    "cip_nonrecurrent": OutputSpec("float"),
    "agency": OutputSpec("float"),
    "metrics": OutputSpec("float", len(METRICS), may_be_nan=True),
    "met_year": OutputSpec("bool"),
    "met_q": OutputSpec("bool", 4),
    "gate_met_q": OutputSpec("bool", 4),
    "ae_met_q": OutputSpec("bool", 4),
    "trigger": OutputSpec("bool"),
    "score_q": OutputSpec("category", 4),
    "metric_scores": OutputSpec("category", len(METRICS)),
    "segment": OutputSpec("category"),
}
_FLOAT_WIDTH = sum(s.width for s in OUTPUTS.values() if s.kind == "float")


def auto_chunk_size(plan: PlanArrays, n_dims: int) -> int:
    """Draws per chunk: the largest per-draw array of a chunk kept near 8 MB.

    Small enough for NumPy's temporaries to be reused (large fresh arrays cost page faults),
    large enough that the fixed cost of a chunk (the assessment's Python work, ~5 ms) stays
    small: a power of 2 from 64 to 8,192 (one trust: 4,096; the national portfolio: 64).
    """
    per_draw = max(
        n_dims,
        plan.n_trusts * len(LINES) * plan.n_months,
        2 * plan.n_schemes,
        plan.n_trusts * _FLOAT_WIDTH,
        1,
    )
    chunk = CHUNK_ELEMENTS // per_draw
    return int(min(max(64, 1 << max(0, chunk.bit_length() - 1)), 8_192))


@dataclass
class _Context:
    """Everything a chunk needs, built once per simulation."""

    plan: PlanArrays
    planned: Projection
    inputs: InputModel
    sampler: Sampler
    packs: dict[str, Any]
    catch_up: bool | None
    bonus: bool
    nonrecurrent: np.ndarray
    sampler_seed: np.random.SeedSequence | None = None

    def projection(
        self, start: int, count: int, cip_scale: Any = None
    ) -> tuple[DrawnInputs, Projection]:
        return self.project_points(self.sampler.sample(start, count), cip_scale)

    def project_points(
        self, u: np.ndarray, cip_scale: Any = None
    ) -> tuple[DrawnInputs, Projection]:
        drawn = self.inputs.map(u)
        draws = drawn.draws
        if cip_scale is not None:
            from dataclasses import replace

            draws = replace(draws, cip_scale=cip_scale)
        return drawn, project(self.plan, draws)

    def assess(self, proj: Projection, drawn: DrawnInputs) -> Assessment:
        return assess(
            proj,
            self.planned,
            funding_rules=self.packs["funding"],
            sof_rules=self.packs["sof"],
            segmentation_rules=self.packs["segmentation"],
            catch_up=self.catch_up,
            bonus=self.bonus,
            ae_met=drawn.ae_met,
        )


def _chunk_outputs(ctx: _Context, u: np.ndarray) -> dict[str, np.ndarray]:
    """Everything a chunk of sample points contributes (runs in a worker thread)."""
    drawn, proj = ctx.project_points(u)
    return _outputs(ctx, proj, ctx.assess(proj, drawn), drawn)


def _outputs(
    ctx: _Context, proj: Projection, a: Assessment, drawn: DrawnInputs
) -> dict[str, np.ndarray]:
    """The per-draw outputs of one chunk, each (c, T) or (c, T, width)."""
    plan = ctx.plan
    n_c, n_t = proj.n_draws, plan.n_trusts
    surplus = proj.by_year(proj.surplus_pre_stf)[..., 0]  # as run: the year's sum
    target = plan.ct_target[:, 0]
    variance = surplus - target
    ytd_var = proj.ytd_variance()[:, :, 0, :]
    f = a.funding
    cip = proj.by_year(proj.cip_total)[..., 0]
    opex_dn = proj.by_year(proj.operating_expenditure_do_nothing)[..., 0]
    cip_pct = cip_share(cip, opex_dn)
    nr = ctx.nonrecurrent
    if nr.size:
        rows = (np.arange(n_c)[:, None] * n_t + plan.scheme_trust[nr][None, :]).ravel()
        cip_nr = np.bincount(
            rows, weights=proj.cip_of_schemes(nr)[:, :, 0].ravel(), minlength=n_c * n_t
        )
        cip_nr = cip_nr.reshape(n_c, n_t)
    else:
        cip_nr = np.zeros((n_c, n_t))
    mv, sc = a.full_year_metrics, a.full_year_score
    ae = (
        drawn.ae_met
        if drawn.ae_met is not None
        else ae_trajectory_met(plan.ae_forecast, plan.ae_trajectory)[None]
    )
    return {
        "surplus_pre_stf": surplus,
        "variance": variance,
        "reported_surplus": a.reported_surplus_ytd[..., 3],
        "stf_earned": f.total_earned,
        "stf_lost": f.forfeited,
        "stf_earned_q": f.earned,
        "stf_lost_q": f.lost,
        "ytd_variance_q": ytd_var[..., _Q_IDX],
        "ytd_surplus": proj.ytd(proj.surplus_pre_stf)[:, :, 0, :],
        "cip_delivered": cip,
        "cip_delivered_pct": cip_pct,
        "cip_nonrecurrent": cip_nr,
        "agency": proj.by_year(proj.agency)[..., 0],
        "metrics": np.stack([mv.values[m] for m in METRICS], axis=-1),
        "met_year": variance >= -MET_TOLERANCE,
        "met_q": ytd_var[..., _Q_IDX] >= -MET_TOLERANCE,
        "gate_met_q": f.met_quarter,
        "ae_met_q": np.broadcast_to(ae, (n_c, n_t, 4)),
        "trigger": a.trigger,
        "score_q": np.stack([np.asarray(s.overall) for s in a.scores], axis=-1),
        "metric_scores": np.stack([np.asarray(sc.metric_scores[m]) for m in METRICS], axis=-1),
        "segment": np.asarray(a.segment.segment),
    }


def _check_draws(draws: int, allow_large: bool) -> int:
    if isinstance(draws, bool) or not isinstance(draws, int | np.integer) or draws < 1:
        raise SimulationError(f"draws must be a whole number >= 1, got {draws!r}")
    if draws > MAX_DRAWS and not allow_large:
        raise SimulationError(
            f"{draws:,} draws is more than the {MAX_DRAWS:,} allowed without allow_large=True "
            "(--allow-large): the run would take very long"
        )
    return int(draws)


def _resolve_packs(portfolio: Portfolio, funding_rules: Any, sof_rules: Any) -> dict[str, Any]:
    if funding_rules is None:
        funding_rules = default_funding_pack({t.financial_year for t in portfolio.trusts})
    fpack = (
        funding_rules
        if isinstance(funding_rules, RulePack)
        else load_pack(funding_rules, kind="funding")
    )
    return {
        "funding": fpack,
        "sof": sof_pack(sof_rules),
        "segmentation": segmentation_pack("segmentation-2016"),
    }


def _context(
    run: RunResult,
    priors: Priors,
    sampler: str,
    seed: SeedLike,
    total: int,
    packs: dict[str, Any],
    catch_up: bool | None,
    bonus: bool,
) -> _Context:
    plan = run.plan.truncate(1)
    im = InputModel(plan, priors)
    sam = make_sampler(sampler, im.n_dims, seed=seed, total=total)
    nonrec = np.flatnonzero(~plan.scheme_recurrent)
    return _Context(
        plan=plan,
        planned=project(plan),
        inputs=im,
        sampler=sam,
        packs=packs,
        catch_up=catch_up,
        bonus=bonus,
        nonrecurrent=nonrec,
    )


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
    progress: Callable[[int, int], None] | None = None,
    **provenance_extra: Any,
) -> SimulationResult:
    """Simulate a portfolio's first plan year and summarise the draws.

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
        depend on it; memory grows with it.
    progress : callable(done, total), optional
        Called after each chunk.
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
    n = _check_draws(draws, allow_large)
    if sampler not in SAMPLERS:
        raise SimulationError(f"unknown sampler {sampler!r} (known: {', '.join(SAMPLERS)})")
    if tolerance is not None and not (0 < tolerance < 0.5):
        raise SimulationError(f"tolerance must be between 0 and 0.5, got {tolerance}")
    if chunk_size is not None and (isinstance(chunk_size, bool) or int(chunk_size) < 1):
        raise SimulationError(f"chunk_size must be >= 1, got {chunk_size}")
    if keep is not None and (isinstance(keep, bool) or int(keep) < 100):
        raise SimulationError(f"keep must be at least 100 draws, got {keep!r}")
    seed = resolve_seed(seed)
    ss = as_seed_sequence(seed)
    pri = load_priors(priors)
    packs = _resolve_packs(portfolio, funding_rules, sof_rules)
    run = run_plan(
        portfolio,
        funding_rules=packs["funding"],
        sof_rules=packs["sof"],
        catch_up=catch_up,
        bonus=bonus,
        **provenance_extra,
    )
    ctx = _context(run, pri, sampler, ss, n, packs, catch_up, bonus)
    plan = ctx.plan
    chunk = int(chunk_size) if chunk_size is not None else auto_chunk_size(plan, ctx.inputs.n_dims)
    if keep is None:
        keep = max(1024, KEEP_VALUES // max(1, plan.n_trusts * _FLOAT_WIDTH))
    col = Collector(OUTPUTS, plan.n_trusts, min(int(keep), n))

    workers = _check_workers(workers)
    start, converged = _run_chunks(ctx, col, n, chunk, tolerance, workers, progress)
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
            "rules": sorted({*run.provenance.get("rules", []), pri.name}),
            "unverified": unverified,
        }
    )
    return SimulationResult(
        run=run, context=ctx, collector=col, priors=pri, seed=seed, provenance=prov
    )


def _check_workers(workers: int | None) -> int:
    if workers is None:
        return 1
    if isinstance(workers, bool) or int(workers) < 1:
        raise SimulationError(f"workers must be >= 1, got {workers!r}")
    return int(workers)


def _run_chunks(
    ctx: _Context,
    col: Collector,
    n: int,
    chunk: int,
    tolerance: float | None,
    workers: int,
    progress: Callable[[int, int], None] | None,
) -> tuple[int, int | None]:
    """Stream draws 0..n-1 through the model in chunks; return (draws done, converged at).

    Sample points are drawn in the main thread, in order; chunks are computed by up to
    ``workers`` threads and folded into the collector in draw order, so the result is the
    same for any number of workers. With a tolerance, chunks end at the check points and
    everything in flight is folded in before each check.
    """
    pending: deque[tuple[int, Future[dict[str, np.ndarray]] | dict[str, np.ndarray]]] = deque()
    done = 0

    def fold(block: bool) -> None:
        nonlocal done
        while pending and (block or len(pending) >= workers):
            stop, item = pending.popleft()
            col.add(item.result() if isinstance(item, Future) else item)
            done = stop
            if progress is not None:
                progress(done, n)

    start, next_check = 0, CHECK_FIRST
    pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None
    try:
        while start < n:
            stop = min(start + chunk, n)
            if tolerance is not None:
                stop = min(stop, next_check)
            u = ctx.sampler.sample(start, stop - start)
            if pool is None:
                pending.append((stop, _chunk_outputs(ctx, u)))
            else:
                pending.append((stop, pool.submit(_chunk_outputs, ctx, u)))
            start = stop
            at_check = tolerance is not None and start == next_check
            fold(block=at_check or pool is None)
            if at_check:
                if _half_width(col) <= tolerance:  # type: ignore[operator]
                    return done, done
                next_check *= 2
        fold(block=True)
    finally:
        if pool is not None:
            for _, item in pending:
                if isinstance(item, Future):
                    item.cancel()
            pool.shutdown(wait=True)
    return done, None


def _half_width(col: Collector) -> float:
    """Largest 95% half-width of P(meet the control total) over trusts (Agresti-Coull)."""
    x = col.counts["met_year"][:, 0]
    n = col.n
    p = (x + 2.0) / (n + 4.0)
    return float(np.max(Z_95 * np.sqrt(p * (1 - p) / (n + 4.0))))


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """The answers of a simulation, as tidy DataFrames and the ``simulate --json`` contract.

    Attributes
    ----------
    run : RunResult
        The plan run (planned values): the deterministic answers.
    collector : Collector
        The merged summaries and the kept per-draw outputs.
    priors : Priors
    seed : int or SeedSequence
        The seed used (a fresh one was picked if none was given).
    provenance : dict
        The run's provenance plus seed, sampler, draws, chunk size, priors.
    """

    run: RunResult
    context: _Context = field(repr=False)
    collector: Collector = field(repr=False)
    priors: Priors
    seed: Any
    provenance: dict[str, Any]

    @property
    def n_draws(self) -> int:
        return self.collector.n

    @property
    def codes(self) -> tuple[str, ...]:
        return self.run.plan.codes

    def se(self, p: np.ndarray) -> np.ndarray:
        """Monte Carlo standard error of a probability (binomial; conservative for QMC)."""
        return np.sqrt(p * (1 - p) / max(self.n_draws, 1))

    # -- tidy tables ------------------------------------------------------------------
    def probabilities(self) -> pd.DataFrame:
        """One row per trust, measure and period: probability and its standard error."""
        c = self.collector
        rows = []
        measures = [
            ("meet_control_total", "year", c.probability("met_year")[:, 0]),
            *[
                ("meet_control_total", f"{q.upper()} YTD", c.probability("met_q")[:, i])
                for i, q in enumerate(QUARTERS)
            ],
            *[
                ("funding_gate", q.upper(), c.probability("gate_met_q")[:, i])
                for i, q in enumerate(QUARTERS)
            ],
            *[
                ("ae_trajectory_met", q.upper(), c.probability("ae_met_q")[:, i])
                for i, q in enumerate(QUARTERS)
            ],
            ("finance_trigger", "year", c.probability("trigger")[:, 0]),
        ]
        for i, code in enumerate(self.codes):
            for measure, period, p in measures:
                rows.append(
                    {
                        "trust_code": code,
                        "measure": measure,
                        "period": period,
                        "probability": float(p[i]),
                        "se": float(self.se(p[i])),
                    }
                )
        return pd.DataFrame(rows)

    def _pct_rows(self, name: str, labels: list[str]) -> list[dict[str, Any]]:
        c = self.collector
        pct = c.percentiles(name)
        mean, sd = c.mean(name), c.std(name)
        rows = []
        for i, code in enumerate(self.codes):
            for j, label in enumerate(labels):
                row = {
                    "trust_code": code,
                    "output": label,
                    "mean": mean[i, j],
                    "sd": sd[i, j],
                    "min": c.min[name][i, j],
                }
                for k, q in enumerate(PERCENTILES):
                    row[f"p{q}"] = pct[k, i, j]
                row["max"] = c.max[name][i, j]
                rows.append(row)
        return rows

    def percentiles(self) -> pd.DataFrame:
        """One row per trust and output: mean, sd, min, P5..P95, max (£000 or fractions)."""
        rows = []
        for name in (
            "surplus_pre_stf",
            "variance",
            "reported_surplus",
            "stf_earned",
            "stf_lost",
            "cip_delivered",
            "cip_delivered_pct",
            "cip_nonrecurrent",
            "agency",
        ):
            rows += self._pct_rows(name, [name])
        rows += self._pct_rows("ytd_variance_q", [f"ytd_variance_{q}" for q in QUARTERS])
        rows += self._pct_rows("stf_earned_q", [f"stf_earned_{q}" for q in QUARTERS])
        rows += self._pct_rows("metrics", list(METRICS))
        return pd.DataFrame(rows)

    def fan_chart(self) -> pd.DataFrame:
        """Monthly fan chart data: YTD pre-STF surplus percentiles against the YTD control total."""
        c = self.collector
        pct = c.percentiles("ytd_surplus")
        mean = c.mean("ytd_surplus")
        ct = np.cumsum(self.context.plan.ct_month[:, 0], axis=-1)
        rows = []
        for i, code in enumerate(self.codes):
            for m in range(12):
                row = {
                    "trust_code": code,
                    "month": m + 1,
                    "ytd_control_total": ct[i, m],
                    "mean": mean[i, m],
                }
                for k, q in enumerate(PERCENTILES):
                    row[f"p{q}"] = pct[k, i, m]
                rows.append(row)
        return pd.DataFrame(rows)

    def funding(self) -> pd.DataFrame:
        """One row per trust and quarter: STF/PSF available, expected earned and lost, spread."""
        c = self.collector
        f = self.run.assessment.funding
        earned, lost = c.mean("stf_earned_q"), c.mean("stf_lost_q")
        pct = c.percentiles("stf_earned_q")
        gate = c.probability("gate_met_q")
        rows = []
        for i, code in enumerate(self.codes):
            for q in range(4):
                row = {
                    "trust_code": code,
                    "quarter": QUARTERS[q].upper(),
                    "available": f.available[0, i, q],
                    "p_gate_met": gate[i, q],
                    "expected_earned": earned[i, q],
                    "expected_lost": lost[i, q],
                }
                for k, pq in enumerate(PERCENTILES):
                    row[f"earned_p{pq}"] = pct[k, i, q]
                rows.append(row)
        return pd.DataFrame(rows)

    def scores(self) -> pd.DataFrame:
        """P(score = 1..4) of each metric (full year) and of the overall score by quarter."""
        c = self.collector
        ms, sq = c.distribution("metric_scores"), c.distribution("score_q")
        seg = c.distribution("segment")[:, 0]
        rows = []
        for i, code in enumerate(self.codes):
            for j, m in enumerate(METRICS):
                rows.append(
                    {
                        "trust_code": code,
                        "metric": m,
                        "period": "full year",
                        **{f"p_{k}": ms[i, j, k] for k in range(1, 5)},
                        "p_not_applicable": ms[i, j, 0],
                    }
                )
            for q in range(4):
                rows.append(
                    {
                        "trust_code": code,
                        "metric": "overall",
                        "period": "full year" if q == 3 else f"Q{q + 1} YTD",
                        **{f"p_{k}": sq[i, q, k] for k in range(1, 5)},
                        "p_not_applicable": 0.0,
                    }
                )
            rows.append(
                {
                    "trust_code": code,
                    "metric": "candidate_segment",
                    "period": "full year",
                    **{f"p_{k}": seg[i, k] for k in range(1, 5)},
                    "p_not_applicable": 0.0,
                }
            )
        return pd.DataFrame(rows)

    def per_draw(self) -> pd.DataFrame:
        """The kept draws (the first ``collector.n_kept``): one row per draw and trust."""
        c = self.collector
        n = c.n_kept
        t = len(self.codes)
        out = {
            "draw": np.repeat(np.arange(n), t),
            "trust_code": np.tile(np.array(self.codes, dtype=object), n),
        }
        for name in (
            "surplus_pre_stf",
            "variance",
            "reported_surplus",
            "stf_earned",
            "stf_lost",
            "cip_delivered",
            "cip_delivered_pct",
            "agency",
        ):
            out[name] = c.kept[name][:n, :, 0].ravel()
        out["met_control_total"] = c.kept["met_year"][:n, :, 0].ravel()
        out["overall_score"] = c.kept["score_q"][:n, :, 3].ravel().astype(int)
        out["finance_trigger"] = c.kept["trigger"][:n, :, 0].ravel()
        return pd.DataFrame(out)

    def summary(self) -> pd.DataFrame:
        """One row per trust: the key numbers of the simulation next to the plan run."""
        c = self.collector
        pm = c.probability("met_year")[:, 0]
        pq, gate = c.probability("met_q"), c.probability("gate_met_q")
        pct = c.percentiles("surplus_pre_stf")[:, :, 0]
        s = self.run.solved
        plan_surplus = self.run.trust_summary().query("year == 1").surplus_pre_stf.to_numpy()
        rows = []
        for i, code in enumerate(self.codes):
            rows.append(
                {
                    "trust_code": code,
                    "draws": c.n,
                    "p_meet_control_total": pm[i],
                    "se": float(self.se(pm[i])),
                    **{f"p_meet_ytd_{q}": pq[i, k] for k, q in enumerate(QUARTERS)},
                    **{f"p_funding_gate_{q}": gate[i, k] for k, q in enumerate(QUARTERS)},
                    "control_total_pre_stf": self.context.plan.ct_target[i, 0],
                    "plan_surplus_pre_stf": plan_surplus[i],
                    "mean_surplus_pre_stf": c.mean("surplus_pre_stf")[i, 0],
                    "p5_surplus_pre_stf": pct[0, i],
                    "p50_surplus_pre_stf": pct[3, i],
                    "p95_surplus_pre_stf": pct[6, i],
                    "stf_allocation": self.run.assessment.funding.allocation[i],
                    "expected_stf_earned": c.mean("stf_earned")[i, 0],
                    "expected_stf_lost": c.mean("stf_lost")[i, 0],
                    "cip_planned": s.planned[i],
                    "expected_cip_delivered": c.mean("cip_delivered")[i, 0],
                    "p_finance_trigger": c.probability("trigger")[i, 0],
                    **{f"p_score_{k}": c.distribution("score_q")[i, 3, k] for k in range(1, 5)},
                }
            )
        return pd.DataFrame(rows)

    @cached_property
    def _sensitivity(self) -> pd.DataFrame:
        from cipmodel.montecarlo.sensitivity import sensitivity

        return sensitivity(self)

    def sensitivity(self) -> pd.DataFrame:
        """What drives missing the control total: rank correlations, contribution to
        variance and first-order Sobol' indices (see :mod:`cipmodel.montecarlo.sensitivity`)."""
        return self._sensitivity

    def sheets(self) -> dict[str, pd.DataFrame]:
        """Result sheets for a results workbook: the plan run's plus the simulation's
        (``Simulation``: one row per trust; then percentiles, scores, funding by quarter,
        the monthly fan chart and the drivers)."""
        r = self.run
        return {
            "Summary": r.trust_summary(),
            "Monthly": r.monthly(),
            "STF by quarter": r.funding(),
            "Metrics": r.metrics(),
            "Lines": r.lines(),
            "Schemes": r.schemes(),
            **self.simulation_sheets(),
        }

    def simulation_sheets(self) -> dict[str, pd.DataFrame]:
        """The simulation's own sheets (``Simulation`` and the ``Simulation ...`` tables)."""
        return {
            "Simulation": self.summary(),
            "Simulation percentiles": self.percentiles(),
            "Simulation scores": self.scores(),
            "Simulation funding": self.funding(),
            "Simulation fan chart": self.fan_chart(),
            "Simulation drivers": self.sensitivity(),
        }

    # -- JSON -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """``run --json`` plus, per trust, ``probability``, ``percentiles`` and
        ``funding_expected``; provenance adds the seed, sampler and draws."""
        d = self.run.to_dict()
        c = self.collector
        pm = c.probability("met_year")[:, 0]
        pq = c.probability("met_q")
        gate = c.probability("gate_met_q")
        ae = c.probability("ae_met_q")
        trig = c.probability("trigger")[:, 0]
        sq = c.distribution("score_q")
        ms = c.distribution("metric_scores")
        seg = c.distribution("segment")[:, 0]
        earned, lost = c.mean("stf_earned_q"), c.mean("stf_lost_q")
        earned_pct = c.percentiles("stf_earned_q")
        year_earned, year_lost = c.mean("stf_earned"), c.mean("stf_lost")

        def dist(row: np.ndarray, na: bool = False) -> dict[str, float | None]:
            out = {str(k): _f(row[k]) for k in range(1, 5)}
            if na:
                out["not_applicable"] = _f(row[0])
            return out

        cache: dict[str, tuple[np.ndarray, ...]] = {}

        def pcts(name: str, i: int, j: int = 0) -> dict[str, float | None]:
            if name not in cache:  # every trust's numbers at once, once per output
                cache[name] = (
                    c.percentiles(name),
                    c.mean(name),
                    c.std(name),
                    c.min[name],
                    c.max[name],
                )
            p, mean, sd, mn, mx = cache[name]
            out = {"mean": _f(mean[i, j]), "sd": _f(sd[i, j]), "min": _f(mn[i, j])}
            out.update({f"p{q}": _f(p[k, i, j]) for k, q in enumerate(PERCENTILES)})
            out["max"] = _f(mx[i, j])
            return out

        for i, t in enumerate(d["trusts"]):
            t["probability"] = {
                "meet_control_total": _f(pm[i]),
                "meet_control_total_se": _f(self.se(pm[i])),
                "quarters": {q: _f(pq[i, k]) for k, q in enumerate(QUARTERS)},
                "funding_gate": {q: _f(gate[i, k]) for k, q in enumerate(QUARTERS)},
                "ae_trajectory_met": {q: _f(ae[i, k]) for k, q in enumerate(QUARTERS)},
                "finance_trigger": _f(trig[i]),
                "score": {
                    "overall": dist(sq[i, 3]),
                    "by_quarter": {q: dist(sq[i, k]) for k, q in enumerate(QUARTERS)},
                    "metrics": {m: dist(ms[i, j], na=True) for j, m in enumerate(METRICS)},
                },
                "candidate_segment": dist(seg[i]),
            }
            t["percentiles"] = {
                **{
                    name: pcts(name, i)
                    for name in (
                        "surplus_pre_stf",
                        "variance",
                        "reported_surplus",
                        "stf_earned",
                        "stf_lost",
                        "cip_delivered",
                        "cip_delivered_pct",
                        "agency",
                    )
                },
                "ytd_variance": {q: pcts("ytd_variance_q", i, k) for k, q in enumerate(QUARTERS)},
                "metrics": {m: pcts("metrics", i, j) for j, m in enumerate(METRICS)},
            }
            t["funding_expected"] = {
                q: {
                    "earned": _f(earned[i, k]),
                    "lost": _f(lost[i, k]),
                    **{
                        f"earned_p{pq_}": _f(earned_pct[n, i, k])
                        for n, pq_ in enumerate(PERCENTILES)
                    },
                }
                for k, q in enumerate(QUARTERS)
            }
            t["funding_expected"]["year"] = {
                "earned": _f(year_earned[i, 0]),
                "lost": _f(year_lost[i, 0]),
            }
        d["provenance"] = self.provenance
        return d
