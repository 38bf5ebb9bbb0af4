"""Plan runs: project a portfolio at planned values and assess it against its control totals.

:func:`run_plan` is the orchestrator behind ``cipmodel run``: compile, project (one draw at
planned values), solve for the CIP needed, and collect the answers into a
:class:`RunResult` with tidy DataFrames and the JSON contract of ``run --json``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from cipmodel.calendar import QUARTER_END_INDEX, cip_share
from cipmodel.engine.assess import Assessment, assess
from cipmodel.engine.project import (
    CATEGORIES,
    IS_INCOME,
    LINES,
    RAGS,
    STAGES,
    PlanArrays,
    Projection,
    compile_plan,
    project,
)
from cipmodel.engine.solve import SolveResult, solve_cip
from cipmodel.formatting import json_float as _f
from cipmodel.inputs.records import TABLE_NAMES, Portfolio
from cipmodel.regime.packs import RulePack

__all__ = ["RunResult", "run_plan", "input_hash"]

MET_TOLERANCE = 1e-6  # £000: a forecast this close below the target still meets it


def input_hash(portfolio: Portfolio) -> str:
    """SHA-256 of the portfolio's content (every table, every field), as ``sha256:...``.

    Each record's ``repr`` lists every field in schema order (floats in their shortest
    round-trip form) and leaves out where it was read from, so the same plan gives the
    same hash whether it came from a workbook, a scenario or Python.
    """
    h = hashlib.sha256()
    for table in TABLE_NAMES:
        h.update(f"\n[{table}]".encode())
        for rec in getattr(portfolio, table):
            h.update(repr(rec).encode("utf-8"))
            h.update(b"\n")
    return "sha256:" + h.hexdigest()


def _b(x: Any) -> bool | None:
    """A JSON-safe bool (None stays None)."""
    return None if x is None or (isinstance(x, float) and np.isnan(x)) else bool(x)


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
        STF/PSF funding, SOF metrics, score and trigger for the first plan year.
    provenance : dict
        Package version, schema version, input hash, rule packs.
    """

    portfolio: Portfolio
    plan: PlanArrays
    projection: Projection
    solved: SolveResult
    assessment: Assessment
    provenance: dict[str, Any] = field(default_factory=dict)

    # -- per-trust, per-year figures ------------------------------------------------
    @cached_property
    def _years(self) -> dict[str, np.ndarray]:
        pr = self.projection
        y = pr.by_year
        cip_y = pr.cip_scheme_year[0]  # (S, Y)
        plan = self.plan
        n_t, n_y = plan.n_trusts, plan.n_years

        def per_trust(mask: np.ndarray) -> np.ndarray:
            out = np.zeros((n_t, n_y))
            np.add.at(out, plan.scheme_trust[mask], cip_y[mask])
            return out

        fye = np.zeros((n_t, n_y))
        for yr in range(n_y):
            live = (plan.scheme_start // 12 <= yr) & (
                plan.scheme_recurrent | (plan.scheme_start // 12 == yr)
            )
            np.add.at(fye[:, yr], plan.scheme_trust[live], plan.scheme_fye[live])
        return {
            "income": y(pr.operating_income)[0],
            "opex": y(pr.operating_expenditure)[0],
            "opex_do_nothing": y(pr.operating_expenditure_do_nothing)[0],
            "ebitda": y(pr.ebitda)[0],
            "non_operating": y(pr.non_operating)[0],
            "surplus": y(pr.surplus_pre_stf)[0],
            "cip": y(pr.cip_total)[0],
            "cip_unidentified": per_trust(plan.scheme_stage == STAGES.index("unidentified")),
            "cip_recurrent": per_trust(plan.scheme_recurrent),
            "cip_fye": fye,
            "agency": y(pr.agency)[0],
        }

    def trust_summary(self) -> pd.DataFrame:
        """One row per trust and plan year: income, costs, surplus, control total, CIP."""
        yrs = self._years
        plan = self.plan
        ytd_var = self.projection.ytd_variance()[0]  # (T, Y, 12)
        rows = []
        for i, code in enumerate(plan.codes):
            for yr in range(int(plan.horizon[i])):
                target = plan.ct_target[i, yr]
                surplus = yrs["surplus"][i, yr]
                opex_dn = yrs["opex_do_nothing"][i, yr]
                row = {
                    "trust_code": code,
                    "year": yr + 1,
                    "operating_income": yrs["income"][i, yr],
                    "operating_expenditure": yrs["opex"][i, yr],
                    "ebitda": yrs["ebitda"][i, yr],
                    "non_operating": yrs["non_operating"][i, yr],
                    "surplus_pre_stf": surplus,
                    "control_total_pre_stf": target,
                    "variance": surplus - target,
                    "met": bool(surplus - target >= -MET_TOLERANCE)
                    if np.isfinite(target)
                    else None,
                    "cip_planned": yrs["cip"][i, yr],
                    "cip_planned_pct": float(cip_share(yrs["cip"][i, yr], opex_dn)),
                    "cip_fye": yrs["cip_fye"][i, yr],
                    "cip_unidentified": yrs["cip_unidentified"][i, yr],
                    "cip_recurrent": yrs["cip_recurrent"][i, yr],
                    "opex_do_nothing": opex_dn,
                    "agency": yrs["agency"][i, yr],
                }
                for q, m in enumerate(QUARTER_END_INDEX, start=1):
                    row[f"ytd_variance_q{q}"] = ytd_var[i, yr, m]
                rows.append(row)
        return pd.DataFrame(rows)

    def monthly(self) -> pd.DataFrame:
        """Tidy monthly table: one row per trust and month, the I&E and YTD against plan."""
        pr = self.projection
        plan = self.plan
        n_t, n_m = plan.n_trusts, plan.n_months
        months = np.arange(n_m)
        ytd_s = pr.ytd(pr.surplus_pre_stf)[0].reshape(n_t, n_m)
        ytd_ct = pr.control_total_ytd().reshape(n_t, n_m)
        data = {
            "trust_code": np.repeat(np.array(plan.codes, dtype=object), n_m),
            "year": np.tile(months // 12 + 1, n_t),
            "month": np.tile(months % 12 + 1, n_t),
            "operating_income": pr.operating_income[0].ravel(),
            "pay": pr.pay[0].ravel(),
            "non_pay": pr.non_pay[0].ravel(),
            "ebitda": pr.ebitda[0].ravel(),
            "non_operating": pr.non_operating[0].ravel(),
            "cip": pr.cip_total[0].ravel(),
            "surplus_pre_stf": pr.surplus_pre_stf[0].ravel(),
            "ytd_surplus_pre_stf": ytd_s.ravel(),
            "ytd_control_total": ytd_ct.ravel(),
            "ytd_variance": (ytd_s - ytd_ct).ravel(),
        }
        df = pd.DataFrame(data)
        keep = plan.month_mask.ravel()
        return df[keep].reset_index(drop=True)

    def lines(self) -> pd.DataFrame:
        """Annual value of every income and cost line, before CIP, CIP, and after [£000]."""
        pr = self.projection
        dn = pr.by_year(pr.do_nothing[0])  # (T, L, Y)
        cip = pr.by_year(pr.cip[0])
        rows = []
        for i, code in enumerate(self.plan.codes):
            for yr in range(int(self.plan.horizon[i])):
                for li, line in enumerate(LINES):
                    sign = 1.0 if IS_INCOME[li] else -1.0
                    rows.append(
                        {
                            "trust_code": code,
                            "year": yr + 1,
                            "line": line,
                            "do_nothing": dn[i, li, yr],
                            "cip": cip[i, li, yr],
                            "plan": dn[i, li, yr] + sign * cip[i, li, yr],
                        }
                    )
        return pd.DataFrame(rows)

    def schemes(self) -> pd.DataFrame:
        """One row per scheme: its attributes and in-year effect in each plan year."""
        plan = self.plan
        eff = self.projection.cip_scheme_year[0]
        df = pd.DataFrame(
            {
                "trust_code": [plan.codes[t] for t in plan.scheme_trust],
                "scheme_id": [s.split("/", 1)[1] for s in plan.scheme_ids],
                "category": [CATEGORIES[c] for c in plan.scheme_category],
                "line": [LINES[x] for x in plan.scheme_line],
                "stage": [STAGES[x] for x in plan.scheme_stage],
                "rag": [RAGS[x] for x in plan.scheme_rag],
                "recurrent": plan.scheme_recurrent,
                "value_fye": plan.scheme_fye,
            }
        )
        for yr in range(plan.n_years):
            df[f"in_year_y{yr + 1}"] = eff[:, yr] if len(df) else []
        return df

    def funding(self) -> pd.DataFrame:
        """One row per trust and quarter: STF/PSF available, earned and lost, gate met."""
        f = self.assessment.funding
        rows = []
        for i, code in enumerate(self.plan.codes):
            for q in range(4):
                rows.append(
                    {
                        "trust_code": code,
                        "quarter": f"Q{q + 1}",
                        "ytd_surplus_pre_stf": self.projection.ytd(self.projection.surplus_pre_stf)[
                            0, i, 0, QUARTER_END_INDEX[q]
                        ],
                        "ytd_control_total_pre_stf": self.projection.control_total_ytd()[
                            i, 0, QUARTER_END_INDEX[q]
                        ],
                        "gate_met": bool(f.met_quarter[0, i, q]),
                        "available": f.available[0, i, q],
                        "finance_earned": f.finance_earned[0, i, q],
                        "performance_earned": f.performance_earned[0, i, q],
                        "earned": f.earned[0, i, q],
                        "lost": f.lost[0, i, q],
                    }
                )
        return pd.DataFrame(rows)

    def metrics(self) -> pd.DataFrame:
        """One row per trust, quarter end and metric: value, score, not-applicable reason."""
        a = self.assessment
        rows = []
        for i, code in enumerate(self.plan.codes):
            for q, (mv, sc) in enumerate(zip(a.metrics, a.scores, strict=True)):
                for name in mv.values:
                    value = mv.values[name][0, i]
                    rows.append(
                        {
                            "trust_code": code,
                            "period": f"Q{q + 1} YTD" if q < 3 else "full year",
                            "metric": name,
                            "value": None if not np.isfinite(value) else float(value),
                            "score": int(sc.metric_scores[name][0, i]) or None,
                            "not_applicable": str(mv.not_applicable[name][0, i]),
                        }
                    )
                rows.append(
                    {
                        "trust_code": code,
                        "period": f"Q{q + 1} YTD" if q < 3 else "full year",
                        "metric": "overall",
                        "value": float(np.asarray(sc.mean)[0, i]),
                        "score": int(np.asarray(sc.overall)[0, i]),
                        "not_applicable": "",
                    }
                )
        return pd.DataFrame(rows)

    # -- JSON ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The ``run --json`` contract: money £000, rates fractions, snake_case keys."""
        summary = self.trust_summary()
        s = self.solved
        trusts = []
        for i, code in enumerate(self.plan.codes):
            rows = summary[summary.trust_code == code].set_index("year")
            first = rows.loc[1]
            trust = self.portfolio.trusts[i]
            years = []
            for yr, r in rows.iterrows():
                years.append(
                    {
                        "year": int(yr),
                        "surplus_pre_stf": _f(r.surplus_pre_stf),
                        "control_total_pre_stf": _f(r.control_total_pre_stf),
                        "variance": _f(r.variance),
                        "met": _b(r.met),
                        "cip_planned": _f(r.cip_planned),
                        "cip_planned_pct": _f(r.cip_planned_pct),
                        "operating_income": _f(r.operating_income),
                        "operating_expenditure": _f(r.operating_expenditure),
                    }
                )
            trusts.append(
                {
                    "code": code,
                    "name": trust.name,
                    "trust_type": trust.trust_type,
                    "financial_year": trust.financial_year,
                    "control_total": {
                        "basis": "pre_stf",
                        "target": _f(first.control_total_pre_stf),
                        "forecast": _f(first.surplus_pre_stf),
                        "variance": _f(first.variance),
                        "met": _b(first.met),
                        "accepted": bool(self.plan.ct_accepted[i, 0]),
                        "quarters": {f"q{q}": _f(first[f"ytd_variance_q{q}"]) for q in range(1, 5)},
                    },
                    "cip": {
                        "planned": _f(s.planned[i]),
                        "planned_pct": _f(s.planned_pct[i]),
                        "planned_fye": _f(first.cip_fye),
                        "unidentified": _f(first.cip_unidentified),
                        "recurrent": _f(first.cip_recurrent),
                        "needed": _f(s.needed[i]),
                        "needed_pct": _f(s.needed_pct[i]),
                        "needed_band": str(s.band[i]),
                        "met_without_cip": bool(s.met_without_cip[i]),
                        "delivered": _f(s.planned[i]),
                        "delivered_pct": _f(s.planned_pct[i]),
                    },
                    "funding": self._funding_dict(i),
                    "reported_surplus": _f(self.assessment.reported_surplus_ytd[0, i, 3]),
                    "metrics": self._metrics_dict(i),
                    "score": self.assessment.score_dict(0, i),
                    "score_by_quarter": {
                        f"q{q + 1}": int(np.asarray(sc.overall)[0, i])
                        for q, sc in enumerate(self.assessment.scores)
                    },
                    "finance_trigger": bool(self.assessment.trigger[0, i]),
                    "candidate_segment": {
                        "segment": int(self.assessment.segment.segment[0, i]),
                        "label": "candidate",
                        "note": "finance theme only; segmentation is the regulator's judgement",
                    },
                    "income_and_expenditure": {
                        "operating_income": _f(first.operating_income),
                        "operating_expenditure": _f(first.operating_expenditure),
                        "ebitda": _f(first.ebitda),
                        "non_operating": _f(first.non_operating),
                        "surplus_pre_stf": _f(first.surplus_pre_stf),
                    },
                    "years": years,
                }
            )
        return {"trusts": trusts, "provenance": self.provenance}

    def _funding_dict(self, i: int) -> dict[str, Any]:
        f = self.assessment.funding
        return {
            "rules": self.assessment.rules["funding"],
            "allocation": _f(f.allocation[i]),
            "quarters": {
                f"q{q + 1}": {
                    "available": _f(f.available[0, i, q]),
                    "earned": _f(f.earned[0, i, q]),
                    "lost": _f(f.lost[0, i, q]),
                    "gate_met": bool(f.met_quarter[0, i, q]),
                }
                for q in range(4)
            },
            "catch_up_released": _f(f.released_catch_up[0, i]),
            "incentive": _f(f.incentive[0, i]),
            "bonus": _f(f.bonus[0, i]),
            "earned": _f(f.total_earned[0, i]),
            "lost": _f(f.forfeited[0, i]),
        }

    def _metrics_dict(self, i: int) -> dict[str, Any]:
        mv = self.assessment.full_year_metrics
        sc = self.assessment.full_year_score
        out: dict[str, Any] = {}
        for name in mv.values:
            reason = str(mv.not_applicable[name][0, i])
            value = mv.values[name][0, i]
            entry: dict[str, Any] = {
                "value": _f(value),
                "score": int(sc.metric_scores[name][0, i]) or None,
            }
            if reason:
                entry["not_applicable"] = reason
            out[name] = entry
        return out


def provenance(portfolio: Portfolio, **extra: Any) -> dict[str, Any]:
    """What a result was made from: package and schema version, input hash, and ``extra``."""
    from cipmodel.inputs.schema import load_schema
    from cipmodel.version import __version__

    out: dict[str, Any] = {
        "package": "cipmodel",
        "version": __version__,
        "schema_version": load_schema().version,
        "input": portfolio.name,
        "input_hash": input_hash(portfolio),
        "trusts": len(portfolio.trusts),
    }
    out.update(extra)
    return out


def run_plan(
    portfolio: Portfolio,
    *,
    funding_rules: str | RulePack | None = None,
    sof_rules: str | RulePack = "sof-2016",
    catch_up: bool | None = None,
    bonus: bool = False,
    **provenance_extra: Any,
) -> RunResult:
    """Run a portfolio at planned values and assess it.

    Parameters
    ----------
    portfolio : Portfolio
        One or more trusts.
    funding_rules : str, optional
        STF/PSF rule pack (name, ``name:variant`` or path); default: the pack of the
        portfolio's financial year.
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
    rules = ["cip-bands", *assessment.rules.values()]
    return RunResult(
        portfolio=portfolio,
        plan=plan,
        projection=proj,
        solved=solved,
        assessment=assessment,
        provenance=provenance(
            portfolio, rules=rules, unverified=list(assessment.unverified), **provenance_extra
        ),
    )
