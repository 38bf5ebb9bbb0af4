"""Shared benchmark helpers: a best-of-N timer and the worked example cloned into N trusts."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from cipmodel.examples import example_portfolio
from cipmodel.inputs.records import Portfolio


def cloned_portfolio(
    n_trusts: int = 235, n_schemes: int = 40, years: int = 5, seed: int = 1
) -> Portfolio:
    """The acute example copied to ``n_trusts`` trusts, scaled randomly, horizon ``years``."""
    rng = np.random.default_rng(seed)
    base = example_portfolio("acute-11pc")
    schemes = [s for s in base.cip if s.start_year == 1][:n_schemes]
    tables: dict[str, list] = {
        k: []
        for k in (
            "trusts",
            "income",
            "costs",
            "cip",
            "control_total",
            "funding",
            "financing",
            "drivers",
            "profiles",
        )
    }
    for i in range(n_trusts):
        code = f"T{i:03d}"
        k = float(rng.uniform(0.2, 2.0))

        def rep(rec, code=code, **kw):  # noqa: ANN001, ANN202
            return dataclasses.replace(rec, trust_code=code, source=None, **kw)

        tables["trusts"].append(rep(base.trusts[0], name=f"Trust {i}", horizon_years=years))
        tables["income"] += [rep(r, annual_value=r.annual_value * k) for r in base.income]
        tables["costs"] += [rep(r, annual_value=r.annual_value * k) for r in base.costs]
        tables["cip"] += [rep(s, value_fye=s.value_fye * k) for s in schemes]
        tables["control_total"] += [
            rep(c, year=y, target_pre_stf=c.target_pre_stf * k, month=None)
            for c in base.control_total[:1]
            for y in range(1, years + 1)
        ]
        tables["funding"] += [rep(f) for f in base.funding]
        tables["financing"] += [rep(f) for f in base.financing]
        tables["drivers"] += [rep(base.drivers[0], year=y) for y in range(1, years + 1)]
        tables["profiles"] += [rep(p) for p in base.profiles]
    return Portfolio(**tables, name=f"benchmark-{n_trusts}x{n_schemes}x{years}")


def best(fn: Callable[[], Any], repeat: int = 3) -> float:
    """The fastest of ``repeat`` runs of ``fn`` [seconds] (the least disturbed by the machine)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)
