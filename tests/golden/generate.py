"""Rebuild the golden CLI outputs in this folder.

The golden files were generated from main at commit ec72bf6 (before the layers restructure,
issue 9) and pin the `--json` contracts of `run`, `simulate` (fixed seed), `solve`, `score` and
`portfolio` on the bundled example, the scenario files and the synthetic national portfolio.
`tests/test_golden.py` compares the current outputs with them exactly (tolerance: none — a
restructure must not move a single bit). Regenerate only when a change is *meant* to alter an
output, and say why in the commit::

    python tests/golden/generate.py

The simulate cases pass ``--workers 1``: the JSON records the threads used (provenance
``workers``), which by default are the machine's cores; results never depend on them.

Each case is a list of CLI arguments; ``{national}`` is replaced by the path of the national
portfolio written as a workbook by ``cipmodel template --example national``.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

EXAMPLE = "templates/example-acute-11pc.xlsx"

CASES: dict[str, list[str]] = {
    "run-example": ["run", EXAMPLE, "--json"],
    "run-scenario-base": ["run", "scenarios/base.toml", "--json"],
    "run-scenario-delivered-7pc": ["run", "scenarios/delivered-7pc.toml", "--json"],
    "run-scenario-not-accepted": ["run", "scenarios/control-total-not-accepted.toml", "--json"],
    "run-scenario-pay-award": ["run", "scenarios/pay-award-above-tariff.toml", "--json"],
    "run-example-psf": ["run", EXAMPLE, "--json", "--funding-rules", "psf-2018-19"],
    "solve-example": ["solve", EXAMPLE, "--json"],
    "solve-example-year2": ["solve", EXAMPLE, "--json", "--year", "2"],
    "solve-example-p80": [
        "solve",
        EXAMPLE,
        "--json",
        "--probability",
        "0.8",
        "-n",
        "2048",
        "--seed",
        "11",
    ],
    "simulate-example-sobol": [
        "simulate",
        EXAMPLE,
        "--json",
        "-n",
        "4096",
        "--seed",
        "20170401",
        "--workers",
        "1",
    ],
    "simulate-example-random": [
        "simulate",
        EXAMPLE,
        "--json",
        "-n",
        "3000",
        "--seed",
        "5",
        "--sampler",
        "random",
        "--workers",
        "1",
    ],
    "simulate-example-lhs": [
        "simulate",
        EXAMPLE,
        "--json",
        "-n",
        "2000",
        "--seed",
        "9",
        "--sampler",
        "lhs",
        "--workers",
        "1",
    ],
    "score": [
        "score",
        "--capital-service-capacity",
        "1.1",
        "--liquidity-days",
        "-12",
        "--ie-margin",
        "-0.8%",
        "--distance-from-plan",
        "-0.5%",
        "--agency-vs-ceiling",
        "0.3",
        "--json",
    ],
    "portfolio-national": ["portfolio", "--example", "national", "--json"],
    "portfolio-national-no-bonus": ["portfolio", "--example", "national", "--json", "--no-bonus"],
    "run-national": ["run", "{national}", "--json"],
    "simulate-national": [
        "simulate",
        "{national}",
        "--json",
        "-n",
        "256",
        "--seed",
        "3",
        "--workers",
        "1",
    ],
}


def golden_path(name: str) -> Path:
    """The golden file of a case: plain JSON, gzipped for the national portfolio's outputs."""
    return HERE / (
        f"{name}.json.gz" if "national" in name and "portfolio" not in name else f"{name}.json"
    )


def read_golden(name: str) -> dict[str, Any]:
    """The stored output of a case."""
    path = golden_path(name)
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    data: dict[str, Any] = json.loads(raw)
    return data


def cipmodel(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run ``python -m cipmodel ARGV`` from the project root, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "cipmodel", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def national_workbook(folder: Path) -> Path:
    """Write the synthetic national portfolio as a plan workbook in `folder`."""
    path = folder / "national.xlsx"
    done = cipmodel(["template", str(path), "--example", "national"])
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return path


def run_case(args: list[str], national: Path) -> dict[str, Any]:
    """Run one CLI case and parse its JSON (the national workbook's path is made neutral)."""
    argv = [str(national) if a == "{national}" else a for a in args]
    done = cipmodel(argv)
    if done.returncode != 0:
        raise RuntimeError(f"{argv}: exit {done.returncode}\n{done.stderr}")
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        national = national_workbook(Path(tmp))
        for name, args in CASES.items():
            path = golden_path(name)
            text = json.dumps(run_case(args, national), indent=1, sort_keys=True) + "\n"
            if path.suffix == ".gz":
                # mtime=0: the same output gives the same bytes, so git sees no change.
                path.write_bytes(gzip.compress(text.encode(), mtime=0))
            else:
                path.write_text(text)
            print(f"wrote {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
