"""Money as the workbook's number format shows it (``#,##0;(#,##0)``): the terminal, the PDF
report and the workbook must show the same figure for the same number."""

from __future__ import annotations

import pytest

from cipmodel.formatting import money


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (14762.5, "14,763"),  # a half rounds away from zero, as in Excel and LibreOffice
        (-14762.5, "(14,763)"),
        (14762.4, "14,762"),
        (0.5, "1"),
        (-0.5, "(1)"),
        (2.4999999999999996, "3"),  # 2.5 after float noise: 15 significant digits show 2.5
        (-3999.036667, "(3,999)"),
        (0.0, "0"),
        (-0.4, "0"),  # no "(0)"
        (float("nan"), "n/a"),
        (None, "n/a"),
    ],
)
def test_money_rounds_as_a_spreadsheet_shows(value: float | None, shown: str) -> None:
    assert money(value) == shown
