"""Fuzz case generators: random plans, workbooks, mutations and scenario files.

Every generator takes ``r``, an object with the ``random.Random`` methods ``random``,
``randint``, ``choice`` and ``shuffle``: a seeded ``random.Random`` for the fixed-seed and
long runs, or the ``HypothesisRandom`` of ``hypothesis.strategies.randoms()`` in the
property tests (which then shrinks a failing case). Nothing here touches the disk.

:func:`make_case` returns a :class:`Case`: the files to write, the file the tool is given,
how it is called (Python API or CLI command) and what outcome is acceptable:

``expect="ok"``
    a clean plan (only harmless variations: header case and order, shared or inline
    strings, cached formulas, Excel Table or not, hidden sheets...): it must read, and read
    as the plan generated.
``expect="legal"``
    a well-formed workbook with hostile *content* (wrong types, deleted sheets and
    headers, huge numbers, dates, unicode, merged cells...): it must read or give a
    ValidationError / a limit refusal, never "damaged" (which would mean the reader
    tripped over a valid file).
``expect="any"``
    a broken file (truncated, bit-flipped, invalid XML, illegal values): any located
    error is fine; only an unhandled exception (or a traceback, a NaN) fails.
"""

from __future__ import annotations

import math
import re
import struct
import zipfile
from dataclasses import dataclass, field
from typing import Any

from openpyxl.utils import get_column_letter

from cipmodel.inputs.schema import Field, load_schema

from .xlsx import STYLE, Cell, Sheet, XlTable, build, read_parts, zip_parts

SCHEMA = load_schema()
TABLES = {t.name: t for t in SCHEMA.tables}
OPTIONAL = ("funding", "financing", "drivers", "profiles")


@dataclass
class Case:
    """One fuzz case: files, the target, the route and the acceptable outcomes."""

    family: str
    files: dict[str, bytes]
    target: str
    route: str = "api"  # api | validate | validate-json | run | run-json | run-out
    expect: str = "any"  # ok | legal | any | refused (a misspelt header: never read)
    run: bool = False  # after a successful read, also run the plan and check its JSON
    expected: Any = None  # for expect="ok": the tables the plan must read as
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return f"{self.family} [{self.route}, expect {self.expect}] " + "; ".join(self.notes)


# =========================================================================================
# Random values
# =========================================================================================
NICE_TEXT = [
    "Example Acute NHS Trust",
    "Agency cap",
    "Théâtre productivité",
    "Ward 7 – rostering",
    "病院",
    "مستشفى",
    "שלום",
    "💷 savings 🏥",
    "e\u0301cole",
    "zero\u200bwidth",
    "\u00a0nbsp",
    '=HYPERLINK("http://x","y")',
    "@SUM(A1)",
    "+1",
    "-1",
    "=1+1",
    "'quoted",
    "a\tb",
    "<b>&amp;</b>",
    '"quotes"',
    "x" * 200,
    "Ω≈ç√∫",
    "\ufeffBOM",
    "1e5",
    "0012",
]
HOSTILE_TEXT = [
    "",
    "   ",
    "\t",
    "line\nbreak",
    "carriage\rreturn",
    "_x0007_bell",
    "_x001B_[31m",
    "a" * 201,
    "b" * 5000,
    "c" * 32767,
    "\u2028sep",
    "\u202etxet",
    "\U0001f4a9" * 50,
    "null\u0000byte",
    "bell\u0007",
    "esc\u001b[2J",
    "\ufffe",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    "1e999",
    "−5",
    "１２",
    "١٢",
    "0x10",
    "1_000",
    "1,234.5",
    "£5",
    "5%",
    " 7 ",
    "1e5",
    "TRUE",
    "Y",
    "yes",
    "maybe",
    "Non-pay",
    "NON PAY",
    "pay ",
    "#DIV/0!",
    "=A1",
    "@x",
    "#N/A",
    "2017/18",
    "2017-18",
    "20017/18",
    "RXX",
    "flat",
    "None",
    "null",
    "[]",
    "{}",
    "\\",
    "%",
    "£",
    "-",
    "+",
    ".",
    "e",
]
NUMBERS_NICE = [0, 0.0, 1, 2, 12, 12.5, 100, 250.0, 1234.5678, 12000.0, 250000.0, 1e6]
NUMBERS_EDGE = [
    -0.0,
    5e-324,
    2.2250738585072014e-308,
    1e-9,
    0.1 + 0.2,
    0.5,
    0.999999,
    1.0000001,
    11,
    13,
    99,
    100.5,
    1e9,
    1e12,
    1e15,
    9007199254740993,
    2**53,
    1e18,
    1e100,
    1e300,
    1.7976931348623157e308,
    -1,
    -0.5,
    -1e6,
    -1e300,
    -1.7976931348623157e308,
    2**63,
    10**20,
    -(2**31),
    1048576,
    16384,
    32767,
]
ERRORS = [
    "#DIV/0!",
    "#N/A",
    "#REF!",
    "#VALUE!",
    "#NAME?",
    "#NUM!",
    "#NULL!",
    "#GETTING_DATA",
    "#FOO",
]
RAW_V = [
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "1e999",
    "-1e999",
    "abc",
    "9" * 400,
    "9" * 5000,
    "0x1F",
    "",
    " ",
    "1 2",
    "1.2.3",
    "--1",
    "1e",
    "e1",
    "1_0",
    "١٢",
    "+5",
    ".5",
    "5.",
    "-0",
    "1E+308",
    "4.9E-324",
    "1e-400",
]
ISO_DATES = ["2017-04-01T00:00:00", "2017-04-01", "1900-01-01T00:00:00", "9999-12-31T23:59:59"]
BAD_ISO_DATES = ["2017-13-45", "yesterday", "", "2017-02-30T25:61:00", "-0001-01-01"]


def pick(r: Any, seq: list[Any]) -> Any:
    return seq[r.randint(0, len(seq) - 1)]


def chance(r: Any, p: float) -> bool:
    return r.random() < p


def random_text(r: Any, hostile: bool = False) -> str:
    pool = HOSTILE_TEXT if hostile else NICE_TEXT
    text = pick(r, pool)
    if chance(r, 0.2):
        # a short random string from a wide range of code points (no surrogates)
        n = r.randint(1, 12)
        chars = []
        for _ in range(n):
            ranges = [
                (0x20, 0x7E),
                (0xA0, 0x2FF),
                (0x370, 0x3FF),
                (0x4E00, 0x4E50),
                (0x1F300, 0x1F64F),
                (0xFFF0, 0xFFFD),
            ]
            lo, hi = pick(r, [*ranges, (0x0, 0x1F)] if hostile else ranges)
            chars.append(chr(r.randint(lo, hi)))
        text = "".join(chars)
        if not hostile and not text.strip():
            text = "x" + text  # a required name may not be blank
    return text


def number(r: Any, nice: bool = True) -> float | int:
    return pick(r, NUMBERS_NICE if nice or chance(r, 0.5) else NUMBERS_EDGE)


# =========================================================================================
# Random plans
# =========================================================================================
def _code(r: Any, i: int) -> str:
    return (
        pick(r, ["RXX", "RA1", "R0A", "TRUST", "RÅ1", "r x", "A" * 12, "=R1", "@R2"])
        + (str(i) if i else "")[:12]
    )


def random_plan(r: Any) -> dict[str, list[dict[str, Any]]]:
    """Rows of a valid plan: table name -> list of {column name: value} (None = blank)."""
    plan: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}
    n_trusts = pick(r, [1, 1, 1, 2, 3])
    codes: list[str] = []
    while len(codes) < n_trusts:
        c = _code(r, len(codes))[:12]
        if c not in codes:
            codes.append(c)
    year = pick(r, ["2017/18", "2017/18", "2018/19", None])
    magnitude = pick(r, [1.0, 1.0, 1.0, 0.0, 1e-6, 1e3, 1e6])  # all money scaled
    for code in codes:
        horizon = pick(r, [None, 1, 1, 2, 3, 5])
        h = horizon or 1
        plan["trusts"].append(
            {
                "trust_code": code,
                "name": random_text(r),
                "trust_type": pick(r, list(TABLES["trusts"].field("trust_type").values)),
                "financial_year": year,
                "horizon_years": horizon,
                "agency_ceiling": pick(r, [None, 0.0, 5000.0, 12000.0, number(r)]),
                "financial_special_measures": pick(r, [None, True, False]),
            }
        )
        profiles: list[str] = []
        if chance(r, 0.3):
            for k in range(r.randint(1, 2)):
                name = pick(r, ["winter", "working_days", "Flat-ish", "p" + str(k), "季节"]) + str(
                    k
                )
                profiles.append(name)
                weights = [float(pick(r, [0, 1, 1, 1.1, 2, 20, 0.001])) for _ in range(12)]
                if sum(weights) <= 0:
                    weights[0] = 1.0
                row = {"trust_code": code, "profile": name}
                row.update({f"m{m:02d}": w for m, w in enumerate(weights, 1)})
                plan["profiles"].append(row)
        plan["trusts"][-1]["agency_ceiling_profile"] = pick(r, [None, None, "flat", *profiles])
        for table, lines in (
            ("income", TABLES["income"].field("line").values),
            ("costs", TABLES["costs"].field("line").values),
        ):
            for _ in range(r.randint(0, 5 if table == "income" else 7)):
                plan[table].append(
                    {
                        "trust_code": code,
                        "line": pick(r, list(lines)),
                        "annual_value": float(number(r)) * magnitude * pick(r, [1, 10, 100]),
                        "profile": pick(r, [None, "flat", *profiles]),
                        "description": pick(r, [None, random_text(r)]),
                    }
                )
        for k in range(r.randint(0, 6)):
            category = pick(r, ["pay", "non_pay", "income"])
            kinds = SCHEMA.cip_categories[category]["kinds"]
            lines = [None, *SCHEMA.lines_of_kind(*kinds)]
            plan["cip"].append(
                {
                    "trust_code": code,
                    "scheme_id": pick(r, ["S", "P", "N-", "Ü", "=S"]) + str(k),
                    "name": random_text(r),
                    "category": category,
                    "target_line": pick(r, lines),
                    "value_fye": float(number(r)) * magnitude,
                    "start_year": pick(r, [None, *range(1, h + 1)]),
                    "start_month": pick(r, [None, 1, 4, 12]),
                    "ramp_months": pick(r, [None, 0, 3, 12]),
                    "recurrent": pick(r, [None, True, False]),
                    "stage": pick(r, [None, *TABLES["cip"].field("stage").values]),
                    "rag": pick(r, [None, *TABLES["cip"].field("rag").values]),
                }
            )
        for y in range(1, h + 1):
            if y > 1 and chance(r, 0.5):
                continue
            target = float(pick(r, [0.0, -1200.0, 500.0, -4000.0, 1e6, -1e6])) * magnitude
            row = {
                "trust_code": code,
                "year": y if (y > 1 or chance(r, 0.7)) else None,
                "target_pre_stf": target,
                "accepted": pick(r, [None, True, False]),
            }
            if chance(r, 0.3):
                row.update({f"m{m:02d}": target / 12 for m in range(1, 13)})
            plan["control_total"].append(row)
        if chance(r, 0.5):
            applies = pick(r, [None, True, False])
            row = {
                "trust_code": code,
                "allocation": pick(r, [None, 0.0, 4000.0, number(r)]),
                "ae_applies": applies,
            }
            if applies or chance(r, 0.3):
                for q in range(1, 5):
                    row[f"ae_trajectory_q{q}"] = pick(r, [0.0, 0.9, 0.95, 1.0])
                    row[f"ae_forecast_q{q}"] = pick(r, [0.0, 0.88, 0.95, 1.0])
            plan["funding"].append(row)
        if chance(r, 0.5):
            fin = {"trust_code": code}
            for f in TABLES["financing"].fields[1:]:
                fin[f.name] = pick(r, [None, 0.0, 3000.0, float(number(r)) * magnitude])
            if chance(r, 0.5):
                fin["opening_working_capital"] = -2500.0
            # a PFI split is both elements or neither, within the trust's unitary charge
            unitary = sum(
                c["annual_value"]
                for c in plan["costs"]
                if c["trust_code"] == code and c["line"] == "pfi_unitary"
            )
            fin["pfi_interest"] = fin["pfi_capital"] = None
            if unitary > 0 and chance(r, 0.5):
                fin["pfi_interest"] = unitary * pick(r, [0.0, 0.25, 0.5])
                fin["pfi_capital"] = unitary * pick(r, [0.0, 0.2, 0.5])
            plan["financing"].append(fin)
        for y in range(1, h + 1):
            if chance(r, 0.4):
                d = {"trust_code": code, "year": y}
                for f in TABLES["drivers"].fields[2:]:
                    d[f.name] = pick(r, [None, 0.0, f.min or 0.0, f.max or 0.0, 0.021])
                plan["drivers"].append(d)
    return plan


def expected_tables(plan: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """The plan as keyword arguments for Portfolio (repeated columns as tuples)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, rows in plan.items():
        table = TABLES[name]
        recs = []
        for row in rows:
            rec: dict[str, Any] = {}
            for attr in table.attributes:
                cols = table.group(attr)
                if len(cols) == 1 and cols[0].group is None:
                    if row.get(attr) is not None:
                        rec[attr] = row[attr]
                else:
                    vals = tuple(row.get(c.name) for c in cols)
                    if any(v is not None for v in vals):
                        rec[attr] = vals
            recs.append(rec)
        out[name] = recs
    return out


# =========================================================================================
# Plan -> sheets (clean variations)
# =========================================================================================
def _encode(r: Any, value: Any, fld: Field, style: dict[str, Any]) -> Cell | None:
    """A cell holding ``value`` the way some spreadsheet application could save it."""
    if value is None:
        return None
    if isinstance(value, bool):
        how = pick(r, ["yn", "yn", "b", "num", "word"])
        if how == "b":
            return Cell(value, "b")
        if how == "num":
            return Cell(1 if value else 0)
        text = ("Y" if value else "N") if how == "yn" else ("Yes" if value else "no")
        return _text_cell(r, text, style)
    if isinstance(value, (int, float)):
        if chance(r, 0.06) and fld.type in ("int", "float") and math.isfinite(value):
            return Cell(value, formula=f"{value!r}*1")  # a formula with its saved value
        if (
            chance(r, 0.04)
            and isinstance(value, float)
            and value.is_integer()
            and abs(value) < 1e15
        ):
            return _text_cell(r, str(int(value)), style)  # a number typed as text
        return Cell(value, style=pick(r, [None, None, STYLE["general"], STYLE["text"]]))
    text = str(value)
    if fld.type == "enum" and chance(r, 0.2):
        text = pick(
            r, [text.upper(), text.replace("_", " ").title(), f"  {text} ", text.replace("_", "-")]
        )
    if chance(r, 0.03) and text:
        return Cell(text, "str", formula='"' + text.replace('"', '""')[:200] + '"')
    return _text_cell(r, text, style)


def _text_cell(r: Any, text: str, style: dict[str, Any]) -> Cell:
    if style["strings"] == "inline" or (style["strings"] == "mixed" and chance(r, 0.5)):
        return Cell(text, "inlineStr")
    return Cell(text, "s")


def _header_text(r: Any, fld: Field, vary: bool) -> str:
    text = fld.header
    if not vary:
        return text
    how = pick(r, ["same", "same", "upper", "name", "spaces", "title", "unit-alias", "punct"])
    if how == "upper":
        return text.upper()
    if how == "punct":  # 'start-month', 'start.month', 'StartMonth': the same field
        name = fld.name.replace("_", pick(r, ["-", ".", "", "/"]))
        return pick(r, [name, name.title(), name.upper()])
    if how == "name":
        return fld.name
    if how == "spaces":
        return "  " + fld.name.replace("_", " ") + (f" ({fld.unit})" if fld.unit else "") + " "
    if how == "title":
        return fld.name.replace("_", " ").title()
    if how == "unit-alias" and fld.unit == "£000":
        return f"{fld.name} ({pick(r, ['£k', 'GBP000', '£000s', '£ 000'])})"
    if how == "unit-alias" and fld.unit == "%":
        return f"{fld.name} [{pick(r, ['percent', 'pct', '%'])}]"
    return text


def plan_sheets(r: Any, plan: dict[str, list[dict[str, Any]]], vary: bool) -> list[Sheet]:
    """One sheet per table, with harmless layout variations if ``vary``."""
    style = {"strings": pick(r, ["shared", "inline", "mixed"]) if vary else "shared"}
    sheets: list[Sheet] = []
    for name, table in TABLES.items():
        rows = plan[name]
        if name in OPTIONAL and not rows and vary and chance(r, 0.4):
            continue  # optional sheet left out
        title = table.sheet
        if vary and chance(r, 0.2):
            title = pick(
                r,
                [
                    title.upper(),
                    title.lower(),
                    f" {title} ",
                    re.sub(r"(?<!^)([A-Z])", r" \1", title),
                ],
            )
        sheet = Sheet(title)
        fields = list(table.fields)
        order = list(range(len(fields)))
        if vary and chance(r, 0.3):
            r.shuffle(order)
        col_of = {fields[k].name: j for j, k in enumerate(order, start=1)}
        top = 1
        use_table = chance(r, 0.5) if vary else True
        if vary and not use_table and chance(r, 0.3):
            top = r.randint(2, 6)  # a title and blank rows above the header
            sheet.set(1, 1, _text_cell(r, f"{title} for 2017/18 — draft", style))
        for f in fields:
            sheet.set(top, col_of[f.name], _text_cell(r, _header_text(r, f, vary), style))
        if vary and chance(r, 0.2):
            extra = len(fields) + 1 + r.randint(0, 3)
            sheet.set(top, extra, _text_cell(r, "my notes", style))
        row_no = top
        for rec in rows:
            row_no += 1
            if vary and chance(r, 0.1):
                row_no += r.randint(1, 3)  # blank rows between records
            for f in fields:
                cell = _encode(r, rec.get(f.name), f, style)
                if cell is not None:
                    sheet.set(row_no, col_of[f.name], cell)
        last = max(row_no, top + 1)
        if use_table:
            ref = f"A{top}:{get_column_letter(len(fields))}{last}"
            if vary and chance(r, 0.2) and last > top + 2:
                ref = f"A{top}:{get_column_letter(len(fields))}{last - 1}"  # not extended
            sheet.tables.append(
                XlTable(ref, "tbl" + re.sub(r"\W", "", table.sheet), [f.header for f in fields])
            )
        if vary:
            sheet.dimension = pick(r, [None, f"A1:{get_column_letter(len(fields))}{last}", "A1"])
            sheet.state = pick(r, ["visible"] * 8 + ["hidden", "veryHidden"])
            sheet.prefix = pick(r, [""] * 9 + ["x:"])
        sheets.append(sheet)
    if vary and chance(r, 0.3):
        sheets.insert(
            r.randint(0, len(sheets)), Sheet("README", {1: {1: _text_cell(r, "notes", style)}})
        )
    if vary and chance(r, 0.15):
        notes = Sheet(pick(r, ["Notes", "Sheet1", "Σ", "CIP (old)", "x" * 31]))
        notes.set(1, 1, _text_cell(r, "value_fye (£000)", style))
        sheets.append(notes)
    if vary and chance(r, 0.2):
        r.shuffle(sheets)
    return sheets


def _workbook(r: Any, sheets: list[Sheet], **kw: Any) -> bytes:
    strings = any(c.t == "s" for s in sheets for row in s.rows.values() for c in row.values())
    return build(sheets, shared_strings=strings or chance(r, 0.5), **kw)


# =========================================================================================
# Hostile cell values and sheet mutations (well-formed XML)
# =========================================================================================
def hostile_cell(r: Any) -> tuple[Cell, str, bool]:
    """A hostile cell: (cell, label, legal OOXML?)."""
    kind = pick(
        r,
        [
            "number",
            "number",
            "text",
            "text",
            "numtext",
            "date",
            "iso",
            "duration",
            "bool",
            "error",
            "nocache",
            "cached",
            "long",
            "rich",
            "raw",
            "badtype",
            "badiso",
            "badshared",
            "blank-styled",
        ],
    )
    if kind == "number":
        v = pick(r, NUMBERS_EDGE)
        return Cell(v), f"number {v!r}", True
    if kind == "text":
        t = random_text(r, hostile=True)
        return Cell(t, pick(r, ["s", "inlineStr", "str"])), f"text {t[:20]!r}", True
    if kind == "numtext":
        t = pick(r, HOSTILE_TEXT[17:40])
        return Cell(t, "s"), f"text {t[:20]!r}", True
    if kind == "date":
        v = pick(r, [42826, 0, 1, 60, 2958465, 2958466, 1e10, -1, 0.5, 42826.75])
        return (
            Cell(v, style=pick(r, [STYLE["date"], STYLE["datetime"], STYLE["custom_date"]])),
            f"date serial {v}",
            True,
        )
    if kind == "iso":
        v = pick(r, ISO_DATES)
        return Cell(v, "d"), f"ISO date {v}", True
    if kind == "duration":
        v = pick(r, [0.5, 1.25, 1e6, -1])
        return Cell(v, style=STYLE["duration"]), f"duration {v}", True
    if kind == "bool":
        v = chance(r, 0.5)
        return Cell(v, "b"), f"boolean {v}", True
    if kind == "error":
        e = pick(r, ERRORS)
        return Cell(e, "e", formula=pick(r, [None, "1/0"])), f"error {e}", True
    if kind == "nocache":
        f = pick(r, ["1+1", "SUM(A1:A3)", "[1]Sheet1!A1", 'HYPERLINK("http://x","y")', "A1" * 100])
        return Cell(None, formula=f), f"formula without value {f[:20]}", True
    if kind == "cached":
        f = pick(r, ["1+1", "'C:\\x\\[ext.xlsx]S'!A1", "NOW()"])
        v = pick(r, [2, "text", 0.0, 1e308])
        return (
            Cell(v, "str" if isinstance(v, str) else None, formula=f),
            f"formula {f[:20]} = {v!r}",
            True,
        )
    if kind == "long":
        n = pick(r, [201, 501, 32767, 100_000])
        return Cell("L" * n, pick(r, ["s", "inlineStr"])), f"text of {n} characters", True
    if kind == "rich":
        # rich text: runs and phonetic text inside an inline string (read as the runs)
        xml = '<is><r><t>val</t></r><r><rPr><b/></rPr><t>ue</t></r><rPh sb="0" eb="1"><t>ph</t></rPh></is>'
        return Cell(xml, "inlineStr", raw=True), "rich text", True
    if kind == "raw":
        v = pick(r, RAW_V)
        return Cell(v, None, raw=True), f"<v>{v[:20]}</v>", False
    if kind == "badtype":
        t = pick(r, ["z", "", "n ", "S", "inlinestr", "e"])
        return Cell("1", t, raw=True), f"cell type {t!r}", t in ("e",)
    if kind == "badiso":
        v = pick(r, BAD_ISO_DATES)
        return Cell(v, "d"), f"bad ISO date {v!r}", False
    if kind == "badshared":
        v = pick(r, ["999999", "-1", "x", ""])
        return Cell(v, "s", raw=True), f"shared string index {v!r}", False
    return Cell(None, style=STYLE["date"]), "styled blank cell", True


def _input_sheets(sheets: list[Sheet]) -> list[Sheet]:
    keys = {re.sub(r"[\s_\-]+", "", t.sheet.casefold()) for t in TABLES.values()}
    return [
        s for s in sheets if re.sub(r"[\s_\-]+", "", s.title.strip().casefold()) in keys
    ] or sheets


def _header_row(sheet: Sheet) -> int:
    return min(sheet.rows) if sheet.rows else 1


def mutate_sheets(r: Any, sheets: list[Sheet]) -> tuple[list[str], bool]:
    """Apply one random content or structure mutation in place: (labels, still legal?)."""
    what = pick(
        r,
        [
            "cell",
            "cell",
            "cell",
            "cell",
            "blank",
            "drop-sheet",
            "rename-sheet",
            "dup-sheet",
            "hide",
            "header",
            "header",
            "move-header",
            "merge",
            "table",
            "dimension",
            "refs",
            "far-row",
            "extra-sheet",
            "empty-sheet",
            "many-cols",
            "dup-row",
            "bad-ref",
            "drop-strings",
        ],
    )
    if not sheets:
        sheets.append(Sheet("CIP"))
    target = pick(r, _input_sheets(sheets))
    hr = _header_row(target)
    if what == "cell":
        cell, label, legal = hostile_cell(r)
        rows = [k for k in target.rows if k > hr] or [hr + 1]
        row = pick(r, rows)
        col = r.randint(1, max(len(target.rows.get(hr, {})), 1))
        target.set(row, col, cell)
        return [f"{target.title}!{get_column_letter(col)}{row}: {label}"], legal
    if what == "blank":
        rows = [k for k in target.rows if k > hr]
        if rows:
            row = pick(r, rows)
            cols = list(target.rows[row])
            if cols:
                col = pick(r, cols)
                del target.rows[row][col]
                return [f"{target.title}!{get_column_letter(col)}{row} blanked"], True
        return ["nothing to blank"], True
    if what == "drop-sheet":
        sheets.remove(target)
        return [f"sheet {target.title} deleted"], True
    if what == "rename-sheet":
        old = target.title
        target.title = (
            pick(r, [random_text(r), old + "2", old[:-1], old.upper() + "_", "Sheet1"])[:31] or "S"
        )
        return [f"sheet {old} renamed {target.title!r}"], True
    if what == "dup-sheet":
        twin = Sheet(
            pick(r, [target.title.lower(), f" {target.title}_", target.title.upper()]),
            {k: dict(v) for k, v in target.rows.items()},
        )
        sheets.append(twin)
        return [f"sheet {target.title} duplicated as {twin.title!r}"], True
    if what == "hide":
        target.state = pick(r, ["hidden", "veryHidden", "weird"])
        return [f"sheet {target.title} state {target.state}"], target.state != "weird"
    if what == "header":
        row = target.rows.setdefault(hr, {})
        if not row:
            return ["no header"], True
        col = pick(r, list(row))
        how = pick(r, ["delete", "rename", "dup", "unit", "number", "formula", "date"])
        if how == "delete":
            del row[col]
        elif how == "rename":
            row[col] = Cell(random_text(r, hostile=chance(r, 0.5)), "s")
        elif how == "dup":
            row[max(row) + 1] = row[col]
        elif how == "unit":
            base = str(row[col].value).split("(")[0].strip()
            row[col] = Cell(
                f"{base} ({pick(r, ['£m', '£', 'pence', '%', 'days', '', '£000', 'fraction'])})",
                "s",
            )
        elif how == "number":
            row[col] = Cell(pick(r, [0, 1e308, -1]))
        elif how == "formula":
            row[col] = Cell(row[col].value, "str", formula='"x"')
        else:
            row[col] = Cell(42826, style=STYLE["date"])
        return [f"{target.title} header {get_column_letter(col)}: {how}"], True
    if what == "move-header":
        shift = pick(r, [1, 5, 19, 20, 25])
        target.rows = {k + shift: v for k, v in target.rows.items()}
        for t in target.tables:
            t.ref = "A1:B2"
        target.tables = [] if chance(r, 0.5) else target.tables
        # a far row (1,048,576) moved down is beyond Excel's last row: no longer legal
        legal = max(target.rows, default=0) <= 1_048_576
        return [f"{target.title} moved down {shift} rows"], legal
    if what == "merge":
        row = pick(r, sorted(target.rows) or [1])
        cols = sorted(target.rows.get(row, {})) or [1]
        c0 = pick(r, cols)
        c1 = c0 + r.randint(1, 3)
        r1 = row + pick(r, [0, 0, 1, 5])
        for rr in range(row, r1 + 1):
            for cc in range(c0, c1 + 1):
                if (rr, cc) != (row, c0):
                    target.rows.get(rr, {}).pop(cc, None)  # what Excel keeps of a merge
        target.merges.append(f"{get_column_letter(c0)}{row}:{get_column_letter(c1)}{r1}")
        if chance(r, 0.2):
            target.merges.append(pick(r, ["A1:XFD1048576", "A1:A1", "B2:A1", "ZZ"]))
        return [f"{target.title} merged {target.merges[-1]}"], True
    if what == "table":
        how = pick(
            r, ["totals-huge", "ref-small", "ref-huge", "no-header", "external", "bad-ref", "two"]
        )
        n = max(len(target.rows.get(hr, {})), 1)
        t = XlTable(f"A{hr}:{get_column_letter(n)}{hr + 1}", "tblFuzz", [f"c{i}" for i in range(n)])
        if how == "totals-huge":
            t.totals_rows = pick(r, [1, 10**6, 10**9, 2**40])
            t.ref = f"A{hr}:{get_column_letter(n)}1048576"
        elif how == "ref-huge":
            t.ref = "A1:XFD1048576"
        elif how == "no-header":
            t.header_rows = 0
        elif how == "external":
            t.external = True
        elif how == "bad-ref":
            t.ref = pick(r, ["", "A1", "Z9:A1", "not a ref", "A0:B0"])
        elif how == "two":
            target.tables.append(XlTable(f"A{hr}:B{hr + 1}", "tblOther", ["a", "b"]))
        target.tables = [t] if how != "two" else target.tables
        return [f"{target.title} Excel Table {how}"], True
    if what == "dimension":
        target.dimension = pick(r, ["A1:XFD1048576", "A1:A1", "ZZZ", "", "A1:B2:C3", "XFD1048576"])
        # "A1:B2:C3" is no reference at all (openpyxl cannot read it; no application writes it)
        return [f"{target.title} dimension {target.dimension!r}"], target.dimension != "A1:B2:C3"
    if what == "refs":
        how = pick(r, ["no-row-r", "no-cell-r", "reversed", "as-is"])
        if how == "no-row-r":
            target.row_refs = False
        elif how == "no-cell-r":
            for row in target.rows.values():
                for c in row.values():
                    c.ref = False
        else:
            target.row_order = how
        return [f"{target.title} refs {how}"], True
    if what == "far-row":
        row = pick(r, [1048576, 1048575, 100000, 65537])
        cell, label, legal = hostile_cell(r)
        target.set(row, pick(r, [1, 2, 16384]), cell)
        return [f"{target.title} row {row}: {label}"], legal
    if what == "extra-sheet":
        junk = Sheet(random_text(r)[:31] or "J")
        for k in range(r.randint(1, 30)):
            junk.set(k + 1, r.randint(1, 40), hostile_cell(r)[0])
        sheets.append(junk)
        return [f"extra sheet {junk.title!r}"], True
    if what == "empty-sheet":
        target.rows = {}
        target.tables = []
        return [f"{target.title} emptied"], True
    if what == "many-cols":
        row = pick(r, sorted(target.rows) or [1])
        for c in range(1, pick(r, [100, 1000, 16384]) + 1, pick(r, [1, 7])):
            target.set(row, c, Cell(c))
        return [f"{target.title} row {row}: many columns"], True
    if what == "dup-row":
        rows = sorted(target.rows)
        if rows:
            row = pick(r, rows)
            target.rows[row + 10**6] = target.rows[row]  # beyond Excel's last row
            return [f"{target.title} row beyond 1048576"], False
        return ["nothing"], True
    if what == "bad-ref":
        row = pick(r, sorted(target.rows) or [1])
        ref = pick(r, ["A0", "1A", "XFE1", "AAAA1", "A-1", "", "a1", "A1.5", "A١"])
        target.set(row, 16000 + r.randint(0, 300), Cell(1, ref=ref))
        return [f"{target.title} cell with reference {ref!r}"], False
    # drop-strings: a workbook whose shared strings part is missing
    return ["shared strings part dropped"], False


# =========================================================================================
# Byte- and part-level mutations (broken files)
# =========================================================================================
def _central_entries(data: bytes) -> list[tuple[int, str]]:
    out = []
    for m in re.finditer(rb"PK\x01\x02", data):
        pos = m.start()
        if pos + 46 > len(data):
            continue
        n = struct.unpack("<H", data[pos + 28 : pos + 30])[0]
        out.append((pos, data[pos + 46 : pos + 46 + n].decode("utf-8", "replace")))
    return out


def mutate_bytes(r: Any, data: bytes) -> tuple[bytes, str]:
    """A broken copy of a workbook's bytes and what was done."""
    how = pick(
        r,
        [
            "truncate",
            "bitflip",
            "bitflip",
            "overwrite",
            "method",
            "encrypt",
            "sizes",
            "prepend",
            "append",
            "part-random",
            "part-drop",
            "part-xml",
            "part-xml",
            "part-xml",
            "part-dtd",
            "part-swap",
            "not-zip",
            "stored-dup",
        ],
    )
    if len(data) < 2:
        return data + b"PK", "a tiny file"
    b = bytearray(data)
    if how == "truncate":
        n = r.randint(0, len(data) - 1)
        return data[:n], f"truncated to {n} of {len(data)} bytes"
    if how == "bitflip":
        k = pick(r, [1, 2, 8, 64])
        for _ in range(k):
            i = r.randint(0, len(b) - 1)
            b[i] ^= 1 << r.randint(0, 7)
        return bytes(b), f"{k} bits flipped"
    if how == "overwrite":
        i = r.randint(0, len(b) - 1)
        n = r.randint(1, 64)
        b[i : i + n] = bytes(r.randint(0, 255) for _ in range(n))
        return bytes(b), f"{n} bytes overwritten at {i}"
    entries = _central_entries(data)
    if how in ("method", "encrypt", "sizes") and entries:
        pos, name = pick(r, entries)
        if how == "method":
            m = pick(r, [1, 6, 9, 12, 14, 93, 95, 98, 99, 0xFFFF])
            b[pos + 10 : pos + 12] = struct.pack("<H", m)
            return bytes(b), f"{name}: compression method {m}"
        if how == "encrypt":
            flags = struct.unpack("<H", data[pos + 8 : pos + 10])[0]
            b[pos + 8 : pos + 10] = struct.pack("<H", flags | 1)
            return bytes(b), f"{name}: encrypted flag set"
        size = pick(r, [0, 1, 2**31 - 1, 2**32 - 1, 2**30])
        off = pick(r, [20, 24])  # compressed / uncompressed size
        b[pos + off : pos + off + 4] = struct.pack("<I", size)
        return bytes(b), f"{name}: {'un' if off == 24 else ''}compressed size patched to {size}"
    if how == "prepend":
        return pick(r, [b"\xef\xbb\xbf", b"junk" * 100, b"PK\x03\x04"]) + data, "bytes prepended"
    if how == "append":
        return data + pick(
            r, [b"\x00" * 1000, b"PK\x05\x06" + b"\x00" * 18, b"trailing"]
        ), "bytes appended"
    if how == "not-zip":
        what = pick(
            r,
            [
                b"",
                b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500,
                b"%PDF-1.4\n",
                b"<html><body>plan</body></html>",
                b"trust_code,name\nRXX,x\n",
                b"\x1f\x8b\x08\x00" + b"\x00" * 20,
                b"PK\x05\x06" + b"\x00" * 18,
                bytes(range(256)) * 4,
            ],
        )
        return what, f"not a workbook ({what[:8]!r})"
    try:
        parts = read_parts(data)
    except Exception:  # noqa: BLE001 - the base may itself be broken
        return data[: len(data) // 2], "truncated (unreadable base)"
    names = sorted(parts)
    if not names:
        return data, "an empty zip"
    name = pick(r, names)
    if how == "part-random":
        parts[name] = bytes(r.randint(0, 255) for _ in range(r.randint(0, 200)))
        label = f"{name} replaced by random bytes"
    elif how == "part-drop":
        del parts[name]
        label = f"{name} removed"
    elif how == "part-dtd":
        text = parts[name]
        dtd = pick(
            r,
            [
                b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>',
                b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
                b'<!DOCTYPE x SYSTEM "http://127.0.0.1:9/x.dtd">',
                b'<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]>',
                b"<!DOCTYPE x>",
            ],
        )
        at = text.find(b"?>") + 2 if text.startswith(b"<?xml") else 0
        parts[name] = text[:at] + dtd + text[at:]
        label = f"{name}: DTD inserted"
    elif how == "part-swap" and len(names) > 1:
        other = pick(r, names)
        parts[name], parts[other] = parts[other], parts[name]
        label = f"{name} <-> {other}"
    elif how == "stored-dup":
        return zip_parts(parts, compression=zipfile.ZIP_STORED), "re-zipped without compression"
    else:
        parts[name], label = mutate_xml(r, parts[name])
        label = f"{name}: {label}"
    return zip_parts(parts), label


_TOKENS = [
    b"<",
    b">",
    b"</",
    b"/>",
    b'"',
    b"&",
    b"&amp;",
    b"&#0;",
    b"&#xD800;",
    b"&#13;",
    b'<c r="A1"><v>1</v></c>',
    b"<row>",
    b"</row>",
    b"<sheetData>",
    b"</sheetData>",
    b"<![CDATA[x]]>",
    b"<!-- -->",
    b"<?pi x?>",
    b"\x00",
    b"\xff\xfe",
    b"\xc3\x28",
    b'r="XFD1048576"',
    b' t="s"',
    b' s="99999"',
    b"<v>1e999</v>",
    b"<f>1/0</f>",
    b'xmlns="urn:x"',
    b'<sheet name="CIP" sheetId="1" r:id="rId1"/>',
    b"&a;",
    b"<v>" + b"9" * 500 + b"</v>",
]


def mutate_xml(r: Any, text: bytes) -> tuple[bytes, str]:
    """A damaged or altered copy of one XML part."""
    how = pick(r, ["delete", "dup", "token", "attr", "truncate", "value"])
    n = len(text)
    if n == 0:
        return pick(r, _TOKENS), "empty part given a token"
    i = r.randint(0, n - 1)
    if how == "delete":
        k = r.randint(1, 80)
        return text[:i] + text[i + k :], f"{k} bytes deleted at {i}"
    if how == "dup":
        k = r.randint(1, 400)
        return text[:i] + text[i : i + k] * r.randint(2, 5) + text[i:], f"{k} bytes repeated at {i}"
    if how == "token":
        tok = pick(r, _TOKENS)
        return text[:i] + tok + text[i:], f"{tok[:20]!r} inserted at {i}"
    if how == "truncate":
        return text[:i], f"cut at {i}"
    if how == "attr":
        attrs = list(re.finditer(rb'(\w+)="([^"]*)"', text))
        if attrs:
            m = pick(r, attrs)
            new = pick(
                r,
                [
                    b"",
                    b"0",
                    b"-1",
                    b"999999999",
                    b"A0",
                    b"XFD1048577",
                    b"x" * 300,
                    b"1e999",
                    b"hidden",
                    b"veryHidden",
                    b"../../etc/passwd",
                    b"/xl/x.xml",
                    b"1048576",
                    b"s",
                    b"e",
                    b"inlineStr",
                    b"\xc3\xa9",
                ],
            )
            return text[: m.start(2)] + new + text[
                m.end(2) :
            ], f"{m.group(1).decode()}={new[:20]!r}"
        return text[:i], f"cut at {i}"
    # value: replace the content of one <v> or <t>
    vals = list(re.finditer(rb"<(v|t)[^>]*>([^<]*)<", text))
    if vals:
        m = pick(r, vals)
        new = pick(r, [t.encode() for t in RAW_V[:12]] + [b"", b"9" * 20, b"-5"])
        return text[: m.start(2)] + new + text[
            m.end(2) :
        ], f"<{m.group(1).decode()}> = {new[:20]!r}"
    return text[:i], f"cut at {i}"


# =========================================================================================
# Scenario (.toml) files
# =========================================================================================
def toml_value(r: Any, depth: int = 0) -> str:
    """A random TOML value, as TOML text."""
    kind = pick(
        r,
        ["num"] * 8
        + ["float", "int", "bigint", "str", "bool", "date", "array", "table", "special"],
    )
    if kind == "num":
        return repr(float(pick(r, [0.0, 0.01, 0.021, -0.05, 0.3, 0.5, 1.0, 1.5, 0.07])))
    if kind == "float":
        v = pick(r, NUMBERS_EDGE)
        return repr(float(v)) if isinstance(v, float) else str(v)
    if kind == "int":
        return str(pick(r, [0, 1, -1, 2, 5, 100, 2**63 - 1, -(2**63)]))
    if kind == "bigint":
        return "9" * pick(r, [19, 20, 309, 400, 4000])
    if kind == "str":
        return _toml_str(random_text(r, hostile=chance(r, 0.5)))
    if kind == "bool":
        return pick(r, ["true", "false"])
    if kind == "date":
        return pick(
            r,
            ["1979-05-27T07:32:00Z", "1979-05-27", "07:32:00", "1979-05-27T00:32:00.999999-07:00"],
        )
    if kind == "array" and depth < 3:
        return "[" + ", ".join(toml_value(r, depth + 1) for _ in range(r.randint(0, 3))) + "]"
    if kind == "table" and depth < 3:
        items = ", ".join(
            f"{_toml_key(r)} = {toml_value(r, depth + 1)}" for _ in range(r.randint(0, 3))
        )
        return "{" + items + "}"
    return pick(
        r,
        [
            "nan",
            "+nan",
            "-nan",
            "inf",
            "+inf",
            "-inf",
            "1e308",
            "-1e308",
            "1e-320",
            "0x7fffffffffffffff",
            "0o777",
            "0b1",
            "1_000",
            "5e-324",
        ],
    )


def _toml_str(text: str) -> str:
    out = []
    for ch in text:
        o = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\u{o:04X}")
        elif 0xD800 <= o <= 0xDFFF:
            continue
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


DRIVER_KEYS = [f.name for f in TABLES["drivers"].fields[2:]]
EXAMPLE_VALUES = ['"small"', '"small"', '"acute-11pc"', '"nope"', '["small"]', "{a = 1}", "1", '""']
PLAN_VALUES = [
    '"missing.xlsx"',
    '"self.toml"',
    '""',
    '"."',
    '"a\\u0000b.xlsx"',
    '"' + "x" * 300 + '.xlsx"',
    "[1]",
    '"../../../../etc/passwd"',
    '"plan.xls"',
    '"plan.csv"',
    '"plan.xlsx\\u0000"',
]


def _toml_key(r: Any) -> str:
    k = pick(
        r,
        [
            *DRIVER_KEYS,
            *DRIVER_KEYS,
            "scale",
            "delivered_pct",
            "accepted",
            "name",
            "plan",
            "example",
            "add",
            "year1",
            "year2",
            "year0",
            "year6",
            "yearX",
            "year99999999999999999999",
            "pay-award",
            "Pay_Award",
            "é",
            "year-1",
            "year1_0",
        ],
    )
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else _toml_str(k)


def _toml_items(r: Any, n: int, keys: list[str] | None = None) -> list[str]:
    """``n`` lines ``key = value`` with distinct keys (TOML refuses a key given twice)."""
    out: dict[str, str] = {}
    for _ in range(n):
        key = pick(r, keys) if keys else _toml_key(r)
        bare = key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_str(key)
        out[key] = f"{bare} = {toml_value(r)}"
    return list(out.values())


TAME = ["0.0", "0.01", "0.021", "-0.05", "0.07", "0.1", "-0.2", "0.3"]


def tame_scenario(r: Any, plan_name: str | None) -> str:
    """A valid scenario: known keys, values in range (so the changes are applied and run)."""
    lines = ["[scenario]", f"name = {_toml_str(random_text(r))}"]
    if plan_name and chance(r, 0.5):
        lines.append(f"plan = {_toml_str(plan_name)}")
    else:
        lines.append('example = "small"' if chance(r, 0.8) else 'example = "acute-11pc"')
    for table in pick(
        r, [[], ["drivers"], ["drivers.add"], ["drivers", "drivers.year1"], ["drivers.year1"]]
    ):
        lines.append(f"[{table}]")
        for key in sorted({pick(r, DRIVER_KEYS) for _ in range(r.randint(1, 3))}):
            value = pick(r, TAME[:6]) if table == "drivers.add" else pick(r, TAME)
            if key in ("efficiency_factor",) and value.startswith("-"):
                value = "0.0"
            lines.append(f"{key} = {value}")
    how = pick(r, ["none", "scale", "delivered"])
    if how == "scale":
        lines += ["[cip]", f"scale = {pick(r, ['0', '0.5', '0.8', '1', '1.2', '3'])}"]
    elif how == "delivered":
        lines += ["[cip]", f"delivered_pct = {pick(r, ['0', '0.02', '0.07', '0.11', '1'])}"]
    if chance(r, 0.3):
        lines += ["[control_total]", f"accepted = {pick(r, ['true', 'false'])}"]
    return "\n".join(lines) + "\n"


def random_scenario(r: Any, plan_name: str | None) -> str:
    """A scenario file's text: mostly valid structure with random keys and values."""
    lines = ["[scenario]"]
    if chance(r, 0.7):
        lines.append(f"name = {_toml_str(random_text(r, hostile=chance(r, 0.2)))}")
    if chance(r, 0.2):
        lines.append(f"description = {toml_value(r)}")
    base = pick(r, ["example"] * 5 + ["plan"] * 4 + ["both", "neither", "bad"])
    if base in ("example", "both"):
        lines.append("example = " + pick(r, EXAMPLE_VALUES))
    if base in ("plan", "both"):
        lines.append("plan = " + pick(r, [_toml_str(plan_name or "plan.xlsx")] * 6 + PLAN_VALUES))
    if base == "bad":
        lines.append(f"plan = {toml_value(r)}")
    if chance(r, 0.05):
        lines.append(f"{pick(r, ['title', 'drivers', 'plan_file'])} = {toml_value(r)}")
    sub = pick(r, ["year0", "year6", "yearX", "year99999999999999999999", "year-1", "year1_0"])
    if chance(r, 0.7):
        lines.append("[drivers]")
        keys = DRIVER_KEYS * 3 + ["pay-award", "Pay_Award", "scale", "year1", "add", sub]
        for item in _toml_items(r, r.randint(0, 4), keys):
            if not item.startswith(("year1 ", "add ", f"{sub} ")):
                lines.append(item)
    for table in ("add", "year1", "year2", sub):
        if chance(r, 0.25):
            lines.append(f"[drivers.{table}]")
            lines += _toml_items(r, r.randint(0, 3), DRIVER_KEYS * 3 + ["scale", "é"])
    if chance(r, 0.6):
        lines.append("[cip]")
        lines += _toml_items(
            r, r.randint(0, 2), ["scale", "scale", "delivered_pct", "delivered_pct", "other"]
        )
    if chance(r, 0.3):
        lines.append("[control_total]")
        lines.append(f"accepted = {pick(r, ['true', 'false', 'true', toml_value(r)])}")
    if chance(r, 0.05):
        lines.append(f"[{pick(r, ['extra', 'Drivers', 'cip.sub', 'scenario.sub'])}]")
        lines.append(f"x = {toml_value(r)}")
    return "\n".join(lines) + "\n"


def mutate_text(r: Any, text: bytes) -> tuple[bytes, str]:
    """A damaged copy of a text file."""
    how = pick(r, ["truncate", "bitflip", "insert", "deep", "bom", "utf16", "nul"])
    if not text:
        return b"[", "empty"
    i = r.randint(0, len(text) - 1)
    if how == "truncate":
        return text[:i], f"cut at {i}"
    if how == "bitflip":
        b = bytearray(text)
        b[i] ^= 1 << r.randint(0, 7)
        return bytes(b), f"bit flipped at {i}"
    if how == "insert":
        tok = pick(
            r, [b"[", b"]", b"=", b'"', b"\n[scenario]\n", b"'''", b"\\u", b"\xff", b"{", b"\x00"]
        )
        return text[:i] + tok + text[i:], f"{tok!r} inserted at {i}"
    if how == "deep":
        n = pick(r, [100, 1000, 5000, 50000])
        opener, closer = pick(r, [(b"[", b"]"), (b"{a=", b"}")])
        return text + b"\nzz = " + opener * n + b"1" + closer * n + b"\n", f"nested {n} deep"
    if how == "bom":
        return b"\xef\xbb\xbf" + text, "UTF-8 BOM"
    if how == "utf16":
        return text.decode("utf-8", "replace").encode("utf-16"), "UTF-16"
    return text[:i] + b"\x00" + text[i:], f"NUL at {i}"


# =========================================================================================
# Cases
# =========================================================================================
# the Python API mostly (fast); the CLI a sixth of the time (run -o writes a workbook: slow)
ROUTES_API = (
    ["api"] * 50 + ["validate"] * 3 + ["validate-json"] * 2 + ["run-json"] * 3 + ["run", "run-out"]
)


def clean_workbook(r: Any) -> tuple[bytes, dict[str, list[dict[str, Any]]]]:
    """A valid plan workbook with harmless variations, and the tables it holds."""
    plan = random_plan(r)
    sheets = plan_sheets(r, plan, vary=True)
    return _workbook(r, sheets, date1904=chance(r, 0.05)), expected_tables(plan)


def misspell(r: Any, word: str) -> str:
    """``word`` with one typo in a letter: two neighbours swapped, a letter left out,
    doubled or replaced (never an edit that gives the word back)."""
    spots = [i for i, c in enumerate(word) if c.isalpha()]
    i = pick(r, spots)
    kinds = ["missing", "extra", "wrong"]
    if i + 1 < len(word) and word[i + 1].isalpha() and word[i + 1] != word[i]:
        kinds.append("swap")
    how = pick(r, kinds)
    if how == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if how == "missing":
        return word[:i] + word[i + 1 :]
    if how == "extra":
        return word[: i + 1] + word[i] + word[i + 1 :]
    return word[:i] + ("q" if word[i] != "q" else "z") + word[i + 1 :]


def typo_workbook(r: Any) -> tuple[bytes, list[str]]:
    """A clean plan whose header of one optional field (its blank has a default, so the
    typo used to be silent) is misspelt."""
    plan = random_plan(r)
    sheets = plan_sheets(r, plan, vary=False)
    by_title = {s.title: s for s in sheets}
    choices = [
        (t, f)
        for t in TABLES.values()
        if t.sheet in by_title
        for f in t.fields
        if not f.required and f.group is None and len(f.name) >= 5
    ]
    table, fld = pick(r, choices)
    sheet = by_title[table.sheet]
    col = next(c for c, cell in sheet.rows[1].items() if cell.value == fld.header)
    typo = misspell(r, fld.name)
    typo = pick(r, [typo, typo.replace("_", " "), typo.replace("_", " ").title()])
    sheet.set(1, col, Cell(typo, "s"))
    return build(sheets), [f"{table.sheet} header {fld.name!r} misspelt {typo!r}"]


def make_xlsx_case(r: Any) -> Case:
    family = pick(
        r,
        [
            "typo",
            "clean",
            "clean",
            "content",
            "content",
            "content",
            "content",
            "content",
            "broken",
            "broken",
            "broken",
            "broken",
        ],
    )
    route = pick(r, ROUTES_API)
    suffix = ".xlsm" if chance(r, 0.05) else ".xlsx"
    name = "plan" + suffix
    if family == "typo":
        data, notes = typo_workbook(r)
        return Case("xlsx-typo", {name: data}, name, route, "refused", notes=notes)
    if family == "clean":
        data, expected = clean_workbook(r)
        return Case(
            "xlsx-clean", {name: data}, name, route, "ok", run=chance(r, 0.25), expected=expected
        )
    plan = random_plan(r)
    sheets = plan_sheets(r, plan, vary=chance(r, 0.5))
    if family == "content":
        notes: list[str] = []
        legal = True
        for _ in range(pick(r, [1, 1, 2, 3, 6])):
            labels, ok = mutate_sheets(r, sheets)
            notes += labels
            legal = legal and ok
        drop_strings = any(n == "shared strings part dropped" for n in notes)
        data = _workbook(r, sheets)
        if drop_strings:
            data = zip_parts(
                {k: v for k, v in read_parts(data).items() if k != "xl/sharedStrings.xml"}
            )
        return Case(
            "xlsx-content",
            {name: data},
            name,
            route,
            "legal" if legal else "any",
            run=chance(r, 0.2),
            notes=notes,
        )
    data = _workbook(r, sheets)
    notes = []
    for _ in range(pick(r, [1, 1, 1, 2, 3])):
        data, label = mutate_bytes(r, data)
        notes.append(label)
    return Case("xlsx-broken", {name: data}, name, route, "any", run=chance(r, 0.1), notes=notes)


def make_toml_case(r: Any) -> Case:
    route = pick(r, ROUTES_API)
    files: dict[str, bytes] = {}
    plan_name = "plan.xlsx"
    if chance(r, 0.5):
        data, _ = clean_workbook(r)
        if chance(r, 0.2):
            data, _label = mutate_bytes(r, data)
        files[plan_name] = data
    has_plan = plan_name in files
    tame = chance(r, 0.5)
    if tame:
        text = tame_scenario(r, plan_name if has_plan else None).encode("utf-8")
    else:
        text = random_scenario(r, plan_name).encode("utf-8")
    notes: list[str] = []
    family = "toml-valid" if tame else "toml"
    if chance(r, 0.15 if tame else 0.3):
        text, label = mutate_text(r, text)
        notes.append(label)
        family = "toml-broken"
    files["scenario.toml"] = text
    files["self.toml"] = text
    return Case(
        family,
        files,
        "scenario.toml",
        route,
        "any",
        run=chance(r, 0.5 if tame else 0.2),
        notes=notes,
    )


def make_case(r: Any) -> Case:
    """One random case: a workbook (80%) or a scenario file (20%)."""
    return make_xlsx_case(r) if chance(r, 0.8) else make_toml_case(r)


__all__ = [
    "Case",
    "make_case",
    "make_xlsx_case",
    "make_toml_case",
    "random_plan",
    "plan_sheets",
    "clean_workbook",
    "mutate_bytes",
    "mutate_xml",
    "mutate_sheets",
    "hostile_cell",
    "random_scenario",
    "tame_scenario",
    "mutate_text",
    "expected_tables",
]
