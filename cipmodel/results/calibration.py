"""Calibration of the synthetic national portfolio against the sector aggregates it targets.

The generator (:mod:`cipmodel.examples.national`) builds inputs only; measuring what those inputs
give needs a plan run, so the check lives here, in the results layer. The table is the one in
``docs/national-portfolio.md``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cipmodel.examples.national import (
    DEEP_DEFICIT_MARGIN,
    REFERENCE_TRUSTS,
    TRUST_TYPES,
    national_portfolio,
    type_counts,
)
from cipmodel.inputs.records import Portfolio
from cipmodel.results.run import run_plan

__all__ = ["calibration_table"]


def _median(x: np.ndarray, mean: bool = False) -> float:
    """Median (or mean) of the finite values; NaN if there are none."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if not x.size:
        return float("nan")
    return float(x.mean() if mean else np.median(x))


def calibration_table(portfolio: Portfolio | None = None) -> Any:
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
    r = run_plan(p)
    s = r.trust_summary()
    s = s[s.year == 1].reset_index(drop=True)
    k = len(p.trusts) / REFERENCE_TRUSTS
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
    counts = {t: int((types == t).sum()) for t in TRUST_TYPES}
    exp = type_counts(len(p.trusts))

    rows: list[tuple[str, float, float, float, str, str]] = [
        ("trusts", 230 * k, 240 * k, len(p.trusts), "count", "§5.1 [V] (234 in 2017/18)"),
        *[
            (f"{t} trusts", exp[t], exp[t], counts[t], "count", "§5.1 suggested mix [V-derived]")
            for t in TRUST_TYPES
        ],
        ("CIP schemes", 9000 * k * 0.85, 9000 * k * 1.15, len(p.cip), "count", "brief: ~9,000"),
        (
            "operating income",
            76.0 * k,
            84.0 * k,
            inc.sum() / 1e6,
            "£bn",
            "§5.2 ~£78–82bn [V-derived]/[B]",
        ),
        (
            "planned CIP % of do-nothing opex",
            4.0,
            4.5,
            100 * s.cip_planned.sum() / s.opex_do_nothing.sum(),
            "%",
            "§4.2, §3.1 4.2% [V]",
        ),
        (
            "non-recurrent share of planned CIP",
            25.0,
            30.0,
            100 * (1 - s.cip_recurrent.sum() / s.cip_planned.sum()),
            "%",
            "§4.2 [V]",
        ),
        (
            "sector planned surplus pre-STF",
            -2.4 * k,
            -1.8 * k,
            pre.sum() / 1e6,
            "£bn",
            "§5.2 plan (£496m) less £1.6bn STF [V-derived]; 2016/17 ~(£2.4bn) [V]",
        ),
        (
            "trusts planning a pre-STF deficit",
            125 * k,
            170 * k,
            int((pre < 0).sum()),
            "count",
            "more than the ~100 after STF (§5.3); Q2 2016/17 YTD 142 [V]",
        ),
        (
            "trusts in deficit after STF (accepted CT)",
            80 * k,
            125 * k,
            int((post < 0).sum()),
            "count",
            "§5.3: 102 (2017/18), 105 (2016/17) reported [V]",
        ),
        (
            "deep-deficit acute (deficit > 5% of income)",
            15 * k,
            25 * k,
            int(deep.sum()),
            "count",
            "§5.5: 20 acute in segment 4 [V]; §5.3",
        ),
        (
            "plans meeting their control total",
            140 * k,
            180 * k,
            int(s.met.sum()),
            "count",
            "§3.2: 75 missed pre-STF CT at outturn [V]",
        ),
        (
            "control totals not accepted",
            20.0,
            30.0,
            100 * (~accepted).mean(),
            "%",
            "§3.2: ~60 of 238 [V]",
        ),
        (
            "acute control totals not accepted",
            28.0,
            38.0,
            100 * (~accepted[acute]).mean() if acute.any() else 33.0,
            "%",
            "§3.2: about 1 in 3 acute [V]",
        ),
        (
            "mean CIP needed, CT not accepted",
            5.4,
            7.4,
            100 * _median(needed[~accepted], mean=True),
            "%",
            "§3.1: rejected CTs averaged 6.4% [V]",
        ),
        (
            "financial special measures",
            10 * k,
            14 * k,
            sum(t.financial_special_measures for t in p.trusts),
            "count",
            "§3.3: 12, all acute [V]",
        ),
        (
            "STF allocated",
            1.6 * k * 0.999,
            1.8 * k,
            alloc.sum() / 1e6,
            "£bn",
            "§2.1: £1.5bn general + £0.1bn non-acute of £1.8bn [V]",
        ),
        ("agency spend planned", 2.4 * k, 2.9 * k, s.agency.sum() / 1e6, "£bn", "§5.4 [V]/[B]"),
        (
            "agency ceilings",
            2.4 * k,
            2.5 * k,
            sum(t.agency_ceiling or 0.0 for t in p.trusts) / 1e6,
            "£bn",
            "§5.4 ~£2.5bn [B]",
        ),
        (
            "acute after STF (aggregate)",
            -np.inf,
            0.0,
            by_type.get("acute", -1.0) / 1e6,
            "£bn",
            "§5.2: only acute in deficit in aggregate [V]",
        ),
        (
            "non-acute types after STF (smallest aggregate)",
            0.0,
            np.inf,
            min((v for t, v in by_type.items() if t != "acute"), default=1.0) / 1e6,
            "£bn",
            "§5.2: MH, community, ambulance, specialist in surplus [V]",
        ),
        (
            "CSC, median, non-acute in surplus",
            1.5,
            4.0,
            _median(csc[surplus_non_acute]),
            "x",
            "§5.6 prior 1.5–4x [B]",
        ),
        (
            "CSC, median, deep-deficit acute",
            -np.inf,
            1.0,
            _median(csc[deep]),
            "x",
            "§5.6 prior < 1x [B]",
        ),
        (
            "liquidity, median, deficit acute",
            -30.0,
            -5.0,
            _median(liq[deficit_acute | deep]),
            "days",
            "§5.6 prior −10 to −30 [B]",
        ),
        (
            "liquidity, median, non-acute in surplus",
            0.0,
            40.0,
            _median(liq[surplus_non_acute]),
            "days",
            "§5.6 prior 0 to +40 [B]",
        ),
    ]
    df = pd.DataFrame(rows, columns=["target", "low", "high", "achieved", "unit", "source"])
    df["ok"] = (df.achieved >= df.low - 1e-9) & (df.achieved <= df.high + 1e-9)
    return df[["target", "low", "high", "achieved", "ok", "unit", "source"]]
