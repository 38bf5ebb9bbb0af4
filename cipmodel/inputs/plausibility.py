"""Plausibility checks: values that are valid but look like a slip.

A plan can pass every rule of the schema and still be wrong by a factor of 1,000: income
typed in pounds where £000 is read, a percentage typed as ``0.95%``. :func:`check_plausibility`
looks for such slips and returns one warning (a :class:`~cipmodel.errors.Note` of level
``"warning"``) per finding, naming the place and the likely slip. Warnings do not stop a
run; ``cipmodel validate|run|solve --strict`` refuses a plan that has any.

The thresholds are named constants below, each with why it is where it is. They are
deliberately wide: a warning should point at a slip, not at an unusual but real plan.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from cipmodel.errors import Note
from cipmodel.inputs.portfolio import Portfolio
from cipmodel.inputs.record_types import DRIVER_RATES, SCHEMA, place

__all__ = [
    "MAX_CIP_SHARE_OF_LINE",
    "MAX_CIP_SHARE_OF_OPEX",
    "MAX_TRUST_MONEY",
    "MIN_AE_PERFORMANCE",
    "MIN_NONZERO_RATE",
    "MIN_TRUST_INCOME",
    "check_plausibility",
]

#: £000. No English trust has an income or cost base anywhere near £5bn: the sector's
#: turnover is about £80bn across some 230 trusts (domain notes, "Turnover scale", [V]
#: derived), and the largest trusts are around £2bn (background, not verified: hence the
#: margin of more than two). A trust total above this is almost surely typed in pounds (a
#: £300m trust typed in pounds reads as £300bn). A warning threshold, not a rule: it
#: changes no result.
MAX_TRUST_MONEY = 5_000_000.0
#: £000. Trusts' operating income starts in the tens of millions; a total income under £5m
#: is more likely typed in £m (300 for £300m) than real.
MIN_TRUST_INCOME = 5_000.0
#: A line's year-1 CIP above three quarters of the line: a scheme typed in pounds or aimed
#: at the wrong line. (Half is too tight: agency caps and drug switches reach 50-60% of
#: their line in the bundled national example.)
MAX_CIP_SHARE_OF_LINE = 0.75
#: Year-1 CIP above a fifth of operating expenditure: planned CIPs run at 2-6% (domain
#: notes, "CIP"), the sector's hardest asks at about 10-11%.
MAX_CIP_SHARE_OF_OPEX = 0.2
#: A&E 4-hour performance (trajectory or forecast) under 50%: no type 1 department runs
#: that low; 0.0095 is "95" typed as 0.95%.
MIN_AE_PERFORMANCE = 0.5
#: A driver rate (pay award, tariff uplift, ...) under 0.1% but not zero: "2.1" typed as
#: 0.021% rather than 2.1%.
MIN_NONZERO_RATE = 0.001


def _money(x: float) -> str:
    return f"£{x:,.0f}k"


def check_plausibility(portfolio: Portfolio) -> list[Note]:
    """Warnings for values that look like a slip (pounds for £000, 0.95% for 95%, ...)."""
    return [
        *_money_scale(portfolio),
        *_cip(portfolio),
        *_control_totals(portfolio),
        *_rates(portfolio),
    ]


def _totals(
    p: Portfolio,
) -> tuple[dict[str, float], dict[str, float], dict[tuple[str, str], float]]:
    """Per trust: operating income, operating expenditure; per (trust, line): its value."""
    income: dict[str, float] = defaultdict(float)
    opex: dict[str, float] = defaultdict(float)
    lines: dict[tuple[str, str], float] = defaultdict(float)
    for i in p.income:
        income[i.trust_code] += i.annual_value
        lines[i.trust_code, i.line] += i.annual_value
    for c in p.costs:
        if SCHEMA.lines[c.line]["kind"] in ("pay", "non_pay"):
            opex[c.trust_code] += c.annual_value
        lines[c.trust_code, c.line] += c.annual_value
    return income, opex, lines


def _money_scale(p: Portfolio) -> Iterator[Note]:
    """Trust totals too large for any trust (pounds for £000) or too small (£m)."""
    income, opex, _lines = _totals(p)
    for t in p.trusts:
        code = t.trust_code
        first_income = next((i for i in p.income if i.trust_code == code), None)
        first_cost = next((c for c in p.costs if c.trust_code == code), None)
        inc = income.get(code, 0.0)
        if first_income is not None and inc > MAX_TRUST_MONEY:
            yield Note(
                f"trust {code}: operating income of {_money(inc)} is more than any NHS trust's "
                "(the largest are about £2bn): is it typed in pounds? Money is read in £000",
                place(first_income, "annual_value"),
                "warning",
            )
        elif first_income is not None and 0 < inc < MIN_TRUST_INCOME:
            yield Note(
                f"trust {code}: operating income of {_money(inc)} is smaller than any NHS "
                "trust's: is it typed in £m? Money is read in £000 (£300m is 300,000)",
                place(first_income, "annual_value"),
                "warning",
            )
        spend = opex.get(code, 0.0)
        if first_cost is not None and spend > MAX_TRUST_MONEY:
            yield Note(
                f"trust {code}: operating expenditure of {_money(spend)} is more than any NHS "
                "trust's: is it typed in pounds? Money is read in £000",
                place(first_cost, "annual_value"),
                "warning",
            )
        if t.agency_ceiling is not None and t.agency_ceiling > MAX_TRUST_MONEY:
            yield Note(
                f"agency_ceiling of {_money(t.agency_ceiling)} is more than any trust spends: "
                "is it typed in pounds? Money is read in £000",
                place(t, "agency_ceiling"),
                "warning",
            )


def _cip(p: Portfolio) -> Iterator[Note]:
    """Year-1 CIP larger than its line, above a large share of its line or of opex."""
    _income, opex, lines = _totals(p)
    on_line: dict[tuple[str, str], float] = defaultdict(float)
    first: dict[tuple[str, str], object] = {}
    total: dict[str, float] = defaultdict(float)
    for s in p.cip:
        if s.start_year != 1 or s.category == "income":
            continue
        line = s.target_line or SCHEMA.cip_categories[s.category]["default_line"]
        on_line[s.trust_code, line] += s.value_fye
        first.setdefault((s.trust_code, line), s)
        total[s.trust_code] += s.value_fye
    for key, cip in on_line.items():
        code, line = key
        base = lines.get(key, 0.0)
        where = place(first[key], "value_fye")  # type: ignore[arg-type]
        if cip > base and cip > 0:
            yield Note(
                f"trust {code}: year-1 CIP on {line} ({_money(cip)}) is more than the line "
                f"itself ({_money(base)}): is value_fye typed in pounds, or the scheme aimed "
                "at the wrong line?",
                where,
                "warning",
            )
        elif base > 0 and cip > MAX_CIP_SHARE_OF_LINE * base:
            yield Note(
                f"trust {code}: year-1 CIP on {line} is {cip / base:.0%} of the line "
                f"({_money(cip)} of {_money(base)}): check value_fye is in £000 and the "
                "target line is right",
                where,
                "warning",
            )
    for code, cip in total.items():
        spend = opex.get(code, 0.0)
        if spend > 0 and cip > MAX_CIP_SHARE_OF_OPEX * spend:
            scheme = next(s for s in p.cip if s.trust_code == code and s.start_year == 1)
            yield Note(
                f"trust {code}: year-1 CIP of {_money(cip)} is {cip / spend:.0%} of operating "
                f"expenditure ({_money(spend)}); plans rarely exceed 10%: check the amounts",
                place(scheme, "value_fye"),
                "warning",
            )


def _control_totals(p: Portfolio) -> Iterator[Note]:
    """A control total (surplus or deficit) larger than the trust's whole income."""
    income, _opex, _lines = _totals(p)
    for c in p.control_total:
        inc = income.get(c.trust_code, 0.0)
        if inc > 0 and abs(c.target_pre_stf) > inc:
            what = "surplus" if c.target_pre_stf > 0 else "deficit"
            yield Note(
                f"trust {c.trust_code}: the year-{c.year} control total, a {what} of "
                f"{_money(abs(c.target_pre_stf))}, is larger than the trust's operating "
                f"income ({_money(inc)}): is it typed in pounds, or with the wrong sign?",
                place(c, "target_pre_stf"),
                "warning",
            )


def _rates(p: Portfolio) -> Iterator[Note]:
    """A&E performance typed as 0.95% for 95%; driver rates typed 100 times too small."""
    for f in p.funding:
        for attr in ("ae_trajectory", "ae_forecast"):
            values = getattr(f, attr)
            for q, v in enumerate(values or (), start=1):
                if v is not None and 0 < v < MIN_AE_PERFORMANCE:
                    yield Note(
                        f"{attr}_q{q} is {v:.2%}: A&E 4-hour performance is a share of "
                        f"patients; did you mean {v * 100:.0%}? Type 95% or 0.95",
                        place(f, f"{attr}_q{q}"),
                        "warning",
                    )
    for d in p.drivers:
        for attr in DRIVER_RATES:
            v = getattr(d, attr)
            if v and abs(v) < MIN_NONZERO_RATE:
                yield Note(
                    f"{attr} is {v:.3%}, under 0.1%: did you mean {v * 100:.1%}? Type 2.1% "
                    "or 0.021 for two point one per cent",
                    place(d, attr),
                    "warning",
                )
