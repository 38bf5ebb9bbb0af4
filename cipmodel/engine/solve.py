"""Solve for the CIP a plan needs to meet its control total.

For each trust the unknown is a multiplier ``k`` on its whole CIP programme (the plan's mix
of schemes, phasing and recurrence kept as it is): the surplus/(deficit) before STF/PSF in
the chosen plan year, computed by the engine itself, must equal the pre-STF control total.
A trust with no CIP in that year gets a notional flat, recurrent programme from month 1
instead, and the unknown is its value [£000].

The root is found for all trusts at once with SciPy's elementwise bracketing root finder
(:func:`scipy.optimize.elementwise.bracket_root` then
:func:`~scipy.optimize.elementwise.find_root`, Chandrupatla's method), evaluating the same
engine a plan run uses; no closed form is assumed, so the solver stays right when the
surplus stops being linear in the CIP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import elementwise

from cipmodel.calendar import cip_share
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
        Planned in-year CIP [£000].
    needed : ndarray
        In-year CIP needed to meet the control total exactly [£000] (0 if it is met with
        no CIP at all: see ``met_without_cip``).
    opex : ndarray
        Operating expenditure before CIP in that year [£000] (the % denominator).
    scale : ndarray
        Multiplier on the CIP programme that meets the control total (NaN for trusts with
        no programme).
    notional : ndarray
        Notional flat programme needed by trusts with no CIP [£000/yr] (NaN otherwise).
    met_without_cip : ndarray of bool
    band : ndarray of str
        Evidence band of ``needed_pct`` (``cip-bands`` rule pack).
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
        planned_pct, needed_pct = self.planned_pct, self.needed_pct
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
                }
                for i, code in enumerate(self.codes)
            ]
        }

    def apply(self, portfolio: Portfolio) -> Portfolio:
        """The portfolio with the solved CIP put back into the plan.

        Trusts with a programme have every scheme scaled by ``scale``; trusts without one
        get an unidentified, recurrent, flat scheme ``SOLVED-CIP`` worth ``notional``.
        """
        factors = {
            c: float(k) for c, k in zip(self.codes, self.scale, strict=True) if np.isfinite(k)
        }
        out = portfolio.with_cip_scaled(factors)
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


def solve_cip(plan: PlanArrays, *, year: int = 1, base: Projection | None = None) -> SolveResult:
    """The CIP each trust needs in plan year ``year`` to meet its pre-STF control total.

    Parameters
    ----------
    plan : PlanArrays
        Compiled portfolio.
    year : int
        Plan year (1 = first).
    base : Projection, optional
        The plan run, if already computed.

    Raises
    ------
    SolveError
        If a trust has no control total for ``year`` or no root can be bracketed.
    """
    if not 1 <= year <= plan.n_years:
        raise SolveError(f"year must be from 1 to {plan.n_years}, got {year}")
    target = plan.ct_target[:, year - 1]
    missing = [c for c, t in zip(plan.codes, target, strict=True) if not np.isfinite(t)]
    if missing:
        raise SolveError(f"no control total for year {year}: {', '.join(missing)}")
    base = base or project(plan)
    ys = _year_slice(year)
    planned = base.cip_total[0, :, ys].sum(axis=-1)
    opex = base.operating_expenditure_do_nothing[0, :, ys].sum(axis=-1)
    has_programme = planned > 1e-9

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
        proj = project(plan, Draws(n=n_layers, cip_scale=scale, extra_cip=extra))
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
    root = np.asarray(res.x, dtype=float)
    met_without = root <= 0
    root = np.maximum(root, 0.0)
    scale = np.where(has_programme, root, np.nan)
    notional = np.where(has_programme, np.nan, root)
    needed = np.where(has_programme, root * planned, root)
    needed_pct = cip_share(needed, opex)
    band = np.asarray(cip_band(np.nan_to_num(needed_pct, nan=0.0)), dtype=object)
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
    )
