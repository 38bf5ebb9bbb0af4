"""The record classes: one frozen, validated dataclass per input table.

:class:`Trust`, :class:`IncomeLine`, :class:`CostLine`, :class:`Scheme`,
:class:`ControlTotal`, :class:`Funding`, :class:`Financing`, :class:`Drivers` and
:class:`Profile` and :class:`OutturnLine` mirror the schema's tables field for field (``tests/test_records.py`` holds
their fields, order, defaults and optional-ness to ``cipmodel/data/schema.toml``; their
parameter docs are generated from it). Each record coerces and checks its values on
creation with the one schema-driven checker (:func:`check_record`) and raises
:class:`~cipmodel.errors.ValidationError` naming the field, the rule and the bad value. A
record takes raw values (``"2.5%"``, ``"Y"``, a blank) and holds typed ones.

Import them from :mod:`cipmodel.inputs.records`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from cipmodel.errors import Problem, ValidationError
from cipmodel.inputs.schema import MISSING, Coerce, Table, load_schema, remembered

__all__ = [
    "DRIVER_RATES",
    "RECORD_CLASSES",
    "SCHEMA",
    "TABLE_NAMES",
    "TABLE_OF",
    "ControlTotal",
    "CostLine",
    "Drivers",
    "Financing",
    "Funding",
    "IncomeLine",
    "OutturnLine",
    "Profile",
    "Record",
    "Scheme",
    "Source",
    "Trust",
    "RecordBuilder",
    "blank",
    "check_record",
    "place",
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
        def __init__(self, *, source: Source | None = None, **fields: object) -> None: ...

    def __post_init__(self) -> None:
        check_record(self)


def place(record: Record, field_name: str | None = None) -> str:
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
                problems.append(Problem(place(record, cols[0].name), msg))
            object.__setattr__(record, attr, value)
            continue
        # a repeated field: a sequence of len(cols) values, or blank
        if raw is None or raw is MISSING:
            items: list[object] = [None] * len(cols)
        elif isinstance(raw, (list, tuple)) and len(raw) == len(cols):
            items = list(raw)
        else:
            problems.append(
                Problem(place(record, attr), f"{attr} must be {len(cols)} values, got {raw!r}")
            )
            continue
        out = []
        for col, item in zip(cols, items, strict=True):
            value, msg = col.coerce(item)
            if msg:
                problems.append(Problem(place(record, col.name), msg))
            out.append(value)
        object.__setattr__(record, attr, None if all(v is None for v in out) else tuple(out))
    if problems:
        raise ValidationError(problems)


class RecordBuilder:
    """Builds the records of one class from rows of raw values (a workbook's cells by
    column name), for a reader that builds thousands.

    A record read from a row is ``cls(**checked, source=source)``, ``checked`` holding
    each raw value after its column's check: the record's own checks
    (:func:`check_record`) then check those values once more. :meth:`build` gives the same
    record in one pass, with the checks given (``coerce``: by column name, as
    :meth:`~cipmodel.inputs.schema.Field.coerce` or the same check remembering repeated
    values, :meth:`~cipmodel.inputs.schema.Field.coercer`). A row with any problem gives
    None: the caller then builds it the ordinary way, which reports each problem.
    """

    def __init__(self, cls: type[Record], coerce: Mapping[str, Coerce]) -> None:
        self.cls = cls
        #: Per column: a cell's value after both checks, or _FAILED (remembered per value)
        self._twice = {name: remembered(_checks(check, 2)) for name, check in coerce.items()}
        #: Per column: a value given to the record after its check alone, or _FAILED
        self._once = {name: _checks(check, 1) for name, check in coerce.items()}
        #: Per attribute: its name, None or its columns' names (a repeated field), default
        self._plan: list[tuple[str, tuple[str, ...] | None, object]] | None = None
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]  # each is a dataclass
        if getattr(cls, "__post_init__", None) is not Record.__post_init__ or any(
            not f.init or f.default is dataclasses.MISSING for f in fields
        ):
            return  # built otherwise than by the dataclass __init__ and check_record
        table = TABLE_OF[cls]
        plan: list[tuple[str, tuple[str, ...] | None, object]] = []
        defaults = {f.name: f.default for f in fields}
        for attr in table.attributes:
            cols = table.group(attr)
            single = len(cols) == 1 and cols[0].group is None
            if not single and defaults.get(attr) not in (None, MISSING):
                return
            plan.append((attr, None if single else tuple(c.name for c in cols), defaults[attr]))
        # the dataclass __init__ sets the attributes in this order, then the source
        if tuple(defaults) == (*(attr for attr, _n, _d in plan), "source"):
            self._plan = plan

    def build(self, raw: Mapping[str, object], source: Source) -> Record | None:
        """The record of a row (``raw``: a value for each column found, by name), or None
        if a value has a problem or the class is not one this builder can build."""
        if self._plan is None:
            return None
        twice, once = self._twice, self._once
        checked: dict[str, object] = {}
        for attr, names, default in self._plan:
            if names is None:  # one column: the cell's value, or the record's default
                value = twice[attr](raw[attr]) if attr in raw else once[attr](default)
                if value is _FAILED:
                    return None
                checked[attr] = value
                continue
            out = []  # a repeated field: a value per column, or None for all
            for n in names:  # a column not found: None, checked by the record alone
                value = twice[n](raw[n]) if n in raw else once[n](None)
                if value is _FAILED:
                    return None
                out.append(value)
            checked[attr] = None if all(v is None for v in out) else tuple(out)
        checked["source"] = source
        record = object.__new__(self.cls)
        record.__dict__.update(checked)  # as the frozen dataclass's __init__ sets them
        return record


_FAILED: Any = object()  # a value with a problem in either check


def _checks(check: Coerce, times: int) -> Callable[[object], object]:
    """A column's value after ``times`` checks: a cell's value read from a workbook is
    checked by the reader, then by the record (2); a default given to the record, by the
    record alone (1). _FAILED if a check finds a problem."""

    def checked(raw: object) -> object:
        value: object = raw
        for _ in range(times):
            value, msg = check(value)
            if msg:
                return _FAILED
        return value

    return checked


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
    agency_ceiling_profile: str | None = None
    financial_special_measures: bool = False
    source: Source | None = field(default=None, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class LineRecord(Record):
    """The fields an income line and a cost line share (the schema gives both tables the
    same columns; ``tests/test_records.py`` holds each class to its table)."""

    trust_code: str = MISSING
    line: str = MISSING
    annual_value: float = MISSING
    profile: str = "flat"
    description: str | None = None
    recurrent: bool = True
    source: Source | None = field(default=None, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class IncomeLine(LineRecord):
    """One income line of a trust (base run rate, £000 a year)."""

    TABLE: ClassVar[str] = "income"


@dataclass(frozen=True)
class CostLine(LineRecord):
    """One cost line of a trust (base run rate, £000 a year)."""

    TABLE: ClassVar[str] = "costs"


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
    #: The STF/PSF allocation of this plan year, or None (year 1: the Funding sheet's).
    stf_allocation: float | None = None
    improvement_agreed: float = blank()
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
    pfi_interest: float | None = None
    pfi_capital: float | None = None
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


#: The growth drivers of a plan year, in the order the Drivers table lists them (and the
#: engine's drivers axis): every field of :class:`Drivers` but the trust and the year.
DRIVER_RATES: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(Drivers) if f.name not in ("trust_code", "year", "source")
)


@dataclass(frozen=True)
class Profile(Record):
    """A named monthly profile (twelve weights)."""

    TABLE: ClassVar[str] = "profiles"

    trust_code: str = MISSING
    profile: str = MISSING
    weight: tuple[float, ...] = MISSING
    source: Source | None = field(default=None, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class OutturnLine(Record):
    """One line of a trust's prior-year forecast outturn (£000 a year; optional table)."""

    TABLE: ClassVar[str] = "outturn"

    trust_code: str = MISSING
    line: str = MISSING
    outturn: float = MISSING
    recurrent: bool = True
    description: str | None = None
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


#: The input schema the record classes mirror.
SCHEMA = load_schema()
TABLE_NAMES: tuple[str, ...] = tuple(t.name for t in SCHEMA.tables)
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
        OutturnLine,
    )
}
if tuple(RECORD_CLASSES) != TABLE_NAMES:  # pragma: no cover - a schema edit without a class
    raise ImportError(f"record classes {tuple(RECORD_CLASSES)} do not match tables {TABLE_NAMES}")
#: The schema table of each record class.
TABLE_OF: dict[type[Record], Table] = {cls: SCHEMA.table(t) for t, cls in RECORD_CLASSES.items()}
for _cls, _table in TABLE_OF.items():
    _cls.__doc__ = _parameters_doc((_cls.__doc__ or "").strip(), _table)
