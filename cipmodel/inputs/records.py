"""Domain objects: frozen, validated records for each input table, and the Portfolio.

The record classes (:class:`Trust`, :class:`IncomeLine`, :class:`CostLine`,
:class:`Scheme`, :class:`ControlTotal`, :class:`Funding`, :class:`Financing`,
:class:`Drivers`, :class:`Profile`, :class:`OutturnLine`) mirror the schema's tables field for field:
``tests/test_records.py`` checks their fields, order, defaults and optional-ness against
``cipmodel/data/schema.toml``, and their parameter docs are generated from it. Each record
coerces and checks its values on creation with the one schema-driven checker
(:func:`check_record`) and raises :class:`~cipmodel.errors.ValidationError` naming the
field, the rule and the bad value. A record takes raw values (``"2.5%"``, ``"Y"``, a blank)
and holds typed ones.

The classes are defined in :mod:`cipmodel.inputs.record_types` and
:mod:`cipmodel.inputs.portfolio`; this module is where they are imported from.

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

from cipmodel.inputs.portfolio import (
    CT_TOLERANCE,
    Portfolio,
    Rows,
    check_portfolio,
    definition_notes,
)
from cipmodel.inputs.record_types import (
    RECORD_CLASSES,
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
    RecordBuilder,
    Scheme,
    Source,
    Trust,
    check_record,
)

__all__ = [
    "CT_TOLERANCE",
    "RECORD_CLASSES",
    "TABLE_NAMES",
    "TABLE_OF",
    "ControlTotal",
    "CostLine",
    "Drivers",
    "Financing",
    "Funding",
    "IncomeLine",
    "OutturnLine",
    "Portfolio",
    "Profile",
    "Record",
    "Rows",
    "Scheme",
    "Source",
    "RecordBuilder",
    "Trust",
    "check_portfolio",
    "check_record",
    "definition_notes",
]
