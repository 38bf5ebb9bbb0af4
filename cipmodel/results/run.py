"""Plan runs: project a portfolio at planned values and assess it against its control totals.

:func:`run_plan` is the orchestrator behind ``cipmodel run``: compile, project (one draw at
planned values), solve for the CIP needed and assess, then collect the answers into a
:class:`RunResult`. The result's figures are computed once
(:mod:`cipmodel.results.figures`); its DataFrame views (:mod:`cipmodel.results.tables`) and
the ``run --json`` contract (:mod:`cipmodel.results.contract`) both render them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from cipmodel.engine.assess import Assessment, assess
from cipmodel.engine.project import PlanArrays, Projection, compile_plan, project
from cipmodel.engine.solve import SolveResult, solve_cip
from cipmodel.inputs.records import Portfolio
from cipmodel.regime.packs import RulePack
from cipmodel.results.contract import RunDict, run_dict
from cipmodel.results.figures import MET_TOLERANCE, TrustFigures, trust_figures
from cipmodel.results.provenance import Provenance, input_hash, provenance
from cipmodel.results.tables import (
    funding_table,
    lines_table,
    metrics_table,
    monthly_table,
    schemes_table,
    summary_table,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MET_TOLERANCE", "RunResult", "input_hash", "provenance", "run_plan"]


@dataclass(frozen=True)
class RunResult:
    """The answers of a plan run.

    Attributes
    ----------
    portfolio : Portfolio
    plan : PlanArrays
    projection : Projection
        One draw at planned values.
    solved : SolveResult
        The CIP needed to meet the first-year control total.
    assessment : Assessment
        STF/PSF funding, SOF metrics, score and trigger for each plan year (year 1 at the
        top, later years in ``assessment.later``).
    provenance : dict
        Package version, schema version, input hash, rule packs.
    """

    portfolio: Portfolio
    plan: PlanArrays
    projection: Projection
    solved: SolveResult
    assessment: Assessment
    provenance: Provenance = field(default_factory=Provenance)
    solved_years: tuple[SolveResult | None, ...] = ()
    """The CIP needed in plan years 2, 3, ... (None where no trust has a control total)."""

    @cached_property
    def figures(self) -> tuple[TrustFigures, ...]:
        """Every trust's figures, in portfolio order: what the tables and the JSON show."""
        return trust_figures(
            self.portfolio,
            self.plan,
            self.projection,
            self.solved,
            self.assessment,
            self.solved_years,
        )

    # -- DataFrame views ------------------------------------------------------------
    def trust_summary(self) -> pd.DataFrame:
        """One row per trust and plan year: income, costs, surplus, control total, CIP."""
        return summary_table(self.figures)

    def monthly(self) -> pd.DataFrame:
        """Tidy monthly table: one row per trust and month, the I&E and YTD against plan."""
        return monthly_table(self.plan, self.projection)

    def lines(self) -> pd.DataFrame:
        """Annual value of every income and cost line, before CIP, CIP, and after [£000]."""
        return lines_table(self.plan, self.projection)

    def schemes(self) -> pd.DataFrame:
        """One row per scheme: its attributes and in-year effect in each plan year."""
        return schemes_table(self.plan, self.projection)

    def funding(self) -> pd.DataFrame:
        """One row per trust and quarter: STF/PSF available, earned and lost, gate met."""
        return funding_table(self.figures)

    def metrics(self) -> pd.DataFrame:
        """One row per trust, quarter end and metric: value, score, not-applicable reason."""
        return metrics_table(self.figures)

    # -- JSON ---------------------------------------------------------------------
    def to_dict(self) -> RunDict:
        """The ``run --json`` contract: money £000, rates fractions, snake_case keys."""
        return run_dict(self.figures, self.provenance)


def run_plan(
    portfolio: Portfolio,
    *,
    funding_rules: str | RulePack | None = None,
    sof_rules: str | RulePack = "sof-2016",
    catch_up: bool | None = None,
    bonus: bool = False,
    **provenance_extra: object,
) -> RunResult:
    """Run a portfolio at planned values and assess it.

    Parameters
    ----------
    portfolio : Portfolio
        One or more trusts.
    funding_rules : str, optional
        STF/PSF rule pack (name, ``name:variant`` or path); default: the pack of the
        portfolio's financial year.
        Sets plan year 1; later years take the pack of their own financial year.
    sof_rules : str
        SOF rule pack.
    catch_up : bool, optional
        Override the funding pack's catch-up switch.
    bonus : bool
        Share forfeited STF/PSF among the portfolio's trusts (whole-sector runs only).
    **provenance_extra
        Added to the result's provenance (e.g. ``scenario="base"``).

    Returns
    -------
    RunResult
    """
    plan = compile_plan(portfolio)
    proj = project(plan)
    solved = solve_cip(plan, base=proj)
    assessment = assess(
        proj,
        proj,
        funding_rules=funding_rules,
        sof_rules=sof_rules,
        catch_up=catch_up,
        bonus=bonus,
        financial_years={t.financial_year for t in portfolio.trusts},
    )
    solved_years = tuple(
        solve_cip(plan, year=y, base=proj, skip_missing=True)
        if np.isfinite(plan.ct_target[:, y - 1]).any()
        else None
        for y in range(2, plan.n_years + 1)
    )
    rules = ["cip-bands", *assessment.all_rules]
    return RunResult(
        portfolio=portfolio,
        plan=plan,
        projection=proj,
        solved=solved,
        assessment=assessment,
        provenance=provenance(
            portfolio, rules=rules, unverified=list(assessment.all_unverified), **provenance_extra
        ),
        solved_years=solved_years,
    )
