"""CIP per plan year as NHS plans measure it: the year's own savings, not the cumulative total.

A projection's CIP in plan year ``N`` (:attr:`~cipmodel.engine.project.Projection.cip_total`
summed over the year) is cumulative: it holds every recurrent scheme of earlier years at its
full-year effect. A plan (and the evidence bands of :mod:`cipmodel.regime.bands`) counts the
year's savings against a cost base that already holds the savings made before the year:

``new``
    the in-year effect in year ``N`` of the schemes starting in year ``N``;
``brought_forward``
    the full-year-effect rollover of recurrent schemes that started part-way through an
    earlier year: their effect in year ``N`` less their effect in year ``N - 1``
    (0 for a scheme already at full effect all through year ``N - 1``);
``planned``
    ``brought_forward + new``;
``in_base``
    the savings already in the year's cost base: the year ``N - 1`` effect of the recurrent
    schemes that started before year ``N`` (so ``cumulative = in_base + planned``);
``non_recurrent_gap``
    the year ``N - 1`` effect of the non-recurrent schemes that started in year ``N - 1``:
    they do not carry, so the year must replace them (shown, not added to ``planned``).

Year 1 has no earlier year: ``new`` is the whole year-1 CIP and the rest is 0, so the
year-1 figures are the cumulative ones. Percentages take the year's operating expenditure
before CIP as their denominator (as year 1 always has), see ``docs/multi-year.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from cipmodel.engine.compile import PlanArrays

__all__ = ["CipYears", "cip_years", "scheme_parts", "scheme_own_year"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class CipYears:
    """The CIP of each trust and plan year on the per-year basis, arrays (T, Y) [£000]."""

    new: FloatArray
    brought_forward: FloatArray
    in_base: FloatArray
    non_recurrent_gap: FloatArray

    @property
    def planned(self) -> FloatArray:
        """The year's own CIP: ``brought_forward + new`` [£000]."""
        out: FloatArray = self.brought_forward + self.new
        return out


def scheme_parts(plan: PlanArrays, scheme_year: FloatArray) -> dict[str, FloatArray]:
    """Each scheme's ``new``, ``brought_forward``, ``in_base`` and ``non_recurrent_gap`` part
    of each plan year, arrays (S, Y) [£000], from its in-year effect ``scheme_year`` (S, Y)."""
    n_y = scheme_year.shape[1]
    start_year = plan.scheme_start // 12  # 0-based plan year each scheme starts in
    years = np.arange(n_y)
    earlier = start_year[:, None] < years[None, :]  # (S, Y) started before the year
    prev = np.zeros_like(scheme_year)
    prev[:, 1:] = scheme_year[:, :-1]  # the effect in the year before
    rec = plan.scheme_recurrent[:, None]
    return {
        "new": np.where(start_year[:, None] == years[None, :], scheme_year, 0.0),
        "brought_forward": np.where(earlier & rec, scheme_year - prev, 0.0),
        "in_base": np.where(earlier & rec, prev, 0.0),
        "non_recurrent_gap": np.where(
            (start_year[:, None] == years[None, :] - 1) & ~rec, prev, 0.0
        ),
    }


def scheme_own_year(plan: PlanArrays, scheme_year: FloatArray) -> FloatArray:
    """(S, Y) each scheme's share of the year's own CIP (``brought_forward + new``) [£000]."""
    parts = scheme_parts(plan, scheme_year)
    out: FloatArray = parts["brought_forward"] + parts["new"]
    return out


def cip_years(plan: PlanArrays, scheme_year: FloatArray) -> CipYears:
    """The per-year CIP of every trust from each scheme's in-year effect.

    Parameters
    ----------
    plan : PlanArrays
    scheme_year : ndarray (S, Y)
        In-year effect of each scheme in each plan year [£000] (one draw of
        :attr:`~cipmodel.engine.project.Projection.cip_scheme_year`).
    """
    n_t, n_y = plan.n_trusts, plan.n_years
    out = {}
    for name, per_scheme in scheme_parts(plan, scheme_year).items():
        total = np.zeros((n_t, n_y))
        np.add.at(total, plan.scheme_trust, per_scheme)
        out[name] = total
    return CipYears(**out)
