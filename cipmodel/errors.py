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

The CLI turns each of these into a message on stderr and exit code 2; no traceback
reaches a user.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


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
        return f"{self.place}: {self.message}" if self.place else self.message


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
