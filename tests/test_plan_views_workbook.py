"""The recurrent flag and the Outturn sheet through a plan workbook (issue 10 items 5, 6)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from cipmodel.errors import ValidationError
from cipmodel.examples import example_portfolio
from cipmodel.io.reader import read_plan
from cipmodel.io.template import write_template


def _column(ws: openpyxl.worksheet.worksheet.Worksheet, header: str) -> int:
    for cell in ws[1]:
        if cell.value == header:
            return int(cell.column)
    raise AssertionError(f"no column {header!r} on {ws.title}")


def test_example_round_trips_with_its_outturn(tmp_path: Path) -> None:
    p = example_portfolio("acute-11pc")
    path = tmp_path / "plan.xlsx"
    write_template(path, p)
    q = read_plan(path)
    assert q == p
    assert len(q.outturn) == len(p.outturn) > 0
    assert [r.recurrent for r in q.outturn].count(False) == 3


@pytest.mark.parametrize(("text", "value"), [("NR", False), ("non-recurrent", False), ("r", True)])
def test_flag_words_in_a_workbook(tmp_path: Path, text: str, value: bool) -> None:
    path = tmp_path / "plan.xlsx"
    write_template(path, example_portfolio("acute-11pc"))
    wb = openpyxl.load_workbook(path)
    ws = wb["Costs"]
    ws.cell(2, _column(ws, "recurrent")).value = text
    wb.save(path)
    assert read_plan(path).costs[0].recurrent is value


def test_a_bad_flag_names_the_cell(tmp_path: Path) -> None:
    path = tmp_path / "plan.xlsx"
    write_template(path, example_portfolio("acute-11pc"))
    wb = openpyxl.load_workbook(path)
    ws = wb["Income"]
    col = _column(ws, "recurrent")
    ws.cell(3, col).value = "sometimes"
    wb.save(path)
    letter = openpyxl.utils.get_column_letter(col)
    with pytest.raises(ValidationError, match=rf"Income!{letter}3.*recurrent must be Y or N"):
        read_plan(path)


def test_a_workbook_without_an_outturn_sheet_reads(tmp_path: Path) -> None:
    p = example_portfolio("acute-11pc").replace(outturn=())
    path = tmp_path / "plan.xlsx"
    write_template(path, p)
    wb = openpyxl.load_workbook(path)
    del wb["Outturn"]
    wb.save(path)
    assert read_plan(path).outturn == ()
