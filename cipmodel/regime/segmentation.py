"""SOF segmentation: the finance trigger and a *candidate* segment.

Segmentation (1 = maximum autonomy .. 4 = special measures) is NHS Improvement's judgement
across five themes, not a formula (domain.md §1.2). The finance and use of resources score
is one input: a score of 3 or 4 prompts consideration of a support need ([B]). This module
turns that, and optional concern levels for the other four themes, into a *candidate*
segment by a simple rule held in a ``kind = "segmentation"`` rule pack
(``cipmodel/rules/segmentation-2016.toml``; every value unverified). With that pack:

- quality or financial special measures -> 4;
- otherwise finance score 4, or any theme ``"serious"`` -> 3;
- otherwise the finance trigger (score 3-4), or any theme ``"concern"`` -> 2;
- otherwise 1.

Results are labelled ``"candidate"``: a model of where the trust may land, not the
regulator's decision. :func:`candidate_segment` explains one trust's result;
:func:`candidate_segments` is the vectorised form for a portfolio or for draws.

Examples
--------
>>> candidate_segment(3).segment
2
>>> candidate_segment(2, quality="serious").reasons
('quality: serious -> segment 3 (rules.mandated_support)',)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypedDict, TypeGuard

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cipmodel.errors import Problem, ValidationError
from cipmodel.regime.packs import PackLike, RulePack, TomlValue, load_pack

__all__ = [
    "CONDITIONS",
    "SPECIAL_MEASURES",
    "THEMES",
    "CandidateSegment",
    "CandidateSegments",
    "SegmentDict",
    "candidate_segment",
    "candidate_segments",
    "finance_trigger",
    "segmentation_pack",
    "validate_segmentation_pack",
]

THEMES = ("quality", "operational", "strategic_change", "leadership")
"""The SOF themes other than finance, each given as a concern level."""

SPECIAL_MEASURES = ("quality", "finance")
"""Kinds of special measures a rule can name."""

CONDITIONS = (
    "special_measures",
    "finance_score_at_least",
    "finance_trigger",
    "theme_level_at_least",
)
"""Conditions a segmentation rule may use (a rule holds when any of its conditions holds)."""

_SM_LABEL = {"quality": "quality special measures", "finance": "financial special measures"}
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


# --------------------------------------------------------------------------------------
# Rule pack
# --------------------------------------------------------------------------------------


def segmentation_pack(pack: PackLike = "segmentation-2016") -> RulePack:
    """Load (name, ``name:variant`` or path) and validate a segmentation pack.

    A :class:`RulePack` passed in is validated and returned as a copy with a fresh record of
    the values used.
    """
    if isinstance(pack, RulePack):
        if pack.kind != "segmentation":
            reason = f"is {pack.kind!r}, but a 'segmentation' pack is needed here"
            raise pack.error("pack.kind", reason)
        pack = dataclasses.replace(pack, _used=set())
    else:
        pack = load_pack(pack, kind="segmentation")
    validate_segmentation_pack(pack)
    return pack


def _score_1_4(v: TomlValue | None) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 4


def _check_rule(pack: RulePack, key: str, levels: list[str]) -> None:
    rule = pack.leaf(key).value
    if not isinstance(rule, dict) or not _score_1_4(rule.get("segment")):
        raise pack.error(key, "must be a table with segment = 1-4 and at least one condition")
    unknown = sorted(set(rule) - {"segment", *CONDITIONS})
    if unknown:
        reason = f"unknown condition(s) {', '.join(unknown)} (known: {', '.join(CONDITIONS)})"
        raise pack.error(key, reason)
    if len(rule) < 2:
        raise pack.error(key, "needs at least one condition")
    sm = rule.get("special_measures", [])
    if not (isinstance(sm, list) and set(sm) <= set(SPECIAL_MEASURES)):
        raise pack.error(key, f"special_measures must list some of {SPECIAL_MEASURES}, got {sm!r}")
    if "finance_score_at_least" in rule and not _score_1_4(rule["finance_score_at_least"]):
        got = rule["finance_score_at_least"]
        raise pack.error(key, f"finance_score_at_least must be a score 1-4, got {got!r}")
    if rule.get("finance_trigger", True) is not True:
        raise pack.error(key, "finance_trigger can only be true (leave it out otherwise)")
    if rule.get("theme_level_at_least", levels[0]) not in levels:
        got = rule["theme_level_at_least"]
        raise pack.error(key, f"theme_level_at_least must be one of {levels}, got {got!r}")


def validate_segmentation_pack(pack: RulePack) -> None:
    """Check a segmentation pack is complete and consistent; marks nothing as used.

    Raises
    ------
    RulePackError
        The first problem found, naming the pack file, the key and the reason.
    """
    if not _score_1_4(pack.peek("finance_trigger.score_at_least")):
        got = pack.leaf("finance_trigger.score_at_least").value
        raise pack.error("finance_trigger.score_at_least", f"must be a score 1-4, got {got!r}")
    raw = pack.peek("theme_levels")
    levels = [x for x in raw if isinstance(x, str)] if isinstance(raw, list) else []
    ok = isinstance(raw, list) and len(levels) == len(raw)
    if not (ok and len(levels) >= 2 and len(set(levels)) == len(levels)):
        reason = f"must be a list of 2 or more distinct level names, mildest first, got {raw!r}"
        raise pack.error("theme_levels", reason)
    if not _score_1_4(pack.peek("default_segment")):
        got = pack.leaf("default_segment").value
        raise pack.error("default_segment", f"must be a segment 1-4, got {got!r}")
    for key in pack.leaves:
        if key.startswith("rules.") and key.count(".") == 1:
            _check_rule(pack, key, levels)
        elif key not in ("finance_trigger.score_at_least", "theme_levels", "default_segment"):
            raise pack.error(key, "unknown key for a segmentation pack")


# --------------------------------------------------------------------------------------
# Engine
# --------------------------------------------------------------------------------------


def _finance_scores(name: str, scores: ArrayLike) -> IntArray:
    arr = np.asarray(scores)
    if arr.dtype.kind in "iu" or (arr.dtype.kind == "f" and np.all(arr == np.round(arr))):
        whole = arr.astype(np.int64)
        if np.all((whole >= 1) & (whole <= 4)):
            return whole
    got = repr(scores) if arr.ndim == 0 else f"an array ({arr.dtype}) with other values"
    msg = f"must be whole finance and use of resources scores 1-4, got {got}"
    raise ValidationError([Problem(name, msg)])


def finance_trigger(
    overall_score: ArrayLike, *, pack: PackLike = "segmentation-2016"
) -> bool | BoolArray:
    """Whether a finance and use of resources score prompts a potential support need.

    Parameters
    ----------
    overall_score : int or int array
        Overall SOF finance score(s) [1 best .. 4 worst].
    pack : str, Path or RulePack
        Segmentation pack; the threshold is ``finance_trigger.score_at_least`` (3, [B]).

    Returns
    -------
    bool or bool ndarray
    """
    pack = segmentation_pack(pack)
    fired = _finance_scores("overall_score", overall_score) >= pack.number(
        "finance_trigger.score_at_least"
    )
    return bool(fired) if fired.ndim == 0 else fired


def _levels(name: str, value: ArrayLike | None, levels: list[str]) -> IntArray:
    """Concern level(s) as indices into ``levels``; None means the mildest level."""
    arr = np.asarray(value if value is not None else levels[0], dtype=object)
    codes = []
    for v in arr.flat:
        level = levels[0] if v is None else v
        if level not in levels:
            msg = f"must be one of {', '.join(map(repr, levels))} (or None), got {v!r}"
            raise ValidationError([Problem(name, msg)])
        codes.append(levels.index(level))
    return np.array(codes, dtype=np.int64).reshape(arr.shape)


def _bool(name: str, value: ArrayLike) -> BoolArray:
    arr = np.asarray(value)
    if arr.dtype != bool:
        raise ValidationError([Problem(name, f"must be True or False, got {value!r}")])
    return arr


@dataclass(frozen=True)
class _Rule:
    """One rule of a validated segmentation pack: the segment it gives and its conditions."""

    key: str
    segment: int
    special_measures: tuple[str, ...]
    finance_score_at_least: int | None
    finance_trigger: bool
    theme_level_at_least: str | None

    @classmethod
    def read(cls, pack: RulePack, key: str) -> _Rule:
        """The rule at ``key``, read (and so recorded as used)."""
        rule = pack.table(key)
        segment = rule.get("segment")
        if not _score_1_4(segment):  # validate_segmentation_pack refuses it first
            raise pack.error(key, "must be a table with segment = 1-4")
        n = rule.get("finance_score_at_least")
        level = rule.get("theme_level_at_least")
        sm = rule.get("special_measures", [])
        return cls(
            key=key,
            segment=segment,
            special_measures=tuple(str(k) for k in sm) if isinstance(sm, list) else (),
            finance_score_at_least=n if isinstance(n, int) else None,
            finance_trigger=bool(rule.get("finance_trigger")),
            theme_level_at_least=level if isinstance(level, str) else None,
        )


def _evaluate(
    pack: RulePack,
    finance_score: ArrayLike,
    themes: Mapping[str, ArrayLike | None],
    special: Mapping[str, ArrayLike],
) -> tuple[IntArray, list[tuple[str, int, str, BoolArray]]]:
    """Segments and every (rule, segment, condition label, where it held)."""
    fs = _finance_scores("finance_score", finance_score)
    levels = pack.texts("theme_levels")
    codes = {t: _levels(t, v, levels) for t, v in themes.items()}
    sm = {k: _bool(f"special_measures_{k}", v) for k, v in special.items()}
    try:
        shape = np.broadcast_shapes(
            fs.shape, *(c.shape for c in codes.values()), *(s.shape for s in sm.values())
        )
    except ValueError:
        msg = "finance scores, theme levels and flags must broadcast together"
        raise ValidationError([Problem("finance_score", msg)]) from None
    trigger = pack.number("finance_trigger.score_at_least")
    segment = np.full(shape, pack.number("default_segment"), dtype=np.int64)
    held: list[tuple[str, int, str, BoolArray]] = []
    for key in pack.leaves:
        if not key.startswith("rules."):
            continue
        rule = _Rule.read(pack, key)
        conds: list[tuple[str, BoolArray]] = []
        for kind in rule.special_measures:
            conds.append((_SM_LABEL[kind], sm[kind]))
        if rule.finance_score_at_least is not None:
            n = rule.finance_score_at_least
            conds.append((f"finance score >= {n}", fs >= n))
        if rule.finance_trigger:
            conds.append((f"finance trigger (score >= {trigger})", fs >= trigger))
        if rule.theme_level_at_least is not None:
            at = levels.index(rule.theme_level_at_least)
            for theme, c in codes.items():
                for i in range(at, len(levels)):
                    conds.append((f"{theme}: {levels[i]}", c == i))
        for label, cond in conds:
            where = np.broadcast_to(cond, shape)
            held.append((key, rule.segment, label, where))
            segment = np.where(where, np.maximum(segment, rule.segment), segment)
    return segment, held


class SegmentDict(TypedDict):
    """A candidate segment as JSON (:meth:`CandidateSegment.to_dict`)."""

    segment: int
    label: str
    reasons: list[str]
    rules: str
    unverified: list[str]


@dataclass(frozen=True)
class CandidateSegment:
    """A candidate SOF segment for one trust, with the reasons for it.

    Attributes
    ----------
    segment : int
        Candidate segment 1 (maximum autonomy) .. 4 (special measures).
    reasons : tuple of str
        Each condition that held for a rule giving this segment, as ``"<condition> ->
        segment n (rules.<name>)"``; when none held, why the default applies.
    label : str
        Always ``"candidate"``: segmentation is the regulator's judgement.
    rules : str
        Segmentation pack name.
    unverified : tuple of str
        ``pack:key`` of the unverified values used (all of them, for the shipped pack).
    """

    segment: int
    reasons: tuple[str, ...]
    label: str = "candidate"
    rules: str = ""
    unverified: tuple[str, ...] = ()

    def to_dict(self) -> SegmentDict:
        """JSON-ready dict: segment, label, reasons, rules, unverified."""
        return {
            "segment": self.segment,
            "label": self.label,
            "reasons": list(self.reasons),
            "rules": self.rules,
            "unverified": list(self.unverified),
        }


@dataclass(frozen=True)
class CandidateSegments:
    """Candidate SOF segments for many trusts or draws (see :func:`candidate_segments`)."""

    segment: IntArray
    label: str = "candidate"
    rules: str = ""
    unverified: tuple[str, ...] = ()

    def counts(self) -> dict[int, int]:
        """Number of elements in each candidate segment 1-4 (zeros included)."""
        n = np.bincount(self.segment.ravel(), minlength=5)
        return {s: int(n[s]) for s in range(1, 5)}


def candidate_segments(
    finance_scores: ArrayLike,
    *,
    quality: ArrayLike | None = None,
    operational: ArrayLike | None = None,
    strategic_change: ArrayLike | None = None,
    leadership: ArrayLike | None = None,
    special_measures_quality: ArrayLike = False,
    special_measures_finance: ArrayLike = False,
    pack: PackLike = "segmentation-2016",
) -> CandidateSegments:
    """Candidate segments, vectorised: every argument may be a scalar or an array.

    Parameters are those of :func:`candidate_segment`; arrays broadcast together (e.g.
    finance scores shaped ``(draw, trust)`` with theme levels shaped ``(trust,)``).
    """
    pack = segmentation_pack(pack)
    themes = dict(zip(THEMES, (quality, operational, strategic_change, leadership), strict=True))
    special = {"quality": special_measures_quality, "finance": special_measures_finance}
    segment, _ = _evaluate(pack, finance_scores, themes, special)
    return CandidateSegments(segment, rules=pack.name, unverified=tuple(pack.unverified_used()))


def candidate_segment(
    finance_score: int,
    *,
    quality: str | None = None,
    operational: str | None = None,
    strategic_change: str | None = None,
    leadership: str | None = None,
    special_measures_quality: bool = False,
    special_measures_finance: bool = False,
    pack: PackLike = "segmentation-2016",
) -> CandidateSegment:
    """The candidate SOF segment for one trust, with the reasons.

    Parameters
    ----------
    finance_score : int
        Overall finance and use of resources score [1 best .. 4 worst].
    quality, operational, strategic_change, leadership : str or None
        Concern level for each other theme, one of the pack's ``theme_levels``
        (``"none"``, ``"concern"``, ``"serious"``). None = not assessed, treated as
        ``"none"``.
    special_measures_quality, special_measures_finance : bool
        Whether the trust is in quality / financial special measures.
    pack : str, Path or RulePack
        Segmentation pack.

    Returns
    -------
    CandidateSegment
        Labelled ``"candidate"``; the reasons name each rule condition that held.
    """
    pack = segmentation_pack(pack)
    themes = dict(zip(THEMES, (quality, operational, strategic_change, leadership), strict=True))
    special = {"quality": special_measures_quality, "finance": special_measures_finance}
    segment, held = _evaluate(pack, finance_score, themes, special)
    if segment.ndim:
        msg = "must be a single score here; use candidate_segments() for arrays"
        raise ValidationError([Problem("finance_score", msg)])
    seg_ = int(segment)
    reasons = tuple(
        f"{label} -> segment {seg} ({key})"
        for key, seg, label, where in held
        if where and seg == seg_
    )
    if not reasons:
        default = pack.get("default_segment")
        reasons = (
            f"no rule held (finance score {int(finance_score)}) -> segment {default} "
            "(default_segment)",
        )
    return CandidateSegment(
        segment=seg_,
        reasons=reasons,
        rules=pack.name,
        unverified=tuple(pack.unverified_used()),
    )
