"""Header cells of an input sheet: which field a header names, and near misses.

* :func:`split_header`: ``'Value FYE (£000)'`` -> ``('value_fye', '£000')``;
* :func:`header_key`: a header with case, spaces, punctuation and unit suffix taken out,
  so ``'Start-Month'``, ``'startmonth'`` and ``'START MONTH (month)'`` all read as
  ``start_month``;
* :func:`resembles`: the fields an unknown header closely resembles (a misspelling:
  transposed, missing, extra or wrong letters), so ``'Strat month'`` is refused with "did
  you mean 'start_month'?" instead of being ignored while every scheme starts in April;
* :func:`unit_ok`: whether a header's unit suffix agrees with the field's unit;
* :func:`sheet_resembles`: a sheet that looks like a renamed input sheet (``'CIP
  schemes'``, ``'C.I.P'``).

Every function here is linear in the header's length, or refuses text longer than
:data:`MAX_COMPARED` before comparing (no header of a real workbook is that long).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from openpyxl.utils import get_column_letter

from cipmodel.errors import Note, Problem, readable
from cipmodel.inputs.schema import Field, Table
from cipmodel.io.xlsx_sheets import Cell

__all__ = [
    "MAX_COMPARED",
    "edit_distance",
    "header_key",
    "missing_column",
    "resembles",
    "sheet_resembles",
    "split_header",
    "unit_ok",
    "unknown_header",
]

#: Headers and sheet names longer than this are never compared for near misses.
MAX_COMPARED = 60

_NOT_ALNUM = re.compile(r"[\W_]+")
# Spellings accepted in a header's unit suffix, after lower-casing and removing spaces and
# apostrophes. Only money and percentages are checked: there a wrong unit misreads values
# silently by a factor of 1,000 or 100.
_UNIT_ALIASES: dict[str, frozenset[str]] = {
    "£000": frozenset({"£000", "£000s", "£k", "k", "gbp000", "gbpk", "£thousand", "£thousands"}),
    "%": frozenset({"%", "percent", "pct", "fraction", "rate"}),
}


def _unit_suffix(text: str) -> tuple[str, str | None]:
    """``'Value FYE (£000)'`` -> ``('Value FYE', '£000')``: a final bracketed part (round
    or square, with no closing bracket inside) split off; in linear time (the regular
    expression it replaces backtracked quadratically on ``'(((...'``)."""
    body = text.rstrip()
    if not body or body[-1] not in ")]":
        return text, None
    inner = body[:-1]
    after = max(inner.rfind(")"), inner.rfind("]")) + 1  # the opener comes after any closer
    starts = [i for i in (inner.find("(", after), inner.find("[", after)) if i >= 0]
    if not starts:
        return text, None
    j = min(starts)
    return text[:j].rstrip(), inner[j + 1 :]


def split_header(text: str) -> tuple[str, str | None]:
    """``'Value FYE (£000)'`` -> ``('value_fye', '£000')``; the unit is None if absent."""
    base, unit = _unit_suffix(text)
    key = re.sub(r"[\s\-]+", "_", base.strip().lower())
    return key, unit


def header_key(text: str) -> str:
    """A header's letters and digits only, case-folded, unit suffix removed:
    ``'Start-Month (month)'`` -> ``'startmonth'``."""
    base, _unit = split_header(text)
    return _NOT_ALNUM.sub("", base.casefold())


def unit_ok(field: Field, unit: str) -> bool:
    """Whether a header's unit suffix agrees with the field's unit (money and % only)."""
    aliases = _UNIT_ALIASES.get(field.unit)
    key = re.sub(r"[\s'’]", "", unit.lower())
    return aliases is None or not key or key in aliases


def edit_distance(a: str, b: str, cap: int) -> int:
    """The optimal-string-alignment distance between ``a`` and ``b`` (insertions,
    deletions, substitutions and swaps of neighbours), or ``cap + 1`` if it is over ``cap``.
    """
    if abs(len(a) - len(b)) > cap:
        return cap + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > cap:
            return cap + 1
        prev2, prev = prev, cur
    return prev[-1]


def _allowed_edits(key: str) -> int:
    """How many edits still count as a misspelling of a name with this key: one for short
    names (``rag``, ``year``, ``stage``), two from eight letters (``startmonth``)."""
    if len(key) < 3:
        return 0
    return 1 if len(key) < 8 else 2


def resembles(text: str, fields: Mapping[str, Field]) -> list[str]:
    """The field names an unknown header is a likely misspelling of, closest first
    (empty if none is close, or the header is too long to be one)."""
    key = header_key(text)
    if not key or len(key) > MAX_COMPARED:
        return []
    found: list[tuple[int, str]] = []
    for name in fields:
        target = _NOT_ALNUM.sub("", name)
        cap = _allowed_edits(target)
        d = edit_distance(key, target, cap)
        if 0 < d <= cap:
            found.append((d, name))
    best = min((d for d, _ in found), default=0)
    return [name for d, name in sorted(found) if d == best]


def sheet_resembles(sheet: str, titles: Iterable[str]) -> list[str]:
    """The sheet titles that look like ``sheet`` renamed: the same letters with other
    punctuation (``'C.I.P'``), the name as a word (``'CIP schemes'``, ``'STF Funding'``), or a
    misspelling (``'ControlTotl'``)."""
    want = _NOT_ALNUM.sub("", sheet.casefold())
    out = []
    for title in titles:
        if len(title) > MAX_COMPARED:
            continue
        key = _NOT_ALNUM.sub("", title.casefold())
        words = [w for w in _NOT_ALNUM.split(title.casefold()) if w]
        if not key:
            continue
        cap = _allowed_edits(want)
        if (
            key == want
            or want in words
            or key.startswith(want)
            or edit_distance(key, want, cap) <= cap
        ):
            out.append(title)
    return out


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def unknown_header(
    text: str, place: str, absent: Mapping[str, Field], table: Table, allow: frozenset[str]
) -> tuple[Note | None, Problem | None]:
    """A header naming no field of ``table``: a note (an extra column, ignored), or a
    problem if it looks like a misspelling of a field the sheet lacks (``absent``) and its
    :func:`header_key` is not in ``allow``."""
    shown = readable(text)
    near = resembles(text, absent)
    if not near:
        alike = resembles(text, {f.name: f for f in table.fields})
        also = (
            f" (it looks like {' or '.join(repr(n) for n in alike)}, read from its own column)"
            if alike
            else ""
        )
        return Note(
            f"column '{shown}' on {table.sheet} ignored: not a {table.sheet} column{also}", place
        ), None
    meant = " or ".join(f"'{n}'" for n in near)
    if header_key(text) in allow:
        return Note(
            f"column '{shown}' on {table.sheet} ignored as an extra column, as asked "
            f"(it looks like {meant}, which is not read from this sheet)",
            place,
        ), None
    header = absent[near[0]].header
    return None, Problem(
        place,
        f"column '{shown}' is not a {table.sheet} column: did you mean {meant}? "
        f"Rename the header '{header}', or keep it as an extra column with "
        f'--allow-extra-column "{shown}"',
    )


def missing_column(f: Field, cells: Mapping[int, Cell], r: int, title: str) -> Problem:
    """A required column not in the header row: the problem names the row's cells and the
    headers found there."""
    found = [
        (col, readable(str(c.value).strip(), limit=40))
        for col, c in sorted(cells.items())
        if c.kind == "value" and not _blank(c.value)
    ]
    span = ""
    if found:
        span = f" ({get_column_letter(found[0][0])}{r}:{get_column_letter(found[-1][0])}{r})"
    heads = ", ".join(f"'{t}'" for _c, t in found[:15]) + (", ..." if len(found) > 15 else "")
    return Problem(
        f"{title}!row {r}",
        f"column '{f.name}' is missing: add a column headed '{f.header}' "
        f"(the header row is row {r}{span}; headers found: {heads or 'none'})",
    )
