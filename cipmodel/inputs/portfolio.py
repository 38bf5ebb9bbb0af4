"""The Portfolio: one or more trusts and all their input tables, checked as a whole.

A :class:`Portfolio` is the only shape the engine takes: a single trust is a portfolio of
one. Creating one turns each table's rows into records and runs the cross-record checks
(:func:`check_portfolio`: unknown trust codes, duplicate scheme ids, missing control totals,
profiles that do not exist, ...), reporting every problem at once.

Import it from :mod:`cipmodel.inputs.records`.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from cipmodel.errors import Problem, ValidationError
from cipmodel.inputs.identifiers import code_key
from cipmodel.inputs.record_types import (
    RECORD_CLASSES,
    SCHEMA,
    TABLE_NAMES,
    TABLE_OF,
    ControlTotal,
    CostLine,
    Drivers,
    Financing,
    Funding,
    IncomeLine,
    OutturnLine,
    Profile,
    Record,
    Scheme,
    Trust,
    place,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CT_TOLERANCE", "Portfolio", "Rows", "check_portfolio", "definition_notes"]

CT_TOLERANCE = 1.0  # £000: monthly control-total plan must sum to the target within £1k

_R = TypeVar("_R", bound=Record)
#: What a Portfolio takes for a table: records of its class, or mappings of their fields.
Rows = Iterable[_R | Mapping[str, Any]]


def _as_records(table: str, cls: type[_R], rows: Rows[_R]) -> tuple[_R, ...]:
    out: list[_R] = []
    problems: list[Problem] = []
    for i, row in enumerate(rows):
        if isinstance(row, cls):
            out.append(row)
            continue
        if not isinstance(row, Mapping):
            problems.append(Problem(f"{table}[{i}]", f"expected a {cls.__name__} or a mapping"))
            continue
        unknown = set(row) - set(TABLE_OF[cls].attributes) - {"source"}
        if unknown:
            problems.append(
                Problem(f"{table}[{i}]", f"unknown field(s): {', '.join(sorted(unknown))}")
            )
            continue
        try:
            out.append(cls(**row))
        except ValidationError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ValidationError(problems)
    return tuple(out)


@dataclass(frozen=True, init=False)
class Portfolio:
    """One or more trusts and all their input tables, checked as a whole.

    Parameters
    ----------
    trusts, income, costs, cip, control_total, funding, financing, drivers, profiles, outturn :
        Records of the matching class (or mappings of their fields). See ``docs/schema.md``
        for every field.
    name : str
        A label for the portfolio (e.g. the workbook's file name).

    Raises
    ------
    ValidationError
        With every problem found, each naming its place.
    """

    trusts: tuple[Trust, ...]
    income: tuple[IncomeLine, ...] = ()
    costs: tuple[CostLine, ...] = ()
    cip: tuple[Scheme, ...] = ()
    control_total: tuple[ControlTotal, ...] = ()
    funding: tuple[Funding, ...] = ()
    financing: tuple[Financing, ...] = ()
    drivers: tuple[Drivers, ...] = ()
    profiles: tuple[Profile, ...] = ()
    outturn: tuple[OutturnLine, ...] = ()
    name: str = field(default="portfolio", compare=False)

    def __init__(
        self,
        trusts: Rows[Trust],
        income: Rows[IncomeLine] = (),
        costs: Rows[CostLine] = (),
        cip: Rows[Scheme] = (),
        control_total: Rows[ControlTotal] = (),
        funding: Rows[Funding] = (),
        financing: Rows[Financing] = (),
        drivers: Rows[Drivers] = (),
        profiles: Rows[Profile] = (),
        outturn: Rows[OutturnLine] = (),
        name: str = "portfolio",
    ) -> None:
        given: dict[str, Rows[Any]] = {
            "trusts": trusts,
            "income": income,
            "costs": costs,
            "cip": cip,
            "control_total": control_total,
            "funding": funding,
            "financing": financing,
            "drivers": drivers,
            "profiles": profiles,
            "outturn": outturn,
        }
        object.__setattr__(self, "name", name)
        problems: list[Problem] = []
        for table in TABLE_NAMES:
            try:
                records = _as_records(table, RECORD_CLASSES[table], given[table])
            except ValidationError as exc:
                problems.extend(exc.problems)
            else:
                object.__setattr__(self, table, records)
        if problems:
            raise ValidationError(problems)
        problems = check_portfolio(self)
        if problems:
            raise ValidationError(problems)

    # -- views --------------------------------------------------------------------
    @property
    def trust_codes(self) -> tuple[str, ...]:
        """Trust codes in input order."""
        return tuple(t.trust_code for t in self.trusts)

    @property
    def horizon_years(self) -> int:
        """The longest horizon of any trust (the engine's year axis)."""
        return max(t.horizon_years for t in self.trusts)

    def records(self, table: str) -> tuple[Record, ...]:
        """The records of table ``table`` (one of :data:`TABLE_NAMES`)."""
        if table not in RECORD_CLASSES:
            raise KeyError(table)
        recs: tuple[Record, ...] = getattr(self, table)
        return recs

    def frame(self, table: str) -> pd.DataFrame:
        """Table ``table`` as a DataFrame, one column per workbook column."""
        tbl = SCHEMA.table(table)
        rows = []
        for rec in self.records(table):
            row: dict[str, Any] = {}
            for attr in tbl.attributes:
                cols = tbl.group(attr)
                value = getattr(rec, attr)
                if len(cols) == 1 and cols[0].group is None:
                    row[cols[0].name] = value
                else:
                    for col in cols:
                        row[col.name] = None if value is None else value[col.index]
            rows.append(row)
        import pandas as pd  # only when a table is asked for: reading a plan needs no pandas

        return pd.DataFrame(rows, columns=[f.name for f in tbl.fields])

    def subset(self, codes: Iterable[str]) -> Portfolio:
        """A portfolio of only the trusts in ``codes`` (in this portfolio's order)."""
        keep = set(codes)
        kw: dict[str, Any] = {
            t: tuple(r for r in getattr(self, t) if r.trust_code in keep) for t in TABLE_NAMES
        }
        return Portfolio(**kw, name=self.name)

    def replace(self, **changes: Any) -> Portfolio:
        """A copy with some tables replaced (validated again)."""
        return dataclasses.replace(self, **changes)

    def with_cip_scaled(self, factor: float | Mapping[str, float]) -> Portfolio:
        """A copy with every scheme's full-year effect multiplied by ``factor``.

        ``factor`` is one number for all trusts or a mapping of trust code to number
        (trusts not in it keep their schemes).
        """

        def k(code: str) -> float:
            return factor.get(code, 1.0) if isinstance(factor, Mapping) else float(factor)

        cip = tuple(
            dataclasses.replace(s, value_fye=s.value_fye * k(s.trust_code), source=None)
            for s in self.cip
        )
        return self.replace(cip=cip)


# -- cross-record checks ----------------------------------------------------------------
def _dupes(records: Iterable[Record], key: tuple[str, ...]) -> list[Record]:
    recs = list(records)
    counts = Counter(tuple(getattr(r, k) for k in key) for r in recs)
    return [r for r in recs if counts[tuple(getattr(r, k) for k in key)] > 1]


def check_portfolio(p: Portfolio) -> list[Problem]:
    """Cross-record checks; every problem found, each with its place."""
    if not p.trusts:
        return [Problem("Trusts", "the plan has no trusts: add at least one row")]
    by_code = {t.trust_code: t for t in p.trusts}
    return [
        *_check_keys_and_codes(p, by_code),
        *_check_profiles(p),
        *_check_schemes(p, by_code),
        *_check_control_totals(p, by_code),
        *_check_drivers(p, by_code),
        *_check_funding(p),
        *_check_pfi(p),
    ]


def _check_keys_and_codes(p: Portfolio, by_code: Mapping[str, Trust]) -> list[Problem]:
    """No duplicate keys in any table, and every row names a trust on the Trusts sheet."""
    problems: list[Problem] = []
    for table in TABLE_NAMES:
        tbl = SCHEMA.table(table)
        recs = p.records(table)
        if tbl.key:
            for r in _dupes(recs, tbl.key):
                key = ", ".join(f"{k}={getattr(r, k)!r}" for k in tbl.key)
                problems.append(
                    Problem(place(r, tbl.key[-1]), f"duplicate row: {key} appears more than once")
                )
        if table == "trusts":
            continue
        for r in recs:
            if r.trust_code not in by_code:
                alike = [c for c in by_code if code_key(c) == code_key(r.trust_code)]
                hint = f" (did you mean {alike[0]!r}?)" if alike else ""
                problems.append(
                    Problem(
                        place(r, "trust_code"),
                        f"trust_code {r.trust_code!r} is not on the Trusts sheet{hint}",
                    )
                )
    return problems


def _check_profiles(p: Portfolio) -> list[Problem]:
    """Profiles have some weight, and the lines that name a profile name one that exists."""
    problems: list[Problem] = []
    profiles = {(pr.trust_code, pr.profile) for pr in p.profiles}
    for pr in p.profiles:
        if sum(pr.weight) <= 0:
            problems.append(
                Problem(place(pr, "m01"), f"profile {pr.profile!r} weights must not all be 0")
            )
    for t in p.trusts:
        name = t.agency_ceiling_profile
        if name is not None and name != "flat" and (t.trust_code, name) not in profiles:
            problems.append(
                Problem(
                    place(t, "agency_ceiling_profile"),
                    f"profile {name!r} is not on the Profiles sheet for trust "
                    f"{t.trust_code!r} (leave it blank to follow the agency spend, use "
                    "'flat' or add the profile)",
                )
            )
    lines: tuple[IncomeLine | CostLine, ...] = (*p.income, *p.costs)
    for r in lines:
        if r.profile != "flat" and (r.trust_code, r.profile) not in profiles:
            problems.append(
                Problem(
                    place(r, "profile"),
                    f"profile {r.profile!r} is not on the Profiles sheet for trust "
                    f"{r.trust_code!r} (use 'flat' or add it)",
                )
            )
    return problems


def _check_schemes(p: Portfolio, by_code: Mapping[str, Trust]) -> list[Problem]:
    """A scheme's target line suits its category, and it starts within the horizon."""
    problems: list[Problem] = []
    lines = SCHEMA.lines
    for s in p.cip:
        trust = by_code.get(s.trust_code)
        cat = SCHEMA.cip_categories[s.category]
        if s.target_line is not None and lines[s.target_line]["kind"] not in cat["kinds"]:
            allowed = ", ".join(SCHEMA.lines_of_kind(*cat["kinds"]))
            problems.append(
                Problem(
                    place(s, "target_line"),
                    f"target_line {s.target_line!r} does not match category {s.category!r} "
                    f"(allowed: {allowed})",
                )
            )
        if trust is not None and s.start_year > trust.horizon_years:
            problems.append(
                Problem(
                    place(s, "start_year"),
                    f"start_year {s.start_year} is beyond the trust's horizon_years "
                    f"({trust.horizon_years})",
                )
            )
    return problems


def _check_control_totals(p: Portfolio, by_code: Mapping[str, Trust]) -> list[Problem]:
    """Every trust has a year-1 control total; each is within the horizon and its monthly
    plan is all twelve months (or none) summing to the target."""
    problems: list[Problem] = []
    ct_years = {(c.trust_code, c.year) for c in p.control_total}
    for code in by_code:
        if (code, 1) not in ct_years:
            problems.append(
                Problem(
                    "ControlTotal",
                    f"trust {code!r} has no control total for year 1: add a row with "
                    f"trust_code {code!r} and year 1",
                )
            )
    for c in p.control_total:
        trust = by_code.get(c.trust_code)
        if trust is not None and c.year > trust.horizon_years:
            problems.append(
                Problem(
                    place(c, "year"),
                    f"year {c.year} is beyond the trust's horizon_years ({trust.horizon_years})",
                )
            )
        if c.month is not None:
            problems.extend(_check_monthly_plan(c, c.month))
    funded = {f.trust_code: f.allocation for f in p.funding if f.allocation}
    for c in p.control_total:
        given = funded.get(c.trust_code)
        if (
            c.year == 1
            and c.stf_allocation is not None
            and given is not None
            and abs(c.stf_allocation - given) > CT_TOLERANCE
        ):
            problems.append(
                Problem(
                    place(c, "stf_allocation"),
                    f"stf_allocation {c.stf_allocation:,.1f} differs from the Funding "
                    f"sheet's allocation {given:,.1f} for year 1: leave one blank",
                )
            )
    return problems


def _check_monthly_plan(c: ControlTotal, month: tuple[float | None, ...]) -> list[Problem]:
    blanks = [i for i, v in enumerate(month) if v is None]
    if blanks:
        return [
            Problem(
                place(c, f"m{blanks[0] + 1:02d}"),
                "monthly plan must have all twelve months filled, or none "
                f"(blank: {', '.join(f'm{i + 1:02d}' for i in blanks)})",
            )
        ]
    total = sum(v for v in month if v is not None)
    if abs(total - c.target_pre_stf) > CT_TOLERANCE:
        return [
            Problem(
                place(c, "m12"),
                f"monthly plan sums to {total:,.1f} but target_pre_stf is "
                f"{c.target_pre_stf:,.1f} (they must agree within £1k)",
            )
        ]
    return []


def _check_drivers(p: Portfolio, by_code: Mapping[str, Trust]) -> list[Problem]:
    """Drivers only for plan years within the trust's horizon."""
    problems: list[Problem] = []
    for d in p.drivers:
        trust = by_code.get(d.trust_code)
        if trust is not None and d.year > trust.horizon_years:
            problems.append(
                Problem(
                    place(d, "year"),
                    f"year {d.year} is beyond the trust's horizon_years ({trust.horizon_years})",
                )
            )
    return problems


def _check_funding(p: Portfolio) -> list[Problem]:
    """A trust whose funding depends on A&E has its trajectory and forecast."""
    problems: list[Problem] = []
    for f in p.funding:
        if f.ae_applies and (f.ae_trajectory is None or f.ae_forecast is None):
            problems.append(
                Problem(
                    place(f, "ae_applies"),
                    "ae_applies is Y, so ae_trajectory_q1..q4 and ae_forecast_q1..q4 "
                    "must be filled",
                )
            )
    return problems


def _check_pfi(p: Portfolio) -> list[Problem]:
    """A PFI split gives both elements, and they fit inside the trust's unitary charge."""
    problems: list[Problem] = []
    unitary: dict[str, float] = {}
    for c in p.costs:
        if c.line == "pfi_unitary":
            unitary[c.trust_code] = unitary.get(c.trust_code, 0.0) + c.annual_value
    for f in p.financing:
        given = {k: getattr(f, k) for k in ("pfi_interest", "pfi_capital")}
        if all(v is None for v in given.values()):
            continue
        missing = [k for k, v in given.items() if v is None]
        if missing:
            other = "pfi_capital" if missing[0] == "pfi_interest" else "pfi_interest"
            problems.append(
                Problem(
                    place(f, missing[0]),
                    f"{other} is given, so {missing[0]} must be too (0 if there is none): the "
                    "PFI unitary charge is split into service, interest and capital elements",
                )
            )
            continue
        split = sum(v for v in given.values() if v is not None)
        total = unitary.get(f.trust_code, 0.0)
        if split > total + CT_TOLERANCE:
            problems.append(
                Problem(
                    place(f, "pfi_capital"),
                    f"pfi_interest + pfi_capital = {split:,.1f} is more than the trust's "
                    f"pfi_unitary cost lines ({total:,.1f}): the elements are parts of the "
                    "unitary charge entered on the Costs sheet",
                )
            )
    return problems


def definition_notes(p: Portfolio) -> list[str]:
    """Notes on how a valid plan is read where a definition needs more than it gives.

    Today: a trust with a PFI unitary charge on the Costs sheet but no split on the
    Financing sheet (``pfi_interest``, ``pfi_capital``). Its numbers are computed as
    before the split existed (the whole charge in operating costs), and the note says so.
    """
    split = {
        f.trust_code for f in p.financing if f.pfi_interest is not None or f.pfi_capital is not None
    }
    with_pfi = dict.fromkeys(c.trust_code for c in p.costs if c.line == "pfi_unitary")
    return [
        f"trust {code}: the PFI unitary charge is not split into service, interest and capital "
        "elements (Financing sheet pfi_interest, pfi_capital), so all of it is counted in "
        "operating costs; if principal_repayment also holds its capital element, capital "
        "service capacity counts that element twice"
        for code in with_pfi
        if code not in split
    ]
