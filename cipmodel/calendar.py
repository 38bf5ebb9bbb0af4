"""The NHS financial calendar and the CIP share: one definition of each, used everywhere.

A financial year runs April to March; month 1 is April. Quarters end in June, September,
December and March (months 3, 6, 9, 12). Year-to-date (YTD) figures at a quarter end are
the sums of months 1 to that month.

The CIP share is savings as a fraction of operating expenditure, the measure NHS plans and
the evidence bands use (domain.md §4): ``cip / opex`` where ``opex > 0``, else NaN (a trust
with no operating expenditure has no meaningful share).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "MONTHS",
    "MONTHS_PER_YEAR",
    "MONTH_NAMES",
    "QUARTERS",
    "QUARTER_END_INDEX",
    "QUARTER_END_MONTHS",
    "cip_share",
]

#: Months in a financial year.
MONTHS_PER_YEAR: Final = 12
#: Financial-year months, 1 = April .. 12 = March.
MONTHS: Final = tuple(range(1, MONTHS_PER_YEAR + 1))
#: Short month names in financial-year order.
MONTH_NAMES: Final = (
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
    "Jan",
    "Feb",
    "Mar",
)
#: Quarter keys as they appear in JSON and tables.
QUARTERS: Final = ("q1", "q2", "q3", "q4")
#: The last month of each quarter (1-based financial-year month).
QUARTER_END_MONTHS: Final = (3, 6, 9, 12)
#: The same months as 0-based indexes into a month axis.
QUARTER_END_INDEX: Final = tuple(m - 1 for m in QUARTER_END_MONTHS)


def cip_share(cip: npt.ArrayLike, opex: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """CIP as a share of operating expenditure.

    Parameters
    ----------
    cip : array_like
        Savings [£000].
    opex : array_like
        Operating expenditure on the same basis (usually do-nothing, before CIP) [£000].

    Returns
    -------
    ndarray
        ``cip / opex`` where ``opex > 0``, else NaN [fraction of operating expenditure].
    """
    c = np.asarray(cip, dtype=float)
    o = np.asarray(opex, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(o > 0, c / np.where(o > 0, o, 1.0), np.nan)
