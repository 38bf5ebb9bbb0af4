"""The array kernels of the projection (:mod:`cipmodel.engine.project`): the do-nothing run
rate formed line by line, the CIP on each line from the schemes' ramps, and each scheme's
in-year effect.

Each draw's numbers are computed by the same operations whatever the number of draws, and
every fast path here gives the same bits as the plain formula it stands in for (the per-bin
order of the CIP events, the products of the run rate, the tabulated closed form of a
scheme's first year), so a plan run and a simulation chunk agree exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cipmodel.engine.compile import PlanArrays
from cipmodel.engine.formulas import line_growth, ramp_months_in_year

FloatArray = NDArray[np.float64]

__all__ = ["RunRate", "do_nothing_rate", "cip_by_line", "scheme_year"]


@dataclass(frozen=True)
class RunRate:
    """The do-nothing run rate, base month x cumulative driver growth, formed a line at a
    time when asked (the aggregates never need every line at once).

    ``line(l)[y * 12 + m, d, t] = base[m, l, t] * growth[y, l, d, t]`` (x the month mask),
    the same product as the full array's, so either way gives the same numbers.
    """

    base: FloatArray  # (12, L, T) base month of each line
    growth: FloatArray  # (Y, L, D' in {1, D}, T) cumulative growth
    mask: NDArray[np.bool_] | None  # (M, 1, T) months that count, None when all do
    # (12, L, T) base month of plan years 2 on (the recurrent rows), None when it is ``base``
    base_later: FloatArray | None = None

    def line(self, li: int, out: FloatArray | None = None) -> FloatArray:
        """(M, D', T) the run rate of line ``li`` (into ``out``, if given)."""
        n_y, _, d_n, n_t = self.growth.shape
        buf = np.empty((n_y, 12, d_n, n_t)) if out is None else out.reshape(n_y, 12, d_n, n_t)
        np.multiply(self.base[None, :, li, None, :], self.growth[:, None, li], out=buf)
        if self.base_later is not None and n_y > 1:  # non-recurrent rows: year 1 only
            np.multiply(
                self.base_later[None, :, li, None, :], self.growth[1:, None, li], out=buf[1:]
            )
        res = buf.reshape(n_y * 12, d_n, n_t)
        if self.mask is not None:
            res *= self.mask
        return res

    def full(self) -> FloatArray:
        """(M, L, D', T) every line."""
        n_y, n_l, d_n, n_t = self.growth.shape
        out = np.empty((n_y * 12, n_l, d_n, n_t))
        for li in range(n_l):
            out[:, li] = self.line(li)
        return out

    def line_sum(self, weights: FloatArray) -> FloatArray | None:
        """``sum_l weights[l] * line(l)`` for weights in {-1, 0, 1}, as the projection's line sums
        adds them (line order), or None if every weight is 0."""
        idx = np.flatnonzero(weights)
        if idx.size == 0:
            return None
        first = int(idx[0])
        acc = self.line(first)
        if weights[first] < 0:
            np.negative(acc, out=acc)
        tmp = None
        for li in idx[1:]:
            tmp = self.line(int(li), tmp)
            if weights[li] > 0:
                acc += tmp
            else:
                acc -= tmp
        return acc


def do_nothing_rate(
    plan: PlanArrays, driver_shift: ArrayLike | None, line_scale: ArrayLike | None
) -> RunRate:
    """The do-nothing run rate (M, L, D' in {1, D}, T), base month x cumulative driver growth,
    formed line by line when asked."""
    drv = plan.drivers[None]
    if driver_shift is not None:
        drv = drv + np.asarray(driver_shift, dtype=float)
    rate = line_growth(drv).swapaxes(-1, -2)  # (D', T, Y, L) -> (D', T, L, Y)
    growth = cast(FloatArray, np.cumprod(rate, axis=-1))  # (D', T, L, Y)
    if line_scale is not None:
        # (D, T, L), (T, L) or (L,) broadcast from the right against (D', T, L, Y)
        growth = growth * np.asarray(line_scale, dtype=float)[..., None]
    # line(l)[y * 12 + m, d, t] = base[t, l, m] * growth[d, t, l, y]
    # both contiguous along trusts, so each line's product runs along contiguous rows
    return RunRate(
        base=np.ascontiguousarray(plan.base_month.transpose(2, 1, 0)),
        growth=np.ascontiguousarray(growth.transpose(3, 2, 0, 1)),
        mask=None if plan.month_mask.all() else plan.month_mask.T[:, None, :],
        base_later=(
            None
            if plan.base_month_recurrent is None
            else np.ascontiguousarray(plan.base_month_recurrent.transpose(2, 1, 0))
        ),
    )


def cip_by_line(
    plan: PlanArrays,
    value: FloatArray,
    start: NDArray[np.int64],
    lines: NDArray[np.intp],
    n_d: int,
) -> FloatArray:
    """(M, L', D, T) CIP on each line in ``lines`` from the schemes' ramps.

    Each scheme's monthly effect is piecewise linear in the month: 0 before its start, a
    ramp of ``value / (ramp + 1)`` a month up to ``value`` within its start year, then
    ``value`` (recurrent) or 0 (non-recurrent) in later years. Its second difference is
    zero except at two points (ramp starts, ramp stops) plus two more at the end of the
    start year (the jump to the later-year level), so the effect of all schemes is
    accumulated as those "events" with one ``np.bincount`` and turned into months with two
    running sums over months: O(D x S) work instead of O(D x S x M).
    """
    n_t, n_m = plan.n_trusts, plan.n_months
    n_lc = len(lines)
    width = n_m + 1  # one slot past the horizon collects the events that fall beyond it
    d_v = max(value.shape[0], start.shape[0])
    value = np.broadcast_to(value, (d_v, plan.n_schemes))
    start = np.broadcast_to(start, (d_v, plan.n_schemes))
    r1 = plan.scheme_ramp + 1
    # events are binned month-major, bin = ((e * L' + l') * D + d) * T + t, so the running
    # sums over months add whole contiguous blocks and the result needs no transposition.
    # They are listed (event, scheme, draw): one scheme's events of consecutive draws fall
    # in neighbouring bins (the same line, trust and month), so the scatter walks memory
    # nearly in order; each bin still sums its events in (event, scheme) order.
    block = n_lc * d_v * n_t  # one month of every draw
    row = np.searchsorted(lines, plan.scheme_line) * (d_v * n_t) + plan.scheme_trust
    base = row[:, None] + (np.arange(d_v, dtype=np.intp) * n_t)[None, :]  # (S, D)
    n_ev = 2 if n_m <= 12 else 4
    # (S, D), (S, D), (S, 1): start read across once, then in order
    value_t, start_t, r1_t = value.T, np.ascontiguousarray(start.T), r1[:, None]
    idx = np.empty((n_ev, plan.n_schemes, d_v), dtype=np.intp)
    wts = np.empty((n_ev, plan.n_schemes, d_v))
    np.divide(value_t, r1_t, out=wts[0])  # the ramp's slope starts ...
    np.negative(wts[0], out=wts[1])  # ... and stops
    np.minimum(start_t, n_m, out=idx[0])
    np.add(start_t, r1_t, out=idx[1])
    if n_m > 12:  # later years: the ramp stops at the year end, then a jump to the level
        year_end = (start_t // 12 + 1) * 12  # of later years (the full effect or 0)
        np.minimum(idx[1], year_end, out=idx[1])
        level = np.maximum(np.minimum(year_end - start_t, r1_t), 0) * wts[0]
        recurrent = plan.scheme_recurrent[:, None]
        np.subtract(np.where(recurrent, value_t, 0.0), level, out=wts[2])
        np.negative(wts[2], out=wts[3])
        np.minimum(year_end, n_m, out=idx[2])
        np.minimum(year_end + 1, n_m, out=idx[3])
    np.minimum(idx[1], n_m, out=idx[1])
    idx *= block
    idx += base[None]
    if plan.n_schemes:
        # with weights, bincount sums floats
        summed = cast(
            FloatArray,
            np.bincount(idx.ravel(), weights=wts.ravel(), minlength=width * block),
        )
        events = summed.reshape(width, n_lc, d_v, n_t)
    else:
        events = np.zeros((width, n_lc, d_v, n_t))
    # two running sums over months, a month at a time (fixed order), in one sweep: ``first``
    # holds the first running sum of the month before, ``events`` becomes the second
    first = events[0].copy()
    for e in range(1, n_m):
        first += events[e]  # first[e] = first[e - 1] + events[e]
        np.add(events[e - 1], first, out=events[e])  # second[e] = second[e - 1] + first[e]
    if d_v == n_d:  # already month-major (M, L', D, T)
        return events[:n_m]
    cip = np.empty((n_m, n_lc, n_d, n_t))
    cip[...] = events[:n_m]
    return cip


@lru_cache(maxsize=8)
def _year_one_months(max_ramp: int) -> FloatArray:
    """(14, max_ramp + 1) months of full effect in plan year 1 by start month (rows 0-11;
    row 12: a later start, row 13 (index -1): an earlier one) and ramp: the values of
    :func:`ramp_months_in_year`, computed by it."""
    n_in = (12 - np.arange(12, dtype=np.int64))[:, None]
    ramp = np.arange(max_ramp + 1, dtype=np.int_)[None, :]
    table = np.zeros((14, max_ramp + 1))
    table[:12] = ramp_months_in_year(n_in, ramp)
    table.flags.writeable = False
    return table


def scheme_year(
    plan: PlanArrays, value: FloatArray, start: NDArray[np.int64], n_d: int
) -> FloatArray:
    """(D, S, Y) in-year effect of each scheme, in closed form from its ramp.

    In its start year a scheme starting ``n`` months before the year end delivers
    ``n (n + 1) / (2 (ramp + 1))`` months of its full effect if the ramp is not finished by
    then, else ``n - ramp / 2``; in later years 12 months (recurrent) or none.
    """
    n_y = plan.n_years
    if n_y == 1:  # the same closed form, looked up by start month (a simulation's case)
        table = _year_one_months(int(plan.scheme_ramp.max()) if plan.n_schemes else 0)
        months = table[np.clip(start, -1, 12), plan.scheme_ramp][..., None]
    else:
        start_year = start // 12
        n_in = 12 - (start - 12 * start_year)  # months of the start year from the start on
        first = ramp_months_in_year(n_in, plan.scheme_ramp)
        years = np.arange(n_y)
        later = np.where(plan.scheme_recurrent, 12.0, 0.0)
        months = np.where(
            years == start_year[..., None],
            first[..., None],
            np.where(years > start_year[..., None], later[:, None], 0.0),
        )
    out = value[..., None] * months
    live = np.arange(n_y)[None, :] < plan.horizon[plan.scheme_trust][:, None]
    if not live.all():
        out = out * live[None]
    if out.shape[0] != n_d:
        out = np.broadcast_to(out, (n_d, plan.n_schemes, n_y))
    return np.ascontiguousarray(out)
