"""The board report: a PDF of one to eight A4 landscape pages, drawn with matplotlib.

:func:`build_report` turns a plan run (and, optionally, a simulation and a probability solve)
into the bytes of a PDF; :func:`board_report` runs a portfolio first. No browser, LaTeX or
other program is needed: matplotlib's ``PdfPages`` writes the file, with TrueType fonts
(``pdf.fonttype`` 42) so the text is real, searchable text, and the title, cipmodel version
and input hash in the document's metadata.

One trust gets a summary page, a page of every plan year (control total before and after
STF/PSF, STF/PSF, score and CIP), a page of the plan's risk (risk-adjusted CIP and forecast,
underlying position, the bridge from outturn), a page of charts, a page of STF/PSF and the
oversight score in year 1 and, simulated, a page of the simulation. A portfolio of several trusts gets a portfolio
summary, its largest variances and its charts instead (one page per trust would run to
hundreds). ``docs/report.md`` describes each page and where each number comes from.

The bytes are returned, not written: the caller writes them (the command line writes them
atomically), so a failed report never leaves a half-written file.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cipmodel.report.layout import Frame, Page
from cipmodel.report.summary import TrustView
from cipmodel.version import __version__

if TYPE_CHECKING:
    from cipmodel.inputs.records import Portfolio
    from cipmodel.montecarlo import ProbabilitySolveResult, SimulationResult
    from cipmodel.results.run import RunResult

__all__ = [
    "DEFAULT_SEED",
    "GOAL_PROBABILITY",
    "MAX_PAGES",
    "MatplotlibMissing",
    "board_report",
    "build_report",
    "trust_view",
]

#: The seed of ``cipmodel report --simulate N`` when no --seed is given: a fixed one, so the
#: same plan gives the same report.
DEFAULT_SEED = 20170401
#: The probability the 'is the CIP achievable?' chart solves for.
GOAL_PROBABILITY = 0.8
#: A report never has more pages than this.
MAX_PAGES = 8
#: matplotlib settings of every page: TrueType fonts (searchable text), one font, quiet axes.
RC: dict[str, Any] = {
    "pdf.fonttype": 42,
    "font.family": "DejaVu Sans",
    "font.size": 8.5,
    "axes.titlesize": 10,
    "axes.labelsize": 8.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "hatch.linewidth": 0.6,
}


class MatplotlibMissing(ImportError):
    """matplotlib (the ``plot`` extra) is not installed."""


@dataclass(frozen=True)
class _PageSpec:
    heading: str
    draw: Callable[[Page], None]


def _matplotlib() -> Any:
    try:
        import matplotlib
        from matplotlib.backends.backend_pdf import PdfPages
    except ImportError as exc:
        msg = "the board report needs matplotlib: pip install 'cipmodel[plot]'"
        raise MatplotlibMissing(msg) from exc
    return matplotlib, PdfPages


def build_report(
    result: RunResult,
    *,
    simulation: SimulationResult | None = None,
    goal: ProbabilitySolveResult | None = None,
    generated: datetime | None = None,
) -> bytes:
    """The board report of a plan run, as the bytes of a PDF.

    Parameters
    ----------
    result : RunResult
        The plan run (with a simulation, pass ``simulation.run`` or a run of the same plan).
    simulation : SimulationResult, optional
        Adds the simulation page (one trust) or P(meet) across the trusts (several).
    goal : ProbabilitySolveResult, optional
        The probability solve of the same draws: P(meet the control total) against the CIP.
    generated : datetime, optional
        When the report was made (default now): shown on every page and in the metadata.
        The same inputs and ``generated`` give the same bytes.

    Returns
    -------
    bytes
        A PDF of 1 to :data:`MAX_PAGES` pages.

    Raises
    ------
    MatplotlibMissing
        If matplotlib is not installed.
    """
    matplotlib, pdf_pages = _matplotlib()
    when = generated or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    frame, specs = _plan(result, simulation, goal, when)
    meta = _metadata(result, simulation, when)
    buf = io.BytesIO()
    with matplotlib.rc_context(RC), pdf_pages(buf, metadata=meta) as pdf:
        for number, spec in enumerate(specs, start=1):
            page = Page(frame, number, len(specs), spec.heading)
            spec.draw(page)
            pdf.savefig(page.fig)
    return buf.getvalue()


def board_report(
    portfolio: Portfolio,
    *,
    draws: int | None = None,
    seed: int = DEFAULT_SEED,
    generated: datetime | None = None,
    funding_rules: str | None = None,
    sof_rules: str = "sof-2016",
    catch_up: bool | None = None,
    **provenance: Any,
) -> bytes:
    """Run a portfolio (and simulate it with ``draws``) and return its board report (PDF).

    Without ``draws`` the report is of the plan run alone. With ``draws`` the portfolio is
    simulated with the default sampler and priors and ``seed`` (as ``cipmodel simulate -n
    DRAWS --seed SEED``) and, for one trust, the CIP needed for P(meet) >=
    :data:`GOAL_PROBABILITY` is solved on the same draws.
    """
    _matplotlib()  # fail before the run, not after it
    from cipmodel.results.run import run_plan

    rules: dict[str, Any] = {
        "funding_rules": funding_rules,
        "sof_rules": sof_rules,
        "catch_up": catch_up,
    }
    if draws is None:
        result = run_plan(portfolio, **rules, **provenance)
        return build_report(result, generated=generated)
    from cipmodel.montecarlo import simulate, solve_probability

    sim = simulate(portfolio, draws=draws, seed=seed, **rules, **provenance)
    goal = None
    if len(portfolio.trusts) == 1:
        goal = solve_probability(portfolio, GOAL_PROBABILITY, draws=draws, seed=seed)
    return build_report(sim.run, simulation=sim, goal=goal, generated=generated)


# -- the pages ------------------------------------------------------------------------------
def _plan(
    result: RunResult,
    simulation: SimulationResult | None,
    goal: ProbabilitySolveResult | None,
    when: datetime,
) -> tuple[Frame, list[_PageSpec]]:
    """The frame (header and footer) and the pages of the report, in order."""
    run = result.to_dict()
    prov = run["provenance"]
    sim = _simulation_dict(simulation) if simulation is not None else None
    footer = f"cipmodel {__version__} · input {str(prov.get('input_hash', ''))[:19]}"
    footer += f" · rules {', '.join(prov.get('rules', []))}"
    if simulation is not None:
        sp = simulation.provenance
        footer += (
            f" · seed {sp.get('seed')} · {int(sp.get('draws', 0)):,} draws "
            f"({sp.get('sampler')}, {sp.get('priors')})"
        )
    what = "plan run and simulation" if simulation is not None else "plan run"
    trusts = run["trusts"]
    if len(trusts) == 1:
        t = trusts[0]
        frame = Frame(
            title=f"{t['name']} ({t['code']})",
            subtitle=f"Board report · {t['financial_year']} {what} · {when.day} {when:%B %Y}",
            footer=footer,
        )
        view = trust_view(result, simulation, sim)
        return frame, _trust_pages(result, view, simulation, goal)
    years = sorted({t["financial_year"] for t in trusts})
    frame = Frame(
        title=f"{result.portfolio.name} ({len(trusts)} trusts)",
        subtitle=f"Board report · {', '.join(years)} {what} · {when.day} {when:%B %Y}",
        footer=footer,
    )
    return frame, _portfolio_pages(result, sim)


def trust_view(
    result: RunResult, simulation: Any = None, sim: dict[str, Any] | None = None
) -> TrustView:
    """What the pages of a one-trust report are drawn from: the first trust of ``result``
    and, simulated, its entry of ``simulation``'s ``simulate --json`` (``sim``, worked out
    here when not given)."""
    if simulation is not None and sim is None:
        sim = _simulation_dict(simulation)
    t = result.to_dict()["trusts"][0]
    schemes = result.schemes()
    schemes = schemes[schemes.trust_code == t["code"]].copy()
    names = {(s.trust_code, s.scheme_id): s.name for s in result.portfolio.cip}
    schemes["name"] = [names.get((t["code"], sid), "") for sid in schemes.scheme_id]
    monthly = result.monthly()
    monthly = monthly[(monthly.trust_code == t["code"]) & (monthly.year == 1)]
    return TrustView(
        t=t,
        figures=result.figures[0],
        schemes=schemes,
        monthly=monthly,
        sim=sim["trusts"][0] if sim is not None else None,
        draws=int(simulation.provenance["draws"]) if simulation is not None else None,
        seed=simulation.provenance.get("seed") if simulation is not None else None,
        unverified=len(result.provenance.get("unverified", [])),
    )


def _trust_pages(result: RunResult, v: TrustView, simulation: Any, goal: Any) -> list[_PageSpec]:
    from cipmodel.report.trust_pages import charts_page, regime_page, summary_page
    from cipmodel.report.year_pages import views_page, years_page

    pages = [
        _PageSpec("Summary for the board", lambda p: summary_page(p, v)),
        _PageSpec(
            "Every plan year: control total, STF/PSF, score and CIP",
            lambda p: years_page(p, v, result),
        ),
        _PageSpec(
            "The plan's risk: risk-adjusted, underlying and the bridge",
            lambda p: views_page(p, v, result),
        ),
        _PageSpec("Charts: year to date, STF/PSF and the CIP", lambda p: charts_page(p, v, result)),
        _PageSpec(
            "STF/PSF and the finance and use of resources score",
            lambda p: regime_page(p, v),
        ),
    ]
    if simulation is not None:
        from cipmodel.report.simulation_page import simulation_page

        pages.append(
            _PageSpec(
                "Simulation: how likely is the plan?",
                lambda p: simulation_page(p, v, simulation, goal),
            )
        )
    return pages


def _portfolio_pages(result: RunResult, sim: dict[str, Any] | None) -> list[_PageSpec]:
    from cipmodel.report.portfolio_pages import portfolio_specs

    return [_PageSpec(h, d) for h, d in portfolio_specs(result, sim)]


def _simulation_dict(simulation: SimulationResult) -> dict[str, Any]:
    """The ``simulate --json`` contract of a simulation.

    A metric that does not apply to a trust (no agency ceiling, say) has no percentiles:
    numpy warns on the all-NaN slice while they come out as None, which is what they are.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "All-NaN slice encountered", RuntimeWarning)
        return simulation.to_dict()


def _metadata(result: RunResult, simulation: Any, when: datetime) -> dict[str, Any]:
    prov = result.provenance
    trusts = result.figures
    if len(trusts) == 1:
        title = f"{trusts[0].name} ({trusts[0].code}): board report {trusts[0].financial_year}"
    else:
        title = f"{result.portfolio.name}: board report, {len(trusts)} trusts"
    keywords = [
        f"cipmodel {__version__}",
        f"input {prov.get('input_hash', '')}",
        f"rules {', '.join(prov.get('rules', []))}",
    ]
    subject = "Plan run: control total, CIP, STF/PSF and the SOF finance score (£000)"
    if simulation is not None:
        sp = simulation.provenance
        keywords.append(f"seed {sp.get('seed')}")
        keywords.append(f"draws {sp.get('draws')}")
        subject = subject.replace("Plan run", "Plan run and simulation")
    return {
        "Title": title,
        "Author": "cipmodel",
        "Subject": subject,
        "Keywords": "; ".join(keywords),
        "Creator": f"cipmodel {__version__}",
        "CreationDate": when,
        "ModDate": when,
    }
