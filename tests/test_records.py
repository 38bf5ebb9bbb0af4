"""The record classes and the schema cannot drift apart.

The classes in :mod:`cipmodel.inputs.records` are written out by hand (real types, real
defaults); ``cipmodel/data/schema.toml`` is the one description of every field. These tests
hold them to each other: the same fields in the same order, defaults that behave as a blank
cell does, ``None`` allowed exactly where a blank stays blank, and a ``repr`` (which the
input hash is made of) that lists every field in schema order.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

import pytest

from cipmodel.examples import example_portfolio
from cipmodel.inputs import records
from cipmodel.inputs.records import RECORD_CLASSES, TABLE_NAMES, TABLE_OF, Portfolio, Source
from cipmodel.inputs.schema import MISSING, Field, load_schema

SCHEMA = load_schema()
PYTHON_TYPE = {"str": str, "enum": str, "int": int, "float": float, "bool": bool}


def _fields(cls: type) -> list[dataclasses.Field[Any]]:
    """The record's data fields (``source`` is where it came from, not data)."""
    return [f for f in dataclasses.fields(cls) if f.name != "source"]


def _may_be_blank(col: Field) -> bool:
    """Whether a blank value stays blank (None) after the checker: no default, not required."""
    return col.default is None and not col.required


def test_one_class_per_table_in_schema_order() -> None:
    assert tuple(RECORD_CLASSES) == TABLE_NAMES == tuple(t.name for t in SCHEMA.tables)
    for name, cls in RECORD_CLASSES.items():
        assert name == cls.TABLE
        assert TABLE_OF[cls] is SCHEMA.table(name)
        assert cls.__module__ == "cipmodel.inputs.record_types"
        assert getattr(records, cls.__name__) is cls


@pytest.mark.parametrize("table", TABLE_NAMES)
def test_fields_match_the_schema(table: str) -> None:
    """Names and order; each a typed field compared, hashed and shown in the repr."""
    cls = RECORD_CLASSES[table]
    tbl = SCHEMA.table(table)
    assert [f.name for f in _fields(cls)] == list(tbl.attributes)
    for f in _fields(cls):
        assert (f.init, f.repr, f.compare, f.hash, f.kw_only) == (True, True, True, None, False)
    (source,) = [f for f in dataclasses.fields(cls) if f.name == "source"]
    assert dataclasses.fields(cls)[-1] is source
    assert (source.default, source.repr, source.compare, source.kw_only) == (
        None,
        False,
        False,
        True,
    )
    params = cls.__dataclass_params__
    assert params.frozen and params.eq and not params.order and not params.unsafe_hash


@pytest.mark.parametrize("table", TABLE_NAMES)
def test_defaults_match_the_schema(table: str) -> None:
    """A required field with no default defaults to MISSING (leaving it out is a located
    error); any other defaults to the schema's default, or to None (a blank) where the
    checker would turn the schema's default into a different value. Either way, leaving a
    field out gives exactly what a blank cell gives."""
    cls = RECORD_CLASSES[table]
    tbl = SCHEMA.table(table)
    for f in _fields(cls):
        col = tbl.group(f.name)[0]
        if col.required and col.default is None:
            assert f.default is MISSING, f.name
            continue
        assert f.default in (col.default, None), f.name
        if f.default is not None:
            assert type(f.default) is type(col.default), f.name
        given, blank = col.coerce(f.default), col.coerce(None)
        assert repr(given) == repr(blank), f.name


@pytest.mark.parametrize("table", TABLE_NAMES)
def test_types_match_the_schema(table: str) -> None:
    """The annotation is the schema type (a tuple for a repeated field), optional exactly
    where a blank stays blank."""
    cls = RECORD_CLASSES[table]
    tbl = SCHEMA.table(table)
    hints = typing.get_type_hints(cls)
    for f in _fields(cls):
        cols = tbl.group(f.name)
        hint = hints[f.name]
        args = typing.get_args(hint)
        optional = isinstance(hint, types.UnionType) and type(None) in args
        assert optional == _may_be_blank(cols[0]), f.name
        inner = next(a for a in args if a is not type(None)) if optional else hint
        scalar = PYTHON_TYPE[cols[0].type]
        if cols[0].group is None:
            assert inner is scalar, f.name
        else:
            assert typing.get_origin(inner) is tuple, f.name
            item, ellipsis = typing.get_args(inner)
            assert ellipsis is Ellipsis
            # a repeated field's items may be blank until the portfolio checks, unless required
            assert item == (scalar if cols[0].required else scalar | None), f.name


def _schema_repr(record: Any) -> str:
    """The repr of a record built from the schema: class name, then every attribute in
    schema order as ``name=value!r``."""
    tbl = TABLE_OF[type(record)]
    body = ", ".join(f"{a}={getattr(record, a)!r}" for a in tbl.attributes)
    return f"{type(record).__name__}({body})"


@pytest.mark.parametrize("example", ["acute-11pc", "small"])
def test_repr_is_the_schema_fields_in_order(example: str) -> None:
    """The input hash is made of these reprs: they must not change with the classes."""
    p = example_portfolio(example)
    for table in TABLE_NAMES:
        for rec in getattr(p, table):
            assert repr(rec) == _schema_repr(rec)


def test_repr_leaves_out_the_source_and_keeps_blank_ints() -> None:
    """A blank money field holds the schema's 0 (not 0.0), as it always has; an entered 0 is
    a float. The source is not in the repr, equality or hash."""
    blank = records.Funding(trust_code="RXX")
    entered = records.Funding(trust_code="RXX", allocation=0, source=Source("Funding", 2))
    assert repr(blank) == _schema_repr(blank)
    assert "allocation=0," in repr(blank) and type(blank.allocation) is int
    assert repr(entered) == _schema_repr(entered)
    assert "allocation=0.0" in repr(entered)
    again = records.Funding(trust_code="RXX", allocation=0.0)
    assert again == entered and hash(again) == hash(entered)
    assert repr(records.Drivers(trust_code="RXX", year=1)) == _schema_repr(
        records.Drivers(trust_code="RXX", year=1)
    )


def test_records_coerce_raw_values() -> None:
    d = records.Drivers(trust_code=" RXX ", year="2", pay_award="2.5%")
    assert (d.trust_code, d.year, d.pay_award) == ("RXX", 2, 0.025)
    ct = records.ControlTotal(trust_code="RXX", target_pre_stf="-1,000", month=[1] * 12)
    assert ct.month == (1.0,) * 12 and isinstance(ct.month, tuple)


def test_portfolio_fields_hold_records() -> None:
    p = example_portfolio("small")
    hints = typing.get_type_hints(Portfolio)
    for table, cls in RECORD_CLASSES.items():
        assert hints[table] == tuple[cls, ...]
        assert all(type(r) is cls for r in getattr(p, table))
    q = p.replace(name="renamed")
    assert q == p and q.name == "renamed"
    assert repr(Portfolio(trusts=p.trusts, control_total=p.control_total, name="x")).startswith(
        "Portfolio(trusts=(Trust("
    )
