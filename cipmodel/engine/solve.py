"""Solve for the CIP a plan needs to meet its control total.

For each trust the unknown is a multiplier ``k`` on the CIP programme of the chosen plan
year (the plan's mix of schemes, phasing and recurrence kept as it is): the
surplus/(deficit) before STF/PSF in that year, computed by the engine itself, must equal the
pre-STF control total. A trust with no CIP in that year gets a notional flat, recurrent
programme instead, and the unknown is its value [£000].

The year's programme is measured as NHS plans measure it (:mod:`cipmodel.engine.cip_years`):
in year 1 every scheme; in a later year the schemes starting in that year (``new``), with
earlier years' schemes held as planned, so their full-year-effect rollover
(``brought_forward``) counts in the year's CIP but is not scaled. ``needed`` is
``brought_forward + k * new``: the year's own savings, which the evidence bands rate.

The root is found for all trusts at once with SciPy's elementwise bracketing root finder
(:func:`scipy.optimize.elementwise.bracket_root` then
:func:`~scipy.optimize.elementwise.find_root`, Chandrupatla's method), evaluating the same
engine a plan run uses; no closed form is assumed, so the solver stays right when the
surplus stops being linear in the CIP.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TypedDict

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import elementwise

from cipmodel.calendar import cip_share
from cipmodel.engine.cip_years import cip_years
from cipmodel.engine.project import Draws, PlanArrays, Projection, project
from cipmodel.errors import SolveError
from cipmodel.inputs.records import Portfolio, Scheme
from cipmodel.regime.bands import cip_band

__all__ = ["SolveDict", "SolvedTrustDict", "SolveResult", "solve_cip"]

FloatArray = NDArray[np.float64]
TOLERANCE = 0.01  # £000: the solved surplus matches the control total to £10


class SolvedTrustDict(TypedDict):
    """One trust of the ``solve --json`` document (money £000, shares as fractions)."""

    code: str
    year: int
    planned: float
    planned_pct: float
    needed: float
    needed_pct: float
    band: str
    scale: float | None
    notional: float | None
    met_without_cip: bool
    brought_forward: float
    new: float


class SolveDict(TypedDict):
    """The ``solve --json`` document."""

    trusts: list[SolvedTrustDict]


@dataclass(frozen=True)
class SolveResult:
    """The CIP each trust needs in one plan year to meet its pre-STF control total.

    Attributes (arrays over trusts, in portfolio order)
    ----------
    codes : tuple of str
    year : int
        Plan year solved (1 = first).
    planned : ndarray
        Planned CIP of the year [£000]: ``brought_forward + new``.
    needed : ndarray
        CIP of the year needed to meet the control total exactly [£000]
        (``brought_forward`` if it is met with no new CIP at all: see ``met_without_cip``).
    opex : ndarray
        Operating expenditure before CIP in that year [£000] (the % denominator).
    scale : ndarray
        Multiplier on the year's new schemes that meets the control total (NaN for trusts
        with none).
    notional : ndarray
        Notional flat programme needed by trusts with no new schemes in the year
        [£000/yr] (NaN otherwise).
    met_without_cip : ndarray of bool
        The control total is met with no new CIP in the year.
    band : ndarray of str
        Evidence band of ``needed_pct`` (``cip-bands`` rule pack).
    brought_forward : ndarray, optional
        Full-year-effect rollover of earlier years' recurrent schemes into the year
        [£000] (0 in year 1; None = 0).
    """

    codes: tuple[str, ...]
    year: int
    planned: FloatArray
    needed: FloatArray
    opex: FloatArray
    scale: FloatArray
    notional: FloatArray
    met_without_cip: NDArray[np.bool_]
    band: NDArray[np.object_]
    brought_forward: FloatArray | None = None

    @property
    def rollover(self) -> FloatArray:
        """``brought_forward`` (zeros where there is none) [£000]."""
        if self.brought_forward is None:
            return np.zeros_like(self.planned)
        return self.brought_forward

    @property
    def planned_pct(self) -> FloatArray:
        """Planned CIP as a share of operating expenditure [fraction]."""
        return cip_share(self.planned, self.opex)

    @property
    def needed_pct(self) -> FloatArray:
        """Needed CIP as a share of operating expenditure [fraction]."""
        return cip_share(self.needed, self.opex)

    def to_dict(self) -> SolveDict:
        """The ``solve --json`` document: per trust the CIP planned and needed.

        Floats are unrounded; ``scale`` and ``notional`` are None where they do not apply
        (a trust has one or the other).
        """
        planned_pct, needed_pct, bf = self.planned_pct, self.needed_pct, self.rollover
        return {
            "trusts": [
                {
                    "code": code,
                    "year": self.year,
                    "planned": float(self.planned[i]),
                    "planned_pct": float(planned_pct[i]),
                    "needed": float(self.needed[i]),
                    "needed_pct": float(needed_pct[i]),
                    "band": str(self.band[i]),
                    "scale": float(self.scale[i]) if np.isfinite(self.scale[i]) else None,
                    "notional": float(self.notional[i]) if np.isfinite(self.notional[i]) else None,
                    "met_without_cip": bool(self.met_without_cip[i]),
                    "brought_forward": float(bf[i]),
                    "new": float(self.planned[i] - bf[i]),
                }
                for i, code in enumerate(self.codes)
            ]
        }

    def apply(self, portfolio: Portfolio) -> Portfolio:
        """The portfolio with the solved CIP put back into the plan.

        Trusts with a programme have every scheme (in a later year: every scheme starting
        in that year) scaled by ``scale``; trusts without one get an unidentified,
        recurrent, flat scheme ``SOLVED-CIP`` worth ``notional`` starting in the year.
        """
        factors = {
            c: float(k) for c, k in zip(self.codes, self.scale, strict=True) if np.isfinite(k)
        }
        if self.year == 1:
            out = portfolio.with_cip_scaled(factors)
        else:
            out = portfolio.replace(
                cip=tuple(
                    dataclasses.replace(
                        s, value_fye=s.value_fye * factors[s.trust_code], source=None
                    )
                    if s.start_year == self.year and s.trust_code in factors
                    else s
                    for s in portfolio.cip
                )
            )
        extra = [
            Scheme(
                trust_code=c,
                scheme_id="SOLVED-CIP",
                name="CIP needed to meet the control total (solved)",
                category="non_pay",
                value_fye=float(v),
                start_year=self.year,
                start_month=1,
                recurrent=True,
                stage="unidentified",
                rag="red",
            )
            for c, v in zip(self.codes, self.notional, strict=True)
            if np.isfinite(v) and v > 0
        ]
        return out.replace(cip=(*out.cip, *extra)) if extra else out


def _year_slice(year: int) -> slice:
    return slice(12 * (year - 1), 12 * year)


def solve_cip(
    plan: PlanArrays, *, year: int = 1, base: Projection | None = None, skip_missing: bool = False
) -> SolveResult:
    """The CIP each trust needs in plan year ``year`` to meet its pre-STF control total.

    Parameters
    ----------
    plan : PlanArrays
        Compiled portfolio.
    year : int
        Plan year (1 = first).
    base : Projection, optional
        The plan run, if already computed.
    skip_missing : bool
        A trust with no control total for ``year`` gets NaN ``needed`` (and band '')
        instead of an error.

    Raises
    ------
    SolveError
        If a trust has no control total for ``year`` (unless ``skip_missing``) or no root
        can be bracketed.
    """
    if not 1 <= year <= plan.n_years:
        raise SolveError(f"year must be from 1 to {plan.n_years}, got {year}")
    target = plan.ct_target[:, year - 1]
    missing = [c for c, t in zip(plan.codes, target, strict=True) if not np.isfinite(t)]
    if missing and not skip_missing:
        raise SolveError(f"no control total for year {year}: {', '.join(missing)}")
    base = base or project(plan)
    absent = ~np.isfinite(target)
    if absent.any():  # solved against the plan's own surplus, then reported as NaN
        own = base.by_year(base.surplus_pre_stf)[0, :, year - 1]
        target = np.where(absent, own, target)
    ys = _year_slice(year)
    opex = base.operating_expenditure_do_nothing[0, :, ys].sum(axis=-1)
    if year == 1:
        planned = base.cip_total[0, :, ys].sum(axis=-1)
        rollover = np.zeros(plan.n_trusts)
        scaled = None  # every scheme of the trust
    else:
        cy = cip_years(plan, base.cip_scheme_year[0])
        rollover = cy.brought_forward[:, year - 1]
        planned = cy.planned[:, year - 1]
        scaled = plan.scheme_start // 12 == year - 1  # the year's new schemes
    new = planned - rollover
    has_programme = new > 1e-9
    root = _find_root(plan, year, target, _Trial(has_programme, scaled), opex)
    met_without = root <= 0
    root = np.maximum(root, 0.0)
    scale = np.where(has_programme, root, np.nan)
    notional = np.where(has_programme, np.nan, root)
    needed = np.where(absent, np.nan, rollover + np.where(has_programme, root * new, root))
    needed_pct = cip_share(needed, opex)
    band = np.asarray(cip_band(np.nan_to_num(needed_pct, nan=0.0)), dtype=object)
    band = np.where(absent, "", np.atleast_1d(band)).astype(object)
    return SolveResult(
        codes=plan.codes,
        year=year,
        planned=planned,
        needed=needed,
        opex=opex,
        scale=scale,
        notional=notional,
        met_without_cip=met_without,
        band=np.atleast_1d(band),
        brought_forward=None if year == 1 else rollover,
    )


@dataclass(frozen=True)
class _Trial:
    """What a trial value varies: a multiplier on the trust's schemes (all of them, or the
    ``scaled`` ones) where it has a programme, else a notional flat programme."""

    has_programme: NDArray[np.bool_]  # (T,)
    scaled: NDArray[np.bool_] | None  # (S,) the schemes the multiplier applies to


def _find_root(
    plan: PlanArrays, year: int, target: FloatArray, trial: _Trial, opex: FloatArray
) -> FloatArray:
    """Each trust's trial value that makes the year's pre-STF surplus equal ``target``."""
    has_programme = trial.has_programme

    def gap(x: FloatArray, idx: FloatArray) -> FloatArray:
        # Trusts are independent, so each engine draw can carry a different trial value
        # for every trust: element j goes to draw layer[j], its rank among elements of
        # the same trust (the root finder may ask for several points of one trust).
        flat_x, flat_i = np.ravel(x), np.ravel(idx).astype(np.intp)
        order = np.argsort(flat_i, kind="stable")
        sorted_i = flat_i[order]
        first = np.searchsorted(sorted_i, sorted_i, side="left")
        layer = np.empty_like(flat_i)
        layer[order] = np.arange(flat_i.size) - first
        n_layers = int(layer.max()) + 1 if flat_i.size else 0
        scale = np.ones((n_layers, plan.n_trusts))
        extra = np.zeros((n_layers, plan.n_trusts))
        prog = has_programme[flat_i]
        scale[layer[prog], flat_i[prog]] = flat_x[prog]
        extra[layer[~prog], flat_i[~prog]] = flat_x[~prog]
        if trial.scaled is None:
            draws = Draws(n=n_layers, cip_scale=scale, extra_cip=extra)
        else:  # only the year's new schemes move; earlier years' stay as planned
            delivery = np.where(trial.scaled[None, :], scale[:, plan.scheme_trust], 1.0)
            draws = Draws(n=n_layers, delivery=delivery, extra_cip=extra)
        proj = project(plan, draws)
        surplus = proj.by_year(proj.surplus_pre_stf)[:, :, year - 1]
        return (surplus[layer, flat_i] - target[flat_i]).reshape(np.shape(x))

    idx = np.arange(plan.n_trusts, dtype=float)
    x0 = np.where(has_programme, 1.0, 0.0)
    step = np.where(has_programme, 0.5, np.maximum(1.0, 0.01 * opex))
    bracket = elementwise.bracket_root(gap, x0, x0 + step, args=(idx,), maxiter=200)
    if not np.all(bracket.success):
        bad = [c for c, ok in zip(plan.codes, bracket.success, strict=True) if not ok]
        raise SolveError(f"could not bracket the CIP needed for: {', '.join(bad)}")
    lo = np.minimum(*bracket.bracket)
    hi = np.maximum(*bracket.bracket)
    res = elementwise.find_root(
        gap, (lo, hi), args=(idx,), tolerances={"fatol": TOLERANCE / 10, "xrtol": 1e-12}
    )
    if not np.all(res.success):
        bad = [c for c, ok in zip(plan.codes, res.success, strict=True) if not ok]
        raise SolveError(f"the CIP solve did not converge for: {', '.join(bad)}")
    return np.asarray(res.x, dtype=float)
