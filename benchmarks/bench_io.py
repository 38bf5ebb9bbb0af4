"""Workbook import and export of a national-sized plan (target: under 5 s each on 2 cores).

235 trusts x 40 schemes (the worked example cloned, ``_portfolio.cloned_portfolio``),
best of three, measured in the same run; the ratio column compares each step with building
the same Portfolio objects in memory (validation included), the floor any reader pays.

The import is also timed with every sheet read by the expat handlers (the plain-form cell
scan of ``cipmodel.io.xlsx_scan`` switched off, as before it was added), and with the
cells alone (``XlsxSheets.cells``, either way), so the scan's share shows in the same run.
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path
from unittest import mock

from _portfolio import best, cloned_portfolio

from cipmodel.io import read_plan, write_template, xlsx_sheets


def _cells(path: Path) -> None:
    """Every sheet's cells, nothing else."""
    data = path.read_bytes()
    with zipfile.ZipFile(path) as zf:
        book = xlsx_sheets.XlsxSheets(data, zf, path.name)
        for ws in book.sheets:
            book.cells(ws)


def main() -> None:
    build = best(lambda: cloned_portfolio(235, 40, 1))
    p = cloned_portfolio(235, 40, 1)
    no_scan = mock.patch.object(xlsx_sheets, "scan_sheet", lambda _data, _handler: False)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "national.xlsx"
        write = best(lambda: write_template(path, p, overwrite=True))
        read = best(lambda: read_plan(path))
        cells = best(lambda: _cells(path))
        with no_scan:
            read_expat = best(lambda: read_plan(path))
            cells_expat = best(lambda: _cells(path))
            assert read_plan(path) == p
        assert read_plan(path) == p
        size = path.stat().st_size
    print(f"\nWorkbook I/O: 235 trusts, {len(p.cip):,} schemes ({size / 1e6:.1f} MB .xlsx)")
    print(f"{'step':<34} {'seconds':>8}  ratio   target")
    for name, sec in (
        ("build Portfolio in memory", build),
        ("export (write_template)", write),
        ("import (read_plan)", read),
        ("  import, every sheet by expat", read_expat),
        ("  cells only (scan)", cells),
        ("  cells only, by expat", cells_expat),
    ):
        verdict = ""
        if not name.startswith(("build", "  ")):
            verdict = "< 5 s: met" if sec < 5 else "< 5 s: MISSED"
        print(f"{name:<34} {sec:>8.3f}  {sec / build:>5.1f}x  {verdict}")


if __name__ == "__main__":
    main()
