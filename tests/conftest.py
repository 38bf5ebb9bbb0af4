"""Shared fixtures and the LibreOffice marker policy.

Tests marked ``libreoffice`` need ``soffice`` (LibreOffice headless). Where it is missing
they are skipped with a visible reason (a user's laptop). CI sets
``CIPMODEL_REQUIRE_SOFFICE=1`` (see ``.ci/run``), and then a missing ``soffice`` fails the
run instead of skipping, so the spreadsheet checks always run there.
"""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from cipmodel.results.run import RunResult


def soffice_path() -> str | None:
    """Path of the LibreOffice binary, or None."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if soffice_path():
        return
    if os.environ.get("CIPMODEL_REQUIRE_SOFFICE") == "1":
        return  # the tests themselves fail loudly (see the `soffice` fixture)
    skip = pytest.mark.skip(
        reason="LibreOffice (soffice) not found: install libreoffice-calc to run spreadsheet checks"
    )
    for item in items:
        if "libreoffice" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def soffice() -> str:
    """The soffice binary; fails (not skips) if CI requires it and it is missing."""
    path = soffice_path()
    if path is None:
        pytest.fail("CIPMODEL_REQUIRE_SOFFICE=1 but soffice is not installed")
    return path


@pytest.fixture(scope="module")
def example_result() -> RunResult:
    """The worked example's plan run (acute-11pc, two plan years)."""
    from cipmodel.examples import example_portfolio
    from cipmodel.results.run import run_plan

    return run_plan(example_portfolio("acute-11pc"), input="example:acute-11pc")


@pytest.fixture(scope="module")
def multi_result() -> RunResult:
    """The plan run of three trusts cloned from the example
    (``test_results_workbook.multi_portfolio``: the awkward cases)."""
    from test_results_workbook import multi_portfolio

    from cipmodel.results.run import run_plan

    return run_plan(multi_portfolio())
