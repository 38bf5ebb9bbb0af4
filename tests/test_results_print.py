"""The results workbook as it prints and as other workbooks link to it: page setup on every
sheet, headers and footers, page breaks that keep Summary sections and charts whole, the
headline figures' defined names, number formats and the sector tables' headers.

How the pages really come out (LibreOffice's PDF export) is checked in
``test_results_libreoffice.py``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from test_results_workbook import fake_simulation

from cipmodel import __version__
from cipmodel.cli import cli
from cipmodel.examples import example_portfolio
from cipmodel.inputs.schema import load_schema
from cipmodel.io import write_in_place, write_results_workbook, write_template
from cipmodel.io.names import HEADLINES, excel_name_prefix
from cipmodel.io.results_workbook import build_results_workbook
from cipmodel.results.run import RunResult
from cipmodel.results.sector import sector_tables

MONEY = '#,##0;(#,##0);"-"'
#: Each plan year's names (RXX_Y2_CT_variance...), on the Plan years sheet.
YEAR_NAMES = (
    "surplus_pre_STF",
    "CT",
    "CT_variance",
    "CT_met",
    "CT_post_STF",
    "reported_surplus",
    "CT_variance_post_STF",
    "CT_met_post_STF",
    "CIP_planned",
    "CIP_needed",
    "CIP_needed_pct",
    "CIP_gap",
    "CIP_risk_adjusted",
    "forecast_risk_adjusted",
    "underlying_surplus",
    "STF_earned",
    "STF_lost",
    "finance_score",
    "segment",
)
TABLES = ["Monthly", "STF by quarter", "Metrics", "Schemes", "Lines"]
INPUT_SHEETS = ["README", *(t.sheet for t in load_schema().tables)]
VALID_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
EXAMPLE = Path(__file__).resolve().parents[1] / "templates" / "example-acute-11pc.xlsx"


@pytest.fixture(scope="module")
def example_book(example_result: RunResult) -> Any:
    return build_results_workbook(example_result).reopen()


def _row_of(ws: Any, label: str) -> int:
    for r in range(1, ws.max_row + 1):
        if ws.cell(row=r, column=1).value == label:
            return r
    raise AssertionError(label)


def test_every_result_sheet_has_a4_a_print_area_and_a_header_and_footer(
    example_book: Any, example_result: RunResult
) -> None:
    """Header: the trust, the sheet, the plan year; footer: version and short input hash,
    "Page P of N", the date printed; A4; a print area over what was written."""
    short = example_result.provenance["input_hash"][: len("sha256:") + 8]
    for title in ["Summary", *TABLES, "Provenance"]:
        ws = example_book[title]
        assert int(ws.page_setup.paperSize) == 9, title  # A4
        assert ws.print_area, title
        head, foot = ws.oddHeader, ws.oddFooter
        assert head.left.text == "RXX Example Acute Hospitals NHS Trust", title
        assert head.center.text == "&B&A" and head.right.text == "Plan year 2017/18"
        assert foot.left.text == f"cipmodel {__version__}, input {short}"
        assert foot.center.text == "Page &P of &N" and foot.right.text == "Printed &D"


def test_tables_fit_the_page_width_with_their_header_repeated(example_book: Any) -> None:
    """Data sheets: header row on every page, fitted to one page wide (as many pages down
    as needed), except Metrics, fitted to two pages wide with its first columns repeated
    rather than shrunk to a third; landscape where wide; gridlines."""
    for title in TABLES:
        ws = example_book[title]
        assert ws.print_title_rows == "$1:$1", title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, title
        assert ws.page_setup.fitToHeight == 0, title
        assert ws.print_options.gridLines, title
        assert ws.row_dimensions[1].height >= 30, title  # wrapped headers print whole
        wide = title == "Metrics"
        assert ws.page_setup.fitToWidth == (2 if wide else 1), title
        assert (ws.print_title_cols == "$A:$B") == wide, title
    assert example_book["Monthly"].page_setup.orientation == "landscape"
    assert example_book["Monthly"].print_area.endswith("$A$1:$Q$25")


def test_summary_breaks_pages_only_before_a_section_a_list_or_the_charts(
    example_book: Any,
) -> None:
    """One trust: portrait at a fixed 70% (manual breaks; Excel ignores them under "fit
    to"), the trust-code row on every page, every page break just before a section heading,
    a list's own heading ("Lost by quarter", "Year-to-date control total, at the end of") or
    the charts, and the three charts together below the figures, on no page of their own
    (the figures' last rows share it): three pages."""
    ws = example_book["Summary"]
    assert ws.page_setup.orientation == "portrait" and ws.page_setup.scale == 70
    assert not ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.print_title_rows == f"${_row_of(ws, 'Trust')}:${_row_of(ws, 'Trust')}"
    assert ws.print_area.endswith(f"$A$1:$B${ws.max_row}") or ws.print_area.startswith(
        "'Summary'!$A$1:$B$"
    )
    breaks = [b.id for b in ws.row_breaks.brk]
    assert len(breaks) == 2, breaks  # three pages
    tops = sorted(c.anchor._from.row + 1 for c in ws._charts)  # 1-based first rows
    last_figure = max(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value)
    assert len(tops) == 3 and tops[0] > last_figure
    assert not any(tops[0] <= b + 1 <= tops[-1] for b in breaks)  # the charts together
    assert breaks[-1] + 1 < last_figure  # figures share the charts' page
    lists = {"Lost by quarter", "Year-to-date control total, at the end of"}
    for b in breaks:
        first = ws.cell(row=b + 1, column=1)
        assert first.font.b or first.value in lists, first.value


def test_input_sheets_are_hidden_and_do_not_print(example_book: Any) -> None:
    """The plan's input sheets follow Provenance, hidden, without a print area (which
    LibreOffice would print even on a hidden sheet); the Summary says how to see them."""
    for title in INPUT_SHEETS:
        ws = example_book[title]
        assert ws.sheet_state == "hidden" and not ws.print_area, title
    summary = example_book["Summary"]
    notes = " ".join(str(summary.cell(r, 1).value) for r in range(1, 6))
    assert "hidden" in notes and "Unhide" in notes


def test_provenance_wraps_its_values(example_book: Any) -> None:
    """Provenance fits a portrait page: values wrapped in a wide column, long ones in
    rows tall enough for their text."""
    ws = example_book["Provenance"]
    assert ws.page_setup.orientation == "portrait"
    assert ws.column_dimensions["B"].width >= 60
    row = _row_of(ws, "unverified")
    assert ws.cell(row=row, column=2).alignment.wrap_text
    assert ws.row_dimensions[row].height > 30


def test_headline_names_link_to_the_run_answers(tmp_path: Path, example_result: RunResult) -> None:
    """RXX_CT_variance, RXX_CIP_needed, RXX_STF_earned, RXX_finance_score... are
    workbook-level names of Summary cells whose saved values are the run's answers."""
    path = tmp_path / "results.xlsx"
    write_results_workbook(path, example_result)
    wb = openpyxl.load_workbook(path, data_only=True)
    t = example_result.to_dict()["trusts"][0]

    def value(name: str) -> Any:
        ((sheet, ref),) = list(wb.defined_names[name].destinations)
        return wb[sheet][ref.replace("$", "")].value

    assert value("RXX_CT_variance") == pytest.approx(t["control_total"]["variance"], abs=1e-6)
    assert value("RXX_CT") == pytest.approx(t["control_total"]["target"])
    assert value("RXX_CT_met") == ("yes" if t["control_total"]["met"] else "NO")
    assert value("RXX_CIP_needed") == pytest.approx(t["cip"]["needed"], abs=1e-6)
    assert value("RXX_CIP_needed_pct") == pytest.approx(t["cip"]["needed_pct"], abs=1e-6)
    assert value("RXX_STF_earned") == pytest.approx(t["funding"]["earned"], abs=1e-6)
    assert value("RXX_reported_surplus") == pytest.approx(t["reported_surplus"], abs=1e-6)
    assert value("RXX_finance_score") == t["score"]["overall"]
    names = set(wb.defined_names)
    board = {"RXX_CT_post_STF", "RXX_CT_variance_post_STF", "RXX_CIP_unidentified"}
    board.add("RXX_CIP_risk_adjusted")
    board |= {"RXX_STF_allocation", *(f"RXX_Y{y}_{k}" for y in (1, 2) for k in YEAR_NAMES)}
    assert names == {f"RXX_{suffix}" for _key, suffix, _what in HEADLINES} | board
    post = t["control_total"]["target"] + t["funding"]["allocation"]
    assert value("RXX_CT_post_STF") == pytest.approx(post)
    assert value("RXX_CT_variance_post_STF") == pytest.approx(t["reported_surplus"] - post)
    assert value("RXX_CIP_unidentified") == pytest.approx(t["cip"]["unidentified"])
    risk = t["years"][0]["cip"]["risk_adjusted"]["expected"]
    assert value("RXX_CIP_risk_adjusted") == pytest.approx(risk, abs=1e-6)
    for y in t["years"]:
        n = y["year"]
        assert value(f"RXX_Y{n}_CT_variance") == pytest.approx(y["variance"], abs=1e-6)
        assert value(f"RXX_Y{n}_CIP_planned") == pytest.approx(y["cip_planned"], abs=1e-6)


def test_portfolio_names_cover_each_trust_and_all_trusts(multi_result: RunResult) -> None:
    """A portfolio: every trust's names and the All-trusts column's (for the figures it
    has); every name is a valid Excel name."""
    built = build_results_workbook(multi_result)
    names = built.names
    for code in ("T0", "T1", "T2"):
        assert f"{code}_CT_variance" in names and f"{code}_finance_score" in names
    assert "All_trusts_CT_variance" in names and "All_trusts_STF_earned" in names
    assert "All_trusts_finance_score" not in names  # no overall score for the sector
    assert all(VALID_NAME.match(n) for n in names)
    sheets = ("Summary!$", "'Board summary'!$", "'Plan years'!$")
    assert all(ref.startswith(sheets) for ref in names.values())
    assert "All_trusts_share_meeting_CT" in names


def test_trust_codes_become_valid_excel_names() -> None:
    """Characters outside letters, digits and _ become _, and a leading digit gets _."""
    assert excel_name_prefix("RXX") == "RXX"
    assert excel_name_prefix("5A-1") == "_5A_1"
    assert excel_name_prefix("R 1/2") == "R_1_2"


def test_names_written_in_place_again_are_replaced(
    tmp_path: Path, example_result: RunResult
) -> None:
    """Writing results into a workbook twice leaves one set of names, on the new Summary;
    a name of the user's own is kept."""
    plan = tmp_path / "plan.xlsx"
    write_template(plan, example_portfolio("acute-11pc"))
    wb = openpyxl.load_workbook(plan)
    from openpyxl.workbook.defined_name import DefinedName

    wb.defined_names["my_rate"] = DefinedName("my_rate", attr_text="Drivers!$C$2")
    wb.save(plan)
    write_in_place(plan, example_result, simulation=fake_simulation(["RXX"]))
    first = openpyxl.load_workbook(plan).defined_names["RXX_finance_score"].attr_text
    write_in_place(plan, example_result)  # no simulation: the same rows, or fewer
    wb = openpyxl.load_workbook(plan)
    assert "my_rate" in wb.defined_names
    ((sheet, ref),) = list(wb.defined_names["RXX_finance_score"].destinations)
    assert (
        wb[sheet][ref.replace("$", "")].value
        == example_result.to_dict()["trusts"][0]["score"]["overall"]
    )
    assert first  # defined by the first run, redefined by the second
    ours = {n for n in wb.defined_names if n.startswith("RXX_")}
    assert ours == set(build_results_workbook(example_result).names)
    assert wb["Summary"].sheet_state == "visible" and wb["CIP"].sheet_state == "visible"


def test_money_and_percentages_have_one_format(example_book: Any) -> None:
    """£000 shows #,##0 with deficits in brackets and zero as a dash, shares 0.0%,
    on the Summary and the data sheets alike."""
    ws = example_book["Summary"]
    assert ws.cell(_row_of(ws, "Operating income"), 2).number_format == MONEY
    assert ws.cell(_row_of(ws, "Allocation"), 2).number_format == MONEY
    share = _row_of(ws, "CIP planned, % of operating expenditure before CIP")
    assert ws.cell(share, 2).number_format == "0.0%"
    assert example_book["Monthly"]["E2"].number_format == MONEY
    assert example_book["CIP"]["F2"].number_format == MONEY


def test_sector_tables_have_human_headers_and_formats(
    tmp_path: Path, multi_result: RunResult
) -> None:
    """The sector sheets of `cipmodel portfolio`: headers in words with units, £000
    formats, trust types as words and the All trusts row in bold."""
    tables = sector_tables(multi_result)
    extra = {f"Sector {k}": v.reset_index(names="type") for k, v in tables.items()}
    path = tmp_path / "results.xlsx"
    write_results_workbook(path, multi_result, extra_sheets=extra)
    ws = openpyxl.load_workbook(path)["Sector finance"]
    heads = [c.value for c in ws[1]]
    assert heads[:3] == ["Trust type", "Trusts", "Meeting the control total (pre-STF)"]
    assert "Operating income (£000)" in heads and "CIP planned (£000)" in heads
    col = heads.index("Operating income (£000)") + 1
    assert ws.cell(2, col).number_format == MONEY
    assert ws.cell(2, 1).value == "Acute"
    assert ws.cell(ws.max_row, 1).value == "All trusts" and ws.cell(ws.max_row, col).font.b
    assert ws.print_title_rows == "$1:$1" and ws.page_setup.fitToWidth == 1


def _page_setup(ws: Any) -> tuple[Any, ...]:
    ps = ws.page_setup
    return (
        int(ps.paperSize),
        ps.orientation,
        ps.fitToWidth,
        ps.fitToHeight,
        ws.sheet_properties.pageSetUpPr.fitToPage,
        ws.print_title_rows,
        ws.print_title_cols,
        ws.print_area,
        ws.oddHeader.center.text,
        ws.oddFooter.center.text,
    )


def test_template_sheets_print_setup_survives_carrying(tmp_path: Path) -> None:
    """Every sheet of our worked example is set up to print (A4, fitted to the page width,
    header row repeated, the sheet named in header and footer with "page P of N"), and a
    results workbook that carries it (`cipmodel run plan.xlsx -o r.xlsx`) keeps each sheet's
    page setup exactly as the plan had it."""
    plan, out = tmp_path / "plan.xlsx", tmp_path / "r.xlsx"
    write_template(plan, example_portfolio("acute-11pc"))
    done = CliRunner().invoke(cli, ["run", str(plan), "-o", str(out)])
    assert done.exit_code == 0, done.output
    before, after = openpyxl.load_workbook(plan), openpyxl.load_workbook(out)
    for ws in before.worksheets:
        setup = _page_setup(ws)
        assert setup[0] == 9 and setup[2] >= 1 and setup[3] == 0 and setup[4], ws.title
        assert setup[8] == "&B&A" and setup[9] == "&A, page &P of &N", ws.title
        if ws.title != "README":
            assert setup[5] == "$1:$1", ws.title  # the header row on every page
            assert not setup[7], ws.title  # no print area: rows the user adds print
        assert after[ws.title].sheet_state == "visible"
        assert _page_setup(after[ws.title]) == setup, ws.title
    assert before["Trusts"].page_setup.orientation == "landscape"  # wide
    assert before["Outturn"].page_setup.orientation == "portrait"  # five columns


def test_input_notes_print_like_a_result_sheet(tmp_path: Path) -> None:
    """The Input notes sheet (the example's note on its unsplit PFI charge): the result
    sheets' header and footer, fitted to one page wide, header row repeated, each note's row
    as tall as its wrapped sentence."""
    out = tmp_path / "r.xlsx"
    done = CliRunner().invoke(cli, ["run", str(EXAMPLE), "-o", str(out)])
    assert done.exit_code == 0, done.output
    ws = openpyxl.load_workbook(out)["Input notes"]
    assert "PFI" in str(ws["C2"].value) and len(str(ws["C2"].value)) > 200
    assert ws.oddHeader.center.text == "&B&A" and ws.oddFooter.center.text == "Page &P of &N"
    assert ws.oddHeader.left.text == "RXX Example Acute Hospitals NHS Trust"
    assert ws.print_title_rows == "$1:$1" and ws.page_setup.fitToWidth == 1
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToHeight == 0
    assert ws.page_setup.orientation == "landscape"  # 132 characters wide
    assert ws.print_area.endswith("$A$1:$C$2")
    assert ws.row_dimensions[2].height >= 45  # three lines or more at 92 characters a line
