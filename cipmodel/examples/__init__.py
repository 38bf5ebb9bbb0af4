"""Canonical example plans, shared by the CLI demo, the templates, the tests and notebooks.

``acute-11pc``
    A fictional acute trust ("Example Acute Hospitals NHS Trust", code ``RXX``) with about
    £400m of income, planning 2017/18 and 2018/19. Its pre-STF control total for 2017/18
    needs a CIP of about 11% of operating expenditure — far above the ~4% the sector was
    asked for, and in the 'very high risk' band. The plan balances: forty schemes across
    pay, non-pay and income at every stage and RAG rating, and an unidentified balancing
    line, deliver the control total if everything is delivered. The figures are invented
    but shaped on the sector numbers in the project's domain notes (agency above its
    ceiling, a DH loan, negative working capital, back-loaded CIP).

``small``
    A tiny two-line trust used by the hand-checked tests.

All figures are £000.
"""

from __future__ import annotations

from cipmodel.examples.acute_11pc import acute_11pc
from cipmodel.inputs.records import Portfolio

__all__ = ["EXAMPLES", "example_portfolio"]


def _small() -> Portfolio:
    return Portfolio(
        trusts=[{"trust_code": "RSM", "name": "Small Trust", "trust_type": "community"}],
        income=[{"trust_code": "RSM", "line": "nhs_clinical", "annual_value": 12000.0}],
        costs=[
            {"trust_code": "RSM", "line": "pay_substantive", "annual_value": 9000.0},
            {"trust_code": "RSM", "line": "other_non_pay", "annual_value": 2400.0},
            {"trust_code": "RSM", "line": "depreciation", "annual_value": 600.0},
        ],
        cip=[
            {
                "trust_code": "RSM",
                "scheme_id": "S1",
                "name": "Rostering",
                "category": "pay",
                "value_fye": 240.0,
                "start_month": 4,
                "ramp_months": 2,
            },
            {
                "trust_code": "RSM",
                "scheme_id": "S2",
                "name": "One-off accrual release",
                "category": "non_pay",
                "value_fye": 120.0,
                "start_month": 7,
                "recurrent": False,
            },
        ],
        control_total=[{"trust_code": "RSM", "year": 1, "target_pre_stf": 200.0}],
        name="example-small",
    )


def _national() -> Portfolio:
    # imported here so importing the examples does not import the generator
    from cipmodel.examples.national import national_portfolio

    return national_portfolio()


EXAMPLES = {"acute-11pc": acute_11pc, "small": _small, "national": _national}


def example_portfolio(name: str = "acute-11pc") -> Portfolio:
    """A bundled example plan by name (see the module docstring)."""
    try:
        return EXAMPLES[name]()
    except KeyError:
        known = ", ".join(EXAMPLES)
        raise KeyError(f"unknown example {name!r} (known: {known})") from None
