"""Numbers as finance people type them, read from text cells.

:func:`parse_number_text` reads what a money, percentage or count cell holds when it is
text rather than a number (typed with a leading apostrophe, pasted from a report, saved by
LibreOffice from a text-formatted column):

* thousands separators: commas (``350,000``) and the spaces Excel and LibreOffice use in
  other locales (plain, no-break U+00A0, narrow no-break U+202F, thin U+2009, figure
  U+2007), only in groups of three, so ``1,5`` is never read as fifteen;
* a pound sign before or inside a sign or bracket: ``£18,000``, ``-£2,000``, ``£-2,000``;
* negatives in brackets, the accounting format cipmodel itself prints: ``(4,000)``,
  ``£(2,000)``, ``(£2,000)``; the minus sign U+2212;
* a dash alone (``-``, ``–``, ``—``) in a money cell: the accounting format's zero;
* a trailing ``%`` (``89%``), not in a money cell.

Anything else is refused with a hint rather than guessed at.
"""

from __future__ import annotations

import re

__all__ = ["DASHES", "NOT_APPLICABLE", "SPACES", "parse_number_text"]

#: Spaces read as thousands separators or padding (plain, no-break, narrow no-break,
#: thin, figure, hair, punctuation space).
SPACES = " \u00a0\u202f\u2009\u2007\u200a\u2008"
#: A dash alone in a money cell is the accounting format's zero.
DASHES = frozenset({"-", "\u2013", "\u2014", "\u2012", "\u2212"})
#: Words typed for "nothing here": refused in a number or category cell, with a hint saying
#: what a blank cell means there.
NOT_APPLICABLE = frozenset(
    {
        "n/a",
        "na",
        "n.a.",
        "n.a",
        "#n/a",
        "none",
        "nil",
        "null",
        "tbc",
        "tba",
        "tbd",
        "not applicable",
    }
)
_MAX_LENGTH = 80  # no number typed by hand is longer; refused before any pattern is tried
_PLAIN = re.compile(r"(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_COMMAS = re.compile(r"\d{1,3}(,\d{3})+(\.\d*)?")
_SPACED = re.compile(r"\d{1,3}( \d{3})+(\.\d*)?")
_DECIMAL_COMMA = re.compile(r"\d+,\d{1,2}|\d{1,3}(\.\d{3})+,\d+")
_SCALED = re.compile(r"(\d+(\.\d*)?|\.\d+)\s*(k|m|bn|mn|million|billion)", re.IGNORECASE)
# what may stand before the digits, spaces removed: a sign, a pound sign, a bracket
_HEADS = {
    "": 1, "+": 1, "-": -1, "£": 1, "+£": 1, "-£": -1, "£-": -1, "£+": 1,
    "(": -1, "(£": -1, "£(": -1,
}  # fmt: skip


def parse_number_text(text: str, *, money: bool = False) -> tuple[float | None, str]:
    """A number typed as text: ``(value, "")``, or ``(None, hint)`` if it is not one.

    ``hint`` (possibly empty) says what was likely meant, as a bracketed phrase to append
    to a message: ``" (a comma is read as a thousands separator; for a decimal type a
    point, e.g. 1.5)"``. ``money`` allows a dash alone (zero) and refuses a percentage.

    Examples
    --------
    >>> parse_number_text("(4,000)")
    (-4000.0, '')
    >>> parse_number_text("£(2\\u00a0000)", money=True)
    (-2000.0, '')
    >>> parse_number_text("–", money=True)
    (0.0, '')
    >>> parse_number_text("89%")
    (0.89, '')
    """
    t = text.strip()
    if len(t) > _MAX_LENGTH:
        return None, ""
    for ch in SPACES[1:]:
        t = t.replace(ch, " ")
    t = t.replace("\u2212", "-")
    if t in DASHES:
        if money:
            return 0.0, ""
        return None, " (a dash alone reads as zero only in a £000 column: type 0)"
    scale = 1.0
    if t.endswith("%"):
        if money:
            return None, " (a percentage in a £000 column: type the amount in £000)"
        t, scale = t[:-1].rstrip(), 0.01
    sign, body = _split_sign(t)
    if sign == 0:
        return None, ""
    if _PLAIN.fullmatch(body):
        return sign * float(body) * scale, ""
    if _COMMAS.fullmatch(body):
        return sign * float(body.replace(",", "")) * scale, ""
    if _SPACED.fullmatch(body):
        return sign * float(body.replace(" ", "")) * scale, ""
    return None, _hint(body, money)


def _split_sign(t: str) -> tuple[int, str]:
    """The sign the characters before the digits give (0: not a number) and the digits."""
    i = 0
    while i < len(t) and t[i] in "+-£( ":
        i += 1
    head, rest = t[:i].replace(" ", ""), t[i:]
    sign = _HEADS.get(head, 0)
    if "(" in head:
        if not rest.endswith(")"):
            return 0, rest
        rest = rest[:-1].rstrip()
    elif rest.endswith(")"):
        return 0, rest
    return sign, rest


def _hint(body: str, money: bool) -> str:
    """A hint for digits that are not a number cipmodel reads."""
    if _DECIMAL_COMMA.fullmatch(body):
        return " (a comma is read as a thousands separator; for a decimal type a point, e.g. 1.5)"
    if money and _SCALED.fullmatch(body):
        return " (amounts are read in £000: type £2.5m as 2,500)"
    if re.fullmatch(r"[\d,. ]+", body):
        return " (thousands separators go in groups of three, e.g. 1,250,000)"
    return ""
