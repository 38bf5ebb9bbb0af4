"""The five SOF finance and use of resources metrics, computed from a projection.

Year to date at month ``months`` of plan year ``year`` (3, 6, 9, 12 for the quarter ends;
12 is the full year), for every draw and trust:

capital service capacity [times]
    revenue available for capital service ÷ capital service, where revenue available =
    EBITDA (with STF/PSF earned as income) + interest receivable, and capital service =
    PDC dividend + interest payable + loan principal repaid (domain.md §1.4, [B]). Where the
    PFI unitary charge is split (:attr:`~cipmodel.engine.compile.PlanArrays.pfi_elements`)
    operating expenditure holds only its service element, the interest element is in
    interest payable and the capital element is repaid with the loan principal (in capital
    service and cash, not off the loans), so each counts once.
liquidity [days]
    closing working capital ÷ operating expenditure (annualised) × 360 (domain.md §1.4,
    [B]). Working capital moves with the cash the trust generates and spends:
    ``WC_close = WC_open + EBITDA + STF earned + interest receivable − interest payable −
    PDC dividend − capital expenditure − principal repaid + loans drawn`` (depreciation is
    not cash). A small working-capital projection, not a balance sheet.
I&E margin [fraction]
    reported surplus (pre-STF surplus + STF/PSF earned) ÷ operating income including STF/PSF
    earned (control-total basis; domain.md §1.4).
distance from financial plan [fraction, i.e. percentage points of margin]
    actual YTD I&E margin − planned YTD I&E margin. The plan is the control-total trajectory
    plus the STF/PSF it expects (phased) if the control total is accepted, otherwise the
    trust's own plan (the plan run) (domain.md §1.3–§1.4).
agency spend against ceiling [fraction]
    (YTD agency − YTD ceiling) ÷ YTD ceiling. The YTD ceiling is phased with the plan's own
    monthly agency spend (after CIP) unless the trust gives a ceiling profile
    (:func:`agency_ceiling_ytd`); at month 12 it is the whole annual ceiling.

A metric that cannot be computed (no income, no capital service, no agency ceiling, no
operating expenditure, or figures so extreme the arithmetic overflows) is NaN in ``values``
and has its reason in ``not_applicable``; the
score then leaves it out (see :mod:`cipmodel.regime.score`). No NaN reaches a user-facing output
without that reason.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cipmodel.engine.compile import FINANCING, LINES, PlanArrays
from cipmodel.engine.project import Projection

__all__ = [
    "METRICS",
    "MetricValues",
    "agency_ceiling_ytd",
    "compute_metrics",
    "compute_metrics_by_period",
]

METRICS: tuple[str, ...] = (
    "capital_service_capacity",
    "liquidity_days",
    "ie_margin",
    "distance_from_plan",
    "agency_vs_ceiling",
)
_L = {k: i for i, k in enumerate(LINES)}
_F = {k: i for i, k in enumerate(FINANCING)}
_YTD_LINES = tuple(
    _L[k] for k in ("interest_receivable", "interest_payable", "pdc_dividend", "pay_agency")
)
DAYS_IN_YEAR = 360.0  # SOF convention, domain.md §1.4 [B]
_REASONS = {
    "capital_service_capacity": "no capital service (no PDC, interest or repayments)",
    "liquidity_days": "no operating expenditure",
    "ie_margin": "no operating income",
    "distance_from_plan": "no operating income (actual or planned)",
    "agency_vs_ceiling": "no agency ceiling set",
}
FloatArray = NDArray[np.float64]
_TOO_EXTREME = "figures too extreme to compute (check the plan for a typing error)"


@dataclass(frozen=True)
class MetricValues:
    """Metric values for each draw and trust at one period.

    Attributes
    ----------
    values : dict of str -> ndarray (D, T)
        Metric values (NaN where not applicable).
    not_applicable : mapping of str -> ndarray (D, T) of str
        Reason a value is not applicable, '' where it is (each text array is built when
        first read).
    components : dict of str -> ndarray (D, T)
        The numbers the metrics are made of (reported surplus, income, working capital,
        cash, capital service, ...), for audit.
    year, months : int
        Plan year and months year to date.
    """

    values: dict[str, FloatArray]
    not_applicable: Mapping[str, NDArray[np.str_]]
    components: dict[str, FloatArray]
    year: int
    months: int


def _safe_div(num: FloatArray, den: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = np.where(den != 0, num / np.where(den != 0, den, 1.0), np.nan)
        return out


@dataclass(frozen=True)
class _Flows:
    """The year-to-date money flows of a projection that the metrics are made of [£000]:
    arrays (D, T), or (T,) for the inputs phased evenly from the annual financing plan."""

    income: FloatArray
    opex: FloatArray
    ebitda: FloatArray
    stf: FloatArray
    surplus: FloatArray
    int_rec: FloatArray
    int_pay: FloatArray
    pdc: FloatArray
    agency: FloatArray
    principal: FloatArray
    pfi_capital: FloatArray
    capex: FloatArray
    drawdown: FloatArray


def _ytd(arr: FloatArray, sl: slice) -> FloatArray:
    out: FloatArray = arr[..., sl].sum(axis=-1)
    return out


def _ytd_flows(
    actual: Projection, stf_earned_ytd: ArrayLike, months: tuple[int, ...], year: int = 1
) -> _Flows:
    """The flows of plan year ``year`` year to date at each of ``months`` (the last axis,
    P): arrays (D, T, P), or (T, P) for the inputs phased evenly from the annual financing
    plan."""
    n_d, n_t, n_p = actual.n_draws, actual.plan.n_trusts, len(months)
    # the four lines read here, year to date (the same numbers as lines[..., :m].sum(-1))
    lines = np.stack(
        [actual.line_ytd(_YTD_LINES, m, year) for m in months], axis=-1
    )  # (D, T, 4, P)
    stf = np.broadcast_to(np.asarray(stf_earned_ytd, dtype=float), (n_d, n_t, n_p))
    m0 = 12 * (year - 1)

    def ytd(arr: FloatArray) -> FloatArray:
        return np.stack([_ytd(arr, slice(m0, m0 + m)) for m in months], axis=-1)

    income = ytd(actual.operating_income) + stf
    opex = ytd(actual.operating_expenditure)
    fin = actual.plan.financing  # (T, 6), annual flows phased evenly
    frac = np.asarray(months) / 12.0
    return _Flows(
        income=income,
        opex=opex,
        ebitda=income - opex,
        stf=stf,
        surplus=ytd(actual.surplus_pre_stf) + stf,
        int_rec=lines[:, :, 0],
        int_pay=lines[:, :, 1],
        pdc=lines[:, :, 2],
        agency=lines[:, :, 3],
        principal=fin[:, _F["principal_repayment"], None] * frac,
        pfi_capital=np.nan_to_num(actual.plan.pfi_elements[:, 1, None]) * frac,
        capex=fin[:, _F["capital_expenditure"], None] * frac,
        drawdown=fin[:, _F["loan_drawdown"], None] * frac,
    )


def _planned_margin(
    plan: PlanArrays,
    planned: Projection,
    stf_planned_ytd: ArrayLike,
    year: int,
    months: int,
    sl: slice,
) -> tuple[FloatArray, FloatArray]:
    """The planned YTD I&E margin (T,) and the planned income it is taken on (T,):
    ``plan``'s control-total trajectory plus expected STF if accepted, else the plan run."""
    stf_planned = np.asarray(stf_planned_ytd, dtype=float)
    p_income = _ytd(planned.operating_income, sl)[0] + stf_planned
    accepted = plan.ct_accepted[:, year - 1]
    ct_ytd = np.nancumsum(plan.ct_month[:, year - 1], axis=-1)[:, months - 1]
    p_surplus = np.where(accepted, ct_ytd, _ytd(planned.surplus_pre_stf, sl)[0]) + stf_planned
    return _safe_div(p_surplus, p_income), p_income


class _Reasons(Mapping[str, NDArray[np.str_]]):
    """Each metric's reason text (D, T), built from its reason code when first read.

    Code 0: applicable, 1: the metric's own reason, 2: too extreme. A simulation reads the
    values and never the texts, so the (D, T) string arrays are not made for every chunk.
    """

    def __init__(self, codes: dict[str, NDArray[np.int8]]) -> None:
        self._codes = codes
        self._texts: dict[str, NDArray[np.str_]] = {}

    def __getitem__(self, name: str) -> NDArray[np.str_]:
        text = self._texts.get(name)
        if text is None:
            code = self._codes[name]
            text = np.array(["", _REASONS[name], _TOO_EXTREME])[code]
            self._texts[name] = text
        return text

    def __iter__(self) -> Iterator[str]:
        return iter(self._codes)

    def __len__(self) -> int:
        return len(self._codes)


def _reason_codes(
    values: dict[str, FloatArray], masks: dict[str, NDArray[np.bool_]], shape: tuple[int, ...]
) -> dict[str, NDArray[np.int8]]:
    """Each metric's reason code (0 applicable, 1 its own reason, 2 too extreme); ``values``
    is set to NaN where there is a reason.

    Reasons are boolean masks first, kept as small codes; the text arrays are built only
    when read (see :class:`_Reasons`), not by string comparisons.
    """
    codes = {}
    for name in METRICS:
        value = np.broadcast_to(values[name], shape)
        mask = np.broadcast_to(masks[name], shape)
        code = np.where(mask, 1, np.where(np.isfinite(value), 0, 2)).astype(np.int8)
        codes[name] = code
        values[name] = np.where(code == 0, value, np.nan)
    return codes


def compute_metrics(
    actual: Projection,
    planned: Projection,
    *,
    stf_earned_ytd: ArrayLike,
    stf_planned_ytd: ArrayLike,
    months: int = 12,
    year: int = 1,
    opening: tuple[ArrayLike, ArrayLike] | None = None,
) -> MetricValues:
    """Compute the five metrics year to date.

    Parameters
    ----------
    actual : Projection
        The projection being assessed (a plan run, or Monte Carlo draws).
    planned : Projection
        The plan run (one draw) the distance from plan is measured against.
    stf_earned_ytd : ndarray broadcastable to (D, T)
        STF/PSF earned year to date, including any year-end incentive and bonus [£000].
    stf_planned_ytd : ndarray broadcastable to (T,)
        STF/PSF the plan expects year to date (0 where the control total is not accepted)
        [£000].
    months : int
        Months year to date (1..12).
    year : int
        Plan year (1 = first).
    opening : (working capital, cash), each broadcastable to (D, T), optional
        The year's opening balances [£000]; default the Financing sheet's (the opening of
        plan year 1). A later year opens on the year before's closing balances
        (``components["working_capital_close"]`` and ``["cash_close"]`` at its full year).
    """
    (out,) = compute_metrics_by_period(
        actual,
        planned,
        stf_earned_ytd=np.asarray(stf_earned_ytd, dtype=float)[..., None],
        stf_planned_ytd=np.asarray(stf_planned_ytd, dtype=float)[..., None],
        months=(months,),
        year=year,
        opening=opening,
    )
    return out


def _opening(
    plan: PlanArrays, opening: tuple[ArrayLike, ArrayLike] | None, year: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Opening working capital, cash and loans of plan year ``year`` [£000], each with a
    trailing period axis: year 1's from the Financing sheet, a later year's working capital
    and cash as given (the year before's close), its loans after the earlier years' annual
    drawdown and repayment."""
    if not 1 <= year <= plan.n_years:
        raise ValueError(f"year must be from 1 to {plan.n_years}, got {year}")
    if year > 1 and opening is None:
        # the working-capital projection chains the years: year N opens on year N-1's close
        raise ValueError(f"plan year {year} needs its opening balances (the year before's)")
    fin = plan.financing
    if opening is None:
        wc_open = fin[:, _F["opening_working_capital"], None]
        cash_open = fin[:, _F["opening_cash"], None]
    else:
        wc_open = np.asarray(opening[0], dtype=float)[..., None]
        cash_open = np.asarray(opening[1], dtype=float)[..., None]
    loans_open = fin[:, _F["opening_loans"], None] + (year - 1) * (
        fin[:, _F["loan_drawdown"], None] - fin[:, _F["principal_repayment"], None]
    )
    return wc_open, cash_open, loans_open


# A ratio with a tiny denominator (income of 1e-310) overflows; such a metric is reported
# as not applicable with a reason below, so numpy's warnings are not wanted.
@np.errstate(over="ignore", invalid="ignore", divide="ignore")
def compute_metrics_by_period(
    actual: Projection,
    planned: Projection,
    *,
    stf_earned_ytd: ArrayLike,
    stf_planned_ytd: ArrayLike,
    months: tuple[int, ...],
    year: int = 1,
    opening: tuple[ArrayLike, ArrayLike] | None = None,
) -> tuple[MetricValues, ...]:
    """:func:`compute_metrics` at several period ends at once (e.g. the four quarter ends):
    the same numbers, computed on arrays with a period axis.

    ``stf_earned_ytd`` broadcasts to (D, T, P) and ``stf_planned_ytd`` to (T, P) for the
    P = ``len(months)`` periods; returns one :class:`MetricValues` a period.
    """
    for m in months:
        if not 1 <= m <= 12:
            raise ValueError(f"months must be from 1 to 12, got {m}")
    plan = actual.plan
    wc_open, cash_open, loans_open = _opening(plan, opening, year)
    n_p = len(months)
    f = _ytd_flows(actual, stf_earned_ytd, months, year)
    frac = np.asarray(months) / 12.0

    revenue_available = f.ebitda + f.int_rec
    repaid = f.principal + f.pfi_capital  # loans and the capital element of PFI, each once
    capital_service = f.pdc + f.int_pay + repaid
    cash_movement = f.ebitda + f.int_rec - f.int_pay - f.pdc - f.capex - repaid + f.drawdown
    wc_close = wc_open + cash_movement
    cash_close = cash_open + cash_movement
    loans_close = loans_open + f.drawdown - f.principal
    annual_opex = f.opex / frac
    stf_planned = np.broadcast_to(np.asarray(stf_planned_ytd, dtype=float), (plan.n_trusts, n_p))
    planned_parts = [
        _planned_margin(
            plan, planned, stf_planned[:, q], year, m, slice(12 * (year - 1), 12 * (year - 1) + m)
        )
        for q, m in enumerate(months)
    ]
    planned_margin = np.stack([pm for pm, _ in planned_parts], axis=-1)  # (T, P)
    p_income = np.stack([pi for _, pi in planned_parts], axis=-1)
    ceiling = agency_ceiling_ytd(plan, planned, months, year)

    shape = f.agency.shape  # (D, T, P)
    values = {
        "capital_service_capacity": _safe_div(revenue_available, capital_service),
        "liquidity_days": _safe_div(wc_close, annual_opex) * DAYS_IN_YEAR,
        "ie_margin": _safe_div(f.surplus, f.income),
        "distance_from_plan": _safe_div(f.surplus, f.income) - planned_margin,
        "agency_vs_ceiling": _safe_div(f.agency - ceiling, np.broadcast_to(ceiling, shape)),
    }
    no_income = f.income <= 0
    masks = {
        "capital_service_capacity": np.broadcast_to(capital_service, shape) <= 0,
        "liquidity_days": f.opex <= 0,
        "ie_margin": no_income,
        "distance_from_plan": no_income | np.broadcast_to(p_income <= 0, shape),
        "agency_vs_ceiling": np.broadcast_to(~(plan.agency_ceiling[:, None] > 0), shape),
    }
    codes = _reason_codes(values, masks, shape)
    components = {
        "operating_income_incl_stf": f.income,
        "operating_expenditure": f.opex,
        "ebitda_incl_stf": f.ebitda,
        "stf_earned": f.stf,
        "reported_surplus": f.surplus,
        "revenue_available_for_capital_service": revenue_available,
        "capital_service": np.broadcast_to(capital_service, shape),
        "working_capital_close": np.broadcast_to(wc_close, shape),
        "cash_close": np.broadcast_to(cash_close, shape),
        "loans_close": np.broadcast_to(loans_close, shape),
        "planned_margin": np.broadcast_to(planned_margin, shape),
        "agency": f.agency,
        "agency_ceiling": np.broadcast_to(ceiling, shape),
    }
    return tuple(
        MetricValues(
            {k: v[..., q] for k, v in values.items()},
            _Reasons({k: c[..., q] for k, c in codes.items()}),
            {k: v[..., q] for k, v in components.items()},
            year,
            m,
        )
        for q, m in enumerate(months)
    )


def agency_ceiling_ytd(
    plan: PlanArrays, planned: Projection, months: tuple[int, ...], year: int = 1
) -> FloatArray:
    """(T, P) the agency ceiling year to date at each of ``months`` of plan ``year`` [£000].

    The annual ceiling is phased with the trust's own ceiling profile where it gives one
    (``PlanArrays.agency_ceiling_profile``), otherwise with the plan's monthly agency spend
    after CIP (``planned``, the plan run: a simulation's draws are measured against the
    same ceiling): ``ceiling × Σ spend[1..m] ÷ Σ spend[1..12]``. Months of negative spend
    (CIP above the line) weigh 0; a plan with no agency spend in the year is phased evenly.
    At month 12 the share is exactly 1, so the full-year ceiling is the annual ceiling.
    NaN where no ceiling is set.
    """
    first = 12 * (year - 1)
    spend = np.maximum(planned.agency[0, :, first : first + 12], 0.0)  # (T, 12)
    total = spend.sum(axis=-1, keepdims=True)
    flat = np.arange(1, 13) / 12.0
    by_spend = np.where(
        total > 0, np.cumsum(spend, axis=-1) / np.where(total > 0, total, 1.0), flat
    )
    own = plan.agency_ceiling_profile
    share = np.where(np.isnan(own[:, :1]), by_spend, np.cumsum(np.nan_to_num(own), axis=-1))
    share[:, 11] = 1.0
    out: FloatArray = plan.agency_ceiling[:, None] * share[:, [m - 1 for m in months]]
    return out
