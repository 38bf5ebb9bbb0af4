"""Terminal output of a plan run and a simulation (money in £000, rates as percentages).

Both read the result's ``to_dict()`` (the ``--json`` contract), so what the screen shows is
what the JSON holds. One trust gets a detailed block; several get one line each.
"""

from __future__ import annotations

import math
from typing import Any

import click

from cipmodel.calendar import QUARTERS
from cipmodel.formatting import money, pct

__all__ = ["print_run", "print_simulation"]


def print_run(result: Any) -> None:
    """A plan run (:class:`~cipmodel.results.run.RunResult`) on the terminal."""
    d = result.to_dict()
    many = len(d["trusts"]) > 1
    if many:
        click.echo(
            f"{'trust':<8} {'control total':>14} {'forecast':>12} {'variance':>10} {'met':>4} "
            f"{'risk-adj.':>10} {'CIP plan':>9} {'needed':>8}  band"
        )
    for t in d["trusts"]:
        if many:
            _run_row(t)
        else:
            _run_block(t)
    if many:
        met = sum(1 for t in d["trusts"] if t["control_total"]["met"])
        click.echo(f"{met} of {len(d['trusts'])} trusts meet their pre-STF control total")
        post = sum(1 for t in d["trusts"] if t["control_total"]["met_post_stf"])
        click.echo(
            f"{post} of {len(d['trusts'])} meet their post-STF control total "
            "(reported surplus against control total + STF/PSF)"
        )
        risk = sum(1 for t in d["trusts"] if (_first_risk_adjusted(t) or {}).get("met"))
        click.echo(
            f"{risk} of {len(d['trusts'])} meet the pre-STF one on the risk-adjusted forecast "
            "(risk-adj.: variance, CIP as expected)"
        )
        click.echo("All figures: plan year 1; one trust at a time shows every plan year")
    unverified = d["provenance"].get("unverified", [])
    if unverified:
        click.echo(
            f"Depends on {len(unverified)} unverified rule values "
            "(listed in --json provenance; see docs/rules.md)"
        )


def _run_row(t: dict[str, Any]) -> None:
    """One trust's line in the table of a several-trust run."""
    ct, cip = t["control_total"], t["cip"]
    fra = _first_risk_adjusted(t)
    click.echo(
        f"{t['code']:<8} {money(ct['target']):>14} {money(ct['forecast']):>12} "
        f"{money(ct['variance']):>10} {'yes' if ct['met'] else 'NO':>4} "
        f"{money(fra['variance'] if fra else None):>10} "
        f"{pct(cip['planned_pct']):>9} {pct(cip['needed_pct']):>8}  {cip['needed_band']}"
    )


def _first_risk_adjusted(t: dict[str, Any]) -> dict[str, Any] | None:
    """Plan year 1's risk-adjusted forecast {forecast, variance, met} (None without one)."""
    years = t.get("years") or []
    return years[0]["control_total"].get("forecast_risk_adjusted") if years else None


def _run_block(t: dict[str, Any]) -> None:
    """One trust's plan run in detail: control total, CIP, STF/PSF and score."""
    ct, cip = t["control_total"], t["cip"]
    click.echo(f"{t['name']} ({t['code']}), {t['financial_year']} — plan run, £000")
    click.echo(
        f"  Control total (pre-STF)        {money(ct['target']):>12}"
        f"{'' if ct['accepted'] else '   (not accepted)'}"
    )
    click.echo(f"  Forecast surplus/(deficit)     {money(ct['forecast']):>12}")
    click.echo(
        f"  Variance                       {money(ct['variance']):>12}   "
        f"{'MET' if ct['met'] else 'MISSED'}"
    )
    q = ct["quarters"]
    click.echo(
        "  YTD variance at quarter end    "
        + "  ".join(f"{k.upper()} {money(q[k])}" for k in QUARTERS)
    )
    click.echo(
        f"  CIP planned (in year)          {money(cip['planned']):>12}   "
        f"{pct(cip['planned_pct'])} of operating expenditure"
    )
    click.echo(
        f"    full-year effect {money(cip['planned_fye'])}; unidentified "
        f"{money(cip['unidentified'])}; recurrent {money(cip['recurrent'])}"
    )
    click.echo(
        f"  CIP needed for control total   {money(cip['needed']):>12}   "
        f"{pct(cip['needed_pct'])} of operating expenditure — {cip['needed_band']}"
    )
    f = t["funding"]
    click.echo(
        f"  STF/PSF ({f['rules']})    allocation {money(f['allocation'])}; earned "
        f"{money(f['earned'])}; lost {money(f['lost'])}"
    )
    click.echo(
        "    by quarter (earned/lost)     "
        + "  ".join(
            f"{k.upper()} {money(f['quarters'][k]['earned'])}/{money(f['quarters'][k]['lost'])}"
            for k in QUARTERS
        )
    )
    click.echo(f"  Reported surplus (with STF)    {money(t['reported_surplus']):>12}")
    click.echo(
        f"  Control total (post-STF)       {money(ct['target_post_stf']):>12}   "
        f"reported surplus against it {money(ct['variance_post_stf'])} "
        f"{'MET' if ct['met_post_stf'] else 'MISSED'}"
    )
    _score_lines(t)
    if len(t["years"]) > 1:
        _years_table(t["years"])
    elif t["years"]:
        _plan_view_lines(t["years"][0])
    _bridge_lines(t.get("bridge"))


#: Each SOF metric, short enough for one line of the terminal summary.
_METRIC_SHORT = {
    "capital_service_capacity": "capital service",
    "liquidity_days": "liquidity",
    "ie_margin": "I&E margin",
    "distance_from_plan": "distance from plan",
    "agency_vs_ceiling": "agency",
}


def _score_lines(t: dict[str, Any]) -> None:
    """The finance score, its overrides, its quarters and the finance trigger."""
    sc = t["score"]
    parts = []
    for name, m in sc["metrics"].items():
        label = _METRIC_SHORT.get(name, name)
        parts.append(f"{label} {m['score'] if m['score'] is not None else 'n/a'}")
    click.echo(f"  Finance and use of resources   {sc['overall']:>12}   (1 best, 4 worst)")
    click.echo(f"    metrics: {'; '.join(parts)}")
    if sc["overrides"]:
        click.echo(f"    overrides applied: {', '.join(sc['overrides'])}")
    q = t["score_by_quarter"]
    click.echo(
        "    score by quarter (YTD)       " + "  ".join(f"{k.upper()} {q[k]}" for k in QUARTERS)
    )
    trig = "yes — potential support need" if t["finance_trigger"] else "no"
    click.echo(
        f"  Finance trigger (score 3-4)    {trig};  candidate segment "
        f"{t['candidate_segment']['segment']} (finance theme only)"
    )


def _risk_adjusted(y: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """A year's risk-adjusted CIP and forecast (None where the run has no plan views)."""
    return y["cip"].get("risk_adjusted"), y["control_total"].get("forecast_risk_adjusted")


def _plan_view_lines(y: dict[str, Any]) -> None:
    """A one-year plan's risk-adjusted CIP and forecast and its underlying surplus."""
    ra, fra = _risk_adjusted(y)
    if ra is not None and fra is not None:
        click.echo(
            f"  CIP risk-adjusted (expected)   {money(ra['expected']):>12}   "
            f"of {money(ra['planned'])} planned (by stage and RAG, {ra['priors']})"
        )
        click.echo(
            f"    unidentified: expected {money(ra['unidentified_expected'])} of "
            f"{money(ra['unidentified_planned'])} planned"
        )
        click.echo(
            f"  Forecast risk-adjusted         {money(fra['forecast']):>12}   variance "
            f"{money(fra['variance'])} {_yes(fra['met']).upper()} (pre-STF control total)"
        )
    und = y.get("underlying")
    if und is not None:
        click.echo(
            f"  Underlying surplus/(deficit)   {money(und['surplus']):>12}   exit run rate, "
            "recurrent only"
        )


def _bridge_lines(steps: list[dict[str, Any]] | None) -> None:
    """The bridge from the prior-year forecast outturn to the plan, one step a line."""
    if not steps:
        return
    from cipmodel.results.bridge import BRIDGE_LABELS

    click.echo("  Bridge from prior-year forecast outturn to plan year 1 (pre-STF, £000)")
    for s in steps:
        label = BRIDGE_LABELS.get(s["step"], s["step"])
        if s["step"] in ("prior_year_outturn", "plan_surplus"):  # a level, not a step
            click.echo(f"    {label:<58}{money(s['value']):>12}")
        else:
            click.echo(f"      {label:<56}{money(s['value']):>12}")


def _yes(v: Any) -> str:
    return "n/a" if v is None else ("met" if v else "MISSED")


def _years_table(years: list[dict[str, Any]]) -> None:
    """Every plan year side by side: both control-total bases, the year's CIP, funding and
    score (a year with no rule pack shows its note)."""
    width = 18
    click.echo(
        f"  {'Plan years (£000)':<32}" + "".join(f"{y['financial_year']:>{width}}" for y in years)
    )

    def row(label: str, cells: list[str]) -> None:
        click.echo(f"    {label:<30}" + "".join(f"{c:>{width}}" for c in cells))

    cts = [y["control_total"] for y in years]
    cips = [y["cip"] for y in years]
    row("Control total (pre-STF)", [money(c["target"]) for c in cts])
    row("Forecast (pre-STF)", [f"{money(c['forecast'])} {_yes(c['met'])}" for c in cts])
    row("Control total (post-STF)", [money(c["target_post_stf"]) for c in cts])
    row(
        "Reported surplus (post-STF)",
        [f"{money(c['forecast_post_stf'])} {_yes(c['met_post_stf'])}" for c in cts],
    )
    row(
        "CIP planned (the year's own)",
        [f"{money(c['planned'])} {pct(c['planned_pct'])}" for c in cips],
    )
    row(
        "  brought forward / new",
        [f"{money(c['brought_forward'])}/{money(c['new'])}" for c in cips],
    )
    row("  non-recurrent to replace", [money(c["non_recurrent_gap"]) for c in cips])
    ras = [_risk_adjusted(y) for y in years]
    if all(ra is not None and fra is not None for ra, fra in ras):
        row(
            "CIP risk-adjusted (expected)",
            [f"{money(ra['expected'])} of {money(ra['planned'])}" for ra, _ in ras if ra],
        )
        row(
            "  unidentified (expected)",
            [
                f"{money(ra['unidentified_expected'])} of {money(ra['unidentified_planned'])}"
                for ra, _ in ras
                if ra
            ],
        )
        row(
            "Forecast risk-adjusted",
            [f"{money(f['forecast'])} {_yes(f['met'])}" for _, f in ras if f],
        )
    unds = [y.get("underlying") for y in years]
    if all(u is not None for u in unds):
        row("Underlying surplus/(deficit)", [money(u["surplus"]) for u in unds if u])
    row("CIP needed", [f"{money(c['needed'])} {pct(c['needed_pct'])}" for c in cips])
    row("  evidence band", [c["needed_band"] or "n/a" for c in cips])
    fund = [y["funding"] for y in years]
    row("STF/PSF rules", [f["rules"] if f else "none" for f in fund])
    row(
        "STF/PSF earned / lost",
        [f"{money(f['earned'])}/{money(f['lost'])}" if f else "n/a" for f in fund],
    )
    row("Finance score", [str(y["score"]["overall"]) if y["score"] else "n/a" for y in years])
    row(
        "Trigger / candidate segment",
        [
            f"{'yes' if y['finance_trigger'] else 'no'} / {y['candidate_segment']['segment']}"
            if y["candidate_segment"]
            else "n/a"
            for y in years
        ],
    )
    for y in years:
        if y.get("not_assessed"):
            click.echo(f"    {y['financial_year']}: {y['not_assessed']}")


def print_simulation(result: Any) -> None:
    """A simulation (:class:`~cipmodel.montecarlo.SimulationResult`) on the terminal."""
    d = result.to_dict()
    prov = d["provenance"]
    head = (
        f"{prov['draws']:,} draws, {prov['sampler']} sampler, seed {prov.get('seed', 'n/a')}, "
        f"priors {prov['priors']}"
    )
    if len(d["trusts"]) > 1:
        _simulation_table(d["trusts"], head)
        return
    _simulation_block(d["trusts"][0], head)
    _simulation_years(d["trusts"][0])
    drivers = result.sensitivity()
    if len(drivers):
        top = drivers.head(3)
        parts = [
            f"{row.input} (rank corr. {row.spearman:+.2f})"
            for row in top.itertuples()
            if math.isfinite(row.spearman)
        ]
        if parts:
            click.echo("  Main drivers of the surplus     " + "; ".join(parts))
    unverified = prov.get("unverified", [])
    if unverified:
        click.echo(
            f"Depends on {len(unverified)} unverified rule and prior values "
            "(listed in --json provenance; see docs/simulation.md)"
        )


def _p_or_na(p: float | None) -> str:
    return "n/a" if p is None else pct(p)


def _simulation_years(t: dict[str, Any]) -> None:
    """Every plan year of a plan of several years: P(meet the control total) before and after
    STF/PSF, the pre-STF surplus's spread and the year's own CIP (simulation)."""
    years = [y["simulation"] for y in t.get("years", []) if "simulation" in y]
    if len(years) < 2:
        return
    click.echo(
        f"  {'Every plan year':<15} {'CT pre/post-STF':>17} {'P(meet pre)':>11} {'P(meet post)':>12} "
        f"{'P10 / P50 / P90 pre-STF surplus':>33} {'CIP planned / expected':>24}"
    )
    for y in years:
        band = " / ".join(money(y[f"p{q}_surplus_pre_stf"]) for q in (10, 50, 90))
        cip = f"{money(y['cip_planned'])} / {money(y['expected_cip_delivered'])}"
        click.echo(
            f"    {y['financial_year'] or 'year ' + str(y['year']):<13} "
            f"{money(y['control_total_pre_stf']) + ' / ' + money(y['control_total_post_stf']):>17} "
            f"{_p_or_na(y['p_meet_control_total']):>11} "
            f"{_p_or_na(y['p_meet_control_total_post_stf']):>12} {band:>33} {cip:>24}"
        )
    every = years[-1]["p_meet_control_total_every_year_to_date"]
    click.echo(f"  P(meet the pre-STF control total in every plan year)  {_p_or_na(every)}")


def _simulation_table(trusts: list[dict[str, Any]], head: str) -> None:
    """A several-trust simulation: one line per trust and the average probability."""
    click.echo(f"Simulation — {head}; £000")
    click.echo(
        f"{'trust':<8} {'P(meet CT)':>10} {'P50 surplus':>12} {'control total':>14} "
        f"{'STF lost':>9} {'P(score 3-4)':>12}"
    )
    for t in trusts:
        p, pc = t["probability"], t["percentiles"]
        sc = p["score"]["overall"]
        click.echo(
            f"{t['code']:<8} {pct(p['meet_control_total']):>10} "
            f"{money(pc['surplus_pre_stf']['p50']):>12} {money(t['control_total']['target']):>14} "
            f"{money(t['funding_expected']['year']['lost']):>9} "
            f"{pct((sc['3'] or 0) + (sc['4'] or 0)):>12}"
        )
    for t in trusts:
        years = [y["simulation"] for y in t.get("years", []) if "simulation" in y]
        if len(years) > 1:
            click.echo(
                f"{t['code']:<8} P(meet CT) by plan year: "
                + ", ".join(
                    f"{y['financial_year'] or y['year']} {_p_or_na(y['p_meet_control_total'])}"
                    for y in years
                )
            )
    mean = sum(t["probability"]["meet_control_total"] or 0 for t in trusts) / len(trusts)
    click.echo(f"Average P(meet the control total) across {len(trusts)} trusts: {pct(mean)}")


def _simulation_block(t: dict[str, Any], head: str) -> None:
    """One trust's simulation in detail: probabilities, percentiles, funding and score."""
    p, pc, ct = t["probability"], t["percentiles"], t["control_total"]
    click.echo(f"{t['name']} ({t['code']}), {t['financial_year']} — simulation, {head}; £000")
    click.echo(
        f"  P(meet control total, year)    {pct(p['meet_control_total']):>8}   "
        f"(± {pct(1.96 * (p['meet_control_total_se'] or 0), 2)}; plan run: "
        f"{'met' if ct['met'] else 'missed'})"
    )
    click.echo(
        "  P(meet YTD at quarter end)     "
        + "  ".join(f"{q.upper()} {pct(v)}" for q, v in p["quarters"].items())
    )
    s = pc["surplus_pre_stf"]
    click.echo(
        f"  Pre-STF surplus/(deficit)      P5 {money(s['p5'])}  P50 {money(s['p50'])}  "
        f"P95 {money(s['p95'])}  (plan {money(ct['forecast'])}, control total {money(ct['target'])})"
    )
    r = pc["reported_surplus"]
    click.echo(
        f"  Reported surplus (with STF)    P5 {money(r['p5'])}  P50 {money(r['p50'])}  P95 {money(r['p95'])}"
    )
    fe = t["funding_expected"]
    click.echo(
        "  STF/PSF expected earned/lost   "
        + "  ".join(
            f"{q.upper()} {money(fe[q]['earned'])}/{money(fe[q]['lost'])}" for q in QUARTERS
        )
        + f"  year {money(fe['year']['earned'])}/{money(fe['year']['lost'])} of {money(t['funding']['allocation'])}"
    )
    c = pc["cip_delivered"]
    click.echo(
        f"  CIP delivered (in year)        mean {money(c['mean'])} of {money(t['cip']['planned'])} planned "
        f"(P5 {money(c['p5'])}, P95 {money(c['p95'])})"
    )
    sc = p["score"]["overall"]
    click.echo(
        f"  Finance score P(1/2/3/4)       {' / '.join(pct(sc[k]) for k in '1234')};  "
        f"P(finance trigger) {pct(p['finance_trigger'])}"
    )
