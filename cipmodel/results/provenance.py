"""What a result was made from: package and schema version, the input's content hash, rules.

:func:`provenance` is the ``provenance`` object of every JSON contract and the Provenance sheet
of the results workbook; :func:`input_hash` identifies a plan by its content alone.
"""

from __future__ import annotations

import hashlib
from typing import TypedDict, cast

from cipmodel.inputs.records import TABLE_NAMES, Portfolio
from cipmodel.inputs.schema import load_schema
from cipmodel.version import __version__

__all__ = ["Provenance", "input_hash", "provenance"]


class Provenance(TypedDict, total=False):
    """A provenance record: the keys every plan run has, typed.

    Callers add keys of their own (``scenario``, a simulation's ``seed`` and ``draws``, ...);
    every value is JSON-ready.
    """

    package: str
    version: str
    schema_version: str
    input: str
    input_hash: str
    trusts: int
    rules: list[str]
    unverified: list[str]
    scenario: str


#: Tables and fields added to the schema after plans were first hashed: they enter the hash
#: only when used (a table with rows, a field not at its default), so a plan that does not
#: use them keeps the hash it always had.
_LATER_TABLES = frozenset({"outturn"})
_LATER_FIELDS: dict[str, tuple[tuple[str, object], ...]] = {
    "income": (("recurrent", True),),
    "costs": (("recurrent", True),),
}


def _hash_text(table: str, rec: object) -> str:
    text = repr(rec)
    for name, default in _LATER_FIELDS.get(table, ()):
        if getattr(rec, name) == default:
            text = text.replace(f", {name}={default!r}", "", 1)
    return text


def input_hash(portfolio: Portfolio) -> str:
    """SHA-256 of the portfolio's content (every table, every field), as ``sha256:...``.

    Each record's ``repr`` lists every field in schema order (floats in their shortest
    round-trip form) and leaves out where it was read from, so the same plan gives the
    same hash whether it came from a workbook, a scenario or Python. Tables and fields
    added later (the Outturn table, the recurrent flag of Income and Costs rows) count only
    when used, so a plan that does not use them keeps its hash.
    """
    h = hashlib.sha256()
    for table in TABLE_NAMES:
        records = getattr(portfolio, table)
        if table in _LATER_TABLES and not records:
            continue
        h.update(f"\n[{table}]".encode())
        for rec in records:
            h.update(_hash_text(table, rec).encode("utf-8"))
            h.update(b"\n")
    return "sha256:" + h.hexdigest()


def provenance(portfolio: Portfolio, **extra: object) -> Provenance:
    """What a result was made from: package and schema version, input hash, and ``extra``."""
    out: dict[str, object] = {
        "package": "cipmodel",
        "version": __version__,
        "schema_version": load_schema().version,
        "input": portfolio.name,
        "input_hash": input_hash(portfolio),
        "trusts": len(portfolio.trusts),
    }
    out.update(extra)
    return cast(Provenance, out)  # the typed keys hold what run_plan and the CLI pass
