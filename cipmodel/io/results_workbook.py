"""Results workbooks a finance director can take to the board, and safe writes into a plan.

:func:`write_results_workbook` writes a new ``.xlsx`` holding

* **Summary**: per trust (one column each, plus an "All trusts" column for a portfolio),
  plan year 1: income and expenditure, forecast against the control total (year and each
  quarter to date), CIP planned, needed and delivered (by category, unidentified,
  recurrent), STF/PSF earned and lost by quarter, the five SOF metric values and scores
  with overrides, trigger and candidate segment; under a simulation, its probabilities and
  percentiles; later plan years; three native Excel charts (year to date against the
  control-total profile, CIP by category, STF/PSF by quarter) on the Summary sheet for one
  trust or a ``Charts`` sheet for a portfolio;
* **Monthly**: income, pay (of which agency), non-pay, non-operating costs, surplus, CIP
  and the year to date against the control-total profile, per trust and month;
* **STF by quarter** (the input sheet is called ``Funding``), **Metrics** (the metric
  components and the five ratios at each quarter end), **Schemes**, **Lines**;
* **Provenance**: package version, rule packs, seed, sampler, draws, input hash;
* the plan's input sheets, unchanged, so ``read_plan`` of the results gives the same plan.

Numbers the engine computed are written as values (blue), and everything derived from them
is a live Excel formula over the workbook's own numbers (black): totals, EBITDA, surplus,
running year-to-date sums, variances, CIP shares, STF/PSF totals, reported surplus and the
metric ratios. Each formula's engine value is kept in :attr:`ResultsWorkbook.expected`, so
a test can recalculate the workbook in a spreadsheet application and compare every formula
cell with the engine.

:func:`write_in_place` adds the result sheets to the user's own plan workbook instead,
only when :func:`in_place_losses` finds nothing openpyxl would drop (charts, images,
shapes, macros, pivot tables, slicers, sparklines, extension-only conditional formats and
validations, saved formula values on input sheets, ...); it keeps a backup
(``NAME.bak.xlsx``, then ``NAME.bak-2.xlsx``, ...) and never overwrites one.

Every write goes through :func:`cipmodel.io.atomic.atomic_write` (temporary file, then one
rename). The temporary file is locked while it is written; a temporary file left behind by
a killed process (``.NAME.<hex>.tmp`` next to the target) is unlocked, and the next results
write to the same target removes it (POSIX; on Windows it stays until deleted by hand).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets
import shutil
import warnings
import xml.sax.handler
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import defusedxml.ElementTree as _ET
import defusedxml.sax
import numpy as np
import pandas as pd
from openpyxl import Workbook, load_workbook
from openpyxl.chart import BarChart, LineChart, Reference, Series
from openpyxl.styles import Alignment, Font, NamedStyle, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname

from cipmodel.calendar import MONTH_NAMES, cip_share
from cipmodel.engine.project import CATEGORIES, IS_INCOME, KIND, LINES, RAGS, STAGES
from cipmodel.errors import WorkbookError
from cipmodel.inputs.schema import load_schema
from cipmodel.io.atomic import atomic_write, check_writable
from cipmodel.io.workbook import (
    MONEY_FORMAT,
    PROVENANCE_SHEET,
    README_SHEET,
    _open_zip,
    _plan_workbook,
    _read_bytes,
    _require_safe_xml,
    _safe_sheet_name,
    _set_text,
    _set_value,
    _sheet_key,
    _write_frame,
    _write_provenance,
)
from cipmodel.results.run import MET_TOLERANCE

try:  # POSIX advisory locks mark a temporary file as being written
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "Expected",
    "InPlaceRefused",
    "ResultsWorkbook",
    "RESULT_SHEETS",
    "build_results_workbook",
    "clean_stale_temps",
    "in_place_losses",
    "write_in_place",
    "write_results_workbook",
]

SUMMARY, CHARTS, MONTHLY, STF, METRICS, SCHEMES, LINES_SHEET = (
    "Summary",
    "Charts",
    "Monthly",
    "STF by quarter",
    "Metrics",
    "Schemes",
    "Lines",
)
#: Result sheets, in the order they are written (``Charts`` only for a portfolio).
RESULT_SHEETS = (SUMMARY, CHARTS, MONTHLY, STF, METRICS, SCHEMES, LINES_SHEET)

QUARTER_LABELS = ("Q1 (Apr-Jun)", "Q2 (Jul-Sep)", "Q3 (Oct-Dec)", "Q4 (Jan-Mar)")
PERCENT = "0.0%"
MARGIN = "0.00%"
DAYS = "0.0"
TIMES = '0.00"x"'
INTEGER = "0"
DETAIL = "#,##0.00;(#,##0.00)"

_BLUE = Font(color="FF1F4E9A")  # values computed by cipmodel
_BLACK = Font(color="FF000000")  # Excel formulas
_BOLD = Font(bold=True)
_TITLE = Font(bold=True, size=14)
_SECTION = Font(bold=True, size=12)
_HEADER_FILL = PatternFill(fill_type="solid", fgColor="FFD9E1F2")
_SECTION_FILL = PatternFill(fill_type="solid", fgColor="FFF2F2F2")
_INDENT = Alignment(indent=1)
_NA = "n/a"


# =========================================================================================
# Public API
# =========================================================================================
@dataclass(frozen=True)
class Expected:
    """The engine's value of one formula cell.

    ``kind`` says how to compare: ``"money"`` (£000, to £1k), ``"ratio"`` (to 1e-9),
    ``"count"`` (exact) or ``"text"`` (exact; ``"n/a"`` where the engine has no value).
    """

    value: float | str
    kind: str


@dataclass
class ResultsWorkbook:
    """A built (not yet saved) results workbook.

    Attributes
    ----------
    workbook : openpyxl.Workbook
    expected : dict of str to Expected
        For every formula cell, keyed ``"Sheet!A1"``, the engine's value.
    sheets : tuple of str
        The result sheets written (with ``Provenance``), in order.
    """

    workbook: Workbook
    expected: dict[str, Expected] = field(default_factory=dict)
    sheets: tuple[str, ...] = ()


class InPlaceRefused(WorkbookError):
    """Writing into the workbook would lose something; ``losses`` lists what."""

    def __init__(self, name: str, losses: Sequence[str]) -> None:
        self.losses = list(losses)
        items = "\n".join(f"  - {x}" for x in self.losses)
        super().__init__(
            f"{name} was not changed: cipmodel (through openpyxl) cannot write into it "
            f"without losing:\n{items}\nWrite the results to a new file instead "
            "(cipmodel run PLAN -o RESULTS.xlsx)."
        )


def write_results_workbook(
    path: str | os.PathLike[str],
    result: Any,
    *,
    overwrite: bool = False,
    simulation: Any = None,
    extra_sheets: Mapping[str, pd.DataFrame] | None = None,
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
    built = build_results_workbook(result, simulation=simulation, extra_sheets=extra_sheets)
    clean_stale_temps(target)
    return atomic_write(target, _locked(built.workbook.save))


def build_results_workbook(
    result: Any,
    *,
    simulation: Any = None,
    extra_sheets: Mapping[str, pd.DataFrame] | None = None,
    workbook: Workbook | None = None,
) -> ResultsWorkbook:
    """Build the results workbook in memory (see :func:`write_results_workbook`).

    With ``workbook`` (an existing plan workbook) the result sheets are appended to it and
    its own sheets are left as they are; otherwise the plan's input sheets are written from
    ``result.portfolio`` after the result sheets.
    """
    fresh = workbook is None
    wb = _plan_workbook(result.portfolio) if fresh else workbook
    if fresh:
        props = wb.properties
        props.title = "cipmodel results"
    b = _Builder(wb, result, _simulation_dict(simulation), dict(extra_sheets or {}), fresh)
    return b.build()


def write_in_place(
    path: str | os.PathLike[str],
    result: Any,
    *,
    simulation: Any = None,
    extra_sheets: Mapping[str, pd.DataFrame] | None = None,
) -> Path:
    """Write the result sheets into the plan workbook ``path`` itself, keeping a backup.

    Refused, with the file untouched, when :func:`in_place_losses` lists anything. Result
    sheets from an earlier cipmodel run in the same workbook are replaced. The original is
    first copied to ``NAME.bak.xlsx`` (or ``NAME.bak-2.xlsx``, ... : an existing backup is
    never overwritten).

    Returns
    -------
    pathlib.Path
        The backup of the original workbook.

    Raises
    ------
    InPlaceRefused
        Something would be lost; ``.losses`` lists it.
    WorkbookError
        The file is not an ``.xlsx`` workbook or cannot be written.
    """
    p = Path(path)
    if p.suffix.lower() != ".xlsx":
        msg = f"{p.name}: results are written into .xlsx workbooks only; use -o RESULTS.xlsx"
        raise WorkbookError(msg)
    data = _read_bytes(p)
    new_sheets = _new_sheet_names(result, extra_sheets)
    losses = _losses(data, p.name, new_sheets)
    if losses:
        raise InPlaceRefused(p.name, losses)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = load_workbook(io.BytesIO(data), keep_links=True, rich_text=True)
    for title in _previous_results(data):
        if title in wb.sheetnames:
            del wb[title]
    for ws in wb.worksheets:
        _exact_numbers(ws)
    built = build_results_workbook(
        result, simulation=simulation, extra_sheets=extra_sheets, workbook=wb
    )
    wb.calculation.fullCalcOnLoad = True
    clean_stale_temps(p)
    backup = _write_backup(p, data)
    try:
        atomic_write(p, _locked(built.workbook.save))
    except BaseException:
        with contextlib.suppress(OSError):
            backup.unlink()  # the original is untouched: no backup needed
        raise
    return backup


def in_place_losses(
    path: str | os.PathLike[str],
    *,
    sheets: Sequence[str] = (SUMMARY, MONTHLY, STF, METRICS, SCHEMES, LINES_SHEET),
) -> list[str]:
    """What writing result sheets into ``path`` (with openpyxl) would lose; [] if nothing.

    Checks the workbook's parts: charts, pictures, shapes and text boxes, header/footer
    pictures, sheet backgrounds, macros (VBA), form and ActiveX controls, embedded
    objects, pivot tables, slicers and timelines, external links, data connections and
    query tables, the data model, threaded comments, custom XML, dynamic-array metadata,
    chart sheets and macro sheets; on each worksheet the Excel extensions openpyxl drops
    (conditional formats and data validations kept only in ``extLst``, sparklines, ...),
    custom views, protected ranges, cell watches and smart tags; formulas on input sheets
    (openpyxl keeps a formula but not its saved value, which is what cipmodel reads); and
    sheets of the user's that a result sheet would replace. Things on result sheets of an
    earlier cipmodel run (listed in its Provenance sheet) are not counted: those sheets
    are rewritten anyway.

    Not counted: printer driver settings and the calculation chain (Excel rebuilds
    both), ``ignoredErrors`` marks and phonetic properties.

    Parameters
    ----------
    path : path-like
        An ``.xlsx`` workbook.
    sheets : sequence of str
        The result sheet names that would be written (``Provenance`` is always added).

    Returns
    -------
    list of str
        One item per thing lost, naming the sheet where it is known.
    """
    p = Path(path)
    return _losses(_read_bytes(p), p.name, [*sheets, PROVENANCE_SHEET])


def clean_stale_temps(target: str | os.PathLike[str]) -> list[Path]:
    """Remove temporary files a killed write to ``target`` left behind; return them.

    A temporary file (``.NAME.<12 hex>.tmp``, or ``.NAME.bak.<12 hex>.tmp`` for a backup,
    next to ``target``) is stale when no process holds its lock. Nothing is removed where
    file locks are not available (Windows).
    """
    t = Path(target)
    if fcntl is None or not t.parent.is_dir():
        return []
    pattern = re.compile(rf"^\.{re.escape(t.name)}\.(?:bak\.)?[0-9a-f]{{12}}\.tmp$")
    removed = []
    for entry in t.parent.iterdir():
        if not pattern.match(entry.name):
            continue
        try:
            fd = os.open(entry, os.O_RDWR)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue  # a live writer holds it
        try:
            entry.unlink()
            removed.append(entry)
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed


# =========================================================================================
# Safe-write helpers
# =========================================================================================
def _check_target(path: str | os.PathLike[str], overwrite: bool) -> Path:
    if Path(path).suffix.lower() != ".xlsx":
        msg = f"cannot write {Path(path).name}: results are written as .xlsx; use a name ending in .xlsx"
        raise WorkbookError(msg)
    return check_writable(path, overwrite=overwrite)


def _locked(save: Callable[[Path], object]) -> Callable[[Path], None]:
    """A writer for atomic_write that holds a lock on the temporary file while it writes."""

    def writer(tmp: Path) -> None:
        with open(tmp, "rb+") as fh:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            save(tmp)

    return writer


def _exact_numbers(ws: Any) -> None:
    """Make openpyxl save every float of a loaded sheet exactly as it was read.

    openpyxl writes numbers with 16 significant digits, which changes the last bit of some
    (Excel saves 17); its writer passes text through unchanged, so give it the exact repr.
    """
    for cell in ws._cells.values():  # noqa: SLF001 - only the cells that exist
        v = cell._value  # noqa: SLF001
        if type(v) is float and float("%.16g" % v) != v:  # noqa: UP031
            cell._value = repr(v)  # noqa: SLF001


def _backup_path(p: Path) -> Path:
    stem, suffix = p.stem, p.suffix
    n = 1
    while True:
        name = f"{stem}.bak{suffix}" if n == 1 else f"{stem}.bak-{n}{suffix}"
        cand = p.with_name(name)
        if not cand.exists():
            return cand
        n += 1


def _write_backup(p: Path, data: bytes) -> Path:
    """Copy ``data`` to a new backup file next to ``p``; never replaces an existing file."""
    tmp = p.with_name(f".{p.name}.bak.{secrets.token_hex(6)}.tmp")
    try:
        with open(tmp, "xb") as fh:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(OSError):
            shutil.copymode(p, tmp)
        while True:
            backup = _backup_path(p)
            try:
                os.link(tmp, backup)  # atomic, and fails if the name was taken meanwhile
                break
            except FileExistsError:
                continue
            except OSError:  # no hard links on this file system
                if backup.exists():
                    continue
                os.replace(tmp, backup)
                break
    except OSError as exc:
        msg = f"{p.name} was not changed: its backup could not be written ({exc.strerror or exc})"
        raise WorkbookError(msg) from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return backup


# =========================================================================================
# Building
# =========================================================================================
def _simulation_dict(simulation: Any) -> dict[str, Any] | None:
    if simulation is None:
        return None
    if hasattr(simulation, "to_dict"):
        simulation = simulation.to_dict()
    if not isinstance(simulation, Mapping):
        msg = "simulation must be a simulate result or its to_dict() mapping"
        raise TypeError(msg)
    return dict(simulation)


def _flatten(d: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            yield from _flatten(v, key + " / ")
        elif isinstance(v, (list, tuple)):
            for j, x in enumerate(v):
                yield f"{key} / {j}", x
        else:
            yield key, v


def _new_sheet_names(result: Any, extra: Mapping[str, Any] | None) -> list[str]:
    names = [SUMMARY, MONTHLY, STF, METRICS, SCHEMES, LINES_SHEET, PROVENANCE_SHEET]
    if len(result.plan.codes) > 1:
        names.append(CHARTS)
    names += [_safe_sheet_name(n) for n in (extra or {})]
    return names


def _exp(x: Any, kind: str = "money") -> Expected:
    if isinstance(x, str):
        return Expected(x, "text")
    v = float(x)
    if not np.isfinite(v):
        return Expected(_NA, "text")
    return Expected(v, kind)


class _Builder:
    """Writes the result sheets of one run into a workbook, recording formula values."""

    def __init__(
        self,
        wb: Workbook,
        result: Any,
        simulation: dict[str, Any] | None,
        extra: dict[str, pd.DataFrame],
        fresh: bool,
    ) -> None:
        self.wb = wb
        self.r = result
        self.plan = result.plan
        self.pr = result.projection
        self.sim = simulation
        self.extra = extra
        self.fresh = fresh
        self.expected: dict[str, Expected] = {}
        self.n_t = len(self.plan.codes)
        self.multi = self.n_t > 1
        self._styles: dict[tuple[str, bool], str] = {}
        # row maps filled as the data sheets are written
        self.month_row: dict[tuple[int, int, int], int] = {}  # (trust, year, month) -> row
        self.stf_row: dict[tuple[int, int], int] = {}  # (trust, quarter) -> row
        self.metric_row: dict[tuple[int, int], int] = {}  # (trust, quarter) -> row
        self.scheme_rows: dict[int, tuple[int, int]] = {}  # trust -> (first, last)
        self.has_ct = np.isfinite(self.plan.ct_target)  # (T, Y)

    # -- cells --------------------------------------------------------------------
    def style(self, cell: Any, fmt: str, value: bool) -> None:
        """Give ``cell`` a named style: number format, blue font (values) or black (formulas)."""
        key = (fmt, value)
        name = self._styles.get(key)
        if name is None:
            name = f"cipmodel {'value' if value else 'formula'} {fmt}"
            if name not in self.wb.named_styles:
                self.wb.add_named_style(
                    NamedStyle(name=name, number_format=fmt, font=_BLUE if value else _BLACK)
                )
            self._styles[key] = name
        cell.style = name  # a named style: much faster than font + number format

    def formula(self, ws: Any, row: int, col: int, text: str, expected: Expected, fmt: str) -> None:
        cell = ws.cell(row=row, column=col)
        cell.value = text
        self.style(cell, fmt, False)
        self.expected[f"{ws.title}!{cell.coordinate}"] = expected

    def value(self, ws: Any, row: int, col: int, v: Any, fmt: str | None = None) -> None:
        cell = ws.cell(row=row, column=col)
        if isinstance(v, (float, np.floating)):
            v = float(v)
        elif isinstance(v, (np.integer,)):
            v = int(v)
        elif isinstance(v, np.bool_):
            v = bool(v)
        _set_value(cell, v)
        if fmt is not None and isinstance(v, (int, float)) and not isinstance(v, bool):
            self.style(cell, fmt, True)

    def text(self, ws: Any, row: int, col: int, v: str, font: Font | None = None) -> None:
        cell = ws.cell(row=row, column=col)
        _set_text(cell, str(v))
        if font is not None:
            cell.font = font

    def header(self, ws: Any, headers: Sequence[str], widths: Sequence[float]) -> None:
        for j, (h, w) in enumerate(zip(headers, widths, strict=True), start=1):
            cell = ws.cell(row=1, column=j)
            _set_text(cell, h)
            cell.font = _BOLD
            cell.fill = _HEADER_FILL
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            ws.column_dimensions[get_column_letter(j)].width = w
        ws.freeze_panes = "C2"

    def new_sheet(self, title: str) -> Any:
        return self.wb.create_sheet(title)

    # -- whole workbook -----------------------------------------------------------
    def build(self) -> ResultsWorkbook:
        wb = self.wb
        self._check_names()
        existing = list(wb.sheetnames)
        summary = self.new_sheet(SUMMARY)
        charts = self.new_sheet(CHARTS) if self.multi else None
        monthly, stf, metrics = (
            self.new_sheet(MONTHLY),
            self.new_sheet(STF),
            self.new_sheet(METRICS),
        )
        schemes, lines = self.new_sheet(SCHEMES), self.new_sheet(LINES_SHEET)
        self.write_monthly(monthly)
        self.write_schemes(schemes)
        self.write_stf(stf)
        self.write_metrics(metrics)
        self.write_lines(lines)
        rows = self.write_summary(summary)
        self.write_charts(charts if charts is not None else summary, rows)
        extra_titles = []
        for raw, frame in self.extra.items():
            ws = self.new_sheet(_safe_sheet_name(raw))
            _write_frame(ws, frame)
            extra_titles.append(ws.title)
        prov = self.new_sheet(PROVENANCE_SHEET)
        written = [s.title for s in (summary, charts, monthly, stf, metrics, schemes, lines) if s]
        written += [*extra_titles, PROVENANCE_SHEET]
        _write_provenance(prov, self.provenance(written))
        if self.fresh:  # result sheets first, then README and the input sheets
            order = [wb[t] for t in written] + [wb[t] for t in existing]
            wb._sheets = order  # noqa: SLF001 - openpyxl has no public reorder of many sheets
        for ws in wb.worksheets:
            ws.sheet_view.tabSelected = False
        wb.active = wb.sheetnames.index(SUMMARY)
        summary.sheet_view.tabSelected = True
        wb.calculation.fullCalcOnLoad = True
        return ResultsWorkbook(wb, self.expected, tuple(written))

    def _check_names(self) -> None:
        schema = load_schema()
        reserved = {_sheet_key(n) for n in (README_SHEET, PROVENANCE_SHEET, *RESULT_SHEETS)}
        reserved |= {_sheet_key(t.sheet) for t in schema.tables}
        taken = set(reserved)
        for raw in self.extra:
            key = _sheet_key(_safe_sheet_name(raw))
            if key in taken:
                msg = f"result sheet name {raw!r} clashes with a sheet of the results workbook"
                raise WorkbookError(msg)
            taken.add(key)
        if not self.fresh:
            have = {_sheet_key(n) for n in self.wb.sheetnames}
            clash = [n for n in _new_sheet_names(self.r, self.extra) if _sheet_key(n) in have]
            if clash:
                msg = f"the workbook already has sheets named {', '.join(clash)}"
                raise WorkbookError(msg)

    def provenance(self, written: list[str]) -> dict[str, Any]:
        prov: dict[str, Any] = {}
        for k, v in self.r.provenance.items():
            prov[k] = ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else v
        prov["run"] = "plan run at planned values"
        prov["seed"] = "none (a plan run draws no random numbers)"
        if self.sim is not None:
            prov["run"] = "plan run, with simulation results"
            for k, v in (self.sim.get("provenance") or {}).items():
                if k in ("seed", "sampler", "draws", "chunk_size") or k not in prov:
                    prov[k] = ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else v
        prov["result_sheets"] = json.dumps(written)
        prov["formulas"] = (
            "totals, variances, year-to-date sums and metric ratios are Excel formulas over "
            "the numbers on the result sheets (blue = computed by cipmodel)"
        )
        return prov

    # -- Monthly ------------------------------------------------------------------
    def write_monthly(self, ws: Any) -> None:
        heads = (
            "trust_code",
            "year",
            "month",
            "month name",
            "Operating income (£000)",
            "Pay (£000)",
            "of which agency (£000)",
            "Non-pay (£000)",
            "Operating expenditure (£000)",
            "EBITDA (£000)",
            "Non-operating costs, net (£000)",
            "Surplus/(deficit) before STF/PSF (£000)",
            "CIP (£000)",
            "YTD surplus/(deficit) before STF/PSF (£000)",
            "Control total, month (£000)",
            "YTD control total (£000)",
            "YTD variance against control total (£000)",
        )
        self.header(ws, heads, (11, 6, 6, 8, *([14] * 13)))
        pr, plan = self.pr, self.plan
        inc, pay, agency = pr.operating_income[0], pr.pay[0], pr.agency[0]
        nonpay, nonop, cip = pr.non_pay[0], pr.non_operating[0], pr.cip_total[0]
        opex, ebitda, surplus = pr.operating_expenditure[0], pr.ebitda[0], pr.surplus_pre_stf[0]
        ytd_s = pr.ytd(pr.surplus_pre_stf)[0]
        ytd_ct = pr.control_total_ytd()
        M = MONEY_FORMAT
        row = 2
        for i, code in enumerate(plan.codes):
            for y in range(int(plan.horizon[i])):
                first = row
                ct = self.has_ct[i, y]
                for m in range(12):
                    k = 12 * y + m
                    self.month_row[(i, y, m)] = row
                    self.text(ws, row, 1, code)
                    self.value(ws, row, 2, y + 1)
                    self.value(ws, row, 3, m + 1)
                    self.text(ws, row, 4, MONTH_NAMES[m])
                    self.value(ws, row, 5, inc[i, k], M)
                    self.value(ws, row, 6, pay[i, k], M)
                    self.value(ws, row, 7, agency[i, k], M)
                    self.value(ws, row, 8, nonpay[i, k], M)
                    self.formula(ws, row, 9, f"=F{row}+H{row}", _exp(opex[i, k]), M)
                    self.formula(ws, row, 10, f"=E{row}-I{row}", _exp(ebitda[i, k]), M)
                    self.value(ws, row, 11, nonop[i, k], M)
                    self.formula(ws, row, 12, f"=J{row}-K{row}", _exp(surplus[i, k]), M)
                    self.value(ws, row, 13, cip[i, k], M)
                    self.formula(ws, row, 14, f"=SUM(L{first}:L{row})", _exp(ytd_s[i, y, m]), M)
                    if ct:
                        self.value(ws, row, 15, plan.ct_month[i, y, m], M)
                        self.formula(
                            ws, row, 16, f"=SUM(O{first}:O{row})", _exp(ytd_ct[i, y, m]), M
                        )
                        self.formula(
                            ws,
                            row,
                            17,
                            f"=N{row}-P{row}",
                            _exp(ytd_s[i, y, m] - ytd_ct[i, y, m]),
                            M,
                        )
                    row += 1
        ws.auto_filter.ref = f"A1:Q{max(row - 1, 1)}"

    # -- Schemes ------------------------------------------------------------------
    def write_schemes(self, ws: Any) -> None:
        plan = self.plan
        n_y = plan.n_years
        heads = [
            "trust_code",
            "scheme_id",
            "name",
            "category",
            "line",
            "stage",
            "rag",
            "recurrent",
            "start_year",
            "start_month",
            "value_fye (£000)",
            *[f"in-year effect, year {y + 1} (£000)" for y in range(n_y)],
        ]
        self.header(ws, heads, (11, 12, 36, 10, 16, 13, 8, 10, 8, 8, 12, *([14] * n_y)))
        eff = self.pr.cip_scheme_year[0]
        records = self.r.portfolio.cip
        order = sorted(range(len(records)), key=lambda s: int(plan.scheme_trust[s]))
        row = 2
        for s in order:
            rec = records[s]
            t = int(plan.scheme_trust[s])
            first, _ = self.scheme_rows.get(t, (row, row))
            self.scheme_rows[t] = (first, row)
            self.text(ws, row, 1, plan.codes[t])
            self.text(ws, row, 2, str(rec.scheme_id))
            self.text(ws, row, 3, str(rec.name or ""))
            self.text(ws, row, 4, CATEGORIES[plan.scheme_category[s]])
            self.text(ws, row, 5, LINES[plan.scheme_line[s]])
            self.text(ws, row, 6, STAGES[plan.scheme_stage[s]])
            self.text(ws, row, 7, RAGS[plan.scheme_rag[s]])
            self.text(ws, row, 8, "Y" if plan.scheme_recurrent[s] else "N")
            self.value(ws, row, 9, int(rec.start_year))
            self.value(ws, row, 10, int(rec.start_month))
            self.value(ws, row, 11, plan.scheme_fye[s], MONEY_FORMAT)
            for y in range(n_y):
                self.value(ws, row, 12 + y, eff[s, y], MONEY_FORMAT)
            row += 1
        ws.auto_filter.ref = f"A1:{get_column_letter(11 + n_y)}{max(row - 1, 1)}"

    # -- STF by quarter -----------------------------------------------------------
    def write_stf(self, ws: Any) -> None:
        heads = (
            "trust_code",
            "quarter",
            "YTD surplus/(deficit) before STF/PSF (£000)",
            "YTD control total (£000)",
            "YTD headroom against control total (£000)",
            "control total accepted",
            "gate met",
            "available (£000)",
            "finance element earned (£000)",
            "performance element earned (£000)",
            "earned (£000)",
            "lost (£000)",
            "catch-up released at year end (£000)",
            "year-end incentive (£000)",
            "bonus (£000)",
            "earned year to date, with year-end amounts (£000)",
        )
        self.header(ws, heads, (11, 13, *([14] * 14)))
        f, a, plan = self.r.assessment.funding, self.r.assessment, self.plan
        ytd_s = self.pr.ytd(self.pr.surplus_pre_stf)[0]
        ytd_ct = self.pr.control_total_ytd()
        M = MONEY_FORMAT
        row = 2
        for i, code in enumerate(plan.codes):
            first = row
            for q in range(4):
                m = 3 * q + 2
                mrow = self.month_row[(i, 0, m)]
                self.stf_row[(i, q)] = row
                self.text(ws, row, 1, code)
                self.text(ws, row, 2, QUARTER_LABELS[q])
                self.formula(ws, row, 3, f"={MONTHLY}!N{mrow}", _exp(ytd_s[i, 0, m]), M)
                if self.has_ct[i, 0]:
                    self.formula(ws, row, 4, f"={MONTHLY}!P{mrow}", _exp(ytd_ct[i, 0, m]), M)
                    self.formula(
                        ws, row, 5, f"=C{row}-D{row}", _exp(ytd_s[i, 0, m] - ytd_ct[i, 0, m]), M
                    )
                self.text(ws, row, 6, "Y" if plan.ct_accepted[i, 0] else "N")
                self.text(ws, row, 7, "Y" if f.met_quarter[0, i, q] else "N")
                self.value(ws, row, 8, f.available[0, i, q], M)
                self.value(ws, row, 9, f.finance_earned[0, i, q], M)
                self.value(ws, row, 10, f.performance_earned[0, i, q], M)
                self.formula(ws, row, 11, f"=I{row}+J{row}", _exp(f.earned[0, i, q]), M)
                self.formula(ws, row, 12, f"=H{row}-K{row}", _exp(f.lost[0, i, q]), M)
                if q == 3:
                    self.value(ws, row, 13, f.released_catch_up[0, i], M)
                    self.value(ws, row, 14, f.incentive[0, i], M)
                    self.value(ws, row, 15, f.bonus[0, i], M)
                self.formula(
                    ws,
                    row,
                    16,
                    f"=SUM(K{first}:K{row})+SUM(M{first}:O{row})",
                    _exp(a.stf_earned_ytd[0, i, q]),
                    M,
                )
                row += 1
        ws.auto_filter.ref = f"A1:P{max(row - 1, 1)}"

    # -- Metrics ------------------------------------------------------------------
    METRIC_COLS = (  # (metric, value column, format)
        ("capital_service_capacity", 18, TIMES),
        ("liquidity_days", 20, DAYS),
        ("ie_margin", 22, MARGIN),
        ("distance_from_plan", 24, MARGIN),
        ("agency_vs_ceiling", 26, MARGIN),
    )

    def write_metrics(self, ws: Any) -> None:
        heads = (
            "trust_code",
            "period",
            "months",
            "Operating income incl. STF/PSF (£000)",
            "Operating expenditure (£000)",
            "EBITDA incl. STF/PSF (£000)",
            "STF/PSF earned YTD (£000)",
            "Reported surplus/(deficit) (£000)",
            "Interest receivable (£000)",
            "Revenue available for capital service (£000)",
            "Capital service (£000)",
            "Working capital, close (£000)",
            "Cash, close (£000)",
            "Agency spend (£000)",
            "Agency ceiling, year (£000)",
            "Agency ceiling YTD (£000)",
            "Planned I&E margin",
            "Capital service capacity (times)",
            "score",
            "Liquidity (days)",
            "score",
            "I&E margin",
            "score",
            "Distance from financial plan",
            "score",
            "Agency spend against ceiling",
            "score",
            "Overall score (after overrides)",
            "Mean metric score",
            "Overrides applied",
            "Not applicable",
        )
        self.header(ws, heads, (11, 10, 7, *([14] * 14), *([11, 7] * 5), 10, 10, 24, 40))
        a, plan, pr = self.r.assessment, self.plan, self.pr
        int_rec = pr.lines[0, :, LINES.index("interest_receivable"), :]
        M = MONEY_FORMAT
        row = 2
        for i, code in enumerate(plan.codes):
            for q, (mv, sc) in enumerate(zip(a.metrics, a.scores, strict=True)):
                months = mv.months
                c = {k: float(v[0, i]) for k, v in mv.components.items()}
                a_row, b_row = self.month_row[(i, 0, 0)], self.month_row[(i, 0, months - 1)]
                self.metric_row[(i, q)] = row
                self.text(ws, row, 1, code)
                self.text(ws, row, 2, "full year" if q == 3 else f"Q{q + 1} YTD")
                self.value(ws, row, 3, months)
                self.formula(
                    ws,
                    row,
                    4,
                    f"=SUM({MONTHLY}!E{a_row}:E{b_row})+G{row}",
                    _exp(c["operating_income_incl_stf"]),
                    M,
                )
                self.formula(
                    ws,
                    row,
                    5,
                    f"=SUM({MONTHLY}!I{a_row}:I{b_row})",
                    _exp(c["operating_expenditure"]),
                    M,
                )
                self.formula(ws, row, 6, f"=D{row}-E{row}", _exp(c["ebitda_incl_stf"]), M)
                self.formula(
                    ws,
                    row,
                    7,
                    f"={quote_sheetname(STF)}!P{self.stf_row[(i, q)]}",
                    _exp(c["stf_earned"]),
                    M,
                )
                self.formula(
                    ws,
                    row,
                    8,
                    f"=SUM({MONTHLY}!L{a_row}:L{b_row})+G{row}",
                    _exp(c["reported_surplus"]),
                    M,
                )
                self.value(ws, row, 9, int_rec[i, :months].sum(), M)
                self.formula(
                    ws,
                    row,
                    10,
                    f"=F{row}+I{row}",
                    _exp(c["revenue_available_for_capital_service"]),
                    M,
                )
                self.value(ws, row, 11, c["capital_service"], M)
                self.value(ws, row, 12, c["working_capital_close"], M)
                self.value(ws, row, 13, c["cash_close"], M)
                self.formula(
                    ws, row, 14, f"=SUM({MONTHLY}!G{a_row}:G{b_row})", _exp(c["agency"]), M
                )
                ceiling = float(plan.agency_ceiling[i])
                if np.isfinite(ceiling):
                    self.value(ws, row, 15, ceiling, M)
                    self.formula(ws, row, 16, f"=O{row}*C{row}/12", _exp(c["agency_ceiling"]), M)
                dist_reason = str(mv.not_applicable["distance_from_plan"][0, i])
                if np.isfinite(c["planned_margin"]) and not (
                    dist_reason and c["operating_income_incl_stf"] > 0
                ):
                    self.value(ws, row, 17, c["planned_margin"], MARGIN)
                forms = {
                    "capital_service_capacity": f'=IF(K{row}>0,J{row}/K{row},"{_NA}")',
                    "liquidity_days": f'=IF(E{row}>0,L{row}/(E{row}/(C{row}/12))*360,"{_NA}")',
                    "ie_margin": f'=IF(D{row}>0,H{row}/D{row},"{_NA}")',
                    "distance_from_plan": f'=IF(AND(ISNUMBER(V{row}),ISNUMBER(Q{row})),V{row}-Q{row},"{_NA}")',
                    "agency_vs_ceiling": f'=IF(P{row}>0,(N{row}-P{row})/P{row},"{_NA}")',
                }
                for name, col, fmt in self.METRIC_COLS:
                    self.formula(
                        ws, row, col, forms[name], _exp(mv.values[name][0, i], "ratio"), fmt
                    )
                    s = int(sc.metric_scores[name][0, i])
                    if s:
                        self.value(ws, row, col + 1, s, INTEGER)
                    else:
                        self.text(ws, row, col + 1, _NA)
                self.value(ws, row, 28, int(np.asarray(sc.overall)[0, i]), INTEGER)
                self.value(ws, row, 29, float(np.asarray(sc.mean)[0, i]), "0.00")
                self.text(ws, row, 30, ", ".join(sc.item((0, i)).overrides) or "none")
                reasons = [
                    f"{n}: {mv.not_applicable[n][0, i]}"
                    for n in mv.values
                    if str(mv.not_applicable[n][0, i])
                ]
                self.text(ws, row, 31, "; ".join(reasons))
                row += 1
        ws.auto_filter.ref = f"A1:AE{max(row - 1, 1)}"

    # -- Lines --------------------------------------------------------------------
    def write_lines(self, ws: Any) -> None:
        heads = (
            "trust_code",
            "year",
            "line",
            "kind",
            "before CIP (£000)",
            "CIP (£000)",
            "after CIP (£000)",
        )
        self.header(ws, heads, (11, 6, 20, 16, 14, 14, 14))
        pr, plan = self.pr, self.plan
        dn = pr.by_year(pr.do_nothing[0])  # (T, L, Y)
        cip = pr.by_year(pr.cip[0])
        row = 2
        for i, code in enumerate(plan.codes):
            for y in range(int(plan.horizon[i])):
                for li, line in enumerate(LINES):
                    self.text(ws, row, 1, code)
                    self.value(ws, row, 2, y + 1)
                    self.text(ws, row, 3, line)
                    self.text(ws, row, 4, str(KIND[li]))
                    self.value(ws, row, 5, dn[i, li, y], MONEY_FORMAT)
                    self.value(ws, row, 6, cip[i, li, y], MONEY_FORMAT)
                    op, sign = ("+", 1.0) if IS_INCOME[li] else ("-", -1.0)
                    self.formula(
                        ws,
                        row,
                        7,
                        f"=E{row}{op}F{row}",
                        _exp(dn[i, li, y] + sign * cip[i, li, y]),
                        MONEY_FORMAT,
                    )
                    row += 1
        ws.auto_filter.ref = f"A1:G{max(row - 1, 1)}"

    # -- Summary ------------------------------------------------------------------
    def write_summary(self, ws: Any) -> dict[str, Any]:
        return _Summary(self, ws).write()

    # -- Charts -------------------------------------------------------------------
    def write_charts(self, ws: Any, rows: dict[str, Any]) -> None:
        summary = self.wb[SUMMARY]
        col = 2  # the trust (one trust) or "All trusts" column
        who = "all trusts" if self.multi else self.plan.codes[0]
        if self.multi:
            self.text(
                ws,
                1,
                1,
                "Charts of the 'All trusts' column of the Summary sheet (plan year 1).",
                _BOLD,
            )
            anchors = ("A3", "A21", "A39")
        else:
            anchors = ("D4", "D22", "D40")

        ytd = LineChart()
        ytd.title = f"Year to date against control total, {who} (£000)"
        ytd.y_axis.title = "£000"
        ytd.y_axis.number_format = MONEY_FORMAT
        s1, s2 = rows["ytd_surplus"], rows["ytd_ct"]
        for first, title in (
            (s1, "YTD surplus/(deficit) before STF/PSF"),
            (s2, "YTD control total"),
        ):
            ser = Series(
                Reference(summary, min_col=col, min_row=first, max_row=first + 11), title=title
            )
            ser.smooth = False
            ytd.series.append(ser)
        ytd.set_categories(Reference(summary, min_col=1, min_row=s1, max_row=s1 + 11))
        ytd.x_axis.tickLblPos = "low"  # month names below the plot, also for deficits
        ytd.legend.position = "b"
        _size(ytd)

        cat = BarChart()
        cat.type = "col"
        cat.title = f"CIP planned by category, {who} (£000, in year)"
        cat.y_axis.number_format = MONEY_FORMAT
        c0 = rows["cip_category"]
        cat.series.append(
            Series(
                Reference(summary, min_col=col, min_row=c0, max_row=c0 + len(CATEGORIES) - 1),
                title="CIP planned",
            )
        )
        cat.set_categories(
            Reference(summary, min_col=1, min_row=c0, max_row=c0 + len(CATEGORIES) - 1)
        )
        cat.legend = None
        _size(cat)

        fund = BarChart()
        fund.type = "col"
        fund.grouping = "stacked"
        fund.overlap = 100
        fund.title = f"STF/PSF by quarter, {who} (£000)"
        fund.y_axis.number_format = MONEY_FORMAT
        e0, l0 = rows["stf_earned"], rows["stf_lost"]
        fund.series.append(
            Series(Reference(summary, min_col=col, min_row=e0, max_row=e0 + 3), title="earned")
        )
        fund.series.append(
            Series(Reference(summary, min_col=col, min_row=l0, max_row=l0 + 3), title="lost")
        )
        fund.set_categories(Reference(summary, min_col=1, min_row=e0, max_row=e0 + 3))
        fund.legend.position = "b"
        _size(fund)

        for chart, anchor in zip((ytd, cat, fund), anchors, strict=True):
            ws.add_chart(chart, anchor)


def _size(chart: Any) -> None:
    chart.width = 18
    chart.height = 8.5
    # openpyxl 3.1 marks axes as deleted unless told otherwise; Excel then hides them
    chart.x_axis.delete = False
    chart.y_axis.delete = False


class _Summary:
    """The Summary sheet: one column per trust (and an "All trusts" column)."""

    def __init__(self, b: _Builder, ws: Any) -> None:
        self.b = b
        self.ws = ws
        self.r = b.r
        self.plan = b.plan
        self.n_t = b.n_t
        self.first_col = 3 if b.multi else 2  # column of the first trust
        self.cols = [get_column_letter(self.first_col + i) for i in range(self.n_t)]
        self.row = 1
        self.rows: dict[str, Any] = {}

    # -- row writers --------------------------------------------------------------
    def label(self, text: str, *, indent: bool = False) -> int:
        r = self.row
        cell = self.ws.cell(row=r, column=1)
        _set_text(cell, text)
        if indent:
            cell.alignment = _INDENT
        self.row += 1
        return r

    def section(self, text: str) -> None:
        self.row += 1
        r = self.row
        for j in range(1, self.first_col + self.n_t):
            self.ws.cell(row=r, column=j).fill = _SECTION_FILL
        cell = self.ws.cell(row=r, column=1)
        _set_text(cell, text)
        cell.font = _SECTION
        self.row += 1

    def trust_range(self, r: int) -> str:
        return f"{self.cols[0]}{r}:{self.cols[-1]}{r}"

    def formulas(
        self,
        label: str,
        per_trust: Callable[[int, str, int], str | None],
        expected: Sequence[Any],
        fmt: str,
        *,
        kind: str = "money",
        total: str | None = "sum",
        total_expected: Any = None,
        indent: bool = False,
    ) -> int:
        """One row of formulas: ``per_trust(i, column, row)`` gives the formula or None.

        ``total``: ``"sum"`` (SUM across trusts), ``"same"`` (the trust formula applied to
        the All-trusts column), ``"count_yes"`` or None.
        """
        r = self.label(label, indent=indent)
        for i, c in enumerate(self.cols):
            text = per_trust(i, c, r)
            if text is None:
                continue
            if text.startswith("="):
                self.b.formula(self.ws, r, self.first_col + i, text, _exp(expected[i], kind), fmt)
            else:
                self.b.text(self.ws, r, self.first_col + i, text)
        if self.b.multi and total is not None:
            if total == "sum":
                vals = [float(x) for x in expected if not isinstance(x, str)]
                text = f"=SUM({self.trust_range(r)})"
                exp_total = _exp(np.nansum(vals) if vals else 0.0, kind)
            elif total == "same":
                text = per_trust(-1, "B", r)
                exp_total = _exp(total_expected, kind)
            elif total == "count_yes":
                text = f'=COUNTIF({self.trust_range(r)},"yes")'
                exp_total = Expected(float(total_expected), "count")
            else:  # pragma: no cover
                raise ValueError(total)
            assert text is not None
            self.b.formula(self.ws, r, 2, text, exp_total, INTEGER if total == "count_yes" else fmt)
        return r

    def values(
        self,
        label: str,
        vals: Sequence[Any],
        fmt: str | None = MONEY_FORMAT,
        *,
        total: bool = True,
        indent: bool = False,
    ) -> int:
        r = self.label(label, indent=indent)
        for i, v in enumerate(vals):
            if isinstance(v, str):
                self.b.text(self.ws, r, self.first_col + i, v)
            elif v is not None and not (isinstance(v, float) and not np.isfinite(v)):
                self.b.value(self.ws, r, self.first_col + i, v, fmt)
        if self.b.multi and total:
            nums = [
                float(v)
                for v in vals
                if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
            ]
            self.b.formula(
                self.ws,
                r,
                2,
                f"=SUM({self.trust_range(r)})",
                _exp(np.nansum(nums) if nums else 0.0),
                fmt or MONEY_FORMAT,
            )
        return r

    # -- the sheet ----------------------------------------------------------------
    def write(self) -> dict[str, Any]:
        b, ws, r, plan = self.b, self.ws, self.r, self.plan
        pf = r.portfolio
        ts = r.trust_summary()
        y1 = ts[ts.year == 1].set_index("trust_code").loc[list(plan.codes)]
        s = r.solved
        f = r.assessment.funding
        a = r.assessment
        T = range(self.n_t)
        mrow = b.month_row

        title = ws.cell(row=1, column=1)
        _set_text(title, f"cipmodel results: {pf.name}")
        title.font = _TITLE
        self.row = 2
        years = sorted({t.financial_year for t in pf.trusts})
        self.label(
            f"Plan year 1 ({', '.join(years)}). Money in £000, deficits in brackets; "
            "rates as percentages."
        )
        self.label(
            "Blue: numbers computed by cipmodel. Black: Excel formulas over the result "
            "sheets (Formulas > Trace Precedents shows where each comes from)."
        )
        self.row += 1
        head = self.row
        self.label("Trust")
        ws.cell(row=head, column=1).font = _BOLD
        for i in range(self.n_t):
            cell = ws.cell(row=head, column=self.first_col + i)
            _set_text(cell, plan.codes[i])
            cell.font = _BOLD
            cell.fill = _HEADER_FILL
        if b.multi:
            cell = ws.cell(row=head, column=2)
            _set_text(cell, "All trusts")
            cell.font, cell.fill = _BOLD, _HEADER_FILL
        self.values("Name", [t.name or "" for t in pf.trusts], None, total=False)
        self.values("Trust type", [t.trust_type or "" for t in pf.trusts], None, total=False)
        self.values("Financial year", [t.financial_year for t in pf.trusts], None, total=False)
        ws.column_dimensions["A"].width = 58
        for j in range(2, self.first_col + self.n_t):
            ws.column_dimensions[get_column_letter(j)].width = 14
        ws.freeze_panes = ws.cell(row=head + 1, column=self.first_col)

        def month_sum(col: str, y: int = 0) -> Callable[[int, str, int], str | None]:
            def fn(i: int, c: str, row: int) -> str | None:
                if y >= int(plan.horizon[i]):
                    return None
                return f"=SUM({MONTHLY}!{col}{mrow[(i, y, 0)]}:{col}{mrow[(i, y, 11)]})"

            return fn

        def same(template: str, need_ct: bool = False) -> Callable[[int, str, int], str | None]:
            def fn(i: int, c: str, row: int) -> str | None:
                if need_ct and i >= 0 and not b.has_ct[i, 0]:
                    return None
                return template.format(c=c)

            return fn

        M = MONEY_FORMAT
        # -- income and expenditure
        self.section("Income and expenditure, plan year 1 (£000)")
        opex = np.asarray(y1.operating_expenditure, dtype=float)
        r_inc = self.formulas("Operating income", month_sum("E"), y1.operating_income.tolist(), M)
        pay_y = self.r.projection.by_year(self.r.projection.pay[0])[:, 0]
        nonpay_y = self.r.projection.by_year(self.r.projection.non_pay[0])[:, 0]
        r_pay = self.formulas("Pay", month_sum("F"), pay_y.tolist(), M, indent=True)
        r_np = self.formulas("Non-pay", month_sum("H"), nonpay_y.tolist(), M, indent=True)
        r_opex = self.formulas(
            "Operating expenditure",
            same(f"={{c}}{r_pay}+{{c}}{r_np}"),
            opex.tolist(),
            M,
            total="same",
            total_expected=opex.sum(),
        )
        r_ebitda = self.formulas(
            "EBITDA",
            same(f"={{c}}{r_inc}-{{c}}{r_opex}"),
            y1.ebitda.tolist(),
            M,
            total="same",
            total_expected=y1.ebitda.sum(),
        )
        r_nonop = self.formulas(
            "Non-operating costs, net", month_sum("K"), y1.non_operating.tolist(), M
        )
        r_sur = self.formulas(
            "Surplus/(deficit) before STF/PSF",
            same(f"={{c}}{r_ebitda}-{{c}}{r_nonop}"),
            y1.surplus_pre_stf.tolist(),
            M,
            total="same",
            total_expected=y1.surplus_pre_stf.sum(),
        )

        # -- control total
        self.section("Control total (pre-STF basis), plan year 1 (£000)")
        target = plan.ct_target[:, 0]
        r_ct = self.formulas(
            "Control total",
            lambda i, c, row: f"={MONTHLY}!P{mrow[(i, 0, 11)]}" if b.has_ct[i, 0] else None,
            target.tolist(),
            M,
        )
        var = y1.variance.to_numpy(dtype=float)
        r_var = self.formulas(
            "Forecast against control total (surplus less control total)",
            same(f"={{c}}{r_sur}-{{c}}{r_ct}", need_ct=True),
            var.tolist(),
            M,
        )
        met = [
            "yes" if m is not None and bool(m) else ("NO" if b.has_ct[i, 0] else _NA)
            for i, m in enumerate(y1.met.tolist())
        ]
        self.formulas(
            "Meets control total?" + (" (All trusts: how many do)" if b.multi else ""),
            lambda i, c, row: (
                f'=IF({c}{r_var}>=-{MET_TOLERANCE:.6f},"yes","NO")'
                if b.has_ct[i, 0]
                else "no control total"
            ),
            met,
            M,
            kind="text",
            total="count_yes",
            total_expected=met.count("yes"),
        )
        self.values(
            "Control total accepted",
            ["Y" if x else "N" for x in plan.ct_accepted[:, 0]],
            None,
            total=False,
        )
        for q in range(4):
            self.formulas(
                f"Year-to-date variance at the end of {QUARTER_LABELS[q]}",
                lambda i, c, row, q=q: (
                    f"={MONTHLY}!Q{mrow[(i, 0, 3 * q + 2)]}" if b.has_ct[i, 0] else None
                ),
                y1[f"ytd_variance_q{q + 1}"].tolist(),
                M,
                indent=True,
            )

        # -- CIP
        self.section("Cost improvement programme (CIP), plan year 1 (£000)")
        dn = np.asarray(s.opex, dtype=float)
        r_dn = self.values("Operating expenditure before CIP (do nothing)", dn.tolist())
        r_plan = self.formulas("CIP planned, in year", month_sum("M"), s.planned.tolist(), M)
        self.formulas(
            "CIP planned, % of operating expenditure before CIP",
            same(f'=IF({{c}}{r_dn}>0,{{c}}{r_plan}/{{c}}{r_dn},"{_NA}")'),
            s.planned_pct.tolist(),
            PERCENT,
            kind="ratio",
            total="same",
            total_expected=float(cip_share(s.planned.sum(), dn.sum())),
        )
        eff = r.projection.cip_scheme_year[0][:, 0] if len(plan.scheme_ids) else np.zeros(0)

        def schemes_sum(crit_col: str, crit: str) -> Callable[[int, str, int], str | None]:
            def fn(i: int, c: str, row: int) -> str | None:
                if i not in b.scheme_rows:
                    return "=0"
                lo, hi = b.scheme_rows[i]
                return f'=SUMIFS({SCHEMES}!L{lo}:L{hi},{SCHEMES}!{crit_col}{lo}:{crit_col}{hi},"{crit}")'

            return fn

        def scheme_total(mask: np.ndarray) -> list[float]:
            out = np.zeros(self.n_t)
            np.add.at(out, plan.scheme_trust[mask], eff[mask])
            return out.tolist()

        first_cat = 0
        for k, catname in enumerate(CATEGORIES):
            row = self.formulas(
                f"{catname.replace('_', '-').capitalize()} schemes",
                schemes_sum("D", catname),
                scheme_total(plan.scheme_category == k),
                M,
                indent=True,
            )
            first_cat = first_cat or row
        self.rows["cip_category"] = first_cat
        self.formulas(
            "of which unidentified",
            schemes_sum("F", "unidentified"),
            y1.cip_unidentified.tolist(),
            M,
            indent=True,
        )
        self.formulas(
            "of which recurrent", schemes_sum("H", "Y"), y1.cip_recurrent.tolist(), M, indent=True
        )
        self.values("CIP full-year effect", y1.cip_fye.tolist())
        self.formulas(
            "CIP delivered (plan run: as planned)",
            same(f"={{c}}{r_plan}"),
            s.planned.tolist(),
            M,
            total="same",
            total_expected=s.planned.sum(),
        )
        r_need = self.values("CIP needed to meet the control total", s.needed.tolist())
        self.formulas(
            "CIP needed, % of operating expenditure before CIP",
            same(f'=IF({{c}}{r_dn}>0,{{c}}{r_need}/{{c}}{r_dn},"{_NA}")'),
            s.needed_pct.tolist(),
            PERCENT,
            kind="ratio",
            total="same",
            total_expected=float(cip_share(s.needed.sum(), dn.sum())),
        )
        self.formulas(
            "Gap: CIP needed less CIP planned",
            same(f"={{c}}{r_need}-{{c}}{r_plan}"),
            (s.needed - s.planned).tolist(),
            M,
            total="same",
            total_expected=(s.needed - s.planned).sum(),
        )
        self.values("Evidence band of the CIP needed", [str(x) for x in s.band], None, total=False)

        # -- STF/PSF
        self.section(f"STF/PSF ({a.rules['funding']}), plan year 1 (£000)")
        self.values("Allocation", f.allocation.tolist())
        self.label("Earned by quarter")
        srow = b.stf_row
        stf = quote_sheetname(STF)
        e_rows = [
            self.formulas(
                QUARTER_LABELS[q],
                lambda i, c, row, q=q: f"={stf}!K{srow[(i, q)]}",
                f.earned[0, :, q].tolist(),
                M,
                indent=True,
            )
            for q in range(4)
        ]
        self.label("Lost by quarter")
        l_rows = [
            self.formulas(
                QUARTER_LABELS[q],
                lambda i, c, row, q=q: f"={stf}!L{srow[(i, q)]}",
                f.lost[0, :, q].tolist(),
                M,
                indent=True,
            )
            for q in range(4)
        ]
        self.rows["stf_earned"], self.rows["stf_lost"] = e_rows[0], l_rows[0]
        r_cu = self.values("Catch-up released at year end", f.released_catch_up[0].tolist())
        r_inc_ = self.values("Year-end incentive", f.incentive[0].tolist())
        r_bon = self.values("Bonus (share of the forfeited pool)", f.bonus[0].tolist())
        r_tot = self.formulas(
            "Total earned",
            same(f"=SUM({{c}}{e_rows[0]}:{{c}}{e_rows[3]})+{{c}}{r_cu}+{{c}}{r_inc_}+{{c}}{r_bon}"),
            f.total_earned[0].tolist(),
            M,
            total="same",
            total_expected=f.total_earned[0].sum(),
        )
        self.formulas(
            "Total lost (forfeited)",
            same(f"=SUM({{c}}{l_rows[0]}:{{c}}{l_rows[3]})-{{c}}{r_cu}"),
            f.forfeited[0].tolist(),
            M,
            total="same",
            total_expected=f.forfeited[0].sum(),
        )
        rep = a.reported_surplus_ytd[0, :, 3]
        self.formulas(
            "Reported surplus/(deficit), with STF/PSF earned",
            same(f"={{c}}{r_sur}+{{c}}{r_tot}"),
            rep.tolist(),
            M,
            total="same",
            total_expected=rep.sum(),
        )

        # -- SOF
        self.section(f"Finance and use of resources ({a.rules['sof']}), full year")
        mv, sc = a.full_year_metrics, a.full_year_score
        labels = {
            "capital_service_capacity": ("Capital service capacity (times)", TIMES),
            "liquidity_days": ("Liquidity (days)", DAYS),
            "ie_margin": ("I&E margin", MARGIN),
            "distance_from_plan": ("Distance from financial plan", MARGIN),
            "agency_vs_ceiling": ("Agency spend against ceiling", MARGIN),
        }
        metric_col = {name: get_column_letter(col) for name, col, _ in _Builder.METRIC_COLS}
        for name in mv.values:
            text, fmt = labels.get(name, (name, "0.00"))
            col = metric_col.get(name)
            if col is None:  # pragma: no cover - a metric this writer does not know
                continue
            self.formulas(
                text,
                lambda i, c, row, col=col: f"={METRICS}!{col}{b.metric_row[(i, 3)]}",
                mv.values[name][0].tolist(),
                fmt,
                kind="ratio",
                total=None,
            )
            scores = [int(x) if int(x) else _NA for x in sc.metric_scores[name][0]]
            self.values("score (1 best, 4 worst)", scores, INTEGER, total=False, indent=True)
        self.values(
            "Overall score, after overrides",
            [int(x) for x in np.asarray(sc.overall)[0]],
            INTEGER,
            total=False,
        )
        overrides = [", ".join(a.score_dict(0, i)["overrides"]) or "none" for i in T]
        self.values("Overrides applied", overrides, None, total=False, indent=True)
        for q in range(4):
            self.values(
                f"Score at the end of {QUARTER_LABELS[q]} (year to date)",
                [int(np.asarray(a.scores[q].overall)[0, i]) for i in T],
                INTEGER,
                total=False,
                indent=True,
            )
        self.values(
            "Finance trigger (score 3 or 4)",
            ["yes" if a.trigger[0, i] else "no" for i in T],
            None,
            total=False,
        )
        self.values(
            "Candidate segment (finance theme only; the regulator decides)",
            [int(a.segment.segment[0, i]) for i in T],
            INTEGER,
            total=False,
        )

        # -- simulation
        if b.sim is not None:
            self.write_simulation()

        # -- year to date (the chart's data)
        self.section("Year to date against the control-total profile, plan year 1 (£000)")
        ytd_s = r.projection.ytd(r.projection.surplus_pre_stf)[0][:, 0]
        ytd_ct = r.projection.control_total_ytd()[:, 0]
        self.label("Year-to-date surplus/(deficit) before STF/PSF, at the end of")
        rows_s = [
            self.formulas(
                MONTH_NAMES[m],
                lambda i, c, row, m=m: f"={MONTHLY}!N{mrow[(i, 0, m)]}",
                ytd_s[:, m].tolist(),
                M,
                indent=True,
            )
            for m in range(12)
        ]
        self.label("Year-to-date control total, at the end of")
        rows_ct = [
            self.formulas(
                MONTH_NAMES[m],
                lambda i, c, row, m=m: f"={MONTHLY}!P{mrow[(i, 0, m)]}" if b.has_ct[i, 0] else None,
                ytd_ct[:, m].tolist(),
                M,
                indent=True,
            )
            for m in range(12)
        ]
        self.rows["ytd_surplus"], self.rows["ytd_ct"] = rows_s[0], rows_ct[0]

        # -- later years
        if plan.n_years > 1:
            self.section("Later plan years (£000)")
            for y in range(1, plan.n_years):
                yy = ts[ts.year == y + 1].set_index("trust_code")
                exp_s = [float(yy.surplus_pre_stf.get(c, np.nan)) for c in plan.codes]
                r_s = self.formulas(
                    f"Year {y + 1}: surplus/(deficit) before STF/PSF", month_sum("L", y), exp_s, M
                )
                live = [y < int(plan.horizon[i]) and b.has_ct[i, y] for i in T]
                r_c = self.formulas(
                    f"Year {y + 1}: control total",
                    lambda i, c, row, y=y, live=live: (
                        f"={MONTHLY}!P{mrow[(i, y, 11)]}" if live[i] else None
                    ),
                    [float(plan.ct_target[i, y]) for i in T],
                    M,
                    indent=True,
                )
                self.formulas(
                    f"Year {y + 1}: forecast against control total",
                    lambda i, c, row, live=live, r_s=r_s, r_c=r_c: (
                        f"={c}{r_s}-{c}{r_c}" if i >= 0 and live[i] else None
                    ),
                    [exp_s[i] - float(plan.ct_target[i, y]) for i in T],
                    M,
                    indent=True,
                )

        # -- footer
        self.row += 1
        prov = r.provenance
        self.label(
            f"Produced by cipmodel {prov.get('version', '')}; rules: "
            f"{', '.join(map(str, prov.get('rules', [])))}; input {prov.get('input_hash', '')}. "
            "Full record on the Provenance sheet."
        )
        return self.rows

    def write_simulation(self) -> None:
        sim = self.b.sim or {}
        by_code = {str(t.get("code")): t for t in sim.get("trusts", []) if isinstance(t, Mapping)}
        draws = (sim.get("provenance") or {}).get("draws")
        self.section("Simulation" + (f" ({draws:,} draws)" if isinstance(draws, int) else ""))
        for part, fmt in (("probability", PERCENT), ("percentiles", DETAIL)):
            keys: list[str] = []
            flat: list[dict[str, Any]] = []
            for code in self.plan.codes:
                d = dict(_flatten(by_code.get(code, {}).get(part) or {}))
                flat.append(d)
                keys += [k for k in d if k not in keys]
            if not keys:
                continue
            self.label("Probability of" if part == "probability" else "Percentiles")
            for k in keys:
                vals = [d.get(k) for d in flat]
                vals = [
                    v if isinstance(v, (int, float, str)) or v is None else str(v) for v in vals
                ]
                self.values(k.replace("_", " "), vals, fmt, total=False, indent=True)


# =========================================================================================
# In-place: what would be lost
# =========================================================================================
_NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"

#: Worksheet children openpyxl reads and writes back.
_SHEET_KEPT = frozenset(
    {
        "sheetPr",
        "dimension",
        "sheetViews",
        "sheetFormatPr",
        "cols",
        "sheetData",
        "sheetProtection",
        "scenarios",
        "autoFilter",
        "mergeCells",
        "conditionalFormatting",
        "dataValidations",
        "hyperlinks",
        "printOptions",
        "pageMargins",
        "pageSetup",
        "headerFooter",
        "rowBreaks",
        "colBreaks",
        "drawing",
        "legacyDrawing",
        "tableParts",
    }
)
#: Worksheet children openpyxl drops but Excel rebuilds or that carry no content.
_SHEET_IGNORED = frozenset({"ignoredErrors", "phoneticPr", "sheetCalcPr", "sortState"})
_SHEET_DROPPED = {
    "customSheetViews": "custom views",
    "protectedRanges": "protected ranges (allow users to edit ranges)",
    "dataConsolidate": "data consolidation settings",
    "cellWatches": "cell watches",
    "smartTags": "smart tags",
    "picture": "a sheet background picture",
    "oleObjects": "embedded objects (OLE)",
    "controls": "form or ActiveX controls",
    "webPublishItems": "web publishing settings",
    "legacyDrawingHF": "header/footer pictures",
}
_EXT_URIS = {
    "{78C0D931-6437-407D-A8EE-F0AAD7539E65}": "conditional formats kept in an Excel extension (data bars, icon sets or rules referring to other sheets)",
    "{CCE6A557-97BC-4B89-ADB6-D9C93CAAB3DF}": "data validations kept in an Excel extension (lists from other sheets)",
    "{05C60535-1F16-4FD2-B633-F4F36F0B64E0}": "sparklines",
    "{A8765BA9-456A-4DAB-B4F3-ACF838C121DE}": "slicers",
    "{3A4CF648-6AED-40F4-86FF-DC5316D8AED3}": "slicers",
    "{7E03D99C-DC04-49D9-9315-930204A7B6E9}": "timelines",
    "{01252117-D84E-4E92-8308-4BE1C098FCBB}": "table slicers",
    "{F7C9EE02-42E1-4005-9D12-6889AFFD525C}": "web extensions",
}
_PART_KINDS: tuple[tuple[str, str], ...] = (  # (part path prefix, what is lost)
    ("xl/vbaProject.bin", "macros (VBA project)"),
    ("xl/vbaProjectSignature.bin", "macros (VBA signature)"),
    ("xl/charts/chart", "a chart"),
    ("xl/chartsheets/", "a chart sheet"),
    ("xl/media/", "a picture"),
    ("xl/pivotTables/", "a pivot table"),
    ("xl/slicers/", "a slicer"),
    ("xl/timelines/", "a timeline"),
    ("xl/externalLinks/externalLink", "a link to another workbook"),
    ("xl/threadedComments/", "threaded comments (replies)"),
    ("xl/activeX/", "ActiveX controls"),
    ("xl/ctrlProps/", "form controls"),
    ("xl/embeddings/", "an embedded object"),
    ("xl/model/", "the data model (Power Pivot)"),
    ("xl/connections.xml", "data connections"),
    ("xl/queryTables/", "a query table"),
    ("xl/macrosheets/", "an Excel 4 macro sheet"),
    ("xl/dialogsheets/", "a dialog sheet"),
    ("xl/richData/", "pictures in cells or linked data types"),
    ("xl/metadata.xml", "dynamic-array formula metadata"),
    ("xl/webextensions/", "Office add-in data"),
    ("customXml/", "custom XML data"),
)


def _rels(zf: zipfile.ZipFile, names: set[str], part: str) -> list[tuple[str, str, str]]:
    """(type suffix, target part path, target mode) of a part's relationships."""
    pp = PurePosixPath(part)
    rels_path = str(pp.parent / "_rels" / f"{pp.name}.rels")
    if rels_path not in names:
        return []
    root = _ET.fromstring(zf.read(rels_path))
    out = []
    for rel in root.iter(f"{{{_NS_PKG_REL}}}Relationship"):
        typ = rel.get("Type", "").rsplit("/", 1)[-1]
        target = rel.get("Target", "")
        mode = rel.get("TargetMode", "")
        if mode != "External":
            target = target.lstrip("/") if target.startswith("/") else _norm(pp.parent / target)
        out.append((typ, target, mode))
    return out


def _norm(p: PurePosixPath) -> str:
    parts: list[str] = []
    for x in p.parts:
        if x == "..":
            if parts:
                parts.pop()
        elif x != ".":
            parts.append(x)
    return "/".join(parts)


def _sheet_parts(zf: zipfile.ZipFile, names: set[str]) -> dict[str, str]:
    """Sheet part path -> sheet name (worksheets, chart sheets, macro sheets)."""
    if "xl/workbook.xml" not in names:
        return {}
    root = _ET.fromstring(zf.read("xl/workbook.xml"))
    by_id: dict[str | None, str] = {}
    pp = PurePosixPath("xl/workbook.xml")
    rels_path = "xl/_rels/workbook.xml.rels"
    if rels_path in names:
        for rel in _ET.fromstring(zf.read(rels_path)).iter(f"{{{_NS_PKG_REL}}}Relationship"):
            target = rel.get("Target", "")
            target = target.lstrip("/") if target.startswith("/") else _norm(pp.parent / target)
            by_id[rel.get("Id")] = target
    out = {}
    for sheet in root.iter(f"{{{_NS_MAIN}}}sheet"):
        rid = sheet.get(f"{{{_NS_REL}}}id")
        if rid in by_id:
            out[by_id[rid]] = sheet.get("name", "")
    return out


class _SheetScan(xml.sax.handler.ContentHandler):
    """Top-level children, extension URIs and formula cells of one worksheet part."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.children: list[str] = []
        self.ext_uris: list[str] = []
        self.formulas = 0
        self.first_formula: str | None = None
        self._cell: str | None = None
        self._in_ext = False

    def startElement(self, name: str, attrs: Any) -> None:  # noqa: N802 (SAX API)
        tag = name.rpartition(":")[2]
        self.depth += 1
        if self.depth == 2:
            self.children.append(tag)
            self._in_ext = tag == "extLst"
        elif self.depth == 3 and self._in_ext and tag == "ext":
            self.ext_uris.append(str(attrs.get("uri", "")).upper())
        if tag == "c":
            self._cell = attrs.get("r")
        elif tag == "f":
            self.formulas += 1
            if self.first_formula is None:
                self.first_formula = self._cell

    def endElement(self, name: str) -> None:  # noqa: N802 (SAX API)
        self.depth -= 1


def _scan_sheet(data: bytes) -> _SheetScan:
    handler = _SheetScan()
    defusedxml.sax.parseString(data, handler)
    return handler


def _previous_results(data: bytes) -> list[str]:
    """Result sheets a previous cipmodel run wrote into this workbook (from its Provenance)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        if PROVENANCE_SHEET not in wb.sheetnames:
            return []
        prov: dict[str, Any] = {}
        for row in wb[PROVENANCE_SHEET].iter_rows(min_row=2, max_col=2, values_only=True):
            if row and row[0] is not None:
                prov[str(row[0])] = row[1] if len(row) > 1 else None
        if prov.get("package") != "cipmodel":
            return []
        listed = prov.get("result_sheets")
        if isinstance(listed, str):
            try:
                sheets = [str(x) for x in json.loads(listed)]
            except ValueError:
                sheets = []
        else:  # written by the plain writer: its result sheets by name
            known = {
                _sheet_key(n)
                for n in (
                    *RESULT_SHEETS,
                    "Sector finance",
                    "Sector funding",
                    "Sector score",
                    "Sector segment",
                )
            }
            sheets = [n for n in wb.sheetnames if _sheet_key(n) in known]
        sheets = [s for s in sheets if s in wb.sheetnames]
        return [*dict.fromkeys([*sheets, PROVENANCE_SHEET])]
    finally:
        wb.close()


def _losses(data: bytes, name: str, new_sheets: Sequence[str]) -> list[str]:
    _require_safe_xml()
    zf = _open_zip(data, name)
    names = set(zf.namelist())
    sheets = _sheet_parts(zf, names)
    try:
        previous = set(_previous_results(data))
    except Exception as exc:  # noqa: BLE001 - a damaged workbook
        msg = f"{name} cannot be read as a workbook ({type(exc).__name__}: {exc})"
        raise WorkbookError(msg) from exc
    # which sheet each part belongs to (sheet -> drawing -> chart/picture, ...)
    owner: dict[str, str] = {}
    frontier = [(p, s) for p, s in sheets.items()]
    while frontier:
        part, sheet = frontier.pop()
        for _typ, target, mode in _rels(zf, names, part):
            if mode == "External" or target in owner or target in sheets:
                continue
            owner[target] = sheet
            frontier.append((target, sheet))
    losses: list[str] = []

    def where(part: str) -> str:
        sheet = owner.get(part) or sheets.get(part)
        return f" on sheet '{sheet}'" if sheet else ""

    # sheets that result sheets would replace
    existing = {_sheet_key(s): s for s in sheets.values()}
    for new in new_sheets:
        have = existing.get(_sheet_key(new))
        if have is not None and have not in previous:
            losses.append(f"sheet '{have}' (a result sheet of that name would replace it)")
    skipped = {p for p, s in sheets.items() if s in previous}
    skipped |= {p for p, s in owner.items() if s in previous}
    # parts
    counted: dict[str, int] = {}
    for part in sorted(names):
        if part in skipped:
            continue
        for prefix, what in _PART_KINDS:
            if part.startswith(prefix):
                if "/_rels/" in part:
                    break
                detail = what + where(part)
                if prefix.startswith("xl/externalLinks"):
                    ext = [t for _y, t, m in _rels(zf, names, part) if m == "External"]
                    detail += f" ({ext[0]})" if ext else ""
                counted[detail] = counted.get(detail, 0) + 1
                break
    for detail, n in counted.items():
        losses.append(detail if n == 1 else f"{detail} (x{n})")
    # drawings: shapes and text boxes, and VML form controls
    for part in sorted(names):
        if part in skipped:
            continue
        if part.startswith("xl/drawings/") and part.endswith(".xml") and "/_rels/" not in part:
            text = zf.read(part)
            if re.search(rb"<(?:\w+:)?(?:sp|grpSp|cxnSp)[\s>]", text):
                losses.append(f"shapes or text boxes{where(part)}")
        elif part.startswith("xl/drawings/") and part.endswith(".vml"):
            text = zf.read(part)
            kinds = set(re.findall(rb'ObjectType="(\w+)"', text)) - {b"Note"}
            if kinds:
                what = ", ".join(sorted(k.decode() for k in kinds))
                losses.append(f"form controls ({what}){where(part)}")
    # worksheets
    input_keys = {_sheet_key(t.sheet) for t in load_schema().tables}
    for part, sheet in sheets.items():
        if sheet in previous or not part.startswith("xl/worksheets/") or part not in names:
            continue
        scan = _scan_sheet(zf.read(part))
        for child in dict.fromkeys(scan.children):
            if child in _SHEET_KEPT or child in _SHEET_IGNORED or child == "extLst":
                continue
            losses.append(f"{_SHEET_DROPPED.get(child, f'<{child}> settings')} on sheet '{sheet}'")
        for uri in dict.fromkeys(scan.ext_uris):
            what = _EXT_URIS.get(uri, f"Excel extension data {uri}")
            losses.append(f"{what} on sheet '{sheet}'")
        if scan.formulas and _sheet_key(sheet) in input_keys:
            losses.append(
                f"the saved values of {scan.formulas} formula(s) on input sheet '{sheet}' "
                f"(e.g. {sheet}!{scan.first_formula}): openpyxl keeps formulas but not their "
                "values, and cipmodel reads a plan by those values"
            )
    # workbook-level settings openpyxl drops
    if "xl/workbook.xml" in names:
        wbx = zf.read("xl/workbook.xml")
        if re.search(rb"<(?:\w+:)?customWorkbookViews[\s>]", wbx):
            losses.append("custom views (workbook)")
    return list(dict.fromkeys(losses))
