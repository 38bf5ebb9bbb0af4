"""``cipmodel simulate`` and ``cipmodel solve --probability``, run in-process."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from cipmodel.cli import cli
from cipmodel.io.reader import read_plan


def invoke(*args: object) -> object:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("plan") / "example.xlsx"
    assert invoke("template", out, "--example", "acute-11pc").exit_code == 0
    return out


def test_simulate_json_contract(example: Path) -> None:
    """simulate --json is run --json plus per trust probability and percentiles; the
    provenance adds seed, sampler and draws."""
    run = json.loads(invoke("run", example, "--json").output)
    r = invoke("simulate", example, "-n", "1024", "--seed", "42", "--sampler", "sobol", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    t, rt = d["trusts"][0], run["trusts"][0]
    for key in rt:  # everything run --json has, with the same plan-run values
        if key == "years":  # each plan year adds its simulation
            assert [{k: v for k, v in y.items() if k != "simulation"} for y in t[key]] == rt[key]
            continue
        assert t[key] == rt[key], key
    sims = [y["simulation"] for y in t["years"]]
    assert [s["year"] for s in sims] == [1, 2]
    assert [s["financial_year"] for s in sims] == ["2017/18", "2018/19"]
    assert sims[0]["p_meet_control_total"] == t["probability"]["meet_control_total"]
    assert sims[0]["p50_surplus_pre_stf"] == t["percentiles"]["surplus_pre_stf"]["p50"]
    for s in sims:
        assert 0 <= s["p_meet_control_total"] <= 1
        assert s["p10_surplus_pre_stf"] <= s["p50_surplus_pre_stf"] <= s["p90_surplus_pre_stf"]
    p = t["probability"]
    assert 0 <= p["meet_control_total"] <= 1
    assert set(p["quarters"]) == {"q1", "q2", "q3", "q4"}
    assert set(p["score"]["overall"]) == {"1", "2", "3", "4"}
    assert sum(p["score"]["overall"].values()) == pytest.approx(1.0)
    assert set(p["score"]["metrics"]) >= {"ie_margin", "liquidity_days"}
    pc = t["percentiles"]["surplus_pre_stf"]
    assert pc["p5"] <= pc["p50"] <= pc["p95"]
    assert set(t["funding_expected"]) == {"q1", "q2", "q3", "q4", "year"}
    prov = d["provenance"]
    assert prov["seed"] == 42 and prov["sampler"] == "sobol" and prov["draws"] == 1024
    assert prov["input_hash"] == run["provenance"]["input_hash"]
    assert any(u.startswith("priors-2017:") for u in prov["unverified"])
    again = json.loads(invoke("simulate", example, "-n", "1024", "--seed", "42", "--json").output)
    assert again == d  # same seed, same answers


def test_simulate_no_uncertainty_is_the_run(example: Path) -> None:
    """--no-uncertainty: P(meet) is the run's 1 and every percentile the run's forecast."""
    d = json.loads(
        invoke("simulate", example, "-n", "64", "--seed", "1", "--no-uncertainty", "--json").output
    )
    t = d["trusts"][0]
    assert t["probability"]["meet_control_total"] == 1.0
    forecast = t["control_total"]["forecast"]
    for q in ("p5", "p50", "p95"):
        assert t["percentiles"]["surplus_pre_stf"][q] == forecast
    assert d["provenance"]["priors"] == "none"


def test_simulate_text_and_results_workbook(example: Path, tmp_path: Path) -> None:
    """The text summary names the probability; -o writes a Simulation sheet and the results
    workbook still reads back as the same plan."""
    out = tmp_path / "results.xlsx"
    r = invoke("simulate", example, "-n", "512", "--seed", "3", "-o", out)
    assert r.exit_code == 0, r.output
    assert "P(meet control total, year)" in r.output and "Results written to" in r.output
    assert "Every plan year" in r.output and "2018/19" in r.output
    wb = openpyxl.load_workbook(out, read_only=True)
    assert {
        "Simulation",
        "Simulation years",
        "Simulation percentiles",
        "Simulation scores",
        "Simulation funding",
        "Simulation fan chart",
        "Simulation drivers",
        "Summary",
        "Provenance",
    } <= set(wb.sheetnames)
    wb.close()
    assert read_plan(out) == read_plan(example)


def test_solve_probability(example: Path) -> None:
    """solve --probability gives the CIP needed for that probability and the curve."""
    r = invoke("solve", example, "--probability", "0.5", "-n", "1024", "--seed", "42", "--json")
    assert r.exit_code == 0, r.output
    t = json.loads(r.output)["trusts"][0]
    assert t["needed_pct"] > t["planned_pct"] and t["reachable"] is True
    assert t["p_at_plan"] < 0.5
    probs = [c["probability"] for c in t["curve"]]
    assert probs == sorted(probs)
    text = invoke("solve", example, "--probability", "0.5", "-n", "1024", "--seed", "42")
    assert "CIP needed for P(meet the pre-STF control total) >= 50%" in text.output


@pytest.mark.parametrize(
    "args, message",
    [
        (("-n", "0"), "0 is not in the range"),
        (("-n", "20000000"), "add --allow-large"),
        (("--sampler", "halton"), "'halton' is not one of"),
        (("--tolerance", "0.9"), "--tolerance"),
        (("--priors", "no-such-priors"), "unknown rule pack 'no-such-priors'"),
        (("--seed", "-3"), "--seed"),
    ],
)
def test_simulate_bad_input_exits_2(example: Path, args: tuple[str, ...], message: str) -> None:
    """Bad settings exit with code 2 and a message naming the problem, no traceback."""
    r = CliRunner().invoke(cli, ["simulate", str(example), *args])
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert "Traceback" not in r.output


def test_solve_bad_probability_exits_2(example: Path) -> None:
    """--probability must be strictly between 0 and 1."""
    r = CliRunner().invoke(cli, ["solve", str(example), "--probability", "1.5"])
    assert r.exit_code == 2 and "--probability" in r.output
    r = CliRunner().invoke(cli, ["solve", str(example), "--probability", "0.5", "--year", "2"])
    assert r.exit_code == 2 and "plan year 1 only" in r.output


def test_simulate_help() -> None:
    """simulate has help listing its options."""
    r = invoke("simulate", "--help")
    assert r.exit_code == 0
    for opt in (
        "--draws",
        "--seed",
        "--sampler",
        "--json",
        "--no-uncertainty",
        "--priors",
        "--output",
    ):
        assert opt in r.output
