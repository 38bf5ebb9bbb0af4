"""The results workbook: layout, live formulas and their engine values, charts, provenance,
formula-injection safety, and writing into the user's own workbook (``--in-place``).

The spreadsheet recalculation of every formula is checked in
``test_results_libreoffice.py``; here the workbook is inspected as written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl.chart import BarChart, Reference
from openpyxl.drawing.image import Image
from sheet_names import RESULT_SHEETS

from cipmodel.cli import cli
from cipmodel.errors import WorkbookError
from cipmodel.examples import example_portfolio
from cipmodel.inputs.records import Portfolio
from cipmodel.inputs.schema import load_schema
from cipmodel.io import (
    InPlaceRefused,
    in_place_losses,
    read_plan,
    read_plan_with_notes,
    sheets_data,
    sheets_metrics,
    write_in_place,
    write_results_workbook,
    write_template,
)
from cipmodel.io import atomic as atomicmod
from cipmodel.io import losses as lossesmod
from cipmodel.io.atomic import clean_stale_temps
from cipmodel.io.diff import sheet_summary
from cipmodel.io.results_workbook import build_results_workbook
from cipmodel.results.run import RunResult, run_plan

INPUT_SHEETS = [t.sheet for t in load_schema().tables]


# -- shared builders (also used by test_results_libreoffice.py) ----------------------------
def multi_portfolio() -> Portfolio:
    """Three trusts cloned from the worked example, covering the awkward cases.

    T0: the example, two plan years. T1: half size, no control total in year 2. T2: 1.7x,
    one plan year, no agency ceiling (that metric is not applicable). Trust names and one
    scheme name start like formulas.
    """
    base = example_portfolio("acute-11pc")
    tables: dict[str, list[Any]] = {
        k: []
        for k in (
            "trusts",
            "income",
            "costs",
            "cip",
            "control_total",
            "funding",
            "financing",
            "drivers",
            "profiles",
        )
    }
    for i, (k, ct_y2, ceiling, horizon) in enumerate(
        [(1.0, True, True, 2), (0.5, False, True, 2), (1.7, True, False, 1)]
    ):
        code = f"T{i}"

        def rep(rec: Any, code: str = code, **kw: Any) -> Any:
            return dataclasses.replace(rec, trust_code=code, source=None, **kw)

        t = base.trusts[0]
        tables["trusts"].append(
            rep(
                t,
                name=f"=Trust {i}",
                horizon_years=horizon,
                agency_ceiling=t.agency_ceiling if ceiling else None,
            )
        )
        tables["income"] += [rep(r, annual_value=r.annual_value * k) for r in base.income]
        tables["costs"] += [rep(r, annual_value=r.annual_value * k) for r in base.costs]
        tables["cip"] += [
            rep(s, value_fye=s.value_fye * k, name="+cmd|' /C calc'!A0" if j == 0 else s.name)
            for j, s in enumerate(base.cip)
            if s.start_year <= horizon
        ]
        tables["control_total"] += [
            rep(
                c,
                target_pre_stf=c.target_pre_stf * k,
                month=None if c.month is None else tuple(x * k for x in c.month),
            )
            for c in base.control_total
            if c.year <= horizon and (ct_y2 or c.year == 1)
        ]
        tables["funding"] += [rep(f) for f in base.funding]
        tables["financing"] += [rep(f) for f in base.financing]
        tables["drivers"] += [rep(d) for d in base.drivers if d.year <= horizon]
        tables["profiles"] += [rep(p) for p in base.profiles]
    return Portfolio(**tables, name="three trusts")


def fake_simulation(codes: list[str]) -> dict[str, Any]:
    """A simulation result in the ``simulate --json`` shape."""
    return {
        "trusts": [
            {
                "code": c,
                "probability": {
                    "meet_control_total": 0.42,
                    "quarters": {"q1": 0.8, "q2": 0.6, "q3": 0.5, "q4": 0.42},
                    "score": {"1": 0.1, "2": 0.5, "3": 0.3, "4": 0.1},
                },
                "percentiles": {"surplus_pre_stf": {"p10": -9000.0, "p50": -4000.0, "p90": 100.0}},
            }
            for c in codes
        ],
        "provenance": {"seed": 12345, "sampler": "sobol", "draws": 10000},
    }


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _row_of(ws: Any, label: str, start: int = 1) -> int:
    """The first row at or below ``start`` whose column A reads ``label``."""
    for r in range(start, ws.max_row + 1):
        if ws.cell(row=r, column=1).value == label:
            return r
    raise AssertionError(f"no row {label!r} on {ws.title}")


# -- layout and round trip -----------------------------------------------------------------
def test_sheets_in_order_and_the_plan_reads_back_unchanged(
    tmp_path: Path, example_result: RunResult
) -> None:
    """Result sheets first (the board summary first and active), then README and the input sheets, which read
    back as the same plan; the result sheets are ignored with a note."""
    path = tmp_path / "results.xlsx"
    assert write_results_workbook(path, example_result) == path
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == [*RESULT_SHEETS, "README", *INPUT_SHEETS]
    assert wb.active.title == "Board summary"
    assert all(len(t) <= 31 for t in wb.sheetnames)
    plan, notes = read_plan_with_notes(path)
    assert plan == example_result.portfolio
    assert "sheet 'Summary' ignored: not an input sheet" in notes


def test_input_sheets_are_those_of_the_plan_template(
    tmp_path: Path, example_result: RunResult
) -> None:
    """Every input sheet of the results workbook is cell for cell the plan workbook's; in
    the results workbook they are hidden (printing the workbook prints the results), the
    result sheets are not."""
    plan, res = tmp_path / "plan.xlsx", tmp_path / "results.xlsx"
    write_template(plan, example_result.portfolio)
    write_results_workbook(res, example_result)
    a, b = openpyxl.load_workbook(plan), openpyxl.load_workbook(res)
    for title in ["README", *INPUT_SHEETS]:
        assert a[title].sheet_state == "visible" and b[title].sheet_state == "hidden", title
        sa, sb = sheet_summary(a[title]), sheet_summary(b[title])
        assert {**sa, "(state)": None} == {**sb, "(state)": None}, title
    assert all(b[t].sheet_state == "visible" for t in RESULT_SHEETS)


@pytest.mark.parametrize("which", ["example", "multi"])
def test_every_formula_has_its_engine_value(
    which: str, example_result: RunResult, multi_result: RunResult
) -> None:
    """The formula cells are exactly the cells with an expected engine value, and every
    formula refers only to result sheets (never to the input sheets or another file)."""
    result = example_result if which == "example" else multi_result
    built = build_results_workbook(result)
    wb = built.reopen()
    formulas = {
        f"{ws.title}!{c.coordinate}": c.value
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for c in row
        if c.data_type == "f"
    }
    assert set(formulas) == set(built.expected)
    refs = set()
    for text in formulas.values():
        refs |= {m.strip("'") for m in re.findall(r"('[^']+'|[A-Za-z]+)!", text)}
    assert refs <= {"Summary", "Monthly", "STF by quarter", "Metrics", "Schemes"}
    # only the board summary links to the Summary
    assert all(k.startswith("Board summary!") for k, f in formulas.items() if "Summary!" in f)
    assert not any("[" in text for text in formulas.values())  # no external references
    kinds = {e.kind for e in built.expected.values()}
    assert kinds <= {"money", "ratio", "text", "count"}
    # the metric ratios are formulas at every quarter end
    n_trusts = len(result.plan.codes)
    ratios = [k for k, e in built.expected.items() if k.startswith("Metrics!")]
    assert len(ratios) >= 5 * 4 * n_trusts


@pytest.mark.parametrize("which", ["example", "multi", "simulation"])
def test_every_formula_is_saved_with_its_engine_value(
    which: str, example_result: RunResult, multi_result: RunResult
) -> None:
    """A viewer that does not recalculate (openpyxl ``data_only``, pandas, a mail preview)
    sees a number or text in every formula cell, equal to the engine's value: numbers to
    1e-9 (they are the engine's floats, written exactly), text exactly; never an error."""
    result = multi_result if which == "multi" else example_result
    sim = fake_simulation(list(result.plan.codes)) if which == "simulation" else None
    built = build_results_workbook(result, simulation=sim)
    wb = built.reopen(data_only=True)
    bad = []
    for key, exp in built.expected.items():
        sheet, ref = key.split("!")
        got = wb[sheet][ref].value
        if exp.kind == "text":
            ok = got == exp.value
        else:
            ok = type(got) in (int, float) and got == pytest.approx(float(exp.value), abs=1e-9)
        if not ok:
            bad.append(f"{key}: saved {got!r}, engine {exp.value!r}")
    assert not bad, bad[:20]
    assert len(built.expected) > (800 if which == "multi" else 300)
    # the XML types: text results t="str", numbers untyped, never an error
    buf = io.BytesIO()
    built.save(buf)
    with zipfile.ZipFile(buf) as zf:
        xml = b"".join(zf.read(n) for n in zf.namelist() if n.startswith("xl/worksheets/"))
    cells = re.findall(rb'<c r="[A-Z]+\d+"(?: s="\d+")?( t="\w+")?><f>[^<]*</f><v>', xml)
    assert len(cells) == len(built.expected)
    assert set(cells) <= {b"", b' t="str"'} and b't="e"' not in xml


def test_pandas_reads_the_summary_figures(tmp_path: Path, example_result: RunResult) -> None:
    """``pandas.read_excel`` (no recalculation) shows the Summary's figures, not blanks."""
    path = tmp_path / "results.xlsx"
    write_results_workbook(path, example_result)
    frame = pd.read_excel(path, sheet_name="Summary", header=None, index_col=0)
    t = example_result.to_dict()["trusts"][0]
    col = frame.columns[0]
    assert frame.loc["Surplus/(deficit) before STF/PSF", col] == pytest.approx(
        t["control_total"]["forecast"], abs=1e-6
    )
    assert frame.loc["Meets control total?", col] == ("yes" if t["control_total"]["met"] else "NO")
    monthly = pd.read_excel(path, sheet_name="Monthly")
    assert monthly["EBITDA (£000)"].notna().all()


def test_expected_values_are_the_run_answers(example_result: RunResult) -> None:
    """The Summary's engine values are the answers of ``run --json`` (so the LibreOffice
    comparison checks the formulas against the engine, not against themselves)."""
    built = build_results_workbook(example_result)
    ws = built.reopen()["Summary"]
    t = example_result.to_dict()["trusts"][0]

    def exp(label: str, start: int = 1) -> Any:
        return built.expected[f"Summary!B{_row_of(ws, label, start)}"].value

    ct = t["control_total"]
    assert exp("Surplus/(deficit) before STF/PSF") == pytest.approx(ct["forecast"], abs=1e-5)
    assert exp("Control total") == pytest.approx(ct["target"])
    assert exp("Forecast against control total (surplus less control total)") == pytest.approx(
        ct["variance"], abs=1e-5
    )
    assert exp("Meets control total?") == ("yes" if ct["met"] else "NO")
    assert exp("CIP planned, in year") == pytest.approx(t["cip"]["planned"], abs=1e-5)
    assert exp("CIP planned, % of operating expenditure before CIP") == pytest.approx(
        t["cip"]["planned_pct"], abs=1e-6
    )
    assert exp("CIP needed, % of operating expenditure before CIP") == pytest.approx(
        t["cip"]["needed_pct"], abs=1e-6
    )
    assert exp("of which unidentified") == pytest.approx(t["cip"]["unidentified"], abs=1e-5)
    earned = _row_of(ws, "Earned by quarter")
    lost = _row_of(ws, "Lost by quarter")
    for q in range(4):
        fq = t["funding"]["quarters"][f"q{q + 1}"]
        assert built.expected[f"Summary!B{earned + 1 + q}"].value == pytest.approx(fq["earned"])
        assert built.expected[f"Summary!B{lost + 1 + q}"].value == pytest.approx(fq["lost"])
    assert exp("Total earned") == pytest.approx(t["funding"]["earned"], abs=1e-5)
    assert exp("Total lost (forfeited)") == pytest.approx(t["funding"]["lost"], abs=1e-5)
    assert exp("Reported surplus/(deficit), with STF/PSF earned") == pytest.approx(
        t["reported_surplus"], abs=1e-5
    )
    labels = {
        "capital_service_capacity": "Capital service capacity (times)",
        "liquidity_days": "Liquidity (days)",
        "ie_margin": "I&E margin",
        "distance_from_plan": "Distance from financial plan",
        "agency_vs_ceiling": "Agency spend against ceiling",
    }
    for name, label in labels.items():
        row = _row_of(ws, label)
        assert exp(label) == pytest.approx(t["metrics"][name]["value"], abs=1e-6)
        assert ws.cell(row=row + 1, column=2).value == t["metrics"][name]["score"]
    assert (
        ws.cell(row=_row_of(ws, "Overall score, after overrides"), column=2).value
        == t["score"]["overall"]
    )


def test_summary_formulas_read_like_an_audit_trail(example_result: RunResult) -> None:
    """Totals are SUMs over the Monthly rows, derived lines are arithmetic on the rows above,
    and values computed by cipmodel are blue while formulas are black."""
    ws = build_results_workbook(example_result).reopen()["Summary"]
    inc = _row_of(ws, "Operating income")
    assert ws.cell(row=inc, column=2).value == "=SUM(Monthly!E2:E13)"
    opex = _row_of(ws, "Operating expenditure")
    assert ws.cell(row=opex, column=2).value == f"=B{opex - 2}+B{opex - 1}"
    monthly = build_results_workbook(example_result).reopen()["Monthly"]
    assert monthly["N13"].value == "=SUM(L2:L13)"
    assert monthly["Q13"].value == "=N13-P13"
    dn = _row_of(ws, "Operating expenditure before CIP (do nothing)")
    assert ws.cell(row=dn, column=2).font.color.rgb == "FF1F4E9A"
    assert ws.cell(row=opex, column=2).font.color.rgb == "FF000000"


#: A cell or range reference in a formula: optional sheet, then A1 or A1:B2.
_REF = re.compile(r"(?:('[^']+'|[A-Za-z]+)!)?([A-Z]{1,3})(\d+)(?::([A-Z]{1,3})(\d+))?")
_DATA_SHEETS = ("Monthly", "STF by quarter", "Metrics", "Schemes", "Lines")


def reverse_data_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Write every data sheet with its columns in reverse order."""
    monkeypatch.setattr(sheets_data, "MONTHLY_HEADS", sheets_data.MONTHLY_HEADS[::-1])
    monkeypatch.setattr(sheets_data, "STF_HEADS", sheets_data.STF_HEADS[::-1])
    monkeypatch.setattr(sheets_data, "LINES_HEADS", sheets_data.LINES_HEADS[::-1])
    monkeypatch.setattr(sheets_metrics, "METRICS_HEADS", sheets_metrics.METRICS_HEADS[::-1])
    heads = sheets_data.scheme_heads
    monkeypatch.setattr(sheets_data, "scheme_heads", lambda n: heads(n)[::-1])


def _by_header(wb: Any, expected: dict[str, Any]) -> dict[tuple[str, str, int], Any]:
    """Every formula (and its engine value) keyed by sheet, column header and row, with each
    reference in it written as (sheet, column header, row): the same for any column order."""
    heads = {t: {c.column_letter: f"{c.value}#{c.column}" for c in wb[t][1]} for t in _DATA_SHEETS}
    for t in _DATA_SHEETS:  # headers repeat ('score'): number them in order instead
        seen: dict[str, int] = {}
        for letter, text in heads[t].items():
            base = text.rsplit("#", 1)[0]
            seen[base] = seen.get(base, 0) + 1
            heads[t][letter] = f"{base}#{seen[base]}"

    def col(sheet: str, letter: str) -> str:
        return heads[sheet][letter] if sheet in heads else letter

    out = {}
    for key, exp in expected.items():
        sheet, ref = key.split("!")
        cell = wb[sheet][ref]
        text = _REF.sub(
            lambda m, sheet=sheet: "<{}>".format(
                ",".join(
                    [
                        sh := (m[1] or sheet).strip("'"),
                        col(sh, m[2]),
                        m[3],
                        *([col(sh, m[4]), m[5]] if m[4] else []),
                    ]
                )
            ),
            cell.value,
        )
        out[(sheet, col(sheet, cell.column_letter), cell.row)] = (text, exp)
    return out


def test_formulas_find_columns_by_header_not_by_letter(
    monkeypatch: pytest.MonkeyPatch, multi_result: RunResult
) -> None:
    """Columns moved on the data sheets move every formula that reads them, on the sheet
    itself and on the others (Summary, STF by quarter, Metrics): each formula still reads
    the same headers and has the same engine value."""
    before = build_results_workbook(multi_result, simulation=fake_simulation(["T0"]))
    reverse_data_columns(monkeypatch)
    after = build_results_workbook(multi_result, simulation=fake_simulation(["T0"]))
    after_wb = after.reopen()
    assert after_wb["Monthly"]["A1"].value == "YTD variance against control total (£000)"
    a = _by_header(before.reopen(), before.expected)
    b = _by_header(after_wb, after.expected)
    assert len(a) == len(before.expected) > 800
    assert a == b


def test_multi_trust_summary_has_an_all_trusts_column_and_a_charts_sheet(
    tmp_path: Path, multi_result: RunResult
) -> None:
    """One column per trust after an 'All trusts' column of SUMs; charts on their own sheet;
    a trust without a year-2 control total gets no formula there."""
    path = tmp_path / "results.xlsx"
    write_results_workbook(path, multi_result)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[:3] == ["Board summary", "Summary", "Charts"]
    ws = wb["Summary"]
    head = _row_of(ws, "Trust")
    assert [ws.cell(row=head, column=j).value for j in range(2, 6)] == [
        "All trusts",
        "T0",
        "T1",
        "T2",
    ]
    inc = _row_of(ws, "Operating income")
    assert ws.cell(row=inc, column=2).value == f"=SUM(C{inc}:E{inc})"
    ct2 = _row_of(ws, "Year 2: control total")
    assert ws.cell(row=ct2, column=3).data_type == "f"
    assert ws.cell(row=ct2, column=4).value is None  # T1: no year-2 control total
    assert ws.cell(row=ct2, column=5).value is None  # T2: one plan year
    assert len(wb["Charts"]._charts) == 3
    assert not ws._charts


def test_native_charts_read_the_summary(tmp_path: Path, example_result: RunResult) -> None:
    """Three native charts on the Summary (YTD against control total, CIP by category,
    STF/PSF by quarter) whose series are ranges of the Summary sheet (the board summary's
    two are checked in test_board_sheet.py)."""
    path = tmp_path / "results.xlsx"
    write_results_workbook(path, example_result)
    with zipfile.ZipFile(path) as zf:
        rels = zf.read("xl/worksheets/_rels/sheet2.xml.rels").decode()
        drawing = re.search(r'Target="/?(?:xl/)?(?:\.\./)?drawings/(drawing\d+\.xml)"', rels)
        assert drawing is not None
        drels = zf.read(f"xl/drawings/_rels/{drawing.group(1)}.rels").decode()
        charts = sorted("xl/charts/" + n for n in re.findall(r"charts/(chart\d+\.xml)", drels))
        assert len(charts) == 3
        xml = b"".join(zf.read(n) for n in charts).decode()
    assert len(re.findall(r"<(?:c:)?lineChart>", xml)) == 1
    assert len(re.findall(r"<(?:c:)?barChart>", xml)) == 2
    refs = set(re.findall(r"<(?:c:)?f>([^<]+)</(?:c:)?f>", xml))
    assert refs and all(r.startswith("'Summary'!") or r.startswith("Summary!") for r in refs)
    titles = " ".join(re.findall(r"<(?:a:)?t>([^<]+)</(?:a:)?t>", xml))
    assert "Year to date against control total" in titles
    assert "CIP planned by category" in titles and "STF/PSF by quarter" in titles


def test_provenance_records_version_rules_seed_and_input_hash(
    tmp_path: Path, example_result: RunResult
) -> None:
    """Every results workbook names the package version, rule packs, seed and input hash."""
    path = tmp_path / "results.xlsx"
    write_results_workbook(path, example_result)
    ws = openpyxl.load_workbook(path)["Provenance"]
    prov = {r[0].value: r[1].value for r in ws.iter_rows(min_row=2)}
    from cipmodel import __version__

    assert prov["package"] == "cipmodel" and prov["version"] == __version__
    assert prov["input_hash"] == example_result.provenance["input_hash"]
    assert "stf-2017-18" in prov["rules"] and "sof-2016" in prov["rules"]
    assert prov["seed"].startswith("none")
    assert prov["result_sheets"].startswith('["Board summary", "Summary"')


def test_simulation_probabilities_and_seed(tmp_path: Path, example_result: RunResult) -> None:
    """With a simulation result, the Summary shows its probabilities and percentiles and the
    provenance its seed, sampler and draws."""
    path = tmp_path / "results.xlsx"
    write_results_workbook(path, example_result, simulation=fake_simulation(["RXX"]))
    wb = openpyxl.load_workbook(path)
    ws = wb["Summary"]
    sim = _row_of(ws, "Simulation (10,000 draws)")
    row = _row_of(ws, "meet control total", sim)
    assert ws.cell(row=row, column=2).value == 0.42
    assert ws.cell(row=row, column=2).number_format == "0.0%"
    p50 = _row_of(ws, "surplus pre stf / p50", sim)
    assert ws.cell(row=p50, column=2).value == -4000.0
    prov = {r[0].value: r[1].value for r in wb["Provenance"].iter_rows(min_row=2)}
    assert (prov["seed"], prov["sampler"], prov["draws"]) == (12345, "sobol", 10000)


def test_text_that_looks_like_a_formula_stays_text(tmp_path: Path, multi_result: RunResult) -> None:
    """Trust and scheme names starting with = + - @ are written as text, never formulas."""
    path = tmp_path / "results.xlsx"
    write_results_workbook(path, multi_result)
    wb = openpyxl.load_workbook(path)
    ws = wb["Summary"]
    name = ws.cell(row=_row_of(ws, "Name"), column=3)
    assert (name.value, name.data_type, name.quotePrefix) == ("=Trust 0", "s", True)
    schemes = wb["Schemes"]
    cells = [c for row in schemes.iter_rows() for c in row]
    assert not [c for c in cells if c.data_type == "f"]
    risky = [c for c in cells if c.value == "+cmd|' /C calc'!A0"]
    assert len(risky) == 3 and all(c.data_type == "s" for c in risky)


def test_extra_sheets_and_name_clashes(tmp_path: Path, example_result: RunResult) -> None:
    """Extra tables become plain sheets before Provenance; a clashing name is refused."""
    path = tmp_path / "results.xlsx"
    extra = {"Sector finance": pd.DataFrame({"type": ["acute"], "trusts": [1]})}
    write_results_workbook(path, example_result, extra_sheets=extra)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames.index("Sector finance") == wb.sheetnames.index("Provenance") - 1
    for bad in ("Summary", "cip", "Funding", "provenance", "Charts"):
        with pytest.raises(WorkbookError, match="clashes"):
            write_results_workbook(
                tmp_path / "x.xlsx", example_result, extra_sheets={bad: pd.DataFrame()}
            )
    assert not (tmp_path / "x.xlsx").exists()


def test_never_overwrites_unless_asked(tmp_path: Path, example_result: RunResult) -> None:
    """An existing file is refused without overwrite=True; only .xlsx is written."""
    path = tmp_path / "results.xlsx"
    path.write_bytes(b"precious")
    with pytest.raises(WorkbookError, match="already exists"):
        write_results_workbook(path, example_result)
    assert path.read_bytes() == b"precious"
    write_results_workbook(path, example_result, overwrite=True)
    assert read_plan(path) == example_result.portfolio
    with pytest.raises(WorkbookError, match=r"\.xlsx"):
        write_results_workbook(tmp_path / "results.xlsm", example_result)


def test_cli_run_writes_the_results_workbook(tmp_path: Path) -> None:
    """`cipmodel run PLAN -o` writes the rich workbook, which runs again identically: it
    carries PLAN's sheets as they are, after the result sheets (test_carry.py)."""
    plan, out = tmp_path / "plan.xlsx", tmp_path / "results.xlsx"
    write_template(plan, example_portfolio("acute-11pc"))
    r = CliRunner().invoke(cli, ["run", str(plan), "-o", str(out)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    wb = openpyxl.load_workbook(out)
    # the Input notes sheet lists the example's unsplit PFI charge (test_definitions.py)
    assert wb.sheetnames == [*RESULT_SHEETS, "Input notes", "README", *INPUT_SHEETS]
    assert wb.active.title == "Board summary"
    assert len(wb["Summary"]._charts) == 3
    assert read_plan(out) == read_plan(plan)


# -- in place --------------------------------------------------------------------------------
def _plan(tmp_path: Path, name: str = "plan.xlsx") -> Path:
    path = tmp_path / name
    write_template(path, example_portfolio("acute-11pc"))
    return path


def test_in_place_adds_result_sheets_and_keeps_a_backup(
    tmp_path: Path, example_result: RunResult
) -> None:
    """Result sheets are appended to the plan; the original is kept byte for byte; the plan
    reads back unchanged."""
    plan = _plan(tmp_path)
    before = plan.read_bytes()
    assert in_place_losses(plan) == []
    backup = write_in_place(plan, example_result)
    assert backup == tmp_path / "plan.bak.xlsx"
    assert backup.read_bytes() == before
    wb = openpyxl.load_workbook(plan)
    assert wb.sheetnames == [*RESULT_SHEETS, "README", *INPUT_SHEETS]
    assert wb.active.title == "Board summary"
    assert len(wb["Summary"]._charts) == 3
    assert read_plan(plan) == example_result.portfolio
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.bak.xlsx", "plan.xlsx"]


def test_in_place_keeps_every_digit_of_the_plan(tmp_path: Path) -> None:
    """Numbers that need 17 significant digits survive openpyxl's load and save exactly."""
    base = example_portfolio("acute-11pc")
    odd = 392447.62356116174
    assert float("%.16g" % odd) != odd  # noqa: UP031 - the case openpyxl rounds
    portfolio = dataclasses.replace(
        base, cip=(dataclasses.replace(base.cip[0], value_fye=odd), *base.cip[1:])
    )
    plan = tmp_path / "plan.xlsx"
    write_template(plan, portfolio)
    write_in_place(plan, run_plan(portfolio))
    assert read_plan(plan) == portfolio
    assert read_plan(plan).cip[0].value_fye == odd


def test_in_place_again_replaces_results_and_never_overwrites_a_backup(
    tmp_path: Path, example_result: RunResult
) -> None:
    """A second run replaces cipmodel's own result sheets (charts included, nothing is
    reported lost) and keeps a second backup next to the first."""
    plan = _plan(tmp_path)
    first = write_in_place(plan, example_result)
    first_bytes = first.read_bytes()
    after_first = plan.read_bytes()
    assert in_place_losses(plan) == []
    second = write_in_place(plan, example_result)
    assert second.name == "plan.bak-2.xlsx"
    assert first.read_bytes() == first_bytes
    assert second.read_bytes() == after_first
    wb = openpyxl.load_workbook(plan)
    assert wb.sheetnames == [*RESULT_SHEETS, "README", *INPUT_SHEETS]


def _with_chart(wb: Any) -> None:
    ws = wb.create_sheet("Notes")
    ws["A1"], ws["A2"] = 1, 2
    chart = BarChart()
    chart.add_data(Reference(ws, min_col=1, min_row=1, max_row=2))
    ws.add_chart(chart, "C3")


def _with_image(wb: Any, tmp_path: Path) -> None:
    from PIL import Image as PILImage

    png = tmp_path / "logo.png"
    PILImage.new("RGB", (8, 8), "red").save(png)
    wb["README"].add_image(Image(str(png)), "I2")


def _inject(
    path: Path,
    parts: dict[str, bytes],
    sheet: str | None = None,
    rel_type: str | None = None,
    target: str | None = None,
) -> None:
    """Add zip parts (and optionally a relationship from ``sheet`` to ``target``)."""
    src = path.read_bytes()
    with zipfile.ZipFile(io.BytesIO(src)) as zf:
        names = zf.namelist()
        sheet_part = None
        if sheet is not None:
            sheet_part = {s: p for p, s in lossesmod.sheet_parts(zf, set(names)).items()}[sheet]
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
            rels_name = None
            if sheet_part is not None:
                pp = Path(sheet_part)
                rels_name = f"{pp.parent}/_rels/{pp.name}.rels"
            for item in zf.infolist():
                data = zf.read(item.filename)
                if item.filename == rels_name:
                    rel = (
                        f'<Relationship Id="rIdX99" Type="http://schemas.openxmlformats.org/'
                        f'officeDocument/2006/relationships/{rel_type}" Target="{target}"/>'
                    )
                    data = data.replace(b"</Relationships>", rel.encode() + b"</Relationships>")
                zout.writestr(item, data)
            if rels_name is not None and rels_name not in names:
                zout.writestr(
                    rels_name,
                    (
                        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                        'relationships"><Relationship Id="rIdX99" Type="http://schemas.openxml'
                        f'formats.org/officeDocument/2006/relationships/{rel_type}" '
                        f'Target="{target}"/></Relationships>'
                    ),
                )
            for name, data in parts.items():
                zout.writestr(name, data)
    path.write_bytes(out.getvalue())


def _patch_sheet(path: Path, sheet: str, fn: Any) -> None:
    src = path.read_bytes()
    with zipfile.ZipFile(io.BytesIO(src)) as zf:
        part = {s: p for p, s in lossesmod.sheet_parts(zf, set(zf.namelist())).items()}[sheet]
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
            for item in zf.infolist():
                data = zf.read(item.filename)
                zout.writestr(item, fn(data) if item.filename == part else data)
    path.write_bytes(out.getvalue())


_X14_CF = (
    b'<extLst><ext uri="{78C0D931-6437-407d-A8EE-F0AAD7539E65}" xmlns:x14="http://schemas.'
    b'microsoft.com/office/spreadsheetml/2009/9/main"><x14:conditionalFormattings/></ext></extLst>'
)
_SPARK = (
    b'<extLst><ext uri="{05C60535-1F16-4fd2-B633-F4F36F0B64E0}" xmlns:x14="http://schemas.'
    b'microsoft.com/office/spreadsheetml/2009/9/main"><x14:sparklineGroups/></ext></extLst>'
)


def _end_of_sheet(extra: bytes) -> Any:
    return lambda data: data.replace(b"</worksheet>", extra + b"</worksheet>")


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("chart", "a chart on sheet 'Notes'"),
        ("image", "a picture on sheet 'README'"),
        ("macro", "macros (VBA project)"),
        ("user Summary", "sheet 'Summary' (a result sheet of that name would replace it)"),
        ("pivot", "a pivot table on sheet 'Costs'"),
        ("external link", "a link to another workbook"),
        ("slicer", "a slicer"),
        ("threaded comments", "threaded comments (replies) on sheet 'CIP'"),
        ("data bars", "conditional formats kept in an Excel extension"),
        ("sparklines", "sparklines on sheet 'Income'"),
        ("custom views", "custom views on sheet 'Trusts'"),
        ("shapes", "shapes or text boxes on sheet 'README'"),
        ("form control", "form controls (Button) on sheet 'README'"),
    ],
)
def test_in_place_is_refused_when_something_would_be_lost(
    tmp_path: Path, example_result: RunResult, case: str, expected: str
) -> None:
    """Each thing openpyxl would drop is listed, with its sheet; the file is untouched and
    no backup is made."""
    plan = _plan(tmp_path)
    if case in ("chart", "image", "user Summary"):
        wb = openpyxl.load_workbook(plan)
        if case == "chart":
            _with_chart(wb)
        elif case == "image":
            _with_image(wb, tmp_path)
        else:
            wb.create_sheet("Summary")["A1"] = "my own summary"
        wb.save(plan)
    elif case == "macro":
        _inject(plan, {"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0" + b"\0" * 60})
    elif case == "pivot":
        _inject(
            plan,
            {"xl/pivotTables/pivotTable1.xml": b"<pivotTableDefinition/>"},
            "Costs",
            "pivotTable",
            "../pivotTables/pivotTable1.xml",
        )
    elif case == "external link":
        _inject(plan, {"xl/externalLinks/externalLink1.xml": b"<externalLink/>"})
    elif case == "slicer":
        _inject(
            plan,
            {
                "xl/slicerCaches/slicerCache1.xml": b"<slicerCacheDefinition/>",
                "xl/slicers/slicer1.xml": b"<slicers/>",
            },
        )
    elif case == "threaded comments":
        _inject(
            plan,
            {"xl/threadedComments/threadedComment1.xml": b"<ThreadedComments/>"},
            "CIP",
            "threadedComment",
            "../threadedComments/threadedComment1.xml",
        )
    elif case == "data bars":
        _patch_sheet(plan, "Costs", _end_of_sheet(_X14_CF))
    elif case == "sparklines":
        _patch_sheet(plan, "Income", _end_of_sheet(_SPARK))
    elif case == "custom views":
        _patch_sheet(plan, "Trusts", _end_of_sheet(b"<customSheetViews/>"))
    elif case == "shapes":
        _inject(
            plan,
            {
                "xl/drawings/drawing9.xml": b'<xdr:wsDr xmlns:xdr="x"><xdr:twoCellAnchor>'
                b"<xdr:sp><xdr:txBody/></xdr:sp></xdr:twoCellAnchor></xdr:wsDr>"
            },
            "README",
            "drawing",
            "../drawings/drawing9.xml",
        )
    elif case == "form control":
        _inject(
            plan,
            {
                "xl/drawings/vmlDrawing9.vml": b"<xml><v:shape><x:ClientData "
                b'ObjectType="Button"/></v:shape></xml>'
            },
            "README",
            "vmlDrawing",
            "../drawings/vmlDrawing9.vml",
        )
    before = _digest(plan)
    losses = in_place_losses(plan)
    assert any(expected in x for x in losses), losses
    with pytest.raises(InPlaceRefused) as info:
        write_in_place(plan, example_result)
    assert info.value.losses == losses
    assert expected in str(info.value) and "was not changed" in str(info.value)
    assert _digest(plan) == before
    assert not list(tmp_path.glob("*.bak*"))
    assert not list(tmp_path.glob(".*.tmp"))


def test_in_place_counts_nothing_on_cipmodels_own_result_sheets(
    tmp_path: Path, example_result: RunResult
) -> None:
    """A results workbook (charts on Summary, formulas without saved values on the result
    sheets) can be written into again: those sheets are replaced, not lost."""
    path = tmp_path / "results.xlsx"
    write_results_workbook(path, example_result)
    assert in_place_losses(path) == []
    write_in_place(path, example_result)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames.count("Summary") == 1 and len(wb.sheetnames) == len(set(wb.sheetnames))


def test_in_place_only_into_xlsx(tmp_path: Path, example_result: RunResult) -> None:
    """An .xlsm plan is never rewritten in place (its macros would go)."""
    path = tmp_path / "plan.xlsm"
    path.write_bytes(_plan(tmp_path).read_bytes())
    with pytest.raises(WorkbookError, match=r"\.xlsx"):
        write_in_place(path, example_result)


def test_cli_run_in_place(tmp_path: Path) -> None:
    """`run --in-place` writes into PLAN with a backup; it is refused with -o, and for a
    workbook with a chart it exits 2 with the list and leaves the file alone."""
    plan = _plan(tmp_path)
    runner = CliRunner()
    r = runner.invoke(cli, ["run", str(plan), "--in-place"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "the original is kept as plan.bak.xlsx" in r.output
    assert "Summary" in openpyxl.load_workbook(plan, read_only=True).sheetnames
    r = runner.invoke(cli, ["run", str(plan), "--in-place", "-o", str(tmp_path / "o.xlsx")])
    assert r.exit_code == 2 and "leave out -o" in r.output

    other = _plan(tmp_path, "other.xlsx")
    wb = openpyxl.load_workbook(other)
    _with_chart(wb)
    wb.save(other)
    before = _digest(other)
    r = runner.invoke(cli, ["run", str(other), "--in-place", "--json"])
    assert r.exit_code == 2
    assert "a chart on sheet 'Notes'" in r.output and "-o RESULTS.xlsx" in r.output
    assert _digest(other) == before
    assert not (tmp_path / "other.bak.xlsx").exists()


def test_clean_stale_temps_only_removes_unlocked_temporaries(tmp_path: Path) -> None:
    """A temporary file nobody holds is removed; other files are left alone."""
    target = tmp_path / "results.xlsx"
    stale = tmp_path / ".results.xlsx.0123456789ab.tmp"
    stale.write_bytes(b"half a workbook")
    stale_backup = tmp_path / ".results.xlsx.bak.0123456789ab.tmp"
    stale_backup.write_bytes(b"half a backup")
    other = tmp_path / ".other.xlsx.0123456789ab.tmp"
    other.write_bytes(b"x")
    if atomicmod.fcntl is None:  # pragma: no cover - Windows
        assert clean_stale_temps(target) == []
        return
    assert sorted(clean_stale_temps(target)) == sorted([stale, stale_backup])
    assert not stale.exists() and not stale_backup.exists() and other.exists()
