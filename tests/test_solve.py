"""The CIP solver: the CIP it reports, put back into the plan, meets the control total."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cipmodel.engine.project import compile_plan, project
from cipmodel.engine.solve import solve_cip
from cipmodel.errors import RulePackError, SolveError
from cipmodel.examples import example_portfolio
from cipmodel.inputs.records import ControlTotal
from cipmodel.regime.bands import cip_band, load_bands

GBP_1K = 1.0  # £000: "meets the control total to within £1k"


def _surplus_y1(p):  # noqa: ANN001, ANN202
    pr = project(compile_plan(p))
    return pr.by_year(pr.surplus_pre_stf)[0, :, 0]


def test_example_needs_eleven_percent() -> None:
    """The worked example's control total needs a CIP of ~11% (very high risk band)."""
    s = solve_cip(compile_plan(example_portfolio("acute-11pc")))
    assert s.needed_pct[0] == pytest.approx(0.11, abs=0.0005)
    assert s.band[0] == "very high risk"


def test_putting_solved_cip_back_meets_control_total() -> None:
    """Applying the solved CIP to the plan meets the control total within £1k."""
    p = example_portfolio("acute-11pc")
    for k in (0.5, 0.9, 1.3):  # start from plans above and below the answer
        start = p.with_cip_scaled(k)
        s = solve_cip(compile_plan(start))
        solved = s.apply(start)
        assert _surplus_y1(solved)[0] == pytest.approx(-4000.0, abs=GBP_1K)
        assert s.needed[0] == pytest.approx(48440.6, abs=1.0)


def test_trust_without_schemes_gets_notional_programme() -> None:
    """A trust with no CIP is solved with a notional flat programme that closes the gap."""
    p = example_portfolio("small").replace(cip=())
    s = solve_cip(compile_plan(p))
    # do-nothing surplus is 0 and the control total 200: a flat 200 a year closes it
    assert np.isnan(s.scale[0])
    assert s.notional[0] == pytest.approx(200.0, abs=0.01)
    assert _surplus_y1(s.apply(p))[0] == pytest.approx(200.0, abs=GBP_1K)


def test_met_without_cip() -> None:
    """A trust that meets its control total with no CIP needs none."""
    p = example_portfolio("small")
    ct = dataclasses.replace(p.control_total[0], target_pre_stf=-500.0, source=None)
    s = solve_cip(compile_plan(p.replace(control_total=(ct,))))
    assert s.needed[0] == 0.0
    assert bool(s.met_without_cip[0])


def test_solve_many_trusts_at_once() -> None:
    """Trusts solved together get the same answers as solved alone."""
    a, b = example_portfolio("acute-11pc"), example_portfolio("small")
    tables = (
        "trusts",
        "income",
        "costs",
        "cip",
        "control_total",
        "funding",
        "financing",
        "drivers",
        "profiles",
    )
    both = a.replace(**{t: (*getattr(a, t), *getattr(b, t)) for t in tables})
    s = solve_cip(compile_plan(both))
    np.testing.assert_allclose(
        s.needed,
        [solve_cip(compile_plan(a)).needed[0], solve_cip(compile_plan(b)).needed[0]],
        atol=0.02,
    )


def test_solve_year_two_and_errors() -> None:
    """Year 2 can be solved; a year out of range or without a control total is refused."""
    p = example_portfolio("acute-11pc")
    s2 = solve_cip(compile_plan(p), year=2)
    assert _surplus_y1(p) is not None and s2.year == 2
    assert s2.needed[0] > 0
    with pytest.raises(SolveError, match="year must be from 1 to 2"):
        solve_cip(compile_plan(p), year=3)
    no_y2 = p.replace(control_total=tuple(c for c in p.control_total if c.year == 1))
    with pytest.raises(SolveError, match="no control total for year 2: RXX"):
        solve_cip(compile_plan(no_y2), year=2)


@pytest.mark.parametrize(
    ("share", "band"),
    [
        (0.0, "sustainable"),
        (0.02, "sustainable"),
        (0.0201, "stretching"),
        (0.04, "stretching"),
        (0.05, "high risk"),
        (0.06, "high risk"),
        (0.11, "very high risk"),
    ],
)
def test_evidence_bands(share: float, band: str) -> None:
    """Bands follow domain.md §4.4; a share on a bound belongs to the lower band."""
    assert cip_band(share) == band


def test_bad_bands_pack(tmp_path) -> None:  # noqa: ANN001
    """A bands pack with bounds out of order is refused, naming the file and key."""
    bad = tmp_path / "bands.toml"
    bad.write_text(
        '[pack]\nname="b"\nkind="cip_bands"\n'
        '[values.upper_bounds]\nvalue=[0.04, 0.02]\nsource="x"\nverified=false\n'
        '[values.labels]\nvalue=["a","b","c"]\nsource="x"\nverified=false\n',
        encoding="utf-8",
    )
    with pytest.raises(RulePackError, match=r"bands.toml: upper_bounds: must increase"):
        load_bands(str(bad))


def test_control_total_record_used_for_target() -> None:
    """The solver targets the pre-STF control total of the year asked."""
    p = example_portfolio("small")
    ct = ControlTotal(trust_code="RSM", target_pre_stf=300.0)
    s = solve_cip(compile_plan(p.replace(control_total=(ct,))))
    assert _surplus_y1(s.apply(p.replace(control_total=(ct,))))[0] == pytest.approx(300, abs=GBP_1K)
