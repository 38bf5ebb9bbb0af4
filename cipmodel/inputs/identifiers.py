"""Look-alike trust codes across the tables of a plan.

A code typed ``rxx`` on the CIP sheet means trust ``RXX`` on the Trusts sheet: codes are
matched across sheets ignoring case and spaces, and a row whose code matches that way is
read with the Trusts sheet's spelling (with a note). Two rows of the Trusts sheet whose
codes differ only by case or spaces are one trust typed twice, never two trusts: that is
a problem naming both cells; so are two schemes of one trust whose ids differ only that
way (:func:`lookalike_scheme_ids`). Invisible characters (zero-width spaces, direction marks) in
a code are refused where the cell is read (:meth:`cipmodel.inputs.schema.Field.coerce`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any

from cipmodel.errors import Note, Problem, readable, special_char

__all__ = ["code_key", "lookalike_scheme_ids", "match_trust_codes"]


def _dropped(c: str) -> bool:
    """Whether :func:`code_key` leaves ``c`` out: a space or an invisible character."""
    return c.isspace() or special_char(c)


#: The ASCII characters :func:`code_key` leaves out (the controls and the space), as a
#: character class: one linear scan.
_ASCII_DROPPED = re.compile(
    "[" + "".join(re.escape(chr(i)) for i in range(128) if _dropped(chr(i))) + "]"
)


def code_key(code: str) -> str:
    """A trust code as it is compared across sheets: case-folded, without spaces or
    invisible characters (``' r xx '`` -> ``'rxx'``)."""
    if code.isascii():  # case-folding ASCII is lower-casing; both scans in C
        return _ASCII_DROPPED.sub("", code.lower())
    return "".join(c for c in code.casefold() if not _dropped(c))


def _where(record: Any) -> str:
    source = getattr(record, "source", None)
    return source.cell("trust_code") if source is not None else "Trusts"


def match_trust_codes(
    tables: Mapping[str, Sequence[Any]],
) -> tuple[dict[str, list[Any]], list[Note], list[Problem]]:
    """Every table's records with trust codes spelt as on the Trusts sheet.

    Returns the records (table by table), a note per code read with another spelling, and a
    problem per Trusts row whose code differs from an earlier one only by case or spaces.
    """
    notes: list[Note] = []
    problems: list[Problem] = []
    canon: dict[str, Any] = {}
    for t in tables.get("trusts", ()):
        first = canon.setdefault(code_key(t.trust_code), t)
        if first is not t and first.trust_code != t.trust_code:
            problems.append(
                Problem(
                    _where(t),
                    f"trust_code '{readable(t.trust_code)}' differs from "
                    f"'{readable(first.trust_code)}' ({_where(first)}) only by case or spaces: "
                    "one trust typed twice? Keep one row, or give the trusts different codes",
                )
            )
    out: dict[str, list[Any]] = {}
    for name, records in tables.items():
        rows = list(records)
        if name != "trusts":
            for i, r in enumerate(rows):
                trust = canon.get(code_key(r.trust_code))
                if trust is None or trust.trust_code == r.trust_code:
                    continue
                rows[i] = dataclasses.replace(r, trust_code=trust.trust_code)
                notes.append(
                    Note(
                        f"trust_code '{readable(r.trust_code)}' read as "
                        f"'{trust.trust_code}', as on {_where(trust)}",
                        _where(r),
                    )
                )
        out[name] = rows
    return out, notes, problems


def lookalike_scheme_ids(schemes: Sequence[Any]) -> list[Problem]:
    """A problem per scheme whose id differs from an earlier scheme's of the same trust
    only by case or spaces (``S1`` and ``s 1``): one scheme typed twice, or two schemes
    that a reader cannot tell apart. Identical ids are left to the duplicate-key check."""
    seen: dict[tuple[str, str], Any] = {}
    problems: list[Problem] = []
    for s in schemes:
        first = seen.setdefault((s.trust_code, code_key(s.scheme_id)), s)
        if first is not s and first.scheme_id != s.scheme_id:
            source = getattr(first, "source", None)
            where = source.cell("scheme_id") if source is not None else "CIP"
            mine = getattr(s, "source", None)
            problems.append(
                Problem(
                    mine.cell("scheme_id") if mine is not None else "CIP",
                    f"scheme_id '{readable(s.scheme_id)}' differs from "
                    f"'{readable(first.scheme_id)}' ({where}) only by case or spaces: give "
                    "each scheme an id of its own",
                )
            )
    return problems
