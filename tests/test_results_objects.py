"""The result objects are the one source of truth for every output of a run or a solve.

* A plan run's figures (:mod:`cipmodel.results.figures`) are computed once; the ``run --json``
  contract and the DataFrame views both render them, and the JSON never reads a DataFrame.
* The contract's typed dicts (:mod:`cipmodel.results.contract`) list the keys in the order the
  JSON has them.
* :meth:`SolveResult.to_dict` is exactly what ``solve --json`` prints.
* The calibration targets are data, and every one is measured.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, NotRequired, get_origin, get_type_hints

import numpy as np
import pytest
from click.testing import CliRunner

from cipmodel.cli import cli
from cipmodel.engine.project import compile_plan
from cipmodel.engine.solve import SolvedTrustDict, SolveResult, solve_cip
from cipmodel.examples import example_portfolio
from cipmodel.formatting import json_float
from cipmodel.inputs.records import TABLE_NAMES, Portfolio
from cipmodel.io import write_template
from cipmodel.results import contract
from cipmodel.results.calibration import TARGETS, Target
from cipmodel.results.figures import MET_TOLERANCE, TrustFigures, TrustYear
from cipmodel.results.run import RunResult, run_plan
from cipmodel.results.sector import sector_tables


def _two_trusts() -> Portfolio:
    """The acute example and the small example without its CIP (so the solve gives it a
    notional programme), two plan years for the first and one for the second."""
    a, b = example_portfolio("acute-11pc"), example_portfolio("small").replace(cip=())
    tables = {t: (*getattr(a, t), *getattr(b, t)) for t in TABLE_NAMES}
    return Portfolio(**tables, name="two trusts")


@pytest.fixture(scope="module")
def result() -> RunResult:
    return run_plan(_two_trusts())


def test_figures_are_computed_once_and_frozen(result: RunResult) -> None:
    figs = result.figures
    assert figs is result.figures
    assert [t.code for t in figs] == list(result.plan.codes)
    assert all(isinstance(t, TrustFigures) for t in figs)
    with pytest.raises(dataclasses.FrozenInstanceError):
        figs[0].first_year.surplus_pre_stf = 0.0  # type: ignore[misc]
    assert [len(t.years) for t in figs] == [int(h) for h in result.plan.horizon]
    assert [len(t.periods) for t in figs] == [4, 4]


def test_json_does_not_read_the_dataframes(
    result: RunResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    """to_dict() renders the figures: with every DataFrame view broken it gives the same."""
    expected = json.dumps(result.to_dict())

    def broken(self: RunResult) -> Any:
        raise AssertionError("to_dict() must not read a DataFrame view")

    for view in ("trust_summary", "monthly", "lines", "schemes", "funding", "metrics"):
        monkeypatch.setattr(RunResult, view, broken)
    fresh = run_plan(_two_trusts())
    assert json.dumps(fresh.to_dict()) == expected


def test_tables_and_json_show_the_same_numbers(result: RunResult) -> None:
    """The summary table, the funding table and the JSON agree cell by cell."""
    d = result.to_dict()
    summary = result.trust_summary()
    for t, fig in zip(d["trusts"], result.figures, strict=True):
        rows = summary[summary.trust_code == fig.code].reset_index(drop=True)
        assert len(rows) == len(t["years"]) == len(fig.years)
        for (_, row), year, y in zip(rows.iterrows(), t["years"], fig.years, strict=True):
            assert row.year == year["year"] == y.year
            for key in ("surplus_pre_stf", "variance", "cip_planned", "operating_income"):
                assert json_float(row[key]) == year[key] == json_float(getattr(y, key))
            assert row.met == year["met"] == y.met
        first = fig.first_year
        assert t["control_total"]["variance"] == json_float(first.variance)
        assert first.variance == first.surplus_pre_stf - first.control_total_pre_stf
        assert first.met is (first.variance >= -MET_TOLERANCE)
        assert list(t["control_total"]["quarters"].values()) == [
            json_float(v) for v in first.ytd_variance
        ]
    funding = result.funding()
    assert list(funding.earned) == [q.earned for t in result.figures for q in t.funding.quarters]
    assert list(funding.quarter) == ["Q1", "Q2", "Q3", "Q4"] * 2


def test_a_year_without_a_control_total_has_no_met(result: RunResult) -> None:
    years: list[TrustYear] = [y for t in result.figures for y in t.years]
    for y in years:
        if math.isnan(y.control_total_pre_stf):
            assert y.met is None
        else:
            assert isinstance(y.met, bool)


def _keys_in_order(td: Any, present: Any = None) -> list[str]:
    """The typed dict's keys in order; with ``present``, its optional (NotRequired) keys only
    where ``present`` has them."""
    hints = get_type_hints(td, include_extras=True)
    if present is None:
        return list(hints)
    return [k for k, h in hints.items() if get_origin(h) is not NotRequired or k in present]


def test_contract_typed_dicts_list_the_keys_in_json_order(result: RunResult) -> None:
    """Each typed dict of the contract declares the keys the JSON has, in the same order."""
    d = result.to_dict()
    assert list(d) == _keys_in_order(contract.RunDict)
    for t in d["trusts"]:
        assert list(t) == _keys_in_order(contract.TrustDict)
        assert list(t["control_total"]) == _keys_in_order(contract.ControlTotalDict)
        assert list(t["cip"]) == _keys_in_order(contract.CipDict)
        assert list(t["funding"]) == _keys_in_order(contract.FundingDict, t["funding"])
        for q in t["funding"]["quarters"].values():
            assert list(q) == _keys_in_order(contract.FundingQuarterDict)
        assert list(t["candidate_segment"]) == _keys_in_order(contract.CandidateSegmentDict)
        assert list(t["income_and_expenditure"]) == _keys_in_order(
            contract.IncomeAndExpenditureDict
        )
        for y in t["years"]:
            assert list(y) == _keys_in_order(contract.YearDict, y)
            assert list(y["control_total"]) == _keys_in_order(
                contract.YearControlTotalDict, y["control_total"]
            )
            assert list(y["cip"]) == _keys_in_order(contract.YearCipDict, y["cip"])
        for m in t["metrics"].values():
            assert list(m) == _keys_in_order(contract.MetricDict)[: len(m)]
            assert ("not_applicable" in m) == (m["value"] is None)
    json.dumps(d, allow_nan=False)


def test_sector_tables_count_the_figures(result: RunResult) -> None:
    finance = sector_tables(result)["finance"]
    total = finance.loc["all trusts"]
    assert total.trusts == 2
    assert total.meeting_control_total == sum(bool(t.first_year.met) for t in result.figures)
    assert total.cip_planned == sum(t.first_year.cip_planned for t in result.figures)


# -- SolveResult.to_dict -------------------------------------------------------------------


def _cli_solve(path: Path, year: int) -> str:
    r = CliRunner().invoke(
        cli, ["solve", str(path), "--json", "--year", str(year)], catch_exceptions=False
    )
    assert r.exit_code == 0, r.output
    return r.output


@pytest.mark.parametrize("year", [1, 2])
def test_solve_to_dict_is_what_solve_json_prints(tmp_path: Path, year: int) -> None:
    portfolio = example_portfolio("acute-11pc")
    path = write_template(tmp_path / "plan.xlsx", portfolio)
    s = solve_cip(compile_plan(portfolio), year=year)
    printed = json.loads(_cli_solve(path, year))
    # the command adds the reader's notes (an addition): the example's unsplit PFI charge
    assert [w["place"] for w in printed.pop("warnings")] == ["Financing"]
    assert json.dumps(printed, indent=2) == json.dumps(s.to_dict(), indent=2)


def test_solve_to_dict_rows() -> None:
    """One row per trust; a trust without a programme has a notional value and no scale."""
    s = solve_cip(compile_plan(_two_trusts()))
    assert isinstance(s, SolveResult)
    rows = s.to_dict()["trusts"]
    assert [r["code"] for r in rows] == list(s.codes)
    assert all(list(r) == _keys_in_order(SolvedTrustDict) for r in rows)
    with_programme, without = rows
    assert with_programme["scale"] is not None and with_programme["notional"] is None
    assert without["scale"] is None and without["notional"] == float(s.notional[1])
    assert without["planned"] == 0.0
    for i, r in enumerate(rows):
        assert r["year"] == 1
        assert r["needed"] == float(s.needed[i])
        assert r["needed_pct"] == float(s.needed_pct[i])
        assert r["band"] == str(s.band[i])
        assert r["met_without_cip"] is bool(s.met_without_cip[i])
    json.dumps(s.to_dict(), allow_nan=False)


# -- calibration targets -------------------------------------------------------------------


def test_calibration_targets_are_data() -> None:
    names = [t.name for t in TARGETS]
    assert len(set(names)) == len(names)
    assert sum(t.per_type for t in TARGETS) == 1
    for t in TARGETS:
        low, high = t.bounds(1.0)
        assert low <= high, t.name
    assert Target("x", 230, 240, "count", "", per_sector=True).bounds(0.5) == (115.0, 120.0)
    assert Target("x", 4.0, 4.5, "%", "").bounds(0.5) == (4.0, 4.5)
    cip = next(t for t in TARGETS if t.name == "CIP schemes")
    assert cip.bounds(1.0) == (9000 * 0.85, 9000 * 1.15)
    assert np.isinf(next(t for t in TARGETS if t.name.startswith("acute after")).low)
