"""The long fuzz run (``make fuzz-long``): many cases on every core, then a table.

::

    python tests/fuzz/run_long.py                      # 50,000 cases, a fresh seed, all cores
    python tests/fuzz/run_long.py --cases 2000 --seed 20170401   # the fixed-seed run of `make test`
    python tests/fuzz/run_long.py --seed 123 --only 4711 --save case/   # one case, verbose

Cases are the same as in ``tests/test_fuzz.py``: case ``i`` of seed ``s`` is
``make_case(random.Random(f"{s}:{i}"))``, so any case can be replayed with ``--only``.
Prints the outcome counts (overall and by family), the slowest cases and the largest
worker memory; the input files of failing cases are saved (``--failures``). Exit code 1 if
any case failed (an unhandled exception, a traceback, NaN in JSON, a clean plan refused,
a well-formed workbook called damaged, or a case running longer than ``--timeout``).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import signal
import sys
import tempfile
import time
import warnings
from multiprocessing import get_context
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests folder

from fuzz.generators import Case, make_case  # noqa: E402
from fuzz.harness import Outcome, Tally, run_case  # noqa: E402

_FOLDER: Path | None = None
_TIMEOUT = 60


class _Timeout(Exception):
    pass


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Timeout


def _init(timeout: int) -> None:
    global _FOLDER, _TIMEOUT
    _FOLDER = Path(tempfile.mkdtemp(prefix="cipmodel-fuzz-")) / "case"
    _TIMEOUT = timeout
    warnings.simplefilter("error")  # as in the test suite (pyproject: filterwarnings = error)
    signal.signal(signal.SIGALRM, _on_alarm)


def one(seed: str, i: int, folder: Path) -> tuple[Case, Outcome, float]:
    """Generate and run case ``i`` of ``seed``; (case, outcome, seconds)."""
    case = make_case(random.Random(f"{seed}:{i}"))
    t0 = time.perf_counter()
    signal.alarm(_TIMEOUT)
    try:
        outcome = run_case(case, folder)
    except _Timeout:
        outcome = Outcome("TIMEOUT", "", f"still running after {_TIMEOUT} s")
    finally:
        signal.alarm(0)
    return case, outcome, time.perf_counter() - t0


def _chunk(args: tuple[str, int, int]) -> tuple[Tally, list[tuple[float, int, str]], int]:
    seed, start, stop = args
    assert _FOLDER is not None
    tally = Tally()
    slow: list[tuple[float, int, str]] = []
    for i in range(start, stop):
        case, outcome, seconds = one(seed, i, _FOLDER)
        tally.add(str(i), case, outcome)
        slow.append((seconds, i, case.describe()[:80]))
    slow = sorted(slow, reverse=True)[:5]
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return tally, slow, rss_kb


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=50_000)
    ap.add_argument(
        "--seed",
        default=os.environ.get("CIPMODEL_FUZZ_SEED") or str(random.SystemRandom().randrange(10**9)),
    )
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--timeout", type=int, default=60, help="seconds one case may take")
    ap.add_argument("--only", type=int, default=None, help="run case ONLY alone and print it")
    ap.add_argument("--save", type=Path, default=None, help="with --only: copy its files here")
    ap.add_argument("--failures", type=Path, default=None, help="folder for failing inputs")
    args = ap.parse_args(argv)

    if args.only is not None:
        _init(args.timeout)
        assert _FOLDER is not None
        case, outcome, seconds = one(args.seed, args.only, _FOLDER)
        print(f"case {args.only} of seed {args.seed}: {case.describe()}")
        print(f"files: {', '.join(f'{n} ({len(d):,} bytes)' for n, d in case.files.items())}")
        print(f"outcome: {outcome.kind} ({seconds:.3f} s)\n  {outcome.message}")
        if outcome.failure:
            print(f"FAILED: {outcome.failure}")
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            for name, data in case.files.items():
                (args.save / name).write_bytes(data)
            print(f"files saved in {args.save}")
        return 1 if outcome.failure else 0

    size = 200
    chunks = [(args.seed, s, min(args.cases, s + size)) for s in range(0, args.cases, size)]
    print(f"fuzz: {args.cases:,} cases, seed {args.seed}, {args.jobs} process(es)", flush=True)
    t0 = time.perf_counter()
    total = Tally()
    slow: list[tuple[float, int, str]] = []
    rss = 0
    with get_context("fork").Pool(args.jobs, initializer=_init, initargs=(args.timeout,)) as pool:
        for n, (tally, chunk_slow, rss_kb) in enumerate(pool.imap_unordered(_chunk, chunks), 1):
            total.merge(tally)
            slow = sorted(slow + chunk_slow, reverse=True)[:5]
            rss = max(rss, rss_kb)
            if n % 25 == 0 or n == len(chunks):
                print(
                    f"  {total.total:,} cases, {len(total.failures)} failures, "
                    f"{time.perf_counter() - t0:.0f} s",
                    flush=True,
                )
    elapsed = time.perf_counter() - t0
    print()
    print(total.table())
    print(
        f"\ntime {elapsed:.0f} s ({total.total / elapsed:.0f} cases/s on {args.jobs} process(es)); "
        f"largest worker memory {rss / 1024:.0f} MB"
    )
    print("slowest cases:")
    for seconds, i, what in slow:
        print(f"  {seconds:6.2f} s  case {i}: {what}")
    if total.failures:
        folder = (
            args.failures or Path(tempfile.gettempdir()) / f"cipmodel-fuzz-failures-{args.seed}"
        )
        for case_id, case, _outcome in total.failures:
            target = folder / case_id
            target.mkdir(parents=True, exist_ok=True)
            for name, data in case.files.items():
                (target / name).write_bytes(data)
        print(
            f"\n{len(total.failures)} FAILURES (inputs saved in {folder}; replay one with "
            f"--seed {args.seed} --only N):"
        )
        print(total.report(limit=20))
        return 1
    print("\nno failures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
