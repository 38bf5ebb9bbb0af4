"""`cipmodel portfolio --example national` end to end (target: under 2 s).

Times the whole command in a fresh process (imports included), best of three, and its
parts in this process: building the synthetic national portfolio, the plan run with the
whole-sector assessment, and the sector tables.
"""

from __future__ import annotations

import subprocess
import sys

from _portfolio import best


def main() -> None:
    from cipmodel.examples import example_portfolio
    from cipmodel.results.run import run_plan
    from cipmodel.results.sector import sector_tables

    cmd = [sys.executable, "-m", "cipmodel", "portfolio", "--example", "national"]
    whole = best(lambda: subprocess.run(cmd, check=True, capture_output=True))
    build = best(lambda: example_portfolio("national"))
    p = example_portfolio("national")
    run = best(lambda: run_plan(p, bonus=True))
    r = run_plan(p, bonus=True)
    tables = best(lambda: sector_tables(r))
    print("\nSector tables: cipmodel portfolio --example national (235 trusts)")
    print(f"{'step':<40} {'seconds':>8}  share")
    for name, sec in (
        ("whole command, fresh process", whole),
        ("build national portfolio", build),
        ("plan run + assessment + solve", run),
        ("sector tables", tables),
    ):
        print(f"{name:<40} {sec:>8.3f}  {sec / whole:>5.0%}")
    print(
        f"target < 2 s: {'met' if whole < 2 else 'MISSED'}; the rest is Python and library imports"
    )


if __name__ == "__main__":
    main()
