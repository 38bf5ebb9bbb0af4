"""The workbook reader's one-pass record builder against building records the ordinary way.

A record read from a row is ``cls(**checked, source=source)``, ``checked`` holding each cell
after its column's check; the record checks those values again. ``RecordBuilder.build``
must give the very same record (the same values of the same types, attributes in the same
order), or None whenever that way would report a problem, for rows of every table with
columns missing, blank, typed in every way a finance team types them, and wrong; and the
remembered checks (``Field.coercer``) must answer as ``Field.coerce`` does.
"""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from cipmodel.errors import ValidationError
from cipmodel.inputs.records import RECORD_CLASSES, RecordBuilder, Source
from cipmodel.inputs.schema import Field, load_schema

SCHEMA = load_schema()

# values as a workbook cell gives them: blank, text typed every way, numbers, flags, wrong
_COMMON: list[Any] = [None, "", " ", "n/a", "x", 0, 0.0, -0.0, 1, 1.0, True, False, 2, -3.5]
_NUMBERS: list[Any] = ["1,000", "(4,000)", "12%", "-", "1e3", 1e400, math.nan, 10**20, 0.11, 12]
_TEXTS: list[Any] = ["RXX", " rxx ", "R\u200bXX", "P01", "Acute", "plan", "amber", "Pay", "a" * 300]
_FLAGS: list[Any] = ["Y", "n", "yes", "NR", "recurrent", 1, 0]


def _candidates(field: Field) -> list[Any]:
    extra = list(field.values) + [v.upper() for v in field.values]
    extra += [field.default] if field.default is not None else []
    if field.type in ("int", "float"):
        lo, hi = field.min, field.max
        extra += [b for b in (lo, hi) if b is not None] + _NUMBERS
    elif field.type == "bool":
        extra += _FLAGS
    else:
        extra += _TEXTS
    return _COMMON + extra


_ABSENT = object()


def _rows(table_name: str, seed: int, count: int) -> list[dict[str, Any]]:
    """Rows of raw values by column name, each column absent now and then."""
    rng = random.Random(seed)
    table = SCHEMA.table(table_name)
    # mostly values the column reads (else nearly every row has a problem), some wrong
    every = {f.name: _candidates(f) for f in table.fields}
    good = {f.name: [v for v in every[f.name] if not f.coerce(v)[1]] for f in table.fields}
    rows = []
    for _ in range(count):
        absent = rng.random() < 0.3
        row = {}
        for f in table.fields:
            pool = every if rng.random() < 0.03 or not good[f.name] else good
            value = rng.choice(pool[f.name])
            if absent and rng.random() < 0.2:
                continue
            row[f.name] = value
        rows.append(row)
    return rows


def _ordinary(table_name: str, raw: dict[str, Any], source: Source) -> Any:
    """The record the reader builds without the builder, or None (a problem)."""
    table = SCHEMA.table(table_name)
    values = {}
    for name, value in raw.items():
        checked, msg = table.field(name).coerce(value)
        if msg:
            return None
        values[name] = checked
    kwargs: dict[str, Any] = {}
    for attr in table.attributes:
        group = table.group(attr)
        if len(group) == 1 and group[0].group is None:
            if attr in values:
                kwargs[attr] = values[attr]
        elif any(c.name in values for c in group):
            kwargs[attr] = tuple(values.get(c.name) for c in group)
    try:
        return RECORD_CLASSES[table_name](**kwargs, source=source)
    except ValidationError:
        return None


def _shown(record: Any) -> list[tuple[str, str]]:
    """Each attribute in order, with its value's repr (1, 1.0 and True differ)."""
    return [(k, repr(v)) for k, v in vars(record).items()]


@pytest.mark.parametrize("table_name", [t.name for t in SCHEMA.tables])
def test_the_builder_builds_what_the_constructor_builds(table_name: str) -> None:
    table = SCHEMA.table(table_name)
    checks = {f.name: f.coercer() for f in table.fields}
    builder = RecordBuilder(RECORD_CLASSES[table_name], checks)
    built_some = 0
    for i, raw in enumerate(_rows(table_name, seed=len(table_name), count=600)):
        source = Source(table.sheet, i + 2, {f.name: "A" for f in table.fields})
        expected = _ordinary(table_name, raw, source)
        got = builder.build(raw, source)
        if expected is None:
            assert got is None, raw
            continue
        if got is None:  # allowed only where the builder cannot build the class at all
            assert builder.build({}, source) is None and _ordinary(table_name, {}, source)
            continue
        built_some += 1
        assert type(got) is type(expected)
        assert got == expected and repr(got) == repr(expected)
        assert _shown(got) == _shown(expected), raw
        assert got.source is source
    assert built_some > 20  # the rows above are mostly readable


@pytest.mark.parametrize("field", [f for t in SCHEMA.tables for f in t.fields][::3])
def test_remembered_checks_answer_as_the_field_does(field: Field) -> None:
    remembered = field.coercer()
    for value in _candidates(field) * 2:  # the second time from memory
        got, expected = remembered(value), field.coerce(value)
        assert repr(got) == repr(expected), value
