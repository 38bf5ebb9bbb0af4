"""Calibration of the synthetic national portfolio: sector targets, the distributions each
trust is drawn from, scheme names, and the helpers the generator's steps share.

Every value here is a modelling choice or a sector aggregate with its source (docs/domain.md
sections, tagged as in :mod:`cipmodel.examples.national`); ``docs/national-portfolio.md``
has the full table. The tables are keyed by trust type (:data:`TRUST_TYPES`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "ACTIVITY_GROWTH",
    "AGENCY_CEILING",
    "AGENCY_OF_PAY",
    "AGENCY_PLANNED",
    "ACUTE_MARGIN",
    "BANK_OF_PAY",
    "CATEGORY_LINES",
    "CATEGORY_MIX",
    "CIP_CATEGORIES",
    "CIP_PCT",
    "CODE_PREFIX",
    "DEEP_DEFICIT_ACUTE",
    "DEEP_DEFICIT_MARGIN",
    "DEPRECIATION",
    "DRAWN_RAGS",
    "DRAWN_STAGES",
    "DRIVERS_2017",
    "DRUGS_OF_OPEX",
    "FINANCIAL_YEAR",
    "FSM_TRUSTS",
    "INCOME_LINES",
    "INCOME_MEAN",
    "INCOME_SHARE",
    "INCOME_SIGMA",
    "LINE_CAP",
    "LINE_EMPHASIS",
    "NAME",
    "NON_ACUTE_MARGIN",
    "NON_RECURRENT_SHARE",
    "NOT_ACCEPTED_ACUTE_SHARE",
    "NOT_ACCEPTED_SHARE",
    "NR_CATEGORY_MIX",
    "NR_LINE",
    "NR_SCHEME_NAMES",
    "NR_START_MONTH_P",
    "OTHER_NON_PAY_MIN",
    "PAY_SHARE",
    "PFI_PROBABILITY",
    "RAG_GIVEN_STAGE",
    "RAMP_P",
    "REFERENCE_TRUSTS",
    "SCHEME_COUNT",
    "SCHEME_NAMES",
    "SECTOR_CIP_PCT",
    "SECTOR_PRE_STF",
    "STAGE_MIX",
    "STAGE_MIX_STRETCHED",
    "START_MONTH_P",
    "STF_GENERAL_POOL",
    "STF_NON_ACUTE_POOL",
    "SUPPLIES_OF_OPEX",
    "TRUST_TYPES",
    "TYPE_LABEL",
    "TYPE_MIX",
    "TYPE_SCHEME_NAMES",
    "by_type",
    "choice_rows",
    "floor1",
    "round1",
    "type_counts",
    "weighted_pick",
]

NAME = "national-synthetic-2017-18 (synthetic data, not real trusts)"
FINANCIAL_YEAR = "2017/18"
REFERENCE_TRUSTS = 235
"""Sector totals (STF pools, agency) are stated for this many trusts and scaled pro rata."""

TRUST_TYPES = ("acute", "specialist", "mental_health", "community", "ambulance")
TYPE_MIX = {"acute": 137, "specialist": 17, "mental_health": 54, "community": 17, "ambulance": 10}
"""Trusts by type for 235 trusts: domain.md §5.1 suggested mix (acute 135–137, §5.5: 137)."""

CODE_PREFIX = {
    "acute": "SA",
    "specialist": "SS",
    "mental_health": "SM",
    "community": "SC",
    "ambulance": "SE",
}
TYPE_LABEL = {
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
DRIVERS_2017 = {
    "tariff_uplift": 0.021,
    "efficiency_factor": 0.02,
    "pay_award": 0.015,  # 1% Agenda for Change award + ~0.5% drift [B]
    "non_pay_inflation": 0.02,
    "drug_inflation": 0.04,
}
ACTIVITY_GROWTH = {
    "acute": 0.025,
    "specialist": 0.03,
    "mental_health": 0.02,
    "community": 0.02,
    "ambulance": 0.03,
}

# Year-1 do-nothing operating income per trust [£000]: type mean and log-normal spread.
INCOME_MEAN = {
    "acute": 440_000.0,
    "specialist": 230_000.0,
    "mental_health": 190_000.0,
    "community": 140_000.0,
    "ambulance": 240_000.0,
}
INCOME_SIGMA = {
    "acute": 0.50,
    "specialist": 0.40,
    "mental_health": 0.35,
    "community": 0.35,
    "ambulance": 0.25,
}

INCOME_LINES = (
    "nhs_clinical",
    "other_clinical",
    "education_training",
    "research",
    "other_operating",
)
INCOME_SHARE = {
    "acute": (0.86, 0.02, 0.05, 0.015, 0.055),
    "specialist": (0.78, 0.05, 0.04, 0.06, 0.07),
    "mental_health": (0.88, 0.03, 0.03, 0.007, 0.053),
    "community": (0.85, 0.03, 0.03, 0.003, 0.087),
    "ambulance": (0.93, 0.01, 0.015, 0.002, 0.043),
}
# Operating expenditure mix: pay share; bank and agency as shares of pay (agency is reset
# later to hit the sector total); drugs and clinical supplies as shares of opex.
PAY_SHARE = {
    "acute": 0.62,
    "specialist": 0.55,
    "mental_health": 0.76,
    "community": 0.72,
    "ambulance": 0.74,
}
BANK_OF_PAY = {
    "acute": 0.045,
    "specialist": 0.03,
    "mental_health": 0.05,
    "community": 0.04,
    "ambulance": 0.02,
}
AGENCY_OF_PAY = {
    "acute": 0.055,
    "specialist": 0.035,
    "mental_health": 0.06,
    "community": 0.045,
    "ambulance": 0.025,
}
DRUGS_OF_OPEX = {
    "acute": 0.11,
    "specialist": 0.18,
    "mental_health": 0.02,
    "community": 0.04,
    "ambulance": 0.01,
}
SUPPLIES_OF_OPEX = {
    "acute": 0.10,
    "specialist": 0.12,
    "mental_health": 0.03,
    "community": 0.06,
    "ambulance": 0.04,
}
OTHER_NON_PAY_MIN = 0.08
PFI_PROBABILITY = {
    "acute": 0.45,
    "specialist": 0.2,
    "mental_health": 0.25,
    "community": 0.1,
    "ambulance": 0.0,
}
DEPRECIATION = {
    "acute": (0.028, 0.040),
    "specialist": (0.035, 0.050),
    "mental_health": (0.020, 0.032),
    "community": (0.012, 0.024),
    "ambulance": (0.030, 0.045),
}

# Planned pre-STF margin (surplus / income). Acute (not deep deficit): a scaled Beta on
# [lo, hi]; non-acute: normal (mean, sd) clipped to [-4%, 5%].
ACUTE_MARGIN = (-0.049, 0.03, 2.0, 2.0)
NON_ACUTE_MARGIN = {
    "specialist": (0.010, 0.016),
    "mental_health": (0.007, 0.013),
    "community": (0.010, 0.013),
    "ambulance": (0.008, 0.010),
}
# Planned CIP % of opex before the sector rescale: log-normal around these medians.
CIP_PCT = {
    "acute": 0.044,
    "specialist": 0.040,
    "mental_health": 0.036,
    "community": 0.036,
    "ambulance": 0.034,
}

# Scheme counts: (typical, low, high), scaled by size^0.35.
SCHEME_COUNT = {
    "acute": (42, 25, 50),
    "specialist": (31, 20, 40),
    "mental_health": (36, 22, 45),
    "community": (29, 17, 38),
    "ambulance": (31, 20, 40),
}
CIP_CATEGORIES = ("pay", "non_pay", "income")
CATEGORY_MIX = {
    "acute": (0.45, 0.38, 0.17),
    "specialist": (0.40, 0.42, 0.18),
    "mental_health": (0.55, 0.33, 0.12),
    "community": (0.53, 0.35, 0.12),
    "ambulance": (0.55, 0.35, 0.10),
}
NR_CATEGORY_MIX = (0.35, 0.45, 0.20)
# Emphasis of each target line within its category (times its size).
LINE_EMPHASIS = {
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
LINE_CAP = 0.25  # no line loses more than a quarter of itself in year 1
DRAWN_STAGES = ("delivered", "delivering", "qia_approved", "plan", "idea")
STAGE_MIX = (0.05, 0.22, 0.25, 0.30, 0.18)
STAGE_MIX_STRETCHED = (0.03, 0.15, 0.17, 0.30, 0.35)  # trusts planning CIP above 6%
DRAWN_RAGS = ("blue", "green", "amber", "red")
RAG_GIVEN_STAGE = {
    "delivered": (0.90, 0.10, 0.0, 0.0),
    "delivering": (0.20, 0.60, 0.20, 0.0),
    "qia_approved": (0.0, 0.55, 0.40, 0.05),
    "plan": (0.0, 0.30, 0.55, 0.15),
    "idea": (0.0, 0.0, 0.40, 0.60),
}
START_MONTH_P = (0.25, 0.06, 0.06, 0.14, 0.05, 0.05, 0.12, 0.05, 0.05, 0.09, 0.04, 0.04)
NR_START_MONTH_P = (0.30, 0.08, 0.08, 0.10, 0.07, 0.07, 0.08, 0.06, 0.06, 0.05, 0.03, 0.02)
RAMP_P = (0.25, 0.15, 0.20, 0.15, 0.10, 0.10, 0.05)  # 0..6 months

SCHEME_NAMES: dict[str, tuple[str, ...]] = {
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
NR_SCHEME_NAMES: dict[str, tuple[str, ...]] = {
    "pay": ("Vacancy control (non-recurrent)", "Recruitment slippage (one-off)"),
    "non_pay": (
        "Release of prior-year accruals",
        "VAT recovery (one-off)",
        "Capital-to-revenue transfer (one-off)",
        "Provision release (one-off)",
    ),
    "income": ("Land sale profit (one-off)", "One-off income settlement"),
}
TYPE_SCHEME_NAMES: dict[tuple[str, str], tuple[str, ...]] = {
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
NR_LINE = {"pay": "pay_substantive", "non_pay": "other_non_pay", "income": "other_operating"}

CATEGORY_LINES = {
    "pay": ("pay_substantive", "pay_bank", "pay_agency"),
    "non_pay": ("drugs", "clinical_supplies", "pfi_unitary", "other_non_pay"),
    "income": INCOME_LINES,
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


def by_type(values: Mapping[str, float], ti: NDArray[np.intp]) -> NDArray[np.float64]:
    """The value of each trust's type, per trust."""
    return np.array([values[t] for t in TRUST_TYPES], dtype=float)[ti]


def choice_rows(rng: np.random.Generator, probs: NDArray[np.float64]) -> NDArray[np.intp]:
    """One category per row of ``probs`` (rows sum to 1)."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(probs.shape[0]) * cum[:, -1]
    return np.minimum((cum <= u[:, None]).sum(axis=1), probs.shape[1] - 1)


def weighted_pick(
    rng: np.random.Generator, idx: NDArray[np.intp], weights: NDArray[np.float64], k: int
) -> NDArray[np.intp]:
    """``k`` of ``idx`` without replacement, probability proportional to ``weights``."""
    k = min(k, idx.size)
    if k <= 0:
        return idx[:0]
    keys = rng.random(idx.size) ** (1.0 / np.maximum(weights, 1e-12))  # Efraimidis-Spirakis
    return idx[np.argsort(-keys, kind="stable")[:k]]


def floor1(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Round down to one decimal (£100)."""
    return np.floor(np.asarray(x) * 10.0) / 10.0


def round1(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Round to one decimal (£100)."""
    return np.asarray(x).round(1)
