"""Read a plan workbook (``.xlsx``/``.xlsm``) into a Portfolio, through the schema.

The workbook contract (``DESIGN.md`` §4, "Plan workbook") in short:

* one sheet per input table of the schema (``Trusts``, ``Income``, ``Costs``, ``CIP``,
  ``ControlTotal``, and the optional ``Funding``, ``Financing``, ``Drivers``,
  ``Profiles``), found by name (case, spaces and underscores do not matter);
* on each sheet one Excel Table (``tblCIP``...) whose header row holds the schema headers,
  ``name (unit)``. Columns are found by header, never by position: case, spacing, column
  order and the unit suffix in brackets do not matter (a suffix naming a *different* money
  or percentage unit, e.g. ``value_fye (£m)``, is refused, so values are never read at the
  wrong scale). Without an Excel Table the header row is the first row holding a known
  header;
* every row below the header row that is not blank is one record, including rows typed
  just below an Excel Table that was not extended (LibreOffice does not extend tables);
* every cell goes through :meth:`cipmodel.inputs.schema.Field.coerce`. All problems in the file
  are collected, each with its cell (``CIP!F14``), and raised as one
  :class:`~cipmodel.errors.ValidationError`;
* formulas are read by the value the spreadsheet application saved with them (what
  openpyxl calls ``data_only=True``). A formula with no saved value (a file written by a
  program and never opened in Excel or LibreOffice) is a problem, never a blank.

How it reads: the file is read once into memory and never opened for writing
(:mod:`cipmodel.io.xlsx`: extension, size, zip and XML checks), then the sheets' cells are
read by SAX handlers (:mod:`cipmodel.io.xlsx_sheets`). All XML goes through ``defusedxml``
(openpyxl uses it when installed; this is checked on every read), so entity-expansion and
external-entity attacks are refused. Size limits (``MAX_UNPACKED_BYTES``, ``MAX_ROWS``,
``MAX_CELLS`` in :mod:`cipmodel.io.xlsx`; raised by keyword or environment variable) refuse
zip bombs and runaway sheets before they fill memory. Macros in ``.xlsm`` files are neither
run nor kept; links to other workbooks are never followed.

This module imports no pandas: ``cipmodel validate`` reads a plan without loading it.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from defusedxml import DefusedXmlException
from openpyxl.utils import get_column_letter

from cipmodel.errors import CipModelError, Note, Problem, ValidationError, WorkbookError, readable
from cipmodel.inputs.identifiers import lookalike_scheme_ids, match_trust_codes
from cipmodel.inputs.records import RECORD_CLASSES, Portfolio, RecordBuilder, Source
from cipmodel.inputs.schema import Coerce, Field, Table, load_schema
from cipmodel.io.headers import (
    header_key,
    missing_column,
    sheet_resembles,
    split_header,
    unit_ok,
    unknown_header,
)
from cipmodel.io.hidden import hidden_notes, row_ranges
from cipmodel.io.total_row import drop_total
from cipmodel.io.xlsx import Limits, caused_by, open_zip, read_bytes, require_safe_xml, sheet_key
from cipmodel.io.xlsx_sheets import Cell, SheetRef, XlsxSheets, XlTableRef

__all__ = [
    "OPTIONAL_TABLES",
    "README_SHEET",
    "read_plan",
    "read_plan_with_notes",
]

#: Tables whose sheet may be left out of a plan (absent = no rows).
OPTIONAL_TABLES = frozenset({"funding", "financing", "drivers", "profiles", "outturn"})
#: The sheet of instructions a template starts with; never read, never noted as ignored.
README_SHEET = "README"
HEADER_SCAN_ROWS = 20  # without an Excel Table, look this far down for the header row


def read_plan(
    path: str | os.PathLike[str],
    *,
    max_rows: int | None = None,
    max_cells: int | None = None,
    max_unpacked_bytes: int | None = None,
    allow_extra_columns: Iterable[str] = (),
    **part_limits: int | None,
) -> Portfolio:
    """Read a plan workbook into a :class:`~cipmodel.inputs.records.Portfolio`.

    Parameters
    ----------
    path : path-like
        An ``.xlsx`` or ``.xlsm`` workbook laid out as ``cipmodel template`` writes it (a
        results workbook is a plan workbook too).
    max_rows, max_cells : int, optional
        Refuse an input sheet with more rows (cells) holding values: default
        ``MAX_ROWS`` (200,000) and ``MAX_CELLS`` (500,000), or the environment
        variables ``CIPMODEL_MAX_ROWS`` / ``CIPMODEL_MAX_CELLS``.
    max_unpacked_bytes : int, optional
        Refuse a file larger than this, or one whose parts unpack to more (a zip bomb):
        default ``MAX_UNPACKED_BYTES`` (512 MB), or ``CIPMODEL_MAX_UNPACKED_MB``.
    allow_extra_columns : iterable of str
        Headers to keep as extra (ignored) columns although they look like a misspelt
        field (``"Strat month"``); compared ignoring case, spaces and punctuation.
    **part_limits : int, optional
        The limits on the parts of a workbook (``max_styles``, ``max_names``, ``max_rels``,
        ``max_content_types``, ``max_sheets``, ``max_zip_entries``): defaults in
        :data:`cipmodel.io.xlsx.LIMIT_DEFAULTS`, or ``CIPMODEL_MAX_STYLES``...

    Returns
    -------
    Portfolio
        Records carry ``source`` (sheet, row, column letters), so later problems name cells.

    Raises
    ------
    WorkbookError
        The file is missing, is not an ``.xlsx``/``.xlsm`` workbook, is damaged, holds
        unsafe XML, or is over a size limit. The message says what to do.
    ValidationError
        The workbook was read but breaks the schema: every problem found, each naming its
        cell (``CIP!F14``) or sheet; ``source`` is the file name.

    See Also
    --------
    read_plan_with_notes : the same, plus notes on what was ignored.
    """
    portfolio, _notes = read_plan_with_notes(
        path,
        max_rows=max_rows,
        max_cells=max_cells,
        max_unpacked_bytes=max_unpacked_bytes,
        allow_extra_columns=allow_extra_columns,
        **part_limits,
    )
    return portfolio


def read_plan_with_notes(
    path: str | os.PathLike[str],
    *,
    max_rows: int | None = None,
    max_cells: int | None = None,
    max_unpacked_bytes: int | None = None,
    allow_extra_columns: Iterable[str] = (),
    **part_limits: int | None,
) -> tuple[Portfolio, list[Note]]:
    """Read a plan workbook; also return notes on what was ignored or assumed.

    Each note is a :class:`~cipmodel.errors.Note`: a sentence such as ``"sheet 'Notes'
    ignored: not an input sheet"`` or ``"column 'comment' on CIP ignored: not a CIP
    column"`` (the string itself), with its ``place`` (``"CIP!M1"``) and ``level``
    (``"note"``, or ``"warning"`` for what may be a slip, such as an optional sheet that
    looks renamed). They are not errors.

    Raises
    ------
    WorkbookError, ValidationError
        As :func:`read_plan`.
    """
    p = Path(path)
    limits = Limits.resolve(max_rows, max_cells, max_unpacked_bytes, **part_limits)
    data = read_bytes(p, limits.max_unpacked_bytes)
    return _parse(data, p.name, limits, allow_extra_columns)


def _parse(
    data: bytes, name: str, limits: Limits | None = None, allow: Iterable[str] = ()
) -> tuple[Portfolio, list[Note]]:
    """Parse workbook bytes; ``name`` labels messages and the portfolio."""
    limits = limits or Limits.resolve(None, None, None)
    require_safe_xml()
    zf = open_zip(data, name, limits.max_unpacked_bytes, limits.max_zip_entries)
    try:
        with warnings.catch_warnings():
            # openpyxl warns about features it drops (extensions, odd styles); they do not
            # affect the values read, and the test suite turns warnings into errors.
            warnings.simplefilter("ignore")
            return _Reader(data, zf, name, limits, allow).run()
    except CipModelError:
        raise
    except Exception as exc:  # a malformed file can fail anywhere inside openpyxl
        if caused_by(exc, DefusedXmlException):
            msg = (
                f"{name} holds XML with entity or DTD declarations, which workbooks saved "
                "by Excel or LibreOffice never contain; refused as a possible attack "
                f"({type(exc).__name__})"
            )
        else:
            msg = (
                f"{name} is damaged and cannot be read as a workbook ({type(exc).__name__}: {exc})"
            )
        raise WorkbookError(msg) from exc


_REPORTED: Any = object()  # a cell whose problem (error value, formula) is already reported


def _row_values(
    cells: Mapping[int, Cell],
    found: list[tuple[str, int, str]],
    title: str,
    r: int,
    problems: list[Problem],
) -> dict[str, Any] | None:
    """Row ``r``'s raw value of each field found (``(name, column, letter)``) as
    :meth:`_Reader._raw` reads it (a cell's place made only for a problem); None: blank."""
    raw: dict[str, Any] = {}
    blank = True
    for f, c, letter in found:
        cell = cells.get(c)
        if cell is None:
            raw[f] = None
            continue
        if cell.kind == "value":
            value = cell.value
            if isinstance(value, str):
                value = value.strip() or None
        else:
            value = _Reader._raw(cell, f"{title}!{letter}{r}", problems)
        raw[f] = value
        if value is not None:
            blank = False
    return None if blank else raw


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


#: A table's field checks by name, each record attribute with None (one column of the
#: same name) or the names of its columns (a repeated field), and its record builder.
_Shape = tuple[dict[str, Coerce], list[tuple[str, tuple[str, ...] | None]], RecordBuilder]


class _Reader:
    """One read of one workbook: collects records, notes and problems."""

    def __init__(
        self,
        data: bytes,
        zf: zipfile.ZipFile,
        name: str,
        limits: Limits | None = None,
        allow: Iterable[str] = (),
    ) -> None:
        self.name = name
        self.allow = frozenset(header_key(a) for a in allow)
        self.notes: list[Note] = []
        self.problems: list[Problem] = []
        self.failed: set[str] = set()  # tables with a missing sheet/column or a bad row
        self.book = XlsxSheets(data, zf, name, limits)
        self._shapes: dict[str, _Shape] = {}

    # -- whole workbook -------------------------------------------------------------
    def run(self) -> tuple[Portfolio, list[Note]]:
        if self.book.has_macros:
            self.notes.append(
                Note(f"{self.name} contains macros: they were not run and are not read")
            )
        schema = load_schema()
        by_key: dict[str, list[str]] = {}
        first: dict[str, SheetRef] = {}
        for ref in self.book.sheets:
            by_key.setdefault(sheet_key(ref.title), []).append(ref.title)
            first.setdefault(ref.title, ref)
        known = {sheet_key(t.sheet) for t in schema.tables} | {sheet_key(README_SHEET)}
        spare = [t for t in first if sheet_key(t) not in known]
        used: set[str] = set()
        records: dict[str, list[Any]] = {t.name: [] for t in schema.tables}
        for table in schema.tables:
            titles = by_key.get(sheet_key(table.sheet), [])
            used.update(titles)
            if not titles:
                self._missing_sheet(table, spare)
                continue
            if len(titles) > 1:
                self.failed.add(table.name)
                shown = ", ".join(f"'{t}'" for t in titles)
                self.problems.append(
                    Problem(table.sheet, f"sheets {shown} all match '{table.sheet}': keep one")
                )
                continue
            records[table.name] = self._read_sheet(first[titles[0]], table)
        for title in first:
            if title not in used and sheet_key(title) != sheet_key(README_SHEET):
                shown = readable(title)
                self.notes.append(Note(f"sheet '{shown}' ignored: not an input sheet", shown))
        if "trusts" not in self.failed:
            records, notes, problems = match_trust_codes(records)
            self.notes.extend(notes)
            self.problems.extend(problems)
            if problems:
                self.failed.add("trusts")
        if "cip" not in self.failed:
            self.problems.extend(twins := lookalike_scheme_ids(records["cip"]))
            self.failed.update(["cip"] if twins else [])
        return self._portfolio(records), self.notes

    def _missing_sheet(self, table: Table, spare: list[str]) -> None:
        """A note (optional table) or a problem for a table whose sheet is not found,
        naming a sheet that looks like it renamed ("rename it 'CIP'")."""
        alike = sheet_resembles(table.sheet, spare)
        hint = ""
        if alike:
            shown = " or ".join(f"'{readable(t)}'" for t in alike)
            hint = f"; {shown} looks like it: rename it '{table.sheet}'"
        if table.name in OPTIONAL_TABLES:
            self.notes.append(
                Note(
                    f"optional sheet '{table.sheet}' not found: no rows{hint}",
                    table.sheet,
                    "warning" if alike else "note",
                )
            )
            return
        self.failed.add(table.name)
        what = hint[2:] if hint else "add it (a template from `cipmodel template` has every sheet)"
        self.problems.append(Problem(table.sheet, f"sheet '{table.sheet}' is missing: {what}"))

    def _portfolio(self, records: dict[str, list[Any]]) -> Portfolio:
        """Build the Portfolio; raise one ValidationError with cell and cross-record problems."""
        kwargs = {k: tuple(v) for k, v in records.items()}
        if not self.problems:
            try:
                return Portfolio(**kwargs, name=self.name)
            except ValidationError as exc:
                raise ValidationError(exc.problems, source=self.name) from None
        if "trusts" not in self.failed:
            # Cross-record checks on the rows that did parse. Drop the problems that only
            # follow from rows left out: 'no control total' when a ControlTotal row failed,
            # 'profile not found' when a Profiles row failed.
            try:
                Portfolio(**kwargs, name=self.name)
            except ValidationError as exc:
                drop: set[str] = set()
                if "control_total" in self.failed:
                    drop.add(load_schema().table("control_total").sheet)
                if "profiles" in self.failed:
                    drop.update(
                        r.source.cell("profile") for t in ("income", "costs") for r in records[t]
                    )
                self.problems.extend(p for p in exc.problems if p.place not in drop)
        raise ValidationError(self.problems, source=self.name)

    # -- one sheet ------------------------------------------------------------------
    def _read_sheet(self, ws: SheetRef, table: Table) -> list[Any]:
        """The records on one input sheet; problems and notes are collected on self."""
        title = ws.title.strip()
        rows = self.book.cells(ws)
        ordered = sorted(
            r
            for r, cells in rows.items()
            if any(c.kind != "value" or not _blank(c.value) for c in cells.values())
        )
        header_row, xl = self._header_row(ws, table, rows, ordered)
        if not header_row:
            if table.name in OPTIONAL_TABLES:
                self.notes.append(Note(f"sheet '{readable(title)}' is empty: no rows", title))
                return []
            self.failed.add(table.name)
            self.problems.append(
                Problem(title, f"sheet '{title}' is empty: it needs the header row of a template")
            )
            return []

        columns, ok = self._header(rows.get(header_row, {}), header_row, table, title)
        if not ok:
            self.failed.add(table.name)
        letters = MappingProxyType({f: get_column_letter(c) for f, c in columns.items()})
        totals = range(0)  # a range, not a set: totalsRowCount may be anything
        if xl is not None and xl.totals_rows:
            totals = range(xl.max_row - xl.totals_rows + 1, xl.max_row + 1)
        entries: list[tuple[int, dict[str, Any], list[Problem]]] = []
        below_table: list[int] = []
        ignored_only: list[int] = []
        found = [(f, c, letters[f]) for f, c in columns.items()]
        for r in ordered:
            if r <= header_row or r in totals:
                continue
            row_problems: list[Problem] = []
            raw = _row_values(rows[r], found, title, r, row_problems)
            if raw is None:
                ignored_only.append(r)
                continue
            if xl is not None and r > xl.max_row:
                below_table.append(r)
            entries.append((r, raw, row_problems))
        if entries:
            last = [c.value for _col, c in sorted(rows.get(entries[-1][0], {}).items())]
            entries, note, problem = drop_total(entries, last, table, title, letters)
            if note or problem:  # the total row is no record, below the table or not
                below_table = [r for r in below_table if r <= entries[-1][0]] if entries else []
            self.notes.extend([note] if note else [])
            self.problems.extend([problem] if problem else [])
            if problem:
                self.failed.add(table.name)
        hidden = self.book.hidden.get(ws.title)
        self.notes.extend(hidden_notes(title, hidden, [e[0] for e in entries], columns))
        out: list[Any] = []
        for r, raw, row_problems in entries:
            record = self._record(table, raw, row_problems, Source(title, r, letters), ok)
            if record is not None:
                out.append(record)
        if below_table and xl is not None:
            self.notes.append(
                Note(
                    f"{title}: rows {row_ranges(below_table)} are below the Excel Table "
                    f"'{xl.name}' ({xl.ref}) and were read too; extend the table to include "
                    "them",
                    f"{title}!rows {row_ranges(below_table)}",
                )
            )
        if ignored_only:
            self.notes.append(
                Note(
                    f"{title}: rows {row_ranges(ignored_only)} have values only in ignored "
                    "columns and were skipped",
                    f"{title}!rows {row_ranges(ignored_only)}",
                )
            )
        return out

    def _header_row(
        self, ws: SheetRef, table: Table, rows: Mapping[int, Mapping[int, Cell]], ordered: list[int]
    ) -> tuple[int, XlTableRef | None]:
        """The header row (0 if the sheet is empty) and the Excel Table it heads, if any.

        The header row is that of the Excel Table whose header row holds most of the
        table's headers; without one, the first row holding a known header among the first
        ``HEADER_SCAN_ROWS`` rows with values (else the first of them).
        """
        lookup = {header_key(f.name) for f in table.fields}

        def known(r: int) -> int:
            return sum(
                1
                for c in rows.get(r, {}).values()
                if isinstance(c.value, str) and header_key(c.value.strip()) in lookup
            )

        tables = [t for t in self.book.xl_tables(ws) if known(t.min_row)]
        xl = max(tables, key=lambda t: known(t.min_row)) if tables else None
        if xl is not None:
            return xl.min_row, xl
        scan = ordered[:HEADER_SCAN_ROWS]
        return next((r for r in scan if known(r)), scan[0] if scan else 0), None

    def _shape(self, table: Table) -> _Shape:
        """A table's field checks by name, each remembering the values it has checked this
        read (:meth:`~cipmodel.inputs.schema.Field.coercer`), each record attribute with
        None (one column of the same name) or the names of its columns (a repeated field),
        and a builder of its records with those checks; worked out once a read."""
        shape = self._shapes.get(table.name)
        if shape is None:
            plan: list[tuple[str, tuple[str, ...] | None]] = []
            for attr in table.attributes:
                group = table.group(attr)
                single = len(group) == 1 and group[0].group is None
                plan.append((attr, None if single else tuple(c.name for c in group)))
            coerce = {f.name: f.coercer() for f in table.fields}
            builder = RecordBuilder(RECORD_CLASSES[table.name], coerce)
            shape = self._shapes[table.name] = (coerce, plan, builder)
        return shape

    def _record(
        self,
        table: Table,
        raw: Mapping[str, Any],
        row_problems: list[Problem],
        source: Source,
        ok: bool,
    ) -> Any:
        """One row's record, or None after collecting its problems (or if the sheet's
        header row is unusable: the row's cells are still checked)."""
        coerce, shape, builder = self._shape(table)
        if ok and not row_problems:  # the common row: built in one pass, or None
            record = builder.build(raw, source)
            if record is not None:
                return record
        values: dict[str, Any] = {}
        for fname, value in raw.items():
            if value is _REPORTED:
                continue
            value, message = coerce[fname](value)
            if message:
                row_problems.append(Problem(source.cell(fname), message))
            values[fname] = value
        if row_problems:
            self.problems.extend(row_problems)
            self.failed.add(table.name)
            return None
        if not ok:
            return None
        kwargs: dict[str, Any] = {}
        for attr, names in shape:
            if names is None:
                if attr in values:
                    kwargs[attr] = values[attr]
            elif any(n in values for n in names):
                kwargs[attr] = tuple(values.get(n) for n in names)
        try:
            return RECORD_CLASSES[table.name](**kwargs, source=source)
        except ValidationError as exc:  # the record's own checks (normally none left)
            self.problems.extend(exc.problems)
            self.failed.add(table.name)
            return None

    def _header(
        self, cells: dict[int, Cell], r: int, table: Table, title: str
    ) -> tuple[dict[str, int], bool]:
        """Map field name -> 1-based column from the header row; False if unusable."""
        lookup = {header_key(f.name): f for f in table.fields}
        columns: dict[str, int] = {}
        unknown: list[tuple[int, str]] = []
        ok = True
        for col, cell in sorted(cells.items()):
            if cell.kind != "value" or _blank(cell.value):
                continue
            text = str(cell.value).strip()
            _key, unit = split_header(text)
            field = lookup.get(header_key(text))
            place = f"{title}!{get_column_letter(col)}{r}"
            if field is None:
                unknown.append((col, text))
                continue
            if field.name in columns:
                first = get_column_letter(columns[field.name])
                self.problems.append(
                    Problem(
                        place,
                        f"column '{field.name}' appears twice ({first}{r} and here): delete one",
                    )
                )
                ok = False
                continue
            if unit is not None and not unit_ok(field, unit):
                self.problems.append(
                    Problem(
                        place,
                        f"column '{readable(text)}' is in {readable(unit.strip())}, but "
                        f"{field.name} is read in {field.unit}: convert the values and head the "
                        f"column '{field.header}'",
                    )
                )
                ok = False
                continue
            columns[field.name] = col
        absent = {f.name: f for f in table.fields if f.name not in columns}
        for col, text in unknown:
            ok = (
                self._unknown_header(text, f"{title}!{get_column_letter(col)}{r}", absent, table)
                and ok
            )
        for f in table.fields:
            if f.required and f.default is None and f.name not in columns:
                ok = False
                self.problems.append(missing_column(f, cells, r, title))
        return columns, ok

    def _unknown_header(
        self, text: str, place: str, absent: Mapping[str, Field], table: Table
    ) -> bool:
        """Note an extra column, or refuse one that looks like a misspelt field (False)
        unless the user allowed it."""
        note, problem = unknown_header(text, place, absent, table, self.allow)
        if note is not None:
            self.notes.append(note)
        if problem is not None:
            self.problems.append(problem)
        return problem is None

    @staticmethod
    def _raw(cell: Cell | None, place: str, problems: list[Problem]) -> Any:
        """A cell's raw value (stripped text, number, bool, date), None if blank, or
        ``_REPORTED`` after adding a problem for an error value or a formula without one."""
        if cell is None:
            return None
        if cell.kind == "error":
            problems.append(
                Problem(
                    place, f"the cell shows the error {cell.value}: fix the formula or type a value"
                )
            )
            return _REPORTED
        if cell.kind == "nocache":
            formula = str(cell.formula)
            shown = formula if len(formula) <= 60 else formula[:57] + "..."
            problems.append(
                Problem(
                    place,
                    f"formula {shown} has no saved value: open and save the workbook in Excel "
                    "or LibreOffice",
                )
            )
            return _REPORTED
        value = cell.value
        if isinstance(value, str):
            return value.strip() or None
        return value
