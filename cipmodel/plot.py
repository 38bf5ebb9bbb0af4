"""Plots for notebooks and reports (matplotlib; install with ``pip install cipmodel[plot]``).

Every function draws on an ``ax`` you pass (or a new figure), returns the ``Axes`` and
defines no model logic: it only reads results computed by the library. Money on the axes
is £000; rates are shown as percentages.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cipmodel.engine import STAGES

__all__ = [
    "ytd_vs_control_total",
    "cip_by_category",
    "funding_by_quarter",
    "score_counts",
]


def _plt() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        msg = "cipmodel.plot needs matplotlib: pip install 'cipmodel[plot]'"
        raise ImportError(msg) from exc
    return plt


def _axes(ax: Any) -> Any:
    if ax is not None:
        return ax
    _, ax = _plt().subplots(figsize=(8, 4.5))
    return ax


def _trust_index(result: Any, trust: str | None) -> int:
    codes = list(result.plan.codes)
    if trust is None:
        return 0
    if trust not in codes:
        raise KeyError(f"trust {trust!r} is not in this result (trusts: {', '.join(codes[:10])}...)")
    return codes.index(trust)


def _thousands(ax: Any) -> None:
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(
        FuncFormatter(lambda v, _: f"({abs(v):,.0f})" if v < 0 else f"{v:,.0f}")
    )


MONTHS = ("Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Jan", "Feb", "Mar")


def ytd_vs_control_total(result: Any, trust: str | None = None, *, ax: Any = None) -> Any:
    """Year-to-date pre-STF surplus against the control-total profile, first plan year."""
    ax = _axes(ax)
    i = _trust_index(result, trust)
    pr = result.projection
    ytd = pr.ytd(pr.surplus_pre_stf)[0, i, 0]
    ct = pr.control_total_ytd()[i, 0]
    x = np.arange(12)
    ax.plot(x, ct, "k--", label="control total (YTD, pre-STF)")
    ax.plot(x, ytd, color="#005EB8", marker="o", label="forecast (YTD, pre-STF)")
    ax.fill_between(x, ytd, ct, where=ytd < ct, color="#DA291C", alpha=0.2, label="behind plan")
    for q in (2, 5, 8, 11):
        ax.axvline(q, color="grey", lw=0.5, alpha=0.5)
    ax.set_xticks(x, MONTHS)
    ax.set_ylabel("£000")
    _thousands(ax)
    ax.set_title(f"{result.plan.codes[i]}: year to date against the control total")
    ax.legend(loc="best", fontsize=8)
    return ax


def cip_by_category(result: Any, trust: str | None = None, *, ax: Any = None) -> Any:
    """In-year CIP by category and stage, first plan year (stacked bars)."""
    ax = _axes(ax)
    i = _trust_index(result, trust)
    df = result.schemes()
    df = df[df.trust_code == result.plan.codes[i]]
    table = df.pivot_table(index="category", columns="stage", values="in_year_y1",
                           aggfunc="sum", fill_value=0.0)
    table = table.reindex(columns=[s for s in STAGES if s in table.columns])
    bottom = np.zeros(len(table))
    for stage in table.columns:
        ax.bar(table.index, table[stage], bottom=bottom, label=stage)
        bottom += table[stage].to_numpy()
    ax.set_ylabel("£000 in year")
    _thousands(ax)
    ax.set_title(f"{result.plan.codes[i]}: CIP by category and stage")
    ax.legend(fontsize=8, title="stage")
    return ax


def funding_by_quarter(result: Any, trust: str | None = None, *, ax: Any = None) -> Any:
    """STF/PSF earned and lost in each quarter (stacked bars)."""
    ax = _axes(ax)
    i = _trust_index(result, trust)
    f = result.assessment.funding
    q = ["Q1", "Q2", "Q3", "Q4"]
    ax.bar(q, f.earned[0, i], color="#009639", label="earned")
    ax.bar(q, f.lost[0, i], bottom=f.earned[0, i], color="#DA291C", label="lost")
    ax.set_ylabel("£000")
    _thousands(ax)
    ax.set_title(f"{result.plan.codes[i]}: STF/PSF by quarter ({result.assessment.rules['funding']})")
    ax.legend(fontsize=8)
    return ax


def score_counts(table: Any, *, ax: Any = None, prefix: str = "score_") -> Any:
    """Stacked bars of trusts at each score (or segment) by trust type.

    ``table`` is ``sector_tables(result)["score"]`` or ``["segment"]`` (with
    ``prefix="segment_"``).
    """
    ax = _axes(ax)
    rows = [r for r in table.index if r != "all trusts"]
    cols = [c for c in table.columns if str(c).startswith(prefix)]
    colours = ["#009639", "#FFB81C", "#ED8B00", "#DA291C"]
    bottom = np.zeros(len(rows))
    for col, colour in zip(cols, colours, strict=False):
        vals = table.loc[rows, col].to_numpy(dtype=float)
        ax.bar(rows, vals, bottom=bottom, color=colour, label=col.replace(prefix, prefix.rstrip("_") + " "))
        bottom += vals
    ax.set_ylabel("trusts")
    ax.legend(fontsize=8)
    ax.tick_params(axis="x", labelrotation=20)
    return ax
