"""The projection engine: every question is answered on arrays shaped (draw, trust, month).

Two steps:

1. :func:`compile_plan` turns a validated :class:`~cipmodel.model.Portfolio` into
   :class:`PlanArrays` (numpy arrays; no Python objects per scheme or month).
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

``do_nothing[l, m] = base_month[l, m % 12] * growth[l, y]``, where ``growth`` is the
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

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from cipmodel.model import Portfolio
from cipmodel.schema import load_schema

__all__ = [
    "DRIVERS",
    "FINANCING",
    "LINES",
    "STAGES",
    "PlanArrays",
    "Draws",
    "Projection",
    "compile_plan",
    "project",
]

_SCHEMA = load_schema()
LINES: tuple[str, ...] = tuple(_SCHEMA.lines)
DRIVERS: tuple[str, ...] = (
    "tariff_uplift",
    "efficiency_factor",
    "activity_growth",
    "pay_award",
    "non_pay_inflation",
    "drug_inflation",
)
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
_L = {name: i for i, name in enumerate(LINES)}
SIGN = np.array([_SCHEMA.lines[k]["sign"] for k in LINES], dtype=float)
KIND = np.array([_SCHEMA.lines[k]["kind"] for k in LINES])
IS_INCOME = KIND == "operating_income"
IS_PAY = KIND == "pay"
IS_NON_PAY = KIND == "non_pay"
IS_OPEX = IS_PAY | IS_NON_PAY
IS_NON_OPERATING = KIND == "non_operating"
AGENCY = _L["pay_agency"]


def _price_matrix() -> np.ndarray:
    """(line, driver) weights: the line's price driver as a combination of the drivers."""
    d = {name: i for i, name in enumerate(DRIVERS)}
    out = np.zeros((len(LINES), len(DRIVERS)))
    for i, key in enumerate(LINES):
        price = _SCHEMA.lines[key]["price"]
        if price == "net_tariff":
            out[i, d["tariff_uplift"]] = 1.0
            out[i, d["efficiency_factor"]] = -1.0
        elif price != "none":
            out[i, d[price]] = 1.0
    return out


PRICE = _price_matrix()
VOLUME = np.array([bool(_SCHEMA.lines[k]["volume"]) for k in LINES], dtype=float)


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
    agency_ceiling : ndarray (T,)
        Annual agency ceiling [£000]; NaN where none is set.
    special_measures : ndarray (T,) bool
        Financial special measures.
    allocation : ndarray (T,)
        STF/PSF allocation for the first plan year [£000].
    ae_applies : ndarray (T,) bool
    ae_trajectory, ae_forecast : ndarray (T, 4)
        A&E 4-hour trajectory and forecast by quarter [fraction]; NaN where not given.
    financing : ndarray (T, 6)
        Opening cash, opening working capital, opening loans, and the annual loan drawdown,
        principal repayment and capital expenditure, in :data:`FINANCING` order [£000].
    """

    codes: tuple[str, ...]
    horizon: np.ndarray
    base_month: np.ndarray
    drivers: np.ndarray
    scheme_trust: np.ndarray
    scheme_line: np.ndarray
    scheme_start: np.ndarray
    scheme_ramp: np.ndarray
    scheme_fye: np.ndarray
    scheme_recurrent: np.ndarray
    scheme_stage: np.ndarray
    scheme_rag: np.ndarray
    scheme_category: np.ndarray
    scheme_ids: tuple[str, ...]
    ct_target: np.ndarray
    ct_month: np.ndarray
    ct_accepted: np.ndarray
    agency_ceiling: np.ndarray
    special_measures: np.ndarray
    allocation: np.ndarray
    ae_applies: np.ndarray
    ae_trajectory: np.ndarray
    ae_forecast: np.ndarray
    financing: np.ndarray
    _aggregator: sp.csr_matrix = field(repr=False, compare=False)

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

    @property
    def month_mask(self) -> np.ndarray:
        """(T, M) True where the month is inside the trust's horizon."""
        months = np.arange(self.n_months)
        return months[None, :] < 12 * self.horizon[:, None]


def compile_plan(portfolio: Portfolio) -> PlanArrays:
    """Compile a validated portfolio into :class:`PlanArrays`."""
    codes = portfolio.trust_codes
    t_index = {c: i for i, c in enumerate(codes)}
    n_t, n_l, n_y = len(codes), len(LINES), portfolio.horizon_years
    horizon = np.array([t.horizon_years for t in portfolio.trusts], dtype=int)

    flat = np.full(12, 1.0 / 12.0)
    profiles = {
        (p.trust_code, p.profile): np.asarray(p.weight, dtype=float) / float(sum(p.weight))
        for p in portfolio.profiles
    }
    base_month = np.zeros((n_t, n_l, 12))
    for rec in (*portfolio.income, *portfolio.costs):
        weights = flat if rec.profile == "flat" else profiles[(rec.trust_code, rec.profile)]
        base_month[t_index[rec.trust_code], _L[rec.line]] += rec.annual_value * weights

    drivers = np.zeros((n_t, n_y, len(DRIVERS)))
    for d in portfolio.drivers:
        drivers[t_index[d.trust_code], d.year - 1] = [getattr(d, k) for k in DRIVERS]

    cats = _SCHEMA.cip_categories
    cip = portfolio.cip
    s_trust = np.array([t_index[s.trust_code] for s in cip], dtype=np.intp)
    s_line = np.array(
        [_L[s.target_line or cats[s.category]["default_line"]] for s in cip], dtype=np.intp
    )
    s_start = np.array([12 * (s.start_year - 1) + s.start_month - 1 for s in cip], dtype=int)
    s_ramp = np.array([s.ramp_months for s in cip], dtype=int)
    s_fye = np.array([s.value_fye for s in cip], dtype=float)
    s_rec = np.array([s.recurrent for s in cip], dtype=bool)
    s_stage = np.array([STAGES.index(s.stage) for s in cip], dtype=int)
    s_rag = np.array([RAGS.index(s.rag) for s in cip], dtype=int)
    s_cat = np.array([CATEGORIES.index(s.category) for s in cip], dtype=int)
    n_s = len(cip)
    aggregator = sp.csr_matrix(
        (np.ones(n_s), (s_trust * n_l + s_line, np.arange(n_s))), shape=(n_t * n_l, n_s)
    )

    ct_target = np.full((n_t, n_y), np.nan)
    ct_month = np.full((n_t, n_y, 12), np.nan)
    ct_accepted = np.zeros((n_t, n_y), dtype=bool)
    for c in portfolio.control_total:
        i, y = t_index[c.trust_code], c.year - 1
        ct_target[i, y] = c.target_pre_stf
        ct_month[i, y] = c.target_pre_stf / 12.0 if c.month is None else c.month
        ct_accepted[i, y] = c.accepted

    agency_ceiling = np.array(
        [np.nan if t.agency_ceiling is None else t.agency_ceiling for t in portfolio.trusts]
    )
    special = np.array([t.financial_special_measures for t in portfolio.trusts], dtype=bool)
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
    financing = np.zeros((n_t, len(FINANCING)))
    for f in portfolio.financing:
        financing[t_index[f.trust_code]] = [getattr(f, k) for k in FINANCING]

    return PlanArrays(
        codes=codes,
        horizon=horizon,
        base_month=base_month,
        drivers=drivers,
        scheme_trust=s_trust,
        scheme_line=s_line,
        scheme_start=s_start,
        scheme_ramp=s_ramp,
        scheme_fye=s_fye,
        scheme_recurrent=s_rec,
        scheme_stage=s_stage,
        scheme_rag=s_rag,
        scheme_category=s_cat,
        scheme_ids=tuple(f"{s.trust_code}/{s.scheme_id}" for s in cip),
        ct_target=ct_target,
        ct_month=ct_month,
        ct_accepted=ct_accepted,
        agency_ceiling=agency_ceiling,
        special_measures=special,
        allocation=allocation,
        ae_applies=ae_applies,
        ae_trajectory=ae_traj,
        ae_forecast=ae_fc,
        financing=financing,
        _aggregator=aggregator,
    )


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
    """

    n: int = 1
    delivery: np.ndarray | None = None
    slip: np.ndarray | None = None
    driver_shift: np.ndarray | None = None
    cip_scale: np.ndarray | None = None
    extra_cip: np.ndarray | None = None

    @classmethod
    def plan(cls) -> Draws:
        """One draw at planned values."""
        return cls(n=1)


@dataclass(frozen=True)
class Projection:
    """Result of :func:`project`.

    Attributes
    ----------
    plan : PlanArrays
        The compiled inputs.
    do_nothing : ndarray (D, T, L, M)
        Each line before CIP [£000, costs positive].
    cip : ndarray (D, T, L, M)
        CIP effect on each line [£000, positive = better].
    cip_scheme_year : ndarray (D, S, Y)
        In-year effect of each scheme in each plan year [£000].
    """

    plan: PlanArrays
    do_nothing: np.ndarray
    cip: np.ndarray
    cip_scheme_year: np.ndarray

    # -- lines after CIP ------------------------------------------------------------
    @property
    def lines(self) -> np.ndarray:
        """(D, T, L, M) each line after CIP [£000, costs positive]."""
        return self.do_nothing + self.cip * SIGN[None, None, :, None]

    def _sum(self, arr: np.ndarray, mask: np.ndarray, signed: bool = False) -> np.ndarray:
        w = (SIGN if signed else np.ones_like(SIGN)) * mask
        return np.einsum("dtlm,l->dtm", arr, w)

    @property
    def operating_income(self) -> np.ndarray:
        """(D, T, M) operating income after CIP [£000]."""
        return self._sum(self.lines, IS_INCOME)

    @property
    def pay(self) -> np.ndarray:
        """(D, T, M) pay costs after CIP [£000]."""
        return self._sum(self.lines, IS_PAY)

    @property
    def non_pay(self) -> np.ndarray:
        """(D, T, M) non-pay operating costs after CIP [£000]."""
        return self._sum(self.lines, IS_NON_PAY)

    @property
    def operating_expenditure(self) -> np.ndarray:
        """(D, T, M) pay + non-pay after CIP [£000]."""
        return self._sum(self.lines, IS_OPEX)

    @property
    def operating_expenditure_do_nothing(self) -> np.ndarray:
        """(D, T, M) pay + non-pay before CIP [£000]: the CIP % denominator."""
        return self._sum(self.do_nothing, IS_OPEX)

    @property
    def ebitda(self) -> np.ndarray:
        """(D, T, M) operating income − operating expenditure [£000]."""
        return self.operating_income - self.operating_expenditure

    @property
    def non_operating(self) -> np.ndarray:
        """(D, T, M) net non-operating costs (depreciation, PDC, interest payable − receivable)."""
        return -self._sum(self.lines, IS_NON_OPERATING, signed=True)

    @property
    def surplus_pre_stf(self) -> np.ndarray:
        """(D, T, M) surplus/(deficit) on the control-total basis before STF/PSF [£000]."""
        return self._sum(self.lines, np.ones(len(LINES)), signed=True)

    @property
    def agency(self) -> np.ndarray:
        """(D, T, M) agency pay after CIP [£000]."""
        return self.lines[:, :, AGENCY, :]

    @property
    def cip_total(self) -> np.ndarray:
        """(D, T, M) CIP effect on the surplus, all lines [£000]."""
        return self.cip.sum(axis=2)

    # -- by year ------------------------------------------------------------------
    @staticmethod
    def by_year(arr: np.ndarray) -> np.ndarray:
        """Sum the month axis (last) into plan years: (..., M) -> (..., Y)."""
        return arr.reshape(*arr.shape[:-1], -1, 12).sum(axis=-1)

    @staticmethod
    def ytd(arr: np.ndarray) -> np.ndarray:
        """Year-to-date running sums within each plan year: (..., M) -> (..., Y, 12)."""
        return np.cumsum(arr.reshape(*arr.shape[:-1], -1, 12), axis=-1)

    def control_total_ytd(self) -> np.ndarray:
        """(T, Y, 12) year-to-date control-total plan [£000]; NaN where no target."""
        return np.cumsum(self.plan.ct_month, axis=-1)

    def ytd_variance(self) -> np.ndarray:
        """(D, T, Y, 12) YTD pre-STF surplus minus YTD control-total plan [£000]."""
        return self.ytd(self.surplus_pre_stf) - self.control_total_ytd()[None]


def _phase(plan: PlanArrays, slip: np.ndarray | None) -> np.ndarray:
    """(D or 1, S, M) fraction of a full month's saving each scheme delivers each month."""
    months = np.arange(plan.n_months)
    start = plan.scheme_start[None, :] if slip is None else plan.scheme_start[None, :] + slip
    start_year = start // 12
    k = months[None, None, :] - start[:, :, None]
    ramp = np.clip((k + 1) / (plan.scheme_ramp[None, :, None] + 1.0), 0.0, 1.0)
    later = (months // 12)[None, None, :] > start_year[:, :, None]
    rec = plan.scheme_recurrent[None, :, None]
    return np.where(later, rec.astype(float), ramp)


def project(plan: PlanArrays, draws: Draws | None = None) -> Projection:
    """Project every trust, line and month for each draw.

    Parameters
    ----------
    plan : PlanArrays
        From :func:`compile_plan`.
    draws : Draws, optional
        What varies between draws; default one draw at planned values.

    Returns
    -------
    Projection
    """
    draws = draws or Draws.plan()
    n_d, n_t, n_l, n_y, n_m = draws.n, plan.n_trusts, len(LINES), plan.n_years, plan.n_months

    # do-nothing run rate with drivers
    drv = plan.drivers[None]
    if draws.driver_shift is not None:
        drv = drv + draws.driver_shift
    rate = (1.0 + np.einsum("dtyk,lk->dtly", drv, PRICE)) * (
        1.0 + drv[..., DRIVERS.index("activity_growth")][:, :, None, :] * VOLUME[None, None, :, None]
    )
    growth = np.cumprod(rate, axis=-1)  # (D', T, L, Y)
    base = np.tile(plan.base_month, (1, 1, n_y))  # (T, L, M)
    do_nothing = base[None] * np.repeat(growth, 12, axis=-1)
    mask = plan.month_mask[None, :, None, :]
    do_nothing = np.broadcast_to(do_nothing * mask, (n_d, n_t, n_l, n_m))

    # CIP
    phase = _phase(plan, draws.slip)  # (D', S, M)
    effect = phase * (plan.scheme_fye / 12.0)[None, :, None]
    if draws.delivery is not None:
        effect = effect * draws.delivery[:, :, None]
    if draws.cip_scale is not None:
        scale = np.broadcast_to(draws.cip_scale, (n_d, n_t))
        effect = effect * scale[:, plan.scheme_trust][:, :, None]
    effect = np.broadcast_to(effect, (n_d, plan.n_schemes, n_m))
    cip_scheme_year = effect.reshape(n_d, plan.n_schemes, n_y, 12).sum(axis=-1)
    stacked = np.ascontiguousarray(effect.transpose(1, 0, 2)).reshape(plan.n_schemes, n_d * n_m)
    cip = np.asarray(plan._aggregator @ stacked).reshape(n_t, n_l, n_d, n_m).transpose(2, 0, 1, 3)
    if draws.extra_cip is not None:
        extra = np.broadcast_to(draws.extra_cip, (n_d, n_t)) / 12.0
        cip = cip.copy()
        cip[:, :, _L["other_non_pay"], :] += extra[:, :, None]
    cip = cip * mask
    cip_scheme_year = cip_scheme_year * (
        np.arange(n_y)[None, :] < plan.horizon[plan.scheme_trust][:, None]
    )[None]
    return Projection(
        plan=plan,
        do_nothing=np.ascontiguousarray(do_nothing),
        cip=cip,
        cip_scheme_year=cip_scheme_year,
    )
