"""Hostile workbooks: how fast each is refused (or read) and the peak memory it costs.

Targets: a billion-laughs workbook and a 1 GB-unpacked zip bomb are each refused in under
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

from fuzz.hostile import BY_ID, HOSTILE, MB, plan_parts, zip_parts  # noqa: E402

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


def main() -> None:
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
