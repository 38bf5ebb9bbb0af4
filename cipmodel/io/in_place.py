"""Write the result sheets into the user's own plan workbook, only when nothing is lost.

:func:`write_in_place` adds the result sheets to the plan workbook itself, only when
:func:`in_place_losses` finds nothing openpyxl would drop (charts, images, shapes, macros,
pivot tables, slicers, sparklines, extension-only conditional formats and validations,
...: :mod:`cipmodel.io.losses`); otherwise it raises :class:`~cipmodel.errors.InPlaceRefused`
with the file untouched. The user's sheets are carried as they are
(:mod:`cipmodel.io.carry`: formulas with their saved values). It keeps a backup
(``NAME.bak.xlsx``, then ``NAME.bak-2.xlsx``, ...) and never overwrites one; result sheets
of an earlier run (those carrying cipmodel's mark) are replaced.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cipmodel.errors import WorkbookError
from cipmodel.io.atomic import atomic_write, clean_stale_temps, write_backup
from cipmodel.io.carry import load_for_results
from cipmodel.io.cells import PROVENANCE_SHEET
from cipmodel.io.losses import workbook_losses
from cipmodel.io.results_base import LINES_SHEET, METRICS, MONTHLY, SCHEMES, STF, SUMMARY
from cipmodel.io.results_workbook import build_results_workbook, new_sheet_names
from cipmodel.io.xlsx import read_bytes

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["in_place_losses", "write_in_place"]


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
    data = read_bytes(p)
    carried = load_for_results(
        data, p.name, new_sheet_names(result, extra_sheets), refuse_losses=True
    )
    built = build_results_workbook(
        result, simulation=simulation, extra_sheets=extra_sheets, workbook=carried.workbook
    )
    clean_stale_temps(p)
    backup = write_backup(p, data)
    try:
        atomic_write(p, built.save)
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
    custom views, protected ranges, cell watches and smart tags; and sheets of the user's
    that a result sheet would replace. Things on result sheets of an earlier cipmodel run
    (those carrying its mark) are not counted: those sheets are rewritten anyway. Cells,
    formulas with their saved values included, are carried (:mod:`cipmodel.io.carry`).

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
    return workbook_losses(read_bytes(p), p.name, [*sheets, PROVENANCE_SHEET])
