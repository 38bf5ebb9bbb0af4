"""Funding rule packs: the keywords a ``kind = "funding"`` pack may use, and its validation.

:mod:`cipmodel.regime.funding` computes with a validated pack; the scalar reference
(:mod:`cipmodel.regime.funding_reference`) reads the same pack. ``docs/funding.md`` lists
every key.
"""

from __future__ import annotations

from collections.abc import Sequence

from cipmodel.errors import RulePackError
from cipmodel.regime.packs import RulePack, is_number

__all__ = [
    "incentive_basis",
    "AE_ELEMENT",
    "BONUS_BASES",
    "CATCH_UP_COMPONENTS",
    "GATE_BASES",
    "INCENTIVE_BASES",
    "NO_AE_RULES",
    "N_QUARTERS",
    "RULES_BY_YEAR",
    "UNTRACKED_RULES",
    "default_funding_pack",
    "plan_financial_year",
    "rules_for_year",
    "validate_funding_pack",
]

N_QUARTERS = 4
#: Keywords a funding pack may use, by key.
GATE_BASES = ("ytd_pre_stf",)
NO_AE_RULES = ("finance_conditional", "performance_met")
UNTRACKED_RULES = ("met", "lost")
CATCH_UP_COMPONENTS = ("finance", "performance")
BONUS_BASES = ("pro_rata_allocation", "pro_rata_outperformance")
#: What the year-end incentive rewards: the pre-STF outturn better than the control total
#: (``outperformance``), or the improvement on the control total the trust agreed in its
#: plan (``agreed_improvement``, the 2018/19 PSF reading).
INCENTIVE_BASES = ("outperformance", "agreed_improvement")
#: The performance element earned on the A&E trajectory (``performance.elements.ae``).
AE_ELEMENT = "ae"

_SUM_TOL = 1e-9


def _number(pack: RulePack, key: str, lo: float = 0.0, hi: float | None = None) -> float:
    v = pack.peek(key)
    if not is_number(v):
        raise pack.error(key, f"must be a number, got {v!r}")
    if v < lo:
        raise pack.error(key, f"must be >= {lo:g}, got {v!r}")
    if hi is not None and v > hi:
        raise pack.error(key, f"must be <= {hi:g}, got {v!r}")
    return float(v)


def _flag(pack: RulePack, key: str) -> bool:
    v = pack.peek(key)
    if not isinstance(v, bool):
        raise pack.error(key, f"must be true or false, got {v!r}")
    return v


def _keyword(pack: RulePack, key: str, allowed: Sequence[str]) -> str:
    v = pack.peek(key)
    if v not in allowed:
        raise pack.error(key, f"unknown keyword {v!r} (allowed: {', '.join(allowed)})")
    return str(v)


def validate_funding_pack(pack: RulePack) -> None:
    """Check a funding pack is complete and consistent; raise RulePackError if not.

    Checks: ``pack.kind`` is ``"funding"``; every key is present; numbers are finite and
    not negative; ``split.finance + split.performance == 1`` and ``phasing.quarters`` (four
    values) sums to 1, both within 1e-9; ``performance.elements`` is a table of weights that
    sum to more than 0 when ``split.performance > 0``; keyword values are among the allowed
    ones (:data:`GATE_BASES`, :data:`NO_AE_RULES`, :data:`UNTRACKED_RULES`,
    :data:`CATCH_UP_COMPONENTS`, :data:`BONUS_BASES`, :data:`INCENTIVE_BASES`);
    ``incentive.cap`` is ``false`` or a number >= 0. ``incentive.basis`` may be left out
    (a pack written before it existed): the incentive then rewards outperformance. Values
    are read without marking them used, so validation adds nothing to
    a result's unverified list.

    Raises
    ------
    RulePackError
        ``"<file>: <key>: <reason>"`` for the first problem found.
    """
    if pack.kind != "funding":
        raise pack.error("pack.kind", f"is {pack.kind!r}, but a 'funding' pack is needed here")
    _number(pack, "pool.total")
    fin = _number(pack, "split.finance", 0.0, 1.0)
    perf = _number(pack, "split.performance", 0.0, 1.0)
    if abs(fin + perf - 1.0) > _SUM_TOL:
        reason = (
            f"split.finance ({fin:g}) + split.performance ({perf:g}) = {fin + perf:g}, must be 1"
        )
        raise pack.error("split", reason)
    _check_performance(pack, perf)
    _check_phasing(pack)

    _keyword(pack, "gate.basis", GATE_BASES)
    _number(pack, "gate.tolerance")

    _flag(pack, "catch_up.enabled")
    key = "catch_up.applies_to"
    comps = pack.peek(key)
    if not isinstance(comps, list) or any(c not in CATCH_UP_COMPONENTS for c in comps):
        allowed = ", ".join(CATCH_UP_COMPONENTS)
        raise pack.error(key, f"must be a list drawn from {allowed}, got {comps!r}")

    _number(pack, "incentive.ratio")
    if pack.has("incentive.basis"):  # optional: a pack without it rewards outperformance
        _keyword(pack, "incentive.basis", INCENTIVE_BASES)
    cap = pack.peek("incentive.cap")
    if cap is not False and not (is_number(cap) and cap >= 0):
        raise pack.error("incentive.cap", f"must be false (no cap) or a number >= 0, got {cap!r}")
    _flag(pack, "bonus.enabled")
    _keyword(pack, "bonus.basis", BONUS_BASES)
    _flag(pack, "acceptance.required")


def _check_performance(pack: RulePack, perf: float) -> None:
    key = "performance.elements"
    elements = pack.peek(key)
    if not isinstance(elements, dict) or not elements:
        raise pack.error(key, f"must be a table of element = weight, got {elements!r}")
    total = 0.0
    for name, w in elements.items():
        if not is_number(w) or w < 0:
            raise pack.error(f"{key}.{name}", f"weight must be a number >= 0, got {w!r}")
        total += w
    if perf > 0 and total <= 0:
        raise pack.error(key, "weights sum to 0 but split.performance > 0")
    _keyword(pack, "performance.untracked_rule", UNTRACKED_RULES)
    _keyword(pack, "performance.no_ae_rule", NO_AE_RULES)
    _flag(pack, "performance.requires_finance")


def _check_phasing(pack: RulePack) -> None:
    key = "phasing.quarters"
    phasing = pack.peek(key)
    if not isinstance(phasing, list) or len(phasing) != N_QUARTERS:
        raise pack.error(key, f"must be a list of {N_QUARTERS} fractions, got {phasing!r}")
    quarters = [x for x in phasing if is_number(x) and x >= 0]
    if len(quarters) != len(phasing):
        raise pack.error(key, f"every quarter must be a number >= 0, got {phasing!r}")
    if abs(sum(quarters) - 1.0) > _SUM_TOL:
        raise pack.error(key, f"must sum to 1, got {sum(quarters):.12g}")


def incentive_basis(pack: RulePack) -> str:
    """The pack's ``incentive.basis`` (read, so a result lists it if unverified), or
    ``"outperformance"`` for a pack that does not set it."""
    return pack.text("incentive.basis") if pack.has("incentive.basis") else "outperformance"


# The funding regime of each financial year: data, not engine branches.
RULES_BY_YEAR: dict[str, str] = {
    "2016/17": "stf-2016-17",
    "2017/18": "stf-2017-18",
    "2018/19": "psf-2018-19",
}


def default_funding_pack(financial_years: set[str]) -> str:
    """The funding pack for the portfolio's financial year (one year per run)."""
    if not financial_years:
        raise RulePackError("the plan names no financial year: choose the funding rules")
    if len(financial_years) != 1:
        years = ", ".join(sorted(financial_years))
        raise RulePackError(
            f"trusts plan for different financial years ({years}): choose the funding rules "
            "with --funding-rules"
        )
    (year,) = financial_years
    try:
        return RULES_BY_YEAR[year]
    except KeyError:
        known = ", ".join(RULES_BY_YEAR)
        raise RulePackError(
            f"no funding rule pack for {year} (packs exist for {known}): copy one "
            "(docs/funding.md) and pass it with --funding-rules"
        ) from None


def plan_financial_year(first_year: str, plan_year: int) -> str:
    """The financial year of plan year ``plan_year`` (1 = first) of a plan whose first year is
    ``first_year``: ``plan_financial_year("2017/18", 2) == "2018/19"``."""
    try:
        start = int(first_year.split("/", 1)[0]) + plan_year - 1
    except ValueError:
        raise RulePackError(f"financial year {first_year!r} is not like 2017/18") from None
    return f"{start}/{(start + 1) % 100:02d}"


def rules_for_year(financial_year: str) -> str | None:
    """The funding pack of a financial year (:data:`RULES_BY_YEAR`), or None if there is none:
    a year with no pack is projected but not funded or scored on invented rules."""
    return RULES_BY_YEAR.get(financial_year)
