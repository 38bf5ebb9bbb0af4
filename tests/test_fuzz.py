"""Fuzzing the workbook importer, the scenario loader and the CLI (issue 6).

Every case, however broken its input, must end in a result or a located error: a
``CipModelError`` with a message from the Python API, exit code 0 or 2 with a message (no
traceback) from the CLI, and after a successful read, a run whose JSON holds no NaN or
infinity. Cases come from ``tests/fuzz`` (see ``tests/fuzz/generators.py``):

* a **fixed-seed run** of :data:`CASES` (2,000) cases (clean plans with harmless layout
  changes; plans with hostile content, sheets and headers; truncated, bit-flipped and
  re-zipped files; scenario files), split into chunks; the same cases, with their outcome
  counts, are ``python tests/fuzz/run_long.py --cases 2000 --seed 20170401``;
* **property-based** tests (hypothesis, derandomized, 700 examples): the same generators
  driven by hypothesis, so a failure shrinks to a small case; ``Field.coerce`` on any
  value; ``apply_scenario`` on any TOML-like structure.

The long run (``make fuzz-long``, 50,000 cases on every core) is
``python tests/fuzz/run_long.py``. ``CIPMODEL_FUZZ_CASES`` and ``CIPMODEL_FUZZ_EXAMPLES``
change the counts here, e.g. for a quick local check.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import random
from pathlib import Path
from typing import Any

import pytest
from fuzz.generators import make_case, make_toml_case, make_xlsx_case
from fuzz.harness import Tally, run_case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cipmodel.errors import CipModelError, ValidationError
from cipmodel.examples import example_portfolio
from cipmodel.inputs.schema import MISSING, load_schema
from cipmodel.io.plan import apply_scenario

FUZZ_SEED = 20170401
CASES = int(os.environ.get("CIPMODEL_FUZZ_CASES", "2000"))
CHUNKS = 10
EXAMPLES = int(os.environ.get("CIPMODEL_FUZZ_EXAMPLES", "100"))  # per hypothesis test
SCHEMA = load_schema()
FIELDS = [f for t in SCHEMA.tables for f in t.fields]

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # a fixed seed: the same examples on every run
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "case"


def _assert_clean(tally: Tally) -> None:
    assert not tally.failures, (
        f"{len(tally.failures)} of {tally.total} fuzz cases failed "
        f"(reproduce one with tests/fuzz/run_long.py --seed {FUZZ_SEED} --only N):\n"
        + tally.report()
    )


# -- the fixed-seed run ---------------------------------------------------------------
@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_fixed_seed_fuzz(folder: Path, chunk: int) -> None:
    """Cases chunk*N .. (chunk+1)*N-1 of the fixed-seed run end in a result or located error."""
    tally = Tally()
    size = math.ceil(CASES / CHUNKS)
    for i in range(chunk * size, min(CASES, (chunk + 1) * size)):
        case = make_case(random.Random(f"{FUZZ_SEED}:{i}"))
        tally.add(str(i), case, run_case(case, folder))
    _assert_clean(tally)
    # every kind of outcome turns up (so the generators are not stuck in one corner)
    kinds = " ".join(tally.kinds)
    for kind in ("read: ok", "ValidationError", "WorkbookError"):
        assert kind in kinds, tally.table()


# -- property-based: the same generators driven by hypothesis (shrinks on failure) -------
@FUZZ_SETTINGS
@given(st.randoms(use_true_random=False))
def test_any_workbook_reads_or_gives_a_located_error(folder: Path, r: Any) -> None:
    """A generated workbook (clean, hostile content or broken) never crashes read_plan."""
    case = make_xlsx_case(r)
    case.route = "api"
    tally = Tally()
    tally.add("hypothesis", case, run_case(case, folder))
    _assert_clean(tally)


@FUZZ_SETTINGS
@given(st.randoms(use_true_random=False))
def test_any_scenario_loads_or_gives_a_located_error(folder: Path, r: Any) -> None:
    """A generated scenario file (and the plan it names) never crashes load_plan or a run."""
    case = make_toml_case(r)
    case.route = "api"
    case.run = True
    tally = Tally()
    tally.add("hypothesis", case, run_case(case, folder))
    _assert_clean(tally)


ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.text(alphabet="0123456789.,-+eE%£ \t"),
    st.sampled_from(["Y", "n", "TRUE", "nan", "inf", "1e999", "1,000", "5%", "-0", "١٢"]),
    st.datetimes(),
    st.dates(),
    st.times(),
    st.timedeltas(),
    st.binary(max_size=8),
    st.lists(st.integers(), max_size=3),
    st.decimals(allow_nan=True),
)


@settings(max_examples=EXAMPLES * 4, derandomize=True, database=None, deadline=None)
@given(st.sampled_from(FIELDS), ANY_VALUE)
def test_field_coerce_returns_a_value_or_a_message(field: Any, value: Any) -> None:
    """Field.coerce never raises: a typed value, or MISSING and a message naming the field."""
    out, message = field.coerce(value)
    if message is not None:
        assert out is MISSING
        assert field.name in message
        return
    if value is None or (isinstance(value, str) and not value.strip()):
        assert out == field.default  # a blank gives the default (None if there is none)
        return
    if field.type == "float":
        assert isinstance(out, float) and math.isfinite(out)
    elif field.type == "int":
        assert isinstance(out, int) and not isinstance(out, bool)
    elif field.type == "bool":
        assert isinstance(out, bool)
    elif field.type == "enum":
        assert out in field.values
    else:
        assert isinstance(out, str) and not any(ord(c) < 32 and c != "\t" for c in out)
    if field.min is not None and field.type in ("int", "float"):
        assert out >= field.min
    if field.max is not None and field.type in ("int", "float"):
        assert out <= field.max


TOML_SCALAR = st.one_of(
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10),
    st.datetimes(timezones=st.none() | st.just(dt.UTC)),
    st.dates(),
)
TOML_VALUE = st.recursive(
    TOML_SCALAR,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
DRIVER_KEY = st.sampled_from(
    [
        "pay_award",
        "tariff_uplift",
        "drug_inflation",
        "activity_growth",
        "x",
        "add",
        "year1",
        "year2",
        "year9",
        "yearX",
    ]
)
SCENARIO = st.fixed_dictionaries(
    {},
    optional={
        "drivers": st.one_of(
            TOML_VALUE,
            st.dictionaries(
                DRIVER_KEY, TOML_VALUE | st.dictionaries(DRIVER_KEY, TOML_VALUE), max_size=4
            ),
        ),
        "cip": st.one_of(
            TOML_VALUE,
            st.dictionaries(
                st.sampled_from(["scale", "delivered_pct", "z"]), TOML_VALUE, max_size=2
            ),
        ),
        "control_total": st.one_of(
            TOML_VALUE, st.dictionaries(st.sampled_from(["accepted", "z"]), TOML_VALUE, max_size=2)
        ),
    },
)


@FUZZ_SETTINGS
@given(SCENARIO)
def test_apply_scenario_gives_a_plan_or_located_problems(raw: dict[str, Any]) -> None:
    """apply_scenario on any TOML-shaped structure: a valid plan or a ValidationError."""
    base = example_portfolio("small")
    try:
        out = apply_scenario(base, raw, file="s.toml")
    except ValidationError as exc:
        assert exc.problems
        assert all(p.place and p.message for p in exc.problems)
        return
    except CipModelError:  # e.g. a solve error for delivered_pct
        return
    assert all(math.isfinite(s.value_fye) and s.value_fye >= 0 for s in out.cip)
