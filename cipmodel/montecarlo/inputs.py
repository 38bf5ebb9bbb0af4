"""From points on the unit hypercube to the engine's :class:`~cipmodel.engine.project.Draws`.

:class:`InputModel` fixes, for one compiled plan and one :class:`~cipmodel.montecarlo.priors.
Priors`, which coordinate of a sample point drives what (the *layout*), then maps a chunk of
points ``u`` (draws x dimensions, strictly inside (0, 1)) through inverse CDFs:

=================  =====================  ====================================================
block              dimensions             becomes
=================  =====================  ====================================================
national           one per factor with    ``N = L_nat z``, z = ndtri(u): national normals,
                   a national part        correlated by the factors' matrix (Cholesky ``L``)
trust              trusts x factors with  ``E = L_trust z`` per trust; the trust's factors
                   a trust part           ``F = sqrt(w) N + sqrt(1 - w) E``
delivery           schemes with an        ``Phi^-1`` of the scheme's share distribution at
                   uncertain share        ``sqrt(rho) F_delivery + sqrt(1 - rho) ndtri(u)``
slip               schemes whose stage    months late: the smallest ``k`` with
                   can slip               ``u <= P(slip <= k)``
ae                 trusts with A&E x 4    performance = forecast + bias + sd (sqrt(c) F_ae +
                   quarters               sqrt(1 - c) ndtri(u)); met if >= trajectory
=================  =====================  ====================================================

Only coordinates that can change a result are laid out, in that order (national first, so
a Sobol' design spends its best coordinates on the shocks shared by every trust).

The delivered share is computed as ``G(z) = F^-1(Phi(z))`` by linear interpolation in a
table of the exact inverse CDF (SciPy) at 8,193 points of ``z`` in [-8.5, 8.5]: a
table lookup is ~50 times faster than ``scipy.stats.beta.ppf``, the result is always inside
the distribution's [min, max] (a convex combination of two exact quantiles), and the
interpolation error is below 1e-6 (tested). A latent ``|z| > 8.5`` (probability below
2e-17) takes the value at the end of the table. Bernoulli shares are exact (a threshold on
``z``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import special

from cipmodel.engine.compile import AGENCY, DRIVERS, LINES, RAGS, STAGES, PlanArrays
from cipmodel.engine.project import Draws
from cipmodel.montecarlo.distributions import ShareDist, SimulationError, share_table
from cipmodel.montecarlo.priors import DRIVER_FACTORS, FACTORS, Priors
from cipmodel.regime.funding import ae_trajectory_met

__all__ = ["InputModel", "DrawnInputs", "Z_MAX", "TABLE_NODES"]

Z_MAX = 8.5
TABLE_NODES = 8193
_K = {f: i for i, f in enumerate(FACTORS)}
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class DrawnInputs:
    """The inputs of one chunk of draws.

    Attributes
    ----------
    draws : Draws
        What the engine varies (delivery, slip, driver shift, agency factor).
    ae_met : ndarray (c, T, 4) of bool, or None
        A&E trajectory met each quarter (None: as the plan forecasts).
    factors : ndarray (c, T, K)
        Each trust's factor values ``F`` (standard normal; 0 where a factor is off).
    delivery : ndarray (c, S)
        Delivered share of every scheme.
    slip : ndarray (c, S) int
        Months late of every scheme.
    """

    draws: Draws
    ae_met: NDArray[np.bool_] | None
    factors: FloatArray
    delivery: FloatArray
    slip: NDArray[np.int64]


def _lower_solve(z: FloatArray, chol: FloatArray) -> FloatArray:
    """``z @ chol.T`` along the last axis, summed term by term in a fixed order.

    (No BLAS: every draw is computed by the same operations whatever the chunk size.)
    """
    out = np.empty_like(z)
    for i in range(chol.shape[0]):
        acc = z[..., 0] * chol[i, 0]
        for j in range(1, i + 1):
            acc = acc + z[..., j] * chol[i, j]
        out[..., i] = acc
    return out


class InputModel:
    """The layout and the mapping of sample points to inputs for one plan and priors.

    Parameters
    ----------
    plan : PlanArrays
        The compiled (usually first-year) plan.
    priors : Priors

    Attributes
    ----------
    n_dims : int
        Coordinates per draw.
    blocks : dict of str -> slice
        Where each block sits in a sample point.
    """

    def __init__(self, plan: PlanArrays, priors: Priors) -> None:
        self.plan, self.priors = plan, priors
        unknown = sorted(set(priors.delivery_scheme) - set(plan.scheme_ids))
        if unknown:
            shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
            raise SimulationError(
                f"priors {priors.name}: delivery overrides for schemes not in the plan: {shown} "
                "(keys are TRUST/SCHEME_ID)"
            )
        self._init_delivery()
        self._init_slip()
        self._init_factors()
        self._init_layout()

    def _init_delivery(self) -> None:
        """The delivered share of each scheme: fixed, or a table of its inverse CDF."""
        plan, priors = self.plan, self.priors
        ids = plan.scheme_ids
        dists = [
            priors.share_dist(STAGES[st], RAGS[rg], ids[s])
            for s, (st, rg) in enumerate(zip(plan.scheme_stage, plan.scheme_rag, strict=True))
        ]
        self.share_dists = dists
        self.fixed_share = np.array([d.value if d.degenerate else np.nan for d in dists])
        self.random_schemes = np.flatnonzero([not d.degenerate for d in dists])
        self.delivery_varies = bool(self.random_schemes.size) or bool(
            np.any(self.fixed_share != 1.0)
        )
        classes: dict[ShareDist, int] = {}
        cls = np.array(
            [classes.setdefault(dists[s], len(classes)) for s in self.random_schemes], dtype=np.intp
        )
        uniq = list(classes)
        self._bern = (
            np.array([d.kind == "bernoulli" for d in uniq], dtype=bool)[cls]
            if uniq
            else np.zeros(0, bool)
        )
        self._bern_threshold = (
            np.array([special.ndtri(1.0 - d.p) if d.kind == "bernoulli" else 0.0 for d in uniq])[
                cls
            ]
            if uniq
            else np.zeros(0)
        )
        self._bern_cols = np.flatnonzero(self._bern)
        table = share_table(uniq, Z_MAX, TABLE_NODES)
        self._table = table.ravel()
        self._slope = np.diff(table, axis=1, append=table[:, -1:]).ravel()
        self._offset = cls * TABLE_NODES
        self._rho = self.priors.within_trust_correlation

    def _init_slip(self) -> None:
        """The schemes that can start late, and the thresholds of their months late."""
        pmfs = [self.priors.slip_pmf(STAGES[st]) for st in self.plan.scheme_stage]
        self.slip_schemes = np.flatnonzero([len(p) > 1 for p in pmfs])
        k_max = max((len(pmfs[s]) - 1 for s in self.slip_schemes), default=0)
        thr = np.full((self.slip_schemes.size, k_max), 2.0)  # 2.0: never exceeded
        for row, s in enumerate(self.slip_schemes):
            cdf = np.cumsum(np.asarray(pmfs[s], dtype=float))[:-1]
            thr[row, : cdf.size] = cdf
        self._slip_thresholds = thr

    def _init_factors(self) -> None:
        """Which factors matter, their national and trust parts, and A&E."""
        plan, priors, rho = self.plan, self.priors, self._rho
        ae_trusts = np.flatnonzero(plan.ae_applies)
        active = np.zeros(len(FACTORS), dtype=bool)
        active[_K["delivery"]] = rho > 0 and self.random_schemes.size > 0
        for f in (*DRIVER_FACTORS, "agency"):
            active[_K[f]] = priors.shock(f).active
        ae = priors.ae
        ae_random = ae.sd > 0 and ae_trusts.size > 0
        active[_K["ae"]] = ae_random and ae.quarter_correlation > 0
        share = np.array([priors.national_share(f) for f in FACTORS])
        self.active = active
        self.national = np.flatnonzero(active & (share > 0))
        self.trust_part = np.flatnonzero(active & (share < 1))
        c = priors.correlation
        self._chol_nat = (
            np.linalg.cholesky(c[np.ix_(self.national, self.national)])
            if self.national.size
            else np.zeros((0, 0))
        )
        self._chol_trust = (
            np.linalg.cholesky(c[np.ix_(self.trust_part, self.trust_part)])
            if self.trust_part.size
            else np.zeros((0, 0))
        )
        self._w_nat = np.sqrt(share)
        self._w_trust = np.sqrt(1.0 - share)
        self._ae_all = ae_trusts
        self.ae_trusts = ae_trusts if ae.active else np.zeros(0, dtype=np.intp)
        self._ae_noise = ae_random and ae.quarter_correlation < 1

    def _init_layout(self) -> None:
        """Where each block of coordinates sits in a sample point."""
        sizes = {
            "national": self.national.size,
            "trust": self.plan.n_trusts * self.trust_part.size,
            "delivery": self.random_schemes.size,
            "slip": self.slip_schemes.size,
            "ae": self._ae_all.size * 4 if self._ae_noise else 0,
        }
        self.blocks: dict[str, slice] = {}
        pos = 0
        for name, size in sizes.items():
            self.blocks[name] = slice(pos, pos + size)
            pos += size
        self.n_dims = pos
        self._n_s = self.plan.n_schemes
        self._random_trust = self.plan.scheme_trust[self.random_schemes]

    # ------------------------------------------------------------------------------
    def describe(self) -> dict[str, int]:
        """Dimensions by block, for provenance."""
        return {
            "dimensions": self.n_dims,
            **{f"dims_{k}": v.stop - v.start for k, v in self.blocks.items()},
        }

    def factor_names(self) -> list[str]:
        """Names of the active factors, in :data:`FACTORS` order."""
        return [f for i, f in enumerate(FACTORS) if self.active[i]]

    def share(self, z: FloatArray) -> FloatArray:
        """Delivered shares of the random schemes from their latent normals (c, S_random)."""
        x = np.clip(z, -Z_MAX, Z_MAX)
        x += Z_MAX
        x *= (TABLE_NODES - 1) / (2 * Z_MAX)
        i = x.astype(np.intp)
        np.minimum(i, TABLE_NODES - 2, out=i)
        x -= i
        i += self._offset
        out = np.take(self._slope, i, mode="clip")  # i is in range: no checks
        out *= x
        out += np.take(
            self._table, i, out=x, mode="clip"
        )  # x is spent: reuse it for the table values
        b = self._bern_cols
        if b.size:
            out[:, b] = (z[:, b] > self._bern_threshold[b]).astype(float)
        return out

    def map(self, u: FloatArray) -> DrawnInputs:
        """Map a chunk of sample points (c, n_dims) to the engine's inputs."""
        n_c = u.shape[0]
        if u.shape[1] != self.n_dims:
            raise ValueError(f"expected points with {self.n_dims} coordinates, got {u.shape[1]}")
        factors = self._factors(u)
        delivery = self._delivery(u, factors)
        slip = self._slip(u)
        all_one = not self.delivery_varies
        draws = Draws(
            n=n_c,
            delivery=None if all_one else delivery,
            slip=slip if self.slip_schemes.size else None,
            driver_shift=self._driver_shift(factors),
            line_scale=self._agency_scale(factors),
        )
        return DrawnInputs(
            draws=draws,
            ae_met=self._ae_met(u, factors),
            factors=factors,
            delivery=delivery,
            slip=slip,
        )

    def _factors(self, u: FloatArray) -> FloatArray:
        """(c, T, K) each trust's factor values ``F`` (0 where a factor is off)."""
        n_c, n_t = u.shape[0], self.plan.n_trusts
        factors = np.zeros((n_c, n_t, len(FACTORS)))
        if self.national.size:
            nat = _lower_solve(special.ndtri(u[:, self.blocks["national"]]), self._chol_nat)
            for j, k in enumerate(self.national):
                factors[:, :, k] = (self._w_nat[k] * nat[:, j])[:, None]
        if self.trust_part.size:
            z = special.ndtri(u[:, self.blocks["trust"]]).reshape(n_c, n_t, self.trust_part.size)
            own = _lower_solve(z, self._chol_trust)
            for j, k in enumerate(self.trust_part):
                if self._w_nat[k] > 0:
                    factors[:, :, k] += self._w_trust[k] * own[:, :, j]
                else:
                    factors[:, :, k] = own[:, :, j]
        return factors

    def _delivery(self, u: FloatArray, factors: FloatArray) -> FloatArray:
        """(c, S) delivered share of every scheme."""
        n_c = u.shape[0]
        if not self.random_schemes.size:
            return np.broadcast_to(self.fixed_share, (n_c, self._n_s)).copy()
        z = special.ndtri(u[:, self.blocks["delivery"]])
        if self.active[_K["delivery"]]:
            common = np.take(factors[:, :, _K["delivery"]], self._random_trust, axis=1)
            z *= np.sqrt(1.0 - self._rho)
            common *= np.sqrt(self._rho)
            z += common
        if self.random_schemes.size == self._n_s:  # every scheme is uncertain
            return self.share(z)
        delivery = np.broadcast_to(self.fixed_share, (n_c, self._n_s)).copy()
        delivery[:, self.random_schemes] = self.share(z)
        return delivery

    def _slip(self, u: FloatArray) -> NDArray[np.int64]:
        """(c, S) months late of every scheme."""
        slip = np.zeros((u.shape[0], self._n_s), dtype=np.int64)
        if self.slip_schemes.size:
            us = u[:, self.blocks["slip"]]
            months = np.zeros(us.shape, dtype=np.int8)
            for k in range(self._slip_thresholds.shape[1]):
                np.add(months, us > self._slip_thresholds[:, k], out=months, casting="unsafe")
            slip[:, self.slip_schemes] = months
        return slip

    def _driver_shift(self, factors: FloatArray) -> FloatArray | None:
        """(c, T, 1, 6) shocks added to the drivers, or None if none is active."""
        if not any(self.active[_K[f]] for f in DRIVER_FACTORS):
            return None
        n_c, n_t = factors.shape[0], factors.shape[1]
        shift = np.zeros((n_c, n_t, 1, len(DRIVERS)))
        for f in DRIVER_FACTORS:
            if self.active[_K[f]]:
                shift[:, :, 0, DRIVERS.index(f)] = self.priors.shock(f).sd * factors[:, :, _K[f]]
        return shift

    def _agency_scale(self, factors: FloatArray) -> FloatArray | None:
        """(c, T, L) the log-normal factor on agency spend (1 on other lines), or None."""
        if not self.active[_K["agency"]]:
            return None
        sd = self.priors.shock("agency").sd
        line_scale = np.ones((factors.shape[0], factors.shape[1], len(LINES)))
        line_scale[:, :, AGENCY] = np.exp(sd * factors[:, :, _K["agency"]] - 0.5 * sd * sd)
        return line_scale

    def _ae_met(self, u: FloatArray, factors: FloatArray) -> NDArray[np.bool_] | None:
        """(c, T, 4) A&E trajectory met each quarter, or None (as the plan forecasts)."""
        if not self.ae_trusts.size:
            return None
        plan, ae = self.plan, self.priors.ae
        n_c, n_t = u.shape[0], plan.n_trusts
        noise = np.zeros((n_c, self.ae_trusts.size, 4))
        if self.active[_K["ae"]]:
            noise += (np.sqrt(ae.quarter_correlation) * factors[:, self.ae_trusts, _K["ae"]])[
                :, :, None
            ]
        if self._ae_noise:
            z = special.ndtri(u[:, self.blocks["ae"]]).reshape(n_c, self.ae_trusts.size, 4)
            noise += np.sqrt(1.0 - ae.quarter_correlation) * z
        fc = plan.ae_forecast[self.ae_trusts][None]
        perf = fc + ae.bias + ae.sd * noise
        traj = plan.ae_trajectory[self.ae_trusts][None]
        with np.errstate(invalid="ignore"):
            met_t = (perf >= traj) & np.isfinite(fc) & np.isfinite(traj)
        with np.errstate(invalid="ignore"):
            planned = ae_trajectory_met(plan.ae_forecast, plan.ae_trajectory)
        ae_met = np.broadcast_to(planned[None], (n_c, n_t, 4)).copy()
        ae_met[:, self.ae_trusts] = met_t
        return ae_met
