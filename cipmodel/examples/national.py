"""A synthetic national provider portfolio for 2017/18, calibrated to sector aggregates.

**Synthetic data.** Every trust, name, code and figure here is invented. Nothing describes
a real NHS trust. The portfolio is calibrated only to published *sector* aggregates: trust
counts by type, total income, planned CIP, non-recurrent share, deficits, STF pool, agency
spend and ceilings (docs/domain.md §2.1, §3.2, §4.2, §5.1–5.6; "§" below refers to it).
Individual trusts are random draws shaped to look like real ones (the acute worked example in :mod:`cipmodel.examples` is the
model for one trust's tables). Use it for sector-scale runs, demos, benchmarks and tests,
never as evidence about a named organisation.

:func:`national_portfolio` builds it reproducibly from ``numpy.random.default_rng(seed)``
(no global random state): the same seed always gives an identical portfolio (``==``).
Horizon one year (2017/18). Money £000, rates fractions, surplus positive.

Calibration (targets for the default 235 trusts; counts and money scale pro rata with
``n_trusts``, and are only meaningful from about 100 trusts up). :func:`cipmodel.results.calibration.calibration_table`
measures a portfolio against every target; ``docs/national-portfolio.md`` has the full
table with sources and the values achieved. Tags follow domain.md: [V] verified,
[V-derived] arithmetic on verified figures, [B] background, not verified.

=========================================  ==========================  =====================
What                                       Target                      Source
=========================================  ==========================  =====================
Trusts by type                             acute 137 (20 deep          §5.1 suggested mix
                                           deficit), specialist 17,    [V-derived]; 137
                                           MH 54, community 17,        acute §5.5 [V]
                                           ambulance 10
Sector operating income (year 1)           ≈ £80bn                     §5.2 [V-derived]
Planned CIP, % of do-nothing opex          4.25% (4–4.5%)              §4.2, §3.1 [V]
Non-recurrent share of planned CIP         27.5% (25–30%)              §4.2 [V]
CIP schemes                                ≈ 9,000; acute 25–50        brief; §4.1
Sector planned pre-STF surplus             −£2.1bn                     §5.2 [V-derived]
Trusts in deficit after STF (plan)         ≈ 100 (80–125)              §5.3 [V]
Deep-deficit acute (deficit > 5% income)   20                          §5.5 [V], §5.3
Control totals not accepted                25% (1 in 3 acute);         §3.2, §3.1 [V]
                                           CIP needed ≈ 6.4%
Financial special measures                 12 (all acute)              §3.3 [V]
STF allocated                              £1.5bn + £0.1bn = £1.6bn    §2.1, §2.4 [V]
Agency spend planned / ceilings            £2.6bn / £2.45bn            §5.4 [V]/[B]
CSC / liquidity                            §5.6 priors by group        §5.6 [B]
Drivers                                    tariff 2.1%, efficiency     §4.3 [B]/[V]
                                           2%, activity 2–3%, pay
                                           1.5%, non-pay 2%, drugs 4%
=========================================  ==========================  =====================

How one trust is built (vectorised over all trusts):

1. Type, year-1 do-nothing operating income (log-normal by type, rescaled to the type
   mean), the split of income into lines, the planned pre-STF margin (deep-deficit acute
   trusts: −6% to −20%; other acute −4.9% to +3%, shifted together so the sector plans
   exactly −£2.1bn; non-acute mostly small surpluses), non-operating costs (depreciation,
   PDC dividend, interest on DH loans and PFI).
2. The planned CIP as a share ``p`` of do-nothing operating expenditure (by type; rescaled so
   the sector is exactly 4.25%); do-nothing opex then follows from
   ``surplus = income + CIP − opex − non-operating`` and is split into pay and non-pay lines.
3. 17–50 schemes per trust across pay, non-pay and income, with stage, RAG, start month,
   ramp and recurrence; their full-year effects are scaled so each trust's in-year CIP and
   non-recurrent share hit their draws exactly. Some trusts carry an unidentified line.
4. The control total: most accepting trusts' plans balance (target = planned surplus, a
   little headroom, monthly profile = the plan's own phasing); some accepted with a gap;
   non-accepting trusts face a target their plan misses (needed CIP ≈ 6.4% on average).
5. STF allocations, A&E trajectories and forecasts, agency (set so the sector plans £2.6bn
   after CIP) and ceilings, financing (cash, working capital, DH loans, capital programme)
   and the 2017/18 drivers.

Base-year run rates are the year-1 figures divided by the year-1 driver growth, so year 1 of
a plan run reproduces the calibrated figures.

The steps run in that order from one ``numpy`` generator (the order of the draws is part of
the portfolio): steps 1, 2, 4 and 5 here, step 3 in :mod:`cipmodel.examples.national_schemes`,
the tables in :mod:`cipmodel.examples.national_tables`; the calibration targets and tables
are in :mod:`cipmodel.examples.national_calibration`.

Examples
--------
>>> p = national_portfolio()
>>> len(p.trusts)
235
>>> p.name
'national-synthetic-2017-18 (synthetic data, not real trusts)'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from cipmodel.engine.compile import LINE_INDEX, LINES, SIGN
from cipmodel.engine.formulas import DRIVERS, line_growth
from cipmodel.examples.national_calibration import (
    ACTIVITY_GROWTH,
    ACUTE_MARGIN,
    AGENCY_CEILING,
    AGENCY_OF_PAY,
    AGENCY_PLANNED,
    BANK_OF_PAY,
    CIP_PCT,
    CODE_PREFIX,
    DEEP_DEFICIT_ACUTE,
    DEEP_DEFICIT_MARGIN,
    DEPRECIATION,
    DRIVERS_2017,
    DRUGS_OF_OPEX,
    FSM_TRUSTS,
    INCOME_LINES,
    INCOME_MEAN,
    INCOME_SHARE,
    INCOME_SIGMA,
    NAME,
    NON_ACUTE_MARGIN,
    NOT_ACCEPTED_ACUTE_SHARE,
    NOT_ACCEPTED_SHARE,
    OTHER_NON_PAY_MIN,
    PAY_SHARE,
    PFI_PROBABILITY,
    REFERENCE_TRUSTS,
    SECTOR_CIP_PCT,
    SECTOR_PRE_STF,
    STF_GENERAL_POOL,
    STF_NON_ACUTE_POOL,
    SUPPLIES_OF_OPEX,
    TRUST_TYPES,
    TYPE_LABEL,
    TYPE_MIX,
    by_type,
    floor1,
    round1,
    type_counts,
    weighted_pick,
)
from cipmodel.examples.national_schemes import Schemes, draw_schemes
from cipmodel.examples.national_tables import TrustArrays, build_portfolio
from cipmodel.inputs.records import Portfolio

__all__ = [
    "DEEP_DEFICIT_MARGIN",
    "NAME",
    "REFERENCE_TRUSTS",
    "TRUST_TYPES",
    "TYPE_MIX",
    "national_portfolio",
    "type_counts",
]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def national_portfolio(seed: int = 2017, n_trusts: int = REFERENCE_TRUSTS) -> Portfolio:
    """A synthetic national provider portfolio for 2017/18 (see the module docstring).

    Parameters
    ----------
    seed : int
        Seed for ``numpy.random.default_rng``; the same seed gives an identical portfolio.
    n_trusts : int
        Number of trusts (default 235). The type mix, the deep-deficit, FSM and
        not-accepted counts and the sector totals (STF pools, agency) scale pro rata.

    Returns
    -------
    Portfolio
        Horizon one year; every trust has income, costs, CIP schemes, a control total,
        an STF allocation, financing and drivers. Named as synthetic.
    """
    rng = np.random.default_rng(seed)
    tr = _trusts(n_trusts)
    inc, inc_lines = _income(rng, tr)  # 1. income, margin, non-operating
    margins = _margins(rng, tr, inc)
    fin = _non_operating(rng, tr, inc, margins)
    ops = _operating_costs(rng, tr, inc, inc_lines, margins, fin)  # 2.
    sch = draw_schemes(rng, tr.ti, inc, margins.deep, ops.p, ops.cip, ops.y1)  # 3.
    agency_y1, ceiling = _agency(rng, tr, margins, ops, sch)
    base_vals, month_surplus = _year_one_plan(tr, fin, ops, sch, agency_y1)
    accepted, ct_month, ct_target = _control_totals(rng, tr, inc, margins, fin, ops, month_surplus)
    alloc, traj, fc = _stf_and_ae(rng, tr, inc, inc_lines)  # 5.
    fl = _financing(rng, tr, margins, fin, ops, month_surplus.sum(axis=1), accepted, alloc)
    arrays = TrustArrays(
        codes=tr.codes,
        names=tr.names,
        ti=tr.ti,
        types=tr.types,
        fsm=fin.fsm,
        ceiling=ceiling,
        base_vals=base_vals,
        ct_month=ct_month,
        ct_target=ct_target,
        accepted=accepted,
        alloc=alloc,
        traj=traj,
        fc=fc,
        cash=round1(fin.cash),
        wc=round1(fl.wc),
        loans=round1(fin.loans),
        drawdown=round1(fl.drawdown),
        principal=round1(fl.principal),
        capex=round1(fl.capex),
    )
    return build_portfolio(arrays, sch)


# ---------------------------------------------------------------------------------------
# The trusts and step 1: income, margin, non-operating costs
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Trusts:
    """The trusts: how many of each type, their codes and names (no draws)."""

    counts: dict[str, int]
    scale: float  # n_trusts / REFERENCE_TRUSTS
    ti: NDArray[np.intp]  # (T,) index into TRUST_TYPES
    types: NDArray[np.str_]
    acute: BoolArray
    acute_idx: NDArray[np.intp]
    codes: list[str]
    names: list[str]

    @property
    def n(self) -> int:
        return int(self.ti.size)


def _trusts(n_trusts: int) -> _Trusts:
    counts = type_counts(n_trusts)
    ti = np.repeat(np.arange(len(TRUST_TYPES)), [counts[t] for t in TRUST_TYPES])
    types = np.array(TRUST_TYPES)[ti]
    acute = types == "acute"
    return _Trusts(
        counts=counts,
        scale=n_trusts / REFERENCE_TRUSTS,
        ti=ti,
        types=types,
        acute=acute,
        acute_idx=np.flatnonzero(acute),
        codes=[f"{CODE_PREFIX[t]}{k + 1:03d}" for t in TRUST_TYPES for k in range(counts[t])],
        names=[
            f"Synthetic {TYPE_LABEL[t]} Trust {k + 1:03d}"
            for t in TRUST_TYPES
            for k in range(counts[t])
        ],
    )


def _income(rng: np.random.Generator, tr: _Trusts) -> tuple[FloatArray, FloatArray]:
    """Year-1 do-nothing operating income (T,) (log-normal by type, rescaled to the type
    mean) and its split into the income lines (T, 5)."""
    ti, n = tr.ti, tr.n
    inc = np.exp(np.clip(rng.normal(0.0, 1.0, n), -2.5, 2.5) * by_type(INCOME_SIGMA, ti))
    for k in range(len(TRUST_TYPES)):
        sel = ti == k
        if sel.any():
            inc[sel] *= INCOME_MEAN[TRUST_TYPES[k]] / inc[sel].mean()
    shares = np.array([INCOME_SHARE[t] for t in TRUST_TYPES])[ti]
    shares = rng.gamma(shares * 400.0)
    inc_lines = inc[:, None] * shares / shares.sum(axis=1, keepdims=True)  # (T, 5) year 1
    return inc, inc_lines


@dataclass(frozen=True)
class _Margins:
    """The planned pre-STF margin of each trust and the deep-deficit acute trusts."""

    n_deep: int
    deep: BoolArray
    margin: FloatArray
    surplus: FloatArray  # margin x income [£000]
    deficit: BoolArray
    deficit_acute: BoolArray


def _margins(rng: np.random.Generator, tr: _Trusts, inc: FloatArray) -> _Margins:
    """Deep-deficit acute trusts: -6% to -20%; other acute -4.9% to +3%, shifted together so
    the sector plans exactly its pre-STF total; non-acute mostly small surpluses."""
    n, acute, acute_idx, types = tr.n, tr.acute, tr.acute_idx, tr.types
    n_deep = min(
        int(round(DEEP_DEFICIT_ACUTE * tr.counts["acute"] / TYPE_MIX["acute"])), acute_idx.size
    )
    deep = np.zeros(n, dtype=bool)
    deep[weighted_pick(rng, acute_idx, inc[acute_idx], n_deep)] = True
    margin = np.empty(n)
    lo, hi, a, b = ACUTE_MARGIN
    margin[acute] = lo + (hi - lo) * rng.beta(a, b, acute.sum())
    margin[deep] = np.maximum(-0.06 - rng.exponential(0.05, deep.sum()), -0.20)
    for t, (mu, sd) in NON_ACUTE_MARGIN.items():
        sel = types == t
        margin[sel] = np.clip(rng.normal(mu, sd, sel.sum()), -0.04, 0.05)
    # shift the other acute margins (within their range) to the sector's planned total
    other = acute & ~deep
    fixed = (margin * inc)[~other].sum()
    lo_d, hi_d = -0.02, 0.02
    for _ in range(40):
        mid = 0.5 * (lo_d + hi_d)
        total = fixed + (np.clip(margin[other] + mid, lo, hi) * inc[other]).sum()
        lo_d, hi_d = (mid, hi_d) if total < SECTOR_PRE_STF * tr.scale else (lo_d, mid)
    margin[other] = np.clip(margin[other] + 0.5 * (lo_d + hi_d), lo, hi)
    return _Margins(
        n_deep=n_deep,
        deep=deep,
        margin=margin,
        surplus=margin * inc,
        deficit=margin < 0,
        deficit_acute=acute & (margin < -0.01),
    )


@dataclass(frozen=True)
class _NonOperating:
    """Depreciation, PDC dividend, loans, PFI, cash and interest of each trust [£000]."""

    dep: FloatArray
    pdc: FloatArray
    loans: FloatArray
    fsm: BoolArray
    pfi: BoolArray
    pfi_capital: FloatArray
    interest: FloatArray
    cash: FloatArray
    interest_rec: FloatArray
    non_op: FloatArray  # net non-operating costs


def _non_operating(
    rng: np.random.Generator, tr: _Trusts, inc: FloatArray, m: _Margins
) -> _NonOperating:
    """Non-operating costs (depreciation, PDC dividend, interest on DH loans and PFI), the
    trusts in financial special measures, and opening cash."""
    n, ti = tr.n, tr.ti
    deep, deficit, deficit_acute, margin = m.deep, m.deficit, m.deficit_acute, m.margin
    dep = inc * rng.uniform(*np.array([DEPRECIATION[t] for t in TRUST_TYPES])[ti].T)
    pdc = inc * np.where(deficit_acute, rng.uniform(0.003, 0.010, n), rng.uniform(0.010, 0.020, n))
    loans = inc * np.select(
        [deep, deficit_acute, deficit],
        [rng.uniform(0.15, 0.35, n), rng.uniform(0.08, 0.25, n), rng.uniform(0.0, 0.08, n)],
        np.where(rng.random(n) < 0.6, rng.uniform(0.02, 0.08, n), 0.0),
    )
    fsm = np.zeros(n, dtype=bool)
    n_fsm = min(int(round(FSM_TRUSTS * m.n_deep / DEEP_DEFICIT_ACUTE)), m.n_deep)
    fsm[weighted_pick(rng, np.flatnonzero(deep), -margin[deep], n_fsm)] = True
    loan_rate = np.select(
        [fsm, deep, deficit_acute],
        [rng.uniform(0.05, 0.06, n), rng.uniform(0.035, 0.05, n), rng.uniform(0.03, 0.035, n)],
        rng.uniform(0.015, 0.025, n),
    )
    pfi = rng.random(n) < by_type(PFI_PROBABILITY, ti)
    pfi_interest = np.where(pfi, inc * rng.uniform(0.008, 0.02, n), 0.0)
    pfi_capital = np.where(pfi, inc * rng.uniform(0.003, 0.008, n), 0.0)
    interest = loans * loan_rate + pfi_interest
    cash_days = np.where(deficit, rng.uniform(1.0, 4.0, n), rng.uniform(10.0, 50.0, n))
    cash = np.maximum(cash_days * inc / 360.0, 1000.0)
    interest_rec = cash * 0.004
    return _NonOperating(
        dep=dep,
        pdc=pdc,
        loans=loans,
        fsm=fsm,
        pfi=pfi,
        pfi_capital=pfi_capital,
        interest=interest,
        cash=cash,
        interest_rec=interest_rec,
        non_op=dep + pdc + interest - interest_rec,
    )


# ---------------------------------------------------------------------------------------
# Step 2: CIP share and operating expenditure
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Opex:
    """Planned CIP share, operating expenditure and the year-1 lines of each trust."""

    p: FloatArray  # planned CIP, share of do-nothing operating expenditure
    opex: FloatArray  # do-nothing operating expenditure [£000]
    cip: FloatArray  # in-year CIP target (year 1) [£000]
    pay: FloatArray
    bank: FloatArray
    agency0: FloatArray  # agency before the sector total is set
    y1: FloatArray  # (T, L) year-1 do-nothing value of every line [£000]


def _operating_costs(
    rng: np.random.Generator,
    tr: _Trusts,
    inc: FloatArray,
    inc_lines: FloatArray,
    m: _Margins,
    fin: _NonOperating,
) -> _Opex:
    """The planned CIP as a share ``p`` of do-nothing operating expenditure (by type;
    rescaled so the sector is exactly on target); opex then follows from ``surplus = income +
    CIP - opex - non-operating`` and is split into pay and non-pay lines."""
    n, ti, deep = tr.n, tr.ti, m.deep
    p_raw = by_type(CIP_PCT, ti) * np.exp(rng.normal(0.0, 0.2, n))
    p_raw[deep] = rng.uniform(0.06, 0.10, deep.sum())
    base = inc - fin.non_op - m.surplus  # = opex * (1 - p)
    k = 1.0
    for _ in range(8):
        opex = base / (1.0 - k * p_raw)
        k *= SECTOR_CIP_PCT / ((k * p_raw * opex).sum() / opex.sum())
    p = k * p_raw
    opex = base / (1.0 - p)

    # shares of opex; other non-pay is the rest, kept at least OTHER_NON_PAY_MIN
    mix = np.stack(
        [
            np.clip(by_type(PAY_SHARE, ti) + rng.normal(0.0, 0.025, n), 0.45, 0.85),
            by_type(DRUGS_OF_OPEX, ti) * np.exp(rng.normal(0.0, 0.2, n)),
            by_type(SUPPLIES_OF_OPEX, ti) * np.exp(rng.normal(0.0, 0.2, n)),
            np.where(fin.pfi, rng.uniform(0.015, 0.04, n), 0.0),
        ]
    )
    mix *= np.minimum(1.0, (1.0 - OTHER_NON_PAY_MIN) / mix.sum(axis=0))
    pay, drugs, supplies, pfi_unitary = opex * mix
    other_np = opex - pay - drugs - supplies - pfi_unitary
    bank = pay * by_type(BANK_OF_PAY, ti) * np.exp(rng.normal(0.0, 0.25, n))
    agency0 = pay * by_type(AGENCY_OF_PAY, ti) * np.exp(rng.normal(0.0, 0.35, n))
    agency0[deep] *= 1.3
    y1 = np.zeros((n, len(LINES)))  # year-1 do-nothing value of every line [£000]
    for line, v in (
        ("pay_bank", bank),
        ("pay_agency", agency0),
        ("drugs", drugs),
        ("clinical_supplies", supplies),
        ("pfi_unitary", pfi_unitary),
        ("other_non_pay", other_np),
    ):
        y1[:, LINE_INDEX[line]] = v
    y1[:, LINE_INDEX["pay_substantive"]] = pay - bank - agency0
    for j, line in enumerate(INCOME_LINES):
        y1[:, LINE_INDEX[line]] = inc_lines[:, j]
    return _Opex(p=p, opex=opex, cip=p * opex, pay=pay, bank=bank, agency0=agency0, y1=y1)


# ---------------------------------------------------------------------------------------
# After the schemes (step 3): agency, the base run rates and the year-1 plan
# ---------------------------------------------------------------------------------------
def _agency(
    rng: np.random.Generator, tr: _Trusts, m: _Margins, ops: _Opex, sch: Schemes
) -> tuple[FloatArray, FloatArray]:
    """Year-1 agency spend (planned after CIP, scaled to the sector total, plus the CIP on
    it) and the agency ceilings (scaled to the sector ceiling) [£000]."""
    agency0, agency_cut = ops.agency0, sch.agency_cut
    agency_after = agency0 - agency_cut
    agency_after = np.maximum(agency_after, 0.2 * agency0)
    agency_after *= AGENCY_PLANNED * tr.scale / agency_after.sum()
    agency_y1 = agency_after + agency_cut
    ceiling_ratio = np.exp(rng.normal(np.where(m.deficit_acute, -0.15, 0.0), 0.25))
    ceiling = agency_after * ceiling_ratio
    ceiling = round1(ceiling * AGENCY_CEILING * tr.scale / ceiling.sum())
    return agency_y1, ceiling


def _growth(ti: NDArray[np.intp]) -> FloatArray:
    """(T, L) year-1 growth of each line from the drivers (the engine's formula)."""
    drv = np.zeros((ti.size, len(DRIVERS)))
    for k, v in DRIVERS_2017.items():
        drv[:, DRIVERS.index(k)] = v
    drv[:, DRIVERS.index("activity_growth")] = by_type(ACTIVITY_GROWTH, ti)
    return line_growth(drv)


def _year_one_plan(
    tr: _Trusts, fin: _NonOperating, ops: _Opex, sch: Schemes, agency_y1: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Base run rates (year 1 / growth, rounded) (T, L), and from them the exact year-1 plan:
    the pre-STF surplus by month (T, 12), phased as the plan's own CIP."""
    y1 = ops.y1.copy()
    y1[:, LINE_INDEX["pay_substantive"]] = ops.pay - ops.bank - agency_y1
    y1[:, LINE_INDEX["pay_agency"]] = agency_y1
    growth = _growth(tr.ti)
    y1[:, LINE_INDEX["depreciation"]] = fin.dep
    y1[:, LINE_INDEX["pdc_dividend"]] = fin.pdc
    y1[:, LINE_INDEX["interest_payable"]] = fin.interest
    y1[:, LINE_INDEX["interest_receivable"]] = fin.interest_rec
    base_vals = round1(y1 / growth)
    dn_surplus = (base_vals * growth * SIGN).sum(axis=1)
    month_surplus = dn_surplus[:, None] / 12.0 + sch.month_cip  # the plan's own phasing
    return base_vals, month_surplus


# ---------------------------------------------------------------------------------------
# Step 4: control totals; step 5: STF, A&E, financing
# ---------------------------------------------------------------------------------------
def _control_totals(
    rng: np.random.Generator,
    tr: _Trusts,
    inc: FloatArray,
    m: _Margins,
    fin: _NonOperating,
    ops: _Opex,
    month_surplus: FloatArray,
) -> tuple[BoolArray, FloatArray, FloatArray]:
    """Which trusts accepted their control total, its monthly profile and its target: most
    accepting trusts' plans balance (a little headroom), some accepted with a gap;
    non-accepting trusts face a target their plan misses."""
    n, acute, acute_idx, deep, margin = tr.n, tr.acute, tr.acute_idx, m.deep, m.margin
    n_na = int(round(NOT_ACCEPTED_SHARE * n))
    n_na_acute = min(int(round(NOT_ACCEPTED_ACUTE_SHARE * tr.counts["acute"])), n_na)
    w_acute = np.where(deep, 3.0, np.where(margin < -0.02, 1.5, 0.7))
    not_acc = np.zeros(n, dtype=bool)
    not_acc[weighted_pick(rng, acute_idx, w_acute[acute_idx], n_na_acute)] = True
    other_idx = np.flatnonzero(~acute)
    not_acc[
        weighted_pick(rng, other_idx, np.where(m.deficit, 3.0, 1.0)[other_idx], n_na - n_na_acute)
    ] = True
    accepted = ~not_acc
    gap_acc = accepted & (rng.random(n) < 0.10)
    opex = ops.opex
    gap = np.select(
        [not_acc, gap_acc],
        [rng.uniform(0.008, 0.03, n) * opex, rng.uniform(0.002, 0.01, n) * opex],
        0.0,
    )
    headroom = np.where(gap > 0, 0.0, rng.uniform(0.0, 0.001, n) * inc)
    ct_month = floor1(month_surplus + (gap - headroom)[:, None] / 12.0 - 0.05)
    ct_target = round1(ct_month.sum(axis=1))
    return accepted, ct_month, ct_target


def _stf_and_ae(
    rng: np.random.Generator, tr: _Trusts, inc: FloatArray, inc_lines: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """STF allocations (the general pool by emergency income among acute trusts, the
    non-acute fund by income), and A&E trajectories and forecasts (T, 4)."""
    n, acute, scale = tr.n, tr.acute, tr.scale
    emergency = np.where(acute, inc_lines[:, 0] * rng.uniform(0.25, 0.40, n), 0.0)
    alloc = np.zeros(n)
    if acute.any():
        alloc[acute] = STF_GENERAL_POOL * scale * emergency[acute] / emergency[acute].sum()
    if (~acute).any():
        alloc[~acute] = STF_NON_ACUTE_POOL * scale * inc[~acute] / inc[~acute].sum()
    alloc = round1(alloc)
    traj_q1 = rng.uniform(0.86, 0.92, n)
    traj = np.minimum(
        traj_q1[:, None] + np.linspace(0.0, 1.0, 4)[None, :] * rng.uniform(0.01, 0.05, n)[:, None],
        0.95,
    )
    fc = np.clip(traj + rng.normal(-0.005, 0.015, (n, 4)), 0.80, 0.98)
    return alloc, traj.round(3), fc.round(3)


@dataclass(frozen=True)
class _Financing:
    """Opening working capital and the year's capital, loan and repayment flows [£000]."""

    wc: FloatArray
    capex: FloatArray
    principal: FloatArray
    drawdown: FloatArray


def _financing(
    rng: np.random.Generator,
    tr: _Trusts,
    m: _Margins,
    fin: _NonOperating,
    ops: _Opex,
    plan_surplus: FloatArray,
    accepted: BoolArray,
    alloc: FloatArray,
) -> _Financing:
    """Working capital (liquidity days by group), capital programme, loan repayments, and
    DH loans drawn by deficit trusts whose cash runs short."""
    n, deep, deficit, deficit_acute = tr.n, m.deep, m.deficit, m.deficit_acute
    liq_days = np.select(
        [deep, deficit_acute, deficit],
        [
            rng.uniform(-30.0, -12.0, n),
            np.clip(rng.normal(-10.0, 6.0, n), -28.0, 5.0),
            np.clip(rng.normal(2.0, 6.0, n), -10.0, 15.0),
        ],
        np.clip(rng.normal(15.0, 12.0, n), -5.0, 45.0),
    )
    wc = liq_days * ops.opex / 360.0
    capex = fin.dep * np.where(deficit, rng.uniform(0.6, 1.0, n), rng.uniform(0.9, 1.4, n))
    principal = (
        fin.loans / np.where(deficit, rng.uniform(6.0, 15.0, n), rng.uniform(5.0, 15.0, n))
        + fin.pfi_capital
    )
    stf = np.where(accepted, alloc, 0.0)
    cash_need = -(plan_surplus + stf + fin.dep - capex - principal)
    drawdown = np.where(deficit & (cash_need > 0), cash_need * rng.uniform(0.9, 1.1, n), 0.0)
    return _Financing(wc=wc, capex=capex, principal=principal, drawdown=drawdown)
