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

Examples
--------
>>> p = national_portfolio()
>>> len(p.trusts)
235
>>> p.name
'national-synthetic-2017-18 (synthetic data, not real trusts)'
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cipmodel.engine.formulas import DRIVERS, line_growth, ramp_phase
from cipmodel.engine.project import LINES, SIGN
from cipmodel.inputs.records import Portfolio

__all__ = [
    "NAME",
    "TRUST_TYPES",
    "TYPE_MIX",
    "national_portfolio",
    "type_counts",
]

NAME = "national-synthetic-2017-18 (synthetic data, not real trusts)"
FINANCIAL_YEAR = "2017/18"
REFERENCE_TRUSTS = 235
"""Sector totals (STF pools, agency) are stated for this many trusts and scaled pro rata."""

TRUST_TYPES = ("acute", "specialist", "mental_health", "community", "ambulance")
TYPE_MIX = {"acute": 137, "specialist": 17, "mental_health": 54, "community": 17, "ambulance": 10}
"""Trusts by type for 235 trusts: domain.md §5.1 suggested mix (acute 135–137, §5.5: 137)."""

_PREFIX = {
    "acute": "SA",
    "specialist": "SS",
    "mental_health": "SM",
    "community": "SC",
    "ambulance": "SE",
}
_LABEL = {
    "acute": "Acute",
    "specialist": "Specialist",
    "mental_health": "Mental Health",
    "community": "Community",
    "ambulance": "Ambulance",
}

# ---------------------------------------------------------------------------------------
# Calibration constants (see docs/national-portfolio.md for the sources).
# ---------------------------------------------------------------------------------------
DEEP_DEFICIT_ACUTE = 20  # §5.5: 20 of 22 Oct-2016 segment-4 trusts acute [V]
DEEP_DEFICIT_MARGIN = -0.05  # "deficit > 5% of income" (§5.3) [V]
FSM_TRUSTS = 12  # §3.3: 12 in FSM in 2017/18, all acute [V]
NOT_ACCEPTED_SHARE = 0.25  # §3.2: ~60 of 238 (>25%) [V]
NOT_ACCEPTED_ACUTE_SHARE = 1 / 3  # §3.2: about 1 in 3 acute trusts [V]
SECTOR_PRE_STF = -2_100_000.0  # §5.2: plan (£496m) post-STF less £1.6bn allocated [V-derived]
SECTOR_CIP_PCT = 0.0425  # §4.2/§3.1: 4.2% required in 2017/18; plans 4–4.5% [V]
NON_RECURRENT_SHARE = 0.275  # §4.2: 25–30% non-recurrent, "more than a quarter" [V]
STF_GENERAL_POOL = 1_500_000.0  # §2.1: £1.5bn general, pro rata emergency services [V]
STF_NON_ACUTE_POOL = 100_000.0  # §2.1/§2.4: £100m non-acute fund [V]
AGENCY_PLANNED = 2_600_000.0  # §5.4: 2016/17 ~£2.9bn out, 2017/18 ~20% lower [V]
AGENCY_CEILING = 2_450_000.0  # §5.4: sector ceiling ~£2.5bn [B]; 2016/17 plan £2.4bn [V]

# Year-1 (2017/18) drivers: §4.3 (two-year tariff, 2% efficiency [B]; cost uplift ~2.1% [B]).
_DRIVERS = {
    "tariff_uplift": 0.021,
    "efficiency_factor": 0.02,
    "pay_award": 0.015,  # 1% Agenda for Change award + ~0.5% drift [B]
    "non_pay_inflation": 0.02,
    "drug_inflation": 0.04,
}
_ACTIVITY = {
    "acute": 0.025,
    "specialist": 0.03,
    "mental_health": 0.02,
    "community": 0.02,
    "ambulance": 0.03,
}

# Year-1 do-nothing operating income per trust [£000]: type mean and log-normal spread.
_INCOME_MEAN = {
    "acute": 440_000.0,
    "specialist": 230_000.0,
    "mental_health": 190_000.0,
    "community": 140_000.0,
    "ambulance": 240_000.0,
}
_INCOME_SIGMA = {
    "acute": 0.50,
    "specialist": 0.40,
    "mental_health": 0.35,
    "community": 0.35,
    "ambulance": 0.25,
}

_INCOME_LINES = (
    "nhs_clinical",
    "other_clinical",
    "education_training",
    "research",
    "other_operating",
)
_INCOME_SHARE = {
    "acute": (0.86, 0.02, 0.05, 0.015, 0.055),
    "specialist": (0.78, 0.05, 0.04, 0.06, 0.07),
    "mental_health": (0.88, 0.03, 0.03, 0.007, 0.053),
    "community": (0.85, 0.03, 0.03, 0.003, 0.087),
    "ambulance": (0.93, 0.01, 0.015, 0.002, 0.043),
}
# Operating expenditure mix: pay share; bank and agency as shares of pay (agency is reset
# later to hit the sector total); drugs and clinical supplies as shares of opex.
_PAY_SHARE = {
    "acute": 0.62,
    "specialist": 0.55,
    "mental_health": 0.76,
    "community": 0.72,
    "ambulance": 0.74,
}
_BANK_OF_PAY = {
    "acute": 0.045,
    "specialist": 0.03,
    "mental_health": 0.05,
    "community": 0.04,
    "ambulance": 0.02,
}
_AGENCY_OF_PAY = {
    "acute": 0.055,
    "specialist": 0.035,
    "mental_health": 0.06,
    "community": 0.045,
    "ambulance": 0.025,
}
_DRUGS_OF_OPEX = {
    "acute": 0.11,
    "specialist": 0.18,
    "mental_health": 0.02,
    "community": 0.04,
    "ambulance": 0.01,
}
_SUPPLIES_OF_OPEX = {
    "acute": 0.10,
    "specialist": 0.12,
    "mental_health": 0.03,
    "community": 0.06,
    "ambulance": 0.04,
}
_OTHER_NON_PAY_MIN = 0.08
_PFI_PROBABILITY = {
    "acute": 0.45,
    "specialist": 0.2,
    "mental_health": 0.25,
    "community": 0.1,
    "ambulance": 0.0,
}
_DEPRECIATION = {
    "acute": (0.028, 0.040),
    "specialist": (0.035, 0.050),
    "mental_health": (0.020, 0.032),
    "community": (0.012, 0.024),
    "ambulance": (0.030, 0.045),
}

# Planned pre-STF margin (surplus / income). Acute (not deep deficit): a scaled Beta on
# [lo, hi]; non-acute: normal (mean, sd) clipped to [-4%, 5%].
_ACUTE_MARGIN = (-0.049, 0.03, 2.0, 2.0)
_NON_ACUTE_MARGIN = {
    "specialist": (0.010, 0.016),
    "mental_health": (0.007, 0.013),
    "community": (0.010, 0.013),
    "ambulance": (0.008, 0.010),
}
# Planned CIP % of opex before the sector rescale: log-normal around these medians.
_CIP_PCT = {
    "acute": 0.044,
    "specialist": 0.040,
    "mental_health": 0.036,
    "community": 0.036,
    "ambulance": 0.034,
}

# Scheme counts: (typical, low, high), scaled by size^0.35.
_SCHEME_COUNT = {
    "acute": (42, 25, 50),
    "specialist": (31, 20, 40),
    "mental_health": (36, 22, 45),
    "community": (29, 17, 38),
    "ambulance": (31, 20, 40),
}
_CATEGORIES = ("pay", "non_pay", "income")
_CATEGORY_MIX = {
    "acute": (0.45, 0.38, 0.17),
    "specialist": (0.40, 0.42, 0.18),
    "mental_health": (0.55, 0.33, 0.12),
    "community": (0.53, 0.35, 0.12),
    "ambulance": (0.55, 0.35, 0.10),
}
_NR_CATEGORY_MIX = (0.35, 0.45, 0.20)
# Emphasis of each target line within its category (times its size).
_LINE_EMPHASIS = {
    "pay_substantive": 1.0,
    "pay_bank": 1.5,
    "pay_agency": 3.0,
    "drugs": 1.0,
    "clinical_supplies": 1.0,
    "pfi_unitary": 0.3,
    "other_non_pay": 1.2,
    "nhs_clinical": 0.05,
    "other_clinical": 2.0,
    "education_training": 0.3,
    "research": 0.5,
    "other_operating": 2.0,
}
_LINE_CAP = 0.25  # no line loses more than a quarter of itself in year 1
_STAGES = ("delivered", "delivering", "qia_approved", "plan", "idea")
_STAGE_MIX = (0.05, 0.22, 0.25, 0.30, 0.18)
_STAGE_MIX_STRETCHED = (0.03, 0.15, 0.17, 0.30, 0.35)  # trusts planning CIP above 6%
_RAGS = ("blue", "green", "amber", "red")
_RAG_GIVEN_STAGE = {
    "delivered": (0.90, 0.10, 0.0, 0.0),
    "delivering": (0.20, 0.60, 0.20, 0.0),
    "qia_approved": (0.0, 0.55, 0.40, 0.05),
    "plan": (0.0, 0.30, 0.55, 0.15),
    "idea": (0.0, 0.0, 0.40, 0.60),
}
_START_MONTH_P = (0.25, 0.06, 0.06, 0.14, 0.05, 0.05, 0.12, 0.05, 0.05, 0.09, 0.04, 0.04)
_NR_START_MONTH_P = (0.30, 0.08, 0.08, 0.10, 0.07, 0.07, 0.08, 0.06, 0.06, 0.05, 0.03, 0.02)
_RAMP_P = (0.25, 0.15, 0.20, 0.15, 0.10, 0.10, 0.05)  # 0..6 months

_NAMES: dict[str, tuple[str, ...]] = {
    "pay_substantive": (
        "E-rostering: nursing skill-mix review",
        "Job planning: consultant PAs",
        "Corporate services restructure",
        "Outpatient template redesign",
        "Length of stay: discharge to assess",
        "Admin and clerical review",
        "Theatre productivity",
        "Clinical support skill mix",
        "Ward establishment review",
        "Management cost reduction",
        "Seven-day service model redesign",
        "Pharmacy skill mix",
        "Back-office shared service",
    ),
    "pay_bank": (
        "Bank rate harmonisation",
        "Sickness absence reduction",
        "Escalation bed closure",
        "Enhanced observation policy",
    ),
    "pay_agency": (
        "Medical agency to bank conversion",
        "Nursing agency cap enforcement",
        "Locum rate negotiation",
        "Agency off-framework elimination",
        "Substantive recruitment to hard-to-fill posts",
    ),
    "drugs": (
        "Biosimilar switching",
        "Medicines optimisation: homecare",
        "Drug formulary review",
        "Generic switching",
    ),
    "clinical_supplies": (
        "Procurement: orthopaedic implants",
        "Procurement: consumables catalogue",
        "Pathology consolidation",
        "Blood products stock management",
        "Medical devices standardisation",
    ),
    "pfi_unitary": ("PFI contract variation review", "PFI soft services benchmarking"),
    "other_non_pay": (
        "Energy: LED and building controls",
        "Estates rationalisation",
        "IT licence consolidation",
        "Courier and transport contract",
        "Print and postage: digital letters",
        "Clinical waste retender",
        "Catering contract review",
        "Insurance and leases review",
    ),
    "nhs_clinical": (
        "Clinical coding improvement",
        "Activity capture and counting",
        "Outpatient follow-up coding",
    ),
    "other_clinical": (
        "Private patient income",
        "Overseas visitor cost recovery",
        "Injury cost recovery",
    ),
    "education_training": ("Education tariff recovery",),
    "research": ("Research overhead recovery", "Commercial trials income"),
    "other_operating": (
        "Car parking tariff review",
        "Catering and retail income",
        "Services to other providers (trading)",
        "Estates lettings income",
    ),
}
_NR_NAMES: dict[str, tuple[str, ...]] = {
    "pay": ("Vacancy control (non-recurrent)", "Recruitment slippage (one-off)"),
    "non_pay": (
        "Release of prior-year accruals",
        "VAT recovery (one-off)",
        "Capital-to-revenue transfer (one-off)",
        "Provision release (one-off)",
    ),
    "income": ("Land sale profit (one-off)", "One-off income settlement"),
}
_TYPE_NAMES: dict[tuple[str, str], tuple[str, ...]] = {
    ("mental_health", "pay_substantive"): (
        "Inpatient ward reconfiguration",
        "Crisis team model review",
    ),
    ("mental_health", "other_non_pay"): ("Out-of-area placements reduction",),
    ("community", "pay_substantive"): (
        "Community nursing caseload rostering",
        "Integrated care team redesign",
    ),
    ("ambulance", "pay_substantive"): ("Hear and treat / see and treat", "Shift pattern review"),
    ("ambulance", "other_non_pay"): ("Fleet maintenance contract", "Fuel procurement"),
}
_NR_LINE = {"pay": "pay_substantive", "non_pay": "other_non_pay", "income": "other_operating"}

_L = {name: i for i, name in enumerate(LINES)}
_CAT_LINES = {
    "pay": ("pay_substantive", "pay_bank", "pay_agency"),
    "non_pay": ("drugs", "clinical_supplies", "pfi_unitary", "other_non_pay"),
    "income": _INCOME_LINES,
}


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------
def type_counts(n_trusts: int = REFERENCE_TRUSTS) -> dict[str, int]:
    """Trusts by type for ``n_trusts`` (the §5.1 mix scaled, largest remainder)."""
    if n_trusts < 1:
        raise ValueError(f"n_trusts must be at least 1, got {n_trusts}")
    total = sum(TYPE_MIX.values())
    raw = np.array([TYPE_MIX[t] * n_trusts / total for t in TRUST_TYPES])
    counts = np.floor(raw).astype(int)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: n_trusts - counts.sum()]] += 1
    return dict(zip(TRUST_TYPES, counts.tolist(), strict=True))


def _by_type(values: dict[str, Any], ti: np.ndarray) -> np.ndarray:
    return np.array([values[t] for t in TRUST_TYPES], dtype=float)[ti]


def _choice_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category per row of ``probs`` (rows sum to 1)."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(probs.shape[0]) * cum[:, -1]
    return np.minimum((cum <= u[:, None]).sum(axis=1), probs.shape[1] - 1)


def _weighted_pick(
    rng: np.random.Generator, idx: np.ndarray, weights: np.ndarray, k: int
) -> np.ndarray:
    """``k`` of ``idx`` without replacement, probability proportional to ``weights``."""
    k = min(k, idx.size)
    if k <= 0:
        return idx[:0]
    keys = rng.random(idx.size) ** (1.0 / np.maximum(weights, 1e-12))  # Efraimidis-Spirakis
    return idx[np.argsort(-keys, kind="stable")[:k]]


def _growth(ti: np.ndarray) -> np.ndarray:
    """(T, L) year-1 growth of each line from the drivers (the engine's formula)."""
    drv = np.zeros((ti.size, len(DRIVERS)))
    for k, v in _DRIVERS.items():
        drv[:, DRIVERS.index(k)] = v
    drv[:, DRIVERS.index("activity_growth")] = _by_type(_ACTIVITY, ti)
    return line_growth(drv)


def _floor1(x: np.ndarray) -> np.ndarray:
    """Round down to one decimal (£100)."""
    return np.floor(np.asarray(x) * 10.0) / 10.0


def _round1(x: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(x), 1)


# ---------------------------------------------------------------------------------------
# The portfolio
# ---------------------------------------------------------------------------------------
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
    counts = type_counts(n_trusts)
    scale = n_trusts / REFERENCE_TRUSTS
    ti = np.repeat(np.arange(len(TRUST_TYPES)), [counts[t] for t in TRUST_TYPES])
    n = ti.size
    types = np.array(TRUST_TYPES)[ti]
    acute = types == "acute"
    acute_idx = np.flatnonzero(acute)
    codes = [f"{_PREFIX[t]}{k + 1:03d}" for t in TRUST_TYPES for k in range(counts[t])]
    names = [
        f"Synthetic {_LABEL[t]} Trust {k + 1:03d}" for t in TRUST_TYPES for k in range(counts[t])
    ]

    # -- 1. income, margin, non-operating ---------------------------------------------
    inc = np.exp(np.clip(rng.normal(0.0, 1.0, n), -2.5, 2.5) * _by_type(_INCOME_SIGMA, ti))
    for k in range(len(TRUST_TYPES)):
        sel = ti == k
        if sel.any():
            inc[sel] *= _INCOME_MEAN[TRUST_TYPES[k]] / inc[sel].mean()
    shares = np.array([_INCOME_SHARE[t] for t in TRUST_TYPES])[ti]
    shares = rng.gamma(shares * 400.0)
    inc_lines = inc[:, None] * shares / shares.sum(axis=1, keepdims=True)  # (T, 5) year 1

    n_deep = min(
        int(round(DEEP_DEFICIT_ACUTE * counts["acute"] / TYPE_MIX["acute"])), acute_idx.size
    )
    deep = np.zeros(n, dtype=bool)
    deep[_weighted_pick(rng, acute_idx, inc[acute_idx], n_deep)] = True
    margin = np.empty(n)
    lo, hi, a, b = _ACUTE_MARGIN
    margin[acute] = lo + (hi - lo) * rng.beta(a, b, acute.sum())
    margin[deep] = np.maximum(-0.06 - rng.exponential(0.05, deep.sum()), -0.20)
    for t, (mu, sd) in _NON_ACUTE_MARGIN.items():
        sel = types == t
        margin[sel] = np.clip(rng.normal(mu, sd, sel.sum()), -0.04, 0.05)
    # shift the other acute margins (within their range) to the sector's planned total
    other = acute & ~deep
    fixed = (margin * inc)[~other].sum()
    lo_d, hi_d = -0.02, 0.02
    for _ in range(40):
        mid = 0.5 * (lo_d + hi_d)
        total = fixed + (np.clip(margin[other] + mid, lo, hi) * inc[other]).sum()
        lo_d, hi_d = (mid, hi_d) if total < SECTOR_PRE_STF * scale else (lo_d, mid)
    margin[other] = np.clip(margin[other] + 0.5 * (lo_d + hi_d), lo, hi)
    surplus = margin * inc

    deficit = margin < 0
    deficit_acute = acute & (margin < -0.01)
    dep = inc * rng.uniform(*np.array([_DEPRECIATION[t] for t in TRUST_TYPES])[ti].T)
    pdc = inc * np.where(deficit_acute, rng.uniform(0.003, 0.010, n), rng.uniform(0.010, 0.020, n))
    loans = inc * np.select(
        [deep, deficit_acute, deficit],
        [rng.uniform(0.15, 0.35, n), rng.uniform(0.08, 0.25, n), rng.uniform(0.0, 0.08, n)],
        np.where(rng.random(n) < 0.6, rng.uniform(0.02, 0.08, n), 0.0),
    )
    fsm = np.zeros(n, dtype=bool)
    n_fsm = min(int(round(FSM_TRUSTS * n_deep / DEEP_DEFICIT_ACUTE)), n_deep)
    fsm[_weighted_pick(rng, np.flatnonzero(deep), -margin[deep], n_fsm)] = True
    loan_rate = np.select(
        [fsm, deep, deficit_acute],
        [rng.uniform(0.05, 0.06, n), rng.uniform(0.035, 0.05, n), rng.uniform(0.03, 0.035, n)],
        rng.uniform(0.015, 0.025, n),
    )
    pfi = rng.random(n) < _by_type(_PFI_PROBABILITY, ti)
    pfi_interest = np.where(pfi, inc * rng.uniform(0.008, 0.02, n), 0.0)
    pfi_capital = np.where(pfi, inc * rng.uniform(0.003, 0.008, n), 0.0)
    interest = loans * loan_rate + pfi_interest
    cash_days = np.where(deficit, rng.uniform(1.0, 4.0, n), rng.uniform(10.0, 50.0, n))
    cash = np.maximum(cash_days * inc / 360.0, 1000.0)
    interest_rec = cash * 0.004
    non_op = dep + pdc + interest - interest_rec

    # -- 2. CIP share and operating expenditure -----------------------------------------
    p_raw = _by_type(_CIP_PCT, ti) * np.exp(rng.normal(0.0, 0.2, n))
    p_raw[deep] = rng.uniform(0.06, 0.10, deep.sum())
    base = inc - non_op - surplus  # = opex * (1 - p)
    k = 1.0
    for _ in range(8):
        opex = base / (1.0 - k * p_raw)
        k *= SECTOR_CIP_PCT / ((k * p_raw * opex).sum() / opex.sum())
    p = k * p_raw
    opex = base / (1.0 - p)
    cip = p * opex  # in-year CIP target (year 1) [£000]

    # shares of opex; other non-pay is the rest, kept at least _OTHER_NON_PAY_MIN
    mix = np.stack(
        [
            np.clip(_by_type(_PAY_SHARE, ti) + rng.normal(0.0, 0.025, n), 0.45, 0.85),
            _by_type(_DRUGS_OF_OPEX, ti) * np.exp(rng.normal(0.0, 0.2, n)),
            _by_type(_SUPPLIES_OF_OPEX, ti) * np.exp(rng.normal(0.0, 0.2, n)),
            np.where(pfi, rng.uniform(0.015, 0.04, n), 0.0),
        ]
    )
    mix *= np.minimum(1.0, (1.0 - _OTHER_NON_PAY_MIN) / mix.sum(axis=0))
    pay, drugs, supplies, pfi_unitary = opex * mix
    other_np = opex - pay - drugs - supplies - pfi_unitary
    bank = pay * _by_type(_BANK_OF_PAY, ti) * np.exp(rng.normal(0.0, 0.25, n))
    agency0 = pay * _by_type(_AGENCY_OF_PAY, ti) * np.exp(rng.normal(0.0, 0.35, n))
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
        y1[:, _L[line]] = v
    y1[:, _L["pay_substantive"]] = pay - bank - agency0
    for j, line in enumerate(_INCOME_LINES):
        y1[:, _L[line]] = inc_lines[:, j]

    # -- 3. schemes ---------------------------------------------------------------------
    typical, lo_n, hi_n = (
        np.array([_SCHEME_COUNT[t][i] for t in TRUST_TYPES])[ti] for i in range(3)
    )
    size = inc / _by_type(_INCOME_MEAN, ti)
    n_sch = np.clip(
        np.round(typical * size**0.35 * np.exp(rng.normal(0.0, 0.12, n))), lo_n, hi_n
    ).astype(int)
    n_nr = np.clip(np.round(n_sch * rng.uniform(0.12, 0.25, n)), 1, n_sch - 3).astype(int)
    nr_share = rng.beta(5.5, 14.5, n)
    nr_share = np.clip(
        nr_share * NON_RECURRENT_SHARE * cip.sum() / (nr_share * cip).sum(), 0.08, 0.45
    )
    has_unid = rng.random(n) < np.where(deep | (p > 0.06), 0.9, 0.4)
    unid_share = np.where(has_unid, rng.uniform(0.05, 0.25, n), 0.0)
    unid_share[deep & has_unid] = rng.uniform(0.15, 0.30, (deep & has_unid).sum())

    s_trust = np.repeat(np.arange(n), n_sch)
    n_s = s_trust.size
    first = np.concatenate([[0], np.cumsum(n_sch)[:-1]])
    rank = np.arange(n_s) - first[s_trust]
    s_nr = rank >= (n_sch - n_nr)[s_trust]  # the last n_nr schemes of each trust
    cat_p = np.array([_CATEGORY_MIX[t] for t in TRUST_TYPES])[ti][s_trust]
    cat_p[s_nr] = _NR_CATEGORY_MIX
    s_cat = _choice_rows(rng, cat_p)

    # target line: proportional to line size x emphasis, within the category
    emph = np.array([_LINE_EMPHASIS.get(line, 0.0) for line in LINES])
    line_w = y1[s_trust] * emph[None, :]
    cat_mask = np.zeros((len(_CATEGORIES), len(LINES)))
    for c, cat in enumerate(_CATEGORIES):
        cat_mask[c, [_L[x] for x in _CAT_LINES[cat]]] = 1.0
    line_w *= cat_mask[s_cat]
    s_line = _choice_rows(rng, line_w / line_w.sum(axis=1, keepdims=True))
    nr_lines = np.array([_L[_NR_LINE[c]] for c in _CATEGORIES])
    s_line[s_nr] = nr_lines[s_cat[s_nr]]

    s_start = np.where(
        s_nr, rng.choice(12, n_s, p=_NR_START_MONTH_P), rng.choice(12, n_s, p=_START_MONTH_P)
    )
    s_ramp = np.where(s_nr, 0, rng.choice(7, n_s, p=_RAMP_P))
    f = ramp_phase(s_start, s_ramp).sum(axis=1) / 12.0  # in-year share of the FYE
    w = np.exp(rng.normal(0.0, 0.8, n_s))
    target_rec = (1.0 - nr_share - unid_share) * cip
    target_nr = nr_share * cip
    den_rec = np.bincount(s_trust, w * f * ~s_nr, minlength=n)
    den_nr = np.bincount(s_trust, w * f * s_nr, minlength=n)
    fye = w * np.where(
        s_nr, target_nr[s_trust] / den_nr[s_trust], target_rec[s_trust] / den_rec[s_trust]
    )

    # keep every line's in-year cut under _LINE_CAP: move the largest schemes of a line
    # over it to the line of the same category with the most room (a handful of lines)
    in_year = fye * f
    cut = np.zeros((n, len(LINES)))
    np.add.at(cut, (s_trust, s_line), in_year)
    room = _LINE_CAP * y1 - cut
    for i, line in zip(*np.nonzero(room < 0), strict=True):
        ks = np.flatnonzero((s_trust == i) & (s_line == line))
        for k in ks[np.argsort(-in_year[ks], kind="stable")]:
            if room[i, line] >= 0:
                break
            cands = [_L[x] for x in _CAT_LINES[_CATEGORIES[s_cat[k]]] if _L[x] != line]
            to = max(cands, key=lambda c: room[i, c])
            s_line[k] = to
            room[i, line] += in_year[k]
            room[i, to] -= in_year[k]

    stretched = (p > 0.06)[s_trust]
    stage_p = np.where(stretched[:, None], _STAGE_MIX_STRETCHED, _STAGE_MIX)
    s_stage = _choice_rows(rng, stage_p)
    rag_p = np.array([_RAG_GIVEN_STAGE[s] for s in _STAGES])[s_stage]
    s_rag = _choice_rows(rng, rag_p)
    fye = _round1(np.maximum(fye, 0.1))
    name_u = rng.random(n_s)

    # unidentified balancing line (recurrent, red, from month 1, 4 or 7)
    u_idx = np.flatnonzero(unid_share > 0)
    u_start = rng.choice(np.array([0, 3, 6]), u_idx.size, p=(0.5, 0.3, 0.2))
    u_f = ramp_phase(u_start, np.zeros(u_idx.size, dtype=int)).sum(axis=1) / 12.0
    u_fye = _round1(unid_share[u_idx] * cip[u_idx] / u_f)
    # on other non-pay (as in the worked example) unless that line has no room left
    u_pay = room[u_idx, _L["other_non_pay"]] < u_fye * u_f

    # monthly CIP per trust (exact, from the rounded FYEs) and in-year agency cut
    month_cip = np.zeros((n, 12))
    np.add.at(month_cip, s_trust, ramp_phase(s_start, s_ramp) * (fye / 12.0)[:, None])
    np.add.at(
        month_cip,
        u_idx,
        ramp_phase(u_start, np.zeros(u_idx.size, dtype=int)) * (u_fye / 12.0)[:, None],
    )
    agency_cut = np.bincount(s_trust, fye * f * (s_line == _L["pay_agency"]), minlength=n)

    # agency: planned (after CIP) scaled to the sector total, line = planned + cut
    agency_after = agency0 - agency_cut
    agency_after = np.maximum(agency_after, 0.2 * agency0)
    agency_after *= AGENCY_PLANNED * scale / agency_after.sum()
    agency_y1 = agency_after + agency_cut
    y1[:, _L["pay_substantive"]] = pay - bank - agency_y1
    y1[:, _L["pay_agency"]] = agency_y1
    ceiling_ratio = np.exp(rng.normal(np.where(deficit_acute, -0.15, 0.0), 0.25))
    ceiling = agency_after * ceiling_ratio
    ceiling = _round1(ceiling * AGENCY_CEILING * scale / ceiling.sum())

    # -- base run rates (year 1 / growth), rounded; the exact year-1 plan from them ---------
    growth = _growth(ti)
    y1[:, _L["depreciation"]] = dep
    y1[:, _L["pdc_dividend"]] = pdc
    y1[:, _L["interest_payable"]] = interest
    y1[:, _L["interest_receivable"]] = interest_rec
    base_vals = _round1(y1 / growth)
    dn_surplus = (base_vals * growth * SIGN).sum(axis=1)
    month_surplus = dn_surplus[:, None] / 12.0 + month_cip  # the plan's own phasing
    plan_surplus = month_surplus.sum(axis=1)

    # -- 4. control totals ---------------------------------------------------------------
    n_na = int(round(NOT_ACCEPTED_SHARE * n))
    n_na_acute = min(int(round(NOT_ACCEPTED_ACUTE_SHARE * counts["acute"])), n_na)
    w_acute = np.where(deep, 3.0, np.where(margin < -0.02, 1.5, 0.7))
    not_acc = np.zeros(n, dtype=bool)
    not_acc[_weighted_pick(rng, acute_idx, w_acute[acute_idx], n_na_acute)] = True
    other_idx = np.flatnonzero(~acute)
    not_acc[
        _weighted_pick(rng, other_idx, np.where(deficit, 3.0, 1.0)[other_idx], n_na - n_na_acute)
    ] = True
    accepted = ~not_acc
    gap_acc = accepted & (rng.random(n) < 0.10)
    gap = np.select(
        [not_acc, gap_acc],
        [rng.uniform(0.008, 0.03, n) * opex, rng.uniform(0.002, 0.01, n) * opex],
        0.0,
    )
    headroom = np.where(gap > 0, 0.0, rng.uniform(0.0, 0.001, n) * inc)
    ct_month = _floor1(month_surplus + (gap - headroom)[:, None] / 12.0 - 0.05)
    ct_target = _round1(ct_month.sum(axis=1))

    # -- 5. STF, A&E, financing ---------------------------------------------------------
    emergency = np.where(acute, inc_lines[:, 0] * rng.uniform(0.25, 0.40, n), 0.0)
    alloc = np.zeros(n)
    if acute.any():
        alloc[acute] = STF_GENERAL_POOL * scale * emergency[acute] / emergency[acute].sum()
    if (~acute).any():
        alloc[~acute] = STF_NON_ACUTE_POOL * scale * inc[~acute] / inc[~acute].sum()
    alloc = _round1(alloc)
    traj_q1 = rng.uniform(0.86, 0.92, n)
    traj = np.minimum(
        traj_q1[:, None] + np.linspace(0.0, 1.0, 4)[None, :] * rng.uniform(0.01, 0.05, n)[:, None],
        0.95,
    )
    fc = np.clip(traj + rng.normal(-0.005, 0.015, (n, 4)), 0.80, 0.98)
    traj, fc = np.round(traj, 3), np.round(fc, 3)

    liq_days = np.select(
        [deep, deficit_acute, deficit],
        [
            rng.uniform(-30.0, -12.0, n),
            np.clip(rng.normal(-10.0, 6.0, n), -28.0, 5.0),
            np.clip(rng.normal(2.0, 6.0, n), -10.0, 15.0),
        ],
        np.clip(rng.normal(15.0, 12.0, n), -5.0, 45.0),
    )
    wc = liq_days * opex / 360.0
    capex = dep * np.where(deficit, rng.uniform(0.6, 1.0, n), rng.uniform(0.9, 1.4, n))
    principal = (
        loans / np.where(deficit, rng.uniform(6.0, 15.0, n), rng.uniform(5.0, 15.0, n))
        + pfi_capital
    )
    stf = np.where(accepted, alloc, 0.0)
    cash_need = -(plan_surplus + stf + dep - capex - principal)
    drawdown = np.where(deficit & (cash_need > 0), cash_need * rng.uniform(0.9, 1.1, n), 0.0)

    # -- build the tables --------------------------------------------------------------
    return _assemble(
        codes=codes,
        names=names,
        types=types,
        fsm=fsm,
        ceiling=ceiling,
        base_vals=base_vals,
        s_trust=s_trust,
        s_cat=s_cat,
        s_line=s_line,
        s_start=s_start,
        s_ramp=s_ramp,
        s_nr=s_nr,
        s_stage=s_stage,
        s_rag=s_rag,
        fye=fye,
        name_u=name_u,
        u_idx=u_idx,
        u_start=u_start,
        u_fye=u_fye,
        u_pay=u_pay,
        ct_month=ct_month,
        ct_target=ct_target,
        accepted=accepted,
        alloc=alloc,
        traj=traj,
        fc=fc,
        cash=_round1(cash),
        wc=_round1(wc),
        loans=_round1(loans),
        drawdown=_round1(drawdown),
        principal=_round1(principal),
        capex=_round1(capex),
        ti=ti,
    )


def _assemble(
    *,
    codes: list[str],
    names: list[str],
    types: np.ndarray,
    fsm: np.ndarray,
    ceiling: np.ndarray,
    base_vals: np.ndarray,
    s_trust: np.ndarray,
    s_cat: np.ndarray,
    s_line: np.ndarray,
    s_start: np.ndarray,
    s_ramp: np.ndarray,
    s_nr: np.ndarray,
    s_stage: np.ndarray,
    s_rag: np.ndarray,
    fye: np.ndarray,
    name_u: np.ndarray,
    u_idx: np.ndarray,
    u_start: np.ndarray,
    u_fye: np.ndarray,
    u_pay: np.ndarray,
    ct_month: np.ndarray,
    ct_target: np.ndarray,
    accepted: np.ndarray,
    alloc: np.ndarray,
    traj: np.ndarray,
    fc: np.ndarray,
    cash: np.ndarray,
    wc: np.ndarray,
    loans: np.ndarray,
    drawdown: np.ndarray,
    principal: np.ndarray,
    capex: np.ndarray,
    ti: np.ndarray,
) -> Portfolio:
    """Plain dicts from the arrays, then one validated Portfolio."""
    n = len(codes)
    types_l = types.tolist()
    trusts = [
        {
            "trust_code": codes[i],
            "name": names[i],
            "trust_type": types_l[i],
            "financial_year": FINANCIAL_YEAR,
            "horizon_years": 1,
            "agency_ceiling": float(ceiling[i]),
            "financial_special_measures": bool(fsm[i]),
        }
        for i in range(n)
    ]
    income: list[dict[str, Any]] = []
    costs: list[dict[str, Any]] = []
    vals = base_vals.tolist()
    for i in range(n):
        row = vals[i]
        for j, line in enumerate(LINES):
            v = row[j]
            if v <= 0.0:
                continue
            rec = {"trust_code": codes[i], "line": line, "annual_value": v}
            (income if line in _INCOME_LINES else costs).append(rec)

    cip: list[dict[str, Any]] = []
    line_names = [
        [_TYPE_NAMES.get((t, line), ()) + _NAMES.get(line, ()) for line in LINES]
        for t in TRUST_TYPES
    ]
    cat_prefix = ("P", "N", "I")
    counter = np.zeros((n, 3), dtype=int)
    st, sc, sl = s_trust.tolist(), s_cat.tolist(), s_line.tolist()
    ss, sr, snr = s_start.tolist(), s_ramp.tolist(), s_nr.tolist()
    sst, srag, sf, su = s_stage.tolist(), s_rag.tolist(), fye.tolist(), name_u.tolist()
    tis = ti.tolist()
    for k in range(len(st)):
        i, c, line = st[k], sc[k], sl[k]
        counter[i, c] += 1
        cat = _CATEGORIES[c]
        pool = _NR_NAMES[cat] if snr[k] else line_names[tis[i]][line]
        cip.append(
            {
                "trust_code": codes[i],
                "scheme_id": f"{cat_prefix[c]}{counter[i, c]:02d}",
                "name": pool[int(su[k] * len(pool))],
                "category": cat,
                "target_line": LINES[line],
                "value_fye": sf[k],
                "start_month": ss[k] + 1,
                "ramp_months": sr[k],
                "recurrent": not snr[k],
                "stage": _STAGES[sst[k]],
                "rag": _RAGS[srag[k]],
            }
        )
    for i, start, v, on_pay in zip(
        u_idx.tolist(), u_start.tolist(), u_fye.tolist(), u_pay.tolist(), strict=True
    ):
        cip.append(
            {
                "trust_code": codes[i],
                "scheme_id": "U01",
                "name": "Unidentified CIP (balancing line)",
                "category": "pay" if on_pay else "non_pay",
                "target_line": "pay_substantive" if on_pay else "other_non_pay",
                "value_fye": v,
                "start_month": start + 1,
                "ramp_months": 0,
                "recurrent": True,
                "stage": "unidentified",
                "rag": "red",
            }
        )

    ctm = ct_month.tolist()
    control_total = [
        {
            "trust_code": codes[i],
            "year": 1,
            "target_pre_stf": float(ct_target[i]),
            "accepted": bool(accepted[i]),
            "month": tuple(ctm[i]),
        }
        for i in range(n)
    ]
    traj_l, fc_l = traj.tolist(), fc.tolist()
    funding = [
        {
            "trust_code": codes[i],
            "allocation": float(alloc[i]),
            "ae_applies": types_l[i] == "acute",
            "ae_trajectory": tuple(traj_l[i]) if types_l[i] == "acute" else None,
            "ae_forecast": tuple(fc_l[i]) if types_l[i] == "acute" else None,
        }
        for i in range(n)
    ]
    financing = [
        {
            "trust_code": codes[i],
            "opening_cash": float(cash[i]),
            "opening_working_capital": float(wc[i]),
            "opening_loans": float(loans[i]),
            "loan_drawdown": float(drawdown[i]),
            "principal_repayment": float(principal[i]),
            "capital_expenditure": float(capex[i]),
        }
        for i in range(n)
    ]
    act = _by_type(_ACTIVITY, ti).tolist()
    drivers = [
        {"trust_code": codes[i], "year": 1, **_DRIVERS, "activity_growth": act[i]} for i in range(n)
    ]
    return Portfolio(
        trusts=trusts,
        income=income,
        costs=costs,
        cip=cip,
        control_total=control_total,
        funding=funding,
        financing=financing,
        drivers=drivers,
        name=NAME,
    )
