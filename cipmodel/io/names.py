"""Defined names for the headline figures, so finance teams can link their own workbooks.

Each trust's headline figures on the Summary sheet get a workbook-level name
``<CODE>_<figure>`` (``RXX_CT_variance``, ``RXX_CIP_needed``, ``RXX_STF_earned``,
``RXX_finance_score``...; :data:`HEADLINES` lists them); a portfolio's "All trusts" column
gets ``All_trusts_<figure>`` where it has the figure. In another workbook,
``=results.xlsx!RXX_CT_variance`` reads the figure, wherever the Summary row is in a later
version. Each plan year ``n`` of each trust gets ``<CODE>_Y<n>_<figure>`` on the Plan
years sheet (:data:`YEAR_HEADLINES`, :func:`year_names`). :func:`drop_names_on` removes an
earlier run's names when results are written into a workbook again.

A trust code is made a valid Excel name: any character other than a letter, digit or
underscore becomes ``_``, and a code that does not start with a letter gets a leading
``_`` (``5A1`` -> ``_5A1_CT``). Two codes that come out the same keep the first; the other
gets ``_2``, ``_3``... Only cells that hold a figure get a name (no name for a control
total a trust does not have).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from openpyxl.utils import get_column_letter
from openpyxl.workbook.defined_name import DefinedName

from cipmodel.io.grid import Grid
from cipmodel.io.results_base import sheet_ref

__all__ = [
    "ALL_TRUSTS_PREFIX",
    "HEADLINES",
    "board_names",
    "drop_names_on",
    "excel_name_prefix",
    "headline_names",
    "year_names",
    "YEAR_HEADLINES",
]

#: (Summary row key, name suffix, what it is): in the order they are defined.
HEADLINES: tuple[tuple[str, str, str], ...] = (
    ("surplus", "surplus_pre_STF", "surplus/(deficit) before STF/PSF, plan year 1 (£000)"),
    ("ct", "CT", "control total, pre-STF basis (£000)"),
    ("ct_variance", "CT_variance", "forecast against the control total (£000)"),
    ("ct_met", "CT_met", '"yes" or "NO" (All trusts: how many meet it)'),
    ("cip_planned", "CIP_planned", "CIP planned in year (£000)"),
    ("cip_planned_pct", "CIP_planned_pct", "CIP planned, share of expenditure before CIP"),
    ("cip_needed", "CIP_needed", "CIP needed to meet the control total (£000)"),
    ("cip_needed_pct", "CIP_needed_pct", "CIP needed, share of expenditure before CIP"),
    ("cip_gap", "CIP_gap", "CIP needed less CIP planned (£000)"),
    ("stf_earned_total", "STF_earned", "STF/PSF earned in the year (£000)"),
    ("stf_lost_total", "STF_lost", "STF/PSF lost (forfeited) (£000)"),
    ("reported_surplus", "reported_surplus", "reported surplus/(deficit) with STF/PSF (£000)"),
    ("finance_score", "finance_score", "SOF finance and use of resources score, 1 to 4"),
    ("finance_trigger", "finance_trigger", '"yes" when the score is 3 or 4'),
    ("segment", "segment", "candidate segment, finance theme only"),
)
#: (Plan years row key, name suffix): each plan year's headline figures on the Plan years
#: sheet, named ``<CODE>_Y<n>_<suffix>`` (``RXX_Y2_CT_variance``).
YEAR_HEADLINES: tuple[tuple[str, str], ...] = (
    ("surplus", "surplus_pre_STF"),
    ("ct", "CT"),
    ("ct_variance", "CT_variance"),
    ("ct_met", "CT_met"),
    ("ct_post_stf", "CT_post_STF"),
    ("reported_surplus", "reported_surplus"),
    ("ct_variance_post_stf", "CT_variance_post_STF"),
    ("ct_met_post_stf", "CT_met_post_STF"),
    ("cip_planned", "CIP_planned"),
    ("cip_needed", "CIP_needed"),
    ("cip_needed_pct", "CIP_needed_pct"),
    ("cip_gap", "CIP_gap"),
    ("ra_expected", "CIP_risk_adjusted"),
    ("ra_forecast", "forecast_risk_adjusted"),
    ("underlying", "underlying_surplus"),
    ("stf_earned", "STF_earned"),
    ("stf_lost", "STF_lost"),
    ("finance_score", "finance_score"),
    ("segment", "segment"),
)
#: The prefix of a portfolio's "All trusts" column.
ALL_TRUSTS_PREFIX = "All_trusts"

_NOT_NAME = re.compile(r"[^A-Za-z0-9_]")


def excel_name_prefix(code: str) -> str:
    """A trust code as the start of an Excel name (letters, digits, ``_``; a letter first)."""
    text = _NOT_NAME.sub("_", code)
    return text if text[:1].isalpha() else f"_{text}"


class _Namer:
    """Defines names on a workbook's cells of one sheet, leaving any name the workbook
    already has (the user's own, or one defined earlier) as it is."""

    def __init__(self, wb: Any, title: str) -> None:
        self.wb = wb
        self.sheet = sheet_ref(title)
        self.taken: set[str] = {n.casefold() for n in wb.defined_names}
        self.out: dict[str, str] = {}

    def define(self, name: str, row: int, col: int) -> None:
        if name.casefold() in self.taken:
            return
        ref = f"{self.sheet}!${get_column_letter(col)}${row}"
        self.wb.defined_names[name] = DefinedName(name, attr_text=ref)
        self.taken.add(name.casefold())
        self.out[name] = ref


def _unique_prefixes(bases: Sequence[str]) -> list[str]:
    """Each name prefix made unique ignoring case: a repeat gets ``_2``, ``_3``..."""
    prefixes: list[str] = []
    seen: set[str] = set()
    for base in bases:
        prefix, k = base, 1
        while prefix.casefold() in seen:
            k += 1
            prefix = f"{base}_{k}"
        seen.add(prefix.casefold())
        prefixes.append(prefix)
    return prefixes


def headline_names(
    wb: Any,
    grid: Grid,
    rows: Mapping[str, int],
    columns: Sequence[tuple[str, int]],
) -> dict[str, str]:
    """Define the headline names on ``wb`` for the Summary ``grid``: ``columns`` are
    (trust code, column) pairs, ``("", col)`` for All trusts. Returns name -> reference.

    A name the workbook already has (the user's own, in place) is left as it is.
    """
    namer = _Namer(wb, grid.title)
    bases = [ALL_TRUSTS_PREFIX if not code else excel_name_prefix(code) for code, _c in columns]
    for prefix, (_code, col) in zip(_unique_prefixes(bases), columns, strict=True):
        for key, suffix, _what in HEADLINES:
            row = rows.get(key)
            if row is None or grid.get(row, col) is None:
                continue
            namer.define(f"{prefix}_{suffix}", row, col)
    return namer.out


def year_names(
    wb: Any,
    grid: Grid,
    rows: Mapping[tuple[int, str], int],
    columns: tuple[int, int],
    codes: Sequence[str],
) -> dict[str, str]:
    """Define each plan year's headline names on ``wb`` for the Plan years ``grid``:
    ``rows`` maps (trust index, row key) to the row; ``columns`` are the first and last
    plan-year columns (plan year ``n`` in column ``first + n - 1``). Only cells that hold a
    figure get a name; a name already taken is left as it is. Returns name -> reference."""
    namer = _Namer(wb, grid.title)
    first_col, last_col = columns
    prefixes = _unique_prefixes([excel_name_prefix(code) for code in codes])
    for i, prefix in enumerate(prefixes):
        for key, suffix in YEAR_HEADLINES:
            row = rows.get((i, key))
            if row is None:
                continue
            for col in range(first_col, last_col + 1):
                if grid.get(row, col) is not None:
                    namer.define(f"{prefix}_Y{col - first_col + 1}_{suffix}", row, col)
    return namer.out


def board_names(wb: Any, board: Any, code: str) -> dict[str, str]:
    """Define the board summary's headline names on ``wb``: ``board.cells`` maps a name
    suffix (``CT_post_STF``, ``CIP_unidentified``...) to its (row, column) on the board sheet
    ``board.ws``; the prefix is the trust's code, or ``All_trusts`` for a portfolio
    (``code`` empty). Returns name -> reference; a name already taken is left as it is."""
    namer = _Namer(wb, board.ws.title)
    prefix = excel_name_prefix(code) if code else ALL_TRUSTS_PREFIX
    for suffix, (row, col) in board.cells.items():
        namer.define(f"{prefix}_{suffix}", row, col)
    return namer.out


def drop_names_on(wb: Any, titles: Sequence[str]) -> list[str]:
    """Remove the workbook-level names that point only at sheets ``titles`` (an earlier
    run's headline names, before its sheets are written again); return them."""
    keys = {t.casefold() for t in titles}
    gone = []
    for name, dn in list(wb.defined_names.items()):
        try:
            dests = list(dn.destinations)
        except (AttributeError, ValueError, TypeError):  # a formula or constant, not a range
            continue
        if dests and all(sheet.strip("'").casefold() in keys for sheet, _ref in dests):
            del wb.defined_names[name]
            gone.append(name)
    return gone
