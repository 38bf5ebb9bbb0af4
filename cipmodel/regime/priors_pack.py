"""The delivery part of a priors rule pack, read without the Monte Carlo: each scheme's
delivered-share distribution by stage and RAG rating, its start slippage, and their means.

The priors pack (``cipmodel/rules/priors-2017.toml``, kind ``"priors"``) describes what a
simulation draws. Two of its parts also answer a deterministic question — what a plan is
expected to deliver — so they are read here, below the engine, where the risk-adjusted
plan view (:mod:`cipmodel.results.risk_adjusted`) can use them:

* ``delivery.rag.<rag>``, ``delivery.stage.<stage>``: a scheme's delivered share of its
  planned effect (:class:`ShareDist`: PERT, Beta, Bernoulli or fixed, bounded in [0, 1]);
  the stage's distribution takes precedence over the RAG rating's;
* ``slip.<stage>``: the probabilities of starting 0, 1, 2, ... months late.

:mod:`cipmodel.montecarlo.priors` builds its :class:`~cipmodel.montecarlo.priors.Priors`
from the same readers, so the simulation and the deterministic view read one definition.
:meth:`ShareDist.mean` is the closed-form mean the risk-adjusted view uses; the
simulation draws from the same distribution (its inverse CDF), so both agree in expectation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from cipmodel.errors import RulePackError, SimulationError
from cipmodel.regime.packs import RulePack, load_pack

__all__ = [
    "DEFAULT_PRIORS",
    "SHARE_KINDS",
    "DeliveryPriors",
    "DeliveryPriorsLike",
    "ShareDist",
    "expected_slip_weights",
    "load_delivery_priors",
    "shares_from_pack",
    "slip_from_pack",
]

#: The priors pack a simulation and the risk-adjusted view use unless told otherwise.
DEFAULT_PRIORS = "priors-2017"

SHARE_KINDS = ("pert", "beta", "bernoulli", "fixed")


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
        except (TypeError, ValueError, OverflowError):  # a list or text where a number goes
            raise SimulationError(
                f"{where}: must be a table of numbers like {{min, mode, max}}, got {value!r}"
            ) from None
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
        from scipy import stats  # imported on first use: plan runs never need SciPy

        a, b = self.beta_params()
        out: np.ndarray = self.low + (self.high - self.low) * stats.beta.ppf(u, a, b)
        return out

    def describe(self) -> str:
        if self.kind == "pert":
            return f"PERT({self.low:g}, {self.mode:g}, {self.high:g})"
        if self.kind == "beta":
            return f"Beta({self.a:g}, {self.b:g}) on [{self.low:g}, {self.high:g}]"
        if self.kind == "bernoulli":
            return f"Bernoulli({self.p:g})"
        return f"fixed {self.mode:g}"


class DeliveryPriorsLike(Protocol):
    """What the risk-adjusted view needs of a priors object: a scheme's delivered-share
    distribution and its slippage probabilities (:class:`DeliveryPriors` and the Monte
    Carlo's :class:`~cipmodel.montecarlo.priors.Priors` both have them)."""

    def share_dist(self, stage: str, rag: str, scheme: str | None = None) -> ShareDist: ...

    def slip_pmf(self, stage: str) -> tuple[float, ...]: ...


@dataclass(frozen=True)
class DeliveryPriors:
    """The delivery part of a priors pack (see the module docstring).

    Attributes
    ----------
    name : str
        The pack's name.
    delivery_rag, delivery_stage : dict of str -> ShareDist
        Delivered share by RAG rating, and by stage (taking precedence where given).
    slip_stage : dict of str -> tuple of float
        Probability of starting 0, 1, 2, ... months late, by stage (sums to 1).
    delivery_scheme : dict of str -> ShareDist
        Overrides for single schemes, keyed ``"TRUST/SCHEME_ID"``.
    unverified : tuple of str
        ``pack:key`` of every unverified pack value read.
    """

    name: str
    delivery_rag: Mapping[str, ShareDist]
    delivery_stage: Mapping[str, ShareDist]
    slip_stage: Mapping[str, tuple[float, ...]]
    delivery_scheme: Mapping[str, ShareDist] = field(default_factory=dict)
    unverified: tuple[str, ...] = ()

    def share_dist(self, stage: str, rag: str, scheme: str | None = None) -> ShareDist:
        """The delivered-share distribution of a scheme (scheme override, stage, then RAG)."""
        if scheme is not None and scheme in self.delivery_scheme:
            return self.delivery_scheme[scheme]
        if stage in self.delivery_stage:
            return self.delivery_stage[stage]
        return self.delivery_rag[rag]

    def slip_pmf(self, stage: str) -> tuple[float, ...]:
        """P(0, 1, 2, ... months late) of a scheme at ``stage`` ((1.0,): never late)."""
        return tuple(self.slip_stage.get(stage, (1.0,)))


def expected_slip_weights(pmfs: Sequence[Sequence[float]]) -> np.ndarray:
    """(K, S) probability that scheme ``s`` starts ``k`` months late, for ``k`` = 0..K-1
    (K = the longest pmf; 0 beyond a scheme's own)."""
    k_max = max((len(p) for p in pmfs), default=1)
    out = np.zeros((k_max, len(pmfs)))
    for s, pmf in enumerate(pmfs):
        out[: len(pmf), s] = pmf
    return out


def shares_from_pack(
    pack: RulePack, rags: Sequence[str]
) -> tuple[dict[str, ShareDist], dict[str, ShareDist]]:
    """``delivery.rag.<rag>`` (every one of ``rags`` required) and ``delivery.stage.*``.

    Raises SimulationError naming the pack and key of a bad value.
    """
    rag: dict[str, ShareDist] = {}
    for r in rags:
        key = f"delivery.rag.{r}"
        if not pack.has(key):
            raise pack.error(key, "missing (required by the simulation)")
        rag[r] = ShareDist.from_value(pack.get(key), f"{pack.origin}: {key}")
    stage = {
        k.rsplit(".", 1)[1]: ShareDist.from_value(pack.get(k), f"{pack.origin}: {k}")
        for k in pack.leaves
        if k.startswith("delivery.stage.")
    }
    return rag, stage


def slip_from_pack(pack: RulePack) -> dict[str, tuple[float, ...]]:
    """``slip.<stage>``: probabilities of starting 0, 1, 2, ... months late."""
    slip = {}
    for k in pack.leaves:
        if k.startswith("slip."):
            v = pack.get(k)
            probs = (
                [x for x in v if isinstance(x, int | float) and not isinstance(x, bool)]
                if isinstance(v, list)
                else []
            )
            if not isinstance(v, list) or len(probs) != len(v):
                raise pack.error(
                    k, f"must be a list of probabilities of 0, 1, 2, ... months late, got {v!r}"
                )
            slip[k.split(".", 1)[1]] = tuple(float(x) for x in probs)
    return slip


def load_delivery_priors(
    priors: str | Path | RulePack = DEFAULT_PRIORS, rags: Sequence[str] = ()
) -> DeliveryPriors:
    """The delivery part of a priors pack, by name (``"priors-2017"``,
    ``"priors-2017:tracker"``), path or loaded pack. ``rags``: RAG ratings that must have a
    distribution (default: those the pack gives).

    Raises
    ------
    RulePackError
        The pack is missing, of another kind, or a value is invalid (naming file and key).
    """
    pack = priors if isinstance(priors, RulePack) else load_pack(priors, kind="priors")
    if pack.kind != "priors":
        raise pack.error("pack.kind", f"is {pack.kind!r}, but a 'priors' pack is needed here")
    if not rags:
        rags = [k.rsplit(".", 1)[1] for k in pack.leaves if k.startswith("delivery.rag.")]
    try:
        rag, stage = shares_from_pack(pack, rags)
        slip = slip_from_pack(pack)
        for key, pmf in slip.items():
            if any(p < 0 for p in pmf) or not math.isclose(sum(pmf), 1.0, abs_tol=1e-9):
                raise pack.error(
                    f"slip.{key}", f"probabilities must be >= 0 and sum to 1, got {list(pmf)}"
                )
    except SimulationError as exc:
        text = str(exc)
        if not text.startswith(pack.origin):
            text = f"{pack.origin}: {text}"
        raise RulePackError(text) from None
    return DeliveryPriors(
        name=pack.name,
        delivery_rag=rag,
        delivery_stage=stage,
        slip_stage=slip,
        unverified=tuple(pack.unverified_used()),
    )
