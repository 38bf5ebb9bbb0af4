"""Compile a portfolio to arrays: the first step of the engine.

:func:`compile_plan` turns a validated :class:`~cipmodel.inputs.records.Portfolio` into
:class:`PlanArrays` (numpy arrays; no Python objects per scheme or month), which
:func:`cipmodel.engine.project.project` runs for a set of draws. The line catalogue and the
code lists the arrays are indexed by (:data:`LINES`, :data:`STAGES`, ...) are defined here,
from the schema.

Conventions: money in £000; rates as fractions; month index 0 is April of the first plan
year. Costs are held as positive numbers and carry the sign of their line (``schema.toml``
``[lines]``, :data:`SIGN`) when the surplus is formed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from cipmodel.engine.formulas import DRIVERS
from cipmodel.inputs.records import CostLine, IncomeLine, Portfolio
from cipmodel.inputs.schema import load_schema

__all__ = [
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
    "LINE_INDEX",
    "RAGS",
    "SIGN",
    "STAGES",
    "PlanArrays",
    "compile_plan",
]

_SCHEMA = load_schema()
#: The income and cost lines, in schema order (the line axis).
LINES: tuple[str, ...] = tuple(_SCHEMA.lines)
#: Line name -> its index on the line axis.
LINE_INDEX: Mapping[str, int] = {name: i for i, name in enumerate(LINES)}
#: The financing inputs, in the order of :attr:`PlanArrays.financing`.
FINANCING: tuple[str, ...] = (
    "opening_cash",
    "opening_working_capital",
    "opening_loans",
    "loan_drawdown",
    "principal_repayment",
    "capital_expenditure",
)
STAGES: tuple[str, ...] = tuple(_SCHEMA.table("cip").field("stage").values)
RAGS: tuple[str, ...] = tuple(_SCHEMA.table("cip").field("rag").values)
CATEGORIES: tuple[str, ...] = tuple(_SCHEMA.table("cip").field("category").values)
#: (L,) +1 for a line that adds to the surplus, -1 for one that reduces it.
SIGN: NDArray[np.float64] = np.array([_SCHEMA.lines[k]["sign"] for k in LINES], dtype=float)
#: (L,) each line's kind: operating_income, pay, non_pay or non_operating.
KIND: NDArray[np.str_] = np.array([_SCHEMA.lines[k]["kind"] for k in LINES], dtype=np.str_)
IS_INCOME: NDArray[np.bool_] = KIND == "operating_income"
IS_PAY: NDArray[np.bool_] = KIND == "pay"
IS_NON_PAY: NDArray[np.bool_] = KIND == "non_pay"
IS_OPEX: NDArray[np.bool_] = IS_PAY | IS_NON_PAY
IS_NON_OPERATING: NDArray[np.bool_] = KIND == "non_operating"
AGENCY: int = LINE_INDEX["pay_agency"]


@dataclass(frozen=True)
class PlanArrays:
    """A portfolio compiled to arrays. T trusts, L lines, Y plan years, S schemes.

    Attributes
    ----------
    codes : tuple of str
        Trust codes, in portfolio order (the trust axis).
    horizon : ndarray (T,) int
        Plan years per trust; months beyond a trust's horizon are masked.
    base_month : ndarray (T, L, 12)
        Base-year do-nothing value of each line in each financial-year month [£000].
    drivers : ndarray (T, Y, 6)
        Drivers by plan year, in :data:`DRIVERS` order [fraction].
    scheme_trust, scheme_line, scheme_start, scheme_ramp : ndarray (S,) int
        Trust index, line index, absolute start month (0-based) and ramp months.
    scheme_fye : ndarray (S,) float
        Full-year effect [£000/yr].
    scheme_recurrent : ndarray (S,) bool
    scheme_stage, scheme_rag, scheme_category : ndarray (S,) int
        Indices into :data:`STAGES`, ``RAGS``, ``CATEGORIES``.
    ct_target : ndarray (T, Y)
        Pre-STF control total by plan year [£000]; NaN where none is set.
    ct_month : ndarray (T, Y, 12)
        Monthly control-total plan [£000] (flat unless given); NaN where no target.
    ct_accepted : ndarray (T, Y) bool
    ct_improvement : ndarray (T, Y)
        The part of each control total the trust agreed above the one first offered
        [£000, 0 where none]: what a funding pack with ``incentive.basis =
        "agreed_improvement"`` rewards (the 2018/19 PSF incentive).
    agency_ceiling : ndarray (T,)
        Annual agency ceiling [£000]; NaN where none is set.
    agency_ceiling_profile : ndarray (T, 12)
        The share of the annual agency ceiling in each month (summing to 1) when the trust
        gives one (``agency_ceiling_profile`` 'flat' or a Profiles row); NaN where it is
        blank, so the ceiling follows the plan's own monthly agency spend
        (:func:`cipmodel.engine.metrics.agency_ceiling_ytd`).
    special_measures : ndarray (T,) bool
        Financial special measures.
    allocation : ndarray (T,)
        STF/PSF allocation for the first plan year [£000].
    ae_applies : ndarray (T,) bool
    ae_trajectory, ae_forecast : ndarray (T, 4)
        A&E 4-hour trajectory and forecast by quarter [fraction]; NaN where not given.
    base_month_recurrent : ndarray (T, L, 12) or None
        The recurrent part of ``base_month``: the run rate of plan years 2 on. ``None`` when
        every Income and Costs row is recurrent (then ``base_month`` serves every year). A
        row flagged non-recurrent is a one-off of the first plan year.
    financing : ndarray (T, 6)
        Opening cash, opening working capital, opening loans, and the annual loan drawdown,
        principal repayment and capital expenditure, in :data:`FINANCING` order [£000].
    pfi_elements : ndarray (T, 2)
        The interest and capital elements of the PFI unitary charge [£000 a year] where the
        trust splits it (Financing sheet ``pfi_interest``, ``pfi_capital``); NaN where not.
        When split, ``base_month`` keeps only the service element on the ``pfi_unitary``
        line, the interest element is on ``interest_payable`` (same monthly shape) and the
        capital element is out of the I&E; the metrics repay it with the loan principal, in
        capital service and cash, but not off the loans (domain.md §1.4: capital service =
        PDC + interest payable incl. PFI + principal + capital element of PFI).
    financial_years : tuple of str
        Each trust's first plan year (e.g. ``"2017/18"``), which chooses the default rules.
    allocation_by_year : ndarray (T, Y), optional
        STF/PSF allocation of each plan year [£000]: column 0 is ``allocation``, later
        columns the ControlTotal rows' ``stf_allocation`` (0 where none is given). None
        means year 1 only (``allocation``, later years 0).
    allocation_given : ndarray (T, Y) bool, optional
        Where an allocation was given for the year (year 1: always).
    """

    codes: tuple[str, ...]
    horizon: NDArray[np.int_]
    base_month: NDArray[np.float64]
    drivers: NDArray[np.float64]
    scheme_trust: NDArray[np.intp]
    scheme_line: NDArray[np.intp]
    scheme_start: NDArray[np.int_]
    scheme_ramp: NDArray[np.int_]
    scheme_fye: NDArray[np.float64]
    scheme_recurrent: NDArray[np.bool_]
    scheme_stage: NDArray[np.int_]
    scheme_rag: NDArray[np.int_]
    scheme_category: NDArray[np.int_]
    scheme_ids: tuple[str, ...]
    ct_target: NDArray[np.float64]
    ct_month: NDArray[np.float64]
    ct_accepted: NDArray[np.bool_]
    ct_improvement: NDArray[np.float64]
    agency_ceiling: NDArray[np.float64]
    special_measures: NDArray[np.bool_]
    allocation: NDArray[np.float64]
    ae_applies: NDArray[np.bool_]
    ae_trajectory: NDArray[np.float64]
    ae_forecast: NDArray[np.float64]
    financing: NDArray[np.float64]
    agency_ceiling_profile: NDArray[np.float64]
    pfi_elements: NDArray[np.float64]
    financial_years: tuple[str, ...] = ()
    allocation_by_year: NDArray[np.float64] | None = None
    allocation_given: NDArray[np.bool_] | None = None
    base_month_recurrent: NDArray[np.float64] | None = None

    @property
    def pfi_split(self) -> NDArray[np.bool_]:
        """(T,) True where the PFI unitary charge is split into its elements."""
        out: NDArray[np.bool_] = ~np.isnan(self.pfi_elements[:, 0])
        return out

    @property
    def n_trusts(self) -> int:
        return len(self.codes)

    @property
    def n_years(self) -> int:
        return int(self.drivers.shape[1])

    @property
    def n_months(self) -> int:
        return 12 * self.n_years

    @property
    def n_schemes(self) -> int:
        return int(self.scheme_fye.shape[0])

    def year_allocation(self, year: int) -> NDArray[np.float64]:
        """(T,) the STF/PSF allocation of plan year ``year`` (1 = first) [£000]."""
        if year == 1:
            return self.allocation
        if self.allocation_by_year is None:
            return np.zeros(self.n_trusts)
        return self.allocation_by_year[:, year - 1]

    @property
    def month_mask(self) -> NDArray[np.bool_]:
        """(T, M) True where the month is inside the trust's horizon."""
        months = np.arange(self.n_months)
        return months[None, :] < 12 * self.horizon[:, None]

    def truncate(self, years: int) -> PlanArrays:
        """The same plan projected over its first ``years`` plan years only.

        A projection of the truncated plan gives, for the months it keeps, the same numbers
        as a projection of the whole plan (schemes starting later contribute nothing).
        The Monte Carlo engine uses it to compute only the year it assesses.
        """
        if not 1 <= years <= self.n_years:
            raise ValueError(f"years must be from 1 to {self.n_years}, got {years}")
        if years == self.n_years:
            return self
        return replace(
            self,
            horizon=np.minimum(self.horizon, years),
            drivers=self.drivers[:, :years],
            ct_target=self.ct_target[:, :years],
            ct_month=self.ct_month[:, :years],
            ct_accepted=self.ct_accepted[:, :years],
            ct_improvement=self.ct_improvement[:, :years],
            allocation_by_year=None
            if self.allocation_by_year is None
            else self.allocation_by_year[:, :years],
            allocation_given=None
            if self.allocation_given is None
            else self.allocation_given[:, :years],
        )


@dataclass(frozen=True)
class _Schemes:
    """The CIP table as arrays (S,), in :class:`PlanArrays` names."""

    trust: NDArray[np.intp]
    line: NDArray[np.intp]
    start: NDArray[np.int_]
    ramp: NDArray[np.int_]
    fye: NDArray[np.float64]
    recurrent: NDArray[np.bool_]
    stage: NDArray[np.int_]
    rag: NDArray[np.int_]
    category: NDArray[np.int_]
    ids: tuple[str, ...]


@dataclass(frozen=True)
class _ControlTotals:
    """The control-total table as arrays (T, Y) and (T, Y, 12)."""

    target: NDArray[np.float64]
    month: NDArray[np.float64]
    accepted: NDArray[np.bool_]
    improvement: NDArray[np.float64]
    allocation: NDArray[np.float64]  # (T, Y) the rows' stf_allocation, NaN where blank


@dataclass(frozen=True)
class _Funding:
    """The funding table as arrays (T,) and (T, 4)."""

    allocation: NDArray[np.float64]
    ae_applies: NDArray[np.bool_]
    ae_trajectory: NDArray[np.float64]
    ae_forecast: NDArray[np.float64]


def compile_plan(portfolio: Portfolio) -> PlanArrays:
    """Compile a validated portfolio into :class:`PlanArrays`."""
    codes = portfolio.trust_codes
    t_index = {c: i for i, c in enumerate(codes)}
    schemes = _compile_schemes(portfolio, t_index)
    ct = _compile_control_totals(portfolio, t_index)
    funding = _compile_funding(portfolio, t_index)
    pfi = _compile_pfi(portfolio, t_index)
    full = _compile_base_month(portfolio, t_index)
    unitary = full[:, _PFI].sum(axis=-1)  # (T,) each trust's whole unitary charge
    base_month = _split_pfi(full, pfi, unitary)
    # year 1: the Funding sheet (or, where it has none, the year-1 row's stf_allocation)
    given = np.isfinite(ct.allocation)
    by_year = np.where(given, ct.allocation, 0.0)
    by_year[:, 0] = np.where(funding.allocation > 0, funding.allocation, by_year[:, 0])
    given[:, 0] = True
    return PlanArrays(
        codes=codes,
        horizon=np.array([t.horizon_years for t in portfolio.trusts], dtype=int),
        base_month=base_month,
        base_month_recurrent=(
            _split_pfi(_compile_base_month(portfolio, t_index, recurrent_only=True), pfi, unitary)
            if any(not r.recurrent for r in (*portfolio.income, *portfolio.costs))
            else None
        ),
        drivers=_compile_drivers(portfolio, t_index),
        scheme_trust=schemes.trust,
        scheme_line=schemes.line,
        scheme_start=schemes.start,
        scheme_ramp=schemes.ramp,
        scheme_fye=schemes.fye,
        scheme_recurrent=schemes.recurrent,
        scheme_stage=schemes.stage,
        scheme_rag=schemes.rag,
        scheme_category=schemes.category,
        scheme_ids=schemes.ids,
        ct_target=ct.target,
        ct_month=ct.month,
        ct_accepted=ct.accepted,
        ct_improvement=ct.improvement,
        agency_ceiling=np.array(
            [np.nan if t.agency_ceiling is None else t.agency_ceiling for t in portfolio.trusts]
        ),
        special_measures=np.array(
            [t.financial_special_measures for t in portfolio.trusts], dtype=bool
        ),
        allocation=by_year[:, 0].copy(),
        ae_applies=funding.ae_applies,
        ae_trajectory=funding.ae_trajectory,
        ae_forecast=funding.ae_forecast,
        financing=_compile_financing(portfolio, t_index),
        agency_ceiling_profile=_compile_agency_profile(portfolio, t_index),
        pfi_elements=pfi,
        financial_years=tuple(t.financial_year for t in portfolio.trusts),
        allocation_by_year=by_year,
        allocation_given=given,
    )


def _compile_base_month(
    portfolio: Portfolio, t_index: Mapping[str, int], recurrent_only: bool = False
) -> NDArray[np.float64]:
    """(T, L, 12) base-year run rate of each line by month, spread by its profile (only the
    rows flagged recurrent if ``recurrent_only``)."""
    flat = np.full(12, 1.0 / 12.0)
    profiles = {
        (p.trust_code, p.profile): np.asarray(p.weight, dtype=float) / float(sum(p.weight))
        for p in portfolio.profiles
    }
    base_month = np.zeros((len(t_index), len(LINES), 12))
    lines: tuple[IncomeLine | CostLine, ...] = (*portfolio.income, *portfolio.costs)
    for rec in lines:
        if recurrent_only and not rec.recurrent:
            continue
        weights = flat if rec.profile == "flat" else profiles[(rec.trust_code, rec.profile)]
        base_month[t_index[rec.trust_code], LINE_INDEX[rec.line]] += rec.annual_value * weights
    return base_month


def _compile_drivers(portfolio: Portfolio, t_index: Mapping[str, int]) -> NDArray[np.float64]:
    """(T, Y, 6) drivers by plan year (0 where a year has none)."""
    drivers = np.zeros((len(t_index), portfolio.horizon_years, len(DRIVERS)))
    for d in portfolio.drivers:
        drivers[t_index[d.trust_code], d.year - 1] = [getattr(d, k) for k in DRIVERS]
    return drivers


def _compile_schemes(portfolio: Portfolio, t_index: Mapping[str, int]) -> _Schemes:
    cats = _SCHEMA.cip_categories
    cip = portfolio.cip
    return _Schemes(
        trust=np.array([t_index[s.trust_code] for s in cip], dtype=np.intp),
        line=np.array(
            [LINE_INDEX[s.target_line or cats[s.category]["default_line"]] for s in cip],
            dtype=np.intp,
        ),
        start=np.array([12 * (s.start_year - 1) + s.start_month - 1 for s in cip], dtype=int),
        ramp=np.array([s.ramp_months for s in cip], dtype=int),
        fye=np.array([s.value_fye for s in cip], dtype=float),
        recurrent=np.array([s.recurrent for s in cip], dtype=bool),
        stage=np.array([STAGES.index(s.stage) for s in cip], dtype=int),
        rag=np.array([RAGS.index(s.rag) for s in cip], dtype=int),
        category=np.array([CATEGORIES.index(s.category) for s in cip], dtype=int),
        ids=tuple(f"{s.trust_code}/{s.scheme_id}" for s in cip),
    )


def _compile_control_totals(portfolio: Portfolio, t_index: Mapping[str, int]) -> _ControlTotals:
    n_t, n_y = len(t_index), portfolio.horizon_years
    ct_target = np.full((n_t, n_y), np.nan)
    ct_month = np.full((n_t, n_y, 12), np.nan)
    ct_accepted = np.zeros((n_t, n_y), dtype=bool)
    ct_improvement = np.zeros((n_t, n_y))
    ct_allocation = np.full((n_t, n_y), np.nan)
    for c in portfolio.control_total:
        i, y = t_index[c.trust_code], c.year - 1
        if c.stf_allocation is not None:
            ct_allocation[i, y] = c.stf_allocation
        ct_target[i, y] = c.target_pre_stf
        ct_month[i, y] = c.target_pre_stf / 12.0 if c.month is None else c.month
        ct_accepted[i, y] = c.accepted
        ct_improvement[i, y] = c.improvement_agreed or 0.0
    return _ControlTotals(ct_target, ct_month, ct_accepted, ct_improvement, ct_allocation)


def _compile_funding(portfolio: Portfolio, t_index: Mapping[str, int]) -> _Funding:
    n_t = len(t_index)
    allocation = np.zeros(n_t)
    ae_applies = np.zeros(n_t, dtype=bool)
    ae_traj = np.full((n_t, 4), np.nan)
    ae_fc = np.full((n_t, 4), np.nan)
    for f in portfolio.funding:
        i = t_index[f.trust_code]
        allocation[i] = f.allocation
        ae_applies[i] = f.ae_applies
        if f.ae_trajectory is not None:
            ae_traj[i] = [np.nan if v is None else v for v in f.ae_trajectory]
        if f.ae_forecast is not None:
            ae_fc[i] = [np.nan if v is None else v for v in f.ae_forecast]
    return _Funding(allocation, ae_applies, ae_traj, ae_fc)


def _compile_financing(portfolio: Portfolio, t_index: Mapping[str, int]) -> NDArray[np.float64]:
    """(T, 6) financing inputs in :data:`FINANCING` order (0 for a trust with none)."""
    financing = np.zeros((len(t_index), len(FINANCING)))
    for f in portfolio.financing:
        financing[t_index[f.trust_code]] = [getattr(f, k) for k in FINANCING]
    return financing


def _compile_agency_profile(
    portfolio: Portfolio, t_index: Mapping[str, int]
) -> NDArray[np.float64]:
    """(T, 12) each trust's own agency-ceiling phasing (weights summing to 1), NaN where it
    follows the plan's agency spend (``agency_ceiling_profile`` blank)."""
    out = np.full((len(t_index), 12), np.nan)
    profiles = {(p.trust_code, p.profile): p.weight for p in portfolio.profiles}
    for t in portfolio.trusts:
        name = t.agency_ceiling_profile
        if name is None:
            continue
        w = np.ones(12) if name == "flat" else np.asarray(profiles[(t.trust_code, name)], float)
        out[t_index[t.trust_code]] = w / w.sum()
    return out


_PFI = LINE_INDEX["pfi_unitary"]
_INTEREST = LINE_INDEX["interest_payable"]


def _compile_pfi(portfolio: Portfolio, t_index: Mapping[str, int]) -> NDArray[np.float64]:
    """(T, 2) the PFI interest and capital elements where given, NaN elsewhere."""
    out = np.full((len(t_index), 2), np.nan)
    for f in portfolio.financing:
        if f.pfi_interest is not None and f.pfi_capital is not None:
            out[t_index[f.trust_code]] = [f.pfi_interest, f.pfi_capital]
    return out


def _split_pfi(
    base_month: NDArray[np.float64], pfi: NDArray[np.float64], unitary: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Split each trust's PFI unitary charge into its elements, where given.

    ``unitary`` (T,) is each trust's whole annual unitary charge (all its pfi_unitary rows).
    The ``pfi_unitary`` line keeps the service element (``1 - (interest + capital) /
    unitary`` of each month, so its monthly shape is kept); ``interest_payable`` gains the
    interest element in the same monthly shape; the capital element leaves the I&E (the
    metrics repay it, :attr:`PlanArrays.pfi_elements`). Trusts without a split are
    unchanged.
    """
    base_month = base_month.copy()
    for i in np.flatnonzero(~np.isnan(pfi[:, 0]) & (unitary > 0)):
        interest, capital = pfi[i]
        charge = base_month[i, _PFI].copy()
        base_month[i, _PFI] = charge * (1.0 - (interest + capital) / unitary[i])
        base_month[i, _INTEREST] += charge * (interest / unitary[i])
    return base_month
