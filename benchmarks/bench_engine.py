"""Plan-run benchmark: 235 trusts x 40 schemes x 5 years (target: engine < 0.2 s on 2 cores).

Reports, each as the best of several repeats, measured in the same run:
- build: creating and validating the Portfolio objects (I/O-free input side);
- compile: Portfolio -> arrays;
- engine: one plan run of the projection (the target);
- solve: the CIP needed for every trust (scipy elementwise root finding over the engine);
- floor: a bare numpy reference doing the same array sizes (line growth product plus the
  scheme->line aggregation) with no model logic, to show how far the engine is from it.
"""

from __future__ import annotations

import time

import numpy as np
from _portfolio import best, cloned_portfolio

from cipmodel.engine.project import compile_plan, project
from cipmodel.engine.solve import solve_cip


def main() -> list[tuple[str, float, str]]:
    n_t, n_s, n_y = 235, 40, 5
    t = time.perf_counter()
    portfolio = cloned_portfolio(n_t, n_s, n_y)
    build = time.perf_counter() - t
    plan = compile_plan(portfolio)
    compile_t = best(lambda: compile_plan(portfolio), 3)
    engine_t = best(lambda: project(plan).surplus_pre_stf)
    base = project(plan)
    solve_t = best(lambda: solve_cip(plan, base=base), 3)

    rng = np.random.default_rng(0)
    n_l, n_m, S = 16, 12 * n_y, n_t * n_s
    base_month = rng.random((n_t, n_l, n_m))
    growth = rng.random((n_t, n_l, n_m))
    eff = rng.random((S, n_m))
    idx = rng.integers(0, n_t * n_l, S)

    def floor() -> None:
        dn = base_month * growth
        out = np.zeros((n_t * n_l, n_m))
        np.add.at(out, idx, eff)
        (dn.reshape(n_t * n_l, n_m) + out).sum()

    floor_t = best(floor)
    rows = [
        ("portfolio build (objects, validation)", build, ""),
        ("compile to arrays", compile_t, ""),
        ("engine: plan run (target < 0.2 s)", engine_t, f"{engine_t / floor_t:.1f}x floor"),
        ("solve CIP needed, all trusts", solve_t, f"{solve_t / engine_t:.1f}x engine"),
        ("bare numpy floor (same sizes)", floor_t, "1.0x"),
    ]
    print(f"\nPlan run: {n_t} trusts x {n_s} schemes x {n_y} years ({S:,} schemes, {n_m} months)")
    print(f"{'step':<42} {'seconds':>9}  ratio")
    for name, sec, ratio in rows:
        print(f"{name:<42} {sec:>9.4f}  {ratio}")
    verdict = "meets" if engine_t < 0.2 else "MISSES"
    print(f"engine {verdict} the 0.2 s target")
    return rows


if __name__ == "__main__":
    main()
