"""Reading and writing plan workbooks (``.xlsx``).

* :func:`read_plan` / :func:`read_plan_with_notes` (:mod:`~cipmodel.io.reader`): a plan
  workbook -> a :class:`~cipmodel.inputs.records.Portfolio` (every problem reported with its
  cell), over the hardened low-level reader (:mod:`~cipmodel.io.xlsx`,
  :mod:`~cipmodel.io.xlsx_sheets`).
* :func:`write_template` (:mod:`~cipmodel.io.template`): a blank template, or a plan workbook
  holding a Portfolio.
* :func:`write_results_workbook` (:mod:`~cipmodel.io.results_workbook`): the board-ready
  results workbook (Summary, Monthly, STF by quarter, Metrics, Schemes, Lines, native
  charts, live formulas, provenance) plus the plan's input sheets, so it reads back as the
  same plan.
* :func:`write_in_place` / :func:`in_place_losses` (:mod:`~cipmodel.io.in_place`): add the
  result sheets to the plan workbook itself, with a backup, only when nothing in it would be
  lost; :class:`~cipmodel.errors.InPlaceRefused` otherwise.
* :func:`write_results` (:mod:`~cipmodel.io.template`): the plain variant (input sheets, one
  sheet per DataFrame, provenance).
* :func:`workbooks_equal` (:mod:`~cipmodel.io.diff`): content differences between two
  workbooks (for checking committed templates).
* :func:`atomic_write` (:mod:`~cipmodel.io.atomic`): the all-or-nothing file write every
  writer uses.
* :mod:`~cipmodel.io.plan`: :func:`~cipmodel.io.plan.load_plan`, a plan workbook or a scenario
  file (also from the top-level ``cipmodel`` package).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cipmodel.lazy import lazy_exports

if TYPE_CHECKING:
    from cipmodel.errors import InPlaceRefused
    from cipmodel.io.atomic import atomic_write
    from cipmodel.io.diff import workbooks_equal
    from cipmodel.io.in_place import in_place_losses, write_in_place
    from cipmodel.io.reader import read_plan, read_plan_with_notes
    from cipmodel.io.results_workbook import write_results_workbook
    from cipmodel.io.template import write_results, write_template

#: Public name -> the module that defines it; imported on first use.
_EXPORTS: dict[str, str] = {
    "InPlaceRefused": "cipmodel.errors",
    "atomic_write": "cipmodel.io.atomic",
    "in_place_losses": "cipmodel.io.in_place",
    "read_plan": "cipmodel.io.reader",
    "read_plan_with_notes": "cipmodel.io.reader",
    "workbooks_equal": "cipmodel.io.diff",
    "write_in_place": "cipmodel.io.in_place",
    "write_results": "cipmodel.io.template",
    "write_results_workbook": "cipmodel.io.results_workbook",
    "write_template": "cipmodel.io.template",
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
