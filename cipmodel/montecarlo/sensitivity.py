"""What drives missing the control total: tornado, contribution to variance, Sobol' indices.

Computed after a simulation, per trust, on its first ``N`` kept draws (``N`` = the draws
kept exactly, at most :data:`SENSITIVITY_DRAWS`). The inputs of those draws are not stored
during the run: the sample streams are counter-based, so they are drawn again from the
seed (:meth:`InputModel.map` of the same sample points) at a fraction of the cost of the
run.

The inputs of trust ``t``: each active factor as the trust sees it (its common delivery
factor, activity, pay award, inflation, agency, A&E — national and own parts together),
each of its schemes' delivered share and each of its schemes' months of slippage.

For each input ``X`` and the trust's outputs:

``spearman``
    Spearman rank correlation of ``X`` with the year's pre-STF surplus minus the control
    total (the tornado: negative = the input lowers the surplus as it rises).
``contribution_to_variance``
    ``spearman**2`` normalised to sum to 1 over the trust's inputs (the usual spreadsheet
    tool approximation; it assumes effects add up).
``s1_*``
    First-order Sobol' index ``Var(E[Y | X]) / Var(Y)`` estimated from the given draws
    (no extra model runs): the draws are put into ``B`` equal-count bins of ``X`` and the
    variance of the bin means of ``Y`` is taken, with the bias ``(B - 1) / (N - 1)`` of
    that estimator removed (clipped to [0, 1]). Reported for the cliff-edge outputs: met
    the control total (0/1), STF/PSF earned and the overall SOF score, and for the
    surplus. With correlated inputs an index includes what the input carries of the
    inputs it is correlated with (e.g. every scheme of a trust shares its delivery
    factor). ``1 - sum(s1)`` of independent inputs is the share due to interactions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from scipy import stats

from cipmodel.montecarlo.context import SimulationContext
from cipmodel.montecarlo.priors import FACTORS
from cipmodel.montecarlo.summary import Collector
from cipmodel.results.run import MET_TOLERANCE

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["sensitivity", "first_order", "SENSITIVITY_DRAWS", "COLUMNS"]

SENSITIVITY_DRAWS = 20_000
_MAX_VALUES = 1 << 24  # inputs regenerated at once (draws x inputs)

COLUMNS = [
    "trust_code",
    "input",
    "kind",
    "scheme_id",
    "spearman",
    "contribution_to_variance",
    "s1_surplus",
    "s1_meet_control_total",
    "s1_stf_earned",
    "s1_overall_score",
    "draws",
]

_FACTOR_LABEL = {
    "delivery": "CIP delivery (trust common factor)",
    "activity_growth": "activity growth",
    "pay_award": "pay award",
    "non_pay_inflation": "non-pay inflation",
    "drug_inflation": "drug inflation",
    "agency": "agency spend",
    "ae": "A&E performance",
}


class Simulated(Protocol):
    """What the drivers table reads of a simulation
    (:class:`~cipmodel.montecarlo.result.SimulationResult` has both)."""

    @property
    def collector(self) -> Collector: ...

    @property
    def context(self) -> SimulationContext: ...


def _bins_for(n: int) -> int:
    return int(max(2, min(50, round(np.sqrt(n) / 2))))


def first_order(x_ranks: np.ndarray, y: np.ndarray, bins: int) -> np.ndarray:
    """First-order Sobol' indices of ``y`` for each column of ``x_ranks`` (N, P), from
    equal-count bins of the ranks, bias-corrected; NaN where ``y`` does not vary."""
    n, p = x_ranks.shape
    var = float(np.var(y))
    if n < 2 or var <= 0:
        return np.full(p, np.nan)
    b = np.minimum((((x_ranks - 0.5) / n) * bins).astype(np.int64), bins - 1)
    cells = (np.arange(p) * bins)[None, :] + b
    counts = np.bincount(cells.ravel(), minlength=p * bins).reshape(p, bins)
    sums = np.bincount(
        cells.ravel(), weights=np.broadcast_to(y[:, None], (n, p)).ravel(), minlength=p * bins
    )
    sums = sums.reshape(p, bins)
    mean = float(np.mean(y))
    with np.errstate(invalid="ignore", divide="ignore"):
        cond = np.where(counts > 0, sums / np.maximum(counts, 1), mean)
    raw = (counts * (cond - mean) ** 2).sum(axis=1) / (n * var)
    bias = (bins - 1) / (n - 1)
    return np.clip((raw - bias) / (1 - bias), 0.0, 1.0)


def _spearman(x_ranks: np.ndarray, y: np.ndarray) -> np.ndarray:
    ry = stats.rankdata(y)
    xc = x_ranks - x_ranks.mean(axis=0)
    yc = ry - ry.mean()
    den = np.sqrt((xc * xc).sum(axis=0) * (yc * yc).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(
            den > 0, (xc * yc[:, None]).sum(axis=0) / np.where(den > 0, den, 1.0), np.nan
        )


def sensitivity(result: Simulated, draws: int | None = None) -> pd.DataFrame:
    """The drivers table of a simulation (see the module docstring); one row per trust and
    input, sorted by the size of the rank correlation within each trust."""
    import pandas as pd

    col, ctx = result.collector, result.context
    im, plan = ctx.inputs, ctx.plan
    n_t = plan.n_trusts
    factors = [k for k, f in enumerate(FACTORS) if im.active[k]]
    width = n_t * len(factors) + im.random_schemes.size + im.slip_schemes.size
    n = min(col.n_kept, draws or SENSITIVITY_DRAWS, max(1, _MAX_VALUES // max(1, width)))
    if n < 20 or width == 0:
        return pd.DataFrame(columns=COLUMNS)

    fac = np.empty((n, n_t, len(factors)))
    dlv = np.empty((n, im.random_schemes.size))
    slp = np.empty((n, im.slip_schemes.size))
    step = max(1, min(n, _MAX_VALUES // max(1, im.n_dims)))
    for start in range(0, n, step):
        c = min(step, n - start)
        drawn = im.map(ctx.sampler.sample(start, c))
        fac[start : start + c] = drawn.factors[:, :, factors]
        dlv[start : start + c] = drawn.delivery[:, im.random_schemes]
        slp[start : start + c] = drawn.slip[:, im.slip_schemes]

    kept = col.kept
    variance = kept["variance"][:n, :, 0]
    met = (variance >= -MET_TOLERANCE).astype(float)
    stf = kept["stf_earned"][:n, :, 0]
    score = kept["score_q"][:n, :, 3].astype(float)
    bins = _bins_for(n)
    ids = plan.scheme_ids
    rows: list[dict[str, Any]] = []
    for t, code in enumerate(plan.codes):
        cols: list[np.ndarray] = []
        meta: list[tuple[str, str, str | None]] = []
        for j, k in enumerate(factors):
            cols.append(fac[:, t, j])
            meta.append((_FACTOR_LABEL[FACTORS[k]], "factor", None))
        for r in np.flatnonzero(plan.scheme_trust[im.random_schemes] == t):
            sid = ids[im.random_schemes[r]].split("/", 1)[1]
            cols.append(dlv[:, r])
            meta.append((f"{sid} delivered share", "delivery", sid))
        for r in np.flatnonzero(plan.scheme_trust[im.slip_schemes] == t):
            sid = ids[im.slip_schemes[r]].split("/", 1)[1]
            cols.append(slp[:, r])
            meta.append((f"{sid} slippage", "slip", sid))
        if not cols:
            continue
        x = np.column_stack(cols)
        ranks = stats.rankdata(x, axis=0)
        rho = _spearman(ranks, variance[:, t])
        r2 = np.nan_to_num(rho) ** 2
        contrib = r2 / r2.sum() if r2.sum() > 0 else np.full(r2.shape, np.nan)
        s1 = {
            "s1_surplus": first_order(ranks, variance[:, t], bins),
            "s1_meet_control_total": first_order(ranks, met[:, t], bins),
            "s1_stf_earned": first_order(ranks, stf[:, t], bins),
            "s1_overall_score": first_order(ranks, score[:, t], bins),
        }
        for j, (label, kind, sid) in enumerate(meta):
            rows.append(
                {
                    "trust_code": code,
                    "input": label,
                    "kind": kind,
                    "scheme_id": sid,
                    "spearman": rho[j],
                    "contribution_to_variance": contrib[j],
                    **{k: v[j] for k, v in s1.items()},
                    "draws": n,
                }
            )
    df = pd.DataFrame(rows, columns=COLUMNS)
    if df.empty:
        return df
    df["_abs"] = df["spearman"].abs().fillna(0.0)
    df = df.sort_values(["trust_code", "_abs"], ascending=[True, False], kind="stable")
    return df.drop(columns="_abs").reset_index(drop=True)
