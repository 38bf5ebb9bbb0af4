"""The board's words, said once (:mod:`cipmodel.results.headlines`): the results workbook's
Board summary sheet and the PDF report's first page say the same thing in the same words.

Each plan (the worked example, two years; the same trust over one year) is run with and
without a simulation; the Board summary's headline cell must be exactly the report's
headline, and that text must be on the PDF's first page (read back with ``pdftotext``). The
sentences' numbers are checked against ``run --json`` and worked out here by hand.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from datetime import UTC, datetime
from typing import Any

import pytest

from cipmodel.examples import example_portfolio
from cipmodel.formatting import money, pct
from cipmodel.inputs.records import Portfolio
from cipmodel.io.results_workbook import build_results_workbook
from cipmodel.montecarlo import SimulationResult, simulate
from cipmodel.report.pdf import build_report, trust_view
from cipmodel.report.summary import headline as report_headline
from cipmodel.report.summary import supporting_sentences
from cipmodel.results import headlines
from cipmodel.results.run import RunResult, run_plan

BOARD = "Board summary"
DRAWS = 256  # a power of two: the Sobol sampler's balanced size


def one_year(p: Portfolio) -> Portfolio:
    """The worked example cut to its first plan year (no year-2 schemes, control total or
    drivers)."""
    return dataclasses.replace(
        p,
        trusts=tuple(dataclasses.replace(t, horizon_years=1) for t in p.trusts),
        cip=tuple(s for s in p.cip if s.start_year <= 1),
        control_total=tuple(c for c in p.control_total if c.year <= 1),
        drivers=tuple(d for d in p.drivers if d.year <= 1),
    )


PLANS = {
    "two-year": lambda: example_portfolio("acute-11pc"),
    "one-year": lambda: one_year(example_portfolio("acute-11pc")),
}


@pytest.fixture(scope="module", params=list(PLANS))
def plan(request: pytest.FixtureRequest) -> tuple[RunResult, SimulationResult]:
    """A plan's run and a small simulation of it (its run is the same plan run)."""
    sim = simulate(PLANS[request.param](), draws=DRAWS, seed=3)
    return sim.run, sim


def pdf_text(pdf: bytes, tmp_path: Any) -> str:
    """Page 1 of a PDF as text, all white space removed (a sentence wraps anywhere)."""
    if shutil.which("pdftotext") is None:
        if os.environ.get("CIPMODEL_REQUIRE_POPPLER") == "1":
            pytest.fail("CIPMODEL_REQUIRE_POPPLER=1 but pdftotext not installed")
        pytest.skip("poppler-utils (pdftotext) not found: install it to read the PDF back")
    path = tmp_path / "board.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
        encoding="utf-8",
    )
    return "".join(done.stdout.split())


@pytest.mark.parametrize("simulated", [False, True], ids=["plan run", "simulated"])
def test_board_sheet_and_pdf_say_the_same_headline(
    plan: tuple[RunResult, SimulationResult], simulated: bool, tmp_path: Any
) -> None:
    """The Board summary's headline cell (A2) is the PDF report's headline, word for word,
    and that headline is on the PDF's first page; so are the sentences behind it (A3)."""
    result, sim = plan
    simulation = sim if simulated else None
    sim_json = sim.to_dict() if simulated else None
    ws = build_results_workbook(result, simulation=sim_json).reopen()[BOARD]
    view = trust_view(result, simulation)
    sheet = ws["A2"].value
    assert sheet == report_headline(view)
    first_page = pdf_text(
        build_report(result, simulation=simulation, generated=datetime(2017, 4, 1, tzinfo=UTC)),
        tmp_path,
    )
    assert "".join(sheet.split()) in first_page
    # the sentences behind it: the sheet's second sentence row is the report's first paragraph
    assert ws["A3"].value == supporting_sentences(view)[0]
    assert "".join(ws["A3"].value.split()) in first_page
    # P(meet) in the headline exactly when simulated, as simulate --json gives it
    p = sim_json["trusts"][0]["probability"]["meet_control_total"] if sim_json else None
    said = f"Before STF/PSF it is met in {pct(p)} of {DRAWS} simulated outcomes."
    assert sheet.endswith(said) == simulated


def test_the_headline_is_the_run_json_numbers(plan: tuple[RunResult, SimulationResult]) -> None:
    """Met or missed and by how much, before STF/PSF (forecast against target) and with it
    (reported surplus against target plus allocation), each in run --json's numbers."""
    result, _ = plan
    t = result.to_dict()["trusts"][0]
    ct, f = t["control_total"], t["funding"]
    post = ct["target"] + f["allocation"]
    post_var = t["reported_surplus"] - post
    pre_word = "meets" if ct["met"] else "misses"
    post_word = "meets" if post_var >= -0.5e-6 else "misses"
    expected = (
        f"The plan {pre_word} the 2017/18 control total before STF/PSF by "
        f"{money(abs(ct['variance']))}: a forecast of {money(ct['forecast'])} against "
        f"{money(ct['target'])}. With STF/PSF it {post_word} it by {money(abs(post_var))}: a "
        f"reported {money(t['reported_surplus'])} against {money(post)} (the target plus the "
        f"{money(f['allocation'])} allocation)."
    )
    assert headlines.headline(result.figures[0]) == expected


def test_each_plan_year_in_a_sentence(plan: tuple[RunResult, SimulationResult]) -> None:
    """A plan of several years has each year's headline behind the first page's headline,
    pre- and post-STF, in run --json's numbers; a one-year plan has none."""
    result, _ = plan
    years = result.to_dict()["trusts"][0]["years"]
    said = supporting_sentences(trust_view(result))
    if len(years) == 1:
        assert len(said) == 1
        return
    for y in years:
        c = y["control_total"]
        sentence = (
            f"{y['financial_year']}: pre-STF control total {money(c['target'])} "
            f"{'met' if c['met'] else 'missed'} by {money(abs(c['variance']))}; post-STF "
            f"control total {money(c['target_post_stf'])} "
            f"{'met' if c['met_post_stf'] else 'missed'} by {money(abs(c['variance_post_stf']))}."
        )
        assert sentence in said[1]


def test_a_miss_and_an_exact_meet_in_words() -> None:
    """The margin in words, worked out by hand: rounded half away from zero as the workbook
    shows it; a miss that rounds to 0 still says missed."""
    assert headlines.verdict(537.5, True) == ("meets", " by 538")
    assert headlines.verdict(-537.5, False) == ("misses", " by 538")
    assert headlines.verdict(0.2, True) == ("meets", " exactly")
    assert headlines.verdict(-0.2, False) == ("misses", " by less than 1")


def test_a_control_total_not_accepted_says_no_stf_can_be_earned() -> None:
    """A trust that does not accept its control total cannot earn STF/PSF: the headline's
    post-STF part says so, and the sheet and the report still agree."""
    base = example_portfolio("acute-11pc")
    cts = tuple(
        dataclasses.replace(c, accepted=False) if c.year == 1 else c for c in base.control_total
    )
    result = run_plan(dataclasses.replace(base, control_total=cts))
    said = headlines.headline(result.figures[0])
    assert "which cannot be earned: the control total is not accepted" in said
    ws = build_results_workbook(result).reopen()[BOARD]
    assert ws["A2"].value == said == report_headline(trust_view(result))


def test_a_portfolio_headline_counts_the_trusts() -> None:
    """A portfolio's sentence: the trusts meeting their control total and the totals, counted
    here from run --json; with P(meet), the trusts expected to meet it (their sum)."""
    from test_results_workbook import multi_portfolio

    result = run_plan(multi_portfolio())
    trusts = result.to_dict()["trusts"]
    with_ct = [t for t in trusts if t["control_total"]["met"] is not None]
    met = sum(1 for t in with_ct if t["control_total"]["met"])
    earned = sum(t["funding"]["earned"] for t in trusts)
    said = headlines.portfolio_headline(result.figures, "2017/18")
    assert said.startswith(f"{met} of {len(trusts)} trusts ({pct(met / len(trusts), 0)}) meet")
    assert f"STF/PSF: {money(earned)} earned" in said
    assert "Simulated" not in said
    chances = [0.25, 0.5, 0.125]
    simulated = headlines.portfolio_headline(result.figures, "2017/18", chances)
    assert "Simulated, 0.9 of them are expected to meet it" in simulated
