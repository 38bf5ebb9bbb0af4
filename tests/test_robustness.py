"""Numerical robustness (issue 6): edge-case plans never put NaN or infinity in front of a user.

Zero income, zero operating expenditure, zero capital service, a zero agency ceiling, an
all-zero CIP, a deficit larger than income, income with no costs, and plans with nothing
to score at all. Through ``run_plan(...).to_dict()`` and through ``cipmodel run`` (text,
``--json`` and the results workbook): every metric has a value or is "not applicable" with
a reason; ``json.dumps(..., allow_nan=False)`` succeeds; the text report shows no
``nan``/``inf``; a plan that cannot be scored is refused with a message naming the trust.
The plans are those of ``tests/fuzz/hostile.py`` (``edge_plan``), also listed in
``docs/hostile-inputs.md``.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pytest
from click.testing import CliRunner
from fuzz.harness import strict_json
from fuzz.hostile import HOSTILE, RUN, RUN_REFUSED, edge_plan
from lo_support import recalc_profile

from cipmodel.cli import cli
from cipmodel.errors import CipModelError, ValidationError
from cipmodel.inputs.records import Trust
from cipmodel.inputs.schema import load_schema
from cipmodel.io import write_template
from cipmodel.results.run import run_plan

EDGES = [h for h in HOSTILE if h.via == "run"]
RUNS = [h for h in EDGES if h.expect == RUN]
REFUSED = [h for h in EDGES if h.expect == RUN_REFUSED]
NAN_WORD = re.compile(r"(?<![A-Za-z])(nan|inf|infinity)(?![A-Za-z])", re.IGNORECASE)
ERROR_VALUES = ("#DIV/0!", "#NUM!", "#VALUE!", "#REF!", "#NAME?", "#N/A", "Err:", "#NULL!")


def _walk(obj: Any, path: str = "") -> list[tuple[str, Any]]:
    """Every leaf of a nested dict/list with its path."""
    if isinstance(obj, dict):
        return [leaf for k, v in obj.items() for leaf in _walk(v, f"{path}.{k}")]
    if isinstance(obj, (list, tuple)):
        return [leaf for i, v in enumerate(obj) for leaf in _walk(v, f"{path}[{i}]")]
    return [(path, obj)]


@pytest.mark.parametrize("h", RUNS, ids=lambda h: h.id)
def test_run_json_has_no_nan_and_every_metric_a_value_or_a_reason(h: Any) -> None:
    """to_dict() is strict JSON; each metric is finite or not applicable with a reason."""
    d = run_plan(edge_plan(h.id)).to_dict()
    json.dumps(d, allow_nan=False)
    for path, value in _walk(d):
        assert not (isinstance(value, float) and not math.isfinite(value)), path
    for t in d["trusts"]:
        for name, m in t["metrics"].items():
            if m["value"] is None:
                assert m.get("not_applicable"), (name, m)
                assert m["score"] is None
            else:
                assert math.isfinite(m["value"]) and not m.get("not_applicable"), (name, m)
                assert m["score"] in (1, 2, 3, 4)
        assert t["score"]["overall"] in (1, 2, 3, 4)
        assert t["cip"]["needed_band"]


@pytest.mark.parametrize("h", RUNS, ids=lambda h: h.id)
def test_result_tables_hold_nan_only_where_not_applicable(h: Any) -> None:
    """The result tables (the results workbook's sheets) have no infinity, and a NaN only
    for a metric that is not applicable (with its reason) or a CIP % of no expenditure."""
    result = run_plan(edge_plan(h.id))
    for name in ("trust_summary", "monthly", "funding", "metrics", "lines", "schemes"):
        frame = getattr(result, name)()
        numbers = frame.select_dtypes("number")
        values = numbers.to_numpy(dtype=float)
        assert not np.isinf(values).any(), name
        for col in numbers.columns:
            missing = numbers[col].isna()
            if not missing.any():
                continue
            if name == "metrics":
                assert (
                    frame.loc[missing & (frame.metric != "overall"), "not_applicable"] != ""
                ).all()
                assert not (missing & (frame.metric == "overall") & (col == "value")).any()
            else:
                assert name == "trust_summary", (name, col)
                # a CIP % of no expenditure, or a year projected but not assessed (it says why)
                no_opex = (frame.opex_do_nothing <= 0) & (
                    col in ("cip_planned_pct", "cip_needed_pct")
                )
                not_assessed = (frame.not_assessed != "") & (col in _NOT_ASSESSED_COLUMNS)
                assert (no_opex | not_assessed)[missing].all(), col


# the per-year summary columns a year that is not assessed has no figure in
_NOT_ASSESSED_COLUMNS = (
    "reported_surplus",
    "variance_post_stf",
    "stf_earned",
    "stf_lost",
    "cip_needed",
    "cip_needed_pct",
)


@pytest.mark.parametrize("h", REFUSED, ids=lambda h: h.id)
def test_plans_that_cannot_be_scored_are_refused_with_the_trust_named(h: Any) -> None:
    with pytest.raises(CipModelError) as info:
        run_plan(edge_plan(h.id))
    assert h.text in str(info.value)
    if "no finance metric" in h.text:
        assert all(p.place == "trust RSM" for p in info.value.problems)


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | None]:
    """Each edge plan as a workbook (None for a plan refused as it is made)."""
    folder = tmp_path_factory.mktemp("edges")
    out: dict[str, Path | None] = {}
    for h in EDGES:
        try:
            plan = edge_plan(h.id)
        except ValidationError:
            out[h.id] = None
            continue
        path = folder / f"{h.id}.xlsx"
        write_template(path, plan)
        out[h.id] = path
    return out


@pytest.mark.parametrize("h", EDGES, ids=lambda h: h.id)
def test_cli_run_shows_no_nan(h: Any, plans: dict[str, Path | None], tmp_path: Path) -> None:
    """`cipmodel run` (text and --json) and `run -o`: no nan/inf anywhere; exit 2 with the
    reason for a plan that cannot be scored."""
    if plans[h.id] is None:  # refused as it is made (a figure too large to be real)
        with pytest.raises(ValidationError, match=h.text):
            edge_plan(h.id)
        return
    runner = CliRunner()
    text = runner.invoke(cli, ["run", str(plans[h.id])])
    js = runner.invoke(cli, ["run", "--json", str(plans[h.id])])
    out = tmp_path / "results.xlsx"
    wb = runner.invoke(cli, ["run", str(plans[h.id]), "-o", str(out)])
    for r in (text, js, wb):
        assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
        assert "Traceback" not in r.output
    if h.expect == RUN_REFUSED:
        for r in (text, js, wb):
            assert r.exit_code == 2 and h.text in r.stderr, r.output
        assert not out.exists()
        return
    assert (text.exit_code, js.exit_code, wb.exit_code) == (0, 0, 0), (
        text.output + js.output + wb.output
    )
    assert not NAN_WORD.search(text.stdout), text.stdout
    strict_json(js.stdout)
    book = openpyxl.load_workbook(out)
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for c in row:
                v = c.value
                assert not (isinstance(v, float) and not math.isfinite(v)), (ws.title, c.coordinate)
                if isinstance(v, str) and c.data_type != "f":
                    assert not NAN_WORD.fullmatch(v.strip()), (ws.title, c.coordinate, v)


@pytest.mark.libreoffice
@pytest.mark.parametrize("kind", ["zero-income", "zero-opex"])
def test_results_workbook_recalculated_shows_no_error_values(
    soffice: str, plans: dict[str, Path | None], tmp_path: Path, kind: str
) -> None:
    """The results workbook's own formulas, recalculated by LibreOffice, show no #DIV/0! or
    other error value for plans with no income or no expenditure."""
    out = tmp_path / "results.xlsx"
    r = CliRunner().invoke(cli, ["run", str(plans[kind]), "-o", str(out)])
    assert r.exit_code == 0, r.output
    profile = recalc_profile(tmp_path / "lo-profile")  # the formulas, not saved values
    cmd = [
        soffice,
        f"-env:UserInstallation={profile.as_uri()}",
        "--headless",
        "--norestore",
        "--nolockcheck",
        "--calc",
        "--convert-to",
        "xlsx:Calc MS Excel 2007 XML",
        "--outdir",
        str(tmp_path / "lo"),
        str(out),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    saved = tmp_path / "lo" / "results.xlsx"
    assert saved.is_file(), done.stdout + done.stderr
    book = openpyxl.load_workbook(saved, data_only=True)
    bad = [
        f"{ws.title}!{c.coordinate}: {c.value!r}"
        for ws in book.worksheets
        for row in ws.iter_rows()
        for c in row
        if isinstance(c.value, str)
        and c.value.startswith(ERROR_VALUES)
        or isinstance(c.value, float)
        and not math.isfinite(c.value)
    ]
    assert not bad, bad[:20]


# -- numbers too big for a float ------------------------------------------------------------------
def test_integers_beyond_float_range_are_a_located_problem() -> None:
    """An int of 400 digits (Python, TOML or a workbook cell) is a problem, not an OverflowError."""
    with pytest.raises(ValidationError) as info:
        Trust(trust_code="RXX", name="x", trust_type="acute", agency_ceiling=10**400)
    (problem,) = info.value.problems
    assert problem.place == "trusts[RXX].agency_ceiling"
    assert "about 400 digits" in problem.message
    for f in (ff for t in load_schema().tables for ff in t.fields):
        for value in (10**400, -(10**5000)):
            out, message = f.coerce(value)
            assert message is not None and f.name in message
