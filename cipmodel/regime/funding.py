"""STF/PSF funding: what each trust earns and loses, quarter by quarter, under a funding pack.

Everything that changed from year to year (finance/performance split, phasing, performance
elements, catch-up, incentive ratio, bonus) is read from a funding rule pack
(``cipmodel/rules/stf-2016-17.toml``, ``stf-2017-18.toml``, ``psf-2018-19.toml``); this
module has no year branches. ``docs/funding.md`` describes the rules as modelled and each
choice made where the sources are silent or conflict.

The rules, for allocation ``A`` of one trust, phasing ``p_q`` and split ``f`` / ``1 - f``:

- **Gate.** Quarter ``q`` passes iff the control total is accepted (when
  ``acceptance.required``) and ``ytd_surplus_pre[q] >= ytd_target_pre[q] - gate.tolerance``
  (year-to-date, before STF/PSF). There is no partial credit: £1k short loses the quarter.
- **Finance element** ``A * p_q * f`` is earned iff the quarter passes the gate.
- **Performance element** ``A * p_q * (1 - f)`` is split between the pack's
  ``performance.elements`` (relative weights). The A&E element is earned iff ``ae_met[q]``;
  elements the inputs do not track (RTT, cancer in 2016/17) follow
  ``performance.untracked_rule``. When ``performance.requires_finance`` each element also
  needs the quarter's gate. Trusts without A&E follow ``performance.no_ae_rule``
  (``finance_conditional``: the whole allocation is finance element).
- **Catch-up** (off unless switched on): an amount withheld in Q1-Q3 is released at year end
  if the same element is earned in Q4 (for the finance element: the year-end YTD test is met).
- **Incentive**, for trusts that pass the year-end gate, capped at ``incentive.cap`` if the
  pack sets one. What it rewards is the pack's ``incentive.basis``:
  ``outperformance`` (2016/17, 2017/18): ``incentive.ratio * max(0, ytd_surplus_pre[Q4] -
  ytd_target_pre[Q4])``; ``agreed_improvement`` (the 2018/19 PSF default):
  ``incentive.ratio * improvement_agreed``, the improvement on its control total the trust
  agreed in its plan (already inside ``ytd_target_pre``), whatever the outturn beyond it.
- **Bonus** (:func:`distribute_bonus`, a portfolio step): money forfeited by the trusts is
  shared among those that met their year-end control total.

Arrays are shaped ``(draw, trust, quarter)``; money is £000.

Examples
--------
>>> import numpy as np
>>> from cipmodel.regime.packs import load_pack
>>> pack = load_pack("stf-2017-18")
>>> target = np.zeros((1, 1, 4))
>>> surplus = np.array([[[0.0, -1.0, 0.0, 0.0]]])       # Q2 YTD £1k short of the profile
>>> r = assess_funding(pack, ytd_surplus_pre=surplus, ytd_target_pre=target,
...                    allocation=[10_000.0], accepted=[True], ae_applies=[True], ae_met=None)
>>> r.earned[0, 0].tolist()
[1500.0, 0.0, 3000.0, 3500.0]
>>> float(r.total_earned[0, 0])
8000.0
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cipmodel.regime.funding_pack import (
    AE_ELEMENT,
    BONUS_BASES,
    CATCH_UP_COMPONENTS,
    GATE_BASES,
    INCENTIVE_BASES,
    N_QUARTERS,
    NO_AE_RULES,
    UNTRACKED_RULES,
    incentive_basis,
    validate_funding_pack,
)
from cipmodel.regime.funding_reference import assess_funding_scalar
from cipmodel.regime.packs import RulePack

__all__ = [
    "ae_trajectory_met",
    "FundingResult",
    "validate_funding_pack",
    "assess_funding",
    "distribute_bonus",
    "assess_funding_scalar",
    "N_QUARTERS",
    "GATE_BASES",
    "INCENTIVE_BASES",
    "NO_AE_RULES",
    "UNTRACKED_RULES",
    "CATCH_UP_COMPONENTS",
    "BONUS_BASES",
]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def ae_trajectory_met(forecast: ArrayLike, trajectory: ArrayLike) -> NDArray[np.bool_]:
    """Whether A&E performance meets its STF trajectory, quarter by quarter.

    Parameters
    ----------
    forecast, trajectory : array_like
        Share of A&E attendances seen within four hours, forecast and agreed trajectory
        [fraction]; NaN where the trust has no trajectory.

    Returns
    -------
    ndarray of bool
        ``forecast >= trajectory``; False where either is missing (NaN).
    """
    f = np.asarray(forecast, dtype=float)
    t = np.asarray(trajectory, dtype=float)
    with np.errstate(invalid="ignore"):
        met = f >= t
    return np.where(np.isnan(f) | np.isnan(t), False, met)


@dataclass(frozen=True)
class FundingResult:
    """STF/PSF earned and lost per draw, trust and quarter [£000].

    Attributes
    ----------
    pack : str
        Name of the funding pack (with ``:variant``) the result was computed under.
    allocation : ndarray (trust,)
        Annual allocation [£000].
    available : ndarray (draw, trust, 4)
        Allocation phased by quarter (finance plus performance element) [£000].
    finance_earned, performance_earned, earned : ndarray (draw, trust, 4)
        Earned in each quarter, by element and in total [£000]. For trusts without A&E under
        ``no_ae_rule = "finance_conditional"`` the whole allocation is finance element.
    lost : ndarray (draw, trust, 4)
        ``available - earned`` in each quarter, before catch-up [£000].
    met_quarter : ndarray of bool (draw, trust, 4)
        The YTD gate passed at each quarter end (accepted and on or above the profile).
    met_year : ndarray of bool (draw, trust)
        The gate passed at Q4 (year-end control total met on the pre-STF basis).
    outperformance : ndarray (draw, trust)
        Year-end pre-STF surplus minus the control total [£000]; negative when missed.
    released_catch_up : ndarray (draw, trust)
        Amounts withheld in Q1-Q3 and released at year end by catch-up [£000].
    forfeited : ndarray (draw, trust)
        Lost for good: ``lost.sum(-1) - released_catch_up`` [£000]. The bonus pool.
    incentive : ndarray (draw, trust)
        Year-end incentive [£000]: for outperforming the control total, or for the
        improvement on it the trust agreed (the pack's ``incentive.basis``).
    bonus : ndarray (draw, trust)
        Share of the forfeited pool (zero until :func:`distribute_bonus`) [£000].
    total_earned : ndarray (draw, trust)
        ``earned.sum(-1) + released_catch_up + incentive + bonus`` [£000].
    unverified : tuple of str
        ``pack:key`` of every unverified pack value the result depends on.

    Notes
    -----
    Money is conserved: ``available.sum(-1) == earned.sum(-1) + lost.sum(-1)`` and
    ``total_earned == available.sum(-1) - forfeited + incentive + bonus`` (to rounding).
    """

    pack: str
    allocation: NDArray[np.float64]
    available: NDArray[np.float64]
    finance_earned: NDArray[np.float64]
    performance_earned: NDArray[np.float64]
    earned: NDArray[np.float64]
    lost: NDArray[np.float64]
    met_quarter: NDArray[np.bool_]
    met_year: NDArray[np.bool_]
    outperformance: NDArray[np.float64]
    released_catch_up: NDArray[np.float64]
    forfeited: NDArray[np.float64]
    incentive: NDArray[np.float64]
    bonus: NDArray[np.float64]
    total_earned: NDArray[np.float64]
    unverified: tuple[str, ...]


# --------------------------------------------------------------------------------------
# Vectorised assessment
# --------------------------------------------------------------------------------------


def _per_trust_float(name: str, x: ArrayLike, n_trust: int) -> FloatArray:
    a = np.asarray(x, dtype=float)
    if a.shape != (n_trust,):
        raise ValueError(f"{name}: expected shape ({n_trust},) (trust), got {a.shape}")
    return a


def _per_trust_bool(name: str, x: ArrayLike, n_trust: int) -> BoolArray:
    a = np.asarray(x, dtype=bool)
    if a.shape != (n_trust,):
        raise ValueError(f"{name}: expected shape ({n_trust},) (trust), got {a.shape}")
    return a


def _shape_error(name: str, a: NDArray[np.generic], shape: tuple[int, ...]) -> ValueError:
    msg = f"{name}: shape {a.shape} does not broadcast to (draw, trust, quarter) = {shape}"
    return ValueError(msg)


def _to_shape_float(name: str, x: ArrayLike, shape: tuple[int, ...]) -> FloatArray:
    a = np.asarray(x, dtype=float)
    try:
        return np.broadcast_to(a, shape)
    except ValueError:
        raise _shape_error(name, a, shape) from None


def _to_shape_bool(name: str, x: ArrayLike, shape: tuple[int, ...]) -> BoolArray:
    a = np.asarray(x, dtype=bool)
    try:
        return np.broadcast_to(a, shape)
    except ValueError:
        raise _shape_error(name, a, shape) from None


@dataclass(frozen=True)
class _Element:
    """One part of the allocation: available (trust, 4), earned and where its test passed
    (draw, trust, 4)."""

    available: FloatArray
    earned: FloatArray
    ok: BoolArray


def assess_funding(
    pack: RulePack,
    *,
    ytd_surplus_pre: ArrayLike,
    ytd_target_pre: ArrayLike,
    allocation: ArrayLike,
    accepted: ArrayLike,
    ae_applies: ArrayLike,
    ae_met: ArrayLike | None = None,
    catch_up: bool | None = None,
    improvement_agreed: ArrayLike | None = None,
) -> FundingResult:
    """STF/PSF earned, lost, released, incentive per draw, trust and quarter.

    Parameters
    ----------
    pack : RulePack
        A funding pack (``load_pack("stf-2017-18")``); validated first.
    ytd_surplus_pre : array (draw, trust, 4)
        Year-to-date surplus/(deficit) before STF/PSF at each quarter end [£000].
    ytd_target_pre : array broadcastable to (draw, trust, 4)
        Year-to-date pre-STF control-total profile at each quarter end [£000].
    allocation : array (trust,)
        Annual STF/PSF allocation [£000], >= 0.
    accepted : array of bool (trust,)
        Whether the trust accepted its control total.
    ae_applies : array of bool (trust,)
        Whether part of the allocation depends on A&E performance (type 1 A&E).
    ae_met : array of bool broadcastable to (draw, trust, 4), optional
        A&E trajectory (or national standard) met in each quarter. None = met everywhere.
    catch_up : bool, optional
        Release withheld Q1-Q3 amounts at year end; None = the pack's ``catch_up.enabled``.
    improvement_agreed : array (trust,), optional
        The improvement on its control total each trust agreed in its plan [£000, >= 0],
        read when the pack's ``incentive.basis`` is ``agreed_improvement``; None = 0.

    Returns
    -------
    FundingResult
        ``bonus`` is zero: the bonus is a portfolio step, see :func:`distribute_bonus`.

    Raises
    ------
    RulePackError
        The pack is not a valid funding pack.
    ValueError
        Input shapes do not fit, or an allocation is negative or not finite.
    """
    validate_funding_pack(pack)
    surplus = np.asarray(ytd_surplus_pre, dtype=float)
    if surplus.ndim != 3 or surplus.shape[-1] != N_QUARTERS:
        msg = f"ytd_surplus_pre: expected shape (draw, trust, {N_QUARTERS}), got {surplus.shape}"
        raise ValueError(msg)
    shape = surplus.shape
    n_trust = shape[1]
    target = _to_shape_float("ytd_target_pre", ytd_target_pre, shape)
    alloc = _per_trust_float("allocation", allocation, n_trust)
    if not np.all(np.isfinite(alloc) & (alloc >= 0)):
        raise ValueError("allocation: every value must be a finite number >= 0 [£000]")
    acc = _per_trust_bool("accepted", accepted, n_trust)
    has_ae = _per_trust_bool("ae_applies", ae_applies, n_trust)
    ae_ok = np.ones(shape, bool) if ae_met is None else _to_shape_bool("ae_met", ae_met, shape)

    # Gate: YTD pre-STF position against the YTD control-total profile.
    pack.get("gate.basis")  # the only basis is ytd_pre_stf; read so provenance records it
    tol = float(pack.number("gate.tolerance"))
    eligible = acc if pack.flag("acceptance.required") else np.ones(n_trust, bool)
    met_q = eligible[:, None] & (surplus >= target - tol)

    fin, ae, oth = _elements(pack, alloc, has_ae, ae_ok, eligible, met_q)
    performance_earned = ae.earned + oth.earned
    earned = fin.earned + performance_earned
    available = np.broadcast_to(fin.available + ae.available + oth.available, shape).copy()
    lost = (fin.available - fin.earned) + (ae.available - ae.earned) + (oth.available - oth.earned)
    released = _released_catch_up(pack, catch_up, fin, ae, oth, shape)

    met_year = met_q[..., -1]
    outperf = surplus[..., -1] - target[..., -1]
    incentive = _incentive(pack, met_year, outperf, improvement_agreed, n_trust)

    bonus = np.zeros(shape[:2])
    return FundingResult(
        pack=pack.name,
        allocation=alloc.copy(),
        available=available,
        finance_earned=fin.earned,
        performance_earned=performance_earned,
        earned=earned,
        lost=lost,
        met_quarter=met_q,
        met_year=met_year,
        outperformance=outperf,
        released_catch_up=released,
        forfeited=lost.sum(axis=-1) - released,
        incentive=incentive,
        bonus=bonus,
        total_earned=earned.sum(axis=-1) + released + incentive + bonus,
        unverified=tuple(pack.unverified_used()),
    )


def _incentive(
    pack: RulePack,
    met_year: BoolArray,
    outperf: FloatArray,
    improvement_agreed: ArrayLike | None,
    n_trust: int,
) -> FloatArray:
    """(draw, trust) year-end incentive: ``incentive.ratio`` times the outperformance or the
    agreed improvement (``incentive.basis``), where the year end is met; capped."""
    if improvement_agreed is None:
        agreed = np.zeros(n_trust)
    else:
        agreed = _per_trust_float("improvement_agreed", improvement_agreed, n_trust)
        if not np.all(np.isfinite(agreed) & (agreed >= 0)):
            raise ValueError("improvement_agreed: every value must be a finite number >= 0 [£000]")
    basis = incentive_basis(pack)
    rewarded = np.maximum(outperf, 0.0) if basis == INCENTIVE_BASES[0] else agreed[None, :]
    incentive = np.where(met_year, float(pack.number("incentive.ratio")) * rewarded, 0.0)
    if pack.get("incentive.cap") is not False:
        incentive = np.minimum(incentive, float(pack.number("incentive.cap")))
    out: FloatArray = incentive
    return out


def _elements(
    pack: RulePack,
    alloc: FloatArray,
    has_ae: BoolArray,
    ae_ok: BoolArray,
    eligible: BoolArray,
    met_q: BoolArray,
) -> tuple[_Element, _Element, _Element]:
    """The finance element, the A&E element and the other (untracked) performance elements:
    what each makes available by quarter and what is earned."""
    n_trust = alloc.shape[0]
    # Shares of the allocation by element, per trust.
    fin = float(pack.number("split.finance"))
    perf = float(pack.number("split.performance"))
    fin_t = np.full(n_trust, fin)
    perf_t = np.full(n_trust, perf)
    if not has_ae.all() and pack.get("performance.no_ae_rule") == "finance_conditional":
        fin_t = np.where(has_ae, fin, fin + perf)
        perf_t = np.where(has_ae, perf, 0.0)
    ae_eff = ae_ok | ~has_ae[:, None]  # no A&E: the A&E test does not bind
    weights = pack.weights("performance.elements")
    w_sum = float(sum(weights.values()))
    w_ae = float(weights.get(AE_ELEMENT, 0.0)) / w_sum if w_sum > 0 else 0.0
    w_other = 1.0 - w_ae if w_sum > 0 else 0.0
    other_ok = False
    if w_other > 0 and perf_t.any():
        other_ok = pack.get("performance.untracked_rule") == "met"
    if perf_t.any():
        perf_gate = met_q if pack.flag("performance.requires_finance") else eligible[:, None]
    else:
        perf_gate = met_q

    q_alloc = alloc[:, None] * np.asarray(pack.numbers("phasing.quarters"), dtype=float)
    fin_avail = q_alloc * fin_t[:, None]  # (trust, 4)
    ae_avail = q_alloc * (perf_t * w_ae)[:, None]
    oth_avail = q_alloc * (perf_t * w_other)[:, None]
    ae_earn_ok = ae_eff & perf_gate
    oth_earn_ok = perf_gate & other_ok
    return (
        _Element(fin_avail, np.where(met_q, fin_avail, 0.0), met_q),
        _Element(ae_avail, np.where(ae_earn_ok, ae_avail, 0.0), ae_earn_ok),
        _Element(oth_avail, np.where(oth_earn_ok, oth_avail, 0.0), oth_earn_ok),
    )


def _released_catch_up(
    pack: RulePack,
    catch_up: bool | None,
    fin: _Element,
    ae: _Element,
    oth: _Element,
    shape: tuple[int, ...],
) -> FloatArray:
    """(draw, trust) withheld Q1-Q3 amounts of an element that come back because that
    element earns Q4 (when catch-up is on)."""
    released = np.zeros(shape[:2])
    if catch_up is None:
        catch_up = bool(pack.flag("catch_up.enabled"))
    if catch_up:
        comps = set(pack.texts("catch_up.applies_to"))
        parts = {"finance": [fin], "performance": [ae, oth]}
        for comp in CATCH_UP_COMPONENTS:
            if comp not in comps:
                continue
            for el in parts[comp]:
                withheld = (el.available - el.earned)[..., : N_QUARTERS - 1].sum(axis=-1)
                released = released + np.where(el.ok[..., -1], withheld, 0.0)
    return released


def distribute_bonus(
    result: FundingResult, pack: RulePack, pool_forfeited: ArrayLike | None = None
) -> FundingResult:
    """Share the forfeited pool among the trusts that met their year-end control total.

    A portfolio step: call it on the result for all the trusts that share the pool. Per
    draw, the pool (by default ``result.forfeited.sum(axis=1)``: everything the trusts lost
    for good, finance and performance, after catch-up) goes to the trusts with ``met_year``,
    weighted by ``bonus.basis``: ``pro_rata_allocation`` (their allocations) or
    ``pro_rata_outperformance`` (their year-end pre-STF outperformance). If no trust qualifies
    in a draw (or all the weights are 0) nothing is distributed in that draw: the money
    stays forfeited. With ``bonus.enabled = false`` the bonus is zero.

    Parameters
    ----------
    result : FundingResult
        From :func:`assess_funding` under the same pack.
    pack : RulePack
        The funding pack.
    pool_forfeited : scalar or array (draw,), optional
        The pool to share [£000], e.g. to add unallocated national money or to use the
        finance element only; default: the forfeited money of the trusts in ``result``.

    Returns
    -------
    FundingResult
        A copy with ``bonus`` (draw, trust) set and ``total_earned`` updated; calling it
        again replaces the bonus rather than adding to it.
    """
    validate_funding_pack(pack)
    if pack.name != result.pack:
        raise ValueError(f"result was computed under {result.pack!r}, not {pack.name!r}")
    n_draw = result.met_year.shape[0]
    if pool_forfeited is None:
        pool = result.forfeited.sum(axis=1)
    else:
        pool = np.broadcast_to(np.asarray(pool_forfeited, dtype=float), (n_draw,))
        if not np.all(np.isfinite(pool) & (pool >= 0)):
            raise ValueError("pool_forfeited: must be finite and >= 0 [£000]")
    bonus = np.zeros(result.met_year.shape)
    if pack.get("bonus.enabled"):
        if pack.get("bonus.basis") == "pro_rata_allocation":
            weight = np.broadcast_to(result.allocation, result.met_year.shape)
        else:  # pro_rata_outperformance
            weight = np.maximum(result.outperformance, 0.0)
        weight = np.where(result.met_year, weight, 0.0)
        denom = weight.sum(axis=1, keepdims=True)
        share = np.divide(weight, denom, out=np.zeros_like(weight), where=denom > 0)
        bonus = pool[:, None] * share
    unverified = tuple(sorted(set(result.unverified) | set(pack.unverified_used())))
    return replace(
        result,
        bonus=bonus,
        total_earned=result.total_earned - result.bonus + bonus,
        unverified=unverified,
    )
