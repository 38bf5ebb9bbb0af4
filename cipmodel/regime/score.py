"""The SOF finance and use of resources score: five metric scores, their mean and overrides.

Everything year-specific (thresholds, direction, boundary rule, weights, rounding,
overrides) comes from a ``kind = "sof"`` rule pack (``cipmodel/rules/sof-2016.toml``;
keys in ``docs/rules.md``). This module holds only the mechanics:

1. Each metric value is scored 1 (best) to 4 (worst) against three thresholds
   (:func:`score_metric`). A value exactly on a threshold goes to the better or the worse
   score as the pack's ``boundary`` says.
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

import dataclasses
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cipmodel.errors import Problem, ValidationError
from cipmodel.regime.packs import RulePack, is_number, load_pack

__all__ = [
    "BOUNDARIES",
    "CONDITIONS",
    "NOT_APPLICABLE",
    "ROUNDINGS",
    "SCORE_DTYPE",
    "UNITS",
    "ScoreResult",
    "metric_names",
    "score",
    "score_metric",
    "sof_pack",
    "validate_sof_pack",
]

NOT_APPLICABLE = 0
"""Score given, in arrays, to a metric that is not applicable (its value was None/NaN)."""

SCORE_DTYPE = np.int8
"""dtype of score arrays (scores are 0-4): small, as Monte Carlo arrays are (draw, trust)."""

BOUNDARIES = ("better", "worse")
"""Where a value exactly on a threshold goes: the better (lower) or the worse score."""

ROUNDINGS = ("half_up_to_worse", "half_down_to_better")
"""Rules for rounding the mean to a whole score; they differ only on a .5 tie."""

UNITS = ("times", "days", "fraction", "pp")
"""Metric units: ``pp`` is percentage points written as a fraction (-0.015 = -1.5pp)."""

CONDITIONS = {
    "any_metric_at": ("score",),
    "control_total_not_accepted_and_planned_deficit": (),
    "control_total_not_accepted_and_planned_surplus": (),
    "financial_special_measures": (),
}
"""Override conditions the engine knows, each with the parameters it takes."""

_NA_REASON = "no value given (not applicable); left out of the mean"
_METRIC_KEYS = ("unit", "higher_is_better", "thresholds", "boundary")
_PackLike = str | Path | RulePack


# --------------------------------------------------------------------------------------
# Rule pack
# --------------------------------------------------------------------------------------


def sof_pack(pack: _PackLike = "sof-2016") -> RulePack:
    """Load (name, ``name:variant`` or path) and validate a SOF pack.

    A :class:`RulePack` passed in is validated and returned as a copy with a fresh record of
    the values used, so :meth:`RulePack.unverified_used` reports one result's dependencies.

    Raises
    ------
    RulePackError
        Naming the file, the key and the reason.
    """
    if isinstance(pack, RulePack):
        if pack.kind != "sof":
            raise pack.error("pack.kind", f"is {pack.kind!r}, but a 'sof' pack is needed here")
        pack = dataclasses.replace(pack, _used=set())
    else:
        pack = load_pack(pack, kind="sof")
    validate_sof_pack(pack)
    return pack


def metric_names(pack: RulePack) -> tuple[str, ...]:
    """The metrics a SOF pack scores: the keys of its ``weights`` table, in order."""
    weights = pack.peek("weights")
    if not isinstance(weights, dict) or not weights:
        raise pack.error("weights", "must be a table of metric name = weight")
    return tuple(weights)


def _check_metric(pack: RulePack, name: str) -> None:
    base = f"metrics.{name}"
    unit = pack.peek(f"{base}.unit")
    if unit not in UNITS:
        raise pack.error(f"{base}.unit", f"must be one of {', '.join(UNITS)}, got {unit!r}")
    hib = pack.peek(f"{base}.higher_is_better")
    if not isinstance(hib, bool):
        raise pack.error(f"{base}.higher_is_better", f"must be true or false, got {hib!r}")
    th = pack.peek(f"{base}.thresholds")
    if not (isinstance(th, list) and len(th) == 3 and all(is_number(t) for t in th)):
        raise pack.error(f"{base}.thresholds", f"must be a list of 3 finite numbers, got {th!r}")
    ordered = all((a > b) if hib else (a < b) for a, b in zip(th, th[1:], strict=False))
    if not ordered:
        way = "decreasing (higher is better)" if hib else "increasing (lower is better)"
        raise pack.error(f"{base}.thresholds", f"must be strictly {way}, got {th!r}")
    bd = pack.peek(f"{base}.boundary")
    ok = bd in BOUNDARIES or (
        isinstance(bd, list) and len(bd) == 3 and all(b in BOUNDARIES for b in bd)
    )
    if not ok:
        reason = f"must be 'better' or 'worse', or a list of 3 of them, got {bd!r}"
        raise pack.error(f"{base}.boundary", reason)


def _check_override(pack: RulePack, key: str) -> None:
    rule = pack.leaf(key).value
    if not isinstance(rule, dict):
        raise pack.error(key, "must be a table with condition and cap or set")
    enabled = rule.get("enabled", True)
    if not isinstance(enabled, bool):
        raise pack.error(key, f"enabled must be true or false, got {enabled!r}")
    if not enabled:
        return  # documented, inactive: not evaluated
    cond = rule.get("condition")
    if cond not in CONDITIONS:
        reason = f"unknown condition {cond!r} (known: {', '.join(CONDITIONS)})"
        raise pack.error(key, reason)
    effects = [e for e in ("cap", "set") if e in rule]
    if len(effects) != 1:
        raise pack.error(key, "needs exactly one of cap = n or set = n")
    allowed = {"condition", "enabled", "description", *effects, *CONDITIONS[cond]}
    extra = sorted(set(rule) - allowed)
    if extra:
        raise pack.error(key, f"unknown field(s) {', '.join(extra)} for condition {cond!r}")
    for field in (*effects, *CONDITIONS[cond]):
        if field not in rule:
            raise pack.error(key, f"condition {cond!r} needs {field} = n")
        v = rule[field]
        if not (isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 4):
            raise pack.error(key, f"{field} must be a whole score 1-4, got {v!r}")


def validate_sof_pack(pack: RulePack) -> None:
    """Check that a SOF pack is complete and consistent; marks nothing as used.

    Checks: every metric named in ``weights`` has ``unit``, ``higher_is_better``,
    ``thresholds`` (3 finite numbers, strictly decreasing when higher is better, strictly
    increasing otherwise) and ``boundary``; weights are >= 0 and sum to 1; ``rounding`` is a
    known rule; every enabled override has a known condition, its parameter, and one of
    ``cap``/``set`` (a score 1-4); no leaf is unknown (a typo in a key is an error).

    Raises
    ------
    RulePackError
        The first problem found, naming the pack file, the key and the reason.
    """
    names = metric_names(pack)
    weights = pack.peek("weights")
    for name, w in weights.items():
        if not (is_number(w) and w >= 0):
            raise pack.error(f"weights.{name}", f"must be a number >= 0, got {w!r}")
    total = math.fsum(weights.values())
    if abs(total - 1.0) > 1e-9:
        raise pack.error("weights", f"must sum to 1, got {total:g}")
    for name in names:
        _check_metric(pack, name)
    rounding = pack.peek("rounding")
    if rounding not in ROUNDINGS:
        reason = f"must be one of {', '.join(ROUNDINGS)}, got {rounding!r}"
        raise pack.error("rounding", reason)
    known = {"weights", "rounding"} | {f"metrics.{n}.{k}" for n in names for k in _METRIC_KEYS}
    for key in pack.leaves:
        if key.startswith("overrides.") and key.count(".") == 1:
            _check_override(pack, key)
        elif key not in known:
            if key.startswith("metrics."):
                reason = "unknown key (a metric must be listed in weights; metric keys are "
                reason += f"{', '.join(_METRIC_KEYS)})"
            else:
                reason = "unknown key for a sof pack"
            raise pack.error(key, reason)


def _overrides(pack: RulePack) -> list[tuple[str, dict[str, Any]]]:
    """Enabled override rules as (name, rule), read (and so recorded as used)."""
    out = []
    for key in pack.leaves:
        if key.startswith("overrides.") and pack.leaf(key).value.get("enabled", True):
            out.append((key.split(".", 1)[1], pack.get(key)))
    return out


# --------------------------------------------------------------------------------------
# Metric scores
# --------------------------------------------------------------------------------------


def _values_array(name: str, values: Any) -> np.ndarray:
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


def _is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool | np.bool_)


def score_metric(name: str, values: Any, pack: _PackLike = "sof-2016") -> np.ndarray:
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


def _score_metric(pack: RulePack, name: str, x: np.ndarray) -> np.ndarray:
    """score_metric on a validated pack and a float array (marks the values read as used)."""
    base = f"metrics.{name}"
    th = pack.get(f"{base}.thresholds")
    boundary = pack.get(f"{base}.boundary")
    if isinstance(boundary, str):
        boundary = [boundary] * 3
    sign = -1.0 if pack.get(f"{base}.higher_is_better") else 1.0
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

    def item(self, index: Any) -> ScoreResult:
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

    def to_dict(self, not_applicable: Mapping[str, str] | None = None) -> dict[str, Any]:
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
        metrics: dict[str, Any] = {}
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


def _flag(name: str, value: Any) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype != bool:
        msg = f"must be True or False (or a bool array), got {value!r}"
        raise ValidationError([Problem(name, msg)])
    return arr


def _condition(
    rule: dict[str, Any], scores: dict[str, np.ndarray], flags: dict[str, np.ndarray | None]
) -> np.ndarray:
    """Where an override rule's condition holds (bool array)."""
    cond = rule["condition"]
    if cond == "any_metric_at":
        return np.logical_or.reduce([s >= rule["score"] for s in scores.values()])
    if cond == "financial_special_measures":
        return flags["financial_special_measures"]
    # control_total_not_accepted_and_planned_{deficit,surplus}
    not_accepted = ~flags["control_total_accepted"]
    surplus = flags["planned_surplus"]
    if surplus is None:  # allowed only where every control total is accepted
        return np.zeros(not_accepted.shape, dtype=bool)
    return not_accepted & (surplus if cond.endswith("_surplus") else ~surplus)


def _inputs(
    names: tuple[str, ...], values: Mapping[str, Any], **flags: Any
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray | None], bool]:
    """Metric values as float arrays and flags as bool arrays, all broadcast to one shape.

    Returns (values, flags, scalar); ``flags["planned_surplus"]`` stays None if not given.
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
    bools = {k: None if v is None else _flag(k, v) for k, v in flags.items()}
    arrays = [*raw.values(), *(b for b in bools.values() if b is not None)]
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
    except ValueError:
        shapes = ", ".join(f"{n} {raw[n].shape}" for n in names)
        msg = f"metric values and flags must broadcast together; got {shapes}"
        raise ValidationError([Problem("values", msg)]) from None
    raw = {n: np.broadcast_to(v, shape) for n, v in raw.items()}
    bools = {k: None if b is None else np.broadcast_to(b, shape) for k, b in bools.items()}
    return raw, bools, all(a.ndim == 0 for a in arrays)


def _apply_overrides(
    pack: RulePack,
    rounded: np.ndarray,
    scores: dict[str, np.ndarray],
    flags: dict[str, np.ndarray | None],
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The overall score after the pack's enabled overrides, and where each one held."""
    rules = _overrides(pack)
    surplus, accepted = flags["planned_surplus"], flags["control_total_accepted"]
    needs_plan = [n for n, r in rules if r["condition"].startswith("control_total_not_accepted")]
    if surplus is None and needs_plan and not accepted.all():
        msg = (
            "must be given where the control total is not accepted (a planned surplus or "
            f"break-even, or a planned deficit): override(s) {', '.join(needs_plan)} depend on it"
        )
        raise ValidationError([Problem("planned_surplus", msg)])
    overall = rounded.copy()
    held: dict[str, np.ndarray] = {}
    sets: list[tuple[np.ndarray, int]] = []
    for name, rule in rules:
        held[name] = np.broadcast_to(_condition(rule, scores, flags), rounded.shape).copy()
        if "cap" in rule:
            overall = np.where(held[name], np.maximum(overall, rule["cap"]), overall)
        else:
            sets.append((held[name], rule["set"]))
    for where, value in sorted(sets, key=lambda s: s[1]):  # the worst set wins
        overall = np.where(where, value, overall)
    return overall, held


def score(
    values: Mapping[str, Any],
    *,
    pack: _PackLike = "sof-2016",
    control_total_accepted: Any = True,
    planned_surplus: Any = None,
    financial_special_measures: Any = False,
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
    shape = flags["control_total_accepted"].shape
    applicable = {n: ~np.isnan(v) for n, v in raw.items()}
    scores = {
        n: _score_metric(pack, n, v)
        if applicable[n].any()
        else np.full(shape, NOT_APPLICABLE, dtype=SCORE_DTYPE)
        for n, v in raw.items()
    }
    weights = pack.get("weights")
    wsum = sum(np.where(applicable[n], weights[n], 0.0) for n in names)
    if np.any(wsum <= 0):
        msg = "no applicable metric (with a weight above 0) to score"
        raise ValidationError([Problem("values", msg)])
    total = sum(np.where(applicable[n], weights[n] * scores[n], 0.0) for n in names)
    mean = np.round(total / wsum, 9)
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
