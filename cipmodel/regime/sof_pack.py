"""SOF rule packs: loading and validating a ``kind = "sof"`` pack, and reading its overrides.

:mod:`cipmodel.regime.score` scores with a validated pack (``cipmodel/rules/sof-2016.toml``;
keys in ``docs/rules.md``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from cipmodel.regime.packs import PackLike, RulePack, TomlValue, is_number, load_pack

__all__ = [
    "BOUNDARIES",
    "CONDITIONS",
    "ROUNDINGS",
    "UNITS",
    "Override",
    "metric_names",
    "overrides",
    "sof_pack",
    "validate_sof_pack",
]

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

_METRIC_KEYS = ("unit", "higher_is_better", "thresholds", "boundary", "decimals")
#: The most decimal places a metric may be rounded to before scoring.
MAX_DECIMALS = 12


def sof_pack(pack: PackLike = "sof-2016") -> RulePack:
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
    nums = [t for t in th if is_number(t)] if isinstance(th, list) else []
    if not (isinstance(th, list) and len(th) == 3 and len(nums) == 3):
        raise pack.error(f"{base}.thresholds", f"must be a list of 3 finite numbers, got {th!r}")
    ordered = all((a > b) if hib else (a < b) for a, b in zip(nums, nums[1:], strict=False))
    if not ordered:
        way = "decreasing (higher is better)" if hib else "increasing (lower is better)"
        raise pack.error(f"{base}.thresholds", f"must be strictly {way}, got {th!r}")
    if pack.has(f"{base}.decimals"):  # optional: no rounding when absent
        dec = pack.peek(f"{base}.decimals")
        if not (isinstance(dec, int) and not isinstance(dec, bool) and 0 <= dec <= MAX_DECIMALS):
            reason = f"must be a whole number of decimal places 0-{MAX_DECIMALS}, got {dec!r}"
            raise pack.error(f"{base}.decimals", reason)
        off = [t for t in nums if abs(t * 10.0**dec - round(t * 10.0**dec)) > 1e-6]
        if off:
            reason = f"threshold {off[0]!r} has more than the {dec} decimal places values are "
            raise pack.error(f"{base}.decimals", reason + "rounded to before scoring")
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
    if not isinstance(cond, str) or cond not in CONDITIONS:
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
        if not _is_score(v):
            raise pack.error(key, f"{field} must be a whole score 1-4, got {v!r}")


def _is_score(v: TomlValue | None) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 4


def validate_sof_pack(pack: RulePack) -> None:
    """Check that a SOF pack is complete and consistent; marks nothing as used.

    Checks: every metric named in ``weights`` has ``unit``, ``higher_is_better``,
    ``thresholds`` (3 finite numbers, strictly decreasing when higher is better, strictly
    increasing otherwise) and ``boundary``, and optionally ``decimals`` (a whole number
    0-12: the value is rounded to that many decimal places before scoring); weights are >= 0 and sum to 1; ``rounding`` is a
    known rule; every enabled override has a known condition, its parameter, and one of
    ``cap``/``set`` (a score 1-4); no leaf is unknown (a typo in a key is an error).

    Raises
    ------
    RulePackError
        The first problem found, naming the pack file, the key and the reason.
    """
    names = metric_names(pack)
    weights = pack.peek("weights")
    if not isinstance(weights, dict):  # metric_names refuses it first
        raise pack.error("weights", "must be a table of metric name = weight")
    numbers: list[float] = []
    for name, w in weights.items():
        if not (is_number(w) and w >= 0):
            raise pack.error(f"weights.{name}", f"must be a number >= 0, got {w!r}")
        numbers.append(w)
    total = math.fsum(numbers)
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


@dataclass(frozen=True)
class Override:
    """One enabled override rule of a validated SOF pack.

    Attributes
    ----------
    name : str
        Its key under ``overrides`` (``"O1"``).
    condition : str
        One of :data:`CONDITIONS`.
    cap, set : int or None
        The score it caps at or sets (exactly one is given).
    score : int or None
        The ``any_metric_at`` condition's metric score.
    """

    name: str
    condition: str
    cap: int | None = None
    set: int | None = None
    score: int | None = None


def _score_or_none(rule: dict[str, TomlValue], key: str) -> int | None:
    v = rule.get(key)
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def overrides(pack: RulePack) -> list[Override]:
    """The enabled override rules in pack order, read (and so recorded as used)."""
    out = []
    for key in pack.leaves:
        value = pack.leaf(key).value
        if key.startswith("overrides.") and isinstance(value, dict):
            if not value.get("enabled", True):
                continue
            rule = pack.table(key)
            out.append(
                Override(
                    name=key.split(".", 1)[1],
                    condition=str(rule["condition"]),
                    cap=_score_or_none(rule, "cap"),
                    set=_score_or_none(rule, "set"),
                    score=_score_or_none(rule, "score"),
                )
            )
    return out
