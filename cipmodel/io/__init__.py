"""Reading and writing plan workbooks (``.xlsx``).

* :func:`read_plan` / :func:`read_plan_with_notes`: a plan workbook -> a
  :class:`~cipmodel.inputs.records.Portfolio` (every problem reported with its cell).
* :func:`write_template`: a blank template, or a plan workbook holding a Portfolio.
* :func:`write_results_workbook`: the board-ready results workbook (Summary, Monthly, STF
  by quarter, Metrics, Schemes, Lines, native charts, live formulas, provenance) plus the
  plan's input sheets, so it reads back as the same plan.
* :func:`write_in_place` / :func:`in_place_losses`: add the result sheets to the plan
  workbook itself, with a backup, only when nothing in it would be lost.
* :func:`write_results`: the plain variant (input sheets, one sheet per DataFrame,
  provenance).
* :func:`workbooks_equal`: content differences between two workbooks (for checking
  committed templates).
* :func:`atomic_write`: the all-or-nothing file write every writer uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cipmodel.lazy import lazy_exports

if TYPE_CHECKING:
    from cipmodel.io.atomic import atomic_write
    from cipmodel.io.results_workbook import (
        InPlaceRefused,
        in_place_losses,
        write_in_place,
        write_results_workbook,
    )
    from cipmodel.io.workbook import (
        read_plan,
        read_plan_with_notes,
        workbooks_equal,
        write_results,
        write_template,
    )

#: Public name -> the module that defines it; imported on first use.
_EXPORTS: dict[str, str] = {
    "InPlaceRefused": "cipmodel.io.results_workbook",
    "atomic_write": "cipmodel.io.atomic",
    "in_place_losses": "cipmodel.io.results_workbook",
    "read_plan": "cipmodel.io.workbook",
    "read_plan_with_notes": "cipmodel.io.workbook",
    "workbooks_equal": "cipmodel.io.workbook",
    "write_in_place": "cipmodel.io.results_workbook",
    "write_results": "cipmodel.io.workbook",
    "write_results_workbook": "cipmodel.io.results_workbook",
    "write_template": "cipmodel.io.workbook",
}

__all__ = [
    "InPlaceRefused",
    "atomic_write",
    "in_place_losses",
    "read_plan",
    "read_plan_with_notes",
    "workbooks_equal",
    "write_in_place",
    "write_results",
    "write_results_workbook",
    "write_template",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
