"""Load a plan from a file: a plan workbook, or a scenario file naming a workbook or example.

This is where the input layer's scenario parsing (:mod:`cipmodel.inputs.scenario`), the
hardened workbook reader (:mod:`cipmodel.io.reader`) and the engine's one measure a scenario
needs (year-1 CIP against do-nothing operating expenditure, for ``cip.delivered_pct``) meet.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, cast

from cipmodel.engine.project import year_one_cip_and_opex
from cipmodel.errors import Note, ValidationError
from cipmodel.examples import EXAMPLES, example_portfolio
from cipmodel.inputs import scenario as scenario_file
from cipmodel.inputs.plausibility import check_plausibility
from cipmodel.inputs.records import Portfolio
from cipmodel.io.reader import read_plan_with_notes

__all__ = ["apply_scenario", "load_plan", "load_plan_with_notes", "load_scenario"]


def apply_scenario(
    portfolio: Portfolio, raw: dict[str, Any], *, file: str = "scenario"
) -> Portfolio:
    """Apply a parsed scenario's ``drivers``, ``cip`` and ``control_total`` changes.

    The notebook-friendly form of :func:`cipmodel.inputs.scenario.apply_scenario`, with the
    engine's year-1 CIP and operating expenditure supplied for ``cip.delivered_pct``.
    """
    return scenario_file.apply_scenario(portfolio, raw, file=file, cip_and_opex=_cip_and_opex)


def _cip_and_opex(portfolio: Portfolio) -> tuple[Sequence[str], Sequence[float], Sequence[float]]:
    """The engine's year-1 CIP and opex, as the input layer's ``CipAndOpex`` types them
    (the arrays are passed through unchanged: the scenario code indexes them per trust)."""
    codes, planned, opex = year_one_cip_and_opex(portfolio)
    return codes, cast("Sequence[float]", planned), cast("Sequence[float]", opex)


def load_plan(
    path: str | Path, *, allow_extra_columns: Iterable[str] = ()
) -> tuple[Portfolio, dict[str, Any]]:
    """Read a plan workbook (``.xlsx``/``.xlsm``) or a scenario (``.toml``).

    Returns
    -------
    (Portfolio, dict)
        The portfolio and provenance entries (``input``, and ``scenario`` for a scenario).

    Raises
    ------
    ValidationError, WorkbookError
        With every problem and its place.
    """
    portfolio, prov, _notes = load_plan_with_notes(path, allow_extra_columns=allow_extra_columns)
    return portfolio, prov


def load_plan_with_notes(
    path: str | Path, *, allow_extra_columns: Iterable[str] = ()
) -> tuple[Portfolio, dict[str, Any], list[Note]]:
    """:func:`load_plan`, plus the reader's notes and the plausibility warnings.

    The notes (:class:`~cipmodel.errors.Note`) say what the reader ignored or assumed
    (extra columns and sheets, a total row, a trust code read in another case); the
    warnings (level ``"warning"``) are values that look like a slip
    (:func:`~cipmodel.inputs.plausibility.check_plausibility`), checked on the plan after
    any scenario changes. ``allow_extra_columns`` is passed to the workbook reader.
    """
    p = Path(path)
    if p.suffix.lower() == ".toml":
        portfolio, prov, notes = _scenario(p, tuple(allow_extra_columns))
    else:
        portfolio, notes = read_plan_with_notes(p, allow_extra_columns=allow_extra_columns)
        prov = {"input": p.name}
    return portfolio, prov, [*notes, *check_plausibility(portfolio)]


def load_scenario(path: str | Path) -> tuple[Portfolio, dict[str, Any]]:
    """Read a scenario file, load the plan it names and apply its changes."""
    portfolio, prov, _notes = _scenario(Path(path), ())
    return portfolio, prov


def _scenario(path: Path, allow: tuple[str, ...]) -> tuple[Portfolio, dict[str, Any], list[Note]]:
    """A scenario's portfolio, provenance entries and the notes on its plan workbook."""
    notes: list[Note] = []
    sf = scenario_file.read_scenario_file(path)
    if sf.example is not None:
        if not isinstance(sf.example, str) or sf.example not in EXAMPLES:
            place = scenario_file.scenario_problem
            known = ", ".join(EXAMPLES)
            got = scenario_file.short_repr(sf.example)
            raise ValidationError(
                [place(sf.file, "scenario.example", f"unknown example {got} (known: {known})")]
            )
        base = example_portfolio(sf.example)
        source = f"example:{sf.example}"
    else:
        assert sf.plan is not None and sf.plan_text is not None  # one of the two, checked
        base, notes = read_plan_with_notes(sf.plan, allow_extra_columns=allow)
        source = sf.plan_text
    portfolio = apply_scenario(base, sf.raw, file=sf.file)
    portfolio = dataclasses.replace(portfolio, name=f"{base.name} [{sf.name}]")
    prov = {"input": source, "scenario": sf.name, "scenario_file": sf.file}
    return portfolio, prov, notes
