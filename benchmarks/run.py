"""Run every benchmark and print its table: ``make bench`` or ``python benchmarks/run.py``."""

from __future__ import annotations

import importlib
import pathlib
import sys

HERE = pathlib.Path(__file__).parent
sys.path.insert(0, str(HERE))

for path in sorted(HERE.glob("bench_*.py")):
    importlib.import_module(path.stem).main()
