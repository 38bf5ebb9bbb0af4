"""The distributions a simulation draws from: delivered shares, shocks, and the correlation
of the factors (repaired to the nearest correlation matrix when it is not positive definite).

:class:`~cipmodel.montecarlo.priors.Priors` holds one of each per scheme class and factor;
:mod:`cipmodel.montecarlo.inputs` maps sample points through them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from cipmodel.errors import SimulationError
from cipmodel.regime.priors_pack import SHARE_KINDS, ShareDist

__all__ = [
    "SHARE_KINDS",
    "AEShock",
    "ShareDist",
    "Shock",
    "SimulationError",
    "nearest_correlation",
    "share_table",
]


# --------------------------------------------------------------------------------------
# Distributions
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shock:
    """A normal shock: standard deviation and the share of its variance that is national."""

    sd: float = 0.0
    national_share: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.sd) and self.sd >= 0):
            raise SimulationError(f"shock sd must be a finite number >= 0, got {self.sd}")
        if not 0.0 <= self.national_share <= 1.0:
            raise SimulationError(f"national_share must be in [0, 1], got {self.national_share}")

    @property
    def active(self) -> bool:
        return self.sd > 0


@dataclass(frozen=True)
class AEShock(Shock):
    """A&E performance minus forecast, each quarter [fraction of attendances].

    ``quarter_correlation`` is the share of the quarter-to-quarter variance that persists
    through the year (the trust's factor); the rest is drawn afresh each quarter. ``bias``
    is added to every forecast.
    """

    quarter_correlation: float = 0.5
    bias: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.quarter_correlation <= 1.0:
            raise SimulationError(
                f"ae quarter_correlation must be in [0, 1], got {self.quarter_correlation}"
            )
        if not math.isfinite(self.bias):
            raise SimulationError(f"ae bias must be finite, got {self.bias}")

    @property
    def active(self) -> bool:
        return self.sd > 0 or self.bias != 0


# --------------------------------------------------------------------------------------
# Correlation repair
# --------------------------------------------------------------------------------------


def _psd_projection(a: np.ndarray, floor: float) -> np.ndarray:
    w, v = np.linalg.eigh((a + a.T) / 2.0)
    return (v * np.maximum(w, floor)) @ v.T


def nearest_correlation(
    matrix: ArrayLike, *, floor: float = 1e-8, tol: float = 1e-12, max_iter: int = 1000
) -> tuple[NDArray[np.float64], float]:
    """The nearest positive-definite correlation matrix and how far the entries moved.

    Higham's alternating projections with Dykstra's correction (N. J. Higham, "Computing
    the nearest correlation matrix", IMA J. Numer. Anal. 22, 2002) between symmetric
    matrices with eigenvalues >= ``floor`` and matrices with a unit diagonal. A matrix that
    is already positive definite is returned unchanged.

    Returns
    -------
    (ndarray, float)
        The repaired matrix and the largest absolute change of any entry.

    Raises
    ------
    SimulationError
        If the matrix is not square, not symmetric, has entries outside [-1, 1] or a
        diagonal that is not 1.
    """
    a = np.array(matrix, dtype=float)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise SimulationError(f"correlation matrix must be square, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise SimulationError("correlation matrix has entries that are not finite numbers")
    bad = np.argwhere(np.abs(a - a.T) > 1e-12)
    if bad.size:
        i, j = bad[0]
        raise SimulationError(
            f"correlation matrix is not symmetric: [{i}][{j}] = {a[i, j]} but [{j}][{i}] = {a[j, i]}"
        )
    if np.any(np.abs(a) > 1.0):
        i, j = np.argwhere(np.abs(a) > 1.0)[0]
        raise SimulationError(f"correlation matrix entry [{i}][{j}] = {a[i, j]} is outside [-1, 1]")
    if np.any(np.diag(a) != 1.0):
        i = int(np.flatnonzero(np.diag(a) != 1.0)[0])
        raise SimulationError(f"correlation matrix diagonal [{i}][{i}] must be 1, got {a[i, i]}")
    if np.linalg.eigvalsh(a).min() >= floor:
        return a, 0.0
    y = a.copy()
    ds = np.zeros_like(a)
    for _ in range(max_iter):
        r = y - ds
        x = _psd_projection(r, floor)
        ds = x - r
        y_new = x.copy()
        np.fill_diagonal(y_new, 1.0)
        done = np.linalg.norm(y_new - y) <= tol * max(1.0, float(np.linalg.norm(y)))
        y = y_new
        if done:
            break
    # unit diagonal and strictly positive definite: shrink towards I until Cholesky works
    lam = 0.0
    while True:
        z = (1 - lam) * y + lam * np.eye(len(y))
        try:
            np.linalg.cholesky(z)
            break
        except np.linalg.LinAlgError:
            lam = max(2 * lam, 1e-10)
    z = (z + z.T) / 2.0
    np.fill_diagonal(z, 1.0)
    return z, float(np.abs(z - a).max())


def share_table(dists: list[ShareDist], z_max: float, nodes: int) -> np.ndarray:
    """(len(dists), nodes) exact inverse CDF of each distribution at ``Phi(z)`` on a grid of
    ``z`` from ``-z_max`` to ``z_max`` (used for fast, bounded interpolation)."""
    z = np.linspace(-z_max, z_max, nodes)
    u = special.ndtr(z)
    return np.stack([d.ppf(u) for d in dists]) if dists else np.empty((0, nodes))
