"""Exceptions raised by cipmodel.

::

    CipModelError                      base of everything cipmodel raises on purpose
    ├── ValidationError (ValueError)   bad input data; carries every Problem found
    ├── WorkbookError (ValueError)     a file that cannot be read as a plan workbook at all
    │   └── InPlaceRefused             writing results into a workbook would lose something
    ├── RulePackError (ValueError)     a rule pack that is missing a key or inconsistent
    ├── SimulationError (ValueError)   bad simulation settings or priors
    └── SolveError (RuntimeError)      the solver could not bracket or converge

    SamplingWarning (UserWarning)      a sampling design used outside its sweet spot

    Note (str)                         a note or warning on the input, with its place

:func:`readable` shows user text safely in a message (invisible, control and
bidirectional characters by name).

The CLI turns each of these into a message on stderr and exit code 2; no traceback
reaches a user.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal


class CipModelError(Exception):
    """Base class for errors cipmodel raises on purpose."""


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the input, and where it is.

    Parameters
    ----------
    place : str
        Where the problem is, as a user would look for it: ``"CIP!F14"`` for a workbook
        cell, ``"cip[3].value_fye"`` for an object built in Python, ``"scenario.toml:
        drivers.pay_award"`` for a scenario file.
    message : str
        What is wrong: the field, the rule and the bad value.
    """

    place: str
    message: str

    def __str__(self) -> str:
        # user text in a message (a header, a value) is shown with its invisible and
        # control characters by name: a message never carries terminal escapes
        message = "\n".join(readable(line, limit=2000) for line in self.message.split("\n"))
        return f"{readable(self.place)}: {message}" if self.place else message


class ValidationError(CipModelError, ValueError):
    """Input data broke one or more rules; ``problems`` lists every one found."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...], source: str = "") -> None:
        self.problems = tuple(problems)
        self.source = source
        head = f"{source}: " if source else ""
        n = len(self.problems)
        lines = [f"{head}{n} problem{'s' if n != 1 else ''} found"]
        lines += [f"  {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class WorkbookError(CipModelError, ValueError):
    """The file is not a plan workbook cipmodel can read (wrong format, corrupt, refused)."""


class InPlaceRefused(WorkbookError):
    """Writing into the workbook would lose something; ``losses`` lists what."""

    def __init__(self, name: str, losses: Sequence[str]) -> None:
        self.losses = list(losses)
        items = "\n".join(f"  - {x}" for x in self.losses)
        super().__init__(
            f"{name} was not changed: cipmodel (through openpyxl) cannot write into it "
            f"without losing:\n{items}\nWrite the results to a new file instead "
            "(cipmodel run PLAN -o RESULTS.xlsx)."
        )


class RulePackError(CipModelError, ValueError):
    """A rule pack is missing a value, has values out of order, or names an unknown rule."""


class SimulationError(CipModelError, ValueError):
    """Bad simulation settings or priors (the CLI reports it with exit code 2)."""


class SamplingWarning(UserWarning):
    """A sampling design is used outside its sweet spot (e.g. Sobol' with n not 2**k)."""


class SolveError(CipModelError, RuntimeError):
    """The solver could not find a solution (no bracket, or no convergence)."""


#: Characters a message names instead of printing: they are invisible, look like a plain
#: space, or change how a terminal shows the text around them.
_CHAR_NAMES = {
    "\u00a0": "no-break space",
    "\u202f": "narrow no-break space",
    "\u2009": "thin space",
    "\u2007": "figure space",
    "\u200a": "hair space",
    "\u2002": "en space",
    "\u2003": "em space",
    "\u3000": "ideographic space",
    "\u200b": "zero-width space",
    "\u200c": "zero-width non-joiner",
    "\u200d": "zero-width joiner",
    "\u2060": "word joiner",
    "\ufeff": "zero-width no-break space",
    "\u00ad": "soft hyphen",
    "\t": "tab",
    "\n": "line break",
    "\r": "carriage return",
}


def special_char(ch: str) -> bool:
    """Whether ``ch`` is invisible, a space other than the plain one, or a control or
    bidirectional formatting character (Unicode categories Cc, Cf, Zs, Zl, Zp, and the
    surrogates Cs, which no terminal can print)."""
    if ch == " ":
        return False
    return unicodedata.category(ch) in {"Cc", "Cf", "Zs", "Zl", "Zp", "Cs"}


def char_name(ch: str) -> str:
    """``'\u00a0'`` -> ``'<no-break space>'``; a character without a short name by its
    Unicode name (``<right-to-left override>``) or code point (``<U+001B>``)."""
    name = _CHAR_NAMES.get(ch)
    if name is None:
        uname = unicodedata.name(ch, "")
        name = uname.lower() if uname else f"U+{ord(ch):04X}"
    return f"<{name}>"


def readable(text: str, limit: int = 200) -> str:
    """``text`` safe to print in a message: every special character (:func:`special_char`)
    shown by name, so ``'4\u00a0000'`` reads ``4<no-break space>000`` and a
    right-to-left override cannot reorder the terminal line; cut to ``limit`` characters."""
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    if text.isprintable() and not any(special_char(c) for c in text):
        return text
    return "".join(char_name(c) if special_char(c) else c for c in text)


class Note(str):
    """A note or a warning on the input: the sentence (the string itself), its place and
    its level.

    A note is a plain ``str`` (the sentence), so code that joins or compares notes keeps
    working; ``place`` (``"CIP!F3"``, ``"CIP!row 12"``, ``"Notes"`` for a sheet) and
    ``level`` say more. ``level`` is ``"note"`` (something ignored or assumed: an extra
    column, a total row) or ``"warning"`` (a value that looks like a slip: pounds typed
    where £000 is read); ``--strict`` refuses a plan with warnings.
    """

    place: str
    level: Literal["note", "warning"]

    def __new__(
        cls, message: str, place: str = "", level: Literal["note", "warning"] = "note"
    ) -> Note:
        self = super().__new__(cls, message)
        self.place = place
        self.level = level
        return self

    @property
    def message(self) -> str:
        """The sentence."""
        return str.__str__(self)

    def line(self) -> str:
        """One line for the terminal: ``place: message``, special characters by name."""
        text = readable(self.message, limit=1000)
        return f"{readable(self.place)}: {text}" if self.place else text

    def to_dict(self) -> dict[str, str]:
        """``{"place", "message", "level"}``, as ``--json`` lists it under ``warnings``."""
        return {"place": self.place, "message": self.message, "level": self.level}

    def __reduce__(self) -> tuple[object, ...]:
        return (Note, (self.message, self.place, self.level))
