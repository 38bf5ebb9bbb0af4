"""Monte Carlo at scale (issue 13): whole ``cipmodel simulate`` processes against the floor,
measured in the same run.

Rows:

- **national, 10,000 draws, whole process**: ``cipmodel simulate national.xlsx -n 10000
  --seed 1 --workers 2 --json > /dev/null`` (the synthetic national portfolio, 235 trusts,
  ~8,900 schemes, written by ``cipmodel template --example national``): CPU (user + system)
  and wall time of the process, and its peak resident memory;
- **national floor**: timed inside a child process with one BLAS thread (after its
  imports), the same count of random numbers (Philox, one row of
  the model's dimensions a draw, in the model's chunks) plus one matrix product a draw
  (the delivery uniforms times each scheme's monthly CIP): what any implementation must at
  least do; the target is a whole process within 3x of it;
- **one trust, 2**20 draws, whole process**: ``cipmodel simulate
  templates/example-acute-11pc.xlsx -n 1048576 --seed 1 --json --first-year-only > /dev/null`` (threads: the default, one per processor core), draws a second
  against the same floor for one trust (target: within ~6x of it);
- **fixed cost**: each whole process again with one draw: start-up, imports, reading the
  workbook, the plan run, the sampler's set-up and the JSON, what a run pays before its
  draws (shown as a multiple of the floor: the part of the ratio no draw loop can remove);
- **monaco** (a Monte Carlo package on PyPI): 10,000 draws of a 40-scheme Beta model (the
  schemes' delivered shares summed), draws a second (target: cipmodel at least 100x).
  Skipped with a note when monaco is not installed: it is never a project dependency
  (``pip install monaco`` into the venv for the benchmark run only).

Peak memory is each child's own (``os.wait4``), in MB. Timings are the best of a few
repeats where cheap; machines vary: the ratios are the point.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _portfolio import best

from cipmodel.engine.formulas import ramp_phase
from cipmodel.examples import example_portfolio
from cipmodel.examples.national import national_portfolio
from cipmodel.montecarlo.context import build_context, resolve_packs
from cipmodel.montecarlo.outputs import auto_chunk_size
from cipmodel.montecarlo.priors import load_priors
from cipmodel.montecarlo.streams import PhiloxRows
from cipmodel.results.run import run_plan

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

NATIONAL_DRAWS = 10_000
ONE_TRUST_DRAWS = 1 << 20
MONACO_DRAWS = 10_000
TARGET_NATIONAL_RATIO = 3.0
TARGET_ONE_TRUST_RATIO = 6.0
TARGET_VS_MONACO = 100.0
TARGET_PEAK_MB = 1024.0


def _whole_process(args: list[str]) -> dict[str, float]:
    """Run ``cipmodel`` with ``args`` (stdout discarded): wall, user, sys seconds and the
    child's own peak resident memory [MB]."""
    cmd = [sys.executable, "-m", "cipmodel", *args]
    t = time.perf_counter()
    with open(os.devnull, "wb") as devnull:
        proc = subprocess.Popen(cmd, stdout=devnull, stderr=subprocess.PIPE, cwd=ROOT)
        assert proc.stderr is not None
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{err.decode(errors='replace')}")
    return {
        "wall": wall,
        "user": usage.ru_utime,
        "sys": usage.ru_stime,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_mb": usage.ru_maxrss / 1024.0,
    }


def _floor_in_process(portfolio: Any, n: int) -> dict[str, float]:
    """RNG + one matrix product a draw, in the model's chunks: CPU and wall seconds.

    The same count of uniforms a draw as the simulation's sample points (Philox rows of its
    dimensions) and one product of the delivery uniforms with each scheme's monthly CIP
    (a scheme's full-year effect / 12 times its ramp in year 1).
    """
    run = run_plan(portfolio)
    packs = resolve_packs(portfolio, None, "sof-2016")
    priors = load_priors("priors-2017")
    ss = np.random.SeedSequence(1)
    ctx = build_context(run, priors, "random", ss, n, packs, None, False)
    plan, im = ctx.plan, ctx.inputs
    chunk = auto_chunk_size(plan, im.n_dims)
    monthly = (plan.scheme_fye / 12.0)[:, None] * ramp_phase(plan.scheme_start, plan.scheme_ramp)
    monthly = np.ascontiguousarray(monthly[im.random_schemes])
    deliv = im.blocks["delivery"]
    rows = PhiloxRows(ss, im.n_dims)

    def once() -> float:
        total = 0.0
        for start in range(0, n, chunk):
            u = rows.rows(start, min(chunk, n - start))
            total += float((u[:, deliv] @ monthly).sum())
        return total

    once()  # warm-up
    cpu = []
    wall = []
    for _ in range(3):
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t = time.perf_counter()
        once()
        wall.append(time.perf_counter() - t)
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    return {"cpu": min(cpu), "wall": min(wall), "chunk": chunk, "dims": im.n_dims}


def measure_floor(which: str, n: int) -> dict[str, float]:
    """The floor measured in a child process with one BLAS thread (so its CPU time is one
    thread's work, not OpenBLAS's idle spinning), timed inside the child (no imports)."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--floor", which, str(n)],
        check=True,
        capture_output=True,
        text=True,
        cwd=HERE,
        env=env,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _monaco(n: int, n_schemes: int = 40) -> float | None:
    """Seconds for monaco to run ``n`` draws of ``n_schemes`` Beta shares summed (None if
    monaco is not installed)."""
    try:
        import monaco as mc
        from scipy.stats import beta
    except ImportError:
        return None

    def preprocess(case: Any) -> tuple[Any, ...]:
        return tuple(case.invals[f"s{i}"].val for i in range(n_schemes))

    def run(*shares: float) -> tuple[float]:
        return (float(sum(shares)),)

    def postprocess(case: Any, total: float) -> None:
        case.addOutVal("delivered", total)

    def once() -> None:
        sim = mc.Sim(
            name="cip",
            ndraws=n,
            fcns={"preprocess": preprocess, "run": run, "postprocess": postprocess},
            seed=1,
            singlethreaded=True,
            verbose=False,
            savesimdata=False,
            savecasedata=False,
        )
        for i in range(n_schemes):
            sim.addInVar(name=f"s{i}", dist=beta, distkwargs={"a": 4.0, "b": 1.5})
        sim.runSim()

    return best(once, 1)


def _with_draws(args: list[str], n: int) -> list[str]:
    """``args`` with the number after ``-n`` replaced by ``n``."""
    i = args.index("-n")
    return [*args[: i + 1], str(n), *args[i + 2 :]]


def _national_workbook(folder: Path) -> Path:
    path = folder / "national.xlsx"
    subprocess.run(
        [sys.executable, "-m", "cipmodel", "template", str(path), "--example", "national"],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    return path


def main() -> list[tuple[str, float, str]]:
    one_xlsx = ROOT / "templates" / "example-acute-11pc.xlsx"
    with tempfile.TemporaryDirectory() as tmp:
        nat_xlsx = _national_workbook(Path(tmp))
        nat_args = [str(nat_xlsx), "-n", str(NATIONAL_DRAWS), "--seed", "1", "--workers", "2"]
        national = min(
            (_whole_process(["simulate", *nat_args, "--json"]) for _ in range(2)),
            key=lambda r: r["cpu"],
        )
        # what any run costs before its draws: start-up, imports, reading the workbook, the
        # plan run, the sampler's set-up (Sobol' scrambling of every dimension), the JSON
        nat_fixed = _whole_process(["simulate", *_with_draws(nat_args, 1), "--json"])
    # plan year 1 only, as the floor and monaco's model: the example is a two-year plan and
    # simulate projects and assesses both years by default (about twice the work)
    one_args = [str(one_xlsx), "-n", str(ONE_TRUST_DRAWS), "--seed", "1", "--json"]
    one_args.append("--first-year-only")
    one = min((_whole_process(["simulate", *one_args]) for _ in range(2)), key=lambda r: r["cpu"])
    one_fixed = _whole_process(["simulate", *_with_draws(one_args, 1)])
    nat_floor = measure_floor("national", NATIONAL_DRAWS)
    one_floor = measure_floor("one", ONE_TRUST_DRAWS)
    monaco_s = _monaco(MONACO_DRAWS)

    nat_ratio_cpu = national["cpu"] / nat_floor["cpu"]
    nat_ratio_wall = national["wall"] / nat_floor["wall"]
    one_rate = ONE_TRUST_DRAWS / one["wall"]
    one_floor_rate = ONE_TRUST_DRAWS / one_floor["wall"]
    monaco_rate = MONACO_DRAWS / monaco_s if monaco_s else None

    print(
        f"\nMonte Carlo at scale: national = {NATIONAL_DRAWS:,} draws of "
        f"{nat_floor['dims']:,} dimensions (chunks of {nat_floor['chunk']}), 2 workers; "
        f"one trust = {ONE_TRUST_DRAWS:,} draws of {one_floor['dims']} dimensions"
    )
    print(
        f"{'case':<46} {'wall s':>8} {'CPU s':>8} {'user':>7} {'sys':>6} {'draws/s':>11} "
        f"{'peak MB':>8}  ratio"
    )

    def row(name: str, r: dict[str, Any], draws: int, note: str) -> None:
        peak = f"{r['peak_mb']:>8.0f}" if "peak_mb" in r else f"{'':>8}"
        user = f"{r['user']:>7.2f}" if "user" in r else f"{'':>7}"
        sys_ = f"{r['sys']:>6.2f}" if "sys" in r else f"{'':>6}"
        print(
            f"{name:<46} {r['wall']:>8.2f} {r['cpu']:>8.2f} {user} {sys_} "
            f"{draws / r['wall']:>11,.0f} {peak}  {note}"
        )

    row(
        "national, whole process (simulate --json)",
        national,
        NATIONAL_DRAWS,
        f"{nat_ratio_cpu:.1f}x floor CPU, {nat_ratio_wall:.1f}x floor wall",
    )
    row("national floor: RNG + one matrix product", nat_floor, NATIONAL_DRAWS, "1.0x")
    row(
        "national, fixed cost (the same with 1 draw)",
        nat_fixed,
        1,
        f"{nat_fixed['cpu'] / nat_floor['cpu']:.1f}x floor CPU before any draw",
    )
    row(
        "one trust 2**20, whole process (simulate --json)",
        one,
        ONE_TRUST_DRAWS,
        f"{one_floor_rate / one_rate:.1f}x floor (draws/s, wall)",
    )
    row("one-trust floor: RNG + one matrix product", one_floor, ONE_TRUST_DRAWS, "1.0x")
    row(
        "one trust, fixed cost (the same with 1 draw)",
        one_fixed,
        1,
        f"{one_fixed['wall'] / one_floor['wall']:.1f}x floor wall before any draw",
    )
    if monaco_rate is None:
        print(
            f"{'monaco, 40 Beta schemes':<46} skipped: monaco is not installed "
            "(pip install monaco into the venv for the benchmark run; never a dependency)"
        )
    else:
        assert monaco_s is not None
        print(
            f"{'monaco, 40 Beta schemes':<46} {monaco_s:>8.2f} {'':>8} {'':>7} {'':>6} "
            f"{monaco_rate:>11,.0f} {'':>8}  cipmodel one trust {one_rate / monaco_rate:,.0f}x"
        )

    def verdict(ok: bool) -> str:
        return "meets" if ok else "MISSES"

    print("Targets:")
    print(
        f"  national whole process within {TARGET_NATIONAL_RATIO:g}x of the floor (CPU): "
        f"{verdict(nat_ratio_cpu <= TARGET_NATIONAL_RATIO)} ({nat_ratio_cpu:.1f}x; wall "
        f"{nat_ratio_wall:.1f}x)"
    )
    print(
        f"  national peak memory under {TARGET_PEAK_MB:,.0f} MB: "
        f"{verdict(national['peak_mb'] < TARGET_PEAK_MB)} ({national['peak_mb']:.0f} MB)"
    )
    print(
        f"  one trust within {TARGET_ONE_TRUST_RATIO:g}x of the floor (draws/s): "
        f"{verdict(one_floor_rate / one_rate <= TARGET_ONE_TRUST_RATIO)} "
        f"({one_floor_rate / one_rate:.1f}x)"
    )
    if monaco_rate is not None:
        print(
            f"  one trust at least {TARGET_VS_MONACO:g}x monaco's draws/s: "
            f"{verdict(one_rate / monaco_rate >= TARGET_VS_MONACO)} "
            f"({one_rate / monaco_rate:,.0f}x)"
        )
    return [
        ("national 10,000 draws, whole process", national["wall"], f"{nat_ratio_cpu:.1f}x"),
        ("one trust 2**20 draws, whole process", one["wall"], f"{one_rate:,.0f} draws/s"),
    ]


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--floor":
        which, draws = sys.argv[2], int(sys.argv[3])
        p = national_portfolio() if which == "national" else example_portfolio("acute-11pc")
        print(json.dumps(_floor_in_process(p, draws)))
    else:
        main()
