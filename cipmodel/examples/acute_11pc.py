"""The ``acute-11pc`` example: a fictional acute trust needing a CIP of about 11%.

"Example Acute Hospitals NHS Trust" (code ``RXX``) has about £400m of income and plans
2017/18 and 2018/19. Its pre-STF control total for 2017/18 needs a CIP of about 11% of
operating expenditure, far above the ~4% the sector was asked for and in the 'very high
risk' band. The plan balances: forty schemes across pay, non-pay and income at every stage
and RAG rating, and an unidentified balancing line, deliver the control total if everything
is delivered. The figures are invented but shaped on the sector numbers in the project's
domain notes (agency above its ceiling, a DH loan, negative working capital, back-loaded
CIP). Its 2016/17 forecast outturn (the Outturn sheet, for the bridge to the plan) is near the
base run rate with three one-offs. All figures are £000.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from cipmodel.inputs.records import Portfolio

__all__ = ["CODE", "SCHEMES", "acute_11pc"]

CODE = "RXX"

# Working-day shaped clinical income profile (April..March).
_WORKING_DAYS = (20, 20, 22, 21, 22, 21, 22, 22, 19, 22, 20, 21)


class _S(NamedTuple):
    """One scheme of the example (its year-2 schemes' ids start ``Y2``)."""

    scheme_id: str
    name: str
    category: str
    target_line: str
    value_fye: int
    start_month: int
    ramp_months: int
    recurrent: bool
    stage: str
    rag: str


#: The example's forty schemes, one a line.
# fmt: off
SCHEMES: tuple[_S, ...] = (
    _S("P01", "Medical agency to bank conversion", "pay", "pay_agency", 2600, 2, 3, True, "delivering", "green"),
    _S("P02", "Nursing agency cap enforcement", "pay", "pay_agency", 2200, 1, 2, True, "delivering", "green"),
    _S("P03", "E-rostering: nursing skill-mix review", "pay", "pay_substantive", 3100, 4, 4, True, "qia_approved", "amber"),
    _S("P04", "Theatre productivity: job planning", "pay", "pay_substantive", 2400, 5, 3, True, "plan", "amber"),
    _S("P05", "Corporate services restructure", "pay", "pay_substantive", 2000, 7, 2, True, "qia_approved", "green"),
    _S("P06", "Outpatient clinic template redesign", "pay", "pay_substantive", 1500, 6, 3, True, "plan", "amber"),
    _S("P07", "Vacancy control (non-recurrent)", "pay", "pay_substantive", 1800, 1, 0, False, "delivering", "blue"),
    _S("P08", "Bank rate harmonisation", "pay", "pay_bank", 900, 3, 1, True, "delivered", "blue"),
    _S("P09", "Sickness absence reduction", "pay", "pay_bank", 1100, 5, 4, True, "plan", "red"),
    _S("P10", "Pharmacy skill mix", "pay", "pay_substantive", 600, 7, 2, True, "idea", "red"),
    _S("P11", "Radiology reporting insourcing", "pay", "pay_agency", 800, 6, 2, True, "plan", "amber"),
    _S("P12", "Ward reconfiguration: close escalation beds", "pay", "pay_bank", 1700, 9, 2, True, "idea", "red"),
    _S("P13", "Consultant-led discharge: length of stay", "pay", "pay_substantive", 2100, 8, 4, True, "plan", "red"),
    _S("P14", "Admin and clerical vacancy freeze", "pay", "pay_substantive", 900, 1, 0, False, "delivered", "blue"),
    _S("P15", "Locum medical rate negotiation", "pay", "pay_agency", 700, 4, 1, True, "qia_approved", "green"),
    _S("N01", "Biosimilar switching (adalimumab)", "non_pay", "drugs", 2300, 4, 2, True, "delivering", "green"),
    _S("N02", "Medicines optimisation: homecare", "non_pay", "drugs", 1000, 6, 3, True, "plan", "amber"),
    _S("N03", "Procurement: orthopaedic implants", "non_pay", "clinical_supplies", 1400, 3, 2, True, "qia_approved", "green"),
    _S("N04", "Procurement: consumables catalogue", "non_pay", "clinical_supplies", 1200, 5, 3, True, "plan", "amber"),
    _S("N05", "Pathology network consolidation", "non_pay", "clinical_supplies", 1300, 10, 3, True, "idea", "red"),
    _S("N06", "Energy: LED and building controls", "non_pay", "other_non_pay", 600, 7, 2, True, "plan", "amber"),
    _S("N07", "Estates rationalisation: vacate leased office", "non_pay", "other_non_pay", 900, 10, 0, True, "plan", "amber"),
    _S("N08", "PFI contract variation review", "non_pay", "pfi_unitary", 700, 9, 0, True, "idea", "red"),
    _S("N09", "Agency framework switch (managed service)", "non_pay", "other_non_pay", 500, 4, 1, True, "delivering", "green"),
    _S("N10", "VAT recovery on managed services", "non_pay", "other_non_pay", 1000, 6, 0, False, "delivering", "green"),
    _S("N11", "Release of prior-year accruals", "non_pay", "other_non_pay", 1300, 1, 0, False, "delivered", "blue"),
    _S("N12", "Courier and transport contract", "non_pay", "other_non_pay", 300, 5, 1, True, "qia_approved", "green"),
    _S("N13", "Print and postage: digital letters", "non_pay", "other_non_pay", 350, 8, 3, True, "plan", "amber"),
    _S("N14", "Clinical waste contract retender", "non_pay", "other_non_pay", 250, 10, 0, True, "idea", "red"),
    _S("N15", "Blood products stock management", "non_pay", "clinical_supplies", 400, 4, 2, True, "qia_approved", "amber"),
    _S("N16", "IT licence consolidation", "non_pay", "other_non_pay", 450, 7, 0, True, "plan", "amber"),
    _S("N17", "Capital-to-revenue transfer (one-off)", "non_pay", "other_non_pay", 1500, 12, 0, False, "plan", "amber"),
    _S("I01", "Private patient unit expansion", "income", "other_clinical", 1200, 7, 4, True, "plan", "red"),
    _S("I02", "Car parking tariff review", "income", "other_operating", 600, 4, 0, True, "qia_approved", "green"),
    _S("I03", "Overseas visitor cost recovery", "income", "other_clinical", 500, 3, 3, True, "delivering", "amber"),
    _S("I04", "Catering and retail income", "income", "other_operating", 300, 6, 2, True, "plan", "amber"),
    _S("I05", "Pathology services to GPs (trading)", "income", "other_operating", 700, 9, 3, True, "idea", "red"),
    _S("I06", "Land sale profit (one-off)", "income", "other_operating", 2000, 11, 0, False, "plan", "amber"),
    _S("I07", "Research overhead recovery", "income", "research", 400, 4, 0, True, "qia_approved", "green"),
    _S("Y2-01", "Year 2: acute medicine model redesign", "pay", "pay_substantive", 3500, 4, 6, True, "idea", "red"),
)
# fmt: on

# Calibrated so the plan meets its 2017/18 pre-STF control total when every scheme and
# the unidentified balance are delivered, and the CIP needed is ~11% of operating
# expenditure (checked in tests/test_examples.py).
_UNIDENTIFIED_FYE = 23777.0
_CT_YEAR1 = -4000.0
_CT_YEAR2 = 0.0
_PSF_YEAR2 = 12000.0
# Monthly pre-STF plan: the trust's own phasing, year to date rounded down to £100k (so a
# fully delivered plan passes every quarter), deep deficits in
# the first months, recovering as the back-loaded CIP lands.
_CT_MONTHS_1 = (-3500, -3300, -300, -1200, 500, -400, 1300, 1700, -2300, 2300, -200, 1400)
_CT_MONTHS_2 = (-1700, -1600, 1400, -100, 1400, 0, 1500, 1600, -2900, 1600, -1300, 100)


def acute_11pc() -> Portfolio:
    """The ``acute-11pc`` example plan (see the module docstring)."""
    return Portfolio(
        trusts=[_trust()],
        income=_income(),
        costs=_costs(),
        cip=_cip(),
        control_total=_control_totals(),
        funding=[_funding()],
        financing=[_financing()],
        drivers=[_drivers(y) for y in (1, 2)],
        profiles=[{"trust_code": CODE, "profile": "working_days", "weight": _WORKING_DAYS}],
        outturn=_outturn(),
        name="example-acute-11pc",
    )


# The 2016/17 forecast outturn (month 9 forecast, control-total basis, excluding STF): each
# line near the 2017/18 base run rate (clinical income a little below it, agency above the
# ceiling), plus three one-offs a finance team would flag: a land sale, a release of prior-year
# accruals (a credit on other non-pay) and a winter escalation ward.
_OUTTURN: tuple[tuple[str, float, bool, str], ...] = (
    ("nhs_clinical", 346800.0, True, "CCG and NHS England contracts"),
    ("other_clinical", 7900.0, True, ""),
    ("education_training", 18000.0, True, ""),
    ("research", 5900.0, True, ""),
    ("other_operating", 17600.0, True, ""),
    ("other_operating", 1800.0, False, "Profit on disposal of land (one-off)"),
    ("pay_substantive", 243500.0, True, ""),
    ("pay_bank", 14600.0, True, ""),
    ("pay_bank", 1200.0, False, "Winter escalation ward staffing (one-off)"),
    ("pay_agency", 19400.0, True, "Above the agency ceiling"),
    ("drugs", 40800.0, True, ""),
    ("clinical_supplies", 39200.0, True, ""),
    ("pfi_unitary", 11800.0, True, ""),
    ("other_non_pay", 49300.0, True, ""),
    ("other_non_pay", -1500.0, False, "Release of prior-year accruals (one-off credit)"),
    ("depreciation", 12800.0, True, ""),
    ("pdc_dividend", 4400.0, True, ""),
    ("interest_payable", 2650.0, True, ""),
    ("interest_receivable", 90.0, True, ""),
)


def _outturn() -> list[dict[str, Any]]:
    return [
        {
            "trust_code": CODE,
            "line": line,
            "outturn": value,
            "recurrent": recurrent,
            "description": text or None,
        }
        for line, value, recurrent, text in _OUTTURN
    ]


def _trust() -> dict[str, Any]:
    return {
        "trust_code": CODE,
        "name": "Example Acute Hospitals NHS Trust",
        "trust_type": "acute",
        "financial_year": "2017/18",
        "horizon_years": 2,
        "agency_ceiling": 11000.0,
        "financial_special_measures": False,
    }


def _income() -> list[dict[str, Any]]:
    return [
        {
            "trust_code": CODE,
            "line": "nhs_clinical",
            "annual_value": 350000.0,
            "profile": "working_days",
            "description": "CCG and NHS England contracts",
        },
        {
            "trust_code": CODE,
            "line": "other_clinical",
            "annual_value": 8000.0,
            "profile": "working_days",
            "description": "Private patients, overseas visitors, RTA",
        },
        {"trust_code": CODE, "line": "education_training", "annual_value": 18000.0},
        {"trust_code": CODE, "line": "research", "annual_value": 6000.0},
        {"trust_code": CODE, "line": "other_operating", "annual_value": 18000.0},
    ]


def _costs() -> list[dict[str, Any]]:
    return [
        {"trust_code": CODE, "line": "pay_substantive", "annual_value": 246000.0},
        {"trust_code": CODE, "line": "pay_bank", "annual_value": 15000.0},
        {"trust_code": CODE, "line": "pay_agency", "annual_value": 18000.0},
        {"trust_code": CODE, "line": "drugs", "annual_value": 42000.0},
        {"trust_code": CODE, "line": "clinical_supplies", "annual_value": 40000.0},
        {"trust_code": CODE, "line": "pfi_unitary", "annual_value": 12000.0},
        {"trust_code": CODE, "line": "other_non_pay", "annual_value": 50000.0},
        {"trust_code": CODE, "line": "depreciation", "annual_value": 13000.0},
        {"trust_code": CODE, "line": "pdc_dividend", "annual_value": 4500.0},
        {
            "trust_code": CODE,
            "line": "interest_payable",
            "annual_value": 2600.0,
            "description": "DH revenue support loan at 3.5% and capital loan",
        },
        {"trust_code": CODE, "line": "interest_receivable", "annual_value": 100.0},
    ]


def _cip() -> list[dict[str, Any]]:
    cip = [
        {
            "trust_code": CODE,
            "scheme_id": s.scheme_id,
            "name": s.name,
            "category": s.category,
            "target_line": s.target_line,
            "value_fye": float(s.value_fye),
            "start_year": 2 if s.scheme_id.startswith("Y2") else 1,
            "start_month": s.start_month,
            "ramp_months": s.ramp_months,
            "recurrent": s.recurrent,
            "stage": s.stage,
            "rag": s.rag,
        }
        for s in SCHEMES
    ]
    cip.append(
        {
            "trust_code": CODE,
            "scheme_id": "U01",
            "name": "Unidentified CIP (balancing line)",
            "category": "non_pay",
            "target_line": "other_non_pay",
            "value_fye": _UNIDENTIFIED_FYE,
            "start_month": 1,
            "ramp_months": 0,
            "recurrent": True,
            "stage": "unidentified",
            "rag": "red",
        }
    )
    return cip


def _control_totals() -> list[dict[str, Any]]:
    return [
        {
            "trust_code": CODE,
            "year": 1,
            "target_pre_stf": _CT_YEAR1,
            "accepted": True,
            "month": _CT_MONTHS_1,
        },
        {
            "trust_code": CODE,
            "year": 2,
            "target_pre_stf": _CT_YEAR2,
            "accepted": True,
            # the 2018/19 PSF offered with the two-year control total (fictional, as is
            # every figure here; the year-1 STF is on the Funding sheet)
            "stf_allocation": _PSF_YEAR2,
            "month": _CT_MONTHS_2,
        },
    ]


def _funding() -> dict[str, Any]:
    return {
        "trust_code": CODE,
        "allocation": 12000.0,
        "ae_applies": True,
        "ae_trajectory": (0.89, 0.90, 0.90, 0.92),
        "ae_forecast": (0.88, 0.90, 0.91, 0.93),
    }


def _financing() -> dict[str, Any]:
    return {
        "trust_code": CODE,
        "opening_cash": 8000.0,
        "opening_working_capital": -18000.0,
        "opening_loans": 45000.0,
        "loan_drawdown": 0.0,
        "principal_repayment": 3000.0,
        "capital_expenditure": 14000.0,
    }


def _drivers(year: int) -> dict[str, Any]:
    return {
        "trust_code": CODE,
        "year": year,
        "tariff_uplift": 0.021,
        "efficiency_factor": 0.02,
        "activity_growth": 0.02,
        "pay_award": 0.021,
        "non_pay_inflation": 0.02,
        "drug_inflation": 0.04,
    }
