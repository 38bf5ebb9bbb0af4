"""The SOF finance and use of resources score: five metric scores, their mean and overrides.

Everything year-specific (thresholds, direction, boundary rule, weights, rounding,
overrides) comes from a ``kind = "sof"`` rule pack (``cipmodel/rules/sof-2016.toml``;
keys in ``docs/rules.md``). This module holds only the mechanics:

1. Each metric value is rounded to the precision the regulator publishes it at (the pack's
   ``decimals``, :func:`round_published`), then scored 1 (best) to 4 (worst) against three
   thresholds (:func:`score_metric`). A value exactly on a threshold goes to the better or
   the worse score as the pack's ``boundary`` says. Rounding first means floating-point
   noise (``0.13 - 0.12`` is ``0.010000000000000009``) cannot move a score across a
   threshold.
2. The overall score is the weighted mean of the applicable metric scores (weights from the
   pack, renormalised over the applicable metrics), rounded to a whole score by the pack's
   ``rounding`` rule: ``half_up_to_worse`` (2.5 -> 3) or ``half_down_to_better`` (2.5 -> 2).
   With five equally weighted metrics a .5 tie cannot occur; it can when a metric is not
   applicable (domain.md §1.5, [?]).
3. Overrides from the pack are applied to the rounded score: every triggered ``cap = n``
   makes the score no better than ``n`` (the worst cap wins); then a triggered ``set = n``
   fixes it at ``n``.

A metric value of ``None`` or NaN means *not applicable* (e.g. a trust with no agency
ceiling). It gets no score (:data:`NOT_APPLICABLE` in arrays, ``None`` in a scalar result),
is left out of the mean and cannot trigger an override. At least one metric must apply.

Everything is vectorised: metric values may be scalars or arrays of any shape that
broadcast together (the Monte Carlo engine passes ``(draw, trust)`` arrays), and so may the
flags ``control_total_accepted``, ``planned_surplus`` and ``financial_special_measures``.

Examples
--------
>>> r = score({"capital_service_capacity": 2.6, "liquidity_days": 30.6, "ie_margin": 0.0846,
...            "distance_from_plan": 0.084, "agency_vs_ceiling": -0.5596})
>>> r.overall, r.overrides
(1, ())
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cipmodel.errors import Problem, ValidationError
from cipmodel.regime.packs import PackLike, RulePack
from cipmodel.regime.sof_pack import (
    BOUNDARIES,
    CONDITIONS,
    ROUNDINGS,
    UNITS,
    Override,
    metric_names,
    overrides,
    sof_pack,
    validate_sof_pack,
)

__all__ = [
    "BOUNDARIES",
    "CONDITIONS",
    "NOT_APPLICABLE",
    "ROUNDINGS",
    "SCORE_DTYPE",
    "UNITS",
    "MetricScoreDict",
    "ScoreDict",
    "ScoreResult",
    "metric_names",
    "round_published",
    "score",
    "score_metric",
    "sof_pack",
    "validate_sof_pack",
]

NOT_APPLICABLE = 0
"""Score given, in arrays, to a metric that is not applicable (its value was None/NaN)."""

SCORE_DTYPE = np.int8
"""dtype of score arrays (scores are 0-4): small, as Monte Carlo arrays are (draw, trust)."""

ScoreArray = NDArray[np.int8]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

_NA_REASON = "no value given (not applicable); left out of the mean"


# --------------------------------------------------------------------------------------
# Metric scores
# --------------------------------------------------------------------------------------


def _values_array(name: str, values: ArrayLike | None) -> FloatArray:
    """Float array of ``values`` (None -> NaN); strings, bools and the like are an error."""
    if values is None:
        return np.array(np.nan)
    arr = np.asarray(values)
    if arr.dtype.kind in "fiu":
        return arr.astype(float, copy=False)
    if arr.dtype == object:
        bad = [v for v in arr.flat if v is not None and not _is_real(v)]
        if not bad:
            return arr.astype(float)
        got = repr(bad[0])
    else:
        got = repr(values) if arr.ndim == 0 else f"an array of {arr.dtype}"
    msg = f"must be a number, or None for not applicable; got {got}"
    raise ValidationError([Problem(name, msg)])


def _is_real(v: object) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool | np.bool_)


def score_metric(name: str, values: ArrayLike | None, pack: PackLike = "sof-2016") -> ScoreArray:
    """Score one metric 1 (best) to 4 (worst) against the pack's thresholds.

    Parameters
    ----------
    name : str
        Metric name as in the pack (``"ie_margin"``, ...).
    values : numeric or None
        Metric values in the metric's unit (times, days, fraction, pp as a fraction);
        any shape. None or NaN means not applicable.
    pack : str, Path or RulePack
        The SOF rule pack.

    Returns
    -------
    ndarray of int (:data:`SCORE_DTYPE`)
        Same shape as ``values``: 1-4, or :data:`NOT_APPLICABLE` (0) where the value is
        None/NaN. Never NaN.

    Notes
    -----
    With thresholds ``t1, t2, t3`` the score is 1 plus the number of thresholds the value is
    on the worse side of. A value equal to threshold ``k`` counts as worse only when that
    threshold's boundary is ``"worse"``. +/-inf scores like any very large/small value.
    """
    pack = sof_pack(pack)
    if name not in metric_names(pack):
        known = ", ".join(metric_names(pack))
        raise ValidationError([Problem(name, f"unknown metric (the pack scores: {known})")])
    return _score_metric(pack, name, _values_array(name, values))


def round_published(values: ArrayLike, decimals: int) -> FloatArray:
    """Round metric values to ``decimals`` decimal places, halves away from zero.

    The value is scaled by ``10**decimals`` and a half within 1e-6 of the last published
    digit counts as a half (floating-point noise), so ``0.13 - 0.12`` rounds to exactly the
    float ``0.01`` at 4 decimals and ``1.005`` (stored as 1.00499999...) to ``1.01`` at 2.
    The result equals the float a pack writes for the same decimal number (``n / 10**d`` is
    correctly rounded), so a value on a threshold compares equal to it. NaN and +/-inf pass
    through.

    Examples
    --------
    >>> float(round_published(0.13 - 0.12, 4)) == 0.01
    True
    >>> round_published([1.005, -2.5, 1.2449], 2).tolist()
    [1.01, -2.5, 1.24]
    """
    scale = 10.0 ** int(decimals)
    y = np.asarray(values, dtype=float) * scale
    rounded = np.copysign(np.floor(np.abs(y) + (0.5 + _HALF_NOISE)), y)
    out: FloatArray = np.asarray(rounded / scale)
    return out


#: How far below a half (in units of the last published digit) still rounds up: float noise.
_HALF_NOISE = 1e-6


def _score_metric(pack: RulePack, name: str, x: FloatArray) -> ScoreArray:
    """score_metric on a validated pack and a float array (marks the values read as used).

    The value is rounded to the pack's ``decimals`` for the metric (when it sets one)
    before it meets a threshold."""
    base = f"metrics.{name}"
    if pack.has(f"{base}.decimals"):
        x = round_published(x, int(pack.number(f"{base}.decimals")))
    th = pack.numbers(f"{base}.thresholds")
    key = f"{base}.boundary"
    boundary = [pack.text(key)] * 3 if isinstance(pack.get(key), str) else pack.texts(key)
    sign = -1.0 if pack.flag(f"{base}.higher_is_better") else 1.0
    xw = sign * x  # larger = worse; negation is exact, so ties stay ties
    s = np.ones(x.shape, dtype=SCORE_DTYPE)
    for t, b in zip(th, boundary, strict=True):
        tw = sign * float(t)
        s += (xw > tw) if b == "better" else (xw >= tw)
    s[np.isnan(x)] = NOT_APPLICABLE
    return s


# --------------------------------------------------------------------------------------
# Overall score
# --------------------------------------------------------------------------------------


class MetricScoreDict(TypedDict):
    """One metric in :meth:`ScoreResult.to_dict`: its value and score, or why it has none."""

    value: float | None
    score: int | None
    not_applicable: NotRequired[str]


class ScoreDict(TypedDict):
    """The ``score --json`` object (:meth:`ScoreResult.to_dict`)."""

    overall: int
    metrics: dict[str, MetricScoreDict]
    overrides: list[str]
    rules: str
    unverified: list[str]


@dataclass(frozen=True)
class ScoreResult:
    """The finance and use of resources score and how it was reached.

    For a scalar call the fields hold Python scalars; for an array call, arrays of the
    broadcast shape (``scalar`` tells which; :meth:`item` takes one element as a scalar
    result).

    Attributes
    ----------
    metric_scores : dict
        Metric name -> score 1-4. Not applicable: ``None`` (scalar) or
        :data:`NOT_APPLICABLE` = 0 (arrays).
    values : dict
        Metric name -> the value scored (``None`` / NaN when not applicable).
    applicable : dict
        Metric name -> whether the metric applies (bool or bool array).
    mean : float or ndarray
        Weighted mean of the applicable metric scores (rounded to 9 decimals, so 2.4 is
        2.4 and a tie is exactly .5).
    rounded : int or ndarray
        The mean rounded by the pack's rounding rule.
    overall : int or ndarray
        The final score after overrides [1 best .. 4 worst].
    overrides : tuple of str, or dict of str -> bool ndarray
        Scalar: names of the overrides whose condition held, in pack order (a cap that held
        is listed even if the score was already as bad, e.g. O1 with a mean of 3).
        Arrays: every enabled override -> where its condition held.
    unverified : tuple of str
        ``pack:key`` of each unverified rule value the result used.
    rules : str
        Pack name (with ``:variant``).
    scalar : bool
        True when every input was a scalar.
    """

    # Each of these holds a Python scalar (int, float, bool, None; a tuple for overrides)
    # when ``scalar`` and an ndarray otherwise: one class serves both, so the fields are
    # typed Any. Callers know which they hold (``score`` of arrays, or ``item``).
    metric_scores: dict[str, Any]
    values: dict[str, Any]
    applicable: dict[str, Any]
    mean: Any
    rounded: Any
    overall: Any
    overrides: Any
    unverified: tuple[str, ...]
    rules: str
    scalar: bool

    def item(self, index: int | tuple[int, ...]) -> ScoreResult:
        """The scalar result of one element of an array result (e.g. ``r.item((0, 5))``).

        ``unverified`` stays that of the whole array call, which may list a value this
        element did not need (e.g. thresholds of a metric not applicable here).
        """
        if self.scalar:
            return self
        applicable = {n: bool(a[index]) for n, a in self.applicable.items()}
        return ScoreResult(
            metric_scores={
                n: int(s[index]) if applicable[n] else None for n, s in self.metric_scores.items()
            },
            values={n: float(v[index]) if applicable[n] else None for n, v in self.values.items()},
            applicable=applicable,
            mean=float(self.mean[index]),
            rounded=int(self.rounded[index]),
            overall=int(self.overall[index]),
            overrides=tuple(n for n, held in self.overrides.items() if held[index]),
            unverified=self.unverified,
            rules=self.rules,
            scalar=True,
        )

    def period(self, index: int) -> ScoreResult:
        """The array result at ``index`` of the last axis (views): one period of a result
        scored on several periods stacked along that axis (e.g. the four quarter ends)."""
        if self.scalar:
            raise ValueError("period() needs an array result")

        def _at(a: Any) -> Any:
            return a[..., index]

        return ScoreResult(
            metric_scores={n: _at(s) for n, s in self.metric_scores.items()},
            values={n: _at(v) for n, v in self.values.items()},
            applicable={n: _at(a) for n, a in self.applicable.items()},
            mean=_at(self.mean),
            rounded=_at(self.rounded),
            overall=_at(self.overall),
            overrides={n: _at(h) for n, h in self.overrides.items()},
            unverified=self.unverified,
            rules=self.rules,
            scalar=False,
        )

    def to_dict(self, not_applicable: Mapping[str, str] | None = None) -> ScoreDict:
        """The ``score --json`` object (DESIGN.md §4) for a scalar result.

        ``{"overall", "metrics": {name: {"value", "score"}}, "overrides", "rules",
        "unverified"}``; a metric that is not applicable is
        ``{"value": None, "score": None, "not_applicable": reason}``, the reason taken from
        ``not_applicable`` (metric -> reason) when given there. For an array result, take
        one element first with :meth:`item`.
        """
        if not self.scalar:
            msg = "to_dict() needs a scalar result: take one element with .item(index)"
            raise ValueError(msg)
        reasons = not_applicable or {}
        metrics: dict[str, MetricScoreDict] = {}
        for name, s in self.metric_scores.items():
            if s is None:
                reason = reasons.get(name) or _NA_REASON
                metrics[name] = {"value": None, "score": None, "not_applicable": reason}
            else:
                metrics[name] = {"value": self.values[name], "score": s}
        return {
            "overall": self.overall,
            "metrics": metrics,
            "overrides": list(self.overrides),
            "rules": self.rules,
            "unverified": list(self.unverified),
        }


def _flag(name: str, value: ArrayLike) -> BoolArray:
    arr = np.asarray(value)
    if arr.dtype != bool:
        msg = f"must be True or False (or a bool array), got {value!r}"
        raise ValidationError([Problem(name, msg)])
    return arr


@dataclass(frozen=True)
class _Flags:
    """The flags the overrides read, as bool arrays of the broadcast shape."""

    control_total_accepted: BoolArray
    planned_surplus: BoolArray | None  # None: not given
    financial_special_measures: BoolArray


def _condition(rule: Override, scores: dict[str, ScoreArray], flags: _Flags) -> BoolArray:
    """Where an override rule's condition holds (bool array)."""
    cond = rule.condition
    if cond == "any_metric_at":
        at = rule.score
        if at is None:  # validate_sof_pack requires it
            raise ValueError(f"override {rule.name}: any_metric_at needs a score")
        out: BoolArray = np.logical_or.reduce([s >= at for s in scores.values()])
        return out
    if cond == "financial_special_measures":
        return flags.financial_special_measures
    # control_total_not_accepted_and_planned_{deficit,surplus}
    not_accepted = ~flags.control_total_accepted
    surplus = flags.planned_surplus
    if surplus is None:  # allowed only where every control total is accepted
        return np.zeros(not_accepted.shape, dtype=bool)
    return not_accepted & (surplus if cond.endswith("_surplus") else ~surplus)


def _inputs(
    names: tuple[str, ...],
    values: Mapping[str, ArrayLike | None],
    *,
    control_total_accepted: ArrayLike,
    planned_surplus: ArrayLike | None,
    financial_special_measures: ArrayLike,
) -> tuple[dict[str, FloatArray], _Flags, bool]:
    """Metric values as float arrays and flags as bool arrays, all broadcast to one shape.

    Returns (values, flags, scalar); ``flags.planned_surplus`` stays None if not given.
    """
    problems = [
        Problem(n, "missing (use None for not applicable)") for n in names if n not in values
    ]
    problems += [
        Problem(n, f"unknown metric (the pack scores: {', '.join(names)})")
        for n in values
        if n not in names
    ]
    if problems:
        raise ValidationError(problems)
    raw = {n: _values_array(n, values[n]) for n in names}
    accepted = _flag("control_total_accepted", control_total_accepted)
    surplus = None if planned_surplus is None else _flag("planned_surplus", planned_surplus)
    special = _flag("financial_special_measures", financial_special_measures)
    arrays = [*raw.values(), *(b for b in (accepted, surplus, special) if b is not None)]
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
    except ValueError:
        shapes = ", ".join(f"{n} {raw[n].shape}" for n in names)
        msg = f"metric values and flags must broadcast together; got {shapes}"
        raise ValidationError([Problem("values", msg)]) from None
    flags = _Flags(
        control_total_accepted=np.broadcast_to(accepted, shape),
        planned_surplus=None if surplus is None else np.broadcast_to(surplus, shape),
        financial_special_measures=np.broadcast_to(special, shape),
    )
    raw = {n: np.broadcast_to(v, shape) for n, v in raw.items()}
    return raw, flags, all(a.ndim == 0 for a in arrays)


def _apply_overrides(
    pack: RulePack, rounded: ScoreArray, scores: dict[str, ScoreArray], flags: _Flags
) -> tuple[ScoreArray, dict[str, BoolArray]]:
    """The overall score after the pack's enabled overrides, and where each one held."""
    rules = overrides(pack)
    surplus, accepted = flags.planned_surplus, flags.control_total_accepted
    needs_plan = [r.name for r in rules if r.condition.startswith("control_total_not_accepted")]
    if surplus is None and needs_plan and not accepted.all():
        msg = (
            "must be given where the control total is not accepted (a planned surplus or "
            f"break-even, or a planned deficit): override(s) {', '.join(needs_plan)} depend on it"
        )
        raise ValidationError([Problem("planned_surplus", msg)])
    overall = rounded.copy()
    held: dict[str, BoolArray] = {}
    sets: list[tuple[BoolArray, int]] = []
    for rule in rules:
        held[rule.name] = np.broadcast_to(_condition(rule, scores, flags), rounded.shape).copy()
        if rule.cap is not None:
            overall = np.where(held[rule.name], np.maximum(overall, rule.cap), overall)
        elif rule.set is not None:
            sets.append((held[rule.name], rule.set))
    for where, value in sorted(sets, key=lambda s: s[1]):  # the worst set wins
        overall = np.where(where, value, overall)
    return overall, held


def score(
    values: Mapping[str, ArrayLike | None],
    *,
    pack: PackLike = "sof-2016",
    control_total_accepted: ArrayLike = True,
    planned_surplus: ArrayLike | None = None,
    financial_special_measures: ArrayLike = False,
) -> ScoreResult:
    """The overall finance and use of resources score from the metric values.

    Parameters
    ----------
    values : mapping of str to numeric or None
        One entry per metric of the pack (for sof-2016: ``capital_service_capacity``
        [times], ``liquidity_days`` [days], ``ie_margin`` [fraction],
        ``distance_from_plan`` [pp as a fraction, -0.015 = -1.5pp], ``agency_vs_ceiling``
        [fraction]). None or NaN = not applicable. Scalars or arrays that broadcast.
        A missing or unknown name is an error (so a typo cannot pass as not applicable).
    pack : str, Path or RulePack
        SOF rule pack: name, ``name:variant`` (``"sof-2016:nov-2017"``) or a path.
    control_total_accepted : bool or bool array
        Whether the trust accepted its control total (overrides O2/O3).
    planned_surplus : bool, bool array or None
        True if the trust plans a surplus (break-even counts as a surplus, since it is not a
        deficit), False if it plans a deficit. Needed only where the control total is not
        accepted; None there raises ValidationError rather than guess.
    financial_special_measures : bool or bool array
        Whether the trust is in financial special measures (override O4).

    Returns
    -------
    ScoreResult

    Raises
    ------
    ValidationError
        Missing/unknown metric, a non-numeric value, a flag that is not boolean, no
        applicable metric, or ``planned_surplus`` missing where it is needed.
    RulePackError
        The pack cannot be loaded or fails :func:`validate_sof_pack`.
    """
    pack = sof_pack(pack)
    names = metric_names(pack)
    raw, flags, scalar = _inputs(
        names,
        values,
        control_total_accepted=control_total_accepted,
        planned_surplus=planned_surplus,
        financial_special_measures=financial_special_measures,
    )
    shape = flags.control_total_accepted.shape
    applicable = {n: ~np.isnan(v) for n, v in raw.items()}
    scores = {
        n: _score_metric(pack, n, v)
        if applicable[n].any()
        else np.full(shape, NOT_APPLICABLE, dtype=SCORE_DTYPE)
        for n, v in raw.items()
    }
    mean = _weighted_mean(pack, names, applicable, scores)
    if pack.get("rounding") == "half_up_to_worse":
        rounded = np.floor(mean + 0.5).astype(SCORE_DTYPE)
    else:
        rounded = np.ceil(mean - 0.5).astype(SCORE_DTYPE)
    overall, held = _apply_overrides(pack, rounded, scores, flags)

    result = ScoreResult(
        metric_scores=scores,
        values=dict(raw),
        applicable=applicable,
        mean=mean,
        rounded=rounded,
        overall=np.asarray(overall, dtype=SCORE_DTYPE),
        overrides=held,
        unverified=tuple(pack.unverified_used()),
        rules=pack.name,
        scalar=False,
    )
    return result.item(()) if scalar else result


def _weighted_mean(
    pack: RulePack,
    names: tuple[str, ...],
    applicable: dict[str, BoolArray],
    scores: dict[str, ScoreArray],
) -> FloatArray:
    """The weighted mean of the applicable scores, weights renormalised over them (rounded
    to 9 decimals, so a tie is exactly .5)."""
    weights = pack.weights("weights")
    wsum: FloatArray = sum(
        (np.where(applicable[n], weights[n], 0.0) for n in names), start=np.zeros(())
    )
    if np.any(wsum <= 0):
        msg = "no applicable metric (with a weight above 0) to score"
        raise ValidationError([Problem("values", msg)])
    total: FloatArray = sum(
        (np.where(applicable[n], weights[n] * scores[n], 0.0) for n in names), start=np.zeros(())
    )
    mean: FloatArray = np.round(total / wsum, 9)
    return mean
