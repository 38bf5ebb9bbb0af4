"""Plan workbooks saved by a real spreadsheet application (LibreOffice Calc, headless).

These check what openpyxl alone cannot: that a workbook re-saved by a spreadsheet
application (shared strings, its own styles, recalculated formulas) reads back as the same
plan, and that the template's tables and drop-downs survive it. Each conversion uses its
own LibreOffice profile folder, so tests can run in parallel.
"""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pytest

from cipmodel.errors import ValidationError
from cipmodel.examples import example_portfolio
from cipmodel.io import read_plan, read_plan_with_notes, write_template

pytestmark = pytest.mark.libreoffice

TIMEOUT_S = 120


def _resave(soffice: str, src: Path, tmp_path: Path) -> Path:
    """Open ``src`` in LibreOffice headless and save it as .xlsx; returns the new file."""
    out = tmp_path / "lo-out"
    out.mkdir()
    profile = tmp_path / "lo-profile"
    cmd = [
        soffice,
        f"-env:UserInstallation={profile.as_uri()}",
        "--headless",
        "--norestore",
        "--nolockcheck",
        "--calc",
        "--convert-to",
        "xlsx:Calc MS Excel 2007 XML",
        "--outdir",
        str(out),
        str(src),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    saved = out / (src.stem + ".xlsx")
    assert saved.is_file(), f"LibreOffice did not convert {src.name}: {done.stdout}{done.stderr}"
    return saved


@pytest.mark.parametrize("example", ["acute-11pc", "small"])
def test_plan_resaved_by_libreoffice_reads_back_equal(
    soffice: str, tmp_path: Path, example: str
) -> None:
    """A filled plan opened and saved by LibreOffice gives the same Portfolio."""
    p = example_portfolio(example)
    src = tmp_path / "plan.xlsx"
    write_template(src, p)
    saved = _resave(soffice, src, tmp_path)
    with zipfile.ZipFile(saved) as zf:
        assert "xl/sharedStrings.xml" in zf.namelist()  # LibreOffice's own way of saving
    q, notes = read_plan_with_notes(saved)
    assert q == p
    assert notes == []


def test_template_tables_and_dropdowns_survive_libreoffice(soffice: str, tmp_path: Path) -> None:
    """LibreOffice keeps the Excel Tables and drop-downs, so they are valid to a real app."""
    src = tmp_path / "template.xlsx"
    write_template(src)
    wb = openpyxl.load_workbook(_resave(soffice, src, tmp_path))
    cip = wb["CIP"]
    assert list(cip.tables) == ["tblCIP"]
    rules = {
        str(dv.sqref): (dv.type, dv.formula1, dv.formula2)
        for dv in cip.data_validations.dataValidation
    }
    assert rules["D2:D1001"][:2] == ("list", '"pay,non_pay,income"')
    assert rules["J2:J1001"][:2] == ("list", '"Y,N"')
    assert rules["H2:H1001"] == ("whole", "1", "12")  # start_month
    assert cip["F1"].value == "value_fye (£000)"


def test_formulas_are_read_by_the_values_libreoffice_saved(soffice: str, tmp_path: Path) -> None:
    """Formulas typed into input cells are read by the results LibreOffice calculated."""
    p = example_portfolio("small")
    src = tmp_path / "formulas.xlsx"
    write_template(src, p)
    wb = openpyxl.load_workbook(src)
    wb["CIP"]["F2"] = "=200+40"  # S1 value_fye 240
    wb["CIP"]["F3"] = "=SUM(F2/2)"  # S2 value_fye 120, from another input cell
    wb["CIP"]["C3"] = '="One-off "&"accrual release"'  # S2 name, a text result
    wb["Costs"]["C2"] = "=9*1000"  # pay_substantive 9000
    wb["ControlTotal"]["C2"] = "=100*2"  # target 200
    wb.save(src)

    with pytest.raises(ValidationError) as info:
        read_plan(src)  # as openpyxl wrote it: formulas without results
    assert [pr.place for pr in info.value.problems] == [
        "Costs!C2",
        "CIP!F2",
        "CIP!C3",
        "CIP!F3",
        "ControlTotal!C2",
    ]
    assert all("has no saved value" in pr.message for pr in info.value.problems)

    q = read_plan(_resave(soffice, src, tmp_path))
    assert q == p
    assert (q.cip[1].value_fye, q.cip[1].name) == (120.0, "One-off accrual release")


def _hand_filled(src: Path) -> None:
    """A blank template filled as a finance analyst might: text numbers with separators
    and brackets, a lower-case trust code, a misspelt optional header, an extra column and
    a hand-typed total row, saved by openpyxl (then by LibreOffice in the test)."""
    write_template(src)
    wb = openpyxl.load_workbook(src)

    def row(sheet: str, values: dict[str, object], r: int = 2) -> None:
        ws = wb[sheet]
        heads = {str(c.value).split(" (")[0]: c.column for c in ws[1] if c.value}
        for key, value in values.items():
            ws.cell(r, heads[key]).value = value

    row("Trusts", {"trust_code": "RXX", "name": "Hand Filled NHS Trust", "trust_type": "Acute"})
    row("Income", {"trust_code": "RXX", "line": "nhs_clinical", "annual_value": "300,000"})
    row(
        "Income", {"trust_code": "rxx", "line": "other_operating", "annual_value": "20\u00a0000"}, 3
    )
    row("Income", {"trust_code": "Total", "annual_value": "320,000"}, 4)
    row("Costs", {"trust_code": "RXX", "line": "pay_substantive", "annual_value": "£250,000"})
    row("Costs", {"trust_code": "RXX", "line": "other_non_pay", "annual_value": 70000}, 3)
    row("Costs", {"trust_code": "RXX", "line": "depreciation", "annual_value": "\u2013"}, 4)
    row("CIP", {"trust_code": "rxx", "scheme_id": "S1", "name": "Rostering", "category": "Pay"})
    row("CIP", {"value_fye": "3,000", "start_month": 7})
    wb["CIP"].cell(1, 8).value = "Strat month"  # start_month, misspelt
    wb["CIP"].cell(1, 13).value = "Owner (SRO)"
    wb["CIP"].cell(2, 13).value = "Director of Nursing"
    row("ControlTotal", {"trust_code": "RXX", "target_pre_stf": "(4,000)"})
    wb.save(src)


def test_hand_filled_template_saved_by_libreoffice(soffice: str, tmp_path: Path) -> None:
    """Typos, look-alikes and bracketed negatives in a LibreOffice-saved workbook: the
    misspelt header is refused naming its cell; accepted deliberately, the rest reads as
    meant, each assumption noted with its place."""
    src = tmp_path / "hand.xlsx"
    _hand_filled(src)
    saved = _resave(soffice, src, tmp_path)
    with pytest.raises(ValidationError) as info:
        read_plan(saved)
    (problem,) = info.value.problems
    assert problem.place == "CIP!H1" and "did you mean 'start_month'?" in problem.message

    q, notes = read_plan_with_notes(saved, allow_extra_columns=["Strat month"])
    assert [(i.trust_code, i.annual_value) for i in q.income] == [
        ("RXX", 300000.0),
        ("RXX", 20000.0),
    ]
    assert [c.annual_value for c in q.costs] == [250000.0, 70000.0, 0.0]
    assert q.control_total[0].target_pre_stf == -4000.0
    (scheme,) = q.cip
    assert (scheme.trust_code, scheme.value_fye, scheme.start_month) == ("RXX", 3000.0, 1)
    places = {n.place: str(n) for n in notes}
    assert "as asked" in places["CIP!H1"]
    assert "not a CIP column" in places["CIP!M1"]
    assert places["Income!row 4"].startswith("Income: row 4 ('Total') is a total")
    assert "read as 'RXX'" in places["Income!A3"] and "read as 'RXX'" in places["CIP!A2"]


def test_rows_and_columns_hidden_in_libreoffice_are_noted(soffice: str, tmp_path: Path) -> None:
    """Hidden rows and a hidden field column, as LibreOffice saves them (its own
    ``hidden="true"``), are read and noted with their place."""
    p = example_portfolio("acute-11pc")
    src = tmp_path / "plan.xlsx"
    write_template(src, p)
    wb = openpyxl.load_workbook(src)
    for r in (12, 13, 14):
        wb["CIP"].row_dimensions[r].hidden = True
    wb["CIP"].column_dimensions["F"].hidden = True  # value_fye
    wb.save(src)
    saved = _resave(soffice, src, tmp_path)
    q, notes = read_plan_with_notes(saved)
    assert q == p
    places = {n.place for n in notes}
    assert {"CIP!rows 12-14", "CIP!column F"} <= places, [n.line() for n in notes]
