"""Place a CIP (share of operating expenditure) against the evidence bands in a rule pack."""

from __future__ import annotations

from typing import overload

import numpy as np
from numpy.typing import NDArray

from cipmodel.regime.packs import RulePack, TomlValue, load_pack

__all__ = ["cip_band", "load_bands"]


def _is_bound(b: TomlValue) -> bool:
    return isinstance(b, (int, float))


def load_bands(pack: str | RulePack = "cip-bands") -> RulePack:
    """Load and check a ``cip_bands`` rule pack."""
    rp = pack if isinstance(pack, RulePack) else load_pack(pack, kind="cip_bands")
    bounds = rp.get("upper_bounds")
    labels = rp.get("labels")
    if not isinstance(bounds, list) or not all(_is_bound(b) for b in bounds):
        raise rp.error("upper_bounds", "must be a list of numbers")
    numbers = [b for b in bounds if isinstance(b, (int, float))]
    if any(b2 <= b1 for b1, b2 in zip(numbers, numbers[1:], strict=False)):
        raise rp.error("upper_bounds", f"must increase, got {bounds}")
    if not isinstance(labels, list) or len(labels) != len(bounds) + 1:
        raise rp.error("labels", f"needs {len(bounds) + 1} labels (one more than upper_bounds)")
    return rp


@overload
def cip_band(share: float, pack: str | RulePack = ...) -> str: ...
@overload
def cip_band(share: NDArray[np.float64], pack: str | RulePack = ...) -> NDArray[np.object_]: ...
def cip_band(
    share: float | NDArray[np.float64], pack: str | RulePack = "cip-bands"
) -> str | NDArray[np.object_]:
    """The evidence band of a CIP share of operating expenditure [fraction].

    Returns the label (e.g. ``"high risk"``) for a scalar, an array of labels for an array.
    A share exactly on a bound belongs to the lower band (``<= 2%`` is sustainable).
    """
    rp = load_bands(pack)
    bounds = np.asarray(rp.get("upper_bounds"), dtype=float)
    labels = np.asarray(rp.get("labels"), dtype=object)
    idx = np.searchsorted(bounds, np.asarray(share, dtype=float), side="left")
    out: NDArray[np.object_] = labels[idx]
    return str(out) if np.ndim(out) == 0 else out
