"""The distributions a simulation draws from: delivered shares, shocks, and the correlation
of the factors (repaired to the nearest correlation matrix when it is not positive definite).

:class:`~cipmodel.montecarlo.priors.Priors` holds one of each per scheme class and factor;
:mod:`cipmodel.montecarlo.inputs` maps sample points through them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

from cipmodel.errors import SimulationError

__all__ = [
    "SHARE_KINDS",
    "AEShock",
    "ShareDist",
    "Shock",
    "SimulationError",
    "nearest_correlation",
    "share_table",
]

SHARE_KINDS = ("pert", "beta", "bernoulli", "fixed")


# --------------------------------------------------------------------------------------
# Distributions
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShareDist:
    """Distribution of a scheme's delivered share, bounded in [0, 1].

    Attributes
    ----------
    kind : str
        ``pert`` (``low``, ``mode``, ``high``), ``beta`` (``a``, ``b`` on [``low``,
        ``high``]), ``bernoulli`` (delivers in full with probability ``p``, else nothing) or
        ``fixed`` (always ``mode``).
    """

    kind: str = "fixed"
    low: float = 1.0
    mode: float = 1.0
    high: float = 1.0
    a: float = 1.0
    b: float = 1.0
    p: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in SHARE_KINDS:
            raise SimulationError(
                f"delivered share: unknown distribution {self.kind!r} (known: {', '.join(SHARE_KINDS)})"
            )
        vals = (self.low, self.mode, self.high, self.a, self.b, self.p)
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in vals):
            raise SimulationError(f"delivered share: parameters must be finite numbers, got {self}")
        if self.kind in ("pert", "beta", "fixed") and not 0.0 <= self.low <= self.high <= 1.0:
            raise SimulationError(
                f"delivered share: need 0 <= min <= max <= 1, got min={self.low}, max={self.high}"
            )
        if self.kind == "pert" and not self.low <= self.mode <= self.high:
            raise SimulationError(
                f"delivered share: PERT mode {self.mode} is outside [{self.low}, {self.high}]"
            )
        if self.kind == "beta" and not (self.a > 0 and self.b > 0):
            raise SimulationError(
                f"delivered share: Beta a and b must be > 0, got a={self.a}, b={self.b}"
            )
        if self.kind == "bernoulli" and not 0.0 <= self.p <= 1.0:
            raise SimulationError(f"delivered share: Bernoulli p must be in [0, 1], got {self.p}")
        if self.kind == "fixed" and not 0.0 <= self.mode <= 1.0:
            raise SimulationError(
                f"delivered share: fixed value must be in [0, 1], got {self.mode}"
            )

    # constructors -----------------------------------------------------------------
    @classmethod
    def pert(cls, low: float, mode: float, high: float) -> ShareDist:
        """PERT on [low, high] with the given mode (lambda = 4)."""
        if high == low:
            return cls.fixed(low)
        return cls("pert", low=low, mode=mode, high=high)

    @classmethod
    def beta(cls, a: float, b: float, low: float = 0.0, high: float = 1.0) -> ShareDist:
        return cls("beta", low=low, high=high, a=a, b=b)

    @classmethod
    def bernoulli(cls, p: float) -> ShareDist:
        return cls("bernoulli", low=0.0, mode=1.0, high=1.0, p=p)

    @classmethod
    def fixed(cls, value: float) -> ShareDist:
        return cls("fixed", low=value, mode=value, high=value)

    @classmethod
    def from_value(cls, value: object, where: str = "") -> ShareDist:
        """From a pack value: ``{min, mode, max}`` (PERT), ``{dist = "beta", a, b, min,
        max}``, ``{dist = "bernoulli", p}``, ``{dist = "fixed", value}`` or a number."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            return cls.fixed(float(value))
        if not isinstance(value, Mapping):
            raise SimulationError(
                f"{where}: expected a table like {{min, mode, max}}, got {value!r}"
            )
        v = dict(value)
        kind = v.pop("dist", "pert")
        try:
            if kind == "pert":
                out = cls.pert(float(v.pop("min")), float(v.pop("mode")), float(v.pop("max")))
            elif kind == "beta":
                out = cls.beta(
                    float(v.pop("a")),
                    float(v.pop("b")),
                    float(v.pop("min", 0.0)),
                    float(v.pop("max", 1.0)),
                )
            elif kind == "bernoulli":
                out = cls.bernoulli(float(v.pop("p")))
            elif kind == "fixed":
                out = cls.fixed(float(v.pop("value")))
            else:
                raise SimulationError(
                    f"{where}: unknown distribution {kind!r} (known: {', '.join(SHARE_KINDS)})"
                )
        except KeyError as exc:
            raise SimulationError(f"{where}: {kind} needs {exc.args[0]!r}") from None
        except SimulationError as exc:
            raise SimulationError(f"{where}: {exc}") from None
        if v:
            raise SimulationError(f"{where}: unknown key(s) {', '.join(sorted(v))}")
        return out

    # properties -------------------------------------------------------------------
    @property
    def degenerate(self) -> bool:
        """True when the share is certain (nothing to draw)."""
        if self.kind == "fixed":
            return True
        if self.kind == "bernoulli":
            return self.p in (0.0, 1.0)
        return self.low == self.high

    @property
    def value(self) -> float:
        """The certain value of a degenerate distribution."""
        if self.kind == "bernoulli":
            return float(self.p)
        return float(self.mode if self.kind == "fixed" else self.low)

    def beta_params(self) -> tuple[float, float]:
        if self.kind == "pert":
            span = self.high - self.low
            return 1 + 4 * (self.mode - self.low) / span, 1 + 4 * (self.high - self.mode) / span
        return self.a, self.b

    def mean(self) -> float:
        """Expected delivered share [fraction]."""
        if self.degenerate:
            return self.value
        if self.kind == "bernoulli":
            return self.p
        a, b = self.beta_params()
        return self.low + (self.high - self.low) * a / (a + b)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Inverse CDF (exact, via SciPy)."""
        u = np.asarray(u, dtype=float)
        if self.degenerate:
            return np.full(u.shape, self.value)
        if self.kind == "bernoulli":
            return (u > 1.0 - self.p).astype(float)
        a, b = self.beta_params()
        return self.low + (self.high - self.low) * stats.beta.ppf(u, a, b)

    def describe(self) -> str:
        if self.kind == "pert":
            return f"PERT({self.low:g}, {self.mode:g}, {self.high:g})"
        if self.kind == "beta":
            return f"Beta({self.a:g}, {self.b:g}) on [{self.low:g}, {self.high:g}]"
        if self.kind == "bernoulli":
            return f"Bernoulli({self.p:g})"
        return f"fixed {self.mode:g}"


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
