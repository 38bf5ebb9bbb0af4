"""Results workbooks a finance director can take to the board.

:func:`write_results_workbook` writes a new ``.xlsx`` holding

* **Summary**: per trust (one column each, plus an "All trusts" column for a portfolio),
  plan year 1: income and expenditure, forecast against the control total (year and each
  quarter to date), CIP planned, needed and delivered (by category, unidentified,
  recurrent), STF/PSF earned and lost by quarter, the five SOF metric values and scores
  with overrides, trigger and candidate segment; under a simulation, its probabilities and
  percentiles; later plan years; three native Excel charts (year to date against the
  control-total profile, CIP by category, STF/PSF by quarter) below the figures for one
  trust or on a ``Charts`` sheet for a portfolio (:mod:`cipmodel.io.sheets_summary`,
  :mod:`cipmodel.io.charts`); defined names for each trust's headline figures
  (:mod:`cipmodel.io.names`);
* **Plan years**: every plan year of every trust, one column a year: the control total
  pre- and post-STF, the year's own CIP against the CIP needed, the risk-adjusted and
  underlying views, STF/PSF by quarter, the SOF metrics, score, trigger and segment, and
  the bridge from the prior-year outturn with its waterfall (:mod:`cipmodel.io.sheets_years`);
* **Monthly**: income, pay (of which agency), non-pay, non-operating costs, surplus, CIP
  and the year to date against the control-total profile, per trust and month;
* **STF by quarter** (the input sheet is called ``Funding``), **Metrics** (the metric
  components and the five ratios at each quarter end), **Schemes**, **Lines**
  (:mod:`cipmodel.io.sheets_data`, :mod:`cipmodel.io.sheets_metrics`);
* **Provenance**: package version, rule packs, seed, sampler, draws, input hash;
* the plan's input sheets, unchanged but hidden (printing the workbook prints the results),
  so ``read_plan`` of the results gives the same plan.

Every formula is saved with the engine's value of it (:mod:`cipmodel.io.grid`), and every
sheet is set up to print on A4 (:mod:`cipmodel.io.results_print`).

Numbers the engine computed are written as values (blue), and everything derived from them
is a live Excel formula over the workbook's own numbers (black): totals, EBITDA, surplus,
running year-to-date sums, variances, CIP shares, STF/PSF totals, reported surplus and the
metric ratios. Each formula's engine value is kept in :attr:`ResultsWorkbook.expected`, so
a test can recalculate the workbook in a spreadsheet application and compare every formula
cell with the engine.

:func:`cipmodel.io.carry.write_carried_results` writes a new results workbook that carries
the user's plan workbook (their sheets as they are, the result sheets added), and
:func:`cipmodel.io.in_place.write_in_place` adds the result sheets to the user's own plan
workbook itself, when nothing in it would be lost. Every result sheet carries cipmodel's
mark (:data:`~cipmodel.io.results_base.RESULT_MARK`), by which a later run replaces it.

Every write goes through :func:`cipmodel.io.atomic.atomic_write` (temporary file, then one
rename). The temporary file is locked while it is written; a temporary file left behind by
a killed process (``.NAME.<hex>.tmp`` next to the target) is unlocked, and the next results
write to the same target removes it (POSIX; on Windows it stays until deleted by hand).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from openpyxl import Workbook, load_workbook
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.workbook.properties import CalcProperties

from cipmodel.errors import WorkbookError
from cipmodel.inputs.schema import load_schema
from cipmodel.io.atomic import atomic_write, check_writable, clean_stale_temps
from cipmodel.io.cells import PROVENANCE_SHEET, safe_sheet_name, write_frame, write_provenance
from cipmodel.io.charts import write_charts
from cipmodel.io.grid import GridWorkbook, grid_workbook
from cipmodel.io.names import board_names, headline_names, year_names
from cipmodel.io.reader import README_SHEET
from cipmodel.io.results_base import (
    BOARD,
    CHARTS,
    LINES_SHEET,
    METRICS,
    MONTHLY,
    RESULT_MARK,
    RESULT_SHEETS,
    SCHEMES,
    STF,
    SUMMARY,
    Builder,
    Expected,
)
from cipmodel.io.results_print import heading, print_board, print_sheets, print_years
from cipmodel.io.sheets_board import write_board
from cipmodel.io.sheets_board_portfolio import write_portfolio_board
from cipmodel.io.sheets_data import write_lines, write_monthly, write_schemes, write_stf
from cipmodel.io.sheets_metrics import write_metrics
from cipmodel.io.sheets_notes import NOTES_SHEET, write_notes
from cipmodel.io.sheets_summary import write_summary
from cipmodel.io.sheets_years import YEARS_SHEET, YearsSheet, write_years
from cipmodel.io.summary_rows import ALL_TRUSTS_COL, SummaryRows
from cipmodel.io.template import plan_workbook
from cipmodel.io.xlsx import sheet_key

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "RESULT_SHEETS",
    "Expected",
    "ResultsWorkbook",
    "build_results_workbook",
    "new_sheet_names",
    "write_results_workbook",
]


@dataclass
class ResultsWorkbook:
    """A built (not yet saved) results workbook.

    Attributes
    ----------
    workbook : GridWorkbook
        An openpyxl workbook; the cells of the sheets cipmodel writes are kept in its
        ``grids`` until :meth:`save` (or ``workbook.save``) writes them, each formula with
        its value.
    expected : dict of str to Expected
        For every formula cell, keyed ``"Sheet!A1"``, the engine's value.
    sheets : tuple of str
        The result sheets written (with ``Provenance``), in order.
    names : dict of str to str
        The headline figures' defined names (``RXX_CT_variance``...) and the cells they
        refer to (:mod:`cipmodel.io.names`).
    """

    workbook: GridWorkbook
    expected: dict[str, Expected] = field(default_factory=dict)
    sheets: tuple[str, ...] = ()
    names: dict[str, str] = field(default_factory=dict)

    def save(self, filename: str | os.PathLike[str] | IO[bytes]) -> None:
        """Write the workbook (a path or a binary file object), formulas with their values."""
        self.workbook.save(filename)

    def reopen(self, *, data_only: bool = False) -> Workbook:
        """The workbook saved and opened again by openpyxl: every cell as a reader sees it
        (``data_only``: each formula's saved value instead of its text)."""
        buf = io.BytesIO()
        self.save(buf)
        buf.seek(0)
        return load_workbook(buf, data_only=data_only)


def write_results_workbook(
    path: str | os.PathLike[str],
    result: Any,
    *,
    overwrite: bool = False,
    simulation: Any = None,
    extra_sheets: Mapping[str, pd.DataFrame] | None = None,
    notes: Sequence[Any] = (),
) -> Path:
    """Write a results workbook to a new file.

    Parameters
    ----------
    path : path-like
        Where to write; must end in ``.xlsx``.
    result : RunResult
        A plan run (:func:`cipmodel.results.run.run_plan`).
    overwrite : bool
        Replace an existing file (default False: an existing file is an error).
    simulation : mapping or object with ``to_dict()``, optional
        A simulation result in the ``simulate --json`` shape: per trust (``"trusts"``, a
        list with ``"code"``) a ``"probability"`` and ``"percentiles"`` mapping, and a
        ``"provenance"`` with ``seed``, ``sampler``, ``draws``. Its probabilities and
        percentiles are added to the Summary, its seed to the provenance.
    extra_sheets : mapping of str to DataFrame, optional
        More result sheets (e.g. sector tables), written as plain tables.
    notes : sequence of Note, optional
        The reader's notes and plausibility warnings, listed on an ``Input notes`` sheet.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    WorkbookError
        The path is not ``.xlsx``, its folder is missing, the file exists and ``overwrite``
        is false, a sheet name clashes, or the disk refuses the write. An existing file is
        left untouched.
    """
    target = _check_target(path, overwrite)
    built = build_results_workbook(
        result, simulation=simulation, extra_sheets=extra_sheets, notes=notes
    )
    clean_stale_temps(target)
    return atomic_write(target, built.save, overwrite=overwrite)


def build_results_workbook(
    result: Any,
    *,
    simulation: Any = None,
    extra_sheets: Mapping[str, pd.DataFrame] | None = None,
    workbook: Workbook | None = None,
    provenance: Mapping[str, str] | None = None,
    notes: Sequence[Any] = (),
) -> ResultsWorkbook:
    """Build the results workbook in memory (see :func:`write_results_workbook`).

    With ``workbook`` (an existing plan workbook) the result sheets are added before its
    own sheets, which are left as they are; otherwise the plan's input sheets are written from
    ``result.portfolio`` after the result sheets. ``provenance``: more rows for the
    Provenance sheet (what was carried from the user's workbook, and what not). ``notes``:
    the reader's notes and plausibility warnings, listed on an ``Input notes`` sheet after
    Provenance (:mod:`cipmodel.io.sheets_notes`). Every result sheet gets cipmodel's mark (:data:`RESULT_MARK`), so that a later run knows it
    for its own.
    """
    fresh = workbook is None
    if workbook is None:
        workbook = plan_workbook(result.portfolio)
        workbook.properties.title = "cipmodel results"
    workbook = grid_workbook(workbook)
    extra = dict(extra_sheets or {})
    b = Builder(workbook, result, _simulation_dict(simulation))
    b.hide_inputs = fresh
    _check_names(b, extra, fresh)
    existing = list(workbook.sheetnames)
    written = _write_result_sheets(b, extra, provenance or {})
    if notes:  # the input notes, after Provenance: a result sheet like the others
        write_notes(workbook.grid_sheet(NOTES_SHEET)[0], notes, heading(b))
        written.append(NOTES_SHEET)
    _mark(workbook, written)
    # the result sheets first, the board summary leading (it is what a board member
    # opens and what prints first), then the plan's sheets: the user's own sheets as they
    # left them, or in a new workbook the README and input sheets, hidden
    order = [workbook[t] for t in written] + [workbook[t] for t in existing]
    workbook._sheets = order  # noqa: SLF001 - openpyxl has no public reorder of many sheets
    if fresh:
        for title in existing:
            workbook[title].sheet_state = "hidden"
            workbook[title].print_area = None  # LibreOffice prints a hidden print area
    for ws in workbook.worksheets:
        ws.sheet_view.tabSelected = False
    workbook.active = workbook.sheetnames.index(BOARD)
    workbook[BOARD].sheet_view.tabSelected = True
    if workbook.calculation is None:  # a workbook saved without calculation settings
        workbook.calculation = CalcProperties()
    workbook.calculation.fullCalcOnLoad = True
    return ResultsWorkbook(workbook, b.expected, tuple(written), b.names)


def new_sheet_names(
    result: Any, extra: Mapping[str, Any] | None, notes: Sequence[Any] = ()
) -> list[str]:
    """The sheets writing ``result`` (and ``extra`` sheets, and ``notes``) adds to a
    workbook."""
    names = [BOARD, SUMMARY, YEARS_SHEET, MONTHLY, STF, METRICS, SCHEMES, LINES_SHEET]
    names.append(PROVENANCE_SHEET)
    if notes:
        names.append(NOTES_SHEET)
    if len(result.plan.codes) > 1:
        names.append(CHARTS)
    names += [safe_sheet_name(n) for n in (extra or {})]
    return names


def _mark(workbook: Workbook, written: Sequence[str]) -> None:
    """Give each result sheet cipmodel's mark: a hidden sheet-level defined name, which
    moves (and is copied) with its sheet and which no edit of a cell can make."""
    for title in written:
        ws = workbook[title]
        ws.defined_names.pop(RESULT_MARK, None)
        ws.defined_names.add(
            DefinedName(RESULT_MARK, attr_text='"cipmodel result sheet"', hidden=True)
        )


def _write_result_sheets(
    b: Builder, extra: Mapping[str, pd.DataFrame], more_provenance: Mapping[str, str]
) -> list[str]:
    """Add and fill the result sheets; return their titles in order.

    The sheets are added in reading order, then filled in the order their formulas need:
    the data sheets first (each records its rows and columns), the Summary over them, the
    charts over the Summary; then the defined names and every sheet's print setup.
    """
    board = b.new_sheet(BOARD)
    summary = b.new_sheet(SUMMARY)
    charts = b.new_sheet(CHARTS) if b.multi else None
    years = b.new_sheet(YEARS_SHEET)
    monthly, stf, metrics = b.new_sheet(MONTHLY), b.new_sheet(STF), b.new_sheet(METRICS)
    schemes, lines = b.new_sheet(SCHEMES), b.new_sheet(LINES_SHEET)
    write_monthly(b, monthly)
    write_schemes(b, schemes)
    write_stf(b, stf)
    write_metrics(b, metrics)
    write_lines(b, lines)
    s = write_summary(b, summary)
    tops = write_charts(b, charts or summary, s.rows, 3 if b.multi else s.row + 1)
    ys = write_years(b, years)
    _define_names(b, s, ys)
    bs = (write_portfolio_board if b.multi else write_board)(b, board, s)
    b.names.update(board_names(b.wb, bs, "" if b.multi else b.plan.codes[0]))
    extra_sheets = []
    for raw, frame in extra.items():
        ws = b.new_sheet(safe_sheet_name(raw))
        write_frame(ws, frame)
        extra_sheets.append(ws)
    prov = b.new_sheet(PROVENANCE_SHEET)
    sheets = (board, summary, charts, years, monthly, stf, metrics, schemes, lines)
    written = [s.title for s in sheets if s is not None]
    written += [*(ws.title for ws in extra_sheets), PROVENANCE_SHEET]
    write_provenance(prov, {**_provenance(b, written), **more_provenance})
    tables = [(monthly, 2), (stf, 2), (metrics, 2), (schemes, 3), (lines, 3)]
    print_sheets(b, s, tops, [*tables, *((ws, 1) for ws in extra_sheets)])
    print_board(b, bs)
    print_years(b, ys)
    return written


def _define_names(b: Builder, s: SummaryRows, ys: YearsSheet) -> None:
    """The headline figures' defined names (:mod:`cipmodel.io.names`): plan year 1's on
    the Summary, each plan year's on the Plan years sheet."""
    columns = [(code, s.first_col + i) for i, code in enumerate(b.plan.codes)]
    if b.multi:
        columns.append(("", ALL_TRUSTS_COL))
    b.names = headline_names(b.wb, s.grid, s.rows, columns)
    b.names.update(
        year_names(b.wb, b.grid(ys.ws), ys.rows, (ys.first_col, ys.last_col), b.plan.codes)
    )


def _check_names(b: Builder, extra: Mapping[str, Any], fresh: bool) -> None:
    """Refuse extra sheet names that clash with each other or with the workbook's sheets."""
    schema = load_schema()
    reserved = {sheet_key(n) for n in (README_SHEET, PROVENANCE_SHEET, *RESULT_SHEETS)}
    reserved |= {sheet_key(t.sheet) for t in schema.tables}
    taken = set(reserved)
    for raw in extra:
        key = sheet_key(safe_sheet_name(raw))
        if key in taken:
            msg = f"result sheet name {raw!r} clashes with a sheet of the results workbook"
            raise WorkbookError(msg)
        taken.add(key)
    if not fresh:
        have = {sheet_key(n) for n in b.wb.sheetnames}
        clash = [n for n in new_sheet_names(b.r, extra) if sheet_key(n) in have]
        if clash:
            msg = f"the workbook already has sheets named {', '.join(clash)}"
            raise WorkbookError(msg)


def _provenance(b: Builder, written: list[str]) -> dict[str, Any]:
    """The Provenance sheet's rows: the run's provenance, the simulation's, the sheets."""
    prov: dict[str, Any] = {}
    for k, v in b.r.provenance.items():
        prov[k] = ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else v
    prov["run"] = "plan run at planned values"
    prov["seed"] = "none (a plan run draws no random numbers)"
    if b.sim is not None:
        prov["run"] = "plan run, with simulation results"
        for k, v in (b.sim.get("provenance") or {}).items():
            if k in ("seed", "sampler", "draws", "chunk_size") or k not in prov:
                prov[k] = ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else v
    prov["result_sheets"] = json.dumps(written)
    prov["formulas"] = (
        "totals, variances, year-to-date sums and metric ratios are Excel formulas over "
        "the numbers on the result sheets (blue = computed by cipmodel)"
    )
    return prov


def _simulation_dict(simulation: Any) -> dict[str, Any] | None:
    if simulation is None:
        return None
    if hasattr(simulation, "to_dict"):
        simulation = simulation.to_dict()
    if not isinstance(simulation, Mapping):
        msg = "simulation must be a simulate result or its to_dict() mapping"
        raise TypeError(msg)
    return dict(simulation)


def _check_target(path: str | os.PathLike[str], overwrite: bool) -> Path:
    if Path(path).suffix.lower() != ".xlsx":
        msg = f"cannot write {Path(path).name}: results are written as .xlsx; use a name ending in .xlsx"
        raise WorkbookError(msg)
    return check_writable(path, overwrite=overwrite)
