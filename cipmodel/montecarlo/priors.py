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
from numpy.typing import ArrayLike, NDArray

from cipmodel.engine.compile import RAGS, STAGES
from cipmodel.errors import RulePackError
from cipmodel.montecarlo.distributions import (
    SHARE_KINDS,
    AEShock,
    ShareDist,
    Shock,
    SimulationError,
    nearest_correlation,
    share_table,
)
from cipmodel.regime.packs import RulePack, TomlValue, load_pack
from cipmodel.regime.priors_pack import DEFAULT_PRIORS, shares_from_pack, slip_from_pack

__all__ = [
    "DEFAULT_PRIORS",
    "DRIVER_FACTORS",
    "FACTORS",
    "Priors",
    "load_priors",
    "priors_from_pack",
    # the distributions, defined in cipmodel.montecarlo.distributions
    "SHARE_KINDS",
    "AEShock",
    "ShareDist",
    "Shock",
    "SimulationError",
    "nearest_correlation",
    "share_table",
]

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

    def with_correlation(self, matrix: ArrayLike) -> Priors:
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


def _get(pack: RulePack, key: str) -> TomlValue:
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


def _share(pack: RulePack, key: str) -> ShareDist:
    """The distribution at ``key``; a value of the wrong type (a list where a number is
    needed, text) is a located RulePackError, never an internal error."""
    value = _get(pack, key)
    try:
        return ShareDist.from_value(value, f"{pack.origin}: {key}")
    except (TypeError, ValueError, OverflowError) as exc:
        if isinstance(exc, SimulationError):
            raise
        raise pack.error(
            key, f"must be a table of numbers like {{min, mode, max}}, got {value!r}"
        ) from None


def priors_from_pack(pack: RulePack) -> Priors:
    """Build :class:`Priors` from a loaded pack of kind ``priors``."""
    if pack.kind != "priors":
        raise pack.error("pack.kind", f"is {pack.kind!r}, but a 'priors' pack is needed here")
    try:
        rag, stage = shares_from_pack(pack, RAGS)
        slip = slip_from_pack(pack)
        shocks, ae = _shocks_from_pack(pack)
        given, repaired, change = _correlation_from_pack(pack)
        return Priors(
            name=pack.name,
            delivery_rag=rag,
            delivery_stage=stage,
            within_trust_correlation=_number(pack, "delivery.within_trust_correlation", 0.0, 1.0),
            slip_stage=slip,
            shocks=shocks,
            ae=ae,
            correlation=repaired,
            correlation_given=given,
            correlation_change=change,
            unverified=tuple(pack.unverified_used()),
        )
    except SimulationError as exc:
        text = str(exc)
        if not text.startswith(pack.origin):
            text = f"{pack.origin}: {text}"
        raise RulePackError(text) from None


_MAX_SD = 1.0


def _shocks_from_pack(pack: RulePack) -> tuple[dict[str, Shock], AEShock]:
    """``shocks.<factor>``: each factor's sd and national share, and the A&E shock."""
    shocks = {}
    for f in FACTORS:
        if f == "ae":
            continue
        # an sd above 1 (100 percentage points, or a factor of e on the log scale) is a
        # slip, and sds near the float limit overflow the draws
        sd = _number(pack, f"shocks.{f}.sd", 0.0, _MAX_SD) if f != "delivery" else 0.0
        shocks[f] = Shock(
            sd=sd, national_share=_number(pack, f"shocks.{f}.national_share", 0.0, 1.0)
        )
    ae = AEShock(
        sd=_number(pack, "shocks.ae.sd", 0.0, _MAX_SD),
        national_share=_number(pack, "shocks.ae.national_share", 0.0, 1.0),
        quarter_correlation=_number(pack, "shocks.ae.quarter_correlation", 0.0, 1.0),
        bias=_number(pack, "shocks.ae.bias", -1.0, 1.0),
    )
    return shocks, ae


def _correlation_from_pack(
    pack: RulePack,
) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
    """``correlation``: the matrix as given, repaired, and the largest change the repair made."""
    names = _get(pack, "correlation.factors")
    if not isinstance(names, list | tuple | str) or list(names) != list(FACTORS):
        raise pack.error(
            "correlation.factors",
            f"must list {', '.join(FACTORS)} in that order, got {names!r}",
        )
    value = _get(pack, "correlation.matrix")
    try:
        given = np.array(value, dtype=float)
    except (TypeError, ValueError):  # rows of other lengths, text, tables
        n = len(FACTORS)
        msg = f"must be {n} rows of {n} numbers, got {str(value)[:80]}"
        raise pack.error("correlation.matrix", msg) from None
    try:
        repaired, change = nearest_correlation(given)
    except SimulationError as exc:
        raise pack.error("correlation.matrix", str(exc)) from None
    return given, repaired, change


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
