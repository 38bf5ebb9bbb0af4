"""Priors: the documented, overridable distributions of everything a simulation draws.

A :class:`Priors` is read from a rule pack of kind ``"priors"`` (``cipmodel/rules/
priors-2017.toml``; every value with its source and whether it was verified) by
:func:`load_priors`, or built in code. What it describes, per draw:

* **CIP delivery.** Each scheme delivers a share of its planned effect, drawn from a
  distribution looked up by the scheme's RAG rating, or by its stage where the pack gives
  one (``unidentified`` CIP has its own, the lowest); :meth:`Priors.with_scheme` overrides
  one scheme. Distributions are bounded in [0, 1] by construction: PERT (``min``, ``mode``,
  ``max``; a Beta with ``a = 1 + 4 (mode - min) / (max - min)``, ``b = 1 + 4 (max - mode)
  / (max - min)`` on [min, max]), Beta, Bernoulli (all or nothing) or fixed.
* **Slippage.** Months each scheme starts late: a probability for 0, 1, 2, ... months by
  stage.
* **Common delivery factor.** Schemes of one trust share a Gaussian-copula factor: the
  latent normal of scheme ``s`` is ``sqrt(rho) F_delivery(trust) + sqrt(1 - rho) e_s``, so
  each scheme keeps its own marginal distribution exactly while the programme's shortfalls
  move together (``rho`` = ``delivery.within_trust_correlation``).
* **Shocks.** Pay award, non-pay and drug inflation and activity growth (added to the
  year's drivers, normal), agency spend (a log-normal factor with mean 1 on the planned
  agency run rate), A&E 4-hour performance (added to the forecast each quarter, met when at
  or above the trajectory).
* **National and trust factors.** Each factor ``k`` (delivery, activity, pay award, ...)
  a trust sees is ``F_k(trust) = sqrt(w_k) N_k + sqrt(1 - w_k) E_k(trust)``: ``N`` is shared
  by all trusts of the portfolio (national shocks), ``E`` is the trust's own, ``w_k`` is
  the factor's ``national_share``. ``N`` and each ``E`` are standard normal vectors with
  the factors' correlation matrix (a Gaussian copula), so each ``F_k`` is standard normal
  and ``corr(F_i, F_j) = C_ij (sqrt(w_i w_j) + sqrt((1 - w_i)(1 - w_j)))``: exactly
  ``C_ij`` when the national shares are equal, less when they differ (a national pay award
  cannot correlate with a trust's own activity). A matrix that is not positive
  definite is repaired to the nearest correlation matrix (Higham 2002) and the largest
  change of any entry is reported (:attr:`Priors.correlation_change`).

:meth:`Priors.none` switches every uncertainty off: a simulation then reproduces the plan
run exactly.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import special, stats

from cipmodel.engine.project import RAGS, STAGES
from cipmodel.errors import CipModelError, RulePackError
from cipmodel.regime.packs import RulePack, load_pack

__all__ = [
    "FACTORS",
    "SimulationError",
    "ShareDist",
    "Shock",
    "AEShock",
    "Priors",
    "load_priors",
    "nearest_correlation",
    "DEFAULT_PRIORS",
]

DEFAULT_PRIORS = "priors-2017"

#: The factors of the copula, in matrix order.
FACTORS: tuple[str, ...] = (
    "delivery",
    "activity_growth",
    "pay_award",
    "non_pay_inflation",
    "drug_inflation",
    "agency",
    "ae",
)
#: Factors that shift a driver of the engine (``cipmodel.engine.project.DRIVERS``).
DRIVER_FACTORS: tuple[str, ...] = (
    "activity_growth",
    "pay_award",
    "non_pay_inflation",
    "drug_inflation",
)
SHARE_KINDS = ("pert", "beta", "bernoulli", "fixed")


class SimulationError(CipModelError, ValueError):
    """Bad simulation settings or priors (the CLI reports it with exit code 2)."""


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
    def from_value(cls, value: Any, where: str = "") -> ShareDist:
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
    matrix: Any, *, floor: float = 1e-8, tol: float = 1e-12, max_iter: int = 1000
) -> tuple[np.ndarray, float]:
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
        done = np.linalg.norm(y_new - y) <= tol * max(1.0, np.linalg.norm(y))
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


# --------------------------------------------------------------------------------------
# Priors
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Priors:
    """Everything a simulation draws, and how (see the module docstring).

    Attributes
    ----------
    name : str
        Pack name (``priors-2017``, with ``:variant``), a path, or ``"none"``.
    delivery_rag : dict of str -> ShareDist
        Delivered share by RAG rating (``blue``, ``green``, ``amber``, ``red``).
    delivery_stage : dict of str -> ShareDist
        Delivered share by stage, taking precedence over the RAG rating where given
        (e.g. ``unidentified``).
    delivery_scheme : dict of str -> ShareDist
        Overrides for single schemes, keyed ``"TRUST/SCHEME_ID"``.
    within_trust_correlation : float
        Loading ``rho`` of every scheme on its trust's common delivery factor [0, 1].
    slip_stage : dict of str -> tuple of float
        Probability of starting 0, 1, 2, ... months late, by stage (sums to 1).
    shocks : dict of str -> Shock
        ``activity_growth``, ``pay_award``, ``non_pay_inflation``, ``drug_inflation``
        (added to the year's driver [fraction]), ``agency`` (log-normal factor on planned
        agency spend, ``sd`` of its log), ``delivery`` (only ``national_share`` is used:
        the national part of the common delivery factor).
    ae : AEShock
        A&E 4-hour performance minus forecast each quarter [fraction].
    correlation : ndarray (7, 7)
        Correlation of the factors (:data:`FACTORS` order), positive definite.
    correlation_given : ndarray (7, 7)
        The matrix as given, before any repair.
    correlation_change : float
        Largest absolute change the repair made to any entry (0 if none was needed).
    unverified : tuple of str
        ``pack:key`` of every unverified pack value.
    """

    name: str
    delivery_rag: Mapping[str, ShareDist]
    delivery_stage: Mapping[str, ShareDist]
    within_trust_correlation: float
    slip_stage: Mapping[str, tuple[float, ...]]
    shocks: Mapping[str, Shock]
    ae: AEShock
    correlation: np.ndarray
    correlation_given: np.ndarray = field(repr=False)
    correlation_change: float = 0.0
    delivery_scheme: Mapping[str, ShareDist] = field(default_factory=dict)
    unverified: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        missing = [r for r in RAGS if r not in self.delivery_rag]
        if missing:
            raise SimulationError(
                f"priors {self.name}: delivery.rag needs every RAG rating; missing {', '.join(missing)}"
            )
        for key in self.delivery_stage:
            if key not in STAGES:
                raise SimulationError(
                    f"priors {self.name}: delivery.stage.{key}: unknown stage (known: {', '.join(STAGES)})"
                )
        for key, pmf in self.slip_stage.items():
            if key not in STAGES:
                raise SimulationError(
                    f"priors {self.name}: slip.{key}: unknown stage (known: {', '.join(STAGES)})"
                )
            arr = np.asarray(pmf, dtype=float)
            if arr.ndim != 1 or arr.size == 0 or np.any(arr < 0) or abs(arr.sum() - 1.0) > 1e-9:
                raise SimulationError(
                    f"priors {self.name}: slip.{key}: probabilities of 0, 1, 2, ... months late must be >= 0 and sum to 1, got {list(pmf)}"
                )
        if not 0.0 <= self.within_trust_correlation <= 1.0:
            raise SimulationError(
                f"priors {self.name}: delivery.within_trust_correlation must be in [0, 1], got {self.within_trust_correlation}"
            )
        for key in self.shocks:
            if key not in FACTORS:
                raise SimulationError(
                    f"priors {self.name}: unknown shock {key!r} (known: {', '.join(FACTORS)})"
                )
        c = np.asarray(self.correlation)
        if c.shape != (len(FACTORS), len(FACTORS)):
            raise SimulationError(
                f"priors {self.name}: correlation must be {len(FACTORS)}x{len(FACTORS)} ({', '.join(FACTORS)})"
            )

    # -- lookups ----------------------------------------------------------------------
    def share_dist(self, stage: str, rag: str, scheme: str | None = None) -> ShareDist:
        """The delivered-share distribution of a scheme (scheme override, stage, then RAG)."""
        if scheme is not None and scheme in self.delivery_scheme:
            return self.delivery_scheme[scheme]
        if stage in self.delivery_stage:
            return self.delivery_stage[stage]
        return self.delivery_rag[rag]

    def slip_pmf(self, stage: str) -> tuple[float, ...]:
        return tuple(self.slip_stage.get(stage, (1.0,)))

    def shock(self, factor: str) -> Shock:
        if factor == "ae":
            return self.ae
        return self.shocks.get(factor, Shock())

    def national_share(self, factor: str) -> float:
        return self.shock(factor).national_share

    # -- variants ---------------------------------------------------------------------
    @classmethod
    def none(cls) -> Priors:
        """No uncertainty: every scheme delivers in full on time, no shocks."""
        k = len(FACTORS)
        return cls(
            name="none",
            delivery_rag={r: ShareDist.fixed(1.0) for r in RAGS},
            delivery_stage={},
            within_trust_correlation=0.0,
            slip_stage={},
            shocks={},
            ae=AEShock(sd=0.0, bias=0.0),
            correlation=np.eye(k),
            correlation_given=np.eye(k),
        )

    def replace(self, **changes: Any) -> Priors:
        """A copy with fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def with_scheme(self, scheme: str, dist: ShareDist) -> Priors:
        """A copy where scheme ``"TRUST/SCHEME_ID"`` has its own delivered-share distribution."""
        return self.replace(delivery_scheme={**self.delivery_scheme, scheme: dist})

    def with_correlation(self, matrix: Any) -> Priors:
        """A copy with a new factor correlation matrix, repaired if not positive definite."""
        repaired, change = nearest_correlation(matrix)
        return self.replace(
            correlation=repaired,
            correlation_given=np.array(matrix, dtype=float),
            correlation_change=change,
        )

    def describe(self) -> dict[str, Any]:
        """A JSON-safe summary for provenance."""
        return {
            "priors": self.name,
            "correlation_repaired": bool(self.correlation_change > 0),
            "correlation_max_change": round(self.correlation_change, 9),
        }

    @property
    def is_none(self) -> bool:
        """True when nothing is uncertain."""
        dists = [
            *self.delivery_rag.values(),
            *self.delivery_stage.values(),
            *self.delivery_scheme.values(),
        ]
        return (
            all(d.degenerate and d.value == 1.0 for d in dists)
            and all(len(p) == 1 for p in self.slip_stage.values())
            and not any(s.active for k, s in self.shocks.items() if k != "delivery")
            and not self.ae.active
        )


def _get(pack: RulePack, key: str) -> Any:
    if not pack.has(key):
        raise pack.error(key, "missing (required by the simulation)")
    return pack.get(key)


def _number(pack: RulePack, key: str, lo: float = -math.inf, hi: float = math.inf) -> float:
    v = _get(pack, key)
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise pack.error(key, f"must be a number, got {v!r}")
    if not lo <= v <= hi:
        raise pack.error(key, f"must be in [{lo:g}, {hi:g}], got {v!r}")
    return float(v)


def priors_from_pack(pack: RulePack) -> Priors:
    """Build :class:`Priors` from a loaded pack of kind ``priors``."""
    if pack.kind != "priors":
        raise pack.error("pack.kind", f"is {pack.kind!r}, but a 'priors' pack is needed here")
    try:
        rag = {
            r: ShareDist.from_value(
                _get(pack, f"delivery.rag.{r}"), f"{pack.origin}: delivery.rag.{r}"
            )
            for r in RAGS
        }
        stage = {
            k.rsplit(".", 1)[1]: ShareDist.from_value(pack.get(k), f"{pack.origin}: {k}")
            for k in pack.leaves
            if k.startswith("delivery.stage.")
        }
        slip = {}
        for k in pack.leaves:
            if k.startswith("slip."):
                v = pack.get(k)
                if not isinstance(v, list) or not all(
                    isinstance(x, int | float) and not isinstance(x, bool) for x in v
                ):
                    raise pack.error(
                        k, f"must be a list of probabilities of 0, 1, 2, ... months late, got {v!r}"
                    )
                slip[k.split(".", 1)[1]] = tuple(float(x) for x in v)
        shocks = {}
        for f in FACTORS:
            if f == "ae":
                continue
            sd = _number(pack, f"shocks.{f}.sd", 0.0) if f != "delivery" else 0.0
            shocks[f] = Shock(
                sd=sd, national_share=_number(pack, f"shocks.{f}.national_share", 0.0, 1.0)
            )
        ae = AEShock(
            sd=_number(pack, "shocks.ae.sd", 0.0),
            national_share=_number(pack, "shocks.ae.national_share", 0.0, 1.0),
            quarter_correlation=_number(pack, "shocks.ae.quarter_correlation", 0.0, 1.0),
            bias=_number(pack, "shocks.ae.bias"),
        )
        names = _get(pack, "correlation.factors")
        if list(names) != list(FACTORS):
            raise pack.error(
                "correlation.factors",
                f"must list {', '.join(FACTORS)} in that order, got {names!r}",
            )
        given = _get(pack, "correlation.matrix")
        try:
            repaired, change = nearest_correlation(given)
        except SimulationError as exc:
            raise pack.error("correlation.matrix", str(exc)) from None
        return Priors(
            name=pack.name,
            delivery_rag=rag,
            delivery_stage=stage,
            within_trust_correlation=_number(pack, "delivery.within_trust_correlation", 0.0, 1.0),
            slip_stage=slip,
            shocks=shocks,
            ae=ae,
            correlation=repaired,
            correlation_given=np.array(given, dtype=float),
            correlation_change=change,
            unverified=tuple(pack.unverified_used()),
        )
    except SimulationError as exc:
        text = str(exc)
        if not text.startswith(pack.origin):
            text = f"{pack.origin}: {text}"
        raise RulePackError(text) from None


def load_priors(priors: str | Path | RulePack | Priors | None = DEFAULT_PRIORS) -> Priors:
    """Priors by pack name (``"priors-2017"``, ``"priors-2017:tracker"``), path, pack or object.

    ``None`` or ``"none"`` gives :meth:`Priors.none` (no uncertainty).

    Raises
    ------
    RulePackError
        The pack is missing, of another kind, or a value is invalid (naming file and key).
    """
    if isinstance(priors, Priors):
        return priors
    if priors is None or (isinstance(priors, str) and priors == "none"):
        return Priors.none()
    pack = priors if isinstance(priors, RulePack) else load_pack(priors, kind="priors")
    return priors_from_pack(pack)


def share_table(dists: list[ShareDist], z_max: float, nodes: int) -> np.ndarray:
    """(len(dists), nodes) exact inverse CDF of each distribution at ``Phi(z)`` on a grid of
    ``z`` from ``-z_max`` to ``z_max`` (used for fast, bounded interpolation)."""
    z = np.linspace(-z_max, z_max, nodes)
    u = special.ndtr(z)
    return np.stack([d.ppf(u) for d in dists]) if dists else np.empty((0, nodes))
