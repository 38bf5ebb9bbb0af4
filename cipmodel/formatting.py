"""Number formatting shared by the CLI and the JSON writers (one rule for each)."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import SupportsFloat, SupportsIndex

__all__ = ["json_float", "money", "pct"]


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


def pct(x: float | None, digits: int = 1) -> str:
    """A fraction as a percentage ('11.0%'); 'n/a' for missing."""
    return "n/a" if x is None or not math.isfinite(float(x)) else f"{100 * float(x):.{digits}f}%"
