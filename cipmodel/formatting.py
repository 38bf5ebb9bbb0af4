"""Number formatting shared by the CLI, the JSON writers, the workbook and the report (one rule
for each), and the trust types as a reader knows them."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import SupportsFloat, SupportsIndex

__all__ = ["TYPE_LABELS", "amount", "json_float", "money", "pct"]

#: Trust types, and the sector tables' "all trusts" row, as a reader knows them (the
#: results workbook and the board report both show them so).
TYPE_LABELS = {
    "acute": "Acute",
    "specialist": "Specialist",
    "mental_health": "Mental health",
    "community": "Community",
    "ambulance": "Ambulance",
    "all trusts": "All trusts",
}


def json_float(x: SupportsFloat | SupportsIndex) -> float | None:
    """A JSON-safe float rounded to 6 decimals; None for NaN or infinity."""
    v = float(x)
    return None if not math.isfinite(v) else round(v, 6)


def money(x: float | None) -> str:
    """£000 with thousands separators, deficits in brackets; 'n/a' for missing.

    Rounded as a spreadsheet's number format shows it: to 15 significant digits, then
    halves away from zero (14,762.5 shows as 14,763, as in Excel and LibreOffice; Python's
    ``round`` would give the even 14,762), so the terminal, the PDF and the workbook agree.
    """
    if x is None or not math.isfinite(float(x)):
        return "n/a"
    v = int(Decimal(f"{float(x):.15g}").quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return f"({abs(v):,})" if v < 0 else f"{v:,}"


def amount(x: float | None) -> str:
    """£000 or a count in a table cell, as the results workbook's number format shows it:
    :func:`money` (thousands separators, deficits in brackets) with zero as '-'."""
    s = money(x)
    return "-" if s == "0" else s


def pct(x: float | None, digits: int = 1) -> str:
    """A fraction as a percentage ('11.0%'); 'n/a' for missing."""
    return "n/a" if x is None or not math.isfinite(float(x)) else f"{100 * float(x):.{digits}f}%"
