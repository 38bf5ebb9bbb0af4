"""Workbook import and export of a national-sized plan (target: under 5 s each on 2 cores).

235 trusts x 40 schemes (the worked example cloned, ``_portfolio.cloned_portfolio``),
best of three, measured in the same run; the ratio column compares each step with building
the same Portfolio objects in memory (validation included), the floor any reader pays.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from _portfolio import best, cloned_portfolio

from cipmodel.io import read_plan, write_template


def main() -> None:
    build = best(lambda: cloned_portfolio(235, 40, 1))
    p = cloned_portfolio(235, 40, 1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "national.xlsx"
        write = best(lambda: write_template(path, p, overwrite=True))
        read = best(lambda: read_plan(path))
        assert read_plan(path) == p
        size = path.stat().st_size
    print(f"\nWorkbook I/O: 235 trusts, {len(p.cip):,} schemes ({size / 1e6:.1f} MB .xlsx)")
    print(f"{'step':<34} {'seconds':>8}  ratio   target")
    for name, sec in (
        ("build Portfolio in memory", build),
        ("export (write_template)", write),
        ("import (read_plan)", read),
    ):
        verdict = "" if name.startswith("build") else ("< 5 s: met" if sec < 5 else "< 5 s: MISSED")
        print(f"{name:<34} {sec:>8.3f}  {sec / build:>5.1f}x  {verdict}")


if __name__ == "__main__":
    main()
