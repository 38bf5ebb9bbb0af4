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
import time
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


# -- issue 11: outputs never overwrite inputs, links, concurrent writers, a full disk -------
CONCURRENT = """
import sys
import time
from cipmodel.examples import example_portfolio
from cipmodel.io.results_workbook import write_results_workbook
from cipmodel.results.run import run_plan

result = run_plan(example_portfolio("acute-11pc"))
print("ready", flush=True)
sys.stdin.readline()  # start together
for _ in range(int(sys.argv[2])):
    write_results_workbook(sys.argv[1], result, overwrite=True)
print("done", flush=True)
"""

#: Runs the CLI with every write to a temporary file going to /dev/full (ENOSPC), as on a
#: full disk: the writer's own buffered files fail as they would.
FULL_DISK = """
import builtins, io, os, sys
_open = io.open
def full_open(file, mode="r", *args, **kwargs):
    name = str(file) if isinstance(file, (str, os.PathLike)) else ""
    if name.endswith(".tmp") and any(m in mode for m in "wa+"):
        return _open("/dev/full", "wb" if "b" in mode else "w")
    return _open(file, mode, *args, **kwargs)
io.open = builtins.open = full_open
from cipmodel.cli import cli
cli(sys.argv[1:], prog_name="cipmodel")
"""


def test_concurrent_writers_never_see_each_others_cleanup(tmp_path: Path) -> None:
    """Four processes write the same results workbook three times each, at once: none
    fails (each one's temporary file is locked from birth to rename, so another's cleanup
    never removes it), the result is a complete workbook and no temporary file is left."""
    script = tmp_path / "writer.py"
    script.write_text(CONCURRENT)
    target = tmp_path / "out" / "results.xlsx"
    target.parent.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(target), "3"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in procs:
        out, err = p.communicate(timeout=TIMEOUT_S)
        assert p.returncode == 0, err
        assert "done" in out
    assert sorted(x.name for x in target.parent.iterdir()) == ["results.xlsx"]
    assert read_plan(target) == example_portfolio("acute-11pc")


def test_a_cleanup_between_creation_and_lock_cannot_remove_a_live_temporary(
    tmp_path: Path,
) -> None:
    """A temporary file is born under a name no cleanup looks at (``.new``) and only gets
    its ``.tmp`` name once locked; a young ``.new`` file is never removed."""
    if atomicmod.fcntl is None:  # pragma: no cover - Windows
        pytest.skip("needs POSIX file locks")
    target = tmp_path / "results.xlsx"
    seen: list[list[str]] = []

    def writer(tmp: Path) -> None:
        assert tmp.name.endswith(".tmp")
        assert atomicmod.clean_stale_temps(target) == []  # another process's cleanup
        seen.append(sorted(p.name for p in tmp_path.iterdir()))
        tmp.write_bytes(b"complete")

    atomicmod.atomic_write(target, writer)
    assert target.read_bytes() == b"complete" and len(seen[0]) == 1
    young = tmp_path / ".results.xlsx.0123456789ab.new"
    young.write_bytes(b"")
    assert atomicmod.clean_stale_temps(target) == []
    old = time.time() - 3600
    os.utime(young, (old, old))
    assert atomicmod.clean_stale_temps(target) == [young]


def test_a_full_disk_gives_the_message_and_no_traceback(tmp_path: Path) -> None:
    """Every temporary file written on a full disk (/dev/full: ENOSPC): `run -o` exits 2
    with one clear line on stderr, no traceback or Python error text, no file left."""
    if not os.path.exists("/dev/full"):  # pragma: no cover - not Linux
        pytest.skip("needs /dev/full")
    plan = tmp_path / "plan.xlsx"
    write_template(plan, example_portfolio("acute-11pc"))
    script = tmp_path / "full.py"
    script.write_text(FULL_DISK)
    for extra in ([], ["--json"]):
        out = tmp_path / "results.xlsx"
        done = subprocess.run(
            [sys.executable, str(script), "run", str(plan), "-o", str(out), *extra],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
        assert done.returncode == 2, done.stderr
        # the reader's notes come first (the example's unsplit PFI charge), then the error
        assert "Traceback" not in done.stderr
        assert done.stderr.strip().splitlines()[-1] == (
            "Error: cannot write results.xlsx: the disk is full (nothing was changed)"
        )
        assert sorted(p.name for p in tmp_path.iterdir()) == ["full.py", "plan.xlsx"]


def test_a_full_disk_during_a_backup_leaves_the_plan_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--in-place on a full disk (found when the backup is flushed, as with delayed
    allocation): the plan is untouched, nothing is left behind."""
    plan = tmp_path / "plan.xlsx"
    portfolio = example_portfolio("acute-11pc")
    write_template(plan, portfolio)
    before = plan.read_bytes()

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomicmod.os, "fsync", full)
    with pytest.raises(WorkbookError, match="disk is full"):
        write_in_place(plan, run_plan(portfolio))
    monkeypatch.undo()
    assert plan.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.xlsx"]


@pytest.mark.parametrize("kind", ["dangling", "looping", "self", "folder"])
def test_links_at_backup_names_are_skipped_never_followed(tmp_path: Path, kind: str) -> None:
    """A dangling or looping symbolic link (or a folder) at the backup name is taken as a
    used name: the backup goes to the next name, the link stays as it was, no loop."""
    plan = tmp_path / "plan.xlsx"
    portfolio = example_portfolio("acute-11pc")
    write_template(plan, portfolio)
    original = plan.read_bytes()
    first = tmp_path / "plan.bak.xlsx"
    if kind == "dangling":
        first.symlink_to(tmp_path / "nowhere.xlsx")
    elif kind == "looping":
        (tmp_path / "loop.xlsx").symlink_to(first)
        first.symlink_to(tmp_path / "loop.xlsx")
    elif kind == "self":
        first.symlink_to(first)
    else:
        first.mkdir()
    backup = write_in_place(plan, run_plan(portfolio))
    assert backup.name == "plan.bak-2.xlsx" and backup.read_bytes() == original
    assert first.is_dir() if kind == "folder" else first.is_symlink()
    assert not list(tmp_path.glob(".*.tmp")) and not list(tmp_path.glob(".*.new"))


def test_results_are_never_written_through_a_link(tmp_path: Path) -> None:
    """A symbolic link at the output name (dangling or not) is refused, even with
    overwrite: the file it points to is unchanged and the link stays."""
    result = run_plan(example_portfolio("small"))
    other = tmp_path / "someone-elses.xlsx"
    other.write_bytes(b"not yours")
    link = tmp_path / "results.xlsx"
    link.symlink_to(other)
    with pytest.raises(WorkbookError, match="symbolic link"):
        write_results_workbook(link, result, overwrite=True)
    assert other.read_bytes() == b"not yours" and link.is_symlink()
    dangling = tmp_path / "new.xlsx"
    dangling.symlink_to(tmp_path / "missing" / "x.xlsx")
    with pytest.raises(WorkbookError, match="symbolic link"):
        write_results_workbook(dangling, result, overwrite=True)
    assert not (tmp_path / "missing").exists()


def test_no_overwrite_is_race_free(tmp_path: Path) -> None:
    """Without overwrite a file that appears while the new one is written is kept: the
    new file is put in place with a hard link, which fails if the name is taken."""
    target = tmp_path / "out.csv"

    def writer(tmp: Path) -> None:
        target.write_text("appeared meanwhile")
        tmp.write_text("new")

    with pytest.raises(WorkbookError, match="appeared while"):
        atomicmod.atomic_write(target, writer, overwrite=False)
    assert target.read_text() == "appeared meanwhile"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_a_long_output_name_gets_a_short_temporary_name(tmp_path: Path) -> None:
    """A legal name of 250 characters: the temporary name is shortened (with a digest of
    the full name) so it stays within the file system's limit."""
    target = tmp_path / ("r" * 245 + ".xlsx")
    names: list[str] = []
    atomicmod.atomic_write(target, lambda tmp: (names.append(tmp.name), tmp.write_bytes(b"x")))
    assert target.read_bytes() == b"x"
    assert len(names[0].encode()) <= atomicmod.NAME_MAX
    stale = tmp_path / names[0]
    stale.write_bytes(b"half")
    assert atomicmod.clean_stale_temps(target) == [stale]


@pytest.mark.parametrize("how", ["same", "symlink", "hard link", "relative", "scenario"])
def test_an_output_that_is_an_input_is_refused_even_with_force(tmp_path: Path, how: str) -> None:
    """`run -o` naming the plan itself (directly, through a link, a hard link, a path with
    `..`, or the plan a scenario names) exits 2 even with --force; the plan is unchanged."""
    from click.testing import CliRunner

    from cipmodel.cli import cli

    plan = tmp_path / "plan.xlsx"
    write_template(plan, example_portfolio("acute-11pc"))
    before = plan.read_bytes()
    source, out = plan, plan
    (tmp_path / "sub").mkdir()
    if how == "symlink":
        out = tmp_path / "link.xlsx"
        out.symlink_to(plan)
    elif how == "hard link":
        out = tmp_path / "hard.xlsx"
        os.link(plan, out)
    elif how == "relative":
        out = tmp_path / "sub" / ".." / "plan.xlsx"
    elif how == "scenario":
        source = tmp_path / "sub" / "s.toml"
        source.write_text('[scenario]\nname = "s"\nplan = "../plan.xlsx"\n')
    r = CliRunner().invoke(cli, ["run", str(source), "-o", str(out), "--force"])
    assert r.exit_code == 2, r.output
    assert "never over an input" in r.output and "Traceback" not in r.output
    assert plan.read_bytes() == before


def test_demo_refuses_to_replace_any_of_its_files_without_force(tmp_path: Path) -> None:
    """`demo` checks every file it would write before computing: an existing plot (or a
    link at a plot's name) stops it, with the files named; nothing is changed."""
    from click.testing import CliRunner

    from cipmodel.cli import cli
    from cipmodel.cli.demo import PLOTS

    pytest.importorskip("matplotlib")
    out = tmp_path / "demo"
    out.mkdir()
    (out / PLOTS[1]).write_bytes(b"my own chart")
    r = CliRunner().invoke(cli, ["demo", "--out", str(out)])
    assert r.exit_code == 2 and PLOTS[1] in r.output and "--force" in r.output
    assert (out / PLOTS[1]).read_bytes() == b"my own chart"
    (out / PLOTS[2]).symlink_to(tmp_path / "elsewhere.png")
    r = CliRunner().invoke(cli, ["demo", "--out", str(out), "--force"])
    assert r.exit_code == 2 and "symbolic link" in r.output
    assert sorted(p.name for p in out.iterdir()) == sorted([PLOTS[1], PLOTS[2]])
    assert not (tmp_path / "elsewhere.png").exists()
