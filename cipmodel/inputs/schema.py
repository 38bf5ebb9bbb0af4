"""The input schema: every table and field, loaded from ``cipmodel/data/schema.toml``.

Everything that reads, writes, validates or documents input data goes through the
:class:`Field` and :class:`Table` objects defined here, so a field is described once.

A *field* turns a raw value (a workbook cell, a TOML value, a Python argument) into a typed
value with :meth:`Field.coerce`, which returns ``(value, problem)``; ``problem`` is a
message naming the field, the rule and the bad value, or ``None``.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import tomllib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from typing import Any, TypeVar

from cipmodel.errors import readable
from cipmodel.inputs.numbers import NOT_APPLICABLE, parse_number_text

__all__ = [
    "CellValue",
    "Coerce",
    "Field",
    "Table",
    "Schema",
    "load_schema",
    "MISSING",
    "remembered",
]


class _Missing:
    """Sentinel for 'no value given' (a blank cell), distinct from ``None`` results."""

    def __repr__(self) -> str:
        return "MISSING"


#: Typed as Any so it can be the default of a field of any type (records use it for a
#: required field left out).
MISSING: Any = _Missing()
#: A field's value after :meth:`Field.coerce`: text (str and enum), a whole number, a
#: number, Y/N, or None (blank, no default).
CellValue = str | int | float | bool | None
#: A field's check: a raw value in, ``(value, problem)`` out (:meth:`Field.coerce`).
Coerce = Callable[[object], tuple[CellValue, str | None]]

_TRUE = {"y", "yes", "true", "t", "1"}
_FALSE = {"n", "no", "false", "f", "0"}
#: Fields whose text identifies a row other rows refer to.
IDENTIFIER_FIELDS = frozenset({"trust_code", "scheme_id", "profile"})
# Characters that reorder text on a terminal (the bidirectional embeddings, overrides,
# isolates and marks): refused in any text, so no name can disguise a message.
_BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Cc", "Zl", "Zp"})
# One scan in C for what the per-character checks of text find: a control character other
# than the tab (below 32), or a text-direction character. A character class, so linear.
_CONTROL_OR_BIDI = re.compile("[\x00-\x08\x0a-\x1f" + "".join(sorted(_BIDI_CONTROLS)) + "]").search
_ASCII_INVISIBLE = re.compile("[\x00-\x1f\x7f]").search  # the ASCII of category Cc
_ENUM_SEPARATORS = re.compile(r"[\s\-/]+")
_NUMBER_TEXT = re.compile(
    r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\Z", re.ASCII
)  # ASCII digits only
# The largest amount of money (£000) in any cell: £10^18, a million times the NHS budget. A
# larger figure is a typing error, and sums of figures near the float limit overflow.
MONEY_LIMIT = 1e15


def _show(value: object) -> str:
    """Render a bad value for an error message, shortened and with its type when unclear."""
    if isinstance(value, int) and value.bit_length() > 200:
        # repr() of a huge int is slow, and refused above 4,300 digits
        return f"a whole number of about {int(value.bit_length() * 0.30103):,} digits"
    if isinstance(value, str):
        # invisible and control characters by name ('4<no-break space>000'), never '\xa0'
        text = "'" + readable(value, limit=58) + "'"
    else:
        text = repr(value)
        if len(text) > 60:
            text = text[:57] + "..."
    if isinstance(value, (_dt.date, _dt.datetime, _dt.time, _dt.timedelta)):
        return f"a date/time {text}"
    return text


def _word(word: str) -> str:
    """A flag word as a user would type it: 'NR', 'non-recurrent'."""
    return word.upper() if len(word) <= 2 else word.replace("_", "-")


def normalise_enum(text: str) -> str:
    """Fold user spelling of a category ('Non-pay', 'QIA approved') into its key."""
    return _ENUM_SEPARATORS.sub("_", text.strip().lower())


@dataclass(frozen=True)
class Field:
    """One input field (or one column of a repeated field).

    Attributes mirror the keys of ``schema.toml``; see its header for their meaning.
    ``group`` and ``index`` are set on the columns of a repeated field (``month`` ->
    ``m01``..``m12``): ``group`` is the record attribute, ``index`` the 0-based position.
    """

    name: str
    type: str
    description: str
    unit: str = ""
    required: bool = False
    default: CellValue = None
    min: float | None = None
    max: float | None = None
    values: tuple[str, ...] = ()
    max_length: int | None = None
    pattern: str | None = None
    example: str | None = None
    group: str | None = None
    index: int | None = None
    true_words: tuple[str, ...] = ()
    false_words: tuple[str, ...] = ()
    blank: str | None = None

    @property
    def identifier(self) -> bool:
        """Whether the field names something other rows refer to (a trust code, a scheme
        id, a profile name): invisible characters there would make look-alikes."""
        return self.name in IDENTIFIER_FIELDS

    @property
    def header(self) -> str:
        """The workbook header: ``name (unit)``, or just ``name`` with no unit."""
        return f"{self.name} ({self.unit})" if self.unit else self.name

    # -- rules --------------------------------------------------------------------
    def rule(self) -> str:
        """The rule as a phrase for messages: 'a number >= 0', 'one of pay, non_pay'."""
        if self.type == "enum":
            return "one of " + ", ".join(self.values)
        if self.type == "bool":
            if not (self.true_words or self.false_words):
                return "Y or N"
            yes = ", ".join(_word(w) for w in self.true_words)
            no = ", ".join(_word(w) for w in self.false_words)
            return f"Y or N (also {yes} for Y; {no} for N)"
        if self.type in ("int", "float"):
            what = "a whole number" if self.type == "int" else "a number"
            lo, hi = self.min, self.max
            if lo is not None and hi is not None:
                return f"{what} from {_fmt(lo)} to {_fmt(hi)}"
            if lo is not None:
                return f"{what} >= {_fmt(lo)}"
            if hi is not None:
                return f"{what} <= {_fmt(hi)}"
            return what
        rule = "text"
        if self.max_length:
            rule += f" of at most {self.max_length} characters"
        if self.pattern:
            rule += f" like {self.example or self.pattern}"
        return rule

    def _bad(self, value: object, extra: str = "") -> tuple[CellValue, str]:
        return MISSING, f"{self.name} must be {self.rule()}{extra}, got {_show(value)}"

    def coerce(self, raw: object) -> tuple[CellValue, str | None]:
        """Turn a raw value into the field's type.

        Returns ``(value, None)`` on success or ``(MISSING, message)``. A blank value
        (``None``, ``MISSING``, empty or white-space text) gives the default, or a
        'required' message if the field is required and has no default.
        """
        if raw is MISSING or raw is None or (isinstance(raw, str) and not raw.strip()):
            if self.default is not None:
                return self.default, None
            if self.required:
                return MISSING, f"{self.name} is required ({self.rule()})"
            return None, None
        if self.type != "str" and isinstance(raw, str) and raw.strip().casefold() in NOT_APPLICABLE:
            return self._bad(raw, self._blank_hint())
        if self.type == "str":
            return self._coerce_str(raw)
        if self.type == "enum":
            return self._coerce_enum(raw)
        if self.type == "bool":
            return self._coerce_bool(raw)
        return self._coerce_number(raw)

    def coercer(self) -> Coerce:
        """:meth:`coerce` remembering what each value gave (:func:`remembered`): for one
        read of a workbook, where the same value fills a column thousands of times (a trust
        code, a stage, a month, a blank). ``coerce`` is a function of the field and the
        value alone, so a value met again gets the same ``(value, problem)`` (the caller
        names each cell a problem is in)."""
        return remembered(self.coerce)

    def _blank_hint(self) -> str:
        """What a blank cell means here, for a cell holding 'n/a' or 'none'."""
        if self.required and self.default is None:
            return " (a value is needed here)"
        if self.blank:
            return f" (leave the cell blank for {self.blank})"
        if self.default is not None:
            shown = ("Y" if self.default else "N") if self.type == "bool" else self.default
            return f" (leave the cell blank for the default, {shown})"
        return " (leave the cell blank)"

    def _coerce_str(self, raw: object) -> tuple[CellValue, str | None]:
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
            return self._bad(raw)
        if isinstance(raw, float):
            if not math.isfinite(raw):
                return self._bad(raw)
            text = str(int(raw)) if raw.is_integer() else str(raw)
        elif isinstance(raw, int) and raw.bit_length() > 200:
            return self._bad(raw)  # no code or name is a 60-digit number
        else:
            text = str(raw)
        text = text.strip()
        if _CONTROL_OR_BIDI(text):
            return MISSING, (
                f"{self.name} must not contain control or text-direction characters, "
                f"got {_show(raw)}"
            )
        if self.identifier:
            bad = _first_invisible(text)
            if bad is not None:
                return MISSING, (
                    f"{self.name} {_show(raw)} holds an invisible character "
                    f"({readable(bad)}): retype it"
                )
        if self.max_length is not None and len(text) > self.max_length:
            return self._bad(raw)
        if self.pattern and not _compiled(self.pattern).fullmatch(text):
            return self._bad(raw)
        return text, None

    def _coerce_enum(self, raw: object) -> tuple[CellValue, str | None]:
        if not isinstance(raw, str):
            return self._bad(raw)
        key = normalise_enum(raw)
        if key not in self.values:
            return self._bad(raw)
        return key, None

    def _coerce_bool(self, raw: object) -> tuple[CellValue, str | None]:
        if isinstance(raw, bool):
            return raw, None
        if isinstance(raw, (int, float)) and raw in (0, 1):
            return bool(raw), None
        if isinstance(raw, str):
            key = raw.strip().lower()
            if key in _TRUE:
                return True, None
            if key in _FALSE:
                return False, None
            word = normalise_enum(raw)
            if word in self.true_words:
                return True, None
            if word in self.false_words:
                return False, None
        return self._bad(raw)

    def _coerce_number(self, raw: object) -> tuple[CellValue, str | None]:
        value: float
        if isinstance(raw, bool):
            return self._bad(raw)
        if isinstance(raw, (int, float)):
            try:
                value = float(raw)
            except OverflowError:  # an int beyond the range of a float (10**400)
                return self._bad(raw)
        elif isinstance(raw, str):
            parsed, why = parse_number_text(raw, money=self.unit == "£000")
            if parsed is None:
                return self._bad(raw, why)
            value = parsed
        else:
            return self._bad(raw)
        if not math.isfinite(value):
            return self._bad(raw)
        if self.type == "int":
            if not value.is_integer():
                return self._bad(raw)
            out: float | int = int(value)
        else:
            out = value
        hint = ""
        if self.unit == "%" and self.max is not None and 1 < abs(value) <= 100:
            hint = f" (as a fraction: enter {_fmt(value)}% or {_fmt(value / 100)})"
        if self.min is not None and value < self.min:
            return self._bad(raw, hint)
        if self.max is not None and value > self.max:
            return self._bad(raw, hint)
        if self.unit == "£000" and abs(value) > MONEY_LIMIT:
            return self._bad(raw, f" of at most {MONEY_LIMIT:.0e} in size (is it a typing error?)")
        return out, None


_T = TypeVar("_T")
_UNSEEN: Any = object()


def remembered(fn: Callable[[object], _T]) -> Callable[[object], _T]:
    """``fn``, a function of its argument alone, remembering what each argument gave.

    Arguments are remembered by type and value, only where equal means the same: texts,
    whole numbers (apart from ``bool``: ``True == 1``), None, and floats other than zero
    (``0.0 == -0.0``) and NaN; any other argument is passed to ``fn`` each time. The memory
    lasts as long as the function returned, and holds no more values than were passed.
    """
    memo: dict[object, _T] = {}  # texts, floats, None
    whole: dict[object, _T] = {}  # apart: 1 == 1.0

    def fn_remembered(raw: object) -> _T:
        kind = type(raw)
        if kind is str or raw is None or (kind is float and raw and raw == raw):
            found = memo.get(raw, _UNSEEN)
            if found is _UNSEEN:
                found = memo[raw] = fn(raw)
            return found
        if kind is int:
            found = whole.get(raw, _UNSEEN)
            if found is _UNSEEN:
                found = whole[raw] = fn(raw)
            return found
        return fn(raw)

    return fn_remembered


def _invisible(ch: str) -> bool:
    """A character that shows nothing (zero-width, a format or control character): in an
    identifier it would make two codes that look the same."""
    return unicodedata.category(ch) in _INVISIBLE_CATEGORIES


def _first_invisible(text: str) -> str | None:
    """The first character of ``text`` that shows nothing (:func:`_invisible`), or None.

    ASCII text is checked by one scan in C: its only such characters are the controls
    (category Cc: 0-31 and 127), and the text reaching here holds none of 0-31 but the tab.
    """
    if text.isascii():
        found = _ASCII_INVISIBLE(text)
        return found.group() if found else None
    return next((c for c in text if _invisible(c)), None)


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    """A field's ``pattern``, compiled once (the schema holds a handful)."""
    return re.compile(pattern)


def _fmt(x: float) -> str:
    """Format a bound without a trailing .0."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


@dataclass(frozen=True)
class Table:
    """An input table: its sheet, its fields (repeated fields expanded) and its key."""

    name: str
    sheet: str
    description: str
    key: tuple[str, ...]
    fields: tuple[Field, ...]

    @property
    def columns(self) -> tuple[Field, ...]:
        """Alias of ``fields``: one entry per workbook column."""
        return self.fields

    @cached_property
    def _groups(self) -> dict[str, tuple[Field, ...]]:
        groups: dict[str, list[Field]] = {}
        for f in self.fields:
            groups.setdefault(f.group or f.name, []).append(f)
        return {k: tuple(v) for k, v in groups.items()}

    @property
    def attributes(self) -> tuple[str, ...]:
        """Record attribute names, in order (a repeated field is one attribute)."""
        return tuple(self._groups)

    def group(self, attr: str) -> tuple[Field, ...]:
        """The columns that make up record attribute ``attr``."""
        return self._groups.get(attr, ())

    def field(self, name: str) -> Field:
        """The column called ``name``."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


@dataclass(frozen=True)
class Schema:
    """All tables plus the line and CIP-category catalogues."""

    version: int
    tables: tuple[Table, ...]
    lines: dict[str, dict[str, Any]]
    cip_categories: dict[str, dict[str, Any]]

    def table(self, name: str) -> Table:
        """The table called ``name``."""
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)

    def lines_of_kind(self, *kinds: str) -> tuple[str, ...]:
        """Line keys whose kind is one of ``kinds``, in schema order."""
        return tuple(k for k, v in self.lines.items() if v["kind"] in kinds)


def _expand(table_name: str, spec: dict[str, Any]) -> list[Field]:
    repeat = int(spec.get("repeat", 0))
    common: dict[str, Any] = {
        k: spec[k] for k in ("type", "unit", "required", "default", "min", "max") if k in spec
    }
    if "values" in spec:
        common["values"] = tuple(spec["values"])
    for k in ("max_length", "pattern", "example", "blank"):
        if k in spec:
            common[k] = spec[k]
    for k in ("true_words", "false_words"):
        if k in spec:
            common[k] = tuple(spec[k])
    if not repeat:
        return [Field(name=spec["name"], description=spec["description"], **common)]
    header = spec["header"]
    return [
        Field(
            name=header.format(n=n),
            description=spec["description"].format(n=n),
            group=spec["name"],
            index=n - 1,
            **common,
        )
        for n in range(1, repeat + 1)
    ]


@cache
def load_schema() -> Schema:
    """Load and cache the packaged schema."""
    text = resources.files("cipmodel").joinpath("data/schema.toml").read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    tables = []
    for t in raw["tables"]:
        fields: list[Field] = []
        for spec in t["fields"]:
            fields.extend(_expand(t["name"], spec))
        tables.append(
            Table(
                name=t["name"],
                sheet=t["sheet"],
                description=t["description"],
                key=tuple(t.get("key", ())),
                fields=tuple(fields),
            )
        )
    return Schema(
        version=int(raw["version"]),
        tables=tuple(tables),
        lines=raw["lines"],
        cip_categories=raw["cip_categories"],
    )


def schema_markdown() -> str:
    """The input reference (``docs/schema.md``), generated from the schema.

    ``tests/test_docs.py`` fails if the committed file differs from this text; regenerate it
    with ``python -c "from cipmodel.inputs.schema import schema_markdown; print(schema_markdown(), end='')"
    > docs/schema.md``.
    """
    s = load_schema()
    out = [
        "# Plan workbook and input reference",
        "",
        "Generated from `cipmodel/data/schema.toml` — do not edit by hand.",
        "",
        "Money is £000; `%` columns hold fractions shown as percentages (0.11 = 11%);",
        "surplus is positive, deficit negative; month 1 is April. Headers may be typed in any",
        "case, spacing, punctuation or column order, with or without the unit in brackets. A",
        'header that looks like a misspelt column (`Strat month`) is an error with "did you',
        'mean"; other extra columns are ignored with a note.',
        "",
        "Numbers may be typed as text the way finance reports show them: `350,000`, `£18,000`,",
        "`89%`, bracketed negatives `(4,000)`, `£(2,000)`, `(£2,000)`, a dash alone (`-`, `–`,",
        "`—`) for zero in a £000 column, and no-break or thin spaces as thousands separators",
        "(in groups of three: `1,5` is refused rather than read as 15). `n/a` or `none` is",
        "refused with a hint saying what a blank cell means there. Trust codes are matched",
        "across sheets ignoring case and spaces (`rxx` is `RXX`).",
        "",
    ]
    for t in s.tables:
        out += [f"## {t.sheet} (`{t.name}`)", "", t.description, ""]
        if t.key:
            out += [f"Unique key: {', '.join(t.key)}.", ""]
        out += ["| column | type | rule | default | description |", "|---|---|---|---|---|"]
        for f in t.fields:
            if f.index not in (None, 0):
                continue
            name = f.header if f.group is None else f"{f.header} … (×{len(t.group(f.group))})"
            default = "" if f.default is None else str(f.default)
            if f.type == "bool" and f.default is not None:
                default = "Y" if f.default else "N"
            req = "required; " if f.required else ""
            desc = f.description.replace("{n}", "n").replace("|", "/")
            out.append(f"| `{name}` | {f.type} | {req}{f.rule()} | {default} | {desc} |")
        out.append("")
    out += [
        "## Income and cost lines",
        "",
        "| line | label | kind | price driver | grows with activity |",
        "|---|---|---|---|---|",
    ]
    for k, v in s.lines.items():
        out.append(
            f"| `{k}` | {v['label']} | {v['kind']} | {v['price']} | {'yes' if v['volume'] else 'no'} |"
        )
    out.append("")
    return "\n".join(out)
