"""cipmodel: control totals, CIPs, STF/PSF funding and the SOF finance score for NHS trusts."""

from cipmodel.errors import (
    CipModelError,
    Problem,
    RulePackError,
    SolveError,
    ValidationError,
    WorkbookError,
)
from cipmodel.model import Portfolio

__version__ = "0.1.0"

__all__ = [
    "CipModelError",
    "Portfolio",
    "Problem",
    "RulePackError",
    "SolveError",
    "ValidationError",
    "WorkbookError",
    "__version__",
]
