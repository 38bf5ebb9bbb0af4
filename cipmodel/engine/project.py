"""The projection engine: every question is answered on arrays shaped (draw, trust, month).

Two steps:

1. :func:`~cipmodel.engine.compile.compile_plan` turns a validated
   :class:`~cipmodel.inputs.records.Portfolio` into :class:`~cipmodel.engine.compile.PlanArrays`
   (numpy arrays; no Python objects per scheme or month); see :mod:`cipmodel.engine.compile`.
2. :func:`project` runs those arrays for a set of :class:`Draws` and returns a
   :class:`Projection` with arrays shaped ``(draw, trust, line, month)`` and
   ``(draw, trust, month)``.

A plan run is one draw at planned values (:meth:`Draws.plan`): there is no second,
deterministic code path. A single trust is a portfolio of one.

Conventions: money in £000; rates as fractions; surplus positive, deficit negative;
month index 0 is April of the first plan year, so month ``m`` is plan year ``m // 12 + 1``,
financial-year month ``m % 12 + 1``. Costs are held as positive numbers and carry the sign
of their line (``schema.toml`` ``[lines]``) when the surplus is formed.

The model per trust, line ``l`` and month ``m`` in plan year ``y``:

``do_nothing[l, m] = base_month[l, m % 12] * growth[l, y]`` (from plan year 2 on, the base
month of the rows flagged recurrent only: a non-recurrent row is a one-off of year 1), where ``growth`` is the
cumulative product over plan years ``1..y`` of ``(1 + price_l) * (1 + volume_l * activity)``
(``price_l`` is the line's price driver: net tariff = tariff uplift − efficiency factor for
clinical income; pay award; drug or non-pay inflation; none);

``cip[l, m] = sum over schemes on l of value_fye / 12 * phase * delivered_share * scale``,
where ``phase`` ramps linearly from the start month (``(k + 1) / (ramp_months + 1)``
capped at 1, ``k`` months after the start) within the start year, is 1 in later years for a
recurrent scheme and 0 for a non-recurrent one;

``plan[l, m] = do_nothing[l, m] + cip[l, m]`` for income lines and ``− cip`` for cost lines;
``surplus_pre_stf[m] = sum_l sign_l * plan[l, m]`` (control-total basis, before STF/PSF).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cipmodel.engine.compile import (
    AGENCY,
    CATEGORIES,
    DRIVERS,
    FINANCING,
    IS_INCOME,
    IS_NON_OPERATING,
    IS_NON_PAY,
    IS_OPEX,
    IS_PAY,
    KIND,
    LINE_INDEX,
    LINES,
    RAGS,
    SIGN,
    STAGES,
    PlanArrays,
    compile_plan,
)
from cipmodel.engine.kernels import RunRate, cip_by_line, do_nothing_rate, scheme_year
from cipmodel.inputs.records import Portfolio

FloatArray = NDArray[np.float64]

__all__ = [
    "Draws",
    "Projection",
    "project",
    "year_one_cip_and_opex",
    # compiled in cipmodel.engine.compile, named here too for existing callers
    "AGENCY",
    "CATEGORIES",
    "DRIVERS",
    "FINANCING",
    "IS_INCOME",
    "IS_NON_OPERATING",
    "IS_NON_PAY",
    "IS_OPEX",
    "IS_PAY",
    "KIND",
    "LINES",
    "RAGS",
    "SIGN",
    "STAGES",
    "PlanArrays",
    "compile_plan",
]


@dataclass(frozen=True)
class Draws:
    """What varies between draws. Every field is optional: ``None`` means planned values.

    Attributes
    ----------
    n : int
        Number of draws (D).
    delivery : ndarray (D, S), optional
        Share of each scheme's planned effect delivered [fraction; 1 = as planned].
    slip : ndarray (D, S) int, optional
        Months each scheme starts late (0 = on time).
    driver_shift : ndarray broadcastable to (D, T, Y, 6), optional
        Added to the drivers [fraction].
    cip_scale : ndarray broadcastable to (D, T), optional
        Multiplies every scheme of a trust (used by the solver).
    extra_cip : ndarray broadcastable to (D, T), optional
        Additional flat, recurrent saving from month 1 on the other non-pay line
        [£000/yr] (a notional programme for trusts with no schemes; used by the solver).
    line_scale : ndarray broadcastable to (D, T, L), optional
        Multiplies each line's do-nothing run rate (e.g. agency spend above or below plan)
        [fraction; 1 = as planned].
    """

    n: int = 1
    delivery: ArrayLike | None = None
    slip: ArrayLike | None = None
    driver_shift: ArrayLike | None = None
    cip_scale: ArrayLike | None = None
    extra_cip: ArrayLike | None = None
    line_scale: ArrayLike | None = None

    @classmethod
    def plan(cls) -> Draws:
        """One draw at planned values."""
        return cls(n=1)


def _line_sum(arr: FloatArray, weights: FloatArray) -> FloatArray | None:
    """``sum_l weights[l] * arr[:, l]`` of a month-major ``(M, L, D, T)`` array, for weights
    in {-1, 0, 1}: an ``(M, D, T)`` array, or None if every weight is 0.

    Lines are added one at a time in line order, whole contiguous ``(D, T)`` blocks at a
    time, so every element is computed by the same sequence of IEEE operations whatever
    the number of draws: a draw's result does not depend on the chunk it is computed in
    (no BLAS, no pairwise reductions across draws).
    """
    idx = np.flatnonzero(weights)
    if idx.size == 0:
        return None
    first = int(idx[0])
    acc = arr[:, first].copy() if weights[first] > 0 else -arr[:, first]
    for li in idx[1:]:
        if weights[li] > 0:
            acc += arr[:, li]
        else:
            acc -= arr[:, li]
    return acc


def _public(arr: FloatArray | None, shape: tuple[int, int, int]) -> FloatArray:
    """(D, T, M) C-contiguous array from a month-major (M, D' , T) one (0 for None)."""
    if arr is None:
        return np.zeros(shape)
    out = np.empty(shape)
    out[...] = arr.transpose(1, 2, 0)
    return out


@dataclass(frozen=True, eq=False)
class Projection:
    """Result of :func:`project`. Arrays are computed on first use and cached.

    Attributes
    ----------
    plan : PlanArrays
        The compiled inputs.
    n_draws : int
        Number of draws (D).
    do_nothing : ndarray (D, T, L, M)
        Each line before CIP [£000, costs positive]. A read-only view (broadcast over draws
        when nothing that changes the run rate varies by draw).
    cip : ndarray (D, T, L, M)
        CIP effect on each line [£000, positive = better].
    cip_scheme_year : ndarray (D, S, Y)
        In-year effect of each scheme in each plan year [£000].

    Notes
    -----
    Internally arrays by line are held month-major, ``(M, L, D, T)``: the do-nothing run
    rate once when it does not vary by draw, the CIP only for the lines schemes act on.
    The aggregates (surplus, income, expenditure, agency, CIP total) are added up line by
    line from those in contiguous blocks; ``(D, T, L, M)`` arrays are views of month-major
    arrays, so sums over months (year to date) add whole blocks in month order. Either way
    a draw's numbers do not depend on how many draws are computed together.
    """

    plan: PlanArrays
    n_draws: int
    _rate: RunRate = field(repr=False)  # the do-nothing run rate, by line on demand
    _cip_c: FloatArray = field(repr=False)  # (M, L', D, T): CIP on the lines in _cip_lines
    _cip_lines: NDArray[np.intp] = field(repr=False)  # (L',) line indices
    _value: FloatArray = field(repr=False)  # (D', S) monthly full effect of each scheme
    _start: NDArray[np.int64] = field(repr=False)  # (D'', S) start month after slip

    # -- arrays by line -------------------------------------------------------------
    @cached_property
    def _dn(self) -> FloatArray:
        """(M, L, D' in {1, D}, T) the do-nothing run rate of every line."""
        return self._rate.full()

    @property
    def _shape(self) -> tuple[int, int, int, int]:
        return (self.n_draws, self.plan.n_trusts, len(LINES), self.plan.n_months)

    @property
    def _shape3(self) -> tuple[int, int, int]:
        return (self.n_draws, self.plan.n_trusts, self.plan.n_months)

    @property
    def do_nothing(self) -> FloatArray:
        """(D, T, L, M) each line before CIP [£000, costs positive]."""
        return np.broadcast_to(self._dn.transpose(2, 3, 1, 0), self._shape)

    @cached_property
    def cip(self) -> FloatArray:
        """(D, T, L, M) CIP effect on each line [£000, positive = better]."""
        d, t, n_l, m = self._shape
        out = np.zeros((m, n_l, d, t))
        out[:, self._cip_lines] = self._cip_c
        return out.transpose(2, 3, 1, 0)

    @cached_property
    def lines(self) -> FloatArray:
        """(D, T, L, M) each line after CIP [£000, costs positive] (a month-major view)."""
        d, t, n_l, m = self._shape
        out = np.empty((m, n_l, d, t))
        out[...] = self._dn
        for k, li in enumerate(self._cip_lines):
            if SIGN[li] > 0:
                out[:, li] += self._cip_c[:, k]
            else:
                out[:, li] -= self._cip_c[:, k]
        return out.transpose(2, 3, 1, 0)

    @cached_property
    def _line_ytd_cache(self) -> dict[tuple[int, ...], FloatArray]:
        return {}

    def line_ytd(self, lines: Sequence[int], months: int, year: int = 1) -> FloatArray:
        """(D, T, k) the selected lines after CIP [£000, costs positive] summed over the
        first ``months`` months of plan year ``year`` (1 = first).

        The same numbers as ``self.lines[..., :months].sum(-1)[..., lines]`` (months added
        one at a time, in order), without forming every line: the running sums of the
        selected lines are computed once and serve every ``months``.
        """
        key = (year, *(int(li) for li in lines))
        run = self._line_ytd_cache.get(key)
        if run is None:
            run = self._running_lines(key[1:], year)
            self._line_ytd_cache[key] = run
        out: FloatArray = run[months - 1].transpose(1, 2, 0)
        return out

    def _running_lines(self, lines: tuple[int, ...], year: int = 1) -> FloatArray:
        """(12, k, D, T) running sums over the months of plan year ``year`` of the selected
        lines after CIP."""
        d, t = self.n_draws, self.plan.n_trusts
        ms = slice(12 * (year - 1), 12 * year)
        run = np.empty((12, len(lines), d, t))
        cip_pos = {int(li): k for k, li in enumerate(self._cip_lines)}
        for j, li in enumerate(lines):
            run[:, j] = self._rate.line(li)[ms]
            k = cip_pos.get(li)
            if k is not None:
                if SIGN[li] > 0:
                    run[:, j] += self._cip_c[ms, k]
                else:
                    run[:, j] -= self._cip_c[ms, k]
        for m in range(1, 12):  # a month at a time, in order
            run[m] += run[m - 1]
        return run

    # Aggregates are built from four group sums per source (do-nothing, CIP), each line
    # read once: income, pay, non-pay and the signed non-operating lines.
    @cached_property
    def _groups(self) -> dict[str, FloatArray | None]:
        cl = self._cip_lines
        return {
            "income_dn": self._rate.line_sum(IS_INCOME.astype(float)),
            "pay_dn": self._rate.line_sum(IS_PAY.astype(float)),
            "non_pay_dn": self._rate.line_sum(IS_NON_PAY.astype(float)),
            "non_op_dn": self._rate.line_sum(SIGN * IS_NON_OPERATING),
            "income_cip": _line_sum(self._cip_c, IS_INCOME[cl].astype(float)),
            "pay_cip": _line_sum(self._cip_c, IS_PAY[cl].astype(float)),
            "non_pay_cip": _line_sum(self._cip_c, IS_NON_PAY[cl].astype(float)),
            "non_op_cip": _line_sum(self._cip_c, IS_NON_OPERATING[cl].astype(float)),
        }

    def _combine(
        self, dn: FloatArray | None, cip: FloatArray | None, sign: float = 1.0
    ) -> FloatArray:
        """(D, T, M) ``dn + sign * cip`` from month-major parts (None = 0)."""
        if dn is None and cip is None:
            return np.zeros(self._shape3)
        if cip is None:
            return _public(dn, self._shape3)
        if dn is None:
            return _public(cip if sign > 0 else -cip, self._shape3)
        out = np.empty(self._shape3)  # dn +/- cip written straight into the (D, T, M) layout
        (np.add if sign > 0 else np.subtract)(dn, cip, out=out.transpose(2, 0, 1))
        return out

    def _sum(self, mask: NDArray[np.bool_], signed: bool = False) -> FloatArray:
        """(D, T, M) sum over the masked lines after CIP (signed: with each line's sign)."""
        weight = np.asarray(mask, dtype=float)
        w_dn = (SIGN if signed else np.ones_like(SIGN)) * weight
        # lines = do_nothing + SIGN * cip, so sign * lines = sign * do_nothing + cip
        w_cip = (weight if signed else SIGN * weight)[self._cip_lines]
        return self._combine(self._rate.line_sum(w_dn), _line_sum(self._cip_c, w_cip))

    @cached_property
    def operating_income(self) -> FloatArray:
        """(D, T, M) operating income after CIP [£000]."""
        g = self._groups
        return self._combine(g["income_dn"], g["income_cip"])

    @cached_property
    def pay(self) -> FloatArray:
        """(D, T, M) pay costs after CIP [£000]."""
        g = self._groups
        return self._combine(g["pay_dn"], g["pay_cip"], -1.0)

    @cached_property
    def non_pay(self) -> FloatArray:
        """(D, T, M) non-pay operating costs after CIP [£000]."""
        g = self._groups
        return self._combine(g["non_pay_dn"], g["non_pay_cip"], -1.0)

    @cached_property
    def operating_expenditure(self) -> FloatArray:
        """(D, T, M) pay + non-pay after CIP [£000]."""
        return self.pay + self.non_pay

    @cached_property
    def operating_expenditure_do_nothing(self) -> FloatArray:
        """(D, T, M) pay + non-pay before CIP [£000]: the CIP % denominator."""
        g = self._groups
        return self._combine(g["pay_dn"], None) + self._combine(g["non_pay_dn"], None)

    @property
    def ebitda(self) -> FloatArray:
        """(D, T, M) operating income − operating expenditure [£000]."""
        return self.operating_income - self.operating_expenditure

    @cached_property
    def non_operating(self) -> FloatArray:
        """(D, T, M) net non-operating costs (depreciation, PDC, interest payable − receivable)."""
        g = self._groups
        return -self._combine(g["non_op_dn"], g["non_op_cip"])

    @cached_property
    def surplus_pre_stf(self) -> FloatArray:
        """(D, T, M) surplus/(deficit) on the control-total basis before STF/PSF [£000]."""
        return self.operating_income - self.operating_expenditure - self.non_operating

    @cached_property
    def agency(self) -> FloatArray:
        """(D, T, M) agency pay after CIP [£000]."""
        return self._sum(np.arange(len(LINES)) == AGENCY)

    @cached_property
    def cip_total(self) -> FloatArray:
        """(D, T, M) CIP effect on the surplus, all lines [£000]."""
        return self._combine(None, _line_sum(self._cip_c, np.ones(len(self._cip_lines))))

    @cached_property
    def cip_scheme_year(self) -> FloatArray:
        """(D, S, Y) in-year effect of each scheme in each plan year [£000]."""
        return scheme_year(self.plan, self._value, self._start, self.n_draws)

    def cip_of_schemes(self, schemes: ArrayLike) -> FloatArray:
        """(D, len(schemes), Y) in-year effect of the selected schemes [£000].

        The same numbers as ``cip_scheme_year[:, schemes]``, computed for those schemes only.
        """
        sel = np.asarray(schemes, dtype=np.intp)
        n_s = int(sel.size)
        sub = replace(
            self.plan,
            scheme_trust=self.plan.scheme_trust[sel],
            scheme_ramp=self.plan.scheme_ramp[sel],
            scheme_recurrent=self.plan.scheme_recurrent[sel],
            scheme_fye=self.plan.scheme_fye[sel],
        )
        value = np.broadcast_to(self._value, (self._value.shape[0], self.plan.n_schemes))[:, sel]
        start = np.broadcast_to(self._start, (self._start.shape[0], self.plan.n_schemes))[:, sel]
        out = scheme_year(sub, value, start, self.n_draws)
        return out.reshape(self.n_draws, n_s, self.plan.n_years)

    # -- by year ------------------------------------------------------------------
    @staticmethod
    def by_year(arr: FloatArray) -> FloatArray:
        """Sum the month axis (last) into plan years: (..., M) -> (..., Y)."""
        out: FloatArray = arr.reshape(*arr.shape[:-1], -1, 12).sum(axis=-1)
        return out

    @staticmethod
    def ytd(arr: FloatArray) -> FloatArray:
        """Year-to-date running sums within each plan year: (..., M) -> (..., Y, 12)."""
        return np.cumsum(arr.reshape(*arr.shape[:-1], -1, 12), axis=-1)

    def control_total_ytd(self) -> FloatArray:
        """(T, Y, 12) year-to-date control-total plan [£000]; NaN where no target."""
        return np.cumsum(self.plan.ct_month, axis=-1)

    @cached_property
    def surplus_ytd(self) -> FloatArray:
        """(D, T, Y, 12) year-to-date pre-STF surplus, ``ytd(surplus_pre_stf)`` [£000]."""
        return self.ytd(self.surplus_pre_stf)

    def ytd_variance(self) -> FloatArray:
        """(D, T, Y, 12) YTD pre-STF surplus minus YTD control-total plan [£000]."""
        return self.surplus_ytd - self.control_total_ytd()[None]


def _scheme_inputs(plan: PlanArrays, draws: Draws) -> tuple[FloatArray, NDArray[np.int64]]:
    """Full monthly effect ``value_fye / 12 x delivery x scale`` (D' , S) and start month
    after slip (D'', S)."""
    value = (plan.scheme_fye / 12.0)[None, :]
    if draws.delivery is not None:
        value = value * np.asarray(draws.delivery, dtype=float)
    if draws.cip_scale is not None:
        scale = np.broadcast_to(np.asarray(draws.cip_scale, dtype=float), (draws.n, plan.n_trusts))
        value = value * scale[:, plan.scheme_trust]
    start = plan.scheme_start[None, :].astype(np.int64)
    if draws.slip is not None:
        start = start + np.asarray(draws.slip, dtype=np.int64)
    return value, start


def _cip_lines(plan: PlanArrays, extra: bool) -> NDArray[np.intp]:
    used = set(np.unique(plan.scheme_line).tolist())
    if extra:
        used.add(LINE_INDEX["other_non_pay"])
    return np.array(sorted(used), dtype=np.intp)


def project(plan: PlanArrays, draws: Draws | None = None) -> Projection:
    """Project every trust, line and month for each draw.

    Parameters
    ----------
    plan : PlanArrays
        From :func:`compile_plan` (or :meth:`PlanArrays.truncate` to project fewer years).
    draws : Draws, optional
        What varies between draws; default one draw at planned values.

    Returns
    -------
    Projection
        Computed lazily: only the aggregates asked for are formed. Each draw's numbers are
        computed by the same operations whatever the number of draws, so a draw gives
        bit-identical results alone or in a batch of any size.
    """
    draws = draws or Draws.plan()
    n_d = draws.n
    dn = do_nothing_rate(plan, draws.driver_shift, draws.line_scale)
    value, start = _scheme_inputs(plan, draws)
    lines = _cip_lines(plan, draws.extra_cip is not None)
    cip = cip_by_line(plan, value, start, lines, n_d)
    if draws.extra_cip is not None:
        extra = np.broadcast_to(np.asarray(draws.extra_cip, dtype=float), (n_d, plan.n_trusts))
        cip[:, int(np.searchsorted(lines, LINE_INDEX["other_non_pay"]))] += extra / 12.0
    if not plan.month_mask.all():
        cip *= plan.month_mask.T[:, None, None, :]
    return Projection(
        plan=plan, n_draws=n_d, _rate=dn, _cip_c=cip, _cip_lines=lines, _value=value, _start=start
    )


def year_one_cip_and_opex(
    portfolio: Portfolio,
) -> tuple[tuple[str, ...], FloatArray, FloatArray]:
    """Each trust's year-1 planned CIP and do-nothing operating expenditure [£000].

    The measure a scenario's ``cip.delivered_pct`` scales against (the CIP share of
    operating expenditure), from a plan run at planned values.

    Returns
    -------
    (codes, cip_planned, opex_do_nothing)
        Trust codes in plan order and two arrays of shape ``(trust,)`` [£000/yr].
    """
    plan = compile_plan(portfolio)
    proj = project(plan)
    planned = proj.by_year(proj.cip_total)[0, :, 0]
    opex = proj.by_year(proj.operating_expenditure_do_nothing)[0, :, 0]
    return tuple(plan.codes), planned, opex
