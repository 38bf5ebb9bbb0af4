"""Tests of the SOF finance and use of resources score (cipmodel.regime.score, ``cipmodel score``).

The constructed cases A-I come from domain.md §6.3. They are NOT published examples: they
were derived by applying the §1.4-1.5 rules (thresholds as in §1.4, mean rounded half-up to
the worse score, O1 = no better than 3 when any metric scores 4, O2/O3 caps). The
thresholds are [B] (background knowledge, not read in the SOF itself): if they or the
overrides are corrected, recompute this table.

====  =====  ====  =====  =====  ======  =========  ===========  ========  =====
Case  CSC    Liq   I&E    Dist   Agency  Scores     Mean -> rnd  Override  Final
====  =====  ====  =====  =====  ======  =========  ===========  ========  =====
A     2.0x   10    1.5%   +0.2   -10%    2,1,1,1,1  1.2 -> 1     -         1
B     0.9x   -20   -3.0%  0.0    +10%    4,4,4,1,2  3.0 -> 3     O1        3
C     -0.5x  -25   -6.0%  -2.5   +60%    4,4,4,4,4  4.0 -> 4     O1        4
D     1.8x   -3    0.5%   -0.5   +30%    2,2,2,2,3  2.2 -> 2     -         2
E     3.0x   15    2.0%   +0.5   -5%     1,1,1,1,1  1.0 -> 1     O3        2
F     3.0x   20    2.0%   +0.1   +55%    1,1,1,1,4  1.6 -> 2     O1        3
G     1.9x   5     -0.5%  0.0    0%      2,1,3,1,1  1.6 -> 2     O2        3
H     2.0x   -5    -0.5%  -1.5   +10%    2,2,3,3,2  2.4 -> 2     -         2
I     1.5x   -10   -0.5%  -1.5   +10%    3,3,3,3,2  2.8 -> 3     -         3
====  =====  ====  =====  =====  ======  =========  ===========  ========  =====

E has no agreed control total and plans a surplus; G has none and plans a deficit.
"""

from __future__ import annotations

import dataclasses
import json
import math
from importlib import resources

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from cipmodel.cli.score import MetricValue
from cipmodel.cli.score import score as score_cmd
from cipmodel.errors import ValidationError
from cipmodel.regime.score import NOT_APPLICABLE, score, score_metric

METRICS = (
    "capital_service_capacity",
    "liquidity_days",
    "ie_margin",
    "distance_from_plan",
    "agency_vs_ceiling",
)
OPTIONS = tuple("--" + m.replace("_", "-") for m in METRICS)

# case: (CLI strings for the five metrics, control-total flags, metric scores, mean,
#        rounded, overrides, final)
CASES = {
    "A": (("2.0x", "10", "1.5%", "+0.2%", "-10%"), {}, (2, 1, 1, 1, 1), 1.2, 1, (), 1),
    "B": (("0.9x", "-20", "-3.0%", "0.0%", "+10%"), {}, (4, 4, 4, 1, 2), 3.0, 3, ("O1",), 3),
    "C": (("-0.5x", "-25", "-6.0%", "-2.5%", "+60%"), {}, (4, 4, 4, 4, 4), 4.0, 4, ("O1",), 4),
    "D": (("1.8x", "-3", "0.5%", "-0.5%", "+30%"), {}, (2, 2, 2, 2, 3), 2.2, 2, (), 2),
    "E": (
        ("3.0x", "15", "2.0%", "+0.5%", "-5%"),
        {"control_total_accepted": False, "planned_surplus": True},
        (1, 1, 1, 1, 1),
        1.0,
        1,
        ("O3",),
        2,
    ),
    "F": (("3.0x", "20", "2.0%", "+0.1%", "+55%"), {}, (1, 1, 1, 1, 4), 1.6, 2, ("O1",), 3),
    "G": (
        ("1.9x", "5", "-0.5%", "0.0%", "0%"),
        {"control_total_accepted": False, "planned_surplus": False},
        (2, 1, 3, 1, 1),
        1.6,
        2,
        ("O2",),
        3,
    ),
    "H": (("2.0x", "-5", "-0.5%", "-1.5%", "+10%"), {}, (2, 2, 3, 3, 2), 2.4, 2, (), 2),
    "I": (("1.5x", "-10", "-0.5%", "-1.5%", "+10%"), {}, (3, 3, 3, 3, 2), 2.8, 3, (), 3),
}

# The same cases as numbers, as the API takes them.
NUMBERS = {
    "A": (2.0, 10, 0.015, 0.002, -0.10),
    "B": (0.9, -20, -0.03, 0.0, 0.10),
    "C": (-0.5, -25, -0.06, -0.025, 0.60),
    "D": (1.8, -3, 0.005, -0.005, 0.30),
    "E": (3.0, 15, 0.02, 0.005, -0.05),
    "F": (3.0, 20, 0.02, 0.001, 0.55),
    "G": (1.9, 5, -0.005, 0.0, 0.0),
    "H": (2.0, -5, -0.005, -0.015, 0.10),
    "I": (1.5, -10, -0.005, -0.015, 0.10),
}

HEALTHY = dict(zip(METRICS, NUMBERS["A"], strict=True))


def _cli_args(strings: tuple[str, ...], flags: dict[str, bool]) -> list[str]:
    args = [a for pair in zip(OPTIONS, strings, strict=True) for a in pair]
    if flags.get("control_total_accepted") is False:
        args.append("--no-control-total-accepted")
    if "planned_surplus" in flags:
        args.append("--planned-surplus" if flags["planned_surplus"] else "--planned-deficit")
    if flags.get("financial_special_measures"):
        args.append("--financial-special-measures")
    return args


def _invoke(args: list[str]):
    return CliRunner().invoke(score_cmd, args)


# --- constructed cases A-I ---------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(CASES))
def test_constructed_case_api(case):
    """Each domain.md §6.3 case gives its metric scores, mean, rounding, overrides and final."""
    _, flags, scores, mean, rounded, overrides, final = CASES[case]
    r = score(dict(zip(METRICS, NUMBERS[case], strict=True)), **flags)
    assert tuple(r.metric_scores[m] for m in METRICS) == scores
    assert r.mean == pytest.approx(mean)
    assert r.rounded == rounded
    assert r.overrides == overrides
    assert r.overall == final
    assert r.rules == "sof-2016"


@pytest.mark.parametrize("case", sorted(CASES))
def test_constructed_case_cli_json(case):
    """`cipmodel score --json` gives each §6.3 case exactly, in the DESIGN.md JSON contract."""
    strings, flags, scores, _, _, overrides, final = CASES[case]
    res = _invoke([*_cli_args(strings, flags), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert set(out) == {"overall", "metrics", "overrides", "rules", "unverified"}
    assert out["overall"] == final
    assert out["overrides"] == list(overrides)
    assert out["rules"] == "sof-2016"
    assert [out["metrics"][m]["score"] for m in METRICS] == list(scores)
    assert [out["metrics"][m]["value"] for m in METRICS] == pytest.approx(list(NUMBERS[case]))
    assert "sof-2016:metrics.ie_margin.thresholds" in out["unverified"]


def test_cases_vectorised_match_table():
    """All nine cases scored as one array give the table's finals."""
    values = {m: np.array([NUMBERS[c][i] for c in sorted(CASES)]) for i, m in enumerate(METRICS)}
    accepted = np.array([c not in "EG" for c in sorted(CASES)])
    surplus = np.array([c != "G" for c in sorted(CASES)])
    r = score(values, control_total_accepted=accepted, planned_surplus=surplus)
    assert r.overall.tolist() == [CASES[c][6] for c in sorted(CASES)]
    assert r.overrides["O1"].tolist() == [CASES[c][5] == ("O1",) for c in sorted(CASES)]


# --- overrides ---------------------------------------------------------------------------


def test_override_o1_caps_at_3_when_a_metric_scores_4():
    """O1: one metric at 4 and the rest at 1 (mean 1.6 -> 2) gives no better than 3."""
    r = score({**HEALTHY, "capital_service_capacity": 3.0, "agency_vs_ceiling": 0.9})
    assert (r.rounded, r.overall, r.overrides) == (2, 3, ("O1",))


def test_override_o1_listed_but_not_binding_when_already_worse():
    """O1 is reported when its condition holds even if the mean already gives 3 or 4."""
    r = score(dict(zip(METRICS, NUMBERS["C"], strict=True)))
    assert (r.rounded, r.overall, r.overrides) == (4, 4, ("O1",))


def test_override_o2_no_control_total_and_deficit_plan_caps_at_3():
    """O2: no accepted control total and a planned deficit -> no better than 3."""
    r = score(HEALTHY, control_total_accepted=False, planned_surplus=False)
    assert (r.rounded, r.overall, r.overrides) == (1, 3, ("O2",))


def test_override_o3_no_control_total_and_surplus_plan_caps_at_2():
    """O3: no accepted control total and a planned surplus -> no better than 2."""
    r = score(HEALTHY, control_total_accepted=False, planned_surplus=True)
    assert (r.rounded, r.overall, r.overrides) == (1, 2, ("O3",))


def test_override_o2_o3_ignore_plan_when_control_total_accepted():
    """With the control total accepted, the planned surplus/deficit changes nothing."""
    for surplus in (True, False, None):
        r = score(HEALTHY, control_total_accepted=True, planned_surplus=surplus)
        assert (r.overall, r.overrides) == (1, ())


def test_override_o4_financial_special_measures_sets_4():
    """O4: a trust in financial special measures scores 4 whatever its metrics."""
    r = score(HEALTHY, financial_special_measures=True)
    assert (r.rounded, r.overall, r.overrides) == (1, 4, ("O4",))


def test_overrides_worst_cap_wins():
    """O1 (cap 3) and O3 (cap 2) together give 3: the worst cap wins."""
    r = score(
        {**HEALTHY, "agency_vs_ceiling": 0.9},
        control_total_accepted=False,
        planned_surplus=True,
    )
    assert (r.overall, r.overrides) == (3, ("O1", "O3"))


def test_planned_surplus_required_when_control_total_not_accepted():
    """No accepted control total and no planned surplus/deficit is an error naming the field."""
    with pytest.raises(ValidationError, match="planned_surplus.*O2, O3"):
        score(HEALTHY, control_total_accepted=False)


def test_overrides_vectorised_are_bool_arrays():
    """For arrays, each override is reported as a boolean array of where it held."""
    r = score(
        HEALTHY,
        control_total_accepted=np.array([True, False, False, True]),
        planned_surplus=np.array([True, True, False, True]),
        financial_special_measures=np.array([False, False, False, True]),
    )
    assert r.overall.tolist() == [1, 2, 3, 4]
    assert r.overrides["O3"].tolist() == [False, True, False, False]
    assert r.overrides["O2"].tolist() == [False, False, True, False]
    assert r.overrides["O4"].tolist() == [False, False, False, True]
    assert r.overrides["O1"].dtype == bool


# --- boundaries -------------------------------------------------------------------------

# metric, value exactly on a threshold, score by default, all-"better", all-"worse"
BOUNDARIES = [
    ("capital_service_capacity", 2.5, 1, 1, 2),
    ("capital_service_capacity", 1.75, 2, 2, 3),
    ("capital_service_capacity", 1.25, 3, 3, 4),
    ("liquidity_days", 0.0, 1, 1, 2),
    ("liquidity_days", -7.0, 2, 2, 3),
    ("liquidity_days", -14.0, 3, 3, 4),
    ("ie_margin", 0.01, 2, 1, 2),
    ("ie_margin", 0.0, 3, 2, 3),
    ("ie_margin", -0.01, 4, 3, 4),
    ("distance_from_plan", 0.0, 1, 1, 2),
    ("distance_from_plan", -0.01, 2, 2, 3),
    ("distance_from_plan", -0.02, 4, 3, 4),
    ("agency_vs_ceiling", 0.0, 1, 1, 2),
    ("agency_vs_ceiling", 0.25, 2, 2, 3),
    ("agency_vs_ceiling", 0.5, 3, 3, 4),
]


@pytest.mark.parametrize(("metric", "value", "default", "better", "worse"), BOUNDARIES)
def test_boundary_both_ways(metric, value, default, better, worse):
    """A value exactly on a threshold scores per the default rule, and flips in a variant."""
    assert score_metric(metric, value, "sof-2016") == default
    assert score_metric(metric, value, "sof-2016:boundaries-better") == better
    assert score_metric(metric, value, "sof-2016:boundaries-worse") == worse
    assert worse == better + 1 and default in (better, worse)  # one variant is the opposite


@pytest.mark.parametrize(("metric", "value", "default", "better", "worse"), BOUNDARIES)
def test_boundary_just_off_threshold_is_unambiguous(metric, value, default, better, worse):
    """One published digit either side of a threshold every boundary rule agrees.

    Values are rounded to the precision the pack publishes them at (``decimals``: 2 for x,
    1 for days, 4 for fractions) before scoring, so the step is one unit of that last
    digit; nearer than half of it a value counts as on the threshold (test_definitions.py).
    """
    hib = metric != "agency_vs_ceiling"
    step = {"capital_service_capacity": 0.01, "liquidity_days": 0.1}.get(metric, 0.0001)
    good, bad = (value + step, value - step) if hib else (value - step, value + step)
    for pack in ("sof-2016", "sof-2016:boundaries-better", "sof-2016:boundaries-worse"):
        assert score_metric(metric, good, pack) == better
        assert score_metric(metric, bad, pack) == worse


@pytest.mark.parametrize(
    ("option", "text", "expected"),
    [
        ("--ie-margin", "1%", 2),
        ("--ie-margin", "0%", 3),
        ("--ie-margin", "-1%", 4),
        ("--distance-from-plan", "-1%", 2),
        ("--distance-from-plan", "-2pp", 4),
        ("--agency-vs-ceiling", "25%", 2),
        ("--agency-vs-ceiling", "50%", 3),
    ],
)
def test_boundary_percent_strings_hit_threshold_exactly(option, text, expected):
    """Percent strings parse to the exact threshold, so boundary rules apply through the CLI."""
    strings = dict(zip(OPTIONS, ("3x", "10", "2%", "0%", "0%"), strict=True))
    strings[option] = text
    res = _invoke([a for kv in strings.items() for a in kv] + ["--json"])
    assert res.exit_code == 0, res.output
    name = option[2:].replace("-", "_")
    assert json.loads(res.output)["metrics"][name]["score"] == expected


def test_score_metric_is_vectorised_and_never_nan():
    """score_metric keeps the input shape, gives ints, and 0 for not-applicable values."""
    out = score_metric("liquidity_days", np.array([[30.0, -3.0], [np.nan, -100.0]]))
    assert out.dtype.kind == "i"
    assert out.tolist() == [[1, 2], [NOT_APPLICABLE, 4]]


def test_infinite_values_score_at_the_extremes():
    """+inf capital service capacity (no capital service) scores 1; -inf scores 4."""
    assert score_metric("capital_service_capacity", [np.inf, -np.inf]).tolist() == [1, 4]


# --- vectorised == scalar ----------------------------------------------------------------

THRESHOLD_VALUES = [b[1] for b in BOUNDARIES]


def _metric_value(lo: float, hi: float, na: bool = False):
    finite = st.floats(lo, hi, allow_nan=False) | st.sampled_from(THRESHOLD_VALUES)
    return (finite | st.none()) if na else finite


ROW = st.tuples(
    _metric_value(-3, 5),
    _metric_value(-40, 40, na=True),
    _metric_value(-0.1, 0.1, na=True),
    _metric_value(-0.05, 0.05, na=True),
    _metric_value(-1, 1, na=True),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(ROW, min_size=1, max_size=6),
    pack=st.sampled_from(["sof-2016", "sof-2016:boundaries-worse"]),
)
def test_vectorised_equals_scalar(rows, pack):
    """Scoring an array gives, element by element, what scoring each trust alone gives."""
    cols = list(zip(*rows, strict=True))
    values = {
        m: np.array([np.nan if v is None else v for v in cols[i]]) for i, m in enumerate(METRICS)
    }
    accepted, surplus, fsm = (np.array(c) for c in cols[5:])
    arr = score(
        values,
        pack=pack,
        control_total_accepted=accepted,
        planned_surplus=surplus,
        financial_special_measures=fsm,
    )
    for i, row in enumerate(rows):
        one = score(
            dict(zip(METRICS, row[:5], strict=True)),
            pack=pack,
            control_total_accepted=row[5],
            planned_surplus=row[6],
            financial_special_measures=row[7],
        )
        assert arr.overall[i] == one.overall
        assert arr.rounded[i] == one.rounded
        for m in METRICS:
            assert arr.metric_scores[m][i] == (one.metric_scores[m] or NOT_APPLICABLE)
        assert tuple(n for n, held in arr.overrides.items() if held[i]) == one.overrides
        assert arr.item(i) == dataclasses.replace(one, unverified=arr.unverified)


def test_draw_by_trust_arrays_broadcast():
    """(draw, trust) metric arrays broadcast with per-trust flags and keep their shape."""
    rng = np.random.default_rng(1)
    values = {m: rng.normal(v, abs(v) + 0.01, size=(50, 3)) for m, v in HEALTHY.items()}
    r = score(values, financial_special_measures=np.array([False, True, False]))
    assert r.overall.shape == (50, 3)
    assert (r.overall[:, 1] == 4).all()
    assert set(np.unique(r.overall)) <= {1, 2, 3, 4}


# --- not applicable and rounding ---------------------------------------------------------

TIE = {  # scores 1, 1, 2, 2 and agency not applicable: mean exactly 1.5
    "capital_service_capacity": 3.0,
    "liquidity_days": 10.0,
    "ie_margin": 0.005,
    "distance_from_plan": -0.005,
    "agency_vs_ceiling": None,
}


def test_not_applicable_metric_left_out_of_mean():
    """A None metric has no score, is left out of the mean and shows as null in JSON."""
    r = score(TIE)
    assert r.metric_scores["agency_vs_ceiling"] is None
    assert r.applicable["agency_vs_ceiling"] is False
    assert r.mean == 1.5
    d = r.to_dict()
    assert d["metrics"]["agency_vs_ceiling"]["value"] is None
    assert d["metrics"]["agency_vs_ceiling"]["score"] is None
    assert "not applicable" in d["metrics"]["agency_vs_ceiling"]["not_applicable"]
    assert not any("agency_vs_ceiling" in k for k in r.unverified)


def test_nan_means_not_applicable_and_cannot_trigger_o1():
    """NaN is not applicable too, and a not-applicable metric never counts as a 4."""
    r = score({**HEALTHY, "agency_vs_ceiling": math.nan})
    assert r.metric_scores["agency_vs_ceiling"] is None
    assert (r.mean, r.overall, r.overrides) == (1.25, 1, ())


def test_not_applicable_in_part_of_an_array():
    """In arrays a not-applicable element scores 0 (never NaN) and the mean skips it."""
    r = score({**HEALTHY, "agency_vs_ceiling": np.array([np.nan, 0.9])})
    assert r.metric_scores["agency_vs_ceiling"].tolist() == [NOT_APPLICABLE, 4]
    assert r.applicable["agency_vs_ceiling"].tolist() == [False, True]
    assert r.mean.tolist() == [1.25, 1.8]
    assert not np.isnan(r.mean).any()
    assert r.overall.tolist() == [1, 3]


def test_no_applicable_metric_is_an_error():
    """With every metric not applicable there is nothing to score."""
    with pytest.raises(ValidationError, match="no applicable metric"):
        score(dict.fromkeys(METRICS))


def test_rounding_tie_half_up_to_worse_by_default():
    """The default rounds a .5 tie (possible only with a metric not applicable) to the worse score."""
    r = score(TIE)
    assert (r.rounded, r.overall) == (2, 2)
    assert "sof-2016:rounding" in r.unverified


def test_rounding_configurable_half_down_to_better(tmp_path):
    """A pack copy with rounding = half_down_to_better rounds the same tie to the better score."""
    text = resources.files("cipmodel").joinpath("rules", "sof-2016.toml").read_text("utf-8")
    copy = tmp_path / "sof-mine.toml"
    copy.write_text(text.replace('value = "half_up_to_worse"', 'value = "half_down_to_better"'))
    r = score(TIE, pack=copy)
    assert (r.rounded, r.overall) == (1, 1)
    assert score(dict(zip(METRICS, NUMBERS["H"], strict=True)), pack=copy).overall == 2


# --- input validation --------------------------------------------------------------------


def test_missing_and_unknown_metrics_are_errors():
    """A missing metric (typo) is not silently not-applicable; unknown names are named."""
    values = {**HEALTHY, "ie_margn": 0.01}
    del values["ie_margin"]
    with pytest.raises(ValidationError) as info:
        score(values)
    places = [p.place for p in info.value.problems]
    assert places == ["ie_margin", "ie_margn"]


@pytest.mark.parametrize("bad", ["1%", True, [0.1, "x"]])
def test_non_numeric_metric_value_is_an_error(bad):
    """Strings and booleans are refused with the metric named."""
    with pytest.raises(ValidationError, match="ie_margin: must be a number"):
        score({**HEALTHY, "ie_margin": bad})


def test_non_bool_flag_is_an_error():
    """Flags must be booleans (1/0 or 'yes' are refused)."""
    with pytest.raises(ValidationError, match="financial_special_measures"):
        score(HEALTHY, financial_special_measures="yes")


def test_to_dict_needs_a_scalar_result():
    """to_dict() is the JSON of one trust; an array result refuses it until .item() is taken."""
    r = score({**HEALTHY, "ie_margin": np.array([0.01, 0.02])})
    with pytest.raises(ValueError, match="scalar"):
        r.to_dict()
    assert r.item(1).to_dict()["metrics"]["ie_margin"] == {"value": 0.02, "score": 1}
    assert r.item(0).to_dict()["metrics"]["ie_margin"] == {"value": 0.01, "score": 2}


def test_to_dict_not_applicable_reason_can_be_given():
    """A caller that knows why a metric is not applicable (no agency ceiling) can say so."""
    d = score(TIE).to_dict(not_applicable={"agency_vs_ceiling": "no agency ceiling"})
    assert d["metrics"]["agency_vs_ceiling"]["not_applicable"] == "no agency ceiling"


def test_unverified_lists_exactly_the_values_used():
    """unverified names the [B]/[?] values read, not verified ones (weights, O2/O3)."""
    r = score(HEALTHY)
    assert "sof-2016:overrides.O1" in r.unverified
    assert "sof-2016:rounding" in r.unverified
    assert "sof-2016:weights" not in r.unverified
    assert "sof-2016:overrides.O2" not in r.unverified
    assert "sof-2016:overrides.O5" not in r.unverified  # disabled, never read
    r2 = score(HEALTHY, pack="sof-2016:nov-2017")
    assert r2.rules == "sof-2016:nov-2017"
    assert "sof-2016:nov-2017:weights" in r2.unverified
    assert r2.overall == r.overall


# --- CLI -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("rate", "8.46%", 0.0846),
        ("rate", "0.0846", 0.0846),
        ("rate", "-55.96%", -0.5596),
        ("rate", "(1.5)%", -0.015),
        ("rate", "(1.5%)", -0.015),
        ("pp", "-1.5%", -0.015),
        ("pp", "-1.5pp", -0.015),
        ("pp", "-0.015", -0.015),
        ("times", "2.6x", 2.6),
        ("days", "(7)", -7.0),
        ("days", "-20", -20.0),
    ],
)
def test_metric_value_parsing(kind, text, expected):
    """Fractions, percent strings, pp, x and accounting brackets parse exactly."""
    assert MetricValue(kind).convert(text, None, None) == expected


def test_metric_value_na_is_nan():
    """n/a parses to NaN, which the engine treats as not applicable."""
    assert math.isnan(MetricValue("rate").convert("n/a", None, None))


def test_cli_percent_string_same_as_fraction():
    """`--ie-margin 8.46%` and `--ie-margin 0.0846` give the same JSON."""
    base = ["--capital-service-capacity", "2.6", "--liquidity-days", "30.6"]
    base += ["--distance-from-plan", "8.4%", "--agency-vs-ceiling", "-55.96%", "--json"]
    a = _invoke([*base, "--ie-margin", "8.46%"])
    b = _invoke([*base, "--ie-margin", "0.0846"])
    assert a.exit_code == b.exit_code == 0
    assert a.output == b.output
    assert json.loads(a.output)["metrics"]["ie_margin"]["value"] == 0.0846


@pytest.mark.parametrize(
    ("option", "text", "message"),
    [
        ("--ie-margin", "abc", "'--ie-margin': 'abc' is not a fraction"),
        ("--ie-margin", "8.46", "did you mean 8.46%?"),
        ("--distance-from-plan", "nan", "'--distance-from-plan': 'nan' is not"),
        ("--liquidity-days", "5%", "'--liquidity-days': '5%' is not a number of days"),
        ("--capital-service-capacity", "(-2)", "'--capital-service-capacity'"),
    ],
)
def test_cli_bad_value_exit_2_naming_option(option, text, message):
    """A value that cannot be read exits 2 with the option named, no traceback."""
    strings = dict(zip(OPTIONS, ("3x", "10", "2%", "0%", "0%"), strict=True))
    strings[option] = text
    res = _invoke([a for kv in strings.items() for a in kv])
    assert res.exit_code == 2
    assert message in res.output
    assert "Traceback" not in res.output


def test_cli_agency_omitted_or_na_is_not_applicable():
    """Leaving out --agency-vs-ceiling, or giving n/a, scores without it."""
    args = _cli_args(CASES["A"][0][:4] + ("n/a",), {})
    for a in (args, args[:-2]):
        res = _invoke([*a, "--json"])
        assert res.exit_code == 0, res.output
        out = json.loads(res.output)
        assert out["metrics"]["agency_vs_ceiling"]["score"] is None
        assert out["metrics"]["agency_vs_ceiling"]["not_applicable"]


def test_cli_missing_planned_surplus_exit_2():
    """--no-control-total-accepted without --planned-surplus/--planned-deficit exits 2."""
    res = _invoke([*_cli_args(CASES["A"][0], {}), "--no-control-total-accepted"])
    assert res.exit_code == 2
    assert "--planned-surplus/--planned-deficit" in res.output
    assert "Traceback" not in res.output


def test_cli_financial_special_measures():
    """--financial-special-measures applies O4 (overall 4)."""
    res = _invoke([*_cli_args(CASES["A"][0], {}), "--financial-special-measures", "--json"])
    assert json.loads(res.output)["overrides"] == ["O4"]
    assert json.loads(res.output)["overall"] == 4


def test_cli_unknown_pack_exit_2():
    """An unknown --rules name exits 2 and lists the packs available."""
    res = _invoke([*_cli_args(CASES["A"][0], {}), "--rules", "sof-1999"])
    assert res.exit_code == 2
    assert "unknown rule pack 'sof-1999'" in res.output
    assert "sof-2016" in res.output


def test_cli_variant_by_name():
    """--rules sof-2016:boundaries-worse flips a boundary case (CSC exactly 2.5)."""
    strings = ("2.5x",) + CASES["E"][0][1:]
    out = {}
    for rules in ("sof-2016", "sof-2016:boundaries-worse"):
        res = _invoke([*_cli_args(strings, {}), "--rules", rules, "--json"])
        out[rules] = json.loads(res.output)
    assert out["sof-2016"]["metrics"]["capital_service_capacity"]["score"] == 1
    assert out["sof-2016:boundaries-worse"]["metrics"]["capital_service_capacity"]["score"] == 2
    assert out["sof-2016:boundaries-worse"]["rules"] == "sof-2016:boundaries-worse"


def test_cli_human_output():
    """The human output shows the table, overall, overrides and unverified values."""
    res = _invoke(_cli_args(CASES["F"][0], {}))
    assert res.exit_code == 0
    out = res.output
    assert "I&E margin" in out and "2.00%" in out
    assert "+0.10pp" in out
    assert "mean 1.6 -> rounded 2" in out
    assert "overrides applied: O1" in out
    assert "overall score: 3" in out
    assert "sof-2016:metrics.ie_margin.thresholds" in out
