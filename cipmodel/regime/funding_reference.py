"""A scalar reference implementation of the funding rules, for the tests.

:func:`assess_funding_scalar` is a second, independent reading of the rules in
:mod:`cipmodel.regime.funding`: one trust and one draw in plain Python loops, walking each
quarter and each performance element one at a time. ``tests/test_funding.py`` cross-checks
the vectorised engine against it. Not for production use (slow).
"""

from __future__ import annotations

from collections.abc import Sequence

from cipmodel.regime.funding_pack import (
    AE_ELEMENT,
    N_QUARTERS,
    incentive_basis,
    validate_funding_pack,
)
from cipmodel.regime.packs import RulePack

__all__ = ["assess_funding_scalar"]

#: One performance element or the finance element, quarter by quarter:
#: (available, passed its test, earned).
Pieces = dict[str, list[tuple[float, bool, float]]]


def assess_funding_scalar(
    pack: RulePack,
    *,
    ytd_surplus_pre: Sequence[float],
    ytd_target_pre: Sequence[float],
    allocation: float,
    accepted: bool,
    ae_applies: bool,
    ae_met: Sequence[bool] | None = None,
    catch_up: bool | None = None,
    improvement_agreed: float = 0.0,
) -> dict[str, float | bool | list[float] | list[bool]]:
    """Reference implementation for one trust and one draw, in plain Python loops.

    A second, independent reading of the rules used by the tests to cross-check
    :func:`~cipmodel.regime.funding.assess_funding`; it walks each quarter and each
    performance element one at a time. Not for production use (slow). Returns a dict with
    the same names as :class:`~cipmodel.regime.funding.FundingResult` (lists of four for
    per-quarter values, floats and bools otherwise; no ``bonus``).
    """
    validate_funding_pack(pack)
    tolerance = float(pack.number("gate.tolerance"))
    eligible = bool(accepted) or not pack.flag("acceptance.required")
    met = []
    for q in range(N_QUARTERS):
        met.append(eligible and ytd_surplus_pre[q] >= ytd_target_pre[q] - tolerance)
    pieces = _pieces(pack, allocation, ae_applies, ae_met, eligible, met)

    available = [0.0] * N_QUARTERS
    finance_earned = [0.0] * N_QUARTERS
    performance_earned = [0.0] * N_QUARTERS
    for name, rows in pieces.items():
        for q, (amount, _, got) in enumerate(rows):
            available[q] += amount
            if name == "finance":
                finance_earned[q] += got
            else:
                performance_earned[q] += got
    earned = [finance_earned[q] + performance_earned[q] for q in range(N_QUARTERS)]
    lost = [available[q] - earned[q] for q in range(N_QUARTERS)]
    released = _released(pack, pieces, catch_up)

    met_year = met[N_QUARTERS - 1]
    outperformance = ytd_surplus_pre[N_QUARTERS - 1] - ytd_target_pre[N_QUARTERS - 1]
    incentive = 0.0
    if incentive_basis(pack) == "agreed_improvement":
        if met_year:
            incentive = float(pack.number("incentive.ratio")) * improvement_agreed
    elif met_year and outperformance > 0:
        incentive = float(pack.number("incentive.ratio")) * outperformance
    cap = pack.get("incentive.cap")
    if cap is not False and incentive > pack.number("incentive.cap"):
        incentive = float(pack.number("incentive.cap"))

    return {
        "available": available,
        "finance_earned": finance_earned,
        "performance_earned": performance_earned,
        "earned": earned,
        "lost": lost,
        "met_quarter": met,
        "met_year": met_year,
        "outperformance": outperformance,
        "released_catch_up": released,
        "forfeited": sum(lost) - released,
        "incentive": incentive,
        "total_earned": sum(earned) + released + incentive,
    }


def _pieces(
    pack: RulePack,
    allocation: float,
    ae_applies: bool,
    ae_met: Sequence[bool] | None,
    eligible: bool,
    met: list[bool],
) -> Pieces:
    """pieces[name][q] = (available, passed its test, earned), for "finance" and each
    performance element in turn."""
    phasing = [float(x) for x in pack.numbers("phasing.quarters")]
    finance_share = float(pack.number("split.finance"))
    performance_share = float(pack.number("split.performance"))
    ae_by_quarter = [True] * N_QUARTERS if ae_met is None else [bool(x) for x in ae_met]
    if not ae_applies:
        ae_by_quarter = [True] * N_QUARTERS
        if pack.get("performance.no_ae_rule") == "finance_conditional":
            finance_share, performance_share = finance_share + performance_share, 0.0
    elements = dict(pack.weights("performance.elements"))
    total_weight = sum(elements.values())
    requires_finance = bool(pack.flag("performance.requires_finance"))

    pieces: Pieces = {"finance": []}
    for q in range(N_QUARTERS):
        amount = allocation * phasing[q] * finance_share
        pieces["finance"].append((amount, met[q], amount if met[q] else 0.0))
    if performance_share > 0 and total_weight > 0:
        for name, weight in elements.items():
            pieces[name] = []
            for q in range(N_QUARTERS):
                amount = allocation * phasing[q] * performance_share * weight / total_weight
                if name == AE_ELEMENT:
                    passed = ae_by_quarter[q]
                else:
                    passed = pack.get("performance.untracked_rule") == "met"
                gate = met[q] if requires_finance else eligible
                passed = passed and gate
                pieces[name].append((amount, passed, amount if passed else 0.0))
    return pieces


def _released(pack: RulePack, pieces: Pieces, catch_up: bool | None) -> float:
    """Q1-Q3 amounts withheld and released at year end by catch-up."""
    released = 0.0
    if catch_up is None:
        catch_up = bool(pack.flag("catch_up.enabled"))
    if catch_up:
        applies = pack.texts("catch_up.applies_to")
        for name, rows in pieces.items():
            component = "finance" if name == "finance" else "performance"
            passed_q4 = rows[N_QUARTERS - 1][1]
            if component in applies and passed_q4:
                for amount, _, got in rows[: N_QUARTERS - 1]:
                    released += amount - got
    return released
