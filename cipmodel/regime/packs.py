"""Rule packs: versioned TOML files holding every value that changed from year to year.

A pack is a TOML file with a ``[pack]`` header and a ``[values]`` tree whose leaves are
tables with ``value``, ``source`` and ``verified`` (and optionally ``note``)::

    [pack]
    name = "sof-2016"
    kind = "sof"              # which engine reads it: sof, funding, segmentation, cip_bands
    title = "Single Oversight Framework finance and use of resources metrics"
    version = 1

    [values.thresholds.liquidity_days]
    value = [0, -7, -14]
    source = "domain.md §1.4 (SOF Sept 2016, table not read)"
    verified = false

Conflicting sources are held as named variants that override leaves::

    [variants.hsj.values.performance_weights]
    value = {...}
    source = "..."
    verified = false

Code reads a value with :meth:`RulePack.get`; the pack remembers every unverified value
read, so a result can list what it depended on (:meth:`RulePack.unverified_used`).
Engine code never branches on a year: everything year-specific is a value here.

Packs ship in this folder (``cipmodel/rules/*.toml``); a user can copy one, change it and
pass its path wherever a pack name is accepted.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import os
import stat
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeAlias, TypeGuard

from cipmodel.errors import RulePackError

__all__ = [
    "Leaf",
    "PackLike",
    "RulePack",
    "TomlValue",
    "load_pack",
    "available_packs",
    "is_number",
    "MAX_PACK_BYTES",
    "PACK_SIZE_ENV",
    "read_pack_file",
]

#: The largest rule pack file read (a bundled pack is under 20 KB); raised with
#: :data:`PACK_SIZE_ENV` (megabytes).
MAX_PACK_BYTES = 4 * 2**20
PACK_SIZE_ENV = "CIPMODEL_MAX_PACK_MB"
_SYSTEM_DIRS = ("/proc/", "/sys/", "/dev/")

#: A value read from TOML: what a rule pack leaf holds.
TomlValue: TypeAlias = (
    str
    | int
    | float
    | bool
    | dt.datetime
    | dt.date
    | dt.time
    | list["TomlValue"]
    | dict[str, "TomlValue"]
)


def is_number(value: object) -> TypeGuard[float]:
    """True for a finite int or float that is not a bool (rule values are checked with it)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Leaf:
    """One rule value with its provenance."""

    value: TomlValue
    source: str
    verified: bool
    note: str = ""


@dataclass
class RulePack:
    """A loaded rule pack (one variant of it).

    Attributes
    ----------
    name, kind, title, version :
        From the ``[pack]`` header; ``name`` carries ``:variant`` when a variant is chosen.
    origin : str
        The file it was read from (for error messages).
    leaves : dict
        Dotted key -> :class:`Leaf`.
    variants : tuple of str
        Names of the variants the file defines.
    """

    name: str
    kind: str
    title: str
    version: int
    origin: str
    leaves: dict[str, Leaf]
    variants: tuple[str, ...] = ()
    variant: str | None = None
    _used: set[str] = field(default_factory=set, repr=False, compare=False)

    def get(self, key: str) -> TomlValue:
        """The value at dotted ``key``; raises RulePackError naming file and key if absent."""
        try:
            leaf = self.leaves[key]
        except KeyError:
            msg = f"{self.origin}: {key}: missing (required by the {self.kind} engine)"
            raise RulePackError(msg) from None
        self._used.add(key)
        return leaf.value

    # Typed reads: :meth:`get` with the value's type checked (a validated pack passes), so
    # code computing with a value knows what it holds. The value is returned as it is in the
    # file (a whole number stays an int).
    def number(self, key: str) -> float:
        """The number at ``key`` (a finite int or float)."""
        v = self.get(key)
        if not is_number(v):
            raise self.error(key, f"must be a number, got {v!r}")
        return v

    def flag(self, key: str) -> bool:
        """The true/false value at ``key``."""
        v = self.get(key)
        if not isinstance(v, bool):
            raise self.error(key, f"must be true or false, got {v!r}")
        return v

    def text(self, key: str) -> str:
        """The text at ``key``."""
        v = self.get(key)
        if not isinstance(v, str):
            raise self.error(key, f"must be text, got {v!r}")
        return v

    def numbers(self, key: str) -> list[float]:
        """The list of numbers at ``key``."""
        v = self.get(key)
        if not isinstance(v, list) or not all(is_number(x) for x in v):
            raise self.error(key, f"must be a list of numbers, got {v!r}")
        return [x for x in v if is_number(x)]

    def texts(self, key: str) -> list[str]:
        """The list of text values at ``key``."""
        v = self.get(key)
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise self.error(key, f"must be a list of text values, got {v!r}")
        return [x for x in v if isinstance(x, str)]

    def table(self, key: str) -> dict[str, TomlValue]:
        """The table at ``key``."""
        v = self.get(key)
        if not isinstance(v, dict):
            raise self.error(key, f"must be a table, got {v!r}")
        return v

    def weights(self, key: str) -> dict[str, float]:
        """The table of name = number at ``key``."""
        v = self.table(key)
        if not all(is_number(w) for w in v.values()):
            raise self.error(key, f"must be a table of name = number, got {v!r}")
        return {k: w for k, w in v.items() if is_number(w)}

    def peek(self, key: str) -> TomlValue:
        """The value at ``key`` without marking it used (for validation, which reads every
        key); raises RulePackError naming file and key if absent."""
        if key not in self.leaves:
            msg = f"{self.origin}: {key}: missing (required by the {self.kind} engine)"
            raise RulePackError(msg)
        return self.leaves[key].value

    def has(self, key: str) -> bool:
        """True if the pack defines ``key``."""
        return key in self.leaves

    def leaf(self, key: str) -> Leaf:
        """The :class:`Leaf` at ``key`` (value, source, verified) without marking it used."""
        return self.leaves[key]

    def error(self, key: str, reason: str) -> RulePackError:
        """A RulePackError naming this pack's file, the key and the reason."""
        return RulePackError(f"{self.origin}: {key}: {reason}")

    def unverified_used(self) -> list[str]:
        """``name:key`` of every unverified value read so far, sorted."""
        return sorted(f"{self.name}:{k}" for k in self._used if not self.leaves[k].verified)

    def unverified(self) -> list[str]:
        """``name:key`` of every unverified value in the pack."""
        return sorted(f"{self.name}:{k}" for k, v in self.leaves.items() if not v.verified)


def _walk(tree: object, prefix: str, origin: str, out: dict[str, Leaf]) -> None:
    if not isinstance(tree, dict):
        where = prefix or "values"
        raise RulePackError(f"{origin}: {where}: expected a table, got {_show(tree)}")
    for k, v in tree.items():
        key = f"{prefix}.{k}" if prefix else k
        if not isinstance(v, dict):
            msg = f"{origin}: {key}: expected a table with value, source and verified"
            raise RulePackError(msg)
        if "value" in v:
            extra = set(v) - {"value", "source", "verified", "note"}
            if extra:
                msg = f"{origin}: {key}: unknown key(s) {', '.join(sorted(extra))}"
                raise RulePackError(msg)
            if not isinstance(v.get("source"), str) or not v["source"].strip():
                raise RulePackError(f"{origin}: {key}: every value needs a 'source'")
            if not isinstance(v.get("verified"), bool):
                raise RulePackError(f"{origin}: {key}: 'verified' must be true or false")
            if not isinstance(v.get("note", ""), str):
                raise RulePackError(f"{origin}: {key}.note: must be text")
            out[key] = Leaf(v["value"], v["source"], v["verified"], v.get("note", ""))
        else:
            _walk(v, key, origin, out)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _pack_limit() -> int:
    text = os.environ.get(PACK_SIZE_ENV, "").strip()
    if not text:
        return MAX_PACK_BYTES
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise RulePackError(
            f"{PACK_SIZE_ENV} must be a whole number of megabytes, got {text[:40]!r}"
        )
    return int(text) * 2**20


def read_pack_file(p: Path, what: str = "rule pack") -> str:
    """The text of a rule pack (or priors) file, refused with a clear message if it is not
    a regular file (a folder, a pipe or device, which would block or never end, a file
    under /proc or /sys), is over the size limit, or is not UTF-8; a byte-order mark is
    accepted."""
    try:
        st = os.stat(p)
        real = os.path.realpath(p)
    except FileNotFoundError:
        raise RulePackError(f"{p}: {what} file not found") from None
    except (OSError, ValueError) as exc:  # no permission, a name too long, a NUL byte
        reason = getattr(exc, "strerror", None) or exc
        raise RulePackError(f"{p}: {what} file cannot be opened: {reason}") from None
    if stat.S_ISDIR(st.st_mode):
        raise RulePackError(f"{p}: is a folder, not a {what} file (.toml)")
    if not stat.S_ISREG(st.st_mode) or real.startswith(_SYSTEM_DIRS):
        msg = f"{p}: is not a {what} file (a device, pipe, socket or system file): refused"
        raise RulePackError(msg)
    limit = _pack_limit()
    too_big = (
        f"{p}: is more than the {limit / 2**20:,.0f} MB a {what} file can be (a bundled pack "
        f"is under 20 KB): refused (set {PACK_SIZE_ENV} to raise the limit)"
    )
    if st.st_size > limit:
        raise RulePackError(too_big)
    try:
        with open(p, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise RulePackError(f"{p}: {what} file cannot be read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise RulePackError(too_big)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        msg = f"{p}: not valid TOML: not UTF-8 text (byte {exc.start:,}); save it as UTF-8"
        raise RulePackError(msg) from None


def _parse_toml(text: str, origin: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        # ValueError: tomllib refuses integers of more than 4,300 digits with a plain one
        raise RulePackError(f"{origin}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib parses nested arrays and tables recursively
        msg = f"{origin}: not valid TOML: arrays or tables nested too deeply"
        raise RulePackError(msg) from None


def _read(name_or_path: str | Path) -> tuple[dict[str, Any], str]:
    p = Path(name_or_path)
    try:
        exists = p.exists()
    except (OSError, ValueError):
        exists = False
    if p.suffix.lower() == ".toml" or exists or os.sep in str(name_or_path):
        return _parse_toml(read_pack_file(p), str(p)), str(p)
    res = resources.files("cipmodel").joinpath("rules", f"{name_or_path}.toml")
    if not res.is_file():
        known = ", ".join(available_packs())
        raise RulePackError(f"unknown rule pack {str(name_or_path)!r} (available: {known})")
    return tomllib.loads(res.read_text(encoding="utf-8")), f"rules/{name_or_path}.toml"


def load_pack(
    name_or_path: str | Path, variant: str | None = None, kind: str | None = None
) -> RulePack:
    """Load a packaged rule pack by name (``"sof-2016"``) or a copied pack by path.

    A name may carry a variant after a colon (``"stf-2016-17:hsj"``).

    Parameters
    ----------
    name_or_path : str or Path
        Pack name, ``name:variant``, or path to a ``.toml`` file.
    variant : str, optional
        Variant to apply over the base values.
    kind : str, optional
        If given, the pack's ``kind`` must match (e.g. ``"sof"``).

    Raises
    ------
    RulePackError
        Naming the file, the key and the reason.
    """
    text = str(name_or_path)
    if variant is None and ":" in text and Path(text).suffix.lower() != ".toml":
        text, variant = text.split(":", 1)
    raw, origin = _read(text)
    head = raw.get("pack")
    if not isinstance(head, dict):
        raise RulePackError(f"{origin}: pack: missing [pack] header")
    for k in ("name", "kind"):
        if not isinstance(head.get(k), str):
            raise RulePackError(f"{origin}: pack.{k}: missing")
    version = head.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int):
        raise RulePackError(f"{origin}: pack.version: must be a whole number, got {_show(version)}")
    if not isinstance(head.get("title", ""), str):
        raise RulePackError(f"{origin}: pack.title: must be text")
    if kind is not None and head["kind"] != kind:
        msg = f"{origin}: pack.kind: is {head['kind']!r}, but a {kind!r} pack is needed here"
        raise RulePackError(msg)
    leaves: dict[str, Leaf] = {}
    _walk(raw.get("values", {}), "", origin, leaves)
    variants = raw.get("variants", {})
    if not isinstance(variants, dict) or not all(isinstance(v, dict) for v in variants.values()):
        raise RulePackError(f"{origin}: variants: expected tables like [variants.NAME.values]")
    name = head["name"]
    if variant is not None:
        if variant not in variants:
            known = ", ".join(variants) or "none"
            raise RulePackError(f"{origin}: variants.{variant}: no such variant (known: {known})")
        over: dict[str, Leaf] = {}
        _walk(variants[variant].get("values", {}), f"variants.{variant}.values", origin, over)
        over = {k.removeprefix(f"variants.{variant}.values."): v for k, v in over.items()}
        unknown = set(over) - set(leaves)
        if unknown:
            key = sorted(unknown)[0]
            raise RulePackError(f"{origin}: variants.{variant}.{key}: overrides no base value")
        leaves = {**leaves, **over}
        name = f"{name}:{variant}"
    if not origin.startswith("rules/"):
        _check_near_misses(leaves, head["kind"], origin)
    return RulePack(
        name=name,
        kind=head["kind"],
        title=str(head.get("title", "")),
        version=version,
        origin=origin,
        leaves=leaves,
        variants=tuple(variants),
        variant=variant,
    )


def _check_near_misses(leaves: dict[str, Leaf], kind: str, origin: str) -> None:
    """A key of a pack file that no bundled pack of its kind has, but that is one slip from
    a key they have (``thresholds.liquidity_dayz``), is an error with a "did you mean": it
    would otherwise be ignored and the value it was meant to change left as it was."""
    known: set[str] = set()
    root = resources.files("cipmodel").joinpath("rules")
    for res in root.iterdir():
        if res.name.endswith(".toml"):
            raw = tomllib.loads(res.read_text(encoding="utf-8"))
            if raw.get("pack", {}).get("kind") == kind:
                out: dict[str, Leaf] = {}
                _walk(raw.get("values", {}), "", res.name, out)
                known.update(out)
    if not known:
        return
    for key in sorted(set(leaves) - known):
        near = difflib.get_close_matches(key, known, n=1, cutoff=0.85)
        if not near:
            continue
        if near[0] not in leaves:
            msg = f"{origin}: {near[0]}: missing; the file has {key!r}: did you mean {near[0]!r}?"
        else:
            msg = (
                f"{origin}: {key}: unknown key, one slip from {near[0]!r} (which the file also "
                "has): it would be ignored; correct or remove it"
            )
        raise RulePackError(msg)


#: What a function taking a rule pack accepts: a name (``name:variant``), a path, or a pack.
PackLike = str | Path | RulePack


def available_packs() -> list[str]:
    """Names of the packs shipped with cipmodel."""
    root = resources.files("cipmodel").joinpath("rules")
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))
