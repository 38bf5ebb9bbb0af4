"""Number formatting shared by the CLI and the JSON writers (one rule for each)."""

from __future__ import annotations

import math
from typing import SupportsFloat, SupportsIndex

__all__ = ["json_float", "money", "pct"]


def json_float(x: SupportsFloat | SupportsIndex) -> float | None:
    """A JSON-safe float rounded to 6 decimals; None for NaN or infinity."""
    v = float(x)
    return None if not math.isfinite(v) else round(v, 6)


def money(x: float | None) -> str:
    """£000 with thousands separators, deficits in brackets; 'n/a' for missing."""
    if x is None or not math.isfinite(float(x)):
        return "n/a"
    v = round(float(x))
    return f"({abs(v):,})" if v < 0 else f"{v:,}"


def pct(x: float | None, digits: int = 1) -> str:
    """A fraction as a percentage ('11.0%'); 'n/a' for missing."""
    return "n/a" if x is None or not math.isfinite(float(x)) else f"{100 * float(x):.{digits}f}%"
