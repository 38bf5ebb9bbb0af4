"""Workbooks as finance teams fill them: no silent wrong answer (issue 11, section 1).

Each class of slip is generated, not picked: misspelt headers (every kind of typo, on
several fields and sheets), numbers typed the ways Excel and LibreOffice show them,
look-alike trust codes, renamed sheets, hand-typed total rows and values that look like a
slip of scale. Workbooks are written from the bundled ``acute-11pc`` example and edited with
openpyxl; the LibreOffice-saved variant is in ``tests/test_workbook_libreoffice.py``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from openpyxl.utils import get_column_letter

from cipmodel.cli import cli
from cipmodel.errors import Note, ValidationError, readable
from cipmodel.examples import example_portfolio
from cipmodel.inputs.numbers import parse_number_text
from cipmodel.inputs.plausibility import check_plausibility
from cipmodel.inputs.schema import load_schema
from cipmodel.io import read_plan, read_plan_with_notes, write_template
from cipmodel.io.headers import edit_distance, header_key, resembles
from cipmodel.io.xlsx_cells import SheetEnd, SheetHandler, parse_part

SCHEMA = load_schema()
EXAMPLE = example_portfolio("acute-11pc")


@pytest.fixture(scope="module")
def template_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("intake") / "plan.xlsx"
    write_template(path, EXAMPLE)
    return path.read_bytes()


@pytest.fixture
def make(template_bytes: bytes, tmp_path: Path) -> Callable[..., Path]:
    """``make(edit)``: the example plan with ``edit(workbook)`` applied, as a new file."""
    count = iter(range(10**6))

    def build(edit: Callable[[Any], None] | None = None) -> Path:
        path = tmp_path / f"plan{next(count)}.xlsx"
        path.write_bytes(template_bytes)
        if edit is not None:
            wb = openpyxl.load_workbook(path)
            edit(wb)
            wb.save(path)
        return path

    return build


def _column(ws: Any, field: str) -> int:
    """The 1-based column whose header names ``field``."""
    for cell in ws[1]:
        if isinstance(cell.value, str) and header_key(cell.value) == header_key(field):
            return int(cell.column)
    raise KeyError(field)


def _set_header(sheet: str, field: str, text: str) -> Callable[[Any], None]:
    def edit(wb: Any) -> None:
        ws = wb[sheet]
        ws.cell(1, _column(ws, field)).value = text
        for name in list(ws.tables):  # a renamed header must not break the Table's columns
            del ws.tables[name]

    return edit


def _problems(path: Path, **kwargs: Any) -> list[str]:
    with pytest.raises(ValidationError) as info:
        read_plan(path, **kwargs)
    return [str(p) for p in info.value.problems]


def invoke(*args: Any) -> Any:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


# -- misspelt headers -------------------------------------------------------------------
def typos(word: str) -> Iterator[tuple[str, str]]:
    """Misspellings of ``word`` of each kind, as (kind, text): neighbours swapped, a letter
    left out, a letter doubled, a letter replaced. Positions inside the word, never at an
    underscore, so each is one edit from the field name."""
    letters = [i for i, c in enumerate(word) if c.isalpha()]
    mid = letters[len(letters) // 2]
    i = next(
        i
        for i in letters[len(letters) // 2 :]
        if i + 1 < len(word) and word[i + 1].isalpha() and word[i] != word[i + 1]
    )
    yield "transposed", word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    yield "missing letter", word[:mid] + word[mid + 1 :]
    yield "extra letter", word[: mid + 1] + word[mid] + word[mid + 1 :]
    swap = "x" if word[mid] != "x" else "z"
    yield "wrong letter", word[:mid] + swap + word[mid + 1 :]


# Optional fields (their blank has a default, so a typo there used to be silent), on
# several sheets; "start_month" is the one that moved a real forecast by £17m.
OPTIONAL_FIELDS = [
    ("CIP", "start_month"),
    ("CIP", "start_year"),
    ("CIP", "ramp_months"),
    ("CIP", "recurrent"),
    ("CIP", "stage"),
    ("CIP", "target_line"),
    ("Trusts", "agency_ceiling"),
    ("Trusts", "horizon_years"),
    ("ControlTotal", "accepted"),
    ("Income", "profile"),
    ("Funding", "ae_applies"),
]
TYPO_CASES = [
    pytest.param(sheet, field, text, id=f"{field}-{kind}")
    for sheet, field in OPTIONAL_FIELDS
    for kind, text in typos(field)
]


def test_typo_generator_makes_one_edit_typos() -> None:
    for _sheet, field in OPTIONAL_FIELDS:
        for kind, text in typos(field):
            assert text != field
            assert edit_distance(header_key(text), header_key(field), 2) == 1, (kind, text)


@pytest.mark.parametrize(("sheet", "field", "text"), TYPO_CASES)
def test_a_misspelt_header_is_refused_with_did_you_mean(
    make: Callable[..., Path], sheet: str, field: str, text: str
) -> None:
    """A header one edit from a field the sheet lacks is an error at its cell, naming the
    field; accepted deliberately, it is an extra column (the field takes its default)."""
    path = make(_set_header(sheet, field, text))
    col = openpyxl.utils.get_column_letter(_column(openpyxl.load_workbook(path)[sheet], text))
    problems = _problems(path)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{sheet}!{col}1: column '{text}' is not a {sheet} column")
    assert f"did you mean '{field}'?" in problems[0]
    assert f'--allow-extra-column "{text}"' in problems[0]
    allow = [text.upper()]
    try:
        _q, notes = read_plan_with_notes(path, allow_extra_columns=allow)
    except ValidationError as exc:  # horizon_years left to its default of 1: later years fail
        assert all("did you mean" not in p.message for p in exc.problems)
        assert field == "horizon_years"
    else:
        assert any(n.place == f"{sheet}!{col}1" and "as asked" in n for n in notes)


@pytest.mark.parametrize(
    "text",
    [
        "StartMonth",
        "start month",
        "START_MONTH",
        "Start-Month",
        "start.month",
        " start  month (month) ",
    ],
)
def test_case_spacing_and_punctuation_of_a_header_do_not_matter(
    make: Callable[..., Path], text: str
) -> None:
    """Headers equal to a field once case, spaces and punctuation are taken out are read as it."""
    q = read_plan(make(_set_header("CIP", "start_month", text)))
    assert [s.start_month for s in q.cip] == [s.start_month for s in EXAMPLE.cip]


def test_start_month_typo_no_longer_moves_the_forecast_silently(make: Callable[..., Path]) -> None:
    """The issue's case: 'Strat month' used to read as 'every scheme starts in April' with
    validate saying "valid". Now validate refuses it (exit 2) naming the cell, and the flag
    that accepts it makes the consequence visible as a note."""
    path = make(_set_header("CIP", "start_month", "Strat month"))
    r = invoke("validate", path)
    assert r.exit_code == 2
    assert "did you mean 'start_month'?" in r.output and "CIP!H1" in r.output
    assert "valid —" not in r.output
    r = invoke("validate", path, "--allow-extra-column", "strat MONTH")
    assert r.exit_code == 0
    assert "note: CIP!H1: column 'Strat month' on CIP ignored as an extra column" in r.output
    q = read_plan(path, allow_extra_columns=["Strat month"])
    assert {s.start_month for s in q.cip} == {1}  # what the flag means: the default


GENUINELY_EXTRA = [
    "Owner (SRO)",
    "Notes",
    "Comments",
    "RAG rationale",
    "Lead",
    "Directorate",
    "Status",
    "Risk",
    "ID",
]


@pytest.mark.parametrize("text", GENUINELY_EXTRA)
def test_genuinely_extra_columns_are_read_with_a_note(make: Callable[..., Path], text: str) -> None:
    def edit(wb: Any) -> None:
        for sheet in ("CIP", "Trusts", "Income", "ControlTotal"):
            ws = wb[sheet]
            ws.cell(1, ws.max_column + 1).value = text

    q, notes = read_plan_with_notes(make(edit))
    assert q == EXAMPLE
    noted = [n for n in notes if f"column '{text}'" in n]
    assert len(noted) == 4 and all("ignored: not a" in n for n in noted)
    assert all(re.fullmatch(r"\w+![A-Z]+1", n.place) for n in noted)


def test_resembles_compares_long_headers_without_work() -> None:
    fields = {f.name: f for f in SCHEMA.table("cip").fields}
    assert resembles("x" * 50_000, fields) == []
    assert resembles("Strat month", fields) == ["start_month"]


def test_a_missing_required_header_names_the_header_row(make: Callable[..., Path]) -> None:
    problems = _problems(make(_set_header("CIP", "value_fye", "saving")))
    assert len(problems) == 1
    assert problems[0].startswith("CIP!row 1: column 'value_fye' is missing")
    assert "(the header row is row 1 (A1:L1); headers found: 'trust_code', " in problems[0]
    assert "'saving'" in problems[0]


# -- notes: structured, shown --------------------------------------------------------------
def test_notes_carry_their_place(make: Callable[..., Path]) -> None:
    def edit(wb: Any) -> None:
        wb.create_sheet("Workings")["A1"] = 1
        wb["CIP"]["M1"] = "Owner (SRO)"
        wb["CIP"]["M60"] = "stray"
        del wb["Drivers"]

    _q, notes = read_plan_with_notes(make(edit))
    assert all(isinstance(n, Note) for n in notes)
    places = {n.place: n for n in notes}
    assert places["CIP!M1"] == "column 'Owner (SRO)' on CIP ignored: not a CIP column"
    assert places["Workings"].level == "note"
    assert places["Drivers"] == "optional sheet 'Drivers' not found: no rows"
    assert places["CIP!rows 60"].startswith("CIP: rows 60 have values only in ignored columns")


def test_validate_and_run_show_notes_on_stderr_and_in_json(
    make: Callable[..., Path], tmp_path: Path
) -> None:
    def edit(wb: Any) -> None:
        wb["CIP"]["M1"] = "Owner (SRO)"

    path = make(edit)
    r = invoke("validate", path)
    assert r.exit_code == 0
    assert "note: CIP!M1: column 'Owner (SRO)' on CIP ignored: not a CIP column" in r.stderr
    assert "note:" not in r.stdout
    d = json.loads(invoke("validate", path, "--json").stdout)
    assert d["valid"] is True
    assert {
        "place": "CIP!M1",
        "message": "column 'Owner (SRO)' on CIP ignored: not a CIP column",
        "level": "note",
    } in d["warnings"]
    out = tmp_path / "results.xlsx"
    r = invoke("run", path, "-o", out)
    assert r.exit_code == 0 and "note: CIP!M1" in r.stderr
    d = json.loads(invoke("run", path, "--json").stdout)
    # the CIP note, and the example's unsplit PFI charge noted on Financing (test_definitions)
    assert [w["place"] for w in d["warnings"]] == ["CIP!M1", "Financing"]
    rows = list(openpyxl.load_workbook(out)["Input notes"].values)
    assert rows[0] == ("Level", "Place", "Note")
    assert ("note", "CIP!M1", "column 'Owner (SRO)' on CIP ignored: not a CIP column") in rows


def test_a_plan_without_notes_has_no_notes_sheet_and_empty_warnings(
    tmp_path: Path,
) -> None:
    path = tmp_path / "plan.xlsx"  # the small example: no PFI, nothing to note
    write_template(path, example_portfolio("small"))
    out = tmp_path / "results.xlsx"
    assert invoke("run", path, "-o", out).exit_code == 0
    assert "Input notes" not in openpyxl.load_workbook(out).sheetnames
    assert json.loads(invoke("run", path, "--json").stdout)["warnings"] == []


# -- numbers as finance people type them ---------------------------------------------------
SPACES = {"no-break": "\u00a0", "narrow no-break": "\u202f", "thin": "\u2009", "plain": " "}


def _grouped(n: int, sep: str) -> str:
    return f"{n:,}".replace(",", sep)


@st.composite
def shown_numbers(draw: Any) -> tuple[str, float, float]:
    """A whole or two-decimal amount as Excel or LibreOffice shows it in an accounting,
    currency or number format: (text, value, tolerance)."""
    whole = draw(st.integers(0, 10**12))
    decimals = draw(st.sampled_from([0, 2]))
    cents = draw(st.integers(0, 99)) if decimals else 0
    value = whole + cents / 100
    sep = draw(st.sampled_from([",", *SPACES.values()]))
    digits = _grouped(whole, sep) + (f".{cents:02d}" if decimals else "")
    negative = draw(st.booleans())
    style = draw(
        st.sampled_from(
            [
                "plain",
                "pound",
                "brackets",
                "pound-brackets",
                "brackets-pound",
                "minus-pound",
                "pound-minus",
                "unicode-minus",
            ]
        )
    )
    if not negative:
        text = {"pound": f"£{digits}", "pound-brackets": f"£{digits}"}.get(style, digits)
        return text, value, 0.0
    text = {
        "plain": f"-{digits}",
        "pound": f"-£{digits}",
        "brackets": f"({digits})",
        "pound-brackets": f"£({digits})",
        "brackets-pound": f"(£{digits})",
        "minus-pound": f"-£{digits}",
        "pound-minus": f"£-{digits}",
        "unicode-minus": f"\u2212{digits}",
    }[style]
    pad = draw(st.sampled_from(["", " ", "\u00a0", "\u2007"]))
    return pad + text + pad, -value, 0.0


@given(shown_numbers())
def test_numbers_as_spreadsheets_show_them_read_back(case: tuple[str, float, float]) -> None:
    text, value, _tol = case
    got, hint = parse_number_text(text, money=True)
    assert hint == ""
    assert got == pytest.approx(value, rel=1e-12, abs=1e-9)


@given(st.integers(0, 1000), st.sampled_from(["0%", "0.0%", "0.00%"]))
def test_percentages_as_shown_read_back(tenths: int, fmt: str) -> None:
    x = tenths / 1000
    decimals = fmt.count("0") - 1
    text = f"{x * 100:.{decimals}f}%"
    got, _ = parse_number_text(text)
    assert got == pytest.approx(round(x * 100, decimals) / 100, abs=1e-12)


@pytest.mark.parametrize("dash", ["-", "\u2013", "\u2014"])
def test_a_dash_alone_is_zero_in_money_cells_only(dash: str) -> None:
    assert parse_number_text(dash, money=True) == (0.0, "")
    assert parse_number_text(dash)[0] is None


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("1,5", "for a decimal type a point"),
        ("1,50,000", "groups of three"),
        ("12 34", "groups of three"),
        ("£2.5m", "read in £000"),
        ("5%", "a percentage in a £000 column"),
    ],
)
def test_ambiguous_numbers_are_refused_with_a_hint(text: str, hint: str) -> None:
    value, why = parse_number_text(text, money=True)
    assert value is None and hint in why


def test_finance_numbers_in_a_workbook(make: Callable[..., Path]) -> None:
    """Bracketed negatives, an accounting dash and no-break-space separators in text cells
    read as a finance person means them."""

    def edit(wb: Any) -> None:
        wb["ControlTotal"].cell(2, _column(wb["ControlTotal"], "target_pre_stf")).value = "(4,000)"
        wb["Financing"].cell(
            2, _column(wb["Financing"], "opening_working_capital")
        ).value = "£(2\u00a0500)"
        wb["Financing"].cell(2, _column(wb["Financing"], "loan_drawdown")).value = "\u2013"
        wb["Income"].cell(2, _column(wb["Income"], "annual_value")).value = "350\u202f000"

    q = read_plan(make(edit))
    assert q.control_total[0].target_pre_stf == -4000
    assert q.financing[0].opening_working_capital == -2500
    assert q.financing[0].loan_drawdown == 0
    assert q.income[0].annual_value == 350000


def test_special_characters_are_shown_by_name_in_messages(make: Callable[..., Path]) -> None:
    def edit(wb: Any) -> None:
        wb["Income"].cell(2, _column(wb["Income"], "annual_value")).value = "35\u00a000"

    (problem,) = _problems(make(edit))
    assert "35<no-break space>00" in problem and "\\xa0" not in problem and "\xa0" not in problem
    assert readable("a\u202eb\x1b[2J") == "a<right-to-left override>b<U+001B>[2J"


@pytest.mark.parametrize("word", ["n/a", "N/A", "none", "TBC"])
def test_not_applicable_gets_a_hint_saying_what_blank_means(
    make: Callable[..., Path], word: str
) -> None:
    def edit(wb: Any) -> None:
        wb["Trusts"].cell(2, _column(wb["Trusts"], "agency_ceiling")).value = word
        wb["CIP"].cell(2, _column(wb["CIP"], "target_line")).value = word
        wb["CIP"].cell(2, _column(wb["CIP"], "ramp_months")).value = word

    problems = _problems(make(edit))
    assert any("Trusts!F2" in p and "leave the cell blank for no ceiling" in p for p in problems)
    assert any("CIP!E2" in p and "blank for the category's default line" in p for p in problems)
    assert any("CIP!I2" in p and "blank for the default, 0" in p for p in problems)


# -- look-alike identifiers -----------------------------------------------------------------
@pytest.mark.parametrize("typed", ["rxx", "Rxx", " RXX ", "R XX", "r\u00a0xx"])
def test_trust_codes_match_across_sheets_ignoring_case_and_spaces(
    make: Callable[..., Path], typed: str
) -> None:
    def edit(wb: Any) -> None:
        wb["CIP"]["A3"] = typed
        wb["Income"]["A2"] = typed

    q, notes = read_plan_with_notes(make(edit))
    assert q == EXAMPLE
    assert {n.place for n in notes if "read as 'RXX'" in n} >= {"CIP!A3", "Income!A2"} - (
        {"CIP!A3", "Income!A2"} if typed.strip() == "RXX" else set()
    )


@pytest.mark.parametrize("twin", ["rxx", "RXX\u200b", "R\u200dXX", "RX X"])
def test_codes_differing_only_by_case_or_invisibles_are_an_error(
    make: Callable[..., Path], twin: str
) -> None:
    def edit(wb: Any) -> None:
        ws = wb["Trusts"]
        for col in range(1, ws.max_column + 1):
            ws.cell(3, col).value = ws.cell(2, col).value
        ws["A3"] = twin

    problems = _problems(make(edit))
    assert any("Trusts!A3" in p for p in problems), problems
    joined = "\n".join(problems)
    assert "Trusts!A2" in joined or "invisible character" in joined
    assert "\u200b" not in joined and "\u200d" not in joined


@pytest.mark.parametrize("bad", ["\u202e", "\u2066", "\u200f", "\u061c"])
def test_control_and_direction_characters_are_refused_and_never_printed(
    make: Callable[..., Path], bad: str
) -> None:
    def edit(wb: Any) -> None:
        wb["Trusts"]["B2"] = f"Example{bad}Trust"

    path = make(edit)
    r = invoke("validate", path)
    assert r.exit_code == 2
    assert "Trusts!B2" in r.output and "control or text-direction" in r.output
    assert bad not in r.output


def test_terminal_escapes_in_text_are_refused_and_shown_escaped() -> None:
    """Control characters cannot be saved in a cell by openpyxl, but arrive from Python or
    a scenario: refused, and the message shows them by name."""
    from cipmodel.inputs.records import Trust

    with pytest.raises(ValidationError) as info:
        Trust(trust_code="RXX", name="Example\x1b[2JTrust", trust_type="acute")
    assert "\x1b" not in str(info.value) and "<U+001B>[2J" in str(info.value)


# -- sheet and row hints ----------------------------------------------------------------
@pytest.mark.parametrize("renamed", ["CIP schemes", "C.I.P", "CIP 2017-18", "CPI"])
def test_a_renamed_sheet_gets_rename_it(make: Callable[..., Path], renamed: str) -> None:
    def edit(wb: Any) -> None:
        wb["CIP"].title = renamed

    (problem,) = _problems(make(edit))
    assert problem == f"CIP: sheet 'CIP' is missing: '{renamed}' looks like it: rename it 'CIP'"


def test_a_renamed_optional_sheet_is_a_warning(make: Callable[..., Path]) -> None:
    def edit(wb: Any) -> None:
        wb["Funding"].title = "STF Funding"

    _q, notes = read_plan_with_notes(make(edit))
    (note,) = [n for n in notes if n.place == "Funding"]
    assert note.level == "warning" and "rename it 'Funding'" in note


@pytest.mark.parametrize("label", ["Total", "TOTAL:", "Grand total", "Totals", "Sub-total"])
@pytest.mark.parametrize("column", ["trust_code", "description", None])
def test_a_hand_typed_total_row_is_ignored_with_a_note(
    make: Callable[..., Path], label: str, column: str | None
) -> None:
    def edit(wb: Any) -> None:
        ws = wb["Income"]
        last = ws.max_row + 1
        col = _column(ws, column) if column else ws.max_column + 1
        ws.cell(last, col).value = label
        ws.cell(last, _column(ws, "annual_value")).value = sum(
            i.annual_value for i in EXAMPLE.income
        )

    q, notes = read_plan_with_notes(make(edit))
    assert q == EXAMPLE
    (note,) = [n for n in notes if "is a total of the rows above" in n]
    assert note.place == f"Income!row {len(EXAMPLE.income) + 2}"
    assert not any("below the Excel Table" in n for n in notes)  # it was not read


def test_a_total_row_that_does_not_add_up_is_a_problem(make: Callable[..., Path]) -> None:
    def edit(wb: Any) -> None:
        ws = wb["Income"]
        last = ws.max_row + 1
        ws.cell(last, 1).value = "Total"
        ws.cell(last, _column(ws, "annual_value")).value = 123

    (problem,) = _problems(make(edit))
    assert "is labelled 'Total' but its annual_value 123.00 is not the sum" in problem


def test_a_scheme_named_like_a_total_is_still_a_scheme(make: Callable[..., Path]) -> None:
    def edit(wb: Any) -> None:
        wb["CIP"].cell(
            wb["CIP"].max_row, _column(wb["CIP"], "name")
        ).value = "Total parenteral nutrition"

    q = read_plan(make(edit))
    assert q.cip[-1].name == "Total parenteral nutrition"


# -- plausibility -------------------------------------------------------------------------
def _warnings(path: Path) -> list[Note]:
    from cipmodel.io.plan import load_plan_with_notes

    _p, _prov, notes = load_plan_with_notes(path)
    return [n for n in notes if n.level == "warning"]


def test_the_example_has_no_warnings() -> None:
    assert check_plausibility(EXAMPLE) == []


SLIPS: list[Any] = [
    pytest.param(
        "Income", "annual_value", 350_000_000, "Income!C2", "typed in pounds", id="income-in-pounds"
    ),
    pytest.param(
        "Costs", "annual_value", 246_000_000, "Costs!C2", "typed in pounds", id="costs-in-pounds"
    ),
    pytest.param(
        "CIP", "value_fye", 1_500_000, "CIP!F2", "more than the line", id="scheme-in-pounds"
    ),
    pytest.param(
        "ControlTotal",
        "target_pre_stf",
        -4_000_000,
        "ControlTotal!C2",
        "larger than the trust's operating income",
        id="control-total-in-pounds",
    ),
    pytest.param(
        "Funding", "ae_trajectory_q1", 0.0095, "Funding!D2", "did you mean 95%?", id="ae-as-0.95pc"
    ),
    pytest.param(
        "Drivers", "pay_award", 0.00021, "Drivers!F2", "did you mean 2.1%?", id="rate-100x-small"
    ),
    pytest.param(
        "Trusts",
        "agency_ceiling",
        12_000_000,
        "Trusts!F2",
        "typed in pounds",
        id="ceiling-in-pounds",
    ),
]


@pytest.mark.parametrize(("sheet", "field", "value", "place", "words"), SLIPS)
def test_slips_of_scale_are_warnings_and_strict_refuses_them(
    make: Callable[..., Path], sheet: str, field: str, value: float, place: str, words: str
) -> None:
    def edit(wb: Any) -> None:
        ws = wb[sheet]
        ws.cell(2, _column(ws, field)).value = value
        if sheet == "ControlTotal":  # the monthly plan must still add up to the target
            for m in range(1, 13):
                ws.cell(2, _column(ws, f"m{m:02d}")).value = None

    path = make(edit)
    warnings = _warnings(path)
    assert any(w.place == place and words in w for w in warnings), [w.line() for w in warnings]
    r = invoke("validate", path)
    assert r.exit_code == 0 and f"warning: {place}" in r.stderr and "warning(s) above" in r.stdout
    r = invoke("validate", path, "--strict")
    assert r.exit_code == 2 and place in r.output and "--strict refuses it" in r.output
    assert invoke("run", path, "--strict").exit_code == 2


def test_income_typed_in_millions_is_a_warning(make: Callable[..., Path]) -> None:
    def edit(wb: Any) -> None:
        ws = wb["Income"]
        col = _column(ws, "annual_value")
        for r in range(2, ws.max_row + 1):
            ws.cell(r, col).value = ws.cell(r, col).value / 1000

    (w,) = [w for w in _warnings(make(edit)) if "typed in £m" in w]
    assert w.place == "Income!C2" and "typed in £m" in w


def test_cip_above_a_large_share_of_its_line_is_a_warning(make: Callable[..., Path]) -> None:
    def edit(wb: Any) -> None:
        ws = wb["Costs"]
        row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 2).value == "other_non_pay")
        ws.cell(row, _column(ws, "annual_value")).value = 35_000  # CIP on it is ~£31m

    (w,) = [w for w in _warnings(make(edit)) if "other_non_pay" in w]
    assert "of the line" in w and w.place.startswith("CIP!F")


def test_profile_weights_all_zero_is_an_error(make: Callable[..., Path]) -> None:
    def edit(wb: Any) -> None:
        ws = wb["Profiles"]
        for m in range(1, 13):
            ws.cell(2, _column(ws, f"m{m:02d}")).value = 0

    assert any("weights must not all be 0" in p for p in _problems(make(edit)))


def test_ae_trajectory_typed_as_95_is_an_error_with_a_hint(make: Callable[..., Path]) -> None:
    def edit(wb: Any) -> None:
        wb["Funding"].cell(2, _column(wb["Funding"], "ae_trajectory_q1")).value = 95

    (problem,) = _problems(make(edit))
    assert problem.startswith("Funding!D2") and "enter 95% or 0.95" in problem


def test_a_look_alike_of_a_column_that_is_there_is_only_noted(make: Callable[..., Path]) -> None:
    """'Strat month' beside a real start_month column is a column of the user's own: read,
    with a note saying what it looks like."""

    def edit(wb: Any) -> None:
        wb["CIP"]["M1"] = "Strat month"

    q, notes = read_plan_with_notes(make(edit))
    assert q == EXAMPLE
    (note,) = [n for n in notes if n.place == "CIP!M1"]
    assert "looks like 'start_month', read from its own column" in note


@pytest.mark.parametrize("twin", ["c01", "C 01", " c01"])
def test_scheme_ids_differing_only_by_case_or_spaces_are_an_error(
    make: Callable[..., Path], twin: str
) -> None:
    first = EXAMPLE.cip[0].scheme_id

    def edit(wb: Any) -> None:
        wb["CIP"]["B3"] = twin.replace("c01", first.lower()).replace(
            "C 01", first[0] + " " + first[1:]
        )

    problems = _problems(make(edit))
    assert any(
        p.startswith("CIP!B3") and "CIP!B2" in p and "only by case or spaces" in p for p in problems
    ), problems


# -- notes and intake options on every command that reads a plan ---------------------------
def _extra_column(wb: Any) -> None:
    wb["CIP"]["M1"] = "Owner (SRO)"


EXTRA_NOTE = "note: CIP!M1: column 'Owner (SRO)' on CIP ignored: not a CIP column"


def _income_in_pounds(wb: Any) -> None:
    ws = wb["Income"]
    ws.cell(2, _column(ws, "annual_value")).value = 350_000_000


SIM = ("-n", "64", "--seed", "7")


def test_simulate_shows_the_notes_and_lists_them(make: Callable[..., Path], tmp_path: Path) -> None:
    path = make(_extra_column)
    out = tmp_path / "sim.xlsx"
    r = invoke("simulate", path, *SIM, "-o", out)
    assert r.exit_code == 0, r.output
    assert EXTRA_NOTE in r.stderr and "note:" not in r.stdout
    rows = list(openpyxl.load_workbook(out, read_only=True)["Input notes"].values)
    assert ("note", "CIP!M1", "column 'Owner (SRO)' on CIP ignored: not a CIP column") in rows
    r = invoke("simulate", path, *SIM, "--json")
    d = json.loads(r.stdout)
    assert "note:" not in r.stderr  # with --json the notes are in the JSON, not on stderr
    assert [w["place"] for w in d["warnings"]] == ["CIP!M1", "Financing"]
    assert d["trusts"] and d["provenance"]["draws"] == 64  # still the simulate JSON


def test_solve_probability_shows_the_notes(make: Callable[..., Path]) -> None:
    path = make(_extra_column)
    d = json.loads(invoke("solve", path, "--json").stdout)  # the deterministic solve too
    assert "CIP!M1" in [w["place"] for w in d["warnings"]] and d["trusts"]
    r = invoke("solve", path, "--probability", "0.5", *SIM)
    assert r.exit_code == 0 and EXTRA_NOTE in r.stderr
    d = json.loads(invoke("solve", path, "--probability", "0.5", *SIM, "--json").stdout)
    assert "CIP!M1" in [w["place"] for w in d["warnings"]] and d["trusts"]


def test_portfolio_of_a_plan_shows_the_notes(make: Callable[..., Path], tmp_path: Path) -> None:
    path = make(_extra_column)
    out = tmp_path / "sector.xlsx"
    r = invoke("portfolio", path, "-o", out)
    assert r.exit_code == 0, r.output
    assert EXTRA_NOTE in r.stderr and "note:" not in r.stdout
    sheets = openpyxl.load_workbook(out, read_only=True).sheetnames
    assert "Input notes" in sheets and "Sector finance" in sheets
    d = json.loads(invoke("portfolio", path, "--json").stdout)
    assert [w["place"] for w in d["warnings"]] == ["CIP!M1", "Financing"] and d["tables"]
    # a bundled portfolio has no plan of the user's: nothing to note
    assert json.loads(invoke("portfolio", "--example", "small", "--json").stdout)["warnings"] == []


def test_report_shows_the_notes(make: Callable[..., Path], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "board.pdf"
    r = invoke("report", make(_extra_column), "-o", out)
    assert r.exit_code == 0 and EXTRA_NOTE in r.stderr and out.exists()


STRICT = [
    pytest.param(("validate",), id="validate"),
    pytest.param(("run",), id="run"),
    pytest.param(("solve",), id="solve"),
    pytest.param(("solve", "--probability", "0.5", *SIM), id="solve-probability"),
    pytest.param(("simulate", *SIM), id="simulate"),
    pytest.param(("portfolio",), id="portfolio"),
    pytest.param(("report", "-o", "{out}"), id="report"),
]


@pytest.mark.parametrize("command", STRICT)
def test_strict_refuses_a_plan_with_a_warning_on_every_command(
    make: Callable[..., Path], tmp_path: Path, command: tuple[str, ...]
) -> None:
    path = make(_income_in_pounds)
    out = tmp_path / "board.pdf"
    name, *rest = (a.format(out=out) for a in command)
    r = invoke(name, path, *rest, "--strict")
    assert r.exit_code == 2, r.output
    assert "Income!C2" in r.output and "--strict refuses it" in r.output
    assert "Traceback" not in r.output and not out.exists()
    # without --strict the same plan is read, with the warning shown
    if name in ("validate", "solve"):
        r = invoke(name, path, *rest)
        assert r.exit_code == 0 and "warning: Income!C2" in r.stderr


@pytest.mark.parametrize("command", ["simulate", "portfolio"])
def test_allow_extra_column_keeps_a_near_miss_on_simulate_and_portfolio(
    make: Callable[..., Path], command: str
) -> None:
    path = make(_set_header("CIP", "start_month", "Strat month"))
    extra = SIM if command == "simulate" else ()
    r = invoke(command, path, *extra, "--json")
    assert r.exit_code == 2 and "did you mean 'start_month'?" in r.output
    r = invoke(command, path, *extra, "--json", "--allow-extra-column", "Strat month")
    assert r.exit_code == 0, r.output
    assert "CIP!" in " ".join(w["place"] for w in json.loads(r.stdout)["warnings"])


# -- rows and columns hidden in the workbook ------------------------------------------------
def test_hidden_rows_and_columns_are_read_with_a_note(make: Callable[..., Path]) -> None:
    def edit(wb: Any) -> None:
        ws = wb["CIP"]
        for r in (3, 4, 5, 8):
            ws.row_dimensions[r].hidden = True
        ws.row_dimensions[ws.max_row + 5].hidden = True  # hidden but empty: nothing read
        ws.column_dimensions[get_column_letter(_column(ws, "value_fye"))].hidden = True
        ws.column_dimensions["Z"].hidden = True  # hidden but holds no field
        wb["Income"].row_dimensions[2].hidden = True

    q, notes = read_plan_with_notes(make(edit))
    assert q == EXAMPLE  # read as before: hidden rows and columns count
    by_place = {n.place: n for n in notes}
    value_fye = "F"  # the template's value_fye column (as in SLIPS above)
    rows = by_place["CIP!rows 3-5, 8"]
    assert rows.level == "note"
    assert rows == (
        "CIP: rows 3-5, 8 (4 rows) are hidden in the workbook and read as inputs; "
        "unhide to see what is counted"
    )
    col = by_place[f"CIP!column {value_fye}"]
    assert f"column {value_fye} (value_fye) is hidden in the workbook" in col
    assert "Income: row 2 is hidden" in by_place["Income!row 2"]
    assert not [
        n
        for n in notes
        if "hidden" in n
        and n.place not in ("CIP!rows 3-5, 8", f"CIP!column {value_fye}", "Income!row 2")
    ]


def test_validate_and_run_print_the_hidden_rows_note(
    make: Callable[..., Path], tmp_path: Path
) -> None:
    def edit(wb: Any) -> None:
        for r in (12, 13, 14):
            wb["CIP"].row_dimensions[r].hidden = True

    path = make(edit)
    r = invoke("validate", path)
    assert r.exit_code == 0
    assert "note: CIP!rows 12-14: CIP: rows 12-14 (3 rows) are hidden in the workbook" in r.stderr
    d = json.loads(invoke("run", path, "--json").stdout)
    assert "CIP!rows 12-14" in [w["place"] for w in d["warnings"]]
    assert invoke("validate", path, "--strict").exit_code == 0  # a note, not a warning


def _sheet_xml(rows: str, cols: str = "") -> bytes:
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    return f'<worksheet xmlns="{ns}">{cols}<sheetData>{rows}</sheetData></worksheet>'.encode()


def _hidden_of(xml: bytes) -> Any:
    handler = SheetHandler([], set(), set(), dt.datetime(1899, 12, 30))
    with contextlib.suppress(SheetEnd):
        parse_part(io.BytesIO(xml), handler)
    return handler.hidden


@given(st.sets(st.integers(1, 5_000), max_size=300), st.sampled_from(["1", "true", " 1 "]))
def test_hidden_rows_are_kept_as_ranges(hidden: set[int], flag: str) -> None:
    rows = "".join(
        f'<row r="{r}"{f" hidden={flag!r}" if r in hidden else ""}><c r="A{r}"><v>1</v></c></row>'
        for r in range(1, 5_001, 1)
        if r in hidden or r % 7 == 0
    )
    h = _hidden_of(_sheet_xml(rows))
    # one range per run of consecutive hidden rows (memory bounded by runs, not rows)
    runs = sum(1 for r in hidden if r - 1 not in hidden)
    assert len(h.rows) == runs
    assert h.rows_among(list(range(1, 5_001))) == sorted(hidden)


def _row(r: int | None, hidden: str | None = None) -> str:
    ref = f' r="{r}"' if r is not None else ""
    flag = f' hidden="{hidden}"' if hidden is not None else ""
    return f"<row{ref}{flag}><c><v>1</v></c></row>"


def test_hidden_flags_that_are_off_or_damaged_hide_nothing() -> None:
    cols = (
        '<cols><col min="2" max="4" hidden="1"/><col min="9" max="9" hidden="0"/>'
        '<col min="x" max="3" hidden="1"/><col min="7" max="5" hidden="1"/>'
        f'<col min="{"9" * 5000}" max="1" hidden="1"/><col min="3" max="6" hidden="true"/></cols>'
    )
    rows = _row(2, "0") + _row(3, "false") + _row(4, "1") + _row(None)
    h = _hidden_of(_sheet_xml(rows, cols))
    assert h.rows_among([1, 2, 3, 4, 5]) == [4]  # <row> without r is row 5, not hidden
    assert h.cols_among(list(range(1, 12))) == [2, 3, 4, 5, 6]


def test_hidden_rows_in_any_order_are_found() -> None:
    h = _hidden_of(_sheet_xml(_row(9, "1") + _row(3, "1") + _row(4, "1")))
    assert h.rows_among(list(range(1, 12))) == [3, 4, 9]


def test_hidden_rows_and_columns_take_bounded_memory() -> None:
    """Empty hidden rows are not kept (only rows holding a value, already kept as cells);
    hidden columns in any order merge to at most 8,192 ranges (half of 16,384 columns)."""
    empty = "".join(f'<row r="{r}" hidden="1"/>' for r in range(1, 200_000, 2))
    cols = "".join(
        f'<col min="{c}" max="{c}" hidden="1"/>' for _ in range(4) for c in range(1, 16_385, 2)
    )
    h = _hidden_of(_sheet_xml(empty + _row(200_001, "1"), f"<cols>{cols}</cols>"))
    assert h.rows == [(200_001, 200_001)]
    assert len(h.cols) <= 2 * 16_384 + 1
    assert h.cols_among([1, 2, 3, 16_383, 16_384]) == [1, 3, 16_383]
