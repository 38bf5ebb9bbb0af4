"""The answers of a simulation: :class:`SimulationResult`, as tidy tables and as the
``simulate --json`` contract.

:func:`cipmodel.montecarlo.simulation.simulate` returns one; everything here reads the
merged summaries (:class:`~cipmodel.montecarlo.summary.Collector`) and the plan run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, overload

import numpy as np
from numpy.typing import NDArray

from cipmodel.calendar import QUARTERS
from cipmodel.engine.metrics import METRICS
from cipmodel.formatting import json_float as _f
from cipmodel.montecarlo.context import SimulationContext
from cipmodel.montecarlo.priors import Priors
from cipmodel.montecarlo.sensitivity import sensitivity
from cipmodel.montecarlo.streams import SeedLike
from cipmodel.montecarlo.summary import PERCENTILES, Collector
from cipmodel.montecarlo.years import years_frame, years_json
from cipmodel.results.run import RunResult

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SimulationResult"]

#: The outputs reported with percentiles in ``simulate --json``, one value per trust.
JSON_PERCENTILE_OUTPUTS = (
    "surplus_pre_stf",
    "variance",
    "reported_surplus",
    "stf_earned",
    "stf_lost",
    "cip_delivered",
    "cip_delivered_pct",
    "agency",
)


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """The answers of a simulation, as tidy DataFrames and the ``simulate --json`` contract.

    Attributes
    ----------
    run : RunResult
        The plan run (planned values): the deterministic answers.
    collector : Collector
        The merged summaries and the kept per-draw outputs.
    priors : Priors
    seed : int or SeedSequence
        The seed used (a fresh one was picked if none was given).
    provenance : dict
        The run's provenance plus seed, sampler, draws, chunk size, priors.
    years_collector : Collector, optional
        The summaries of plan years 2 onwards (None for a plan of one year).
    """

    run: RunResult
    context: SimulationContext = field(repr=False)
    collector: Collector = field(repr=False)
    priors: Priors
    seed: SeedLike
    provenance: dict[str, Any]
    years_collector: Collector | None = field(default=None, repr=False)

    @property
    def n_draws(self) -> int:
        return self.collector.n

    @property
    def codes(self) -> tuple[str, ...]:
        return self.run.plan.codes

    @overload
    def se(self, p: float) -> float: ...
    @overload
    def se(self, p: NDArray[np.float64]) -> NDArray[np.float64]: ...
    def se(self, p: float | NDArray[np.float64]) -> float | NDArray[np.float64]:
        """Monte Carlo standard error of a probability (binomial; conservative for QMC)."""
        out: float | NDArray[np.float64] = np.sqrt(p * (1 - p) / max(self.n_draws, 1))
        return out

    # -- tidy tables ------------------------------------------------------------------
    def probabilities(self) -> pd.DataFrame:
        """One row per trust, measure and period: probability and its standard error."""
        import pandas as pd

        c = self.collector
        rows = []
        measures = [
            ("meet_control_total", "year", c.probability("met_year")[:, 0]),
            *[
                ("meet_control_total", f"{q.upper()} YTD", c.probability("met_q")[:, i])
                for i, q in enumerate(QUARTERS)
            ],
            *[
                ("funding_gate", q.upper(), c.probability("gate_met_q")[:, i])
                for i, q in enumerate(QUARTERS)
            ],
            *[
                ("ae_trajectory_met", q.upper(), c.probability("ae_met_q")[:, i])
                for i, q in enumerate(QUARTERS)
            ],
            ("finance_trigger", "year", c.probability("trigger")[:, 0]),
        ]
        for i, code in enumerate(self.codes):
            for measure, period, p in measures:
                rows.append(
                    {
                        "trust_code": code,
                        "measure": measure,
                        "period": period,
                        "probability": float(p[i]),
                        "se": float(self.se(p[i])),
                    }
                )
        return pd.DataFrame(rows)

    def _pct_rows(self, name: str, labels: list[str]) -> list[dict[str, Any]]:
        c = self.collector
        pct = c.percentiles(name)
        mean, sd = c.mean(name), c.std(name)
        rows = []
        for i, code in enumerate(self.codes):
            for j, label in enumerate(labels):
                row = {
                    "trust_code": code,
                    "output": label,
                    "mean": mean[i, j],
                    "sd": sd[i, j],
                    "min": c.min[name][i, j],
                }
                for k, q in enumerate(PERCENTILES):
                    row[f"p{q}"] = pct[k, i, j]
                row["max"] = c.max[name][i, j]
                rows.append(row)
        return rows

    def percentiles(self) -> pd.DataFrame:
        """One row per trust and output: mean, sd, min, P5..P95, max (£000 or fractions)."""
        import pandas as pd

        rows = []
        for name in (
            "surplus_pre_stf",
            "variance",
            "reported_surplus",
            "stf_earned",
            "stf_lost",
            "cip_delivered",
            "cip_delivered_pct",
            "cip_nonrecurrent",
            "agency",
        ):
            rows += self._pct_rows(name, [name])
        rows += self._pct_rows("ytd_variance_q", [f"ytd_variance_{q}" for q in QUARTERS])
        rows += self._pct_rows("stf_earned_q", [f"stf_earned_{q}" for q in QUARTERS])
        rows += self._pct_rows("metrics", list(METRICS))
        return pd.DataFrame(rows)

    def fan_chart(self) -> pd.DataFrame:
        """Monthly fan chart data: YTD pre-STF surplus percentiles against the YTD control total."""
        import pandas as pd

        c = self.collector
        pct = c.percentiles("ytd_surplus")
        mean = c.mean("ytd_surplus")
        ct = np.cumsum(self.context.plan.ct_month[:, 0], axis=-1)
        rows = []
        for i, code in enumerate(self.codes):
            for m in range(12):
                row = {
                    "trust_code": code,
                    "month": m + 1,
                    "ytd_control_total": ct[i, m],
                    "mean": mean[i, m],
                }
                for k, q in enumerate(PERCENTILES):
                    row[f"p{q}"] = pct[k, i, m]
                rows.append(row)
        return pd.DataFrame(rows)

    def funding(self) -> pd.DataFrame:
        """One row per trust and quarter: STF/PSF available, expected earned and lost, spread."""
        import pandas as pd

        c = self.collector
        f = self.run.assessment.funding
        earned, lost = c.mean("stf_earned_q"), c.mean("stf_lost_q")
        pct = c.percentiles("stf_earned_q")
        gate = c.probability("gate_met_q")
        rows = []
        for i, code in enumerate(self.codes):
            for q in range(4):
                row = {
                    "trust_code": code,
                    "quarter": QUARTERS[q].upper(),
                    "available": f.available[0, i, q],
                    "p_gate_met": gate[i, q],
                    "expected_earned": earned[i, q],
                    "expected_lost": lost[i, q],
                }
                for k, pq in enumerate(PERCENTILES):
                    row[f"earned_p{pq}"] = pct[k, i, q]
                rows.append(row)
        return pd.DataFrame(rows)

    def scores(self) -> pd.DataFrame:
        """P(score = 1..4) of each metric (full year) and of the overall score by quarter."""
        import pandas as pd

        c = self.collector
        ms, sq = c.distribution("metric_scores"), c.distribution("score_q")
        seg = c.distribution("segment")[:, 0]
        rows = []
        for i, code in enumerate(self.codes):
            for j, m in enumerate(METRICS):
                rows.append(
                    {
                        "trust_code": code,
                        "metric": m,
                        "period": "full year",
                        **{f"p_{k}": ms[i, j, k] for k in range(1, 5)},
                        "p_not_applicable": ms[i, j, 0],
                    }
                )
            for q in range(4):
                rows.append(
                    {
                        "trust_code": code,
                        "metric": "overall",
                        "period": "full year" if q == 3 else f"Q{q + 1} YTD",
                        **{f"p_{k}": sq[i, q, k] for k in range(1, 5)},
                        "p_not_applicable": 0.0,
                    }
                )
            rows.append(
                {
                    "trust_code": code,
                    "metric": "candidate_segment",
                    "period": "full year",
                    **{f"p_{k}": seg[i, k] for k in range(1, 5)},
                    "p_not_applicable": 0.0,
                }
            )
        return pd.DataFrame(rows)

    def per_draw(self) -> pd.DataFrame:
        """The kept draws (the first ``collector.n_kept``): one row per draw and trust."""
        import pandas as pd

        c = self.collector
        n = c.n_kept
        t = len(self.codes)
        out = {
            "draw": np.repeat(np.arange(n), t),
            "trust_code": np.tile(np.array(self.codes, dtype=object), n),
        }
        for name in (
            "surplus_pre_stf",
            "variance",
            "reported_surplus",
            "stf_earned",
            "stf_lost",
            "cip_delivered",
            "cip_delivered_pct",
            "agency",
        ):
            out[name] = c.kept[name][:n, :, 0].ravel()
        out["met_control_total"] = c.kept["met_year"][:n, :, 0].ravel()
        out["overall_score"] = c.kept["score_q"][:n, :, 3].ravel().astype(int)
        out["finance_trigger"] = c.kept["trigger"][:n, :, 0].ravel()
        return pd.DataFrame(out)

    def summary(self) -> pd.DataFrame:
        """One row per trust: the key numbers of the simulation next to the plan run."""
        import pandas as pd

        c = self.collector
        pm = c.probability("met_year")[:, 0]
        pq, gate = c.probability("met_q"), c.probability("gate_met_q")
        pct = c.percentiles("surplus_pre_stf")[:, :, 0]
        s = self.run.solved
        plan_surplus = self.run.trust_summary().query("year == 1").surplus_pre_stf.to_numpy()
        rows = []
        for i, code in enumerate(self.codes):
            rows.append(
                {
                    "trust_code": code,
                    "draws": c.n,
                    "p_meet_control_total": pm[i],
                    "se": float(self.se(pm[i])),
                    **{f"p_meet_ytd_{q}": pq[i, k] for k, q in enumerate(QUARTERS)},
                    **{f"p_funding_gate_{q}": gate[i, k] for k, q in enumerate(QUARTERS)},
                    "control_total_pre_stf": self.context.plan.ct_target[i, 0],
                    "plan_surplus_pre_stf": plan_surplus[i],
                    "mean_surplus_pre_stf": c.mean("surplus_pre_stf")[i, 0],
                    "p5_surplus_pre_stf": pct[0, i],
                    "p50_surplus_pre_stf": pct[3, i],
                    "p95_surplus_pre_stf": pct[6, i],
                    "stf_allocation": self.run.assessment.funding.allocation[i],
                    "expected_stf_earned": c.mean("stf_earned")[i, 0],
                    "expected_stf_lost": c.mean("stf_lost")[i, 0],
                    "cip_planned": s.planned[i],
                    "expected_cip_delivered": c.mean("cip_delivered")[i, 0],
                    "p_finance_trigger": c.probability("trigger")[i, 0],
                    **{f"p_score_{k}": c.distribution("score_q")[i, 3, k] for k in range(1, 5)},
                }
            )
        return pd.DataFrame(rows)

    def years(self) -> pd.DataFrame:
        """One row per trust and plan year (to its horizon): P(meet the control total) before
        and after STF/PSF with their standard errors, the pre-STF surplus's mean, sd and
        P5/P10/P50/P90/P95, expected STF/PSF earned and reported surplus, and the year's own
        CIP planned and expected delivered, next to the plan run's figures. Year 1's row is
        the simulation's year-1 figures; a value the year does not have (no control total,
        not assessed) is None."""
        return years_frame(self.run, self.collector, self.years_collector)

    @cached_property
    def _sensitivity(self) -> pd.DataFrame:
        return sensitivity(self)

    def sensitivity(self) -> pd.DataFrame:
        """What drives missing the control total: rank correlations, contribution to
        variance and first-order Sobol' indices (see :mod:`cipmodel.montecarlo.sensitivity`)."""
        return self._sensitivity

    def sheets(self) -> dict[str, pd.DataFrame]:
        """Result sheets for a results workbook: the plan run's plus the simulation's
        (``Simulation``: one row per trust; then percentiles, scores, funding by quarter,
        the monthly fan chart and the drivers)."""
        r = self.run
        return {
            "Summary": r.trust_summary(),
            "Monthly": r.monthly(),
            "STF by quarter": r.funding(),
            "Metrics": r.metrics(),
            "Lines": r.lines(),
            "Schemes": r.schemes(),
            **self.simulation_sheets(),
        }

    def simulation_sheets(self) -> dict[str, pd.DataFrame]:
        """The simulation's own sheets (``Simulation`` and the ``Simulation ...`` tables)."""
        return {
            "Simulation": self.summary(),
            "Simulation years": self.years(),
            "Simulation percentiles": self.percentiles(),
            "Simulation scores": self.scores(),
            "Simulation funding": self.funding(),
            "Simulation fan chart": self.fan_chart(),
            "Simulation drivers": self.sensitivity(),
        }

    # -- JSON -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """``run --json`` plus, per trust, ``probability``, ``percentiles``,
        ``funding_expected`` (plan year 1), and under each of its plan ``years`` a
        ``simulation`` object (:func:`~cipmodel.montecarlo.years.years_json`); provenance adds the seed, sampler and
        draws."""
        run = self.run.to_dict()
        d: dict[str, Any] = dict(run)
        trusts: list[dict[str, Any]] = [dict(t) for t in run["trusts"]]
        json = _SimulationJson(self)
        years = years_json(self.run, self.collector, self.years_collector)
        for i, t in enumerate(trusts):
            t["probability"] = json.probability(i)
            t["percentiles"] = json.percentiles(i)
            t["funding_expected"] = json.funding_expected(i)
            sims = years[i]  # the simulated years: all, or year 1 only (later_years=False)
            t["years"] = [
                {**y, "simulation": sims[k]} if k < len(sims) else dict(y)
                for k, y in enumerate(t["years"])
            ]
        d["trusts"] = trusts
        d["provenance"] = self.provenance
        return d


def _dist(row: NDArray[np.float64], na: bool = False) -> dict[str, float | None]:
    """P(score or segment = 1..4) (and not applicable) as JSON."""
    out = {str(k): _f(row[k]) for k in range(1, 5)}
    if na:
        out["not_applicable"] = _f(row[0])
    return out


class _SimulationJson:
    """The simulation's parts of each trust in ``simulate --json``: every trust's numbers
    are read from the summaries once, then taken a trust at a time."""

    def __init__(self, result: SimulationResult) -> None:
        self.result = result
        c = self.c = result.collector
        self.pm = c.probability("met_year")[:, 0]
        self.pq = c.probability("met_q")
        self.gate = c.probability("gate_met_q")
        self.ae = c.probability("ae_met_q")
        self.trig = c.probability("trigger")[:, 0]
        self.sq = c.distribution("score_q")
        self.ms = c.distribution("metric_scores")
        self.seg = c.distribution("segment")[:, 0]
        self.earned, self.lost = c.mean("stf_earned_q"), c.mean("stf_lost_q")
        self.earned_pct = c.percentiles("stf_earned_q")
        self.year_earned, self.year_lost = c.mean("stf_earned"), c.mean("stf_lost")
        self._cache: dict[str, tuple[NDArray[np.float64], ...]] = {}

    def probability(self, i: int) -> dict[str, Any]:
        """``probability``: of meeting the control total, the gate, A&E, the trigger, and the
        distributions of the scores and the candidate segment."""
        pm, pq, gate, ae, sq, ms = self.pm, self.pq, self.gate, self.ae, self.sq, self.ms
        return {
            "meet_control_total": _f(pm[i]),
            "meet_control_total_se": _f(self.result.se(pm[i])),
            "quarters": {q: _f(pq[i, k]) for k, q in enumerate(QUARTERS)},
            "funding_gate": {q: _f(gate[i, k]) for k, q in enumerate(QUARTERS)},
            "ae_trajectory_met": {q: _f(ae[i, k]) for k, q in enumerate(QUARTERS)},
            "finance_trigger": _f(self.trig[i]),
            "score": {
                "overall": _dist(sq[i, 3]),
                "by_quarter": {q: _dist(sq[i, k]) for k, q in enumerate(QUARTERS)},
                "metrics": {m: _dist(ms[i, j], na=True) for j, m in enumerate(METRICS)},
            },
            "candidate_segment": _dist(self.seg[i]),
        }

    def _pcts(self, name: str, i: int, j: int = 0) -> dict[str, float | None]:
        c = self.c
        if name not in self._cache:  # every trust's numbers at once, once per output
            self._cache[name] = (
                c.percentiles(name),
                c.mean(name),
                c.std(name),
                c.min[name],
                c.max[name],
            )
        p, mean, sd, mn, mx = self._cache[name]
        out = {"mean": _f(mean[i, j]), "sd": _f(sd[i, j]), "min": _f(mn[i, j])}
        out.update({f"p{q}": _f(p[k, i, j]) for k, q in enumerate(PERCENTILES)})
        out["max"] = _f(mx[i, j])
        return out

    def percentiles(self, i: int) -> dict[str, Any]:
        """``percentiles``: mean, sd, min, P5..P95 and max of each output."""
        return {
            **{name: self._pcts(name, i) for name in JSON_PERCENTILE_OUTPUTS},
            "ytd_variance": {q: self._pcts("ytd_variance_q", i, k) for k, q in enumerate(QUARTERS)},
            "metrics": {m: self._pcts("metrics", i, j) for j, m in enumerate(METRICS)},
        }

    def funding_expected(self, i: int) -> dict[str, dict[str, float | None]]:
        """``funding_expected``: STF/PSF expected earned and lost by quarter and for the year."""
        out = {
            q: {
                "earned": _f(self.earned[i, k]),
                "lost": _f(self.lost[i, k]),
                **{
                    f"earned_p{pq_}": _f(self.earned_pct[n, i, k])
                    for n, pq_ in enumerate(PERCENTILES)
                },
            }
            for k, q in enumerate(QUARTERS)
        }
        out["year"] = {
            "earned": _f(self.year_earned[i, 0]),
            "lost": _f(self.year_lost[i, 0]),
        }
        return out
