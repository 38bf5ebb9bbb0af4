"""Monte Carlo benchmark (issue 5, part 8): one trust at 100,000 draws, the national
portfolio at 10,000 draws, one trust at 1,000,000 draws; times and peak memory, with the
ratios measured in the same run.

Rows:

- **one trust, full model**: ``simulate`` of the acute example's first plan year (40
  first-year schemes plus its unidentified line, 12 months, funding gate, SOF score, all
  summaries; ``later_years=False``), 100,000 draws, Philox sampler (the same generator as
  the reference) and the default Sobol' sampler;
- **one trust, every plan year**: the same example as ``simulate`` runs it by default: its
  two plan years (2017/18 STF, 2018/19 PSF), year 2 projected over 24 months and assessed
  (funding, metrics, score) from the same draws; the ratio to year 1 only is the extra
  cost of the per-year answer (a one-year plan, like the national portfolio, pays none);
- **bare numpy floor**: the same count of uniforms per draw from the same counter-based
  Philox streams, in the same chunks, and one matrix product summing each scheme's
  delivered share into monthly CIP — the random numbers plus one matrix product, nothing
  else;
- **per-draw Python loop**: the same model run one draw at a time (sample, map the inputs,
  ``project``, ``assess``): timed on a few hundred draws and scaled to 100,000;
- **national, 10,000 draws**: the synthetic national portfolio (235 trusts, ~8,900 schemes)
  in a fresh subprocess, for its peak resident memory;
- **one trust, 1,000,000 draws**: in a fresh subprocess, peak memory next to a 500,000-draw
  run's (constant memory: beyond the draws kept exactly, ~440,000 for one trust, nothing
  grows with the number of draws);
- **where the time goes**: the one-trust run's stages (sampling, inputs, engine, assessment,
  summaries), to read the ratio to the floor.

Timings are the best of a few repeats where cheap. Machines vary: the ratios are the point.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
from _portfolio import best

from cipmodel.engine.project import project
from cipmodel.examples import example_portfolio
from cipmodel.montecarlo import simulate
from cipmodel.montecarlo.outputs import draw_outputs as _outputs
from cipmodel.montecarlo.years import later_year_outputs

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

TARGET_RATIO = 2.0
TARGET_ONE_TRUST_S = 1.0
TARGET_NATIONAL_S = 10.0
TARGET_NATIONAL_MB = 2048.0


def _floor(result: Any, n: int, chunk: int) -> float:
    """RNG + one matrix product: the uniforms the model draws, delivery summed by month."""
    ctx = result.context
    plan, im = ctx.plan, ctx.inputs
    planned = project(plan)
    # (S, M): each scheme's planned monthly effect; delivered = share x planned
    phase = planned.cip_scheme_year  # touch the engine's planned run once (not timed below)
    del phase
    monthly = np.zeros((plan.n_schemes, plan.n_months))
    for s in range(plan.n_schemes):
        one = np.zeros(plan.n_schemes)
        one[s] = 1.0
        from cipmodel.engine.project import Draws

        monthly[s] = project(plan, Draws(n=1, delivery=one[None])).cip_total[0, 0]
    sampler = ctx.sampler  # the same Philox rows as the full run
    deliv = im.blocks["delivery"]
    cols = im.random_schemes

    def run() -> float:
        total = 0.0
        for start in range(0, n, chunk):
            c = min(chunk, n - start)
            u = sampler.sample(start, c)
            total += float((u[:, deliv] @ monthly[cols]).sum())
        return total

    return best(run, 3)


def _stages(result: Any, n: int, chunk: int) -> dict[str, float]:
    """Seconds in each stage of the full model over n draws (the same chunks); ``later
    years`` is what simulating every plan year adds."""
    ctx = result.context
    full_ctx = simulate(
        example_portfolio("acute-11pc"), draws=64, seed=42, sampler="random"
    ).context
    out = dict.fromkeys(("sample", "inputs", "engine", "assess", "summaries", "later years"), 0.0)
    from cipmodel.montecarlo.simulation import OUTPUTS, Collector

    col = Collector(OUTPUTS, ctx.plan.n_trusts, result.collector.keep)
    for start in range(0, n, chunk):
        c = min(chunk, n - start)
        t0 = time.perf_counter()
        u = ctx.sampler.sample(start, c)
        t1 = time.perf_counter()
        drawn = ctx.inputs.map(u)
        t2 = time.perf_counter()
        proj = project(ctx.plan, drawn.draws)
        proj.surplus_pre_stf, proj.lines, proj.operating_income, proj.operating_expenditure  # noqa: B018
        t3 = time.perf_counter()
        a = ctx.assess(proj, drawn)
        t4 = time.perf_counter()
        first = _outputs(ctx, proj, a, drawn)
        col.add(first)
        t5 = time.perf_counter()
        if full_ctx.full is not None:  # years 2+ of the same draws (the default simulate)
            later_year_outputs(full_ctx, drawn, a, np.asarray(first["met_year"]))
        t6 = time.perf_counter()
        steps = (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5)
        for k, v in zip(out, steps, strict=True):
            out[k] += v
    return out


def _loop_per_draw(result: Any, n_loop: int) -> float:
    """The same model one draw at a time, seconds per draw."""
    ctx = result.context

    def run() -> None:
        for i in range(n_loop):
            drawn, proj = ctx.projection(i, 1)
            _outputs(ctx, proj, ctx.assess(proj, drawn), drawn)

    return best(run, 1) / n_loop


_CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    from cipmodel.montecarlo import simulate
    which, draws, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if which == "national":
        from cipmodel.examples.national import national_portfolio
        p = national_portfolio()
    else:
        from cipmodel.examples import example_portfolio
        p = example_portfolio("acute-11pc")
    simulate(p, draws=64, seed=1, sampler="random", workers=workers)  # warm-up (imports, caches)
    t = time.perf_counter()
    r = simulate(p, draws=draws, seed=42, sampler="random", workers=workers, allow_large=True)
    el = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"seconds": el, "peak_mb": rss, "chunk": r.provenance["chunk_size"],
                      "p_meet": float(r.collector.probability("met_year").mean())}))
    """
)


def _child(which: str, draws: int, workers: int = 1) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, which, str(draws), str(workers)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> list[tuple[str, float, str]]:
    p = example_portfolio("acute-11pc")
    n = 100_000
    simulate(p, draws=1024, seed=1, sampler="random")  # warm-up
    holder: dict[str, Any] = {}

    def full_random() -> None:
        holder["r"] = simulate(p, draws=n, seed=42, sampler="random", later_years=False)

    full = best(full_random, 3)
    res = holder["r"]
    chunk = res.provenance["chunk_size"]
    every = best(lambda: simulate(p, draws=n, seed=42, sampler="random"), 3)
    sobol = best(lambda: simulate(p, draws=2**17, seed=42, later_years=False), 2) * n / 2**17
    floor = _floor(res, n, chunk)
    loop = _loop_per_draw(res, 300) * n

    stages = _stages(res, n, chunk)
    one_1m = _child("one", 1_000_000)
    one_500k = _child("one", 500_000)
    national = _child("national", 10_000)
    national_2 = _child("national", 10_000, workers=2)

    rows = [
        ("one trust, 100,000 draws, full model (Philox)", full, f"{full / floor:.1f}x floor"),
        ("one trust, 100,000 draws, full model (Sobol')", sobol, f"{sobol / floor:.1f}x floor"),
        ("one trust, 100,000 draws, every plan year (2)", every, f"{every / full:.2f}x year 1"),
        ("bare numpy floor: RNG + one matrix product", floor, "1.0x"),
        ("per-draw Python loop (from 300 draws)", loop, f"{loop / full:.0f}x full model"),
        (
            "national, 10,000 draws (1 worker)",
            national["seconds"],
            f"peak {national['peak_mb']:.0f} MB",
        ),
        (
            "national, 10,000 draws (2 workers)",
            national_2["seconds"],
            f"peak {national_2['peak_mb']:.0f} MB",
        ),
        (
            "one trust, 500,000 draws (subprocess)",
            one_500k["seconds"],
            f"peak {one_500k['peak_mb']:.0f} MB",
        ),
        (
            "one trust, 1,000,000 draws (subprocess)",
            one_1m["seconds"],
            f"peak {one_1m['peak_mb']:.0f} MB",
        ),
    ]
    print(
        f"\nMonte Carlo: one trust = acute example ({res.context.plan.n_schemes} schemes, "
        f"{res.context.inputs.n_dims} random dimensions a draw, chunks of {chunk}); "
        f"national = {national['chunk']}-draw chunks"
    )
    print(f"{'case':<52} {'seconds':>9} {'draws/s':>10}  ratio / memory")
    draws_of = [n, n, n, n, n, 10_000, 10_000, 500_000, 1_000_000]
    for (name, sec, note), d in zip(rows, draws_of, strict=True):
        print(f"{name:<52} {sec:>9.3f} {d / sec:>10,.0f}  {note}")

    total = sum(stages.values())
    print(
        "Where the one-trust time goes (100,000 draws): "
        + ", ".join(f"{k} {v:.2f} s ({v / total:.0%})" for k, v in stages.items())
    )

    def verdict(ok: bool) -> str:
        return "meets" if ok else "MISSES"

    ratio = full / floor
    print("Targets:")
    print(
        f"  one trust 100,000 draws under {TARGET_ONE_TRUST_S:g} s: {verdict(full < TARGET_ONE_TRUST_S)} "
        f"({full:.2f} s)"
    )
    print(
        f"  every plan year of the two-year example: {every:.2f} s, {every / full:.2f}x year 1 "
        "only (reported, no target; a one-year plan pays nothing)"
    )
    print(
        f"  one trust within {TARGET_RATIO:g}x of the bare floor: {verdict(ratio <= TARGET_RATIO)} "
        f"({ratio:.1f}x)"
    )
    print(
        f"  national 10,000 draws under {TARGET_NATIONAL_S:g} s: "
        f"{verdict(min(national['seconds'], national_2['seconds']) < TARGET_NATIONAL_S)} "
        f"({national['seconds']:.1f} s; {national_2['seconds']:.1f} s with 2 workers)"
    )
    print(
        f"  national 10,000 draws under {TARGET_NATIONAL_MB:,.0f} MB: "
        f"{verdict(national['peak_mb'] < TARGET_NATIONAL_MB)} ({national['peak_mb']:.0f} MB peak RSS)"
    )
    grow = one_1m["peak_mb"] - one_500k["peak_mb"]
    print(
        f"  1,000,000 draws in constant memory: {verdict(grow < 32)} "
        f"({one_500k['peak_mb']:.0f} MB peak at 500,000 draws, {one_1m['peak_mb']:.0f} MB at 1,000,000)"
    )
    return rows


if __name__ == "__main__":
    main()
