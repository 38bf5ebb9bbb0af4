"""Safe writes of results workbooks: all or nothing, even when the process is killed.

A results workbook is written to a temporary file next to the target, which is then renamed
onto it in one step; the temporary file is locked while it is written. So a kill at any
moment leaves either the old file or the complete new one, plus at most one unlocked
temporary file (``.NAME.<hex>.tmp``) that the next write to the same target removes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import signal
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from cipmodel.errors import WorkbookError
from cipmodel.examples import example_portfolio
from cipmodel.inputs.records import Portfolio
from cipmodel.io import atomic as atomicmod
from cipmodel.io import read_plan, write_in_place, write_results_workbook, write_template
from cipmodel.io.grid import GridWorkbook
from cipmodel.results.run import run_plan

TIMEOUT_S = 300
KILLS = 5
SEED = 20170401

WRITER = """
import sys, time
from cipmodel.io import read_plan
from cipmodel.io.results_workbook import write_results_workbook
from cipmodel.results.run import run_plan

result = run_plan(read_plan(sys.argv[1]))
print("ready", flush=True)
start = time.perf_counter()
write_results_workbook(sys.argv[2], result, overwrite=True)
print("done", time.perf_counter() - start, flush=True)
"""


def _big_portfolio(n_trusts: int = 50) -> Portfolio:
    """The worked example cloned into ``n_trusts`` trusts (about 2,000 schemes)."""
    base = example_portfolio("acute-11pc")
    tables: dict[str, list[Any]] = {
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

        def rep(rec: Any, code: str = code) -> Any:
            return dataclasses.replace(rec, trust_code=code, source=None)

        for table in tables:
            tables[table] += [rep(r) for r in getattr(base, table)]
    return Portfolio(**tables, name="big")


def _temps(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.tmp"))


def _start(script: Path, plan: Path, target: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, str(script), str(plan), str(target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "ready", line + (proc.stderr.read() if proc.stderr else "")
    return proc


def _is_complete_results(path: Path, portfolio: Portfolio) -> bool:
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
    wb = openpyxl.load_workbook(path, read_only=True)
    sheets = wb.sheetnames
    wb.close()
    assert {"Summary", "Monthly", "Provenance", "CIP"} <= set(sheets)
    assert read_plan(path) == portfolio
    return True


@pytest.mark.slow
def test_kill_9_during_a_large_write_leaves_old_or_complete_new(tmp_path: Path) -> None:
    """SIGKILL at seeded random moments of a large results write (in a subprocess, through
    write_results_workbook): the target is byte-identical to the old file or a complete,
    readable new workbook; a leftover temporary file is removed by the next write."""
    if not hasattr(signal, "SIGKILL"):  # pragma: no cover - Windows
        pytest.skip("needs SIGKILL")
    work = tmp_path / "work"
    work.mkdir()
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    big = _big_portfolio()
    plan = tmp_path / "plan.xlsx"
    write_template(plan, big)
    target = work / "results.xlsx"
    write_results_workbook(target, run_plan(example_portfolio("small")))
    old = target.read_bytes()

    # one uninterrupted write, to learn how long a write takes on this machine
    proc = _start(script, plan, target)
    out, err = proc.communicate(timeout=TIMEOUT_S)
    assert proc.returncode == 0, err
    duration = float(out.split()[-1])
    assert _is_complete_results(target, big)

    rng = random.Random(SEED)
    outcomes = []
    for _ in range(KILLS):
        target.write_bytes(old)
        proc = _start(script, plan, target)
        with contextlib.suppress(subprocess.TimeoutExpired):  # it may finish first
            proc.wait(timeout=rng.uniform(0.05, 0.95) * duration)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=TIMEOUT_S)
        interrupted = proc.returncode == -signal.SIGKILL
        data = target.read_bytes()
        state = "old" if data == old else ("new" if _is_complete_results(target, big) else "bad")
        leftovers = _temps(work)
        assert all(p.name.startswith(".results.xlsx.") for p in leftovers), leftovers
        outcomes.append((interrupted, state, len(leftovers)))
        atomicmod.clean_stale_temps(target)
        assert sorted(p.name for p in work.iterdir()) == ["results.xlsx"]
    print(f"\nwrite {duration:.2f}s; kills (interrupted, target, temps left): {outcomes}")
    assert all(state in ("old", "new") for _i, state, _n in outcomes)
    assert any(interrupted for interrupted, _s, _n in outcomes)

    # a temporary file left by a killed write is removed by the next complete write
    stale = work / ".results.xlsx.0123456789ab.tmp"
    stale.write_bytes(old[: len(old) // 2])
    proc = _start(script, plan, target)
    _out, err = proc.communicate(timeout=TIMEOUT_S)
    assert proc.returncode == 0, err
    assert sorted(p.name for p in work.iterdir()) == ["results.xlsx"]
    assert _is_complete_results(target, big)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error half-way through saving leaves the old file exactly as it was."""
    result = run_plan(example_portfolio("small"))
    target = tmp_path / "results.xlsx"
    write_results_workbook(target, result)
    old = target.read_bytes()

    def broken_save(self: Any, filename: Any) -> None:
        Path(filename).write_bytes(b"PK\x03\x04 half a zip")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(GridWorkbook, "save", broken_save)
    with pytest.raises(WorkbookError, match="disk is full"):
        write_results_workbook(target, result, overwrite=True)
    assert target.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.xlsx"]


def test_a_temporary_file_being_written_is_not_removed(tmp_path: Path) -> None:
    """Only temporary files nobody holds are stale: a locked one (a write in progress) stays."""
    if atomicmod.fcntl is None:  # pragma: no cover - Windows
        pytest.skip("needs POSIX file locks")
    import fcntl

    target = tmp_path / "results.xlsx"
    busy = tmp_path / ".results.xlsx.abcdefabcdef.tmp"
    busy.write_bytes(b"")
    with open(busy, "rb+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        assert atomicmod.clean_stale_temps(target) == []
        assert busy.exists()
    assert atomicmod.clean_stale_temps(target) == [busy]


def test_in_place_never_overwrites_an_existing_backup(tmp_path: Path) -> None:
    """A file already called NAME.bak.xlsx is left alone; the backup takes the next name."""
    portfolio = example_portfolio("acute-11pc")
    plan = tmp_path / "plan.xlsx"
    write_template(plan, portfolio)
    original = plan.read_bytes()
    (tmp_path / "plan.bak.xlsx").write_bytes(b"someone else's backup")
    backup = write_in_place(plan, run_plan(portfolio))
    assert backup.name == "plan.bak-2.xlsx" and backup.read_bytes() == original
    assert (tmp_path / "plan.bak.xlsx").read_bytes() == b"someone else's backup"
    assert not list(tmp_path.glob(".*.tmp"))
    assert os.path.getsize(plan) > 0 and read_plan(plan) == portfolio
