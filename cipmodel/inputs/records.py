"""Domain objects: frozen, validated records for each input table, and the Portfolio.

The record classes (:class:`Trust`, :class:`IncomeLine`, :class:`CostLine`,
:class:`Scheme`, :class:`ControlTotal`, :class:`Funding`, :class:`Financing`,
:class:`Drivers`, :class:`Profile`) are generated from the schema, so their fields, types,
defaults and rules are the schema's. Each record coerces and checks its values on creation
and raises :class:`~cipmodel.errors.ValidationError` naming the field, the rule and the bad
value.

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
from typing import TYPE_CHECKING, Any

from cipmodel.errors import Problem, ValidationError
from cipmodel.inputs.schema import MISSING, Table, load_schema

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Source",
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


def _place(record: Any, field_name: str | None = None) -> str:
    """Where a record's field is, for messages: a workbook cell or ``table[key].field``."""
    src = getattr(record, "source", None)
    if isinstance(src, Source):
        return src.cell(field_name)
    table = TABLE_OF[type(record)]
    key = "/".join(str(getattr(record, k, "?")) for k in table.key) or "?"
    return f"{table.name}[{key}]" + (f".{field_name}" if field_name else "")


def _post_init(self: Any) -> None:
    table: Table = TABLE_OF[type(self)]
    problems: list[Problem] = []
    for attr in table.attributes:
        cols = table.group(attr)
        raw = getattr(self, attr)
        if len(cols) == 1 and cols[0].group is None:
            value, msg = cols[0].coerce(raw)
            if msg:
                problems.append(Problem(_place(self, cols[0].name), msg))
            object.__setattr__(self, attr, value)
            continue
        # a repeated field: a sequence of len(cols) values, or blank
        if raw is None or raw is MISSING:
            items: list[Any] = [None] * len(cols)
        elif isinstance(raw, (list, tuple)) and len(raw) == len(cols):
            items = list(raw)
        else:
            problems.append(
                Problem(_place(self, attr), f"{attr} must be {len(cols)} values, got {raw!r}")
            )
            continue
        out = []
        for col, item in zip(cols, items, strict=True):
            value, msg = col.coerce(item)
            if msg:
                problems.append(Problem(_place(self, col.name), msg))
            out.append(value)
        object.__setattr__(self, attr, None if all(v is None for v in out) else tuple(out))
    if problems:
        raise ValidationError(problems)


def _make_record(class_name: str, table: Table, doc: str) -> type:
    fields: list[tuple[str, Any, Any]] = []
    for attr in table.attributes:
        cols = table.group(attr)
        required_no_default = cols[0].required and cols[0].default is None
        if required_no_default:
            fields.append((attr, Any, dataclasses.field(default=MISSING)))
        else:
            fields.append((attr, Any, dataclasses.field(default=None)))
    fields.append(
        ("source", Any, dataclasses.field(default=None, compare=False, repr=False, kw_only=True))
    )
    lines = [doc, "", "Parameters", "----------"]
    for attr in table.attributes:
        cols = table.group(attr)
        unit = f" [{cols[0].unit}]" if cols[0].unit else ""
        desc = cols[0].description
        if len(cols) > 1:
            desc = f"{len(cols)} values ({cols[0].name}..{cols[-1].name}): " + desc.replace(
                "{n}", "n"
            )
        lines += [f"{attr} :", f"    {desc}{unit}"]
    cls = dataclasses.make_dataclass(
        class_name,
        fields,
        frozen=True,
        namespace={"__post_init__": _post_init, "__doc__": "\n".join(lines)},
    )
    cls.__module__ = __name__
    return cls


_SCHEMA = load_schema()
TABLE_OF: dict[type, Table] = {}
RECORD_CLASSES: dict[str, type] = {}
for _cls_name, _table_name, _doc in [
    ("Trust", "trusts", "A trust: code, name, type, planning year and horizon."),
    ("IncomeLine", "income", "One income line of a trust (base run rate, £000 a year)."),
    ("CostLine", "costs", "One cost line of a trust (base run rate, £000 a year)."),
    ("Scheme", "cip", "One cost improvement scheme."),
    ("ControlTotal", "control_total", "A trust's pre-STF control total for one plan year."),
    ("Funding", "funding", "A trust's STF/PSF allocation and A&E trajectory."),
    ("Financing", "financing", "A trust's opening balance sheet and financing plan."),
    ("Drivers", "drivers", "Year-on-year drivers for one trust and plan year."),
    ("Profile", "profiles", "A named monthly profile (twelve weights)."),
]:
    _t = _SCHEMA.table(_table_name)
    _c = _make_record(_cls_name, _t, _doc)
    globals()[_cls_name] = _c
    TABLE_OF[_c] = _t
    RECORD_CLASSES[_table_name] = _c

# Names for static type checkers; the classes are built above.
Trust: Any
IncomeLine: Any
CostLine: Any
Scheme: Any
ControlTotal: Any
Funding: Any
Financing: Any
Drivers: Any
Profile: Any

TABLE_NAMES: tuple[str, ...] = tuple(t.name for t in _SCHEMA.tables)
CT_TOLERANCE = 1.0  # £000: monthly control-total plan must sum to the target within £1k


def _as_records(table: str, rows: Iterable[Any]) -> tuple[Any, ...]:
    cls = RECORD_CLASSES[table]
    out = []
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


@dataclass(frozen=True)
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

    trusts: tuple[Any, ...]
    income: tuple[Any, ...] = ()
    costs: tuple[Any, ...] = ()
    cip: tuple[Any, ...] = ()
    control_total: tuple[Any, ...] = ()
    funding: tuple[Any, ...] = ()
    financing: tuple[Any, ...] = ()
    drivers: tuple[Any, ...] = ()
    profiles: tuple[Any, ...] = ()
    name: str = field(default="portfolio", compare=False)

    def __post_init__(self) -> None:
        problems: list[Problem] = []
        for table in TABLE_NAMES:
            try:
                object.__setattr__(self, table, _as_records(table, getattr(self, table)))
            except ValidationError as exc:
                problems.extend(exc.problems)
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

    def frame(self, table: str) -> pd.DataFrame:
        """Table ``table`` as a DataFrame, one column per workbook column."""
        tbl = _SCHEMA.table(table)
        rows = []
        for rec in getattr(self, table):
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
        kw = {t: tuple(r for r in getattr(self, t) if r.trust_code in keep) for t in TABLE_NAMES}
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


def _dupes(records: Iterable[Any], key: tuple[str, ...]) -> list[Any]:
    recs = list(records)
    counts = Counter(tuple(getattr(r, k) for k in key) for r in recs)
    return [r for r in recs if counts[tuple(getattr(r, k) for k in key)] > 1]


def check_portfolio(p: Portfolio) -> list[Problem]:
    """Cross-record checks; every problem found, each with its place."""
    problems: list[Problem] = []
    if not p.trusts:
        problems.append(Problem("Trusts", "the plan has no trusts: add at least one row"))
        return problems
    by_code = {t.trust_code: t for t in p.trusts}
    for table in TABLE_NAMES:
        tbl = _SCHEMA.table(table)
        recs = getattr(p, table)
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
    profiles = {(pr.trust_code, pr.profile) for pr in p.profiles}
    for pr in p.profiles:
        if sum(pr.weight) <= 0:
            problems.append(
                Problem(_place(pr, "m01"), f"profile {pr.profile!r} weights must not all be 0")
            )
    for table in ("income", "costs"):
        for r in getattr(p, table):
            if r.profile != "flat" and (r.trust_code, r.profile) not in profiles:
                problems.append(
                    Problem(
                        _place(r, "profile"),
                        f"profile {r.profile!r} is not on the Profiles sheet for trust "
                        f"{r.trust_code!r} (use 'flat' or add it)",
                    )
                )
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
            blanks = [i for i, v in enumerate(c.month) if v is None]
            if blanks:
                problems.append(
                    Problem(
                        _place(c, f"m{blanks[0] + 1:02d}"),
                        "monthly plan must have all twelve months filled, or none "
                        f"(blank: {', '.join(f'm{i + 1:02d}' for i in blanks)})",
                    )
                )
            elif abs(sum(c.month) - c.target_pre_stf) > CT_TOLERANCE:
                problems.append(
                    Problem(
                        _place(c, "m12"),
                        f"monthly plan sums to {sum(c.month):,.1f} but target_pre_stf is "
                        f"{c.target_pre_stf:,.1f} (they must agree within £1k)",
                    )
                )
    for d in p.drivers:
        trust = by_code.get(d.trust_code)
        if trust is not None and d.year > trust.horizon_years:
            problems.append(
                Problem(
                    _place(d, "year"),
                    f"year {d.year} is beyond the trust's horizon_years ({trust.horizon_years})",
                )
            )
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
