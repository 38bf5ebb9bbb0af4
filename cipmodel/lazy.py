"""Lazy re-exports for package ``__init__`` files (PEP 562), so importing a package is cheap.

A package lists the names it re-exports and the module defining each; a name is imported on
first use. The command line therefore starts without loading scipy, pandas or matplotlib,
which only the commands that need them import.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module ``__getattr__`` and ``__dir__`` that import each exported name on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__`` (for the error message and the namespace).
    exports : mapping
        Public name -> dotted module that defines it. A value ending in ``:module`` exports
        the module itself under that name.

    Returns
    -------
    (__getattr__, __dir__)
        To assign in the package's ``__init__``.
    """
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        target = exports.get(name)
        if target is None:
            msg = f"module {package!r} has no attribute {name!r}"
            raise AttributeError(msg)
        module, _, kind = target.partition(":")
        value = importlib.import_module(module)
        if kind != "module":
            value = getattr(value, name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
