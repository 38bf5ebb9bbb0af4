"""Write plan workbooks: a blank template, a plan holding a Portfolio, plain results.

* :func:`write_template`: a ``README`` sheet first (every sheet and column: header, rule,
  unit, default, description), then one sheet per input table of the schema, each with
  one Excel Table (``tblCIP``...), drop-downs for categories and Y/N, input checks on
  numbers, number formats (£000 with thousands separators, ``%``) and input cells in light
  yellow. :func:`cipmodel.io.reader.read_plan` reads it back as the same Portfolio.
* :func:`write_results`: the same workbook plus one plain sheet per DataFrame and a
  ``Provenance`` sheet (the board results workbook is
  :func:`cipmodel.io.results_workbook.write_results_workbook`).
* :func:`plan_workbook`: the README and input sheets in memory, which the results
  workbook builds on.

Writing goes through :func:`cipmodel.io.atomic.atomic_write`: a workbook appears complete or
not at all, and an existing file is replaced only when asked to.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openpyxl.styles import Alignment, NamedStyle, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.table import Table as XlTable
from openpyxl.worksheet.table import TableStyleInfo

from cipmodel.errors import WorkbookError
from cipmodel.inputs.records import Portfolio
from cipmodel.inputs.schema import Field, Table, load_schema
from cipmodel.io.atomic import atomic_write, check_writable
from cipmodel.io.cells import (
    BOLD,
    HEADER_FILL,
    MONEY_FORMAT,
    PERCENT_FORMAT,
    PROVENANCE_SHEET,
    TEXT_FORMAT,
    TITLE,
    safe_sheet_name,
    write_frame,
    write_provenance,
)
from cipmodel.io.grid import Grid, GridWorkbook
from cipmodel.io.printing import PageHeading, print_provenance, table_sheet, tall_header
from cipmodel.io.reader import OPTIONAL_TABLES, README_SHEET
from cipmodel.io.xlsx import sheet_key
from cipmodel.version import __version__

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["plan_heading", "plan_workbook", "write_results", "write_template"]

TEMPLATE_ROWS = 1000  # rows below the header that carry drop-downs in a blank template
EXTRA_ROWS = 500  # rows below the last record that carry drop-downs in a filled plan

_INPUT_FILL = PatternFill(fill_type="solid", fgColor="FFFFF2CC")  # light yellow: type here
_WRAP = Alignment(wrap_text=True, vertical="top")
_TABLE_STYLE = TableStyleInfo(
    name="TableStyleLight1",
    showFirstColumn=False,
    showLastColumn=False,
    showRowStripes=False,
    showColumnStripes=False,
)


def write_template(
    path: str | os.PathLike[str], portfolio: Portfolio | None = None, *, overwrite: bool = False
) -> Path:
    """Write a blank plan template, or a plan workbook holding ``portfolio``.

    The workbook has a ``README`` sheet first (every sheet and column: header, rule, unit,
    default, description), then one sheet per input table, each with one Excel Table
    (``tblCIP``...), drop-downs for categories and Y/N, input checks on numbers, number
    formats (£000 with thousands separators, ``%``) and input cells in light yellow.

    Parameters
    ----------
    path : path-like
        Where to write; must end in ``.xlsx``.
    portfolio : Portfolio, optional
        Records to fill in. None writes header rows only.
    overwrite : bool
        Replace an existing file. Default False: an existing file is an error.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    WorkbookError
        If the file exists (and ``overwrite`` is false), the folder is missing, the file
        cannot be written, or the extension is not ``.xlsx``.
    """
    target = _check_target(path, overwrite)
    wb = plan_workbook(portfolio)
    return atomic_write(target, wb.save)


def write_results(
    path: str | os.PathLike[str],
    portfolio: Portfolio,
    sheets: Mapping[str, pd.DataFrame],
    provenance: Mapping[str, Any],
    *,
    overwrite: bool = False,
) -> Path:
    """Write a results workbook: the plan's input sheets, result sheets and provenance.

    The input sheets are exactly those :func:`write_template` writes for ``portfolio``, so
    ``read_plan`` of the results workbook gives the same Portfolio (result sheets are
    ignored, with a note).

    Parameters
    ----------
    path : path-like
        Where to write; must end in ``.xlsx``.
    portfolio : Portfolio
        The plan the results come from.
    sheets : mapping of str to DataFrame
        One result sheet per entry, in order. An index that is not a plain RangeIndex is
        written as leading columns. Names are cut to Excel's 31 characters, with
        ``[]:*?/\\`` replaced by ``_``.
    provenance : mapping
        Key/value rows for the ``Provenance`` sheet (version, rule pack, seed, ...).
        Values that are not text, numbers, booleans or dates are written as JSON.
    overwrite : bool
        Replace an existing file. Default False.

    Raises
    ------
    WorkbookError
        As :func:`write_template`, or if a result sheet name clashes with an input sheet,
        ``README`` or ``Provenance``, or two names are the same once made safe.
    """
    target = _check_target(path, overwrite)
    wb = plan_workbook(portfolio)
    reserved = {sheet_key(n) for n in wb.sheetnames} | {sheet_key(PROVENANCE_SHEET)}
    page = plan_heading(portfolio)
    for raw_name, frame in sheets.items():
        name = safe_sheet_name(raw_name)
        if sheet_key(name) in reserved:
            msg = f"result sheet name {raw_name!r} clashes with a sheet of the plan workbook"
            raise WorkbookError(msg)
        reserved.add(sheet_key(name))
        ws, grid = wb.grid_sheet(name)
        write_frame(ws, frame)
        tall_header(ws, grid)
        table_sheet(ws, grid, page)
    ws, grid = wb.grid_sheet(PROVENANCE_SHEET)
    write_provenance(ws, provenance)
    print_provenance(ws, grid, page)
    return atomic_write(target, wb.save)


def _check_target(path: str | os.PathLike[str], overwrite: bool) -> Path:
    if Path(path).suffix.lower() != ".xlsx":
        msg = f"cannot write {Path(path).name}: cipmodel writes workbooks as .xlsx; use a name ending in .xlsx"
        raise WorkbookError(msg)
    return check_writable(path, overwrite=overwrite)


def _number_format(field: Field) -> str:
    """The cell number format for a field: £000, %, whole number, text, or General."""
    if field.type in ("str", "enum", "bool"):
        return TEXT_FORMAT
    if field.unit == "£000":
        return MONEY_FORMAT
    if field.unit == "%":
        return PERCENT_FORMAT
    if field.type == "int":
        return "0"
    if field.unit == "weight":
        return "0.00"
    return "General"


def _column_width(field: Field) -> float:
    if field.type == "str" and (field.max_length or 0) >= 200:
        return 40
    return max(len(field.header) + 3, 12)


def _fmt_bound(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _validation(field: Field, sqref: str) -> DataValidation:
    """The data validation (drop-down or input check, with a prompt) for a field's column."""
    kw: dict[str, Any] = {}
    if field.type == "enum":
        items = ",".join(field.values)
        if len(items) > 253:  # Excel's limit for an in-cell list
            msg = f"the values of {field.name} are too long for an Excel drop-down"
            raise WorkbookError(msg)
        kw = {"type": "list", "formula1": f'"{items}"'}
    elif field.type == "bool":  # Y, N and a field's short words (R, NR)
        short = [w.upper() for w in (*field.true_words, *field.false_words) if len(w) <= 2]
        kw = {"type": "list", "formula1": '"' + ",".join(["Y", "N", *short]) + '"'}
    elif field.type in ("int", "float"):
        big = 2_000_000_000 if field.type == "int" else 1e15
        lo = field.min if field.min is not None else -big
        hi = field.max if field.max is not None else big
        kw = {
            "type": "whole" if field.type == "int" else "decimal",
            "operator": "between",
            "formula1": _fmt_bound(lo),
            "formula2": _fmt_bound(hi),
        }
    elif field.max_length:
        kw = {
            "type": "textLength",
            "operator": "lessThanOrEqual",
            "formula1": str(field.max_length),
        }
    dv = DataValidation(
        allow_blank=True,
        showErrorMessage=True,
        showInputMessage=True,
        errorTitle="cipmodel",
        error=f"{field.name} must be {field.rule()}"[:255],
        promptTitle=field.header[:32],
        prompt=field.description[:255],
        **kw,
    )
    dv.add(sqref)
    return dv


def plan_workbook(portfolio: Portfolio | None) -> GridWorkbook:
    """The README sheet plus every input sheet, filled from ``portfolio`` if given."""
    schema = load_schema()
    wb = GridWorkbook()
    wb.remove(wb.active)
    ws, grid = wb.grid_sheet(README_SHEET)
    _write_readme(ws, grid)
    page = plan_heading(portfolio)
    table_sheet(ws, grid, page, title_rows=0, gridlines=False)
    for table in schema.tables:
        records = () if portfolio is None else getattr(portfolio, table.name)
        sheet, sheet_grid = wb.grid_sheet(table.sheet)
        _write_input_sheet(sheet, sheet_grid, table, records)
        # no print area: the rows the user adds print too (a print area would stop at ours)
        table_sheet(sheet, sheet_grid, page, area=False)
    props = wb.properties
    props.creator = "cipmodel"
    props.title = "cipmodel plan workbook"
    props.created = props.modified = _dt.datetime(2000, 1, 1)
    return wb


def plan_heading(portfolio: Portfolio | None) -> PageHeading:
    """The printed pages' header and footer of a plan workbook."""
    made = f"cipmodel {__version__}, schema {load_schema().version}"
    if portfolio is None or not portfolio.trusts:
        return PageHeading(who="cipmodel plan workbook", year="", made=made, sheet_in_footer=True)
    trusts = portfolio.trusts
    if len(trusts) == 1:
        who = f"{trusts[0].trust_code} {trusts[0].name or ''}".strip()
    else:
        who = f"Portfolio of {len(trusts)} trusts"
    years = ", ".join(sorted({t.financial_year for t in trusts}))
    return PageHeading(who=who, year=f"Plan year {years}", made=made, sheet_in_footer=True)


_STYLE_LABELS = {
    MONEY_FORMAT: "£000",
    PERCENT_FORMAT: "%",
    TEXT_FORMAT: "text",
    "0": "whole number",
    "0.00": "weight",
    "General": "number",
}


def _input_style(grid: Grid, fmt: str) -> int:
    """The workbook's input-cell style with number format ``fmt`` (a named style, added
    once): its cell format index."""
    wb = grid.styles.wb
    name = f"cipmodel input {_STYLE_LABELS.get(fmt, fmt)}"
    if name not in wb.named_styles:
        wb.add_named_style(NamedStyle(name=name, fill=_INPUT_FILL, number_format=fmt))
    return grid.styles.id(name)


def _write_input_sheet(ws: Any, grid: Grid, table: Table, records: Iterable[Any]) -> None:
    """One input sheet: header row, records, Excel Table, validations, formats."""
    fields = table.fields
    last_col = get_column_letter(len(fields))
    head_style = grid.styles.id(font=BOLD, fill=HEADER_FILL)
    for j, field in enumerate(fields, start=1):
        grid.text(1, j, field.header, head_style)
        letter = get_column_letter(j)
        dim = ws.column_dimensions[letter]
        dim.width = _column_width(field)
        # a column style, so cells typed below the records get the fill and the format
        dim.fill = _INPUT_FILL
        dim.number_format = _number_format(field)
    styles = [_input_style(grid, _number_format(f)) for f in fields]
    getters = [(j, f.group or f.name, f.group is not None, f.index) for j, f in enumerate(fields)]
    n = 0
    value = grid.value
    for n, rec in enumerate(records, start=1):
        row = n + 1
        for j, name, grouped, index in getters:
            v = getattr(rec, name)
            if grouped and v is not None:
                v = v[index]
            value(row, j + 1, v, styles[j], yes_no=True)
    if n == 0:  # an Excel Table needs one data row: leave it blank, styled for input
        for j in range(1, len(fields) + 1):
            grid.blank(2, j, styles[j - 1])
    last_row = max(n, 1) + 1
    tbl = XlTable(
        displayName="tbl" + re.sub(r"\W", "", table.sheet),
        ref=f"A1:{last_col}{last_row}",
        tableStyleInfo=_TABLE_STYLE,
    )
    ws.add_table(tbl)
    dv_last = max(TEMPLATE_ROWS + 1, n + 1 + EXTRA_ROWS)
    for j, field in enumerate(fields, start=1):
        letter = get_column_letter(j)
        ws.add_data_validation(_validation(field, f"{letter}2:{letter}{dv_last}"))
    ws.freeze_panes = "A2"


def _readme_default(field: Field) -> str:
    d = field.default
    if d is None:
        return ""
    if isinstance(d, bool):
        return "Y" if d else "N"
    if isinstance(d, (int, float)):
        return _fmt_bound(d)
    return str(d)


def _write_readme(ws: Any, grid: Grid) -> None:
    """The README sheet: how to fill the workbook, every sheet, every column."""
    schema = load_schema()
    lines = [
        "Fill in one row per record on each sheet, in the yellow cells. Every table has a "
        "trust_code column, so one workbook holds one trust or many.",
        "Money is in £000 (thousands of pounds). Rates are fractions shown as percentages: "
        "type 5% or 0.05. Months are financial-year months: 1 = April, 12 = March. Surplus is "
        "positive, deficit negative.",
        "Columns are found by their header: keep the header text, but you may reorder "
        "columns or add your own (they are ignored). Blank rows are skipped. Formulas are "
        "fine: the value saved with the workbook is read.",
        "Check a filled workbook with: cipmodel validate plan.xlsx",
    ]
    styles = grid.styles
    bold, wrap = styles.id(font=BOLD), styles.id(alignment=_WRAP)
    head = styles.id(font=BOLD, fill=HEADER_FILL)
    grid.text(1, 1, "cipmodel plan workbook", styles.id(font=TITLE))
    row = 2
    for text in lines:
        grid.text(row, 1, text)
        row += 1
    grid.text(row, 1, f"Schema version {schema.version}.")
    row += 2
    grid.text(row, 1, "Sheets", bold)
    row += 1
    for j, text in enumerate(("Sheet", "Required", "What it holds"), start=1):
        grid.text(row, j, text, head)
    for table in schema.tables:
        row += 1
        grid.text(row, 1, table.sheet)
        grid.text(row, 2, "no" if table.name in OPTIONAL_TABLES else "yes")
        grid.text(row, 3, table.description, wrap)
    row += 2
    grid.text(row, 1, "Columns", bold)
    row += 1
    heads = (
        "Sheet",
        "Column header",
        "Rule",
        "Unit",
        "Required",
        "Default (if blank)",
        "Description",
    )
    for j, text in enumerate(heads, start=1):
        grid.text(row, j, text, head)
    for table in schema.tables:
        for field in table.fields:
            row += 1
            values = (
                table.sheet,
                field.header,
                field.rule(),
                field.unit,
                "yes" if field.required and field.default is None else "no",
                _readme_default(field),
                field.description,
            )
            for j, text in enumerate(values, start=1):
                grid.text(row, j, text, wrap if j in (3, 7) else 0)
    for letter, width in zip("ABCDEFG", (16, 30, 40, 8, 10, 18, 90), strict=True):
        ws.column_dimensions[letter].width = width
