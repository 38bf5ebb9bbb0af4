"""Hostile workbooks: how fast each is refused (or read) and the peak memory it costs.

Two runs:

* the hostile cases (default): ``read_plan`` on each resource case of the hostile table;
* the resource run (``--resource``): small workbooks with millions of entries in each part
  (styles, defined names, relationships, content types, sheets, zip entries, shared
  strings, cells; ``RESOURCE_RUN`` in ``tests/fuzz/hostile.py``), each given to
  ``cipmodel validate`` in a child process whose wall time and peak resident memory
  (``resource.getrusage(RUSAGE_CHILDREN)``, measured by a wrapper process around it) are
  reported. Target: no unhandled exception (exit 1 or a traceback), none over 5 s or
  500 MB. ``--scale 0.1`` builds a tenth of the entries.

Targets of the hostile cases: a billion-laughs workbook and a 1 GB-unpacked zip bomb are each refused in under
2 s with a peak memory under 200 MB. Every case runs ``read_plan`` in a fresh Python process
(after importing cipmodel) and reports that process's peak resident memory (``VmHWM``,
or ``ru_maxrss`` where there is no /proc), so the numbers include the interpreter and its
libraries; the "+MB" column is the growth during the read itself. The inputs are built by ``tests/fuzz/hostile.py``
(the same ones ``tests/test_hostile.py`` checks and ``docs/hostile-inputs.md`` lists).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fuzz.hostile import BY_ID, HOSTILE, MB, RESOURCE_RUN, many, plan_parts, zip_parts  # noqa: E402

# case id -> (target seconds, target peak MB)
TARGETS = {
    "laughs-sheet": (2.0, 200),
    "laughs-workbook": (2.0, 200),
    "laughs-strings": (2.0, 200),
    "zip-bomb-1gb": (2.0, 200),
}
CASES = [h.id for h in HOSTILE if h.resource]  # the inputs marked as resource cases

CHILD = r"""
import json, resource, sys, time
from cipmodel.errors import CipModelError
from cipmodel.io import read_plan_with_notes

def peak_kb():
    # VmHWM: this process's peak since exec (ru_maxrss would include the parent's at fork)
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

base = peak_kb()
t = time.perf_counter()
try:
    read_plan_with_notes(sys.argv[1])
    kind = "read"
except CipModelError as exc:
    kind = type(exc).__name__
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "kind": kind, "base_kb": base, "peak_kb": peak_kb()}))
"""


def _shared_strings(folder: Path, n: int) -> Path:
    """A plan whose shared-strings part holds ``n`` distinct strings (none used)."""
    parts = plan_parts()
    items = "".join(f"<si><t>s{i}</t></si>" for i in range(n))
    parts["xl/sharedStrings.xml"] = (
        '<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        + items
        + "</sst>"
    ).encode()
    path = folder / "plan.xlsx"
    path.write_bytes(zip_parts(parts))
    return path


def measure(path: Path) -> dict[str, float | str]:
    """Read ``path`` in a fresh process: seconds, outcome, peak and baseline memory (MB)."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    d = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "seconds": d["seconds"],
        "kind": d["kind"],
        "peak_mb": d["peak_kb"] / 1024,
        "base_mb": d["base_kb"] / 1024,
    }


# The wrapper: runs `cipmodel validate FILE` as its child, then reports the child's wall
# time, exit code, stderr and peak memory (RUSAGE_CHILDREN: the waited-for child only).
WRAPPER = r"""
import json, resource, subprocess, sys, time
t = time.perf_counter()
done = subprocess.run([sys.executable, "-m", "cipmodel", "validate", sys.argv[1]],
                      capture_output=True, text=True, timeout=120)
seconds = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": seconds, "code": done.returncode, "peak_kb": peak,
                  "stderr": done.stderr[-400:]}))
"""
RESOURCE_TARGET = (5.0, 500)  # seconds, MB


def resource_run(scale: float = 1.0) -> int:
    """Build and validate each workbook of ``RESOURCE_RUN``; print a table; the number of
    cases that missed the target or ended in an unhandled exception."""
    missed = 0
    print(
        f"\nResource run: `cipmodel validate` in a child process (targets: no unhandled "
        f"exception, < {RESOURCE_TARGET[0]:g} s, < {RESOURCE_TARGET[1]} MB)"
    )
    print(
        f"{'part':<14} {'entries':>11} {'file':>9} {'seconds':>8} {'peak MB':>8} exit  verdict  message"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for kind, n in RESOURCE_RUN:
            n = max(1, int(n * scale))
            folder = Path(tmp) / kind
            folder.mkdir()
            path = many(kind, n)(folder)
            done = subprocess.run(
                [sys.executable, "-c", WRAPPER, str(path)],
                capture_output=True,
                text=True,
                check=True,
                timeout=300,
            )
            d = json.loads(done.stdout.strip().splitlines()[-1])
            peak_mb = d["peak_kb"] / 1024
            unhandled = d["code"] not in (0, 2) or "Traceback" in d["stderr"]
            ok = (
                not unhandled and d["seconds"] < RESOURCE_TARGET[0] and peak_mb < RESOURCE_TARGET[1]
            )
            missed += not ok
            size = path.stat().st_size
            size_text = f"{size / MB:.1f} MB" if size >= MB else f"{size / 1024:.0f} KB"
            message = " ".join(d["stderr"].split())[:90]
            print(
                f"{kind:<14} {n:>11,} {size_text:>9} {d['seconds']:>8.2f} {peak_mb:>8.0f} "
                f"{d['code']:>4}  {'met' if ok else 'MISSED':<7}  {message}"
            )
            path.unlink()
    print(f"{missed} case(s) missed the target")
    return missed


def main() -> None:
    if "--resource" in sys.argv:
        scale = float(sys.argv[sys.argv.index("--scale") + 1]) if "--scale" in sys.argv else 1.0
        sys.exit(1 if resource_run(scale) else 0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        inputs: list[tuple[str, str, Path, float]] = []
        for case_id in CASES:
            h = BY_ID[case_id]
            folder = Path(tmp) / case_id
            folder.mkdir()
            t = time.perf_counter()
            assert h.make is not None
            path = h.make(folder)
            inputs.append((case_id, h.input, path, time.perf_counter() - t))
        for n in (1_000_000, 5_000_000):
            folder = Path(tmp) / f"strings-{n}"
            folder.mkdir()
            t = time.perf_counter()
            path = _shared_strings(folder, n)
            inputs.append(
                (
                    f"shared-strings-{n // 1_000_000}m",
                    f"{n:,} shared strings (none used)",
                    path,
                    time.perf_counter() - t,
                )
            )
        for case_id, what, path, build in inputs:
            m = measure(path)
            rows.append((case_id, what, path.stat().st_size, build, m))
    print(
        "\nHostile workbooks: read_plan in a fresh process (peak = whole process, + = during the read)"
    )
    print(f"{'case':<22} {'file':>9} {'seconds':>8} {'peak MB':>8} {'+MB':>6}  outcome      target")
    for case_id, _what, size, _build, m in rows:
        target = TARGETS.get(case_id)
        verdict = ""
        if target:
            ok = m["seconds"] < target[0] and m["peak_mb"] < target[1]
            verdict = f"< {target[0]:g} s, < {target[1]} MB: {'met' if ok else 'MISSED'}"
        size_text = f"{size / MB:.1f} MB" if size >= MB else f"{size / 1024:.0f} KB"
        print(
            f"{case_id:<22} {size_text:>9} {m['seconds']:>8.3f} {m['peak_mb']:>8.0f} "
            f"{m['peak_mb'] - m['base_mb']:>6.0f}  {m['kind']:<12} {verdict}"
        )


if __name__ == "__main__":
    main()
