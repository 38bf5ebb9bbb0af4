"""What the board is told in words: the headline sentence and the sentences behind it.

The results workbook's Board summary sheet (:mod:`cipmodel.io.sheets_board`) and the board
report's first page (:mod:`cipmodel.report.summary`) say the same thing in the same words for
the same plan: both take their sentences from here. Every amount is £000, formatted with
:func:`~cipmodel.formatting.money` (thousands separators, deficits in brackets, halves rounded
away from zero) and every share with :func:`~cipmodel.formatting.pct`, so a sentence shows a
number exactly as the tables beside it do.

* :func:`headline`: plan year 1's control total met or missed and by how much, before STF/PSF
  (the STF/PSF gate) and with it (the published control total: the pre-STF target plus the
  allocation, against the reported surplus), and, simulated, P(meet);
* :func:`supporting`: the CIP it takes and what is planned; STF/PSF earned and lost, the
  finance score and the candidate segment;
* :func:`year_headline`: one plan year in a sentence, pre- and post-STF;
* :func:`simulation_sentence`: the simulated pre-STF position (median and 90% range);
* :func:`portfolio_headline`: a portfolio of trusts in one sentence.
"""

from __future__ import annotations

from collections.abc import Sequence

from cipmodel.formatting import money, pct
from cipmodel.results.figures import TrustFigures, TrustYear

__all__ = [
    "headline",
    "portfolio_headline",
    "simulation_sentence",
    "supporting",
    "verdict",
    "year_headline",
]


def verdict(variance: float, met: bool) -> tuple[str, str]:
    """The verb and the margin of a variance: ``("meets", " by 1")``, ``("meets",
    " exactly")``, ``("misses", " by 538")``; a miss that rounds to 0 is ``" by less than
    1"`` (the control total is missed, however little)."""
    amount = money(abs(variance))
    if met:
        return "meets", " exactly" if amount == "0" else f" by {amount}"
    return "misses", " by less than 1" if amount == "0" else f" by {amount}"


def headline(fig: TrustFigures, p_meet: float | None = None, draws: int | None = None) -> str:
    """The board summary in one sentence: plan year 1's control total met or not, by how
    much, before and with STF/PSF; with ``p_meet`` (of ``draws`` simulated outcomes), how
    often it is met before STF/PSF."""
    y1, fy = fig.first_year, fig.financial_year
    if y1.met is None:
        return (
            f"There is no {fy} control total: the plan forecasts {money(y1.surplus_pre_stf)} "
            f"before STF/PSF and reports {money(y1.reported_surplus)} with STF/PSF earned."
        )
    verb, by = verdict(y1.variance, y1.met)
    sentence = (
        f"The plan {verb} the {fy} control total before STF/PSF{by}: a forecast of "
        f"{money(y1.surplus_pre_stf)} against {money(y1.control_total_pre_stf)}."
    )
    if y1.met_post_stf is not None:
        post_verb, post_by = verdict(y1.variance_post_stf, y1.met_post_stf)
        sentence += (
            f" With STF/PSF it {post_verb} it{post_by}: a reported "
            f"{money(y1.reported_surplus)} against {money(y1.control_total_post_stf)} "
            f"({_post_stf_basis(y1)})."
        )
    if p_meet is not None:
        of = f" of {draws:,} simulated outcomes" if draws else " of simulated outcomes"
        sentence += f" Before STF/PSF it is met in {pct(p_meet)}{of}."
    return sentence


def _post_stf_basis(y: TrustYear) -> str:
    """What the control total with STF/PSF is made of, in brackets after it."""
    if money(y.allocation) == "0":
        return "no STF/PSF is allocated"
    basis = f"the target plus the {money(y.allocation)} allocation"
    if not y.control_total_accepted:
        basis += ", which cannot be earned: the control total is not accepted"
    return basis


def supporting(fig: TrustFigures) -> list[str]:
    """The sentences behind the headline: the CIP it takes and what is planned; STF/PSF
    earned and lost, the finance score and the candidate segment (plan year 1)."""
    y1, cip, f = fig.first_year, fig.cip, fig.funding
    share = y1.cip_unidentified / cip.planned if cip.planned else None
    unidentified = (
        f"{money(y1.cip_unidentified)} ({pct(share, 0)}) of it not yet in any scheme"
        if money(y1.cip_unidentified) != "0"
        else "all of it in identified schemes"
    )
    if money(cip.planned) == "0":
        planned = "no CIP is planned"
    else:
        planned = f"{money(cip.planned)} is planned, {unidentified}"
    if cip.met_without_cip:
        first = f"The control total is met without any CIP; {money(cip.planned)} is planned."
    elif y1.met is None:
        first = f"There is no control total to take a CIP to; {planned}."
    else:
        first = (
            f"Meeting it takes a CIP of {money(cip.needed)} ({pct(cip.needed_pct)} of "
            f"operating expenditure: {cip.band}); {planned}."
        )
    if money(f.allocation) == "0":
        funding = "No STF/PSF is allocated"
        if money(f.earned) != "0":
            funding += f"; {money(f.earned)} is earned (incentive)"
    else:
        earned = "none" if money(f.earned) == "0" else money(f.earned)
        lost = "none lost" if money(f.lost) == "0" else f"{money(f.lost)} lost"
        funding = f"STF/PSF: {earned} earned against a {money(f.allocation)} allocation, {lost}"
    second = (
        f"{funding}. Finance and use of resources score {fig.score.overall} (1 best, 4 worst), "
        f"candidate segment {fig.candidate_segment} (finance theme only)."
    )
    return [first, second]


def year_headline(y: TrustYear) -> str:
    """One plan year in a sentence: its control total met or not, by how much, pre- and
    post-STF (``2018/19: pre-STF control total 0 met by 130; post-STF control total 12,000
    met by 130.``)."""

    def side(basis: str, met: bool | None, variance: float, target: float) -> str:
        if met is None:
            return f"no {basis} control total"
        if money(variance) == "0":
            return f"{basis} control total {money(target)} met exactly"
        return f"{basis} control total {money(target)} {'met' if met else 'missed'} by " + money(
            abs(variance)
        )

    pre = side("pre-STF", y.met, y.variance, y.control_total_pre_stf)
    if y.assessed is None or y.met is None:
        return f"{y.financial_year}: {pre}; post-STF not assessed."
    post = side("post-STF", y.met_post_stf, y.variance_post_stf, y.control_total_post_stf)
    return f"{y.financial_year}: {pre}; {post}."


def simulation_sentence(
    draws: int | None, seed: object, p50: float | None, p5: float | None, p95: float | None
) -> str:
    """The simulated pre-STF position: its median and the range of 90% of outcomes."""
    return (
        f"Simulated ({draws or 0:,} draws, seed {seed}): median pre-STF position "
        f"{money(p50)}, 90% between {money(p5)} and {money(p95)}."
    )


def portfolio_headline(
    figures: Sequence[TrustFigures],
    years: str,
    p_meet: Sequence[float | None] | None = None,
) -> str:
    """A portfolio in one sentence: the trusts meeting their plan year 1 control total
    before STF/PSF, their forecast against those control totals, STF/PSF earned and
    forfeited, the trusts at the finance trigger; with ``p_meet`` (each trust's simulated
    P(meet), in the order of ``figures``), how many are expected to meet it."""
    with_ct = [(k, f) for k, f in enumerate(figures) if f.first_year.met is not None]
    met = sum(1 for _, f in with_ct if f.first_year.met)
    ct = sum(f.first_year.control_total_pre_stf for _, f in with_ct)
    surplus = sum(f.first_year.surplus_pre_stf for _, f in with_ct)
    earned = sum(f.funding.earned for f in figures)
    lost = sum(f.funding.lost for f in figures)
    allocation = sum(f.funding.allocation for f in figures)
    trigger = sum(1 for f in figures if f.finance_trigger)
    n = len(figures)
    of = f"{len(with_ct)} trusts with one" if len(with_ct) < n else f"{n} trusts"
    share = pct(met / len(with_ct), 0) if with_ct else "n/a"
    gap = surplus - ct
    by = f"{money(abs(gap))} {'better than' if gap >= 0 else 'short of'}"
    sentence = (
        f"{met} of {of} ({share}) meet their {years} control total before STF/PSF; together "
        f"they forecast {money(surplus)}, {by} their control totals of {money(ct)}. "
        f"STF/PSF: {money(earned)} earned and {money(lost)} forfeited of {money(allocation)}. "
        f"{trigger} of {n} trusts score 3 or 4 (the finance trigger)."
    )
    chances = [None if p_meet is None else p_meet[k] for k, _ in with_ct]
    if p_meet is not None and chances and all(c is not None for c in chances):
        expected_n = sum(c for c in chances if c is not None)
        sentence += (
            f" Simulated, {expected_n:.1f} of them are expected to meet it (the sum of their "
            "probabilities)."
        )
    return sentence
