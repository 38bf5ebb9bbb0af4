"""The committed templates and docs are what the code writes now (regenerate with
``make templates`` and the command in ``cipmodel.inputs.schema.schema_markdown``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cipmodel.examples import example_portfolio
from cipmodel.inputs.schema import schema_markdown
from cipmodel.io import read_plan, workbooks_equal, write_template

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("name", "example"), [("plan-template.xlsx", None), ("example-acute-11pc.xlsx", "acute-11pc")]
)
def test_committed_template_is_current(tmp_path: Path, name: str, example: str | None) -> None:
    """templates/NAME equals what `cipmodel template` writes today."""
    fresh = tmp_path / name
    write_template(fresh, example_portfolio(example) if example else None)
    assert workbooks_equal(ROOT / "templates" / name, fresh) == [], "run `make templates`"


def test_committed_example_reads_as_the_example() -> None:
    """The committed worked example imports as the bundled example plan."""
    assert read_plan(ROOT / "templates" / "example-acute-11pc.xlsx") == example_portfolio(
        "acute-11pc"
    )


def test_schema_doc_is_current() -> None:
    """docs/schema.md is generated from the schema and up to date."""
    assert (ROOT / "docs" / "schema.md").read_text(encoding="utf-8") == schema_markdown()


def test_public_api_is_sorted_and_importable() -> None:
    """cipmodel.__all__ is sorted and every name in it exists."""
    import cipmodel

    assert list(cipmodel.__all__) == sorted(cipmodel.__all__)
    for name in cipmodel.__all__:
        assert hasattr(cipmodel, name), name


def test_cli_reference_is_current() -> None:
    """docs/cli.md is generated from the commands' help and up to date."""
    from cipmodel.cli.reference import cli_reference

    assert (ROOT / "docs" / "cli.md").read_text(encoding="utf-8") == cli_reference()
