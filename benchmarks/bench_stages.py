"""Where a whole national ``cipmodel simulate`` process spends its time (issue 13): the
per-stage profile, against the floor measured in the same run.

One child process, one thread (one BLAS thread), the synthetic national portfolio (235
trusts, ~8,900 schemes) read from its workbook, 10,000 draws, the default Sobol' sampler and
chunk size, stage by stage as ``simulate --json`` runs them:

- **start-up**: the interpreter with nothing imported (``python -c pass``);
- **imports**: the command's modules (NumPy, SciPy's special functions and stats, which the
  Sobol' sampler and the share tables need; openpyxl for reading);
- **read workbook**: ``load_plan_with_notes`` (streamed XML, every check of the intake);
- **plan run**: the deterministic run the simulation is compared with;
- **set-up**: the input model (share tables, correlations) and the sampler (Sobol'
  scrambling of every dimension) and the planned projection;
- per chunk: **sample** (the points), **inputs** (inverse normal CDF, copula, share tables,
  slippage, shocks), **engine** (the projection's aggregates), **assess** (funding gate,
  metrics, score, segment; forms what the engine left lazy), **outputs** (the per-draw
  outputs), **fold** (the summaries, in draw order);
- **JSON**: ``to_dict`` and ``json.dumps``.

The **floor** (bench_scale's): the same count of Philox uniforms a draw plus one matrix
product a draw, in the same chunks. Each stage is shown in seconds, as a share of the
whole, and as a multiple of the floor.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_scale import measure_floor

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DRAWS = 10_000

_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
from cipmodel.engine.project import project
from cipmodel.io.plan import load_plan_with_notes
from cipmodel.montecarlo.context import build_context, resolve_packs
from cipmodel.montecarlo.outputs import auto_chunk_size, draw_outputs, OUTPUTS
from cipmodel.montecarlo.priors import load_priors
from cipmodel.montecarlo.result import SimulationResult
from cipmodel.montecarlo.simulation import KEEP_VALUES, FLOAT_WIDTH
from cipmodel.montecarlo.streams import as_seed_sequence
from cipmodel.montecarlo.summary import Collector
from cipmodel.results.run import run_plan
t1 = time.perf_counter()
path, n = sys.argv[1], int(sys.argv[2])
portfolio, prov, notes = load_plan_with_notes(__import__("pathlib").Path(path))
t2 = time.perf_counter()
packs = resolve_packs(portfolio, None, "sof-2016")
run = run_plan(portfolio, funding_rules=packs.funding, sof_rules=packs.sof, **prov)
t3 = time.perf_counter()
pri = load_priors("priors-2017")
ctx = build_context(run, pri, "sobol", as_seed_sequence(1), n, packs, None, False)
t4 = time.perf_counter()
chunk = auto_chunk_size(ctx.plan, ctx.inputs.n_dims)
keep = max(1024, KEEP_VALUES // max(1, ctx.plan.n_trusts * FLOAT_WIDTH))
col = Collector(OUTPUTS, ctx.plan.n_trusts, min(keep, n))
stages = dict.fromkeys(("sample", "inputs", "engine", "assess", "outputs", "fold"), 0.0)
for start in range(0, n, chunk):
    c = min(chunk, n - start)
    a0 = time.perf_counter()
    u = ctx.sampler.sample(start, c)
    a1 = time.perf_counter()
    drawn = ctx.inputs.map(u)
    a2 = time.perf_counter()
    proj = project(ctx.plan, drawn.draws)
    proj.surplus_pre_stf, proj.operating_income, proj.operating_expenditure  # noqa: B018
    a3 = time.perf_counter()
    a = ctx.assess(proj, drawn)
    a4 = time.perf_counter()
    out = draw_outputs(ctx, proj, a, drawn)
    a5 = time.perf_counter()
    col.add(out)
    a6 = time.perf_counter()
    for k, v in zip(stages, (a1 - a0, a2 - a1, a3 - a2, a4 - a3, a5 - a4, a6 - a5)):
        stages[k] += v
t5 = time.perf_counter()
res = SimulationResult(run=run, context=ctx, collector=col, priors=pri, seed=1,
                       provenance=dict(run.provenance), years_collector=None)
text = json.dumps(res.to_dict(), indent=2)
t6 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "read workbook": t2 - t1, "plan run": t3 - t2,
                  "set-up": t4 - t3, **stages, "JSON": t6 - t5, "chunk": chunk,
                  "dims": ctx.inputs.n_dims}))
"""


def _startup() -> float:
    """Seconds for an interpreter that imports nothing (best of 3)."""
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        best = min(best, time.perf_counter() - t)
    return best


def main() -> list[tuple[str, float, str]]:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        xlsx = Path(tmp) / "national.xlsx"
        subprocess.run(
            [sys.executable, "-m", "cipmodel", "template", str(xlsx), "--example", "national"],
            check=True,
            capture_output=True,
            cwd=ROOT,
        )
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(xlsx), str(DRAWS)],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
        )
    stages: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    chunk, dims = int(stages.pop("chunk")), int(stages.pop("dims"))
    floor_s = measure_floor("national", DRAWS)["wall"]
    table = {"start-up": _startup(), **stages}
    total = sum(table.values())
    print(
        f"\nWhere a national simulate process spends its time: {DRAWS:,} draws of {dims:,} "
        f"dimensions, chunks of {chunk}, one thread (floor {floor_s:.2f} s)"
    )
    print(f"{'stage':<16} {'seconds':>8} {'share':>6} {'x floor':>8}")
    for name, sec in table.items():
        print(f"{name:<16} {sec:>8.2f} {sec / total:>6.0%} {sec / floor_s:>8.2f}")
    print(f"{'whole':<16} {total:>8.2f} {1:>6.0%} {total / floor_s:>8.2f}")
    return [("national, stage by stage (one thread)", total, f"{total / floor_s:.1f}x floor")]


if __name__ == "__main__":
    main()
