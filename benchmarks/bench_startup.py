"""Command-line start-up: CPU and wall time of whole ``cipmodel`` processes.

Each row is a fresh process, run several times in the same run; the table shows the best
CPU time (user + sys of the child, from ``getrusage(RUSAGE_CHILDREN)`` deltas) and the best
wall time (the shared best-of-N timer). The ratio compares CPU time with the baseline, a
process that only imports numpy, openpyxl and click (what reading a plan needs at least).

Targets: ``cipmodel --help`` under 0.3 s of CPU; ``cipmodel validate`` of the worked example,
and the refusal of a hostile file (not a zip; a 1 GB-unpacked zip bomb), each at most twice
the baseline. ``cipmodel run --json`` has no target: it is listed to show what a full plan
run costs on top.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from _portfolio import best

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fuzz.hostile import zip_bomb  # noqa: E402

EXAMPLE = ROOT / "templates" / "example-acute-11pc.xlsx"
BASELINE = "import numpy, openpyxl, click"
REPEAT = 5
HELP_CPU = 0.3  # target: seconds of CPU
VALIDATE_FACTOR = 2.0  # target: times the baseline's CPU


@dataclass(frozen=True)
class Case:
    """One process to time, and its CPU target: seconds, or a multiple of the baseline."""

    label: str
    argv: list[str]
    seconds: float | None = None
    factor: float | None = None

    def target(self, base_cpu: float) -> tuple[str, float | None]:
        """The target as shown, and as CPU seconds (None: no target)."""
        if self.seconds is not None:
            return f"< {self.seconds:g} s CPU", self.seconds
        if self.factor is not None:
            return f"<= {self.factor:g}x base", self.factor * base_cpu
        return "", None


def cipmodel() -> list[str]:
    """The installed ``cipmodel`` script next to this Python, or ``python -m cipmodel``."""
    script = Path(sys.executable).with_name("cipmodel")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cipmodel"]


def child_cpu() -> float:
    """CPU seconds (user + sys) used so far by this process's finished children."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def measure(argv: list[str], repeat: int = REPEAT) -> tuple[float, float, int]:
    """Best CPU seconds, best wall seconds and the exit code of ``argv`` run ``repeat`` times."""
    cpu: list[float] = []
    codes: list[int] = []

    def once() -> None:
        before = child_cpu()
        done = subprocess.run(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=600
        )
        cpu.append(child_cpu() - before)
        codes.append(done.returncode)

    wall = best(once, repeat)
    return min(cpu), wall, codes[-1]


def cases(folder: Path) -> list[Case]:
    """The processes to time, with a hostile file or two built in ``folder``."""
    not_zip = folder / "not-a-zip.xlsx"
    not_zip.write_bytes(b"This is a text file renamed .xlsx, not a workbook.\n" * 100)
    bomb = zip_bomb(folder)
    cli = cipmodel()
    return [
        Case("baseline: import numpy, openpyxl, click", [sys.executable, "-c", BASELINE]),
        Case("cipmodel --help", [*cli, "--help"], seconds=HELP_CPU),
        Case(
            "cipmodel validate <example>", [*cli, "validate", str(EXAMPLE)], factor=VALIDATE_FACTOR
        ),
        Case(
            "cipmodel validate <not a zip>",
            [*cli, "validate", str(not_zip)],
            factor=VALIDATE_FACTOR,
        ),
        Case(
            "cipmodel validate <zip bomb, 1 GB>",
            [*cli, "validate", str(bomb)],
            factor=VALIDATE_FACTOR,
        ),
        Case("cipmodel run <example> --json", [*cli, "run", str(EXAMPLE), "--json"]),
    ]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rows = [(case, *measure(case.argv)) for case in cases(Path(tmp))]
    base_cpu = rows[0][1]
    print(f"\nCommand-line start-up: whole processes, best of {REPEAT} (CPU = user + sys)")
    print(
        f"{'process':<40} {'CPU s':>6} {'wall s':>7} {'x base':>7} {'exit':>5}  {'target':<14} met?"
    )
    for case, cpu, wall, code in rows:
        target, limit = case.target(base_cpu)
        verdict = "" if limit is None else "met" if cpu <= limit else "MISSED"
        print(
            f"{case.label:<40} {cpu:>6.3f} {wall:>7.3f} {cpu / base_cpu:>6.2f}x {code:>5}  "
            f"{target:<14} {verdict}"
        )
    how = "the installed cipmodel script" if len(cipmodel()) == 1 else "python -m cipmodel"
    print(f"(cipmodel timed as {how}; exit 2 = refused with a message)")


if __name__ == "__main__":
    main()
