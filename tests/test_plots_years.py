"""The plan-year charts of ``cipmodel.plot``: post-STF beside pre-STF, every plan year, the
bridge waterfall. Each drawn value is checked against ``run --json`` (the contract the
terminal, the workbook and the PDF also show), not against the plotting code's own sums."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from cipmodel.examples import example_portfolio
from cipmodel.formatting import money
from cipmodel.results.run import run_plan

pytest.importorskip("matplotlib")

TOL = 1e-6  # £000: the chart draws the JSON's numbers, to its 6 decimals


@pytest.fixture(scope="module")
def run() -> Any:
    return run_plan(example_portfolio("acute-11pc"))


@pytest.fixture(scope="module")
def trust(run: Any) -> dict[str, Any]:
    return run.to_dict()["trusts"][0]


def _line(ax: Any, label: str) -> tuple[np.ndarray, np.ndarray]:
    (line,) = [ln for ln in ax.get_lines() if ln.get_label() == label]
    return np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)


def test_ytd_chart_shows_post_stf_beside_pre_stf(run: Any, trust: dict[str, Any]) -> None:
    """At Q4 the post-STF control total is the JSON's target_post_stf and the reported
    surplus its reported_surplus; the pre-STF forecast ends at the pre-STF forecast."""
    import matplotlib.pyplot as plt

    from cipmodel import plot

    ax = plot.ytd_vs_control_total(run, "RXX")
    ct = trust["control_total"]
    x, post = _line(ax, "control total (post-STF)")
    assert list(x) == [2, 5, 8, 11]  # the quarter ends, June to March
    assert post[-1] == pytest.approx(ct["target_post_stf"], abs=TOL)
    _, reported = _line(ax, "reported surplus (post-STF)")
    assert reported[-1] == pytest.approx(trust["reported_surplus"], abs=TOL)
    # before year end: pre-STF year to date plus what STF/PSF had been earned by then
    _, pre = _line(ax, "forecast (YTD, pre-STF)")
    q = trust["funding"]["quarters"]
    earned_h1 = q["q1"]["earned"] + q["q2"]["earned"]
    assert reported[1] == pytest.approx(pre[5] + earned_h1, abs=TOL)
    _, pre_ct = _line(ax, "control total (YTD, pre-STF)")
    available_h1 = q["q1"]["available"] + q["q2"]["available"]
    assert post[1] == pytest.approx(pre_ct[5] + available_h1, abs=TOL)
    plt.close(ax.figure)


def test_plan_years_chart_draws_each_year_from_the_json(run: Any, trust: dict[str, Any]) -> None:
    """One group per plan year; the five bars are the control total pre- and post-STF, the
    forecast as planned and risk-adjusted, and the reported surplus of years[k]."""
    import matplotlib.pyplot as plt

    from cipmodel import plot

    ax = plot.plan_years(run, "RXX")
    years = trust["years"]
    assert [t.get_text() for t in ax.get_xticklabels()] == [y["financial_year"] for y in years]
    expected = {
        "control total, pre-STF": [y["control_total"]["target"] for y in years],
        "forecast, pre-STF": [y["control_total"]["forecast"] for y in years],
        "forecast risk-adjusted, pre-STF": [
            y["control_total"]["forecast_risk_adjusted"]["forecast"] for y in years
        ],
        "control total, post-STF": [y["control_total"]["target_post_stf"] for y in years],
        "reported surplus, post-STF": [y["reported_surplus"] for y in years],
    }
    for container in ax.containers:
        label = container.get_label()
        heights = [bar.get_height() for bar in container]
        assert heights == pytest.approx(expected.pop(label), abs=TOL), label
    assert not expected  # every series drawn
    labels = {t.get_text() for t in ax.texts}
    assert money(years[0]["control_total"]["forecast_risk_adjusted"]["forecast"]) in labels
    plt.close(ax.figure)


def test_bridge_waterfall_labels_each_bar_with_the_json_step(
    run: Any, trust: dict[str, Any]
) -> None:
    """Each bar of the waterfall carries its step's value as the JSON gives it (£000,
    negatives in brackets, zero as '-'), in the order of ``bridge``."""
    import matplotlib.pyplot as plt

    from cipmodel import plot

    ax = plot.bridge_waterfall(run, "RXX")
    shown = [t.get_text() for t in ax.texts]
    want = [money(s["value"]) if money(s["value"]) != "0" else "-" for s in trust["bridge"]]
    assert shown == want
    plt.close(ax.figure)
