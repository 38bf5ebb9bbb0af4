"""Plan workbooks: template layout, read/write round trips, every broken-file case, safe writes.

Workbooks are built in each test from small Portfolios (no binary fixtures). Broken
workbooks are made by editing a written plan with openpyxl, or by patching the XML inside
the zip where openpyxl cannot write the case (saved formula values, error cells, XML
attacks).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import time
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import openpyxl.xml
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cipmodel.errors import ValidationError, WorkbookError
from cipmodel.examples import example_portfolio
from cipmodel.inputs.records import (
    ControlTotal,
    CostLine,
    Drivers,
    Financing,
    Funding,
    IncomeLine,
    Portfolio,
    Profile,
    Scheme,
    Source,
    Trust,
)
from cipmodel.inputs.schema import load_schema
from cipmodel.io import atomic as atomicmod
from cipmodel.io import (
    atomic_write,
    read_plan,
    read_plan_with_notes,
    workbooks_equal,
    write_results,
    write_template,
)
from cipmodel.io.grid import GridWorkbook

SCHEMA = load_schema()
INPUT_SHEETS = [t.sheet for t in SCHEMA.tables]
# CIP columns in template order: A trust_code, B scheme_id, C name, D category,
# E target_line, F value_fye, G start_year, H start_month, I ramp_months, J recurrent,
# K stage, L rag.


def small_portfolio(**changes: Any) -> Portfolio:
    """One acute trust with every table filled: 2 income lines, 3 costs, 3 schemes."""
    code = "RXX"
    tables: dict[str, Any] = {
        "trusts": (
            Trust(
                trust_code=code,
                name="Example Acute NHS Trust",
                trust_type="acute",
                horizon_years=2,
                agency_ceiling=12000.0,
            ),
        ),
        "income": (
            IncomeLine(
                trust_code=code, line="nhs_clinical", annual_value=250000.0, profile="winter"
            ),
            IncomeLine(
                trust_code=code,
                line="other_operating",
                annual_value=12500.5,
                description="car parking",
            ),
        ),
        "costs": (
            CostLine(trust_code=code, line="pay_substantive", annual_value=160000.0),
            CostLine(trust_code=code, line="pay_agency", annual_value=14000.0),
            CostLine(trust_code=code, line="drugs", annual_value=30000.25),
        ),
        "cip": (
            Scheme(
                trust_code=code,
                scheme_id="S1",
                name="Agency cap",
                category="pay",
                target_line="pay_agency",
                value_fye=1500.0,
                start_month=4,
                ramp_months=3,
            ),
            Scheme(
                trust_code=code,
                scheme_id="S2",
                name="Drugs switch",
                category="non_pay",
                target_line="drugs",
                value_fye=800.0,
                recurrent=False,
                stage="idea",
                rag="red",
            ),
            Scheme(
                trust_code=code,
                scheme_id="S3",
                name="Private patients",
                category="income",
                value_fye=250.0,
                start_year=2,
                stage="delivering",
                rag="green",
            ),
        ),
        "control_total": (
            ControlTotal(trust_code=code, year=1, target_pre_stf=-1200.0, month=(-100.0,) * 12),
            ControlTotal(trust_code=code, year=2, target_pre_stf=500.0, accepted=False),
        ),
        "funding": (
            Funding(
                trust_code=code,
                allocation=4000.0,
                ae_applies=True,
                ae_trajectory=(0.9, 0.91, 0.92, 0.95),
                ae_forecast=(0.88, 0.9, 0.93, 0.95),
            ),
        ),
        "financing": (
            Financing(trust_code=code, opening_cash=3000.0, opening_working_capital=-2500.0),
        ),
        "drivers": (
            Drivers(
                trust_code=code, year=1, tariff_uplift=0.021, efficiency_factor=0.02, pay_award=0.01
            ),
            Drivers(trust_code=code, year=2, activity_growth=0.015, drug_inflation=0.05),
        ),
        "profiles": (
            Profile(
                trust_code=code,
                profile="winter",
                weight=(1, 1, 1, 1, 1, 1, 1.1, 1.2, 1.2, 1.1, 1, 1),
            ),
        ),
    }
    tables.update(changes)
    return Portfolio(**tables, name="small")


def _plan(tmp_path: Path, portfolio: Portfolio | None = None, name: str = "plan.xlsx") -> Path:
    path = tmp_path / name
    write_template(path, small_portfolio() if portfolio is None else portfolio)
    return path


def _edit(path: Path, fn: Any) -> Path:
    """Load with openpyxl, apply ``fn(workbook)``, save in place; returns the path."""
    wb = openpyxl.load_workbook(path)
    fn(wb)
    wb.save(path)
    return path


def _patch_xml(path: Path, part: str, fn: Any) -> Path:
    """Rewrite one part of the zip with ``fn(bytes) -> bytes``; returns the path."""
    src = path.read_bytes()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(src)) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            zout.writestr(item, fn(data) if item.filename == part else data)
    path.write_bytes(out.getvalue())
    return path


def _sheet_part(path: Path, title: str) -> str:
    """The zip part name of sheet ``title`` (openpyxl writes sheetN.xml in sheet order)."""
    wb = openpyxl.load_workbook(path, read_only=True)
    index = wb.sheetnames.index(title) + 1
    wb.close()
    return f"xl/worksheets/sheet{index}.xml"


def _problems(path: Path) -> list[str]:
    """The problems read_plan reports for ``path``; checks the file is left unchanged."""
    before = path.read_bytes()
    with pytest.raises(ValidationError) as info:
        read_plan(path)
    assert path.read_bytes() == before
    assert info.value.source == path.name
    return [str(p) for p in info.value.problems]


# -- template ------------------------------------------------------------------------
def test_template_has_readme_then_every_input_sheet(tmp_path: Path) -> None:
    """A blank template has README first, then one sheet per schema table in order."""
    path = tmp_path / "t.xlsx"
    assert write_template(path) == path
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["README", *INPUT_SHEETS]


def test_template_sheets_hold_one_excel_table_with_schema_headers(tmp_path: Path) -> None:
    """Each input sheet has one Excel Table tbl<Sheet> whose header row is Field.header."""
    path = tmp_path / "t.xlsx"
    write_template(path)
    wb = openpyxl.load_workbook(path)
    for table in SCHEMA.tables:
        ws = wb[table.sheet]
        headers = [f.header for f in table.fields]
        assert [c.value for c in ws[1]] == headers
        (tbl,) = ws.tables.values()
        last = openpyxl.utils.get_column_letter(len(headers))
        assert tbl.displayName == f"tbl{table.sheet}"
        assert tbl.ref == f"A1:{last}2"
        assert [c.name for c in tbl.tableColumns] == headers
        assert ws.freeze_panes == "A2"
        assert not ws.protection.sheet
        assert all(c.font.b for c in ws[1])


def test_template_has_dropdowns_for_enums_and_yes_no(tmp_path: Path) -> None:
    """Every enum field has a list of its values and every bool field Y/N (R/NR too where the
    field takes them), on 1000 rows."""
    path = tmp_path / "t.xlsx"
    write_template(path)
    wb = openpyxl.load_workbook(path)
    for table in SCHEMA.tables:
        ws = wb[table.sheet]
        by_range = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
        for j, field in enumerate(table.fields, start=1):
            letter = openpyxl.utils.get_column_letter(j)
            dv = by_range[f"{letter}2:{letter}1001"]
            assert dv.prompt and dv.error
            if field.type == "enum":
                assert dv.type == "list"
                assert dv.formula1 == '"' + ",".join(field.values) + '"'
            elif field.type == "bool":  # Y/N, and R/NR where the field takes those words
                short = [w.upper() for w in (*field.true_words, *field.false_words) if len(w) <= 2]
                assert (dv.type, dv.formula1) == ("list", '"' + ",".join(["Y", "N", *short]) + '"')
                assert short in ([], ["R", "NR"])
    cip = {str(dv.sqref): dv for dv in wb["CIP"].data_validations.dataValidation}
    month = cip["H2:H1001"]
    assert (month.type, month.operator, month.formula1, month.formula2) == (
        "whole",
        "between",
        "1",
        "12",
    )
    value = cip["F2:F1001"]
    assert (value.type, value.formula1) == ("decimal", "0")


def test_template_number_formats_and_input_styling(tmp_path: Path) -> None:
    """£000 columns use a thousands format, % columns 0.0%, text columns @; inputs are yellow."""
    path = tmp_path / "t.xlsx"
    write_template(path, small_portfolio())
    wb = openpyxl.load_workbook(path)
    cip, drivers = wb["CIP"], wb["Drivers"]
    assert cip["F2"].number_format == '#,##0;(#,##0);"-"'  # value_fye (£000)
    assert cip["H2"].number_format == "0"  # start_month
    assert cip["A2"].number_format == "@"  # trust_code as text
    assert drivers["C2"].number_format == "0.0%"  # tariff_uplift (%)
    assert cip["F2"].fill.fgColor.rgb == "FFFFF2CC"
    assert cip["F1"].fill.fgColor.rgb != "FFFFF2CC"
    # column styles carry the format and fill to rows typed later
    assert cip.column_dimensions["F"].number_format == '#,##0;(#,##0);"-"'
    assert cip.column_dimensions["F"].fill.fgColor.rgb == "FFFFF2CC"
    assert cip.column_dimensions["C"].width >= 40  # name: long text
    assert cip.column_dimensions["F"].width >= len("value_fye (£000)")


def test_readme_explains_every_sheet_and_field(tmp_path: Path) -> None:
    """README lists each sheet's description and each column with rule, unit and default."""
    path = tmp_path / "t.xlsx"
    write_template(path)
    ws = openpyxl.load_workbook(path)["README"]
    rows = [tuple(c.value for c in r) for r in ws.iter_rows()]
    described = {(r[0], r[1]): r for r in rows if r[0] in INPUT_SHEETS and r[1]}
    for table in SCHEMA.tables:
        assert any(r[0] == table.sheet and r[2] == table.description for r in rows)
        for field in table.fields:
            row = described[(table.sheet, field.header)]
            assert row[2] == field.rule()
            assert row[6] == field.description
    assert described[("CIP", "recurrent")][5] == "Y"
    assert described[("CIP", "stage")][5] == "plan"
    assert described[("CIP", "value_fye (£000)")][4] == "yes"


def test_blank_template_reads_as_a_plan_without_trusts(tmp_path: Path) -> None:
    """Reading the blank template finds every sheet and column, and no trusts."""
    path = tmp_path / "t.xlsx"
    write_template(path)
    assert _problems(path) == ["Trusts: the plan has no trusts: add at least one row"]


def test_write_refuses_to_overwrite_unless_asked(tmp_path: Path) -> None:
    """An existing file is an error unless overwrite=True, which replaces it."""
    path = tmp_path / "t.xlsx"
    path.write_bytes(b"old")
    with pytest.raises(WorkbookError, match="already exists"):
        write_template(path)
    assert path.read_bytes() == b"old"
    write_template(path, overwrite=True)
    assert zipfile.is_zipfile(path)


@pytest.mark.parametrize("name", ["t.xls", "t.xlsm", "t.csv", "t"])
def test_write_only_xlsx(tmp_path: Path, name: str) -> None:
    """Workbooks are written only under a .xlsx name."""
    with pytest.raises(WorkbookError, match=r"\.xlsx"):
        write_template(tmp_path / name)
    assert not (tmp_path / name).exists()


def test_write_into_missing_folder_is_a_workbook_error(tmp_path: Path) -> None:
    """A missing folder gives a clear WorkbookError, not an OSError."""
    with pytest.raises(WorkbookError, match="does not exist"):
        write_template(tmp_path / "nope" / "t.xlsx")


def test_template_content_is_deterministic(tmp_path: Path) -> None:
    """Two writes of the same plan have the same content; a changed cell is reported."""
    a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    write_template(a, small_portfolio())
    time.sleep(1.1)  # zip and document timestamps may differ; content must not
    write_template(b, small_portfolio())
    assert workbooks_equal(a, b) == []
    _edit(b, lambda wb: wb["CIP"].cell(row=2, column=6, value=999))
    diffs = workbooks_equal(a, b)
    assert len(diffs) == 1 and diffs[0].startswith("CIP!F2:")
    c = tmp_path / "c.xlsx"
    write_template(c)
    assert any("sheets" not in d for d in workbooks_equal(a, c))


# -- round trips ---------------------------------------------------------------------
def test_round_trip_gives_the_same_portfolio(tmp_path: Path) -> None:
    """write_template(portfolio) then read_plan gives an equal Portfolio, with cell sources."""
    p = small_portfolio()
    path = _plan(tmp_path, p)
    q, notes = read_plan_with_notes(path)
    assert q == p
    assert notes == []
    assert q.name == "plan.xlsx"
    s2 = q.cip[1]
    assert s2.source == Source("CIP", 3, s2.source.columns)
    assert s2.source.cell("value_fye") == "CIP!F3"


@pytest.mark.parametrize("name", ["acute-11pc", "small"])
def test_round_trip_of_bundled_examples(tmp_path: Path, name: str) -> None:
    """The bundled examples survive a write and read unchanged."""
    p = example_portfolio(name)
    assert read_plan(_plan(tmp_path, p)) == p


def test_floats_round_trip_exactly(tmp_path: Path) -> None:
    """Numbers needing 17 significant digits are written exactly (openpyxl keeps 16)."""
    p = small_portfolio()
    odd = p.with_cip_scaled(1 / 3)
    assert read_plan(_plan(tmp_path, odd)) == odd


# text-direction controls are refused in any text (they could disguise a message)
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn", "Zl", "Zp")),
    min_size=1,
    max_size=20,
).filter(lambda s: bool(s.strip()) and not _BIDI & set(s))
# identifiers (scheme ids) refuse invisible format characters as well (look-alikes)
_ID_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn", "Zl", "Zp", "Cf")),
    min_size=1,
    max_size=20,
).filter(lambda s: bool(s.strip()))
_MONEY = st.floats(0, 1e7, allow_nan=False, allow_infinity=False)
_SIGNED = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
_RATE = st.floats(0, 1, allow_nan=False)
_CODE = st.text(alphabet="ABCDEFGHJKLMNPQRTUVWXY0123456789", min_size=3, max_size=5)


@st.composite
def portfolios(draw: Any) -> Portfolio:
    """Small valid portfolios: 1-2 trusts, every table, awkward text and floats."""
    codes = draw(st.lists(_CODE, min_size=1, max_size=2, unique=True))
    t: dict[str, list[Any]] = {
        name: []
        for name in (
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
    income_lines = SCHEMA.lines_of_kind("operating_income")
    cost_lines = SCHEMA.table("costs").field("line").values
    for code in codes:
        horizon = draw(st.integers(1, 3))
        t["trusts"].append(
            Trust(
                trust_code=code,
                name=draw(_TEXT),
                horizon_years=horizon,
                trust_type=draw(st.sampled_from(SCHEMA.table("trusts").field("trust_type").values)),
                agency_ceiling=draw(st.none() | _MONEY),
                financial_special_measures=draw(st.booleans()),
            )
        )
        profile = draw(st.booleans())
        if profile:
            t["profiles"].append(
                Profile(
                    trust_code=code,
                    profile="p1",
                    weight=tuple(draw(st.lists(st.floats(0.1, 5), min_size=12, max_size=12))),
                )
            )
        for _ in range(draw(st.integers(0, 2))):
            t["income"].append(
                IncomeLine(
                    trust_code=code,
                    line=draw(st.sampled_from(income_lines)),
                    annual_value=draw(_MONEY),
                    description=draw(st.none() | _TEXT),
                    profile="p1" if profile and draw(st.booleans()) else "flat",
                )
            )
        for _ in range(draw(st.integers(0, 2))):
            t["costs"].append(
                CostLine(
                    trust_code=code,
                    line=draw(st.sampled_from(cost_lines)),
                    annual_value=draw(_MONEY),
                )
            )
        for sid in draw(st.lists(_ID_TEXT, max_size=3, unique_by=str.strip)):
            category = draw(st.sampled_from(["pay", "non_pay", "income"]))
            kinds = SCHEMA.cip_categories[category]["kinds"]
            t["cip"].append(
                Scheme(
                    trust_code=code,
                    scheme_id=sid,
                    name=draw(_TEXT),
                    category=category,
                    target_line=draw(st.none() | st.sampled_from(SCHEMA.lines_of_kind(*kinds))),
                    value_fye=draw(_MONEY),
                    start_year=draw(st.integers(1, horizon)),
                    start_month=draw(st.integers(1, 12)),
                    ramp_months=draw(st.integers(0, 12)),
                    recurrent=draw(st.booleans()),
                    stage=draw(st.sampled_from(SCHEMA.table("cip").field("stage").values)),
                    rag=draw(st.sampled_from(SCHEMA.table("cip").field("rag").values)),
                )
            )
        for year in range(1, draw(st.integers(1, horizon)) + 1):
            months = draw(st.none() | st.lists(_SIGNED, min_size=12, max_size=12))
            target = sum(months) if months else draw(_SIGNED)
            t["control_total"].append(
                ControlTotal(
                    trust_code=code,
                    year=year,
                    target_pre_stf=target,
                    accepted=draw(st.booleans()),
                    month=None if months is None else tuple(months),
                )
            )
        if draw(st.booleans()):
            ae = draw(st.booleans())
            quarters = st.lists(_RATE, min_size=4, max_size=4).map(tuple)
            t["funding"].append(
                Funding(
                    trust_code=code,
                    allocation=draw(_MONEY),
                    ae_applies=ae,
                    ae_trajectory=draw(quarters) if ae else None,
                    ae_forecast=draw(quarters) if ae else None,
                )
            )
        if draw(st.booleans()):
            t["financing"].append(
                Financing(
                    trust_code=code,
                    opening_cash=draw(_MONEY),
                    opening_working_capital=draw(_SIGNED),
                )
            )
        for year in draw(st.sets(st.integers(1, horizon), max_size=2)):
            t["drivers"].append(
                Drivers(
                    trust_code=code,
                    year=year,
                    pay_award=draw(st.floats(-0.2, 0.3)),
                    activity_growth=draw(st.floats(-0.5, 0.5)),
                )
            )
    return Portfolio(**t)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(p=portfolios())
def test_round_trip_property(tmp_path: Path, p: Portfolio) -> None:
    """Any small valid portfolio reads back equal after write_template."""
    path = tmp_path / "prop.xlsx"
    write_template(path, p, overwrite=True)
    assert read_plan(path) == p


def test_results_workbook_reads_back_as_the_same_plan(tmp_path: Path) -> None:
    """write_results keeps the input sheets: read_plan gives the Portfolio, noting result sheets."""
    p = small_portfolio()
    path = tmp_path / "results.xlsx"
    summary = pd.DataFrame(
        {"forecast (£000)": [-1234.5], "met": [False]}, index=pd.Index(["RXX"], name="trust_code")
    )
    monthly = pd.DataFrame({"month": [1, 2], "surplus": [float("nan"), 3.25]})
    prov = {
        "cipmodel": "0.1.0",
        "seed": 42,
        "rules": ["sof-2016", "stf-2017-18"],
        "input": "=cmd|' /C calc'!A0",
    }
    write_results(path, p, {"Summary": summary, "Monthly": monthly}, prov)
    q, notes = read_plan_with_notes(path)
    assert q == p
    assert "sheet 'Summary' ignored: not an input sheet" in notes
    assert "sheet 'Provenance' ignored: not an input sheet" in notes
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["README", *INPUT_SHEETS, "Summary", "Monthly", "Provenance"]
    rows = [[c.value for c in r] for r in wb["Summary"].iter_rows()]
    assert rows == [["trust_code", "forecast (£000)", "met"], ["RXX", -1234.5, False]]
    assert wb["Summary"]["B2"].number_format == '#,##0;(#,##0);"-"'
    rows = [[c.value for c in r] for r in wb["Monthly"].iter_rows()]
    assert rows == [["month", "surplus"], [1, None], [2, 3.25]]  # RangeIndex not written
    prov_rows = {r[0].value: r[1] for r in wb["Provenance"].iter_rows(min_row=2)}
    assert prov_rows["seed"].value == 42
    assert prov_rows["rules"].value == '["sof-2016", "stf-2017-18"]'
    assert prov_rows["input"].value == "=cmd|' /C calc'!A0"
    assert prov_rows["input"].data_type == "s"


def test_results_input_sheets_match_the_plan_template(tmp_path: Path) -> None:
    """The input sheets of a results workbook are exactly those write_template writes."""
    p = small_portfolio()
    plan, results = _plan(tmp_path, p), tmp_path / "results.xlsx"
    write_results(results, p, {"Summary": pd.DataFrame({"a": [1]})}, {"k": "v"})
    diffs = workbooks_equal(plan, results)
    assert len(diffs) == 1 and diffs[0].startswith("sheets ")


@pytest.mark.parametrize("bad", ["CIP", "readme", "provenance"])
def test_results_sheet_names_may_not_clash(tmp_path: Path, bad: str) -> None:
    """A result sheet named like an input sheet, README or Provenance is refused."""
    with pytest.raises(WorkbookError, match="clashes"):
        write_results(tmp_path / "r.xlsx", small_portfolio(), {bad: pd.DataFrame()}, {})
    assert not (tmp_path / "r.xlsx").exists()


def test_results_sheet_names_are_made_safe(tmp_path: Path) -> None:
    """Characters Excel forbids are replaced and long names cut to 31 characters."""
    path = tmp_path / "r.xlsx"
    long = "Scenario: best/worst [draft] " + "x" * 40
    write_results(path, small_portfolio(), {long: pd.DataFrame({"a": [1]})}, {})
    name = openpyxl.load_workbook(path, read_only=True).sheetnames[-2]
    assert name == "Scenario_ best_worst _draft_ xx" and len(name) == 31


# -- formula injection ---------------------------------------------------------------
@pytest.mark.parametrize(
    "text", ['=HYPERLINK("http://x","y")', "+44 20 7946 0000", "-cut", "@SUM(A1:A9)"]
)
def test_text_that_looks_like_a_formula_is_written_as_text(tmp_path: Path, text: str) -> None:
    """User text starting with = + - @ is stored as a text cell, never a formula."""
    s1 = small_portfolio().cip[0]
    p = small_portfolio(cip=(Scheme(**{**_fields(s1), "name": text}),))
    path = _plan(tmp_path, p)
    cell = openpyxl.load_workbook(path)["CIP"]["C2"]
    assert cell.value == text
    assert cell.data_type == "s"
    assert cell.quotePrefix
    with zipfile.ZipFile(path) as zf:
        assert b"<f>" not in zf.read(_sheet_part(path, "CIP"))
    assert read_plan(path).cip[0].name == text


def _fields(record: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k != "source"}


# -- reading variants ----------------------------------------------------------------
def test_header_case_spacing_unit_and_order_do_not_matter(tmp_path: Path) -> None:
    """Headers like 'Value FYE', ' scheme_id ', 'START-MONTH (month)' in any order are found."""
    p = small_portfolio()
    path = _plan(tmp_path, p)

    def shuffle(wb: Any) -> None:
        ws = wb["CIP"]
        del ws.tables["tblCIP"]
        rows = [[c.value for c in r] for r in ws.iter_rows()]
        ws.delete_rows(1, ws.max_row)
        header = rows[0]
        variants = {
            "value_fye (£000)": "Value FYE",
            "scheme_id": " scheme_id ",
            "start_month (month)": "START-MONTH (month)",
            "trust_code": "Trust_Code",
            "name": "name  [text]",
            "rag": "RAG (£000)",
        }
        order = list(reversed(range(len(header))))
        for r, row in enumerate(rows, start=1):
            for j, src in enumerate(order, start=1):
                value = row[src]
                ws.cell(row=r, column=j, value=variants.get(value, value) if r == 1 else value)

    _edit(path, shuffle)
    assert read_plan(path) == p


def test_a_header_in_another_money_unit_is_refused(tmp_path: Path) -> None:
    """'value_fye (£m)' would be read 1,000 times too small: it is a problem at the header."""
    path = _edit(_plan(tmp_path), lambda wb: setattr(wb["CIP"]["F1"], "value", "value_fye (£m)"))
    problems = _problems(path)
    assert problems == [
        "CIP!F1: column 'value_fye (£m)' is in £m, but value_fye is read in £000: convert "
        "the values and head the column 'value_fye (£000)'",
        "CIP!row 1: column 'value_fye' is missing: add a column headed 'value_fye (£000)' "
        "(the header row is row 1 (A1:L1); headers found: 'trust_code', 'scheme_id', 'name', "
        "'category', 'target_line', 'value_fye (£m)', 'start_year (year)', "
        "'start_month (month)', 'ramp_months (month)', 'recurrent', 'stage', 'rag')",
    ]


def test_money_unit_spellings_are_accepted(tmp_path: Path) -> None:
    """'£k', \"£'000\" and 'percent' are the same units as £000 and %."""
    path = _plan(tmp_path)
    _edit(
        path,
        lambda wb: (
            setattr(wb["CIP"]["F1"], "value", "value_fye (£'000)"),
            setattr(wb["Drivers"]["C1"], "value", "Tariff Uplift (percent)"),
            setattr(wb["Trusts"]["F1"], "value", "agency_ceiling (£k)"),
        ),
    )
    assert read_plan(path) == small_portfolio()


def test_sheet_names_ignore_case_and_spaces(tmp_path: Path) -> None:
    """Sheets ' cip ', 'Control Total' and 'trusts ' are the CIP, ControlTotal, Trusts sheets."""
    path = _plan(tmp_path)

    def rename(wb: Any) -> None:
        wb["CIP"].title = " cip "
        wb["ControlTotal"].title = "Control Total"
        wb["Trusts"].title = "trusts "

    q = read_plan(_edit(path, rename))
    assert q == small_portfolio()
    assert q.cip[0].source.cell("value_fye") == "cip!F2"


def test_without_excel_table_the_header_row_is_found_below_a_title(tmp_path: Path) -> None:
    """With no Excel Table, a title and blank rows above the header are skipped."""
    path = _plan(tmp_path)

    def untable(wb: Any) -> None:
        ws = wb["CIP"]
        del ws.tables["tblCIP"]
        ws.insert_rows(1, amount=3)
        ws["A1"] = "CIP schemes 2017/18 (draft)"

    q = read_plan(_edit(path, untable))
    assert q == small_portfolio()
    assert q.cip[0].source.cell("value_fye") == "CIP!F5"


def test_blank_rows_and_trailing_formatting_are_skipped(tmp_path: Path) -> None:
    """Blank rows between records and styled empty rows far below are not records."""
    path = _plan(tmp_path)

    def spread(wb: Any) -> None:
        ws = wb["CIP"]
        ws.insert_rows(3, amount=2)
        ws["C3"] = "   "  # white space only
        for r in range(10, 3000):
            ws.cell(row=r, column=2).fill = openpyxl.styles.PatternFill("solid", fgColor="FF0000")

    assert read_plan(_edit(path, spread)) == small_portfolio()


def test_wrong_saved_dimensions_do_not_hide_rows(tmp_path: Path) -> None:
    """A sheet whose saved size says A1:B2 is still read to its last row."""
    path = _plan(tmp_path)
    part = _sheet_part(path, "CIP")
    _patch_xml(
        path, part, lambda b: re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:B2"', b)
    )
    assert len(read_plan(path).cip) == 3


def test_sheet_xml_with_a_namespace_prefix_is_read(tmp_path: Path) -> None:
    """Some programs write '<x:row>' instead of '<row>': the cells are read the same."""
    path = _plan(tmp_path)

    def prefix(xml: bytes) -> bytes:
        xml = re.sub(rb"<(/?)([A-Za-z]+)([ >/])", rb"<\1x:\2\3", xml)
        return xml.replace(
            b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"',
            b'xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"',
        )

    _patch_xml(path, _sheet_part(path, "CIP"), prefix)
    assert read_plan(path) == small_portfolio()


def test_rows_typed_below_an_unextended_table_are_read_with_a_note(tmp_path: Path) -> None:
    """LibreOffice does not extend Excel Tables: rows below the table are records too."""
    p = small_portfolio()
    path = _plan(tmp_path, p)

    def shrink(wb: Any) -> None:
        wb["CIP"].tables["tblCIP"].ref = "A1:L2"

    q, notes = read_plan_with_notes(_edit(path, shrink))
    assert q == p
    assert notes == [
        "CIP: rows 3-4 are below the Excel Table 'tblCIP' (A1:L2) and were read too; "
        "extend the table to include them"
    ]


def test_numbers_and_percentages_typed_as_text_are_read(tmp_path: Path) -> None:
    """'1,500' in a £000 cell and '2.1%' in a % cell are numbers; 'Non-pay' is non_pay."""
    path = _plan(tmp_path)

    def texts(wb: Any) -> None:
        wb["CIP"]["F2"] = "1,500"
        wb["CIP"]["D3"] = "Non-Pay"
        wb["CIP"]["J3"] = "no"
        wb["Drivers"]["C2"] = "2.1%"

    assert read_plan(_edit(path, texts)) == small_portfolio()


def test_extra_sheets_and_columns_are_ignored_with_notes(tmp_path: Path) -> None:
    """Unknown sheets and columns are noted, not errors; a README sheet is not noted."""
    path = _plan(tmp_path)

    def extras(wb: Any) -> None:
        wb.create_sheet("Notes")["A1"] = "hello"
        ws = wb["CIP"]
        ws["M1"] = "comment"
        ws["M2"] = "check with finance"
        ws["M9"] = "stray note"

    q, notes = read_plan_with_notes(_edit(path, extras))
    assert q == small_portfolio()
    assert notes == [
        "column 'comment' on CIP ignored: not a CIP column",
        "CIP: rows 9 have values only in ignored columns and were skipped",
        "sheet 'Notes' ignored: not an input sheet",
    ]


def test_optional_sheets_may_be_left_out(tmp_path: Path) -> None:
    """Funding, Financing, Drivers and Profiles may be absent (no rows), with a note."""
    p = small_portfolio(
        income=small_portfolio().income[1:], funding=(), financing=(), drivers=(), profiles=()
    )
    path = _plan(tmp_path, p)

    def drop(wb: Any) -> None:
        for name in ("Funding", "Financing", "Drivers", "Profiles"):
            del wb[name]

    q, notes = read_plan_with_notes(_edit(path, drop))
    assert q == p
    assert "optional sheet 'Drivers' not found: no rows" in notes


def test_optional_columns_may_be_left_out(tmp_path: Path) -> None:
    """Absent optional columns take their defaults."""
    path = _plan(tmp_path)

    def drop(wb: Any) -> None:
        ws = wb["CIP"]
        del ws.tables["tblCIP"]
        ws.delete_cols(7, 6)  # start_year .. rag
        ws.delete_cols(5)  # target_line

    q = read_plan(_edit(path, drop))
    assert [(s.target_line, s.start_month, s.stage) for s in q.cip] == [(None, 1, "plan")] * 3


@pytest.mark.parametrize("how", ["openpyxl", "vba"])
def test_xlsm_is_read_without_its_macros(tmp_path: Path, how: str) -> None:
    """A macro-enabled workbook is read; macros are not run or kept, and that is noted."""
    path = tmp_path / "plan.xlsm"
    wb = openpyxl.load_workbook(_plan(tmp_path))
    wb.save(path)
    if how == "vba":
        with zipfile.ZipFile(path, "a") as zf:
            zf.writestr("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0 not really VBA")
    q, notes = read_plan_with_notes(path)
    assert q == small_portfolio()
    assert any("macros" in n for n in notes) == (how == "vba")


# -- formulas ------------------------------------------------------------------------
def test_formula_without_saved_value_is_a_problem(tmp_path: Path) -> None:
    """openpyxl writes formulas without results: each such input cell is reported."""
    path = _plan(tmp_path)
    _edit(
        path,
        lambda wb: (
            setattr(wb["CIP"]["F2"], "value", "=1000*2"),
            setattr(wb["CIP"]["H3"], "value", "=A1+1"),
        ),
    )
    assert _problems(path) == [
        "CIP!F2: formula =1000*2 has no saved value: open and save the workbook in Excel or "
        "LibreOffice",
        "CIP!H3: formula =A1+1 has no saved value: open and save the workbook in Excel or "
        "LibreOffice",
    ]


def test_formulas_are_read_by_their_saved_values(tmp_path: Path) -> None:
    """A formula saved with its result reads as that result; an empty-text result as blank."""
    path = _plan(tmp_path)
    _edit(
        path,
        lambda wb: (
            setattr(wb["CIP"]["F2"], "value", "=1000+500"),
            setattr(wb["CIP"]["E4"], "value", '=IF(1,"","x")'),
        ),
    )
    part = _sheet_part(path, "CIP")

    def saved(xml: bytes) -> bytes:
        # what Excel or LibreOffice save: the result next to the formula
        xml = xml.replace(b"<f>1000+500</f><v />", b"<f>1000+500</f><v>1500</v>")
        xml = re.sub(rb'<c r="E4" (s="\d+")><f>', rb'<c r="E4" \1 t="str"><f>', xml)
        assert b"<v>1500</v>" in xml and b't="str"' in xml
        return xml

    _patch_xml(path, part, saved)
    assert read_plan(path) == small_portfolio()


def test_error_values_are_problems(tmp_path: Path) -> None:
    """A cell showing #DIV/0! is reported as an error value, not read as text."""
    path = _plan(tmp_path)
    part = _sheet_part(path, "CIP")

    def error(xml: bytes) -> bytes:
        out = re.sub(
            rb'<c r="F3"([^>]*) t="n"><v>800</v></c>',
            rb'<c r="F3"\1 t="e"><f>1/0</f><v>#DIV/0!</v></c>',
            xml,
        )
        assert out != xml
        return out

    _patch_xml(path, part, error)
    assert _problems(path) == [
        "CIP!F3: the cell shows the error #DIV/0!: fix the formula or type a value"
    ]


# -- broken workbooks: every problem, with its cell ----------------------------------
def _set(sheet: str, ref: str, value: Any) -> Any:
    return lambda wb: setattr(wb[sheet][ref], "value", value)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param(
            lambda wb: wb.remove(wb["CIP"]),
            [
                "CIP: sheet 'CIP' is missing: add it (a template from `cipmodel template` "
                "has every sheet)"
            ],
            id="missing-sheet",
        ),
        pytest.param(
            _set("CIP", "F1", "saving"),
            [
                "CIP!row 1: column 'value_fye' is missing: add a column headed "
                "'value_fye (£000)' (the header row is row 1 (A1:L1); headers found: "
                "'trust_code', 'scheme_id', 'name', 'category', 'target_line', 'saving', "
                "'start_year (year)', 'start_month (month)', 'ramp_months (month)', "
                "'recurrent', 'stage', 'rag')"
            ],
            id="missing-column",
        ),
        pytest.param(
            _set("CIP", "F3", "eight hundred"),
            ["CIP!F3: value_fye must be a number >= 0, got 'eight hundred'"],
            id="text-in-number",
        ),
        pytest.param(
            _set("CIP", "F2", -5),
            ["CIP!F2: value_fye must be a number >= 0, got -5"],
            id="negative",
        ),
        pytest.param(
            _set("CIP", "D4", "capital"),
            ["CIP!D4: category must be one of pay, non_pay, income, got 'capital'"],
            id="unknown-category",
        ),
        pytest.param(
            _set("CIP", "H2", 13),
            ["CIP!H2: start_month must be a whole number from 1 to 12, got 13"],
            id="start-month-13",
        ),
        pytest.param(
            _set("CIP", "B3", "S1"),
            [
                "CIP!B2: duplicate row: trust_code='RXX', scheme_id='S1' appears more than once",
                "CIP!B3: duplicate row: trust_code='RXX', scheme_id='S1' appears more than once",
            ],
            id="duplicate-scheme-id",
        ),
        pytest.param(
            _set("CIP", "A4", "RZZ"),
            ["CIP!A4: trust_code 'RZZ' is not on the Trusts sheet"],
            id="unknown-trust",
        ),
        pytest.param(
            _set("CIP", "F2", dt.datetime(2017, 4, 1)),
            [
                "CIP!F2: value_fye must be a number >= 0, got a date/time "
                "datetime.datetime(2017, 4, 1, 0, 0)"
            ],
            id="date-in-number",
        ),
        pytest.param(
            _set("CIP", "A2", None),
            ["CIP!A2: trust_code is required (text of at most 12 characters)"],
            id="required-blank",
        ),
    ],
)
def test_broken_workbooks_report_each_problem_with_its_cell(
    tmp_path: Path, edit: Any, expected: list[str]
) -> None:
    """Each broken case is reported with its sheet and cell; the file is not changed."""
    path = _edit(_plan(tmp_path), edit)
    assert _problems(path) == expected


def test_all_problems_in_a_workbook_are_reported_at_once(tmp_path: Path) -> None:
    """Cell problems on several sheets and cross-record problems come in one error."""
    path = _plan(tmp_path)

    def many(wb: Any) -> None:
        wb["CIP"]["F2"] = "abc"
        wb["CIP"]["H3"] = 13
        wb["CIP"]["D4"] = "capital"
        wb["Costs"]["C3"] = -1
        wb["Drivers"]["C2"] = 5  # 500%: over the maximum, with a hint
        wb["Trusts"]["H1"] = "notes"
        wb["Income"]["A3"] = "RZZ"  # a good row with an unknown trust

    problems = _problems(_edit(path, many))
    assert problems == [
        "Costs!C3: annual_value must be a number >= 0, got -1",
        "CIP!F2: value_fye must be a number >= 0, got 'abc'",
        "CIP!H3: start_month must be a whole number from 1 to 12, got 13",
        "CIP!D4: category must be one of pay, non_pay, income, got 'capital'",
        "Drivers!C2: tariff_uplift must be a number from -0.2 to 0.3 (as a fraction: enter 5% "
        "or 0.05), got 5",
        "Income!A3: trust_code 'RZZ' is not on the Trusts sheet",
    ]


def test_problems_that_follow_from_a_bad_row_are_not_reported(tmp_path: Path) -> None:
    """A bad ControlTotal row gives its cell problem, not also 'no control total for year 1'."""
    path = _edit(_plan(tmp_path), _set("ControlTotal", "C2", "n/a"))
    assert _problems(path) == [
        "ControlTotal!C2: target_pre_stf must be a number (a value is needed here), got 'n/a'"
    ]


def test_a_bad_trust_row_skips_cross_record_checks(tmp_path: Path) -> None:
    """With a Trusts row broken, rows naming that trust are not called unknown."""
    path = _edit(_plan(tmp_path), _set("Trusts", "C2", "hospital"))
    problems = _problems(path)
    assert len(problems) == 1 and problems[0].startswith("Trusts!C2: trust_type must be")


# -- files that are not plan workbooks -----------------------------------------------
@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("plan.xlsx", b"", "is empty"),
        ("plan.xlsx", bytes(range(256)) * 8, "not an Excel workbook"),
        ("plan.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "password-protected"),
        ("plan.xlsx", b"PK\x03\x04 truncated", "not an Excel workbook"),
        ("plan.csv", b"trust_code,name\nRXX,x\n", "text file"),
        ("plan.xls", b"\xd0\xcf\x11\xe0", r"Excel 97-2003.*save it as \.xlsx"),
        ("plan.ods", b"PK", r"OpenDocument.*\.xlsx"),
        ("plan.docx", b"PK", r"\.xlsx or \.xlsm"),
        ("plan", b"PK", "without an extension"),
    ],
)
def test_files_that_are_not_workbooks_are_refused_clearly(
    tmp_path: Path, name: str, content: bytes, match: str
) -> None:
    """Empty, random, OLE, truncated, CSV, XLS, ODS and other files give a WorkbookError."""
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(WorkbookError, match=match) as info:
        read_plan(path)
    assert name in str(info.value)
    assert path.read_bytes() == content


def test_a_zip_that_is_not_a_workbook_is_refused(tmp_path: Path) -> None:
    """A zip file without workbook parts, and an .ods renamed .xlsx, are refused."""
    path = tmp_path / "plan.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(WorkbookError, match="zip file but not an Excel workbook"):
        read_plan(path)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("content.xml", "<x/>")
    with pytest.raises(WorkbookError, match="OpenDocument"):
        read_plan(path)


def test_a_corrupt_workbook_part_is_a_workbook_error(tmp_path: Path) -> None:
    """Broken XML inside the zip is a WorkbookError naming the file."""
    path = _plan(tmp_path)
    _patch_xml(path, _sheet_part(path, "CIP"), lambda b: b[: b.index(b"</sheetData>") // 2])
    with pytest.raises(WorkbookError, match="plan.xlsx is damaged"):
        read_plan(path)


def test_missing_file_and_folder_are_workbook_errors(tmp_path: Path) -> None:
    """A path that does not exist, or is a folder, gives a WorkbookError."""
    with pytest.raises(WorkbookError, match="not found"):
        read_plan(tmp_path / "nope.xlsx")
    (tmp_path / "dir.xlsx").mkdir()
    with pytest.raises(WorkbookError, match="is a folder"):
        read_plan(tmp_path / "dir.xlsx")


# -- XML attack protection -----------------------------------------------------------
def test_openpyxl_parses_with_defusedxml() -> None:
    """openpyxl is set up to parse XML through defusedxml."""
    assert openpyxl.xml.DEFUSEDXML is True
    from openpyxl.xml import functions

    assert functions.iterparse.__module__.startswith("defusedxml")


_BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
)


@pytest.mark.parametrize("part", ["sheet", "xl/workbook.xml"])
def test_entity_expansion_attacks_are_refused(tmp_path: Path, part: str) -> None:
    """XML with entity declarations (billion laughs) in any part is refused, not expanded."""
    path = _plan(tmp_path)
    name = _sheet_part(path, "CIP") if part == "sheet" else part

    def bomb(xml: bytes) -> bytes:
        body = xml.split(b"?>", 1)[1] if xml.startswith(b"<?xml") else xml
        return _BOMB + body.replace(b"Agency cap", b"&lol2;")

    _patch_xml(path, name, bomb)
    with pytest.raises(WorkbookError, match="entity"):
        read_plan(path)


def test_a_dtd_in_a_sheet_is_refused(tmp_path: Path) -> None:
    """A DOCTYPE (here an external DTD) is never in a real workbook: refused."""
    path = _plan(tmp_path)
    doctype = b'<!DOCTYPE worksheet SYSTEM "http://attacker.invalid/x.dtd">'
    _patch_xml(path, _sheet_part(path, "CIP"), lambda xml: doctype + xml)
    with pytest.raises(WorkbookError, match="DTD declarations"):
        read_plan(path)


def test_reading_is_refused_without_defusedxml(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """If openpyxl would parse without defusedxml, read_plan refuses to read."""
    path = _plan(tmp_path)
    monkeypatch.setattr(openpyxl.xml, "DEFUSEDXML", False)
    with pytest.raises(WorkbookError, match="install defusedxml"):
        read_plan(path)


# -- safe writes ---------------------------------------------------------------------
def test_failed_write_leaves_the_old_file_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If saving fails half way, the existing workbook is byte-identical and no temp remains."""
    path = _plan(tmp_path)
    before = path.read_bytes()

    def half_save(self: Any, filename: Any) -> None:
        Path(filename).write_bytes(b"PK\x03\x04 half a workbook")
        raise RuntimeError("disk went away")

    monkeypatch.setattr(GridWorkbook, "save", half_save)
    with pytest.raises(RuntimeError, match="disk went away"):
        write_template(path, overwrite=True)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.xlsx"]


def test_atomic_write_replaces_in_one_step(tmp_path: Path) -> None:
    """atomic_write gives the writer a temp path in the same folder, then renames it."""
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    seen: list[Path] = []

    def writer(tmp: Path) -> None:
        seen.append(tmp)
        assert tmp.parent == tmp_path and tmp.exists() and target.read_bytes() == b"old"
        tmp.write_bytes(b"new")

    assert atomic_write(target, writer) == target
    assert target.read_bytes() == b"new"
    assert not seen[0].exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_permission_errors_become_workbook_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused rename (file open in Excel, read-only folder) is a clear WorkbookError."""
    target = tmp_path / "out.xlsx"
    target.write_bytes(b"old")

    def refuse(src: Any, dst: Any) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(atomicmod.os, "replace", refuse)
    with pytest.raises(WorkbookError, match="permission denied"):
        atomic_write(target, lambda tmp: tmp.write_bytes(b"new"))
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.xlsx"]


def test_atomic_write_into_missing_folder(tmp_path: Path) -> None:
    """A missing folder is reported before anything is written."""
    with pytest.raises(WorkbookError, match="does not exist"):
        atomic_write(tmp_path / "no" / "x.bin", lambda tmp: tmp.write_bytes(b""))


# -- size ----------------------------------------------------------------------------
@pytest.mark.slow
def test_a_national_sized_plan_round_trips(tmp_path: Path) -> None:
    """About 235 trusts and 9,000 schemes read back equal (timings: benchmarks/bench_io.py)."""
    trusts, costs, cip, ct = [], [], [], []
    for i in range(235):
        code = f"R{i:03d}"
        trusts.append(Trust(trust_code=code, name=f"Trust {i}", trust_type="acute"))
        costs.append(CostLine(trust_code=code, line="pay_substantive", annual_value=9e4))
        ct.append(ControlTotal(trust_code=code, target_pre_stf=-1000.0))
        cip.extend(
            Scheme(
                trust_code=code,
                scheme_id=f"S{s}",
                name=f"Scheme {s} of {code}",
                category=("pay", "non_pay", "income")[s % 3],
                value_fye=10.0 + s,
                start_month=1 + s % 12,
                recurrent=s % 5 != 0,
            )
            for s in range(38)
        )
    p = Portfolio(trusts=trusts, costs=costs, cip=cip, control_total=ct)
    path = tmp_path / "national.xlsx"
    write_template(path, p)
    assert read_plan(path) == p
