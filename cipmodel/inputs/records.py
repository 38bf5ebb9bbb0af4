"""Domain objects: frozen, validated records for each input table, and the Portfolio.

The record classes (:class:`Trust`, :class:`IncomeLine`, :class:`CostLine`,
:class:`Scheme`, :class:`ControlTotal`, :class:`Funding`, :class:`Financing`,
:class:`Drivers`, :class:`Profile`) mirror the schema's tables field for field:
``tests/test_records.py`` checks their fields, order, defaults and optional-ness against
``cipmodel/data/schema.toml``, and their parameter docs are generated from it. Each record
coerces and checks its values on creation with the one schema-driven checker
(:func:`check_record`) and raises :class:`~cipmodel.errors.ValidationError` naming the
field, the rule and the bad value. A record takes raw values (``"2.5%"``, ``"Y"``, a blank)
and holds typed ones.

A :class:`Portfolio` of one or more trusts is the only shape the engine takes: a single
trust is a portfolio of one. Creating a Portfolio runs the cross-record checks (unknown
trust codes, duplicate scheme ids, missing control totals, profiles that do not exist, ...)
and reports every problem at once.

Examples
--------
>>> from cipmodel.inputs.records import Trust
>>> Trust(trust_code="RXX", name="Example", trust_type="Acute").trust_type
'acute'
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from cipmodel.errors import Problem, ValidationError
from cipmodel.inputs.schema import MISSING, Table, load_schema

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Source",
    "Record",
    "Trust",
    "IncomeLine",
    "CostLine",
    "Scheme",
    "ControlTotal",
    "Funding",
    "Financing",
    "Drivers",
    "Profile",
    "Portfolio",
    "RECORD_CLASSES",
    "TABLE_OF",
    "TABLE_NAMES",
    "check_record",
    "check_portfolio",
]


@dataclass(frozen=True)
class Source:
    """Where a record came from: a sheet, its 1-based row, and the column letter of each
    field found (so a problem can name ``Sheet!C14``)."""

    sheet: str
    row: int
    columns: Mapping[str, str] = field(default_factory=dict)

    def cell(self, field_name: str | None = None) -> str:
        """``Sheet!C14`` for a field, or ``Sheet!row 14`` if the column is not known."""
        col = self.columns.get(field_name or "", "")
        return f"{self.sheet}!{col}{self.row}" if col else f"{self.sheet}!row {self.row}"


def blank() -> Any:
    """The default of a field whose blank the checker fills with the schema's default.

    Used for the money and rate fields whose schema default is the whole number ``0``: a
    blank gives that ``0`` while an entered ``0`` is coerced to ``0.0``, so the two keep the
    reprs (and so the input hash) they have always had. A literal ``0.0`` default could not
    tell them apart.
    """
    return field(default=None)


class Record:
    """Base of the record classes: the table a record belongs to and its checks.

    Each subclass is a frozen dataclass naming its table in ``TABLE``; creating one runs
    :func:`check_record`, which coerces every field in place.
    """

    TABLE: ClassVar[str]
    trust_code: str
    source: Source | None

    if TYPE_CHECKING:
        # What each record class's generated __init__ takes, for code that builds a record
        # of a class known only at run time (``RECORD_CLASSES[table](**row)``).
        def __init__(self, *, source: Source | None = None, **fields: Any) -> None: ...

    def __post_init__(self) -> None:
        check_record(self)


def _place(record: Record, field_name: str | None = None) -> str:
    """Where a record's field is, for messages: a workbook cell or ``table[key].field``."""
    src = getattr(record, "source", None)
    if isinstance(src, Source):
        return src.cell(field_name)
    table = TABLE_OF[type(record)]
    key = "/".join(str(getattr(record, k, "?")) for k in table.key) or "?"
    return f"{table.name}[{key}]" + (f".{field_name}" if field_name else "")


def check_record(record: Record) -> None:
    """Coerce every field of ``record`` in place by its schema rules.

    Raises
    ------
    ValidationError
        With one problem per bad field, each naming its place.
    """
    table = TABLE_OF[type(record)]
    problems: list[Problem] = []
    for attr in table.attributes:
        cols = table.group(attr)
        raw = getattr(record, attr)
        if len(cols) == 1 and cols[0].group is None:
            value, msg = cols[0].coerce(raw)
            if msg:
                problems.append(Problem(_place(record, cols[0].name), msg))
            object.__setattr__(record, attr, value)
            continue
        # a repeated field: a sequence of len(cols) values, or blank
        if raw is None or raw is MISSING:
            items: list[Any] = [None] * len(cols)
        elif isinstance(raw, (list, tuple)) and len(raw) == len(cols):
            items = list(raw)
        else:
            problems.append(
                Problem(_place(record, attr), f"{attr} must be {len(cols)} values, got {raw!r}")
            )
            continue
        out = []
        for col, item in zip(cols, items, strict=True):
            value, msg = col.coerce(item)
            if msg:
                problems.append(Problem(_place(record, col.name), msg))
            out.append(value)
        object.__setattr__(record, attr, None if all(v is None for v in out) else tuple(out))
    if problems:
        raise ValidationError(problems)


# -- the record classes -----------------------------------------------------------------
# One per schema table, fields in the table's order. A required field with no default
# defaults to MISSING (so leaving it out is a located ValidationError, not a TypeError); a
# field with a schema default defaults to it; any other field may be blank (None).


@dataclass(frozen=True)
class Trust(Record):
    """A trust: code, name, type, planning year and horizon."""

    TABLE: ClassVar[str] = "trusts"

    trust_code: str = MISSING
    name: str = MISSING
    trust_type: str = MISSING
    financial_year: str = "2017/18"
    horizon_years: int = 1
    agency_ceiling: float | None = None
    financial_special_measures: bool = False
    source: Source | None = field(default=None, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class IncomeLine(Record):
    """One income line of a trust (base run rate, £000 a year)."""

    TABLE: ClassVar[str] = "income"

    trust_code: str = MISSING
    line: str = MISSING
    annual_value: float = MISSING
    profile: str = "flat"
    description: str | None = None
    source: Source | None = field(default=None, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class CostLine(Record):
    """One cost line of a trust (base run rate, £000 a year)."""

    TABLE: ClassVar[str] = "costs"

    trust_code: str = MISSING
    line: str = MISSING
    annual_value: float = MISSING
    profile: str = "flat"
    description: str | None = None
    source: Source | None = field(default=None, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class Scheme(Record):
    """One cost improvement scheme."""

    TABLE: ClassVar[str] = "cip"

    trust_code: str = MISSING
    scheme_id: str = MISSING
    name: str = MISSING
    category: str = MISSING
    target_line: str | None = None
    value_fye: float = MISSING
    start_year: int = 1
    start_month: int = 1
    ramp_months: int = 0
    recurrent: bool = True
    stage: str = "plan"
    rag: str = "amber"
    source: Source | None = field(default=None, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class ControlTotal(Record):
    """A trust's pre-STF control total for one plan year."""

    TABLE: ClassVar[str] = "control_total"

    trust_code: str = MISSING
    year: int = 1
    target_pre_stf: float = MISSING
    accepted: bool = True
    #: Twelve monthly figures, or None for a flat profile. A month may be None until the
    #: Portfolio checks (which require all twelve or none).
    month: tuple[float | None, ...] | None = None
    source: Source | None = field(default=None, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class Funding(Record):
    """A trust's STF/PSF allocation and A&E trajectory."""

    TABLE: ClassVar[str] = "funding"

    trust_code: str = MISSING
    allocation: float = blank()
    ae_applies: bool = False
    ae_trajectory: tuple[float | None, ...] | None = None
    ae_forecast: tuple[float | None, ...] | None = None
    source: Source | None = field(default=None, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class Financing(Record):
    """A trust's opening balance sheet and financing plan."""

    TABLE: ClassVar[str] = "financing"

    trust_code: str = MISSING
    opening_cash: float = blank()
    opening_working_capital: float = blank()
    opening_loans: float = blank()
    loan_drawdown: float = blank()
    principal_repayment: float = blank()
    capital_expenditure: float = blank()
    source: Source | None = field(default=None, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class Drivers(Record):
    """Year-on-year drivers for one trust and plan year."""

    TABLE: ClassVar[str] = "drivers"

    trust_code: str = MISSING
    year: int = MISSING
    tariff_uplift: float = blank()
    efficiency_factor: float = blank()
    activity_growth: float = blank()
    pay_award: float = blank()
    non_pay_inflation: float = blank()
    drug_inflation: float = blank()
    source: Source | None = field(default=None, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class Profile(Record):
    """A named monthly profile (twelve weights)."""

    TABLE: ClassVar[str] = "profiles"

    trust_code: str = MISSING
    profile: str = MISSING
    weight: tuple[float, ...] = MISSING
    source: Source | None = field(default=None, compare=False, repr=False, kw_only=True)


def _parameters_doc(summary: str, table: Table) -> str:
    """A record class's docstring: its summary and each field's description from the schema."""
    lines = [summary, "", "Parameters", "----------"]
    for attr in table.attributes:
        cols = table.group(attr)
        unit = f" [{cols[0].unit}]" if cols[0].unit else ""
        desc = cols[0].description
        if len(cols) > 1:
            desc = f"{len(cols)} values ({cols[0].name}..{cols[-1].name}): " + desc.replace(
                "{n}", "n"
            )
        lines += [f"{attr} :", f"    {desc}{unit}"]
    return "\n".join(lines)


_SCHEMA = load_schema()
TABLE_NAMES: tuple[str, ...] = tuple(t.name for t in _SCHEMA.tables)
#: The record class of each table, in schema order.
RECORD_CLASSES: dict[str, type[Record]] = {
    cls.TABLE: cls
    for cls in (
        Trust,
        IncomeLine,
        CostLine,
        Scheme,
        ControlTotal,
        Funding,
        Financing,
        Drivers,
        Profile,
    )
}
if tuple(RECORD_CLASSES) != TABLE_NAMES:  # pragma: no cover - a schema edit without a class
    raise ImportError(f"record classes {tuple(RECORD_CLASSES)} do not match tables {TABLE_NAMES}")
#: The schema table of each record class.
TABLE_OF: dict[type[Record], Table] = {cls: _SCHEMA.table(t) for t, cls in RECORD_CLASSES.items()}
for _cls, _table in TABLE_OF.items():
    _cls.__doc__ = _parameters_doc((_cls.__doc__ or "").strip(), _table)

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
    trusts, income, costs, cip, control_total, funding, financing, drivers, profiles :
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
        tbl = _SCHEMA.table(table)
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
    ]


def _check_keys_and_codes(p: Portfolio, by_code: Mapping[str, Trust]) -> list[Problem]:
    """No duplicate keys in any table, and every row names a trust on the Trusts sheet."""
    problems: list[Problem] = []
    for table in TABLE_NAMES:
        tbl = _SCHEMA.table(table)
        recs = p.records(table)
        if tbl.key:
            for r in _dupes(recs, tbl.key):
                key = ", ".join(f"{k}={getattr(r, k)!r}" for k in tbl.key)
                problems.append(
                    Problem(_place(r, tbl.key[-1]), f"duplicate row: {key} appears more than once")
                )
        if table == "trusts":
            continue
        for r in recs:
            if r.trust_code not in by_code:
                problems.append(
                    Problem(
                        _place(r, "trust_code"),
                        f"trust_code {r.trust_code!r} is not on the Trusts sheet",
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
                Problem(_place(pr, "m01"), f"profile {pr.profile!r} weights must not all be 0")
            )
    lines: tuple[IncomeLine | CostLine, ...] = (*p.income, *p.costs)
    for r in lines:
        if r.profile != "flat" and (r.trust_code, r.profile) not in profiles:
            problems.append(
                Problem(
                    _place(r, "profile"),
                    f"profile {r.profile!r} is not on the Profiles sheet for trust "
                    f"{r.trust_code!r} (use 'flat' or add it)",
                )
            )
    return problems


def _check_schemes(p: Portfolio, by_code: Mapping[str, Trust]) -> list[Problem]:
    """A scheme's target line suits its category, and it starts within the horizon."""
    problems: list[Problem] = []
    lines = _SCHEMA.lines
    for s in p.cip:
        trust = by_code.get(s.trust_code)
        cat = _SCHEMA.cip_categories[s.category]
        if s.target_line is not None and lines[s.target_line]["kind"] not in cat["kinds"]:
            allowed = ", ".join(_SCHEMA.lines_of_kind(*cat["kinds"]))
            problems.append(
                Problem(
                    _place(s, "target_line"),
                    f"target_line {s.target_line!r} does not match category {s.category!r} "
                    f"(allowed: {allowed})",
                )
            )
        if trust is not None and s.start_year > trust.horizon_years:
            problems.append(
                Problem(
                    _place(s, "start_year"),
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
                    _place(c, "year"),
                    f"year {c.year} is beyond the trust's horizon_years ({trust.horizon_years})",
                )
            )
        if c.month is not None:
            problems.extend(_check_monthly_plan(c, c.month))
    return problems


def _check_monthly_plan(c: ControlTotal, month: tuple[float | None, ...]) -> list[Problem]:
    blanks = [i for i, v in enumerate(month) if v is None]
    if blanks:
        return [
            Problem(
                _place(c, f"m{blanks[0] + 1:02d}"),
                "monthly plan must have all twelve months filled, or none "
                f"(blank: {', '.join(f'm{i + 1:02d}' for i in blanks)})",
            )
        ]
    total = sum(v for v in month if v is not None)
    if abs(total - c.target_pre_stf) > CT_TOLERANCE:
        return [
            Problem(
                _place(c, "m12"),
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
                    _place(d, "year"),
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
                    _place(f, "ae_applies"),
                    "ae_applies is Y, so ae_trajectory_q1..q4 and ae_forecast_q1..q4 "
                    "must be filled",
                )
            )
    return problems
