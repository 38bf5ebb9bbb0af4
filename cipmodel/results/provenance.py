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


def input_hash(portfolio: Portfolio) -> str:
    """SHA-256 of the portfolio's content (every table, every field), as ``sha256:...``.

    Each record's ``repr`` lists every field in schema order (floats in their shortest
    round-trip form) and leaves out where it was read from, so the same plan gives the
    same hash whether it came from a workbook, a scenario or Python.
    """
    h = hashlib.sha256()
    for table in TABLE_NAMES:
        h.update(f"\n[{table}]".encode())
        for rec in getattr(portfolio, table):
            h.update(repr(rec).encode("utf-8"))
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
