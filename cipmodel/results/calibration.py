"""Calibration of the synthetic national portfolio against the sector aggregates it targets.

The generator (:mod:`cipmodel.examples.national`) builds inputs only; measuring what those inputs
give needs a plan run, so the check lives here, in the results layer. The table is the one in
``docs/national-portfolio.md``.

The targets are data (:data:`TARGETS`: the band, unit and source of each); :func:`measures`
computes what a portfolio achieves on each; :func:`calibration_table` puts the two side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from cipmodel.examples.national import (
    DEEP_DEFICIT_MARGIN,
    REFERENCE_TRUSTS,
    TRUST_TYPES,
    national_portfolio,
    type_counts,
)
from cipmodel.inputs.records import Portfolio
from cipmodel.results.run import run_plan

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TARGETS", "Target", "calibration_table", "measures"]


@dataclass(frozen=True)
class Target:
    """One calibration target: the band its measure should fall in, and where that comes from.

    With ``per_sector`` the band is stated for the reference sector of 235 trusts and scales
    pro rata: ``low * k * low_factor`` to ``high * k * high_factor`` with
    ``k = trusts / 235`` (the factors are a tolerance around a round figure). Otherwise it
    holds at any size. With ``per_type`` the target stands for one row per trust type
    (``name`` formatted with the type), each expecting exactly the suggested mix.
    """

    name: str
    low: float
    high: float
    unit: str
    source: str
    per_sector: bool = False
    low_factor: float = 1.0
    high_factor: float = 1.0
    per_type: bool = False

    def bounds(self, k: float) -> tuple[float, float]:
        """``(low, high)`` for a portfolio of ``k`` reference sectors."""
        if not self.per_sector:
            return self.low, self.high
        return self.low * k * self.low_factor, self.high * k * self.high_factor


_INF = float("inf")

#: Every calibration target, in the order of the table (domain.md sections and tags).
TARGETS: tuple[Target, ...] = (
    Target("trusts", 230, 240, "count", "§5.1 [V] (234 in 2017/18)", per_sector=True),
    Target("{} trusts", 0, 0, "count", "§5.1 suggested mix [V-derived]", per_type=True),
    Target(
        "CIP schemes",
        9000,
        9000,
        "count",
        "brief: ~9,000",
        per_sector=True,
        low_factor=0.85,
        high_factor=1.15,
    ),
    Target(
        "operating income", 76.0, 84.0, "£bn", "§5.2 ~£78–82bn [V-derived]/[B]", per_sector=True
    ),
    Target("planned CIP % of do-nothing opex", 4.0, 4.5, "%", "§4.2, §3.1 4.2% [V]"),
    Target("non-recurrent share of planned CIP", 25.0, 30.0, "%", "§4.2 [V]"),
    Target(
        "sector planned surplus pre-STF",
        -2.4,
        -1.8,
        "£bn",
        "§5.2 plan (£496m) less £1.6bn STF [V-derived]; 2016/17 ~(£2.4bn) [V]",
        per_sector=True,
    ),
    Target(
        "trusts planning a pre-STF deficit",
        125,
        170,
        "count",
        "more than the ~100 after STF (§5.3); Q2 2016/17 YTD 142 [V]",
        per_sector=True,
    ),
    Target(
        "trusts in deficit after STF (accepted CT)",
        80,
        125,
        "count",
        "§5.3: 102 (2017/18), 105 (2016/17) reported [V]",
        per_sector=True,
    ),
    Target(
        "deep-deficit acute (deficit > 5% of income)",
        15,
        25,
        "count",
        "§5.5: 20 acute in segment 4 [V]; §5.3",
        per_sector=True,
    ),
    Target(
        "plans meeting their control total",
        140,
        180,
        "count",
        "§3.2: 75 missed pre-STF CT at outturn [V]",
        per_sector=True,
    ),
    Target("control totals not accepted", 20.0, 30.0, "%", "§3.2: ~60 of 238 [V]"),
    Target("acute control totals not accepted", 28.0, 38.0, "%", "§3.2: about 1 in 3 acute [V]"),
    Target(
        "mean CIP needed, CT not accepted", 5.4, 7.4, "%", "§3.1: rejected CTs averaged 6.4% [V]"
    ),
    Target(
        "financial special measures", 10, 14, "count", "§3.3: 12, all acute [V]", per_sector=True
    ),
    Target(
        "STF allocated",
        1.6,
        1.8,
        "£bn",
        "§2.1: £1.5bn general + £0.1bn non-acute of £1.8bn [V]",
        per_sector=True,
        low_factor=0.999,
    ),
    Target("agency spend planned", 2.4, 2.9, "£bn", "§5.4 [V]/[B]", per_sector=True),
    Target("agency ceilings", 2.4, 2.5, "£bn", "§5.4 ~£2.5bn [B]", per_sector=True),
    Target(
        "acute after STF (aggregate)",
        -_INF,
        0.0,
        "£bn",
        "§5.2: only acute in deficit in aggregate [V]",
    ),
    Target(
        "non-acute types after STF (smallest aggregate)",
        0.0,
        _INF,
        "£bn",
        "§5.2: MH, community, ambulance, specialist in surplus [V]",
    ),
    Target("CSC, median, non-acute in surplus", 1.5, 4.0, "x", "§5.6 prior 1.5–4x [B]"),
    Target("CSC, median, deep-deficit acute", -_INF, 1.0, "x", "§5.6 prior < 1x [B]"),
    Target("liquidity, median, deficit acute", -30.0, -5.0, "days", "§5.6 prior −10 to −30 [B]"),
    Target("liquidity, median, non-acute in surplus", 0.0, 40.0, "days", "§5.6 prior 0 to +40 [B]"),
)


def _median(x: npt.ArrayLike, mean: bool = False) -> float:
    """Median (or mean) of the finite values; NaN if there are none."""
    a = np.asarray(x, dtype=float)
    a = a[np.isfinite(a)]
    if not a.size:
        return float("nan")
    return float(a.mean() if mean else np.median(a))


def measures(portfolio: Portfolio) -> dict[str, float]:
    """What ``portfolio`` achieves on each target (first plan year of a plan run), by name.

    Per-type targets are keyed by their formatted name (``"acute trusts"``, ...).
    """
    p = portfolio
    r = run_plan(p)
    s = r.trust_summary()
    s = s[s.year == 1].reset_index(drop=True)
    types = np.array([t.trust_type for t in p.trusts])
    acute = types == "acute"
    accepted = np.array(
        [c.accepted for c in sorted(p.control_total, key=lambda c: c.year) if c.year == 1]
    )
    alloc = np.array([f.allocation for f in p.funding])
    pre = s.surplus_pre_stf.to_numpy()
    inc = s.operating_income.to_numpy()
    post = pre + np.where(accepted, alloc, 0.0)
    margin = pre / inc
    mv = r.assessment.full_year_metrics.values
    csc, liq = mv["capital_service_capacity"][0], mv["liquidity_days"][0]
    surplus_non_acute = ~acute & (pre >= 0)
    deficit_acute = acute & (pre < 0) & (margin >= DEEP_DEFICIT_MARGIN)
    deep = acute & (margin < DEEP_DEFICIT_MARGIN)
    needed = np.asarray(r.solved.needed_pct)
    by_type = {
        t: pre[types == t].sum() + np.where(accepted, alloc, 0.0)[types == t].sum()
        for t in TRUST_TYPES
        if (types == t).any()
    }
    return {
        "trusts": len(p.trusts),
        **{f"{t} trusts": int((types == t).sum()) for t in TRUST_TYPES},
        "CIP schemes": len(p.cip),
        "operating income": inc.sum() / 1e6,
        "planned CIP % of do-nothing opex": 100 * s.cip_planned.sum() / s.opex_do_nothing.sum(),
        "non-recurrent share of planned CIP": 100
        * (1 - s.cip_recurrent.sum() / s.cip_planned.sum()),
        "sector planned surplus pre-STF": pre.sum() / 1e6,
        "trusts planning a pre-STF deficit": int((pre < 0).sum()),
        "trusts in deficit after STF (accepted CT)": int((post < 0).sum()),
        "deep-deficit acute (deficit > 5% of income)": int(deep.sum()),
        "plans meeting their control total": int(s.met.sum()),
        "control totals not accepted": 100 * (~accepted).mean(),
        "acute control totals not accepted": 100 * (~accepted[acute]).mean()
        if acute.any()
        else 33.0,
        "mean CIP needed, CT not accepted": 100 * _median(needed[~accepted], mean=True),
        "financial special measures": sum(t.financial_special_measures for t in p.trusts),
        "STF allocated": alloc.sum() / 1e6,
        "agency spend planned": s.agency.sum() / 1e6,
        "agency ceilings": sum(t.agency_ceiling or 0.0 for t in p.trusts) / 1e6,
        "acute after STF (aggregate)": by_type.get("acute", -1.0) / 1e6,
        "non-acute types after STF (smallest aggregate)": min(
            (v for t, v in by_type.items() if t != "acute"), default=1.0
        )
        / 1e6,
        "CSC, median, non-acute in surplus": _median(csc[surplus_non_acute]),
        "CSC, median, deep-deficit acute": _median(csc[deep]),
        "liquidity, median, deficit acute": _median(liq[deficit_acute | deep]),
        "liquidity, median, non-acute in surplus": _median(liq[surplus_non_acute]),
    }


def calibration_table(portfolio: Portfolio | None = None) -> pd.DataFrame:
    """Each calibration target, its source and tolerance, and the value achieved.

    Runs the portfolio at planned values (:func:`cipmodel.results.run.run_plan`, first plan year)
    and measures it against the sector aggregates it was built to match. Count and money
    targets are stated for 235 trusts and scaled by ``len(portfolio.trusts) / 235``.

    Parameters
    ----------
    portfolio : Portfolio, optional
        Default: :func:`national_portfolio` with its default seed.

    Returns
    -------
    pandas.DataFrame
        One row per target: ``target`` (text), ``low``, ``high``, ``achieved``, ``ok``,
        ``unit`` and ``source`` (domain.md section and tag).
    """
    import pandas as pd

    p = national_portfolio() if portfolio is None else portfolio
    achieved = measures(p)
    k = len(p.trusts) / REFERENCE_TRUSTS
    expected = type_counts(len(p.trusts))
    rows: list[tuple[str, float, float, float, str, str]] = []
    for target in TARGETS:
        if target.per_type:
            for t in TRUST_TYPES:
                name = target.name.format(t)
                rows.append(
                    (name, expected[t], expected[t], achieved[name], "count", target.source)
                )
            continue
        low, high = target.bounds(k)
        rows.append((target.name, low, high, achieved[target.name], target.unit, target.source))
    df = pd.DataFrame(rows, columns=["target", "low", "high", "achieved", "unit", "source"])
    df["ok"] = (df.achieved >= df.low - 1e-9) & (df.achieved <= df.high + 1e-9)
    return df[["target", "low", "high", "achieved", "ok", "unit", "source"]]
