"""Tests of the finance trigger and the candidate SOF segment (cipmodel.regime.segmentation).

The mapping tested is the modelling heuristic in ``segmentation-2016.toml`` (every value
unverified; segmentation is NHS Improvement's judgement, domain.md §1.2).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cipmodel.errors import ValidationError
from cipmodel.regime.score import score
from cipmodel.regime.segmentation import candidate_segment, candidate_segments, finance_trigger


@pytest.mark.parametrize(("overall", "fired"), [(1, False), (2, False), (3, True), (4, True)])
def test_finance_trigger(overall, fired):
    """A finance score of 3 or 4 prompts consideration of a support need; 1-2 does not."""
    assert finance_trigger(overall) is fired


def test_finance_trigger_vectorised():
    """finance_trigger takes arrays of scores and keeps their shape."""
    out = finance_trigger(np.array([[1, 2], [3, 4]]))
    assert out.tolist() == [[False, False], [True, True]]


@pytest.mark.parametrize(
    ("kwargs", "segment", "reason"),
    [
        ({"finance_score": 1}, 1, "no rule held (finance score 1)"),
        ({"finance_score": 2}, 1, "-> segment 1 (default_segment)"),
        ({"finance_score": 3}, 2, "finance trigger (score >= 3) -> segment 2"),
        ({"finance_score": 4}, 3, "finance score >= 4 -> segment 3 (rules.mandated_support)"),
        ({"finance_score": 1, "operational": "concern"}, 2, "operational: concern -> segment 2"),
        ({"finance_score": 2, "quality": "serious"}, 3, "quality: serious -> segment 3"),
        ({"finance_score": 1, "leadership": "none"}, 1, "default_segment"),
        (
            {"finance_score": 1, "special_measures_quality": True},
            4,
            "quality special measures -> segment 4",
        ),
        (
            {"finance_score": 4, "special_measures_finance": True},
            4,
            "financial special measures -> segment 4",
        ),
    ],
)
def test_candidate_segment_rules(kwargs, segment, reason):
    """Each rule of the heuristic gives its segment, with the reason named."""
    result = candidate_segment(**kwargs)
    assert result.segment == segment
    assert any(reason in r for r in result.reasons), result.reasons
    assert result.label == "candidate"


def test_candidate_reasons_list_every_condition_at_the_segment():
    """All conditions giving the final segment are listed; weaker ones are not."""
    result = candidate_segment(4, quality="serious", strategic_change="concern")
    assert result.segment == 3
    assert result.reasons == (
        "finance score >= 4 -> segment 3 (rules.mandated_support)",
        "quality: serious -> segment 3 (rules.mandated_support)",
    )


def test_candidate_labelled_and_unverified():
    """A candidate carries its label, pack name and the unverified values it used."""
    d = candidate_segment(3).to_dict()
    assert d["label"] == "candidate"
    assert d["rules"] == "segmentation-2016"
    assert "segmentation-2016:finance_trigger.score_at_least" in d["unverified"]


def test_vectorised_equals_scalar():
    """candidate_segments gives, element by element, what candidate_segment gives."""
    levels = (None, "none", "concern", "serious")
    combos = list(itertools.product((1, 2, 3, 4), levels, levels, (False, True), (False, True)))
    fs, quality, operational, smq, smf = (
        np.array(c, dtype=object) for c in zip(*combos, strict=True)
    )
    arr = candidate_segments(
        fs.astype(int),
        quality=quality,
        operational=operational,
        special_measures_quality=smq.astype(bool),
        special_measures_finance=smf.astype(bool),
    )
    expected = [
        candidate_segment(
            f, quality=q, operational=o, special_measures_quality=a, special_measures_finance=b
        ).segment
        for f, q, o, a, b in combos
    ]
    assert arr.segment.tolist() == expected
    assert arr.label == "candidate"


def test_vectorised_draws_by_trust_and_counts():
    """(draw, trust) finance scores broadcast with per-trust theme levels; counts sum up."""
    scores = np.array([[1, 3, 4], [2, 2, 1]])
    out = candidate_segments(scores, quality=np.array(["none", "concern", "none"]))
    assert out.segment.tolist() == [[1, 2, 3], [1, 2, 1]]
    assert out.counts() == {1: 3, 2: 2, 3: 1, 4: 0}


def test_from_score_to_candidate_segment():
    """Case F of domain.md §6.3 (overall 3 after O1) triggers and gives candidate segment 2."""
    values = {
        "capital_service_capacity": 3.0,
        "liquidity_days": 20,
        "ie_margin": 0.02,
        "distance_from_plan": 0.001,
        "agency_vs_ceiling": 0.55,
    }
    overall = score(values).overall
    assert finance_trigger(overall)
    assert candidate_segment(overall).segment == 2


@pytest.mark.parametrize("bad", [0, 5, 2.5, float("nan"), "3", True])
def test_bad_finance_score(bad):
    """A finance score that is not a whole 1-4 is refused, naming the field."""
    with pytest.raises(ValidationError, match="finance_score: must be whole"):
        candidate_segment(bad)


def test_bad_theme_level():
    """An unknown concern level is refused, naming the theme and the levels allowed."""
    with pytest.raises(ValidationError, match="quality: must be one of 'none', 'concern'"):
        candidate_segment(1, quality="worrying")


def test_scalar_function_refuses_arrays():
    """candidate_segment is for one trust; arrays go to candidate_segments."""
    with pytest.raises(ValidationError, match="candidate_segments"):
        candidate_segment(np.array([1, 2]))
