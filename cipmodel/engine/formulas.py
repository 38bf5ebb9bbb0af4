"""The savings and growth formulas: one definition each, used by the engine and the generator.

These are the model's equations in their plainest form. The projection
(:mod:`cipmodel.engine.project`) computes with them directly or, where speed needs a closed
form, with an equivalent that ``tests/test_formulas.py`` checks against them; the synthetic
national portfolio (:mod:`cipmodel.examples.national`) calibrates with them, so the generator
cannot drift from the engine.

Growth of a line in one plan year
    ``rate[l] = (1 + Σ_k drivers[k] · PRICE[l, k]) · (1 + activity_growth · VOLUME[l])``
    where ``PRICE`` maps the price drivers (tariff uplift less efficiency factor, pay award,
    non-pay and drug inflation) onto lines and ``VOLUME`` marks the lines that move with
    activity (both from the schema).

Ramp of a CIP scheme
    In the ``k``-th month from its start month (``k = 0`` in the start month) a scheme
    delivers ``min(1, (k + 1) / (ramp_months + 1))`` of a full month of its full-year effect.
    Summed over the ``n`` months of its start year from the start month on, that is
    ``n (n + 1) / (2 (ramp_months + 1))`` months if the ramp is not finished by the year end,
    else ``n - ramp_months / 2``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from cipmodel.inputs.record_types import DRIVER_RATES
from cipmodel.inputs.schema import load_schema

__all__ = [
    "DRIVERS",
    "PRICE",
    "VOLUME",
    "line_growth",
    "ramp_months_in_year",
    "ramp_phase",
]

_SCHEMA = load_schema()
_LINES: tuple[str, ...] = tuple(_SCHEMA.lines)

#: The growth drivers, in the order of the drivers axis (the Drivers table's).
DRIVERS: tuple[str, ...] = DRIVER_RATES
_ACTIVITY = DRIVERS.index("activity_growth")


def _price_matrix() -> npt.NDArray[np.float64]:
    """(L, K) weights: each line's price driver as a combination of the drivers (schema)."""
    d = {name: i for i, name in enumerate(DRIVERS)}
    out = np.zeros((len(_LINES), len(DRIVERS)))
    for i, key in enumerate(_LINES):
        price = _SCHEMA.lines[key]["price"]
        if price == "net_tariff":
            out[i, d["tariff_uplift"]] = 1.0
            out[i, d["efficiency_factor"]] = -1.0
        elif price != "none":
            out[i, d[price]] = 1.0
    return out


#: (L, K) weight of each driver in each line's price growth.
PRICE: npt.NDArray[np.float64] = _price_matrix()
#: (L,) 1 for lines whose volume grows with activity, else 0.
VOLUME: npt.NDArray[np.float64] = np.array(
    [bool(_SCHEMA.lines[k]["volume"]) for k in _LINES], dtype=float
)


def line_growth(drivers: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """One year's growth factor of every line from that year's drivers.

    Parameters
    ----------
    drivers : array_like, shape (..., K)
        Driver values in :data:`DRIVERS` order [fraction per year].

    Returns
    -------
    ndarray, shape (..., L)
        ``(1 + drivers · PRICEᵀ) · (1 + activity_growth · VOLUME)`` [factor].
    """
    drv = np.asarray(drivers, dtype=float)
    price: npt.NDArray[np.float64] = np.einsum("...k,lk->...l", drv, PRICE)
    return (1.0 + price) * (1.0 + drv[..., _ACTIVITY, None] * VOLUME)


def ramp_phase(
    start: npt.ArrayLike, ramp: npt.ArrayLike, months: int = 12
) -> npt.NDArray[np.float64]:
    """Share of a full month of its full-year effect each scheme delivers, month by month.

    Parameters
    ----------
    start : array_like of int, shape (S,)
        Start month, 0-based on the month axis (0 = April of plan year 1).
    ramp : array_like of int, shape (S,)
        Months to reach the full monthly effect after the start month [months].
    months : int
        Length of the month axis.

    Returns
    -------
    ndarray, shape (S, months)
        ``clip((k + 1) / (ramp + 1), 0, 1)`` with ``k = month - start`` [fraction of a month].
    """
    s = np.asarray(start)
    k = np.arange(months)[None, :] - s[:, None]
    phase: npt.NDArray[np.float64] = np.clip((k + 1) / (np.asarray(ramp)[:, None] + 1.0), 0.0, 1.0)
    return phase


def ramp_months_in_year(n_in: npt.ArrayLike, ramp: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Months of full effect a ramping scheme delivers in its start year (closed form).

    Parameters
    ----------
    n_in : array_like of int
        Months of the start year from the start month on (1..12).
    ramp : array_like of int
        Ramp-up months.

    Returns
    -------
    ndarray
        ``n (n + 1) / (2 (ramp + 1))`` if ``n <= ramp + 1``, else ``n - ramp / 2`` [months];
        equal to the sum of :func:`ramp_phase` over those months.
    """
    n = np.asarray(n_in)
    r1 = np.asarray(ramp) + 1
    return np.where(n <= r1, n * (n + 1) / (2.0 * r1), n - (r1 - 1) / 2.0)
