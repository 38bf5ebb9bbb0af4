"""Fuzz and hostile-input machinery for the test suite (issue 6).

* :mod:`fuzz.xlsx` — a fast, exact .xlsx writer (any XML in any part);
* :mod:`fuzz.generators` — random plans, workbooks, mutations and scenario files;
* :mod:`fuzz.harness` — runs a case through the API or the CLI and judges the outcome;
* :mod:`fuzz.hostile` — the named hostile inputs behind ``docs/hostile-inputs.md``;
* ``run_long.py`` — the long run (``make fuzz-long``).
"""
