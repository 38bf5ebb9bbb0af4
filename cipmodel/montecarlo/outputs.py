"""The per-draw outputs of a simulation: what is collected for every trust, and how a chunk of
draws produces them.

:data:`OUTPUTS` names every output with its kind and width;
:func:`draw_outputs` computes them from a chunk's projection and assessment (the same
engine and assessment as a plan run), and :func:`chunk_outputs` runs a chunk of sample
points through the model to them. :class:`~cipmodel.montecarlo.summary.Collector` folds
them into summaries.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from cipmodel.calendar import QUARTER_END_INDEX, cip_share
from cipmodel.engine.assess import Assessment
from cipmodel.engine.compile import LINES, PlanArrays
from cipmodel.engine.metrics import METRICS
from cipmodel.engine.project import Projection
from cipmodel.montecarlo.context import SimulationContext
from cipmodel.montecarlo.inputs import DrawnInputs
from cipmodel.montecarlo.summary import OutputSpec
from cipmodel.montecarlo.years import later_year_outputs
from cipmodel.regime.funding import ae_trajectory_met
from cipmodel.results.run import MET_TOLERANCE

__all__ = [
    "CHUNK_ELEMENTS",
    "per_draw_elements",
    "FLOAT_WIDTH",
    "OUTPUTS",
    "auto_chunk_size",
    "chunk_outputs",
    "draw_outputs",
]

CHUNK_ELEMENTS = 1 << 22  # working-set target per array of a chunk (elements)

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
    # added last: the columns of the outputs above (and every float summary) are unchanged
    "met_post_stf": OutputSpec("bool"),
}
#: Float values per draw and trust, over every float output.
FLOAT_WIDTH = sum(s.width for s in OUTPUTS.values() if s.kind == "float")


def per_draw_elements(plan: PlanArrays, n_dims: int) -> int:
    """Elements per draw of a chunk's largest per-draw array."""
    return max(
        n_dims,
        plan.n_trusts * len(LINES) * plan.n_months,
        2 * plan.n_schemes,
        plan.n_trusts * FLOAT_WIDTH,
        1,
    )


def auto_chunk_size(plan: PlanArrays, n_dims: int) -> int:
    """Draws per chunk: the largest per-draw array of a chunk kept near 32 MB.

    Small enough for NumPy's temporaries to be reused (large fresh arrays cost page faults),
    large enough that the fixed cost of a chunk (the assessment's Python work, ~5 ms, under
    the GIL) stays small: a power of 2 from 64 to 16,384 (one trust: 16,384; the national
    portfolio: 64). One trust, 2**20 draws: ~10% less CPU than chunks of 4,096 (the size
    before), and with two threads far less waiting on the GIL.
    """
    chunk = CHUNK_ELEMENTS // per_draw_elements(plan, n_dims)
    return int(min(max(64, 1 << max(0, chunk.bit_length() - 1)), 16_384))


def chunk_outputs(ctx: SimulationContext, u: NDArray[np.float64]) -> dict[str, NDArray[np.generic]]:
    """Everything a chunk of sample points contributes (runs in a worker thread)."""
    drawn, proj = ctx.project_points(u)
    a = ctx.assess(proj, drawn)
    out = draw_outputs(ctx, proj, a, drawn)
    if ctx.full is not None:  # a plan of several years: its later years too
        out.update(later_year_outputs(ctx, drawn, a, np.asarray(out["met_year"])))
    return out


def _nonrecurrent_cip(ctx: SimulationContext, proj: Projection) -> NDArray[np.float64]:
    """(c, T) year-1 CIP the non-recurrent schemes of each trust deliver [£000]."""
    plan, nr = ctx.plan, ctx.nonrecurrent
    n_c, n_t = proj.n_draws, plan.n_trusts
    if not nr.size:
        return np.zeros((n_c, n_t))
    rows = (np.arange(n_c)[:, None] * n_t + plan.scheme_trust[nr][None, :]).ravel()
    cip_nr = np.bincount(
        rows, weights=proj.cip_of_schemes(nr)[:, :, 0].ravel(), minlength=n_c * n_t
    )
    return cip_nr.reshape(n_c, n_t).astype(np.float64, copy=False)


def draw_outputs(
    ctx: SimulationContext, proj: Projection, a: Assessment, drawn: DrawnInputs
) -> dict[str, NDArray[np.generic]]:
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
    mv, sc = a.full_year_metrics, a.full_year_score
    ae = (
        drawn.ae_met
        if drawn.ae_met is not None
        else ae_trajectory_met(plan.ae_forecast, plan.ae_trajectory)[None]
    )
    reported = a.reported_surplus_ytd[..., 3]
    with np.errstate(invalid="ignore"):
        met_post = reported - (target + plan.year_allocation(1)) >= -MET_TOLERANCE
    return {
        "surplus_pre_stf": surplus,
        "variance": variance,
        "reported_surplus": reported,
        "stf_earned": f.total_earned,
        "stf_lost": f.forfeited,
        "stf_earned_q": f.earned,
        "stf_lost_q": f.lost,
        "ytd_variance_q": ytd_var[..., _Q_IDX],
        "ytd_surplus": proj.surplus_ytd[:, :, 0, :],
        "cip_delivered": cip,
        "cip_delivered_pct": cip_share(cip, opex_dn),
        "cip_nonrecurrent": _nonrecurrent_cip(ctx, proj),
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
        "met_post_stf": met_post,
    }
