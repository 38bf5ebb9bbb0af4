"""Tests of the rule-pack loader and of the SOF and segmentation packs, good and bad.

Bad packs are modified copies of the shipped TOML written to a temporary folder: each must
fail with a RulePackError naming the copy's file and the key at fault, through the API and
through ``cipmodel score --rules PATH`` (exit code 2, no traceback).
"""

from __future__ import annotations

from importlib import resources

import pytest
from click.testing import CliRunner

from cipmodel.cli.score import score as score_cmd
from cipmodel.errors import RulePackError
from cipmodel.regime.packs import available_packs, load_pack
from cipmodel.regime.score import metric_names, score, sof_pack
from cipmodel.regime.segmentation import candidate_segment, segmentation_pack

SOF_TEXT = resources.files("cipmodel").joinpath("rules", "sof-2016.toml").read_text("utf-8")
SEG_TEXT = (
    resources.files("cipmodel").joinpath("rules", "segmentation-2016.toml").read_text("utf-8")
)

HEALTHY = {
    "capital_service_capacity": 2.0,
    "liquidity_days": 10.0,
    "ie_margin": 0.015,
    "distance_from_plan": 0.002,
    "agency_vs_ceiling": -0.1,
}
CLI_ARGS = [
    "--capital-service-capacity",
    "2.0",
    "--liquidity-days",
    "10",
    "--ie-margin",
    "1.5%",
    "--distance-from-plan",
    "0.2%",
    "--agency-vs-ceiling",
    "-10%",
]


def _copy(tmp_path, text, old, new, name="sof-copy.toml"):
    """Write ``text`` with the first ``old`` replaced by ``new``; the file path."""
    assert old in text, old
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


# --- the shipped packs --------------------------------------------------------------------


def test_shipped_packs_listed():
    """Both packs ship with the package and load by name with the right kind."""
    assert {"sof-2016", "segmentation-2016"} <= set(available_packs())
    assert load_pack("sof-2016", kind="sof").kind == "sof"
    assert load_pack("segmentation-2016", kind="segmentation").kind == "segmentation"


def test_sof_pack_and_variants_validate():
    """The base pack and every variant pass validate_sof_pack."""
    pack = load_pack("sof-2016")
    assert set(pack.variants) == {"nov-2017", "boundaries-worse", "boundaries-better"}
    for variant in (None, *pack.variants):
        assert metric_names(sof_pack(load_pack("sof-2016", variant=variant)))[0] == (
            "capital_service_capacity"
        )


def test_sof_verified_flags_follow_domain_tags():
    """[V] items (weights, O2, O3, directions) are verified; [B]/[?] items are not."""
    pack = load_pack("sof-2016")
    assert pack.leaf("weights").verified
    assert pack.leaf("overrides.O2").verified and pack.leaf("overrides.O3").verified
    assert not pack.leaf("overrides.O1").verified and not pack.leaf("overrides.O4").verified
    assert not pack.leaf("overrides.O5").verified
    assert pack.leaf("overrides.O5").value["enabled"] is False
    assert not pack.leaf("rounding").verified
    for m in metric_names(pack):
        assert not pack.leaf(f"metrics.{m}.thresholds").verified
        assert not pack.leaf(f"metrics.{m}.boundary").verified
        assert pack.leaf(f"metrics.{m}.higher_is_better").verified
    assert all(leaf.source.strip() for leaf in pack.leaves.values())


def test_sof_thresholds_as_in_domain_table():
    """The thresholds and directions are those of the domain.md §1.4 table."""
    pack = load_pack("sof-2016")
    expected = {
        "capital_service_capacity": ([2.5, 1.75, 1.25], True),
        "liquidity_days": ([0, -7, -14], True),
        "ie_margin": ([0.01, 0.0, -0.01], True),
        "distance_from_plan": ([0.0, -0.01, -0.02], True),
        "agency_vs_ceiling": ([0.0, 0.25, 0.5], False),
    }
    for m, (th, hib) in expected.items():
        assert pack.leaf(f"metrics.{m}.thresholds").value == th
        assert pack.leaf(f"metrics.{m}.higher_is_better").value is hib
    assert pack.leaf("weights").value == dict.fromkeys(expected, 0.2)


def test_nov_2017_same_values_all_unverified():
    """The nov-2017 variant repeats the Sept 2016 values and marks every one it restates unverified."""
    base = load_pack("sof-2016")
    nov = load_pack("sof-2016:nov-2017")
    assert nov.name == "sof-2016:nov-2017"
    assert {k: v.value for k, v in nov.leaves.items()} == {
        k: v.value for k, v in base.leaves.items()
    }
    for key in ("weights", "rounding", "overrides.O2", "overrides.O3"):
        assert not nov.leaf(key).verified
        assert "Nov 2017" in nov.leaf(key).source


def test_unverified_used_records_only_values_read():
    """pack.get records a value as used; unverified_used lists the unverified ones read."""
    pack = load_pack("sof-2016")
    assert pack.unverified_used() == []
    pack.get("weights")
    assert pack.unverified_used() == []
    pack.get("rounding")
    assert pack.unverified_used() == ["sof-2016:rounding"]


def test_segmentation_pack_all_unverified():
    """Every value of the segmentation heuristic is unverified and sourced."""
    pack = segmentation_pack()
    assert pack.leaves and all(not leaf.verified for leaf in pack.leaves.values())
    assert pack.leaf("finance_trigger.score_at_least").value == 3


def test_unknown_pack_name():
    """An unknown name lists the packs available."""
    with pytest.raises(RulePackError, match="unknown rule pack 'sof-1999'.*sof-2016"):
        load_pack("sof-1999")


def test_wrong_kind_of_pack():
    """A segmentation pack given where a SOF pack is needed is refused, naming pack.kind."""
    with pytest.raises(RulePackError, match="pack.kind: is 'segmentation'"):
        score(HEALTHY, pack="segmentation-2016")


def test_unknown_variant():
    """An unknown variant names the file and the variants it has."""
    with pytest.raises(RulePackError, match="variants.nov-2018: no such variant.*nov-2017"):
        load_pack("sof-2016:nov-2018")


# --- bad SOF packs ----------------------------------------------------------------------

BAD_SOF = {
    "missing threshold": (
        "[values.metrics.liquidity_days.thresholds]",
        "[values.metrics.liquidity_days.thresholdz]",
        "metrics.liquidity_days.thresholds: missing",
    ),
    "thresholds out of order": (
        "value = [2.5, 1.75, 1.25]",
        "value = [1.75, 2.5, 1.25]",
        "metrics.capital_service_capacity.thresholds: must be strictly decreasing",
    ),
    "lower-is-better thresholds decreasing": (
        "value = [0.0, 0.25, 0.5]",
        "value = [0.5, 0.25, 0.0]",
        "metrics.agency_vs_ceiling.thresholds: must be strictly increasing",
    ),
    "two thresholds": (
        "value = [0.01, 0.0, -0.01]",
        "value = [0.01, 0.0]",
        "metrics.ie_margin.thresholds: must be a list of 3",
    ),
    "weights not summing to 1": (
        "ie_margin = 0.2,",
        "ie_margin = 0.3,",
        "weights: must sum to 1, got 1.1",
    ),
    "unknown override condition": (
        'condition = "any_metric_at"',
        'condition = "any_metric_is"',
        "overrides.O1: unknown condition 'any_metric_is'",
    ),
    "override without effect": (
        'condition = "financial_special_measures", set = 4',
        'condition = "financial_special_measures"',
        "overrides.O4: needs exactly one of cap = n or set = n",
    ),
    "override cap out of range": (
        "score = 4, cap = 3 }",
        "score = 4, cap = 5 }",
        "overrides.O1: cap must be a whole score 1-4",
    ),
    "bad rounding keyword": (
        'value = "half_up_to_worse"',
        'value = "bankers"',
        "rounding: must be one of half_up_to_worse, half_down_to_better",
    ),
    "bad boundary keyword": (
        'value = ["better", "better", "worse"]',
        'value = ["better", "inclusive", "worse"]',
        "metrics.distance_from_plan.boundary: must be 'better' or 'worse'",
    ),
    "bad unit": (
        'value = "days"',
        'value = "weeks"',
        "metrics.liquidity_days.unit: must be one of",
    ),
    "unknown key (typo)": (
        "[values.metrics.ie_margin.boundary]",
        "[values.metrics.ie_margin.boundary]\nvalue = 'worse'\nsource = 'x'\nverified = false\n"
        "[values.metrics.ie_margin.boundry]",
        "metrics.ie_margin.boundry: unknown key",
    ),
    "leaf without source": (
        'source = "domain.md §1.5 (mean rounded',
        'note2 = "domain.md §1.5 (mean rounded',
        "rounding: unknown key(s) note2",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SOF))
def test_bad_sof_pack_api(tmp_path, case):
    """A broken SOF pack copy raises RulePackError naming the file, the key and the reason."""
    old, new, message = BAD_SOF[case]
    path = _copy(tmp_path, SOF_TEXT, old, new)
    with pytest.raises(RulePackError) as info:
        score(HEALTHY, pack=path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


@pytest.mark.parametrize("case", sorted(BAD_SOF))
def test_bad_sof_pack_cli(tmp_path, case):
    """The same broken copy through `score --rules PATH` exits 2 with the message."""
    old, new, message = BAD_SOF[case]
    path = _copy(tmp_path, SOF_TEXT, old, new)
    res = CliRunner().invoke(score_cmd, [*CLI_ARGS, "--rules", str(path)])
    assert res.exit_code == 2
    assert message in res.output
    assert str(path) in res.output
    assert "Traceback" not in res.output


def test_leaf_without_source(tmp_path):
    """A leaf whose source line is missing is refused by the loader, naming the key."""
    lines = SOF_TEXT.splitlines(keepends=True)
    at = lines.index("[values.rounding]\n")
    assert lines[at + 2].startswith("source =")
    del lines[at + 2]
    path = tmp_path / "no-source.toml"
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(RulePackError, match=r"rounding: every value needs a 'source'"):
        load_pack(path)
    res = CliRunner().invoke(score_cmd, [*CLI_ARGS, "--rules", str(path)])
    assert res.exit_code == 2
    assert f"{path}: rounding: every value needs a 'source'" in res.output


def test_variant_that_overrides_nothing(tmp_path):
    """A variant leaf with no base value to override names the file and the variant key."""
    extra = (
        "\n[variants.typo.values.metrics.ie_margin.threshold]\n"
        "value = [0.02, 0.0, -0.01]\nsource = 'x'\nverified = false\n"
    )
    path = tmp_path / "variant.toml"
    path.write_text(SOF_TEXT + extra, encoding="utf-8")
    expected = f"{path}: variants.typo.metrics.ie_margin.threshold: overrides no base value"
    with pytest.raises(RulePackError) as info:
        load_pack(path, variant="typo")
    assert str(info.value) == expected
    res = CliRunner().invoke(score_cmd, [*CLI_ARGS, "--rules", f"{path}:typo"])
    assert res.exit_code == 2
    assert expected in res.output


def test_not_toml(tmp_path):
    """A file that is not TOML is refused with its path."""
    path = tmp_path / "broken.toml"
    path.write_text("[pack\nname = ", encoding="utf-8")
    res = CliRunner().invoke(score_cmd, [*CLI_ARGS, "--rules", str(path)])
    assert res.exit_code == 2
    assert f"{path}: not valid TOML" in res.output


def test_disabled_override_is_not_checked_or_used(tmp_path):
    """An override with enabled = false (like O5) is documentation: never evaluated."""
    path = _copy(
        tmp_path,
        SOF_TEXT,
        'value = { condition = "financial_special_measures", set = 4 }',
        'value = { enabled = false, condition = "financial_special_measures", set = 4 }',
    )
    r = score(HEALTHY, pack=path, financial_special_measures=True)
    assert (r.overall, r.overrides) == (1, ())


def test_copied_pack_with_changed_threshold(tmp_path):
    """A user copy with a corrected threshold is used as written (rules are data)."""
    path = _copy(tmp_path, SOF_TEXT, "value = [2.5, 1.75, 1.25]", "value = [1.9, 1.75, 1.25]")
    assert score(HEALTHY).metric_scores["capital_service_capacity"] == 2
    assert score(HEALTHY, pack=path).metric_scores["capital_service_capacity"] == 1


# --- bad segmentation packs -------------------------------------------------------------

BAD_SEG = {
    "unknown rule condition": (
        "finance_score_at_least = 4,",
        "finance_score_over = 4,",
        "rules.mandated_support: unknown condition(s) finance_score_over",
    ),
    "level not in theme_levels": (
        'theme_level_at_least = "serious"',
        'theme_level_at_least = "grave"',
        "rules.mandated_support: theme_level_at_least must be one of",
    ),
    "trigger out of range": (
        "value = 3\n",
        "value = 5\n",
        "finance_trigger.score_at_least: must be a score 1-4",
    ),
    "missing default": (
        "[values.default_segment]",
        "[values.default_segmnt]",
        "default_segment: missing",
    ),
    "unknown special measures kind": (
        'segment = 4, special_measures = ["quality", "finance"]',
        'segment = 4, special_measures = ["quality", "cqc"]',
        "rules.special_measures: special_measures must list some of",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SEG))
def test_bad_segmentation_pack(tmp_path, case):
    """A broken segmentation pack copy raises RulePackError naming the file and key."""
    old, new, message = BAD_SEG[case]
    path = _copy(tmp_path, SEG_TEXT, old, new, name="seg-copy.toml")
    with pytest.raises(RulePackError) as info:
        candidate_segment(2, pack=path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)
