"""cipmodel: control totals, CIPs, STF/PSF funding and the SOF finance score for NHS trusts.

The public API, for notebooks and scripts::

    from cipmodel import example_portfolio, read_plan, run_plan

    result = run_plan(read_plan("plan.xlsx"))   # or example_portfolio("acute-11pc")
    result.trust_summary()                      # pandas DataFrames
    result.to_dict()                            # the `cipmodel run --json` contract

Money is £000; rates are fractions; surplus positive, deficit negative; month 1 = April.
"""

from cipmodel.assess import Assessment, assess
from cipmodel.engine import Draws, PlanArrays, Projection, compile_plan, project
from cipmodel.errors import (
    CipModelError,
    Problem,
    RulePackError,
    SolveError,
    ValidationError,
    WorkbookError,
)
from cipmodel.examples import example_portfolio
from cipmodel.io import read_plan, write_template
from cipmodel.model import Portfolio
from cipmodel.rules import load_pack
from cipmodel.run import RunResult, run_plan
from cipmodel.scenario import load_plan
from cipmodel.score import score
from cipmodel.solve import SolveResult, solve_cip

__version__ = "0.1.0"

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
    "assess",
    "compile_plan",
    "example_portfolio",
    "load_pack",
    "load_plan",
    "project",
    "read_plan",
    "run_plan",
    "score",
    "solve_cip",
    "write_template",
]
