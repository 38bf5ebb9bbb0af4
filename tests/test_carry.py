"""The results workbook carries the user's own workbook (issue 11, section 2).

A plan workbook a finance team has worked on (their own sheets, extra columns, comments,
hidden sheets and rows, formulas with the values Excel saved, renamed headers, defined
names, column widths, formats, validation and conditional formatting) goes into the results
workbook as it is, with the result sheets added; a re-run replaces exactly the sheets
carrying cipmodel's mark (never what a Provenance sheet lists); what cannot be carried is
said, never silently dropped.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from openpyxl.chart import BarChart, Reference
from openpyxl.comments import Comment
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Font, PatternFill
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from sheet_names import RESULT_SHEETS

from cipmodel.cli import cli
from cipmodel.errors import InPlaceRefused
from cipmodel.examples import example_portfolio
from cipmodel.io import read_plan, write_in_place, write_results_workbook, write_template
from cipmodel.io.carry import load_for_results, write_carried_results
from cipmodel.io.results_base import RESULT_MARK
from cipmodel.results.run import RunResult, run_plan

RESULTS = RESULT_SHEETS


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _set_cached(path: Path, values: dict[str, bytes]) -> None:
    """Give formula cells the values Excel would have saved with them (openpyxl saves
    none): ``values`` maps a formula's text (``B1*2``) to its ``<v>`` text."""
    src = path.read_bytes()
    out = io.BytesIO()
    done = set()
    with zipfile.ZipFile(io.BytesIO(src)) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            for formula, v in values.items():
                pat = re.compile(rb"(<f>" + re.escape(formula.encode()) + rb"</f>)<v\s*/>")
                data, n = pat.subn(rb"\1<v>" + v + b"</v>", data)
                if n:
                    done.add(formula)
            zout.writestr(item, data)
    assert done == set(values), done
    path.write_bytes(out.getvalue())


def user_workbook(tmp_path: Path, name: str = "plan.xlsx") -> Path:
    """The worked example as a finance team would have it after some work in Excel."""
    path = tmp_path / name
    write_template(path, example_portfolio("acute-11pc"))
    wb = openpyxl.load_workbook(path)
    ws = wb.create_sheet("My workings")
    ws["A1"], ws["B1"], ws["B2"] = "Stretch target", 1250.5, "=B1*2"
    ws["A3"] = "hidden row"
    ws["A1"].comment = Comment("agreed with the CFO", "FD")
    ws["B1"].number_format = "#,##0.0;[Red](#,##0.0)"
    ws["B1"].font = Font(bold=True, color="FFC00000")
    ws["A1"].fill = PatternFill(fill_type="solid", fgColor="FFFFFF00")
    ws.column_dimensions["A"].width = 31.5
    ws.row_dimensions[3].hidden = True
    dv = DataValidation(type="list", formula1='"yes,no"', allow_blank=True)
    ws.add_data_validation(dv)
    dv.add("C1:C5")
    ws.conditional_formatting.add(
        "B1:B2", CellIsRule(operator="lessThan", formula=["0"], font=Font(color="FFFF0000"))
    )
    secret = wb.create_sheet("Secret")
    secret["A1"] = "very hidden note"
    secret.sheet_state = "veryHidden"
    wb["Profiles"].sheet_state = "hidden"
    wb.defined_names.add(DefinedName("StretchTarget", attr_text="'My workings'!$B$1"))
    cip = wb["CIP"]
    col = cip.max_column + 1
    cip.cell(1, col, "Owner (SRO)")
    cip.cell(2, col, "J. Smith (Director of Finance)")
    cip.cell(2, 3).comment = Comment("scheme renamed in May", "PMO")
    heads = {c.value: c for c in cip[1]}
    heads["value_fye (£000)"].value = "Value FYE (£000)"  # a custom header the reader accepts
    cip["F3"] = "=100+23.5"  # a formula on an input sheet, with its saved value below
    wb.save(path)
    _set_cached(path, {"B1*2": b"2501", "100+23.5": b"123.5"})
    return path


def _style(c: Any) -> tuple[Any, ...]:
    return (c.number_format, c.font.b, c.font.color and c.font.color.rgb, c.fill.fgColor.rgb)


def test_results_workbook_carries_everything_of_the_users(tmp_path: Path) -> None:
    """Every kind of thing a user adds survives into the results workbook, each asserted;
    the result sheets are added after the user's; the plan reads back the same."""
    plan = user_workbook(tmp_path)
    before = _digest(plan)
    portfolio = read_plan(plan)
    assert portfolio.cip[1].value_fye == 123.5  # the formula's saved value is the input
    out = tmp_path / "results.xlsx"
    carried = write_carried_results(out, plan, run_plan(portfolio))
    assert carried.losses == [] and carried.notes == [] and carried.replaced == []
    assert _digest(plan) == before  # the plan itself is never written

    user = openpyxl.load_workbook(plan)
    got = openpyxl.load_workbook(out)
    values = openpyxl.load_workbook(out, data_only=True)
    assert got.sheetnames == [*RESULTS, *user.sheetnames]
    assert got.active.title == "Board summary"
    ws = got["My workings"]
    assert ws["B2"].value == "=B1*2" and values["My workings"]["B2"].value == 2501
    assert got["CIP"]["F3"].value == "=100+23.5" and values["CIP"]["F3"].value == 123.5
    assert ws["A1"].comment.text == "agreed with the CFO"
    assert got["CIP"].cell(2, 3).comment.text == "scheme renamed in May"
    assert ws.column_dimensions["A"].width == 31.5
    assert ws.row_dimensions[3].hidden
    assert got["Secret"].sheet_state == "veryHidden" and got["Profiles"].sheet_state == "hidden"
    assert got["Secret"]["A1"].value == "very hidden note"
    assert list(got.defined_names["StretchTarget"].destinations) == [("My workings", "$B$1")]
    assert [str(d.sqref) for d in ws.data_validations.dataValidation] == ["C1:C5"]
    assert [str(r.sqref) for r in ws.conditional_formatting] == ["B1:B2"]
    heads = [c.value for c in got["CIP"][1]]
    assert "Value FYE (£000)" in heads and heads[-1] == "Owner (SRO)"
    assert got["CIP"].cell(2, len(heads)).value == "J. Smith (Director of Finance)"
    assert list(got["CIP"].tables) == list(user["CIP"].tables)
    # every cell of every user sheet: the same value and the same format
    for title in user.sheetnames:
        a, b = user[title], got[title]
        for row in a.iter_rows():
            for c in row:
                d = b[c.coordinate]
                assert (d.value, _style(d)) == (c.value, _style(c)), f"{title}!{c.coordinate}"
    assert read_plan(out) == portfolio
    prov = {r[0]: r[1] for r in values["Provenance"].iter_rows(values_only=True)}
    assert prov["not_carried"] == "nothing"
    assert prov["carried_from"].startswith("plan.xlsx")


def test_rerun_replaces_exactly_the_marked_result_sheets(tmp_path: Path) -> None:
    """Carrying a results workbook again (after editing its inputs) replaces every sheet an
    earlier run wrote, extra sheets and renamed ones included, and nothing else; a
    Provenance sheet edited to claim the user's sheets changes nothing."""
    plan = user_workbook(tmp_path)
    result = run_plan(read_plan(plan))
    first = tmp_path / "first.xlsx"
    write_carried_results(first, plan, result, extra_sheets={"Sector finance": _frame()})
    wb = openpyxl.load_workbook(first)
    assert "Sector finance" in wb.sheetnames
    wb["Summary"].title = "Summary (April)"  # a renamed result sheet is still a result
    wb.defined_names.add(DefinedName("MyMonth", attr_text="Monthly!$C$5"))  # the user's
    headline = [n for n in wb.defined_names if n.endswith("_CT_variance")]
    assert headline
    prov = wb["Provenance"]
    for row in prov.iter_rows(min_row=1):
        if row[0].value == "result_sheets":  # a forged list: the user's sheets
            row[1].value = '["My workings", "CIP", "Secret"]'
    trusts = wb["Trusts"]
    name_col = next(c.column for c in trusts[1] if c.value == "name")
    trusts.cell(2, name_col, "Renamed Hospitals NHS Trust")  # an edited input
    wb.save(first)
    _set_cached(first, {"B1*2": b"2501", "100+23.5": b"123.5"})
    edited = read_plan(first)
    second = tmp_path / "second.xlsx"
    carried = write_carried_results(second, first, run_plan(edited))
    assert sorted(carried.replaced) == sorted(
        ["Board summary", "Summary (April)", "Plan years", "Monthly", "STF by quarter", "Metrics"]
        + ["Schemes", "Lines", "Sector finance", "Provenance"]
    )
    got = openpyxl.load_workbook(second)
    user = openpyxl.load_workbook(plan).sheetnames
    assert got.sheetnames == [*RESULTS, *user]
    summary = openpyxl.load_workbook(second, data_only=True)["Summary"]
    assert any("Renamed Hospitals" in str(c.value) for row in summary.iter_rows() for c in row)
    assert read_plan(second) == edited
    marked = {ws.title for ws in got.worksheets if RESULT_MARK in ws.defined_names}
    assert marked == set(RESULTS)
    assert list(got.defined_names["MyMonth"].destinations) == [("Monthly", "$C$5")]
    for name in headline:  # defined anew, on the new result sheets
        sheets = [s for s, _ref in got.defined_names[name].destinations]
        assert len(sheets) == 1 and sheets[0] in RESULTS


def _frame() -> Any:
    import pandas as pd

    return pd.DataFrame({"trust type": ["acute"], "surplus (£000)": [1.0]})


def test_a_users_sheet_named_like_a_result_is_not_taken_for_one(
    tmp_path: Path, example_result: RunResult
) -> None:
    """Without cipmodel's mark a sheet called 'Monthly' is the user's: --in-place refuses
    (the file untouched); a new results workbook takes its place and says so; a sheet
    named like an older result that this run does not write is kept and noted."""
    plan = tmp_path / "plan.xlsx"
    write_template(plan, example_result.portfolio)
    wb = openpyxl.load_workbook(plan)
    wb.create_sheet("Monthly")["A1"] = "my own monthly figures"
    wb.create_sheet("Simulation")["A1"] = "from an old run?"
    wb.save(plan)
    before = _digest(plan)
    with pytest.raises(InPlaceRefused, match="sheet 'Monthly'"):
        write_in_place(plan, example_result)
    assert _digest(plan) == before
    carried = write_carried_results(tmp_path / "r.xlsx", plan, example_result)
    assert carried.losses == ["sheet 'Monthly' (a result sheet of that name takes its place)"]
    assert len(carried.notes) == 1 and "sheet 'Simulation'" in carried.notes[0]
    got = openpyxl.load_workbook(tmp_path / "r.xlsx")
    assert got["Simulation"]["A1"].value == "from an old run?"
    assert got["Monthly"]["A1"].value != "my own monthly figures"


def test_what_cannot_be_carried_is_said_and_results_are_written(tmp_path: Path) -> None:
    """A chart (which openpyxl cannot carry) in the user's workbook: `run -o` writes the
    results anyway, lists the chart on stderr and on the Provenance sheet, exits 0 and
    leaves the plan as it was."""
    plan = user_workbook(tmp_path)
    wb = openpyxl.load_workbook(plan)
    ws = wb["My workings"]
    chart = BarChart()
    chart.add_data(Reference(ws, min_col=2, min_row=1, max_row=2))
    ws.add_chart(chart, "E2")
    wb.save(plan)
    _set_cached(plan, {"B1*2": b"2501", "100+23.5": b"123.5"})
    before = _digest(plan)
    out = tmp_path / "results.xlsx"
    r = CliRunner().invoke(cli, ["run", str(plan), "-o", str(out), "--json"])
    assert r.exit_code == 0, r.output
    assert "a chart on sheet 'My workings'" in r.stderr
    assert "chart" not in r.stdout and r.stdout.lstrip().startswith("{")
    assert _digest(plan) == before
    prov = {
        row[0]: row[1]
        for row in openpyxl.load_workbook(out)["Provenance"].iter_rows(values_only=True)
    }
    assert "a chart on sheet 'My workings'" in prov["not_carried"]


def test_cli_run_carries_a_workbook_and_recreates_an_example(tmp_path: Path) -> None:
    """`run PLAN.xlsx -o` carries PLAN (its sheets visible as they were); a scenario (whose
    inputs differ from any workbook's) gets its input sheets written new and hidden."""
    plan = user_workbook(tmp_path)
    runner = CliRunner()
    out = tmp_path / "carried.xlsx"
    r = runner.invoke(cli, ["run", str(plan), "-o", str(out)])
    assert r.exit_code == 0, r.output
    wb = openpyxl.load_workbook(out)
    assert "My workings" in wb.sheetnames and wb["CIP"].sheet_state == "visible"
    scen = tmp_path / "stretch.toml"
    scen.write_text(
        '[scenario]\nname = "stretch"\nplan = "plan.xlsx"\n\n[cip]\ndelivered_pct = 0.8\n'
    )
    out2 = tmp_path / "scenario.xlsx"
    r = runner.invoke(cli, ["run", str(scen), "-o", str(out2)])
    assert r.exit_code == 0, r.output
    wb2 = openpyxl.load_workbook(out2)
    assert "My workings" not in wb2.sheetnames and wb2["CIP"].sheet_state == "hidden"


def test_load_for_results_refuses_before_loading(tmp_path: Path) -> None:
    """With refuse_losses the losses are found from the file's parts, before openpyxl."""
    plan = user_workbook(tmp_path)
    wb = openpyxl.load_workbook(plan)
    wb.create_sheet("Summary")
    wb.save(plan)
    _set_cached(plan, {"B1*2": b"2501", "100+23.5": b"123.5"})
    with pytest.raises(InPlaceRefused, match="would replace it"):
        load_for_results(plan.read_bytes(), plan.name, ["Summary"], refuse_losses=True)


def test_fresh_results_carry_the_mark_and_are_replaced_in_place(
    tmp_path: Path, example_result: RunResult
) -> None:
    """A results workbook written new marks its result sheets; --in-place into it replaces
    them (one Summary), keeps the hidden input sheets, and a backup."""
    path = tmp_path / "results.xlsx"
    write_results_workbook(path, example_result)
    wb = openpyxl.load_workbook(path)
    assert {ws.title for ws in wb.worksheets if RESULT_MARK in ws.defined_names} == set(RESULTS)
    backup = write_in_place(path, example_result)
    assert backup.is_file()
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames.count("Summary") == 1 and wb["CIP"].sheet_state == "hidden"
    assert read_plan(path) == example_result.portfolio


def test_in_place_keeps_formulas_with_their_values(tmp_path: Path) -> None:
    """Formulas on input sheets (with the values Excel saved) no longer stop --in-place:
    the cells are carried as they were, so the plan reads back the same."""
    plan = user_workbook(tmp_path)
    portfolio = read_plan(plan)
    backup = write_in_place(plan, run_plan(portfolio))
    assert backup.name == "plan.bak.xlsx"
    values = openpyxl.load_workbook(plan, data_only=True)
    assert values["CIP"]["F3"].value == 123.5 and values["My workings"]["B2"].value == 2501
    assert read_plan(plan) == portfolio


@pytest.mark.libreoffice
def test_carried_workbook_recalculates_in_libreoffice(soffice: str, tmp_path: Path) -> None:
    """A plan saved by LibreOffice (shared strings, its own namespaces) with a sheet of the
    user's formulas, carried into a results workbook: LibreOffice recalculates every result
    formula to the engine's value and the user's formulas to the values carried with them;
    the workbook reads back as the plan."""
    from test_results_libreoffice import _compare, _recalc

    from cipmodel.io.results_workbook import build_results_workbook, new_sheet_names

    src = tmp_path / "plan-src.xlsx"
    write_template(src, example_portfolio("acute-11pc"))
    wb = openpyxl.load_workbook(src)
    ws = wb.create_sheet("My workings")
    ws["A1"], ws["B1"], ws["B2"], ws["B3"] = "Stretch", 1250.5, "=B1*2", "=SUM(CIP!F:F)"
    wb.save(src)
    plan = _recalc(soffice, src, tmp_path, "resave")
    with zipfile.ZipFile(plan) as zf:
        assert "xl/sharedStrings.xml" in zf.namelist()
    portfolio = read_plan(plan)
    result = run_plan(portfolio)
    out = tmp_path / "results.xlsx"
    carried = write_carried_results(out, plan, result)
    assert carried.losses == []
    saved = openpyxl.load_workbook(out, data_only=True)["My workings"]
    assert saved["B2"].value == 2501
    assert saved["B3"].value == pytest.approx(sum(c.value_fye for c in portfolio.cip))
    again = load_for_results(plan.read_bytes(), plan.name, new_sheet_names(result, None))
    expected = build_results_workbook(result, workbook=again.workbook).expected
    recalculated = _recalc(soffice, out, tmp_path, "recalc")
    n, bad = _compare(recalculated, expected, out)
    assert not bad, "\n".join(bad[:20])
    assert n == len(expected) > 300
    lo = openpyxl.load_workbook(recalculated, data_only=True)["My workings"]
    assert (lo["B2"].value, lo["B3"].value) == (saved["B2"].value, pytest.approx(saved["B3"].value))
    assert read_plan(out) == portfolio


def test_a_workbook_that_cannot_be_carried_still_gets_its_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If openpyxl cannot load a workbook that cipmodel could read, `run -o` still writes
    the results (input sheets re-created, hidden) and says so on stderr and Provenance."""
    from cipmodel.io import carry

    plan = user_workbook(tmp_path)

    def broken(zf: Any, name: str) -> Any:
        raise KeyError("styles")

    monkeypatch.setattr(carry, "_load_without_cells", broken)
    out = tmp_path / "results.xlsx"
    r = CliRunner().invoke(cli, ["run", str(plan), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "the workbook itself" in r.stderr and "cannot be read as a workbook" in r.stderr
    wb = openpyxl.load_workbook(out)
    assert "My workings" not in wb.sheetnames and wb["CIP"].sheet_state == "hidden"
    prov = {row[0]: row[1] for row in wb["Provenance"].iter_rows(values_only=True)}
    assert prov["not_carried"].startswith("the workbook itself")
    assert read_plan(out) == read_plan(plan)


def test_cli_portfolio_carries_the_plan_and_marks_its_sector_sheets(tmp_path: Path) -> None:
    """`portfolio PLAN -o` carries PLAN too; its sector sheets carry the mark, so a later
    plain run on the results replaces them."""
    plan = user_workbook(tmp_path)
    out, again = tmp_path / "portfolio.xlsx", tmp_path / "again.xlsx"
    r = CliRunner().invoke(cli, ["portfolio", str(plan), "-o", str(out)])
    assert r.exit_code == 0, r.output
    wb = openpyxl.load_workbook(out)
    sectors = [t for t in wb.sheetnames if t.startswith("Sector ")]
    assert sectors and "My workings" in wb.sheetnames
    assert all(RESULT_MARK in wb[t].defined_names for t in sectors)
    r = CliRunner().invoke(cli, ["run", str(out), "-o", str(again)])
    assert r.exit_code == 0, r.output
    got = openpyxl.load_workbook(again).sheetnames
    assert not [t for t in got if t.startswith("Sector ")] and "My workings" in got


# -- the hostile-input cases of this part (tests/fuzz/hostile.py, CARRY_CASES) -------------
def _carry_case_ids() -> list[str]:
    from fuzz.hostile import CARRY_CASES

    return [h.id for h in CARRY_CASES]


@pytest.mark.parametrize("case", _carry_case_ids())
def test_hostile_workbooks_are_carried(tmp_path: Path, case: str) -> None:
    """Each carry case through `run -o`: exit 0, the plan reads back the same from the
    results, and what the case is about is carried (or replaced) as it should be."""
    from fuzz.hostile import BY_ID

    h = BY_ID[case]
    assert h.make is not None
    plan = h.make(tmp_path)
    out = tmp_path / "results.xlsx"
    r = CliRunner().invoke(cli, ["run", str(plan), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert read_plan(out) == read_plan(plan)
    got = openpyxl.load_workbook(out)
    if case == "carry-mark-on-input":  # a forged mark on an input sheet is not cipmodel's
        assert "CIP" in got.sheetnames
    elif case == "carry-forged-provenance":  # the user's Provenance: replaced, and said
        assert {"CIP", "Trusts"} <= set(got.sheetnames)
        assert "sheet 'Provenance'" in r.stderr and "takes its place" in r.stderr
        # the Provenance sheet is cipmodel's now: it comes with the result sheets, first
        assert got["Provenance"]["A2"].value != "package" or (
            got.sheetnames.index("Provenance") < got.sheetnames.index("CIP")
        )
    elif case == "carry-prefixed-sheet":
        values = openpyxl.load_workbook(out, data_only=True)["Workings"]
        assert (values["A1"].value, values["B1"].value) == ("Stretch", 1250.5)
        assert got["Workings"]["B2"].value == "=B1*2"  # its saved value cannot be carried:
        assert "the saved values of the formulas on sheet 'Workings'" in r.stderr
    else:
        with zipfile.ZipFile(out) as zf:
            cip = next(
                zf.read(n)
                for n in zf.namelist()
                if n.startswith("xl/worksheets/") and b"x14ac:dyDescent" in zf.read(n)
            )
        assert b'xmlns:x14ac="' in cip and b' vm="' not in cip
