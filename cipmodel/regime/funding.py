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
- **Incentive**: ``incentive.ratio * max(0, ytd_surplus_pre[Q4] - ytd_target_pre[Q4])`` for
  trusts that pass the year-end gate, capped at ``incentive.cap`` if the pack sets one.
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

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cipmodel.regime.packs import RulePack, is_number

__all__ = [
    "ae_trajectory_met",
    "FundingResult",
    "validate_funding_pack",
    "assess_funding",
    "distribute_bonus",
    "assess_funding_scalar",
    "N_QUARTERS",
    "GATE_BASES",
    "NO_AE_RULES",
    "UNTRACKED_RULES",
    "CATCH_UP_COMPONENTS",
    "BONUS_BASES",
]

N_QUARTERS = 4
#: Keywords a funding pack may use, by key.
GATE_BASES = ("ytd_pre_stf",)
NO_AE_RULES = ("finance_conditional", "performance_met")
UNTRACKED_RULES = ("met", "lost")
CATCH_UP_COMPONENTS = ("finance", "performance")
BONUS_BASES = ("pro_rata_allocation", "pro_rata_outperformance")

_SUM_TOL = 1e-9
_AE = "ae"


# --------------------------------------------------------------------------------------
# Pack validation
# --------------------------------------------------------------------------------------


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


def _number(pack: RulePack, key: str, lo: float = 0.0, hi: float | None = None) -> float:
    v = pack.peek(key)
    if not is_number(v):
        raise pack.error(key, f"must be a number, got {v!r}")
    if v < lo:
        raise pack.error(key, f"must be >= {lo:g}, got {v!r}")
    if hi is not None and v > hi:
        raise pack.error(key, f"must be <= {hi:g}, got {v!r}")
    return float(v)


def _flag(pack: RulePack, key: str) -> bool:
    v = pack.peek(key)
    if not isinstance(v, bool):
        raise pack.error(key, f"must be true or false, got {v!r}")
    return v


def _keyword(pack: RulePack, key: str, allowed: Sequence[str]) -> str:
    v = pack.peek(key)
    if v not in allowed:
        raise pack.error(key, f"unknown keyword {v!r} (allowed: {', '.join(allowed)})")
    return str(v)


def validate_funding_pack(pack: RulePack) -> None:
    """Check a funding pack is complete and consistent; raise RulePackError if not.

    Checks: ``pack.kind`` is ``"funding"``; every key is present; numbers are finite and
    not negative; ``split.finance + split.performance == 1`` and ``phasing.quarters`` (four
    values) sums to 1, both within 1e-9; ``performance.elements`` is a table of weights that
    sum to more than 0 when ``split.performance > 0``; keyword values are among the allowed
    ones (:data:`GATE_BASES`, :data:`NO_AE_RULES`, :data:`UNTRACKED_RULES`,
    :data:`CATCH_UP_COMPONENTS`, :data:`BONUS_BASES`); ``incentive.cap`` is ``false`` or a
    number >= 0. Values are read without marking them used, so validation adds nothing to
    a result's unverified list.

    Raises
    ------
    RulePackError
        ``"<file>: <key>: <reason>"`` for the first problem found.
    """
    if pack.kind != "funding":
        raise pack.error("pack.kind", f"is {pack.kind!r}, but a 'funding' pack is needed here")
    _number(pack, "pool.total")
    fin = _number(pack, "split.finance", 0.0, 1.0)
    perf = _number(pack, "split.performance", 0.0, 1.0)
    if abs(fin + perf - 1.0) > _SUM_TOL:
        reason = (
            f"split.finance ({fin:g}) + split.performance ({perf:g}) = {fin + perf:g}, must be 1"
        )
        raise pack.error("split", reason)

    key = "performance.elements"
    elements = pack.peek(key)
    if not isinstance(elements, dict) or not elements:
        raise pack.error(key, f"must be a table of element = weight, got {elements!r}")
    for name, w in elements.items():
        if not is_number(w) or w < 0:
            raise pack.error(f"{key}.{name}", f"weight must be a number >= 0, got {w!r}")
    if perf > 0 and sum(elements.values()) <= 0:
        raise pack.error(key, "weights sum to 0 but split.performance > 0")
    _keyword(pack, "performance.untracked_rule", UNTRACKED_RULES)
    _keyword(pack, "performance.no_ae_rule", NO_AE_RULES)
    _flag(pack, "performance.requires_finance")

    key = "phasing.quarters"
    phasing = pack.peek(key)
    if not isinstance(phasing, list) or len(phasing) != N_QUARTERS:
        raise pack.error(key, f"must be a list of {N_QUARTERS} fractions, got {phasing!r}")
    if not all(is_number(x) and x >= 0 for x in phasing):
        raise pack.error(key, f"every quarter must be a number >= 0, got {phasing!r}")
    if abs(sum(phasing) - 1.0) > _SUM_TOL:
        raise pack.error(key, f"must sum to 1, got {sum(phasing):.12g}")

    _keyword(pack, "gate.basis", GATE_BASES)
    _number(pack, "gate.tolerance")

    _flag(pack, "catch_up.enabled")
    key = "catch_up.applies_to"
    comps = pack.peek(key)
    if not isinstance(comps, list) or any(c not in CATCH_UP_COMPONENTS for c in comps):
        allowed = ", ".join(CATCH_UP_COMPONENTS)
        raise pack.error(key, f"must be a list drawn from {allowed}, got {comps!r}")

    _number(pack, "incentive.ratio")
    cap = pack.peek("incentive.cap")
    if cap is not False and not (is_number(cap) and cap >= 0):
        raise pack.error("incentive.cap", f"must be false (no cap) or a number >= 0, got {cap!r}")
    _flag(pack, "bonus.enabled")
    _keyword(pack, "bonus.basis", BONUS_BASES)
    _flag(pack, "acceptance.required")


# --------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------


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
        Year-end incentive for outperforming the control total [£000].
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


def _per_trust(name: str, x: ArrayLike, n_trust: int, dtype: type) -> NDArray[Any]:
    a = np.asarray(x, dtype=dtype)
    if a.shape != (n_trust,):
        raise ValueError(f"{name}: expected shape ({n_trust},) (trust), got {a.shape}")
    return a


def _to_shape(name: str, x: ArrayLike, shape: tuple[int, ...], dtype: type) -> NDArray[Any]:
    a = np.asarray(x, dtype=dtype)
    try:
        return np.broadcast_to(a, shape)
    except ValueError:
        msg = f"{name}: shape {a.shape} does not broadcast to (draw, trust, quarter) = {shape}"
        raise ValueError(msg) from None


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
    target = _to_shape("ytd_target_pre", ytd_target_pre, shape, float)
    alloc = _per_trust("allocation", allocation, n_trust, float)
    if not np.all(np.isfinite(alloc) & (alloc >= 0)):
        raise ValueError("allocation: every value must be a finite number >= 0 [£000]")
    acc = _per_trust("accepted", accepted, n_trust, bool)
    has_ae = _per_trust("ae_applies", ae_applies, n_trust, bool)
    ae_ok = np.ones(shape, bool) if ae_met is None else _to_shape("ae_met", ae_met, shape, bool)

    # Gate: YTD pre-STF position against the YTD control-total profile.
    pack.get("gate.basis")  # the only basis is ytd_pre_stf; read so provenance records it
    tol = float(pack.get("gate.tolerance"))
    eligible = acc if pack.get("acceptance.required") else np.ones(n_trust, bool)
    met_q = eligible[:, None] & (surplus >= target - tol)

    # Shares of the allocation by element, per trust.
    fin = float(pack.get("split.finance"))
    perf = float(pack.get("split.performance"))
    fin_t = np.full(n_trust, fin)
    perf_t = np.full(n_trust, perf)
    if not has_ae.all() and pack.get("performance.no_ae_rule") == "finance_conditional":
        fin_t = np.where(has_ae, fin, fin + perf)
        perf_t = np.where(has_ae, perf, 0.0)
    ae_eff = ae_ok | ~has_ae[:, None]  # no A&E: the A&E test does not bind
    weights = pack.get("performance.elements")
    w_sum = float(sum(weights.values()))
    w_ae = float(weights.get(_AE, 0.0)) / w_sum if w_sum > 0 else 0.0
    w_other = 1.0 - w_ae if w_sum > 0 else 0.0
    other_ok = False
    if w_other > 0 and perf_t.any():
        other_ok = pack.get("performance.untracked_rule") == "met"
    if perf_t.any():
        perf_gate = met_q if pack.get("performance.requires_finance") else eligible[:, None]
    else:
        perf_gate = met_q

    q_alloc = alloc[:, None] * np.asarray(pack.get("phasing.quarters"), dtype=float)
    fin_avail = q_alloc * fin_t[:, None]  # (trust, 4)
    ae_avail = q_alloc * (perf_t * w_ae)[:, None]
    oth_avail = q_alloc * (perf_t * w_other)[:, None]
    fin_ok = met_q
    ae_earn_ok = ae_eff & perf_gate
    oth_earn_ok = perf_gate & other_ok
    fin_earned = np.where(fin_ok, fin_avail, 0.0)
    ae_earned = np.where(ae_earn_ok, ae_avail, 0.0)
    oth_earned = np.where(oth_earn_ok, oth_avail, 0.0)
    performance_earned = ae_earned + oth_earned
    earned = fin_earned + performance_earned
    available = np.broadcast_to(fin_avail + ae_avail + oth_avail, shape).copy()
    lost = (fin_avail - fin_earned) + (ae_avail - ae_earned) + (oth_avail - oth_earned)

    # Catch-up: withheld Q1-Q3 amounts of an element come back if that element earns Q4.
    released = np.zeros(shape[:2])
    if catch_up is None:
        catch_up = bool(pack.get("catch_up.enabled"))
    if catch_up:
        comps = set(pack.get("catch_up.applies_to"))
        parts = {
            "finance": [(fin_avail, fin_earned, fin_ok)],
            "performance": [
                (ae_avail, ae_earned, ae_earn_ok),
                (oth_avail, oth_earned, oth_earn_ok),
            ],
        }
        for comp in CATCH_UP_COMPONENTS:
            if comp not in comps:
                continue
            for avail_c, earned_c, ok_c in parts[comp]:
                withheld = (avail_c - earned_c)[..., : N_QUARTERS - 1].sum(axis=-1)
                released = released + np.where(ok_c[..., -1], withheld, 0.0)

    # Year-end incentive for pre-STF outturn better than the control total.
    met_year = met_q[..., -1]
    outperf = surplus[..., -1] - target[..., -1]
    incentive = np.where(
        met_year, float(pack.get("incentive.ratio")) * np.maximum(outperf, 0.0), 0.0
    )
    cap = pack.get("incentive.cap")
    if cap is not False:
        incentive = np.minimum(incentive, float(cap))

    bonus = np.zeros(shape[:2])
    return FundingResult(
        pack=pack.name,
        allocation=alloc.copy(),
        available=available,
        finance_earned=fin_earned,
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


# --------------------------------------------------------------------------------------
# Scalar reference (tests only)
# --------------------------------------------------------------------------------------


def assess_funding_scalar(
    pack: RulePack,
    *,
    ytd_surplus_pre: Sequence[float],
    ytd_target_pre: Sequence[float],
    allocation: float,
    accepted: bool,
    ae_applies: bool,
    ae_met: Sequence[bool] | None = None,
    catch_up: bool | None = None,
) -> dict[str, Any]:
    """Reference implementation for one trust and one draw, in plain Python loops.

    A second, independent reading of the rules used by the tests to cross-check
    :func:`assess_funding`; it walks each quarter and each performance element one at a
    time. Not for production use (slow). Returns a dict with the same names as
    :class:`FundingResult` (lists of four for per-quarter values, floats and bools
    otherwise; no ``bonus``).
    """
    validate_funding_pack(pack)
    phasing = [float(x) for x in pack.get("phasing.quarters")]
    finance_share = float(pack.get("split.finance"))
    performance_share = float(pack.get("split.performance"))
    tolerance = float(pack.get("gate.tolerance"))
    eligible = bool(accepted) or not pack.get("acceptance.required")
    ae_by_quarter = [True] * N_QUARTERS if ae_met is None else [bool(x) for x in ae_met]
    if not ae_applies:
        ae_by_quarter = [True] * N_QUARTERS
        if pack.get("performance.no_ae_rule") == "finance_conditional":
            finance_share, performance_share = finance_share + performance_share, 0.0
    elements = dict(pack.get("performance.elements"))
    total_weight = sum(elements.values())
    requires_finance = bool(pack.get("performance.requires_finance"))

    met = []
    for q in range(N_QUARTERS):
        met.append(eligible and ytd_surplus_pre[q] >= ytd_target_pre[q] - tolerance)

    # pieces[name][q] = (available, passed its test, earned), for "finance" and each
    # performance element in turn
    pieces: dict[str, list[tuple[float, bool, float]]] = {"finance": []}
    for q in range(N_QUARTERS):
        amount = allocation * phasing[q] * finance_share
        pieces["finance"].append((amount, met[q], amount if met[q] else 0.0))
    if performance_share > 0 and total_weight > 0:
        for name, weight in elements.items():
            pieces[name] = []
            for q in range(N_QUARTERS):
                amount = allocation * phasing[q] * performance_share * weight / total_weight
                if name == _AE:
                    passed = ae_by_quarter[q]
                else:
                    passed = pack.get("performance.untracked_rule") == "met"
                gate = met[q] if requires_finance else eligible
                passed = passed and gate
                pieces[name].append((amount, passed, amount if passed else 0.0))

    available = [0.0] * N_QUARTERS
    finance_earned = [0.0] * N_QUARTERS
    performance_earned = [0.0] * N_QUARTERS
    for name, rows in pieces.items():
        for q, (amount, _, got) in enumerate(rows):
            available[q] += amount
            if name == "finance":
                finance_earned[q] += got
            else:
                performance_earned[q] += got
    earned = [finance_earned[q] + performance_earned[q] for q in range(N_QUARTERS)]
    lost = [available[q] - earned[q] for q in range(N_QUARTERS)]

    released = 0.0
    if catch_up is None:
        catch_up = bool(pack.get("catch_up.enabled"))
    if catch_up:
        applies = pack.get("catch_up.applies_to")
        for name, rows in pieces.items():
            component = "finance" if name == "finance" else "performance"
            passed_q4 = rows[N_QUARTERS - 1][1]
            if component in applies and passed_q4:
                for amount, _, got in rows[: N_QUARTERS - 1]:
                    released += amount - got

    met_year = met[N_QUARTERS - 1]
    outperformance = ytd_surplus_pre[N_QUARTERS - 1] - ytd_target_pre[N_QUARTERS - 1]
    incentive = 0.0
    if met_year and outperformance > 0:
        incentive = float(pack.get("incentive.ratio")) * outperformance
    cap = pack.get("incentive.cap")
    if cap is not False and incentive > cap:
        incentive = float(cap)

    return {
        "available": available,
        "finance_earned": finance_earned,
        "performance_earned": performance_earned,
        "earned": earned,
        "lost": lost,
        "met_quarter": met,
        "met_year": met_year,
        "outperformance": outperformance,
        "released_catch_up": released,
        "forfeited": sum(lost) - released,
        "incentive": incentive,
        "total_earned": sum(earned) + released + incentive,
    }
