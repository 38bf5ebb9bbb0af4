"""cipmodel: control totals, CIPs, STF/PSF funding and the SOF finance score for NHS trusts.

The public API, for notebooks and scripts::

    from cipmodel import example_portfolio, read_plan, run_plan

    result = run_plan(read_plan("plan.xlsx"))   # or example_portfolio("acute-11pc")
    result.trust_summary()                      # pandas DataFrames
    result.to_dict()                            # the `cipmodel run --json` contract

Money is £000; rates are fractions; surplus positive, deficit negative; month 1 = April.

Names are imported on first use (PEP 562 module ``__getattr__``), so ``import cipmodel`` and
the command line start without loading scipy, pandas or matplotlib. ``docs/architecture.md``
maps the sub-packages (the layers) this API is drawn from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cipmodel.lazy import lazy_exports
from cipmodel.version import __version__

if TYPE_CHECKING:
    from cipmodel.engine.assess import Assessment, assess
    from cipmodel.engine.compile import PlanArrays, compile_plan
    from cipmodel.engine.project import Draws, Projection, project
    from cipmodel.engine.solve import SolveResult, solve_cip
    from cipmodel.errors import (
        CipModelError,
        Problem,
        RulePackError,
        SolveError,
        ValidationError,
        WorkbookError,
    )
    from cipmodel.examples import example_portfolio
    from cipmodel.inputs.records import Portfolio
    from cipmodel.io.plan import apply_scenario, load_plan
    from cipmodel.io.reader import read_plan
    from cipmodel.io.template import write_template
    from cipmodel.regime.packs import load_pack
    from cipmodel.regime.score import score
    from cipmodel.report import plots as plot
    from cipmodel.results.run import RunResult, run_plan

#: Public name -> the module that defines it (``plot`` is the plotting module itself).
_EXPORTS: dict[str, str] = {
    "Assessment": "cipmodel.engine.assess",
    "CipModelError": "cipmodel.errors",
    "Draws": "cipmodel.engine.project",
    "PlanArrays": "cipmodel.engine.compile",
    "Portfolio": "cipmodel.inputs.records",
    "Problem": "cipmodel.errors",
    "Projection": "cipmodel.engine.project",
    "RulePackError": "cipmodel.errors",
    "RunResult": "cipmodel.results.run",
    "SolveError": "cipmodel.errors",
    "SolveResult": "cipmodel.engine.solve",
    "ValidationError": "cipmodel.errors",
    "WorkbookError": "cipmodel.errors",
    "apply_scenario": "cipmodel.io.plan",
    "assess": "cipmodel.engine.assess",
    "compile_plan": "cipmodel.engine.compile",
    "example_portfolio": "cipmodel.examples",
    "load_pack": "cipmodel.regime.packs",
    "load_plan": "cipmodel.io.plan",
    "project": "cipmodel.engine.project",
    "read_plan": "cipmodel.io.reader",
    "run_plan": "cipmodel.results.run",
    "score": "cipmodel.regime.score",
    "solve_cip": "cipmodel.engine.solve",
    "write_template": "cipmodel.io.template",
    "plot": "cipmodel.report.plots:module",
}

__all__ = [
    "Assessment",
    "CipModelError",
    "Draws",
    "PlanArrays",
    "Portfolio",
    "Problem",
    "Projection",
    "RulePackError",
    "RunResult",
    "SolveError",
    "SolveResult",
    "ValidationError",
    "WorkbookError",
    "__version__",
    "apply_scenario",
    "assess",
    "compile_plan",
    "example_portfolio",
    "load_pack",
    "load_plan",
    "plot",
    "project",
    "read_plan",
    "run_plan",
    "score",
    "solve_cip",
    "write_template",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
