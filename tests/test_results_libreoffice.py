"""Results workbooks recalculated by a real spreadsheet application (LibreOffice Calc).

cipmodel saves every formula with its value. LibreOffice opens the workbook headless with a
profile set to recalculate every formula on load (it would otherwise show the saved values),
and saves it; its values are then compared, cell by cell, with the engine's value of each
formula (``ResultsWorkbook.expected``), and so are the values cipmodel saved: money to £1k
(1.0 in £000), ratios to 1e-9, counts and text exactly. A workbook whose saved values are
all wrong on purpose still recalculates to the engine's values: the comparison checks the
formulas, not the saved values. Each conversion uses its own LibreOffice profile folder, so
tests can run in parallel.
"""

from __future__ import annotations

import io
import re
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from lo_support import export_pdf, need_poppler, pages_per_sheet, pdf_pages, recalc_profile
from sheet_names import RESULT_SHEETS
from test_results_workbook import fake_simulation, multi_portfolio, reverse_data_columns

from cipmodel.cli import cli
from cipmodel.examples import example_portfolio
from cipmodel.formatting import money
from cipmodel.io import in_place_losses, read_plan, write_in_place, write_template
from cipmodel.io.results_workbook import Expected, build_results_workbook, write_results_workbook
from cipmodel.results.run import run_plan
from cipmodel.results.sector import sector_tables

pytestmark = pytest.mark.libreoffice

TIMEOUT_S = 180
EXAMPLE = Path(__file__).resolve().parents[1] / "templates" / "example-acute-11pc.xlsx"
#: The worked example's own sheets, as `cipmodel template --example acute-11pc` writes them.
EXAMPLE_SHEETS = [
    "README",
    "Trusts",
    "Income",
    "Costs",
    "CIP",
    "ControlTotal",
    "Funding",
    "Financing",
    "Drivers",
    "Profiles",
    "Outturn",
]
#: Result sheets of a one-trust run of the example (its PFI note makes an Input notes sheet).
EXAMPLE_RESULTS = [*RESULT_SHEETS, "Input notes"]
#: The example's carried sheets print in this many pages: measured with LibreOffice 7 (this
#: test's export), README 2 (119 rows of field descriptions, landscape, fitted to the
#: width), ControlTotal 2 (18 columns: two pages wide, trust_code repeated), the nine
#: others 1 each. The bound is that count: more means their print setup got worse.
EXAMPLE_SHEET_PAGES = 13
TOLERANCE = {"money": 1.0, "ratio": 1e-9, "count": 0.0}


def _recalc(soffice: str, src: Path, tmp_path: Path, tag: str = "lo") -> Path:
    """Open ``src`` in LibreOffice headless (which calculates it) and save it as .xlsx."""
    out = tmp_path / f"{tag}-out"
    out.mkdir()
    profile = recalc_profile(tmp_path / f"{tag}-profile")
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


def _equal(got: Any, exp: Expected) -> bool:
    if exp.kind == "text":
        return bool(got == exp.value)
    return (
        isinstance(got, (int, float))
        and not isinstance(got, bool)
        and abs(got - float(exp.value)) <= TOLERANCE[exp.kind]
    )


def _compare(
    saved: Path, expected: dict[str, Expected], written: Path | None = None
) -> tuple[int, list[str]]:
    """(cells compared, mismatches) of the recalculated workbook against the engine and,
    with ``written`` (the file cipmodel wrote), of the values cipmodel saved too."""
    wb = openpyxl.load_workbook(saved, data_only=True)
    ours = openpyxl.load_workbook(written, data_only=True) if written is not None else None
    bad = []
    for key, exp in expected.items():
        sheet, ref = key.split("!")
        got: Any = wb[sheet][ref].value
        if not _equal(got, exp):
            bad.append(f"{key}: LibreOffice {got!r}, engine {exp.value!r} ({exp.kind})")
        if ours is not None and not _equal(cached := ours[sheet][ref].value, exp):
            bad.append(f"{key}: saved value {cached!r}, engine {exp.value!r} ({exp.kind})")
    return len(expected), bad


def _poison(src: Path, dst: Path) -> None:
    """A copy of ``src`` whose every saved formula value is wrong (999999)."""
    out = io.BytesIO()
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                data = re.sub(rb"</f><v>[^<]*</v>", b"</f><v>999999</v>", data)
                data = data.replace(b' t="str"><f>', b"><f>")
            zout.writestr(item, data)
    dst.write_bytes(out.getvalue())


@pytest.mark.parametrize("case", ["acute-11pc", "three trusts", "with simulation"])
def test_every_formula_recalculated_equals_the_engine(
    soffice: str, tmp_path: Path, case: str
) -> None:
    """Every formula of the results workbook, calculated by LibreOffice, equals the engine's
    value: money to £1k, ratios to 1e-9, met/not met and n/a exactly."""
    portfolio = multi_portfolio() if case == "three trusts" else example_portfolio("acute-11pc")
    result = run_plan(portfolio)
    sim = fake_simulation(list(result.plan.codes)) if case == "with simulation" else None
    built = build_results_workbook(result, simulation=sim)
    src = tmp_path / "results.xlsx"
    built.save(src)
    n, bad = _compare(_recalc(soffice, src, tmp_path), built.expected, src)
    print(f"\n{case}: {n} formula cells (recalculated and saved) compared, {len(bad)} mismatches")
    assert not bad, "\n".join(bad[:20])
    kinds = {e.kind for e in built.expected.values()}
    assert {"money", "ratio", "text"} <= kinds
    assert n > (800 if case == "three trusts" else 300)
    # the Plan years sheet's formulas (every plan year) are among those compared
    years = [k for k in built.expected if k.startswith("Plan years!")]
    assert len(years) >= 15 * int(result.plan.horizon.sum()), len(years)
    if case == "three trusts":  # a metric not applicable is "n/a", as in the engine
        assert any(e.value == "n/a" for e in built.expected.values())


def test_recalculation_ignores_the_saved_values(soffice: str, tmp_path: Path) -> None:
    """With every saved formula value replaced by a wrong number, LibreOffice's values still
    equal the engine's: the comparisons above check the formulas, not what cipmodel saved."""
    built = build_results_workbook(run_plan(multi_portfolio()))
    src, poisoned = tmp_path / "results.xlsx", tmp_path / "poisoned.xlsx"
    built.save(src)
    _poison(src, poisoned)
    wrong = openpyxl.load_workbook(poisoned, data_only=True)
    assert all(
        wrong[k.split("!")[0]][k.split("!")[1]].value == 999999 for k in list(built.expected)[:50]
    )
    n, bad = _compare(_recalc(soffice, poisoned, tmp_path), built.expected)
    assert not bad, "\n".join(bad[:20])
    assert n > 800


def test_formulas_follow_moved_columns(
    soffice: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every data sheet's columns in reverse order, every formula recalculated by
    LibreOffice still equals the engine: formulas address columns by header, not letter."""
    reverse_data_columns(monkeypatch)
    result = run_plan(multi_portfolio())
    built = build_results_workbook(result, simulation=fake_simulation(list(result.plan.codes)))
    assert built.reopen()["Monthly"]["A1"].value != "trust_code"
    src = tmp_path / "results.xlsx"
    built.save(src)
    n, bad = _compare(_recalc(soffice, src, tmp_path), built.expected, src)
    assert not bad, "\n".join(bad[:20])
    assert n > 800


def test_charts_and_plan_survive_libreoffice(soffice: str, tmp_path: Path) -> None:
    """A results workbook re-saved by LibreOffice keeps its seven charts (three on the
    Summary; the year to date, the pipeline and the bridge on the board summary; the
    bridge on Plan years) and still reads back as the original plan."""
    portfolio = example_portfolio("acute-11pc")
    src = tmp_path / "results.xlsx"
    build_results_workbook(run_plan(portfolio)).save(src)
    saved = _recalc(soffice, src, tmp_path)
    with zipfile.ZipFile(saved) as zf:
        assert len([n for n in zf.namelist() if n.startswith("xl/charts/chart")]) == 7
    assert read_plan(saved) == portfolio


def test_in_place_into_a_plan_saved_by_libreoffice(soffice: str, tmp_path: Path) -> None:
    """A plan saved by a real spreadsheet application has nothing openpyxl would lose; the
    results written into it recalculate to the engine's values and the plan reads back."""
    portfolio = example_portfolio("acute-11pc")
    src = tmp_path / "plan.xlsx"
    write_template(src, portfolio)
    plan = _recalc(soffice, src, tmp_path, "resave")
    assert in_place_losses(plan) == []
    result = run_plan(read_plan(plan))
    backup = write_in_place(plan, result)
    assert backup.is_file()
    assert read_plan(plan) == portfolio
    # the layout of results written in place (no note about hidden input sheets)
    expected = build_results_workbook(result, workbook=openpyxl.load_workbook(backup)).expected
    n, bad = _compare(_recalc(soffice, plan, tmp_path, "recalc"), expected, plan)
    assert not bad, "\n".join(bad[:20])
    assert n == len(expected)


# -- printing: LibreOffice's PDF export of the whole workbook ------------------------------
def test_one_trust_workbook_prints_in_at_most_15_pages(soffice: str, tmp_path: Path) -> None:
    """Exported to PDF (A4) the worked example's results workbook is at most 15 pages (13
    when measured): every page has the header naming its sheet, the board summary comes
    first on one page, the Summary three, each table a page or two, Provenance one or two,
    the hidden input sheets none, and the three charts share one page."""
    need_poppler()
    src = tmp_path / "results.xlsx"
    result = run_plan(example_portfolio("acute-11pc"))
    write_results_workbook(src, result)
    pdf = export_pdf(soffice, src, tmp_path)
    pages = pdf_pages(pdf)
    sheets = ["Summary", "Monthly", "STF by quarter", "Metrics", "Schemes", "Lines"]
    counts = pages_per_sheet(pages, ["Board summary", *sheets, "Plan years", "Provenance"])
    print(f"\none trust: {len(pages)} pages, {dict(counts)}")
    assert len(pages) <= 15, counts
    assert counts["Board summary"] == 1
    _board_page_is_whole(pdf, pages[0], result)
    assert "?" not in counts, counts  # every page carries the header
    assert counts["Summary"] <= 3, counts
    assert all(1 <= counts[s] <= 2 for s in sheets[1:]), counts
    assert 1 <= counts["Provenance"] <= 2
    # both plan years and the bridge with its waterfall, on two pages
    assert counts["Plan years"] <= 2, counts
    plan_years = [text for text in pages if " Plan years " in f" {' '.join(text.split())} "]
    assert any("bridge from outturn to plan" in text for text in plan_years)
    titles = ("Year to date against control total", "CIP planned by category", "STF/PSF by")
    with_charts = [i for i, text in enumerate(pages) if all(t in text for t in titles)]
    assert len(with_charts) == 1, with_charts
    assert all("Page " in text and " of " in text for text in pages)


def test_run_of_the_example_prints_its_results_in_at_most_15_pages(
    soffice: str, tmp_path: Path
) -> None:
    """`cipmodel run templates/example-acute-11pc.xlsx -o r.xlsx`, exported to PDF (A4): the
    result sheets, Board summary to Provenance plus Input notes, print in at most 15 pages
    (14 when measured), each page counted for its sheet; the example's own sheets, carried
    visibly after them, in at most :data:`EXAMPLE_SHEET_PAGES`.

    Counting: the whole workbook is exported once, as a user printing it would, and each
    page is given to the sheet its header names (every result sheet and every sheet of our
    templates has the sheet's name in its header, ``&A``); a page naming no sheet fails the
    test, so no page goes uncounted. Exporting a copy without the carried sheets would count
    the results alone, but not the carried sheets, and would not be the file the user has.
    """
    need_poppler()
    out = tmp_path / "r.xlsx"
    done = CliRunner().invoke(cli, ["run", str(EXAMPLE), "-o", str(out)])
    assert done.exit_code == 0, done.output
    wb = openpyxl.load_workbook(out, read_only=True)
    assert wb.sheetnames == [*EXAMPLE_RESULTS, *EXAMPLE_SHEETS]
    wb.close()
    pages = pdf_pages(export_pdf(soffice, out, tmp_path))
    counts = pages_per_sheet(pages, [*EXAMPLE_RESULTS, *EXAMPLE_SHEETS])
    results = sum(counts[s] for s in EXAMPLE_RESULTS)
    carried = sum(counts[s] for s in EXAMPLE_SHEETS)
    print(f"\nrun of the example: {len(pages)} pages, results {results}, carried {carried}")
    print(dict(counts))
    assert "?" not in counts, counts  # every page carries the header naming its sheet
    assert all(counts[s] >= 1 for s in [*EXAMPLE_RESULTS, *EXAMPLE_SHEETS]), counts
    assert results <= 15, counts
    assert counts["Summary"] <= 3 and counts["Input notes"] == 1, counts
    assert carried <= EXAMPLE_SHEET_PAGES, counts
    assert len(pages) == results + carried
    # the input notes page names the PFI charge it is about
    notes = [text for text in pages if " Input notes " in f" {' '.join(text.split())} "]
    assert any("PFI" in text for text in notes)


def test_rows_a_user_adds_to_our_template_print(soffice: str, tmp_path: Path) -> None:
    """Our plan workbook's input sheets have no print area (which would stop at the rows
    cipmodel wrote): 40 schemes typed below the example's 41 on the CIP sheet print, on a
    second CIP page, the header row repeated on it."""
    need_poppler()
    plan = tmp_path / "plan.xlsx"
    write_template(plan, example_portfolio("acute-11pc"))
    wb = openpyxl.load_workbook(plan)
    ws = wb["CIP"]
    assert ws.max_row == 42
    for r in range(43, 83):
        for c in range(1, ws.max_column + 1):
            ws.cell(r, c, ws.cell(r - 40, c).value)
        ws.cell(r, 2, f"ADDED{r}")
    wb.save(plan)
    pages = pdf_pages(export_pdf(soffice, plan, tmp_path))
    counts = pages_per_sheet(pages, EXAMPLE_SHEETS)
    assert counts["CIP"] == 2, counts
    cip = [text for text in pages if " CIP " in f" {' '.join(text.splitlines()[0].split())} "]
    assert "ADDED82" in cip[-1] and "scheme_id" in cip[-1]


def test_sector_sheets_print_on_a_page_each(soffice: str, tmp_path: Path) -> None:
    """A portfolio's results workbook with the sector tables of `cipmodel portfolio`:
    each Sector sheet, the Charts and Provenance print on at most three pages (here one)."""
    need_poppler()
    result = run_plan(multi_portfolio())
    tables = sector_tables(result)
    extra = {f"Sector {k}": v.reset_index(names="type") for k, v in tables.items()}
    src = tmp_path / "results.xlsx"
    write_results_workbook(src, result, extra_sheets=extra)
    pages = pdf_pages(export_pdf(soffice, src, tmp_path))
    sector = list(extra)
    data = ["Monthly", "STF by quarter", "Metrics", "Schemes", "Lines"]
    board = "Board summary"
    sheets = [board, "Summary", "Charts", "Plan years", *data, *sector, "Provenance"]
    counts = pages_per_sheet(pages, sheets)
    print(f"\nthree trusts with sector tables: {len(pages)} pages, {dict(counts)}")
    assert counts[board] == 1 and f" {board} " in f" {' '.join(pages[0].split())} "
    assert "By trust type" in pages[0] and "furthest below" in pages[0]
    for title in [*sector, "Charts", "Provenance"]:
        assert 1 <= counts[title] <= 3, (title, counts)
    assert "?" not in counts and counts["Summary"] <= 8
    assert counts["Plan years"] <= 2 * len(result.plan.codes)  # two pages a trust at most
    assert any("Portfolio of 3 trusts" in text for text in pages)


def _board_page_is_whole(pdf: Path, text: str, result: Any) -> None:
    """The board summary's page (the PDF's first): landscape, every section and the
    headline's numbers in ``run --json``'s £000 printed on it, both charts' titles there."""
    info = subprocess.run(
        ["pdfinfo", "-f", "1", "-l", "1", str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    size = re.search(r"Page\s+1 size:\s+([\d.]+) x ([\d.]+)", info)
    assert size is not None and float(size.group(1)) > float(size.group(2))  # landscape
    flat = " ".join(text.split())
    t = result.to_dict()["trusts"][0]
    ct, f = t["control_total"], t["funding"]
    for part in (
        "Board summary: RXX",
        "Plan year 1 (2017/18): the control total",
        "Cost improvement programme, in year",
        "Single Oversight Framework, full year",
        "STF/PSF by quarter",
        "Each plan year",
        "Largest risks",
        "Year to date against control total",
        "CIP pipeline by stage and RAG",
        money(ct["target"]),
        money(ct["forecast"]),
        money(ct["target"] + f["allocation"]),
        money(t["reported_surplus"]),
        money(t["cip"]["needed"]),
        money(t["cip"]["unidentified"]),
        money(f["earned"]),
    ):
        assert part in flat, part
