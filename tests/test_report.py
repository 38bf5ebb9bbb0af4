"""The board report (``cipmodel report``): a PDF of 1-8 pages whose numbers are the JSON's.

The PDFs are read back with poppler (``pdfinfo``, ``pdftotext``, ``pdftoppm``, ``pdffonts``).
Where poppler is missing these checks are skipped with a reason (a user's laptop); CI sets
``CIPMODEL_REQUIRE_POPPLER=1`` (see ``.ci/run``) and then a missing poppler fails them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cipmodel.cli import cli
from cipmodel.examples import example_portfolio
from cipmodel.formatting import money, pct
from cipmodel.io import write_template
from cipmodel.version import __version__

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "templates" / "example-acute-11pc.xlsx"
POPPLER = ("pdfinfo", "pdftotext", "pdftoppm", "pdffonts")


def invoke(*args: object) -> Any:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="session")
def poppler() -> None:
    """poppler's tools: skipped with a reason where missing, failed in CI."""
    missing = [tool for tool in POPPLER if shutil.which(tool) is None]
    if not missing:
        return
    if os.environ.get("CIPMODEL_REQUIRE_POPPLER") == "1":
        pytest.fail(f"CIPMODEL_REQUIRE_POPPLER=1 but {', '.join(missing)} not installed")
    pytest.skip(f"poppler-utils not found ({', '.join(missing)}): install it to check the PDF")


def tool(*args: object) -> str:
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, check=True, encoding="utf-8"
    )
    return done.stdout


def pages(pdf: Path) -> int:
    return int(re.search(r"^Pages:\s+(\d+)", tool("pdfinfo", pdf), re.M).group(1))  # type: ignore[union-attr]


def page_text(pdf: Path, first: int, last: int | None = None) -> str:
    return tool("pdftotext", "-layout", "-f", first, "-l", last or first, pdf, "-")


def ink(png: Path) -> float:
    """Share of the page that is not white."""
    from matplotlib.image import imread

    img = imread(png)
    return float((img[..., :3] < 0.92).any(axis=-1).mean())


def shows(text: str, label: str, value: str) -> bool:
    """Whether a line of ``text`` has ``label`` followed by ``value`` as the next field."""
    pattern = re.compile(rf"{re.escape(label)}\s+{re.escape(value)}(\s|$)")
    return any(pattern.search(line) for line in text.splitlines())


@pytest.fixture(scope="module")
def run_json() -> dict[str, Any]:
    r = invoke("run", EXAMPLE, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("plain") / "board.pdf"
    r = invoke("report", EXAMPLE, "-o", out)
    assert r.exit_code == 0, r.output
    assert "Board report written to" in r.output
    return out


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("simulated") / "board.pdf"
    r = invoke("report", EXAMPLE, "-o", out, "--simulate", 2048, "--seed", 1)
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="module")
def multi_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sys.path.insert(0, str(Path(__file__).parent))
    from test_results_workbook import multi_portfolio

    path = tmp_path_factory.mktemp("multi") / "three-trusts.xlsx"
    write_template(path, multi_portfolio())
    return path


# -- the document -----------------------------------------------------------------------
@pytest.mark.parametrize("which", ["plain", "simulated"])
def test_pdf_has_one_to_eight_pages_none_blank(
    poppler: None, which: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """1-8 pages (5 for a plan run, 6 simulated), and every page has real content on it."""
    pdf = request.getfixturevalue(which)
    n = pages(pdf)
    assert n == (5 if which == "plain" else 6)
    tool("pdftoppm", "-r", 30, "-png", pdf, tmp_path / "page")
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == n
    for png in pngs:
        assert ink(png) > 0.08, f"{png.name} is nearly blank ({ink(png):.1%} ink)"
    for k in range(1, n + 1):
        assert f"page {k} of {n}" in page_text(pdf, k)


def test_page_one_shows_the_json_numbers(
    poppler: None, plain: Path, run_json: dict[str, Any]
) -> None:
    """Page 1 shows control total, forecast, variance, CIP needed and STF/PSF earned exactly
    as run --json gives them, formatted with money()."""
    t = run_json["trusts"][0]
    text = page_text(plain, 1)
    ct = t["control_total"]
    assert shows(text, "Control total", money(ct["target"]))
    assert shows(text, "Forecast surplus/(deficit)", money(ct["forecast"]))
    assert shows(text, "Variance", money(ct["variance"]))
    assert shows(text, "CIP needed for the control total", money(t["cip"]["needed"]))
    assert shows(text, "STF/PSF earned", money(t["funding"]["earned"]))
    assert shows(text, "STF/PSF lost", workbook(t["funding"]["lost"]))
    assert shows(text, "Finance and use of resources score", str(t["score"]["overall"]))
    # the headline sentence and the title
    # (the Board summary sheet's words: tests/test_headlines.py)
    assert "The plan meets the 2017/18 control total before STF/PSF by 1" in text
    assert f"{t['name']} ({t['code']})" in text
    # each plan year side by side, pre- and post-STF, as the workbook's Plan years sheet
    cts = [y["control_total"] for y in t["years"]]
    rows = {
        "Forecast surplus/(deficit)": [workbook(c["forecast"]) for c in cts],
        "Control total, pre-STF": [workbook(c["target"]) for c in cts],
        "Variance, pre-STF": [workbook(c["variance"]) for c in cts],
        "Control total met, pre-STF": ["met" if c["met"] else "missed" for c in cts],
        "Control total with STF/PSF": [workbook(c["target_post_stf"]) for c in cts],
        "Reported surplus/(deficit)": [workbook(c["forecast_post_stf"]) for c in cts],
        "Variance with STF/PSF": [workbook(c["variance_post_stf"]) for c in cts],
        "Control total met, with STF/PSF": ["met" if c["met_post_stf"] else "missed" for c in cts],
        "CIP planned": [workbook(y["cip_planned"]) for y in t["years"]],
    }
    for label, values in rows.items():
        assert shows_row(text, label, values), (label, values)
    assert "2018/19" in text
    # unidentified CIP on its own line
    assert shows(text, "of which unidentified", money(t["cip"]["unidentified"]))


def shows_row(text: str, label: str, values: list[str]) -> bool:
    """Whether a line of ``text`` has ``label`` followed by ``values`` as its next fields."""
    cells = r"\s+".join(re.escape(v) for v in values)
    pattern = re.compile(rf"{re.escape(label)}\s+{cells}(\s|$)")
    return any(pattern.search(line) for line in text.splitlines())


def workbook(x: float | None) -> str:
    """£000 as the results workbook shows it: money(), zero as '-'."""
    return "-" if money(x) == "0" else money(x)


def test_plan_year_pages_show_the_json_numbers(
    poppler: None, plain: Path, run_json: dict[str, Any]
) -> None:
    """Pages 2 and 3 show each plan year's control total before and after STF/PSF, STF/PSF,
    score, trigger and segment, the risk-adjusted CIP and forecast, the underlying position
    and the bridge exactly as run --json gives them (£000, brackets, zero as '-')."""
    t = run_json["trusts"][0]
    years = t["years"]
    assert len(years) == 2
    text = page_text(plain, 2)
    cts = [y["control_total"] for y in years]
    rows = {
        "Control total": [workbook(c["target"]) for c in cts],
        "Forecast surplus/(deficit)": [workbook(c["forecast"]) for c in cts],
        "Variance": [workbook(c["variance"]) for c in cts],
        "Control total with STF/PSF": [workbook(c["target_post_stf"]) for c in cts],
        "Reported surplus (with STF/PSF earned)": [workbook(c["forecast_post_stf"]) for c in cts],
        "Post-STF control total": ["met" if c["met_post_stf"] else "missed" for c in cts],
        "Rules": [y["funding"]["rules"] for y in years],
        "Allocation": [workbook(y["funding"]["allocation"]) for y in years],
        "STF/PSF earned": [workbook(y["funding"]["earned"]) for y in years],
        "STF/PSF lost": [workbook(y["funding"]["lost"]) for y in years],
        "Finance and use of resources score": [str(y["score"]["overall"]) for y in years],
        "Finance trigger (score 3 or 4)": ["yes" if y["finance_trigger"] else "no" for y in years],
        "Candidate segment (finance theme)": [
            str(y["candidate_segment"]["segment"]) for y in years
        ],
        "CIP planned": [workbook(y["cip"]["planned"]) for y in years],
        "new schemes in the year": [workbook(y["cip"]["new"]) for y in years],
        "CIP needed for the control total": [workbook(y["cip"]["needed"]) for y in years],
    }
    rows["Variance "] = [workbook(c["variance_post_stf"]) for c in cts]
    for label, values in rows.items():
        assert shows_row(text, label.strip(), values), (label, values)
    assert "2017/18" in text and "2018/19" in text

    text = page_text(plain, 3)
    ras = [y["cip"]["risk_adjusted"] for y in years]
    fras = [c["forecast_risk_adjusted"] for c in cts]
    und = [y["underlying"] for y in years]
    rows = {
        "CIP expected": [workbook(r["expected"]) for r in ras],
        "at risk": [workbook(r["at_risk"]) for r in ras],
        "Unidentified CIP planned": [workbook(r["unidentified_planned"]) for r in ras],
        "Unidentified CIP expected": [workbook(r["unidentified_expected"]) for r in ras],
        "Forecast risk-adjusted": [workbook(f["forecast"]) for f in fras],
        "Variance risk-adjusted": [workbook(f["variance"]) for f in fras],
        "Control total risk-adjusted": ["met" if f["met"] else "missed" for f in fras],
        "plus recurrent CIP at full-year effect": [
            workbook(u["cip_full_year_effect"]) for u in und
        ],
        "Underlying surplus/(deficit)": [workbook(u["surplus"]) for u in und],
    }
    for label, values in rows.items():
        assert shows_row(text, label, values), (label, values)
    # the bridge's levels in the caption, and every step's value on its bar
    bridge = t["bridge"]
    assert f"outturn of {money(bridge[0]['value'])}" in text
    assert f"surplus of {money(bridge[-1]['value'])}" in text
    for step in bridge:
        assert workbook(step["value"]) in text, step

    # page 1: each plan year's headline, pre- and post-STF (compared without white space: a
    # sentence may wrap at its hyphen, "post-" / "STF")
    first = "".join(page_text(plain, 1).split())
    for y, c in zip(years, cts, strict=True):
        pre = "met" if c["met"] else "missed"
        post = "met" if c["met_post_stf"] else "missed"
        sentence = (
            f"{y['financial_year']}: pre-STF control total {money(c['target'])} {pre} by "
            f"{money(abs(c['variance']))}; post-STF control total {money(c['target_post_stf'])} "
            f"{post} by {money(abs(c['variance_post_stf']))}."
        )
        assert "".join(sentence.split()) in first


def test_simulated_pages_show_the_simulation_probability(poppler: None, simulated: Path) -> None:
    """With --simulate 2048 --seed 1, P(meet) is the simulate JSON's, as the page shows it."""
    r = invoke("simulate", EXAMPLE, "--json", "-n", 2048, "--seed", 1)
    assert r.exit_code == 0, r.output
    p = json.loads(r.output)["trusts"][0]["probability"]["meet_control_total"]
    shown = pct(p)
    assert shows(page_text(simulated, 1), "P(meet the pre-STF control total)", shown)
    last = page_text(simulated, 6)
    assert shown in last
    assert "Is the CIP achievable?" in last
    assert "seed 1 · 2,048 draws" in last  # the footer names the seed


def test_metadata_and_real_text(poppler: None, simulated: Path, run_json: dict[str, Any]) -> None:
    """Title, version, input hash and seed in the metadata; TrueType fonts (searchable)."""
    info = tool("pdfinfo", simulated)
    assert "Example Acute Hospitals NHS Trust (RXX): board report 2017/18" in info
    assert f"cipmodel {__version__}" in info
    assert run_json["provenance"]["input_hash"] in info
    assert "seed 1" in info
    fonts = tool("pdffonts", simulated)
    assert "TrueType" in fonts
    assert "Type 3" not in fonts


# -- the command --------------------------------------------------------------------------
def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    """An existing file is kept (exit 2) unless --force; the input is never the output."""
    out = tmp_path / "board.pdf"
    out.write_bytes(b"keep me")
    r = invoke("report", EXAMPLE, "-o", out)
    assert r.exit_code == 2
    assert "already exists" in r.output
    assert out.read_bytes() == b"keep me"
    r = invoke("report", EXAMPLE, "-o", out, "--force")
    assert r.exit_code == 0, r.output
    assert out.read_bytes().startswith(b"%PDF")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["board.pdf"]  # no temporary file left

    plan = tmp_path / "plan.xlsx"
    shutil.copy(EXAMPLE, plan)
    before = plan.read_bytes()
    r = invoke("report", plan, "-o", plan, "--force")
    assert r.exit_code == 2
    assert "is the input file" in r.output
    assert plan.read_bytes() == before


def test_output_must_be_a_pdf_in_an_existing_folder(tmp_path: Path) -> None:
    r = invoke("report", EXAMPLE, "-o", tmp_path / "board.xlsx")
    assert r.exit_code == 2
    assert "written as .pdf" in r.output
    r = invoke("report", EXAMPLE, "-o", tmp_path / "missing" / "board.pdf")
    assert r.exit_code == 2
    assert "does not exist" in r.output
    r = invoke("report", EXAMPLE)
    assert r.exit_code == 2
    assert "--output" in r.output


def test_seed_needs_simulate(tmp_path: Path) -> None:
    r = invoke("report", EXAMPLE, "-o", tmp_path / "b.pdf", "--seed", 3)
    assert r.exit_code == 2
    assert "--simulate" in r.output
    assert not (tmp_path / "b.pdf").exists()


def test_missing_matplotlib_is_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without matplotlib: what to install, exit 2, no traceback and no file."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = tmp_path / "board.pdf"
    r = CliRunner().invoke(cli, ["report", str(EXAMPLE), "-o", str(out)])
    assert r.exit_code == 2
    assert "pip install 'cipmodel[plot]'" in r.output
    assert "Traceback" not in r.output
    assert not out.exists()


def test_default_seed_is_the_libraries() -> None:
    from cipmodel.cli.report import REPORT_SEED
    from cipmodel.report.pdf import DEFAULT_SEED

    assert REPORT_SEED == DEFAULT_SEED


def test_same_inputs_give_the_same_bytes() -> None:
    """Same plan, same date: the same PDF, byte for byte (a report can be reproduced)."""
    from cipmodel.report.pdf import board_report

    when = datetime(2017, 4, 1, 9, 0, tzinfo=UTC)
    first = board_report(example_portfolio(), generated=when)
    assert first.startswith(b"%PDF")
    assert board_report(example_portfolio(), generated=when) == first


# -- several trusts ------------------------------------------------------------------------
def test_multi_trust_plan_stays_within_eight_pages(
    poppler: None, multi_plan: Path, tmp_path: Path
) -> None:
    """Three trusts, simulated: a portfolio summary, variances, charts and P(meet) — not one
    page per trust — and the counts are the run's."""
    out = tmp_path / "board.pdf"
    r = invoke("report", multi_plan, "-o", out, "--simulate", 256)
    assert r.exit_code == 0, r.output
    n = pages(out)
    assert 1 <= n <= 8
    first = page_text(out, 1)
    run = json.loads(invoke("run", multi_plan, "--json").output)
    met = sum(1 for t in run["trusts"] if t["control_total"]["met"])
    # the portfolio Board summary sheet's words (cipmodel.results.headlines)
    said = " ".join(first.split())
    assert f"{met} of 3 trusts (" in said
    assert "meet their 2017/18 control total before STF/PSF" in said
    assert "(3 trusts)" in first
    text = page_text(out, 1, n)
    for t in run["trusts"]:
        if t["control_total"]["variance"] is not None:
            assert money(t["control_total"]["variance"]) in text
    tool("pdftoppm", "-r", 30, "-png", out, tmp_path / "page")
    for png in sorted(tmp_path.glob("page-*.png")):
        assert ink(png) > 0.08, png.name


def test_the_sector_stays_within_eight_pages(poppler: None, tmp_path: Path) -> None:
    """235 trusts: still a few pages, with the largest variances listed; its tables print
    money and counts as the workbook does, zero as '-' (never a bare '0')."""
    from collections import Counter

    from cipmodel.report.pdf import MAX_PAGES, board_report
    from cipmodel.report.portfolio_pages import variance_rows
    from cipmodel.results.run import run_plan

    out = tmp_path / "sector.pdf"
    out.write_bytes(board_report(example_portfolio("national")))
    n = pages(out)
    assert 1 <= n <= MAX_PAGES
    first = page_text(out, 1)
    assert "159 of 235 trusts (68%) meet their 2017/18 control total" in first
    assert "Furthest behind the control total" in page_text(out, 2)
    # pages 1 and 2 are tables (and tiles): no cell is a bare 0
    for k in (1, 2):
        for line in page_text(out, k).splitlines():
            assert "0" not in line.split(), (k, line)
    # there are zeros to print: trust types with no trust at some score (counted here from
    # run --json), and trusts that lose no STF/PSF; they show as '-'
    run = run_plan(example_portfolio("national")).to_dict()
    labels = {"acute": "Acute", "specialist": "Specialist", "mental_health": "Mental health"}
    labels |= {"community": "Community", "ambulance": "Ambulance"}
    zeros = 0
    for kind, label in labels.items():
        scores = Counter(t["score"]["overall"] for t in run["trusts"] if t["trust_type"] == kind)
        zeros += sum(1 for k in range(1, 5) if scores[k] == 0)
        assert shows_row(first, label, [workbook(scores[k]) for k in range(1, 5)]), label
    assert zeros > 0
    rows = variance_rows(run, None, rows=400)  # every trust
    lost = [r.cells[8] for r in rows if r.kind == "row"]
    assert "-" in lost and "0" not in lost
    for r in rows:
        assert "0" not in r.cells[2:5], r.cells


def test_a_year_not_assessed_says_so(poppler: None, tmp_path: Path) -> None:
    """No 2018/19 control total: year 2 is projected, not funded or scored; the report keeps
    its pages and says so on pages 1 and 2 instead of inventing numbers."""
    from cipmodel.report.pdf import build_report
    from cipmodel.results.run import run_plan

    p = example_portfolio()
    run = run_plan(p.replace(control_total=[c for c in p.control_total if c.year == 1]))
    y2 = run.to_dict()["trusts"][0]["years"][1]
    assert y2["funding"] is None
    out = tmp_path / "board.pdf"
    out.write_bytes(build_report(run))
    assert pages(out) == 5
    first = " ".join(page_text(out, 1).split())
    assert "2018/19: no pre-STF control total; post-STF not assessed." in first
    second = page_text(out, 2)
    assert shows_row(second, "Rules", ["stf-2017-18", "not assessed"])
    assert shows_row(second, "STF/PSF earned", [workbook(run.figures[0].funding.earned), "n/a"])
    assert y2["not_assessed"] in " ".join(second.split())


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.0, "-"),  # the workbook's '#,##0;(#,##0);"-"' shows zero as a dash
        (-0.0, "-"),
        (0.4, "-"),  # shown as zero once rounded: a dash, never "0" or "(0)"
        (-0.4, "-"),
        (0.5, "1"),  # halves away from zero, as money()
        (-1234.5, "(1,235)"),
        (12000.0, "12,000"),
        (None, "n/a"),
    ],
)
def test_a_table_cell_shows_zero_as_a_dash(value: float | None, shown: str) -> None:
    """formatting.amount, the one helper every report table uses for £000 and counts."""
    from cipmodel.formatting import amount

    assert amount(value) == shown
