"""Domain objects: coercion, every validation rule, and the cross-record checks."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from cipmodel.errors import ValidationError
from cipmodel.examples import example_portfolio
from cipmodel.inputs.records import (
    ControlTotal,
    Drivers,
    Funding,
    Portfolio,
    Profile,
    Scheme,
    Source,
    Trust,
)
from cipmodel.inputs.schema import load_schema

SCHEME = {"trust_code": "RSM", "scheme_id": "S9", "name": "n", "category": "pay", "value_fye": 1.0}


def _problems(exc: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    return [str(p) for p in exc.value.problems]


def test_records_are_frozen() -> None:
    """A record cannot be changed after creation."""
    t = Trust(trust_code="RXX", name="n", trust_type="acute")
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.name = "other"  # type: ignore[misc]


def test_user_spellings_are_coerced() -> None:
    """Enum spellings, Y/N, thousands separators and percent strings are understood."""
    s = Scheme(
        trust_code=" RXX ",
        scheme_id=7,
        name="x",
        category="Non-Pay",
        value_fye="1,250.5",
        recurrent="n",
        stage="QIA approved",
        rag="Green",
    )
    assert (s.trust_code, s.scheme_id, s.category) == ("RXX", "7", "non_pay")
    assert (s.value_fye, s.recurrent, s.stage, s.rag) == (1250.5, False, "qia_approved", "green")
    d = Drivers(trust_code="RXX", year=1, pay_award="2.5%")
    assert d.pay_award == pytest.approx(0.025)


def test_defaults_fill_blanks() -> None:
    """Blank optional fields take the schema default."""
    s = Scheme(**SCHEME, start_month=None, recurrent="")
    assert (s.start_month, s.recurrent, s.ramp_months, s.stage) == (1, True, 0, "plan")


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("value_fye", "abc", "value_fye must be a number >= 0, got 'abc'"),
        ("value_fye", -5, "value_fye must be a number >= 0, got -5"),
        ("value_fye", float("nan"), "value_fye must be a number >= 0"),
        ("value_fye", float("inf"), "value_fye must be a number >= 0"),
        ("value_fye", True, "value_fye must be a number >= 0, got True"),
        ("value_fye", dt.date(2017, 4, 1), "got a date/time"),
        ("start_month", 13, "start_month must be a whole number from 1 to 12, got 13"),
        ("start_month", 2.5, "start_month must be a whole number from 1 to 12, got 2.5"),
        ("ramp_months", -1, "ramp_months must be a whole number from 0 to 12"),
        ("category", "capital", "category must be one of pay, non_pay, income, got 'capital'"),
        ("category", 3, "category must be one of pay, non_pay, income, got 3"),
        ("recurrent", "maybe", "recurrent must be Y or N, got 'maybe'"),
        ("stage", "done", "stage must be one of unidentified, idea, plan"),
        ("name", "x" * 201, "name must be text of at most 200 characters"),
        ("name", "bad\x00name", "name must not contain control or text-direction characters"),
    ],
)
def test_every_field_rule(field: str, value: object, fragment: str) -> None:
    """Each bad value is rejected with the field, the rule and the bad value."""
    with pytest.raises(ValidationError) as exc:
        Scheme(**{**SCHEME, field: value})
    assert any(fragment in p for p in _problems(exc)), _problems(exc)


def test_required_field_missing() -> None:
    """A required field left blank is named as required."""
    with pytest.raises(ValidationError, match="value_fye is required"):
        Scheme(trust_code="RSM", scheme_id="S", name="n", category="pay")


def test_percent_field_hints_at_fraction() -> None:
    """A rate typed as a whole percentage gets a hint to enter a fraction."""
    with pytest.raises(ValidationError, match=r"enter 3% or 0\.03"):
        Drivers(trust_code="RXX", year=1, pay_award=3)


def test_financial_year_pattern() -> None:
    """financial_year must look like 2017/18."""
    with pytest.raises(ValidationError, match="financial_year must be text"):
        Trust(trust_code="RXX", name="n", trust_type="acute", financial_year="2017")


def test_all_field_problems_reported_together() -> None:
    """Every bad field of a record is reported, not just the first."""
    with pytest.raises(ValidationError) as exc:
        Scheme(**{**SCHEME, "value_fye": -1, "start_month": 0, "category": "x"})
    assert len(exc.value.problems) == 3


def test_repeated_field_length() -> None:
    """A repeated field needs exactly its number of values."""
    with pytest.raises(ValidationError, match="month must be 12 values"):
        ControlTotal(trust_code="RXX", target_pre_stf=0, month=(1, 2, 3))


def _small(**changes: object) -> Portfolio:
    return example_portfolio("small").replace(**changes)


def test_cross_checks_unknown_trust_and_duplicates() -> None:
    """Unknown trust codes and duplicate scheme ids are reported with their places."""
    p = example_portfolio("small")
    dup = dataclasses.replace(p.cip[0], source=Source("CIP", 9, {"scheme_id": "B"}))
    stranger = Scheme(**{**SCHEME, "trust_code": "ZZZ"})
    with pytest.raises(ValidationError) as exc:
        p.replace(cip=(*p.cip, dup, stranger))
    text = "\n".join(_problems(exc))
    assert "CIP!B9: duplicate row: trust_code='RSM', scheme_id='S1'" in text
    assert "cip[ZZZ/S9].trust_code: trust_code 'ZZZ' is not on the Trusts sheet" in text


def test_cross_checks_control_total_rules() -> None:
    """Year-1 control total required; monthly plan all-or-none and summing to the target."""
    with pytest.raises(ValidationError, match="has no control total for year 1"):
        _small(control_total=())
    part = (10.0,) + (None,) * 11
    with pytest.raises(ValidationError, match="all twelve months filled"):
        _small(control_total=(ControlTotal(trust_code="RSM", target_pre_stf=120, month=part),))
    with pytest.raises(ValidationError, match="sums to 144.0 but target_pre_stf is 120.0"):
        _small(
            control_total=(ControlTotal(trust_code="RSM", target_pre_stf=120, month=(12,) * 12),)
        )
    ok = _small(
        control_total=(ControlTotal(trust_code="RSM", target_pre_stf=120, month=(10,) * 12),)
    )
    assert ok.control_total[0].month == (10.0,) * 12


def test_cross_checks_beyond_horizon() -> None:
    """Years beyond a trust's horizon are refused for CTs, drivers and schemes."""
    with pytest.raises(ValidationError) as exc:
        _small(
            control_total=(
                ControlTotal(trust_code="RSM", target_pre_stf=1),
                ControlTotal(trust_code="RSM", year=2, target_pre_stf=1),
            ),
            drivers=(Drivers(trust_code="RSM", year=3),),
            cip=(Scheme(**SCHEME, start_year=2),),
        )
    text = "\n".join(_problems(exc))
    assert text.count("beyond the trust's horizon_years (1)") == 3


def test_cross_checks_profiles_and_target_line() -> None:
    """Profiles must exist and not be all zero; target_line must match the category."""
    p = example_portfolio("small")
    inc = dataclasses.replace(p.income[0], profile="seasonal", source=None)
    zero = Profile(trust_code="RSM", profile="z", weight=(0,) * 12)
    wrong = Scheme(**{**SCHEME, "target_line": "drugs"})
    with pytest.raises(ValidationError) as exc:
        p.replace(income=(inc,), profiles=(zero,), cip=(wrong,))
    text = "\n".join(_problems(exc))
    assert "profile 'seasonal' is not on the Profiles sheet" in text
    assert "weights must not all be 0" in text
    assert "target_line 'drugs' does not match category 'pay'" in text


def test_cross_checks_funding_needs_trajectory() -> None:
    """ae_applies without the trajectory and forecast is refused."""
    with pytest.raises(ValidationError, match="ae_trajectory_q1..q4"):
        _small(funding=(Funding(trust_code="RSM", allocation=10, ae_applies=True),))


def test_empty_portfolio() -> None:
    """A plan with no trusts is refused."""
    with pytest.raises(ValidationError, match="no trusts"):
        Portfolio(trusts=())


def test_unknown_field_in_mapping() -> None:
    """A mapping with a field the schema does not know is refused."""
    with pytest.raises(ValidationError, match="unknown field"):
        Portfolio(trusts=({"trust_code": "A", "name": "n", "trust_type": "acute", "colour": 1},))


def test_frame_has_every_schema_column() -> None:
    """Portfolio.frame gives one column per workbook column, in schema order."""
    p = example_portfolio("acute-11pc")
    for table in load_schema().tables:
        df = p.frame(table.name)
        assert list(df.columns) == [f.name for f in table.fields]
        assert len(df) == len(getattr(p, table.name))
