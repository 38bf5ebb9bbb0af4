"""Step 3 of the synthetic national portfolio: every trust's CIP schemes.

17-50 schemes per trust across pay, non-pay and income, with stage, RAG, start month, ramp
and recurrence; their full-year effects are scaled so each trust's in-year CIP and
non-recurrent share hit their draws exactly, and no line loses more than :data:`LINE_CAP`
of itself in year 1. Some trusts carry an unidentified balancing line.
(:mod:`cipmodel.examples.national` runs the steps in order from one random generator: the
order of the draws here is part of the portfolio.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
from numpy.typing import NDArray

from cipmodel.engine.compile import LINE_INDEX, LINES
from cipmodel.engine.formulas import ramp_phase
from cipmodel.examples.national_calibration import (
    CATEGORY_LINES,
    CATEGORY_MIX,
    CIP_CATEGORIES,
    DRAWN_STAGES,
    INCOME_MEAN,
    LINE_CAP,
    LINE_EMPHASIS,
    NON_RECURRENT_SHARE,
    NR_CATEGORY_MIX,
    NR_LINE,
    NR_START_MONTH_P,
    RAG_GIVEN_STAGE,
    RAMP_P,
    SCHEME_COUNT,
    STAGE_MIX,
    STAGE_MIX_STRETCHED,
    START_MONTH_P,
    TRUST_TYPES,
    by_type,
    choice_rows,
    round1,
)

__all__ = ["Schemes", "draw_schemes"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class Schemes:
    """The drawn schemes (arrays over schemes, S) and what they mean per trust (T).

    Attributes
    ----------
    trust, category, line, start, ramp, stage, rag : ndarray (S,) int
        Trust index, index into :data:`CIP_CATEGORIES`, line index, 0-based start month,
        ramp months, and indices into the drawn stages and RAG ratings.
    nonrecurrent : ndarray (S,) bool
    fye : ndarray (S,)
        Full-year effect, rounded to £100 [£000].
    name_u : ndarray (S,)
        A uniform draw that picks each scheme's name.
    unidentified_trust, unidentified_start : ndarray (U,) int
        The trusts with an unidentified balancing line, and its 0-based start month.
    unidentified_fye : ndarray (U,)
        Its full-year effect [£000].
    unidentified_on_pay : ndarray (U,) bool
        On substantive pay (other non-pay has no room left).
    month_cip : ndarray (T, 12)
        Each trust's CIP by month of year 1, from the rounded effects [£000].
    agency_cut : ndarray (T,)
        Each trust's in-year CIP on agency pay [£000].
    """

    trust: IntArray
    category: IntArray
    line: IntArray
    start: IntArray
    ramp: IntArray
    nonrecurrent: BoolArray
    stage: IntArray
    rag: IntArray
    fye: FloatArray
    name_u: FloatArray
    unidentified_trust: IntArray
    unidentified_start: IntArray
    unidentified_fye: FloatArray
    unidentified_on_pay: BoolArray
    month_cip: FloatArray
    agency_cut: FloatArray


def draw_schemes(
    rng: np.random.Generator,
    ti: IntArray,
    inc: FloatArray,
    deep: BoolArray,
    p: FloatArray,
    cip: FloatArray,
    y1: FloatArray,
) -> Schemes:
    """Draw every trust's schemes.

    Parameters
    ----------
    rng : Generator
        The generator's random stream (drawn from in a fixed order).
    ti : ndarray (T,) int
        Each trust's type (index into :data:`TRUST_TYPES`).
    inc : ndarray (T,)
        Year-1 operating income [£000].
    deep : ndarray (T,) bool
        Deep-deficit trusts.
    p : ndarray (T,)
        Planned CIP as a share of do-nothing operating expenditure.
    cip : ndarray (T,)
        In-year CIP to plan [£000].
    y1 : ndarray (T, L)
        Year-1 do-nothing value of every line [£000].
    """
    n = ti.size
    n_sch, n_nr, nr_share, unid_share = _counts_and_shares(rng, ti, inc, deep, p, cip)
    s_trust, s_nr, s_cat, s_line = _categories_and_lines(rng, ti, y1, n_sch, n_nr)
    s_start, s_ramp, f, fye = _timing_and_size(rng, n, s_trust, s_nr, nr_share, unid_share, cip)
    s_line, room = _cap_line_cuts(y1, s_trust, s_cat, s_line, fye * f)

    stretched = (p > 0.06)[s_trust]
    stage_p = np.where(stretched[:, None], STAGE_MIX_STRETCHED, STAGE_MIX)
    s_stage = choice_rows(rng, stage_p)
    rag_p = np.array([RAG_GIVEN_STAGE[s] for s in DRAWN_STAGES])[s_stage]
    s_rag = choice_rows(rng, rag_p)
    fye = round1(np.maximum(fye, 0.1))
    name_u = rng.random(s_trust.size)

    # unidentified balancing line (recurrent, red, from month 1, 4 or 7)
    u_idx = np.flatnonzero(unid_share > 0)
    u_start = rng.choice(np.array([0, 3, 6]), u_idx.size, p=(0.5, 0.3, 0.2))
    u_f = ramp_phase(u_start, np.zeros(u_idx.size, dtype=int)).sum(axis=1) / 12.0
    u_fye = round1(unid_share[u_idx] * cip[u_idx] / u_f)
    # on other non-pay (as in the worked example) unless that line has no room left
    u_pay = room[u_idx, LINE_INDEX["other_non_pay"]] < u_fye * u_f

    # monthly CIP per trust (exact, from the rounded FYEs) and in-year agency cut
    month_cip = np.zeros((n, 12))
    np.add.at(month_cip, s_trust, ramp_phase(s_start, s_ramp) * (fye / 12.0)[:, None])
    np.add.at(
        month_cip,
        u_idx,
        ramp_phase(u_start, np.zeros(u_idx.size, dtype=int)) * (u_fye / 12.0)[:, None],
    )
    # with weights, bincount sums floats
    agency_cut = cast(
        FloatArray,
        np.bincount(s_trust, fye * f * (s_line == LINE_INDEX["pay_agency"]), minlength=n),
    )
    return Schemes(
        trust=s_trust,
        category=s_cat,
        line=s_line,
        start=s_start,
        ramp=s_ramp,
        nonrecurrent=s_nr,
        stage=s_stage,
        rag=s_rag,
        fye=fye,
        name_u=name_u,
        unidentified_trust=u_idx,
        unidentified_start=u_start,
        unidentified_fye=u_fye,
        unidentified_on_pay=u_pay,
        month_cip=month_cip,
        agency_cut=agency_cut,
    )


def _counts_and_shares(
    rng: np.random.Generator,
    ti: IntArray,
    inc: FloatArray,
    deep: BoolArray,
    p: FloatArray,
    cip: FloatArray,
) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """Schemes per trust, how many are non-recurrent, the non-recurrent share of the CIP and
    the unidentified share."""
    n = ti.size
    typical, lo_n, hi_n = (
        np.array([SCHEME_COUNT[t][i] for t in TRUST_TYPES])[ti] for i in range(3)
    )
    size = inc / by_type(INCOME_MEAN, ti)
    n_sch = np.clip(
        np.round(typical * size**0.35 * np.exp(rng.normal(0.0, 0.12, n))), lo_n, hi_n
    ).astype(int)
    n_nr = np.clip(np.round(n_sch * rng.uniform(0.12, 0.25, n)), 1, n_sch - 3).astype(int)
    nr_share = rng.beta(5.5, 14.5, n)
    nr_share = np.clip(
        nr_share * NON_RECURRENT_SHARE * cip.sum() / (nr_share * cip).sum(), 0.08, 0.45
    )
    has_unid = rng.random(n) < np.where(deep | (p > 0.06), 0.9, 0.4)
    unid_share = np.where(has_unid, rng.uniform(0.05, 0.25, n), 0.0)
    unid_share[deep & has_unid] = rng.uniform(0.15, 0.30, (deep & has_unid).sum())
    return n_sch, n_nr, nr_share, unid_share


def _categories_and_lines(
    rng: np.random.Generator, ti: IntArray, y1: FloatArray, n_sch: IntArray, n_nr: IntArray
) -> tuple[IntArray, BoolArray, IntArray, IntArray]:
    """Each scheme's trust, whether it is non-recurrent (the last ``n_nr`` of its trust), its
    category and its target line (proportional to line size x emphasis, within the
    category; non-recurrent schemes on their category's usual line)."""
    n = ti.size
    s_trust = np.repeat(np.arange(n), n_sch)
    n_s = s_trust.size
    first = np.concatenate([[0], np.cumsum(n_sch)[:-1]])
    rank = np.arange(n_s) - first[s_trust]
    s_nr = rank >= (n_sch - n_nr)[s_trust]  # the last n_nr schemes of each trust
    cat_p = np.array([CATEGORY_MIX[t] for t in TRUST_TYPES])[ti][s_trust]
    cat_p[s_nr] = NR_CATEGORY_MIX
    s_cat = choice_rows(rng, cat_p)

    emph = np.array([LINE_EMPHASIS.get(line, 0.0) for line in LINES])
    line_w = y1[s_trust] * emph[None, :]
    cat_mask = np.zeros((len(CIP_CATEGORIES), len(LINES)))
    for c, cat in enumerate(CIP_CATEGORIES):
        cat_mask[c, [LINE_INDEX[x] for x in CATEGORY_LINES[cat]]] = 1.0
    line_w *= cat_mask[s_cat]
    s_line = choice_rows(rng, line_w / line_w.sum(axis=1, keepdims=True))
    nr_lines = np.array([LINE_INDEX[NR_LINE[c]] for c in CIP_CATEGORIES])
    s_line[s_nr] = nr_lines[s_cat[s_nr]]
    return s_trust, s_nr, s_cat, s_line


def _timing_and_size(
    rng: np.random.Generator,
    n: int,
    s_trust: IntArray,
    s_nr: BoolArray,
    nr_share: FloatArray,
    unid_share: FloatArray,
    cip: FloatArray,
) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """Start month, ramp, in-year share of the full-year effect, and the full-year effect
    scaled so each trust's recurrent and non-recurrent CIP hit their targets."""
    n_s = s_trust.size
    s_start = np.where(
        s_nr, rng.choice(12, n_s, p=NR_START_MONTH_P), rng.choice(12, n_s, p=START_MONTH_P)
    )
    s_ramp = np.where(s_nr, 0, rng.choice(7, n_s, p=RAMP_P))
    f = ramp_phase(s_start, s_ramp).sum(axis=1) / 12.0  # in-year share of the FYE
    w = np.exp(rng.normal(0.0, 0.8, n_s))
    target_rec = (1.0 - nr_share - unid_share) * cip
    target_nr = nr_share * cip
    den_rec = np.bincount(s_trust, w * f * ~s_nr, minlength=n)
    den_nr = np.bincount(s_trust, w * f * s_nr, minlength=n)
    fye = w * np.where(
        s_nr, target_nr[s_trust] / den_nr[s_trust], target_rec[s_trust] / den_rec[s_trust]
    )
    return s_start, s_ramp, f, fye


def _cap_line_cuts(
    y1: FloatArray, s_trust: IntArray, s_cat: IntArray, s_line: IntArray, in_year: FloatArray
) -> tuple[IntArray, FloatArray]:
    """Keep every line's in-year cut under :data:`LINE_CAP`: move the largest schemes of a
    line over it to the line of the same category with the most room (a handful of lines).

    Returns the schemes' lines and each trust's room left on each line (T, L) [£000].
    """
    s_line = s_line.copy()
    n = y1.shape[0]
    cut = np.zeros((n, len(LINES)))
    np.add.at(cut, (s_trust, s_line), in_year)
    room = LINE_CAP * y1 - cut
    for i, line in zip(*np.nonzero(room < 0), strict=True):
        ks = np.flatnonzero((s_trust == i) & (s_line == line))
        for k in ks[np.argsort(-in_year[ks], kind="stable")]:
            if room[i, line] >= 0:
                break
            cands = [
                LINE_INDEX[x]
                for x in CATEGORY_LINES[CIP_CATEGORIES[s_cat[k]]]
                if LINE_INDEX[x] != line
            ]
            to = max(cands, key=lambda c: room[i, c])
            s_line[k] = to
            room[i, line] += in_year[k]
            room[i, to] -= in_year[k]
    return s_line, room
