"""Reading and writing plan workbooks (``.xlsx``).

* :func:`read_plan` / :func:`read_plan_with_notes`: a plan workbook -> a
  :class:`~cipmodel.model.Portfolio` (every problem reported with its cell).
* :func:`write_template`: a blank template, or a plan workbook holding a Portfolio.
* :func:`write_results`: the plan's input sheets plus result sheets and provenance; it
  reads back as the same plan.
* :func:`workbooks_equal`: content differences between two workbooks (for checking
  committed templates).
* :func:`atomic_write`: the all-or-nothing file write every writer uses.
"""

from cipmodel.io.safe import atomic_write
from cipmodel.io.workbook import (
    read_plan,
    read_plan_with_notes,
    workbooks_equal,
    write_results,
    write_template,
)

__all__ = [
    "atomic_write",
    "read_plan",
    "read_plan_with_notes",
    "workbooks_equal",
    "write_results",
    "write_template",
]
