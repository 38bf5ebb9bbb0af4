"""Mutated rule packs: a bundled pack with one value made wrong (a wrong type, NaN,
infinity, a negative, a huge number, a missing or misspelt key), written as TOML.

Used by ``tests/test_resources.py``: every mutated pack given as a file must end in a
result or in a located error (file and key, exit code 2), never an internal error.
"""

from __future__ import annotations

import copy
import json
import math
import random
import tomllib
from collections.abc import Iterator
from importlib import resources
from typing import Any

__all__ = ["BAD_VALUES", "bundled", "mutate", "to_toml"]

BAD_VALUES: tuple[Any, ...] = (
    float("nan"),
    float("inf"),
    -float("inf"),
    -1,
    -1e300,
    0,
    "x",
    [],
    {},
    True,
    10**30,
    [float("nan")],
    ["a"],
    {"a": "b"},
    1e308,
    0.5,
    2,
    -0.5,
    list(range(12)),
)


def bundled(name: str) -> dict[str, Any]:
    """A bundled pack's TOML, as a dict."""
    text = resources.files("cipmodel").joinpath("rules", f"{name}.toml").read_text("utf-8")
    return tomllib.loads(text)


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(_scalar(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_scalar(x)}" for k, x in v.items()) + "}"
    return json.dumps(str(v))


def to_toml(d: dict[str, Any], prefix: str = "") -> str:
    """``d`` as TOML text (tables as [headers], values inline)."""
    lines = [f"{json.dumps(k)} = {_scalar(v)}" for k, v in d.items() if not isinstance(v, dict)]
    for k, v in d.items():
        if isinstance(v, dict):
            name = f"{prefix}.{json.dumps(k)}" if prefix else json.dumps(k)
            lines += [f"[{name}]", to_toml(v, name)]
    return "\n".join(lines) + "\n"


def _leaves(d: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for k, v in d.items():
        if isinstance(v, dict):
            yield from ([(*path, k)] if "value" in v else _leaves(v, (*path, k)))


def _inner(v: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    items = v.items() if isinstance(v, dict) else enumerate(v) if isinstance(v, list) else ()
    for k, x in items:
        yield from _inner(x, (*path, k))


def mutate(name: str, rng: random.Random) -> tuple[dict[str, Any], str]:
    """A copy of bundled pack ``name`` with one mutation, and what it was."""
    raw = copy.deepcopy(bundled(name))
    leaf = rng.choice(list(_leaves(raw["values"])))
    parent = raw["values"]
    for p in leaf[:-1]:
        parent = parent[p]
    node = parent[leaf[-1]]
    where = ".".join(leaf)
    r = rng.random()
    if r < 0.1:
        del node["value"]
        return raw, f"{where}: value removed"
    if r < 0.15:
        parent[leaf[-1] + "s"] = node
        del parent[leaf[-1]]
        return raw, f"{where}: key misspelt"
    if r < 0.2:
        del parent[leaf[-1]]
        return raw, f"{where}: removed"
    inner = rng.choice(list(_inner(node["value"])))
    target: Any = node
    key: Any = "value"
    for p in inner:
        target, key = target[key], p
    if inner and rng.random() < 0.15:
        del target[key]
        return raw, f"{where}{list(inner)}: removed"
    bad = rng.choice(BAD_VALUES)
    target[key] = bad
    return raw, f"{where}{list(inner)} = {bad!r}"
