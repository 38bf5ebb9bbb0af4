"""Scenario files: a TOML file that names a plan and changes some of its inputs.

::

    [scenario]
    name = "pay-award-above-tariff"
    description = "Pay award 1 percentage point above the tariff cost uplift"
    plan = "../templates/example-acute-11pc.xlsx"   # relative to this file
    # or: example = "acute-11pc"                    # a bundled example

    [drivers]          # set a driver for every trust and plan year ...
    non_pay_inflation = 0.025
    [drivers.add]      # ... or add to what the plan has
    pay_award = 0.01
    [drivers.year1]    # ... or set it for one plan year only
    activity_growth = 0.03

    [cip]
    scale = 0.8              # multiply every scheme's full-year effect
    # delivered_pct = 0.07   # or: scale each trust's programme to deliver 7% of opex

    [control_total]
    accepted = false         # every trust's control total, every year

Every key is checked; problems name the file and key (``base.toml: drivers.pay_award``).
:func:`read_scenario_file` parses and checks a file; :func:`apply_scenario` applies its
changes to a portfolio. Reading the workbook a scenario names is the io layer's job
(:func:`cipmodel.io.plan.load_plan`), and so is the one change that needs a projection
(``delivered_pct`` scales CIP to a share of operating expenditure): the caller passes the
engine's measure in as ``cip_and_opex``, so this input layer never runs the engine.
"""

from __future__ import annotations

import dataclasses
import math
import os
import stat
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cipmodel.errors import Problem, ValidationError, WorkbookError
from cipmodel.inputs.records import Drivers, Portfolio
from cipmodel.inputs.schema import load_schema

__all__ = [
    "CipAndOpex",
    "ScenarioFile",
    "apply_scenario",
    "read_scenario_file",
    "scenario_problem",
    "short_repr",
]

#: Year-1 planned CIP and do-nothing operating expenditure per trust [£000], in the order of
#: the codes: ``(codes, cip_planned, opex_do_nothing)``. The engine provides it
#: (:func:`cipmodel.engine.project.year_one_cip_and_opex`).
CipAndOpex = Callable[[Portfolio], tuple[Sequence[str], Iterable[float], Iterable[float]]]

_DRIVER_FIELDS = {
    f.name: f for f in load_schema().table("drivers").fields if f.name not in ("trust_code", "year")
}
_CT_FIELDS = {"accepted"}
_CIP_KEYS = {"scale", "delivered_pct"}
_HEAD_KEYS = ("name", "description", "plan", "example")
MAX_SCENARIO_BYTES = 1024 * 1024
_NAME_MAX = 200


def scenario_problem(file: str, key: str, msg: str) -> Problem:
    """A problem at ``file: key`` (the place format of every scenario message)."""
    return Problem(f"{file}: {key}", msg)


def short_repr(value: object) -> str:
    """A value for a message: its repr, shortened (TOML allows huge numbers and strings)."""
    if isinstance(value, int) and value.bit_length() > 200:
        return f"a whole number of about {int(value.bit_length() * 0.30103):,} digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class ScenarioFile:
    """A parsed, checked scenario file (the plan it names is not read yet).

    Attributes
    ----------
    file : str
        The file's name, the place in every message (``base.toml: drivers.pay_award``).
    name : str
        The scenario's name (``[scenario] name``, default: the file's stem).
    raw : dict
        The parsed TOML; :func:`apply_scenario` checks and applies its change sections.
    plan : Path or None
        The workbook it names, resolved against the file's folder.
    plan_text : str or None
        That path as written in the file (recorded in the provenance).
    example : object or None
        The bundled example it names instead of a workbook, as written (the loader checks it
        is a known example: :func:`cipmodel.io.plan.load_scenario`).
    """

    file: str
    name: str
    raw: dict[str, Any]
    plan: Path | None = None
    plan_text: str | None = None
    example: object = None


def read_scenario_file(path: str | Path) -> ScenarioFile:
    """Read and check a scenario file's ``[scenario]`` head; the change sections come later."""
    p = Path(path)
    name = p.name
    raw = _read_toml(p)
    head = raw.get("scenario")
    if not isinstance(head, dict):
        raise ValidationError([scenario_problem(name, "scenario", "missing [scenario] table")])
    scen = _check_head(name, head, p.stem)
    unknown = set(raw) - {"scenario", "drivers", "cip", "control_total"}
    if unknown:
        raise ValidationError(
            [
                scenario_problem(
                    name, k, "unknown section (known: scenario, drivers, cip, control_total)"
                )
                for k in sorted(unknown)
            ]
        )
    if ("plan" in head) == ("example" in head):
        raise ValidationError(
            [
                scenario_problem(
                    name, "scenario", "give exactly one of 'plan' (a workbook) or 'example'"
                )
            ]
        )
    if "example" in head:
        # which names exist is the examples package's to say: the loader checks it
        return ScenarioFile(file=name, name=scen, raw=raw, example=head["example"])
    plan_path = _plan_path(name, p.parent, head["plan"])
    return ScenarioFile(file=name, name=scen, raw=raw, plan=plan_path, plan_text=head["plan"])


def _read_toml(p: Path) -> dict[str, Any]:
    """The file's TOML, refused if missing, too big or not TOML."""
    name = p.name
    try:
        st = os.stat(p)
        real = os.path.realpath(p)
    except (OSError, ValueError):  # missing, a name too long, a NUL byte
        raise WorkbookError(f"{p}: scenario file not found") from None
    if stat.S_ISDIR(st.st_mode):
        raise WorkbookError(f"{p}: is a folder, not a scenario file (.toml)")
    if not stat.S_ISREG(st.st_mode) or real.startswith(("/proc/", "/sys/", "/dev/")):
        # a pipe would block forever, /dev/zero never ends: refused before opening
        msg = f"{p}: is not a scenario file (a device, pipe, socket or system file): refused"
        raise WorkbookError(msg)
    size = st.st_size
    too_big = [
        scenario_problem(
            name,
            "(file)",
            f"is {size / 2**20:,.1f} MB: a scenario is a short text "
            f"file (at most {MAX_SCENARIO_BYTES // 2**20} MB)",
        )
    ]
    if size > MAX_SCENARIO_BYTES:
        raise ValidationError(too_big)
    try:
        with open(p, "rb") as fh:
            data = fh.read(MAX_SCENARIO_BYTES + 1)
    except OSError as exc:
        raise WorkbookError(f"{p}: cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_SCENARIO_BYTES:
        raise ValidationError(too_big)
    try:
        # a byte-order mark (Notepad's "UTF-8 with BOM") is accepted
        return tomllib.loads(data.decode("utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, ValueError) as exc:
        # ValueError: tomllib refuses integers of more than 4,300 digits with a plain one
        raise ValidationError(
            [scenario_problem(name, "(file)", f"not valid TOML: {exc}")]
        ) from None
    except RecursionError:  # tomllib parses nested arrays and tables recursively
        raise ValidationError(
            [scenario_problem(name, "(file)", "not valid TOML: arrays or tables nested too deeply")]
        ) from None


def _check_head(name: str, head: dict[str, Any], stem: str) -> str:
    """The ``[scenario]`` table's keys are known and its name is sensible: the name."""
    head_problems = [
        scenario_problem(name, f"scenario.{k}", f"unknown key (known: {', '.join(_HEAD_KEYS)})")
        for k in sorted(set(head) - set(_HEAD_KEYS))
    ]
    scen = head.get("name", stem)
    if (
        not isinstance(scen, str)
        or not scen.strip()
        or len(scen) > _NAME_MAX
        or any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in scen)
    ):
        head_problems.append(
            scenario_problem(
                name,
                "scenario.name",
                f"must be text of 1 to {_NAME_MAX} characters "
                f"without control characters, got {short_repr(scen)}",
            )
        )
    if head_problems:
        raise ValidationError(head_problems)
    return str(scen)


def _plan_path(name: str, folder: Path, plan: object) -> Path:
    """The workbook ``plan`` names, resolved against the scenario file's folder."""
    if not isinstance(plan, str) or not plan.strip() or "\x00" in plan:
        raise ValidationError([scenario_problem(name, "scenario.plan", "must be a file path")])
    try:
        plan_path = (folder / plan).resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # too long, a symlink loop...
        raise ValidationError(
            [
                scenario_problem(
                    name,
                    "scenario.plan",
                    f"cannot be opened: {getattr(exc, 'strerror', None) or exc}",
                )
            ]
        ) from None
    if plan_path.suffix.lower() == ".toml":
        raise ValidationError(
            [scenario_problem(name, "scenario.plan", "must name a workbook, not another scenario")]
        )
    return plan_path


def _check_driver(
    file: str, key: str, value: object, problems: list[Problem], add: bool
) -> float | None:
    fld = _DRIVER_FIELDS.get(key.rsplit(".", 1)[-1])
    if fld is None:
        problems.append(
            scenario_problem(file, key, f"unknown driver (known: {', '.join(_DRIVER_FIELDS)})")
        )
        return None
    if add:
        fld = dataclasses.replace(fld, min=None, max=None)
    v, msg = fld.coerce(value)
    if msg:
        problems.append(scenario_problem(file, key, msg))
        return None
    return v if isinstance(v, int | float) else None  # a driver is a number (or blank)


def apply_scenario(
    portfolio: Portfolio,
    raw: dict[str, Any],
    *,
    file: str = "scenario",
    cip_and_opex: CipAndOpex | None = None,
) -> Portfolio:
    """Apply the ``drivers``, ``cip`` and ``control_total`` sections of a parsed scenario.

    ``cip_and_opex`` measures year-1 CIP and do-nothing operating expenditure; it is needed
    only when the scenario sets ``cip.delivered_pct`` (the io layer passes the engine's).
    """
    problems: list[Problem] = []
    sets, adds = _driver_changes(file, raw.get("drivers", {}), portfolio.horizon_years, problems)
    cip = _cip_section(file, raw.get("cip", {}), problems)
    ct = _control_total_section(file, raw.get("control_total", {}), problems)
    if problems:
        raise ValidationError(problems)

    out = portfolio
    if sets or adds:
        out = _apply_drivers(out, sets, adds, file)
    if "scale" in cip:
        out = out.with_cip_scaled(float(cip["scale"]))
    elif "delivered_pct" in cip:
        out = _apply_delivered_pct(out, float(cip["delivered_pct"]), file, cip_and_opex)
    if "accepted" in ct:
        out = out.replace(
            control_total=tuple(
                dataclasses.replace(c, accepted=ct["accepted"], source=None)
                for c in out.control_total
            )
        )
    return out


#: Driver values a scenario sets, by (plan year or None for every year, driver).
DriverSets = dict[tuple[int | None, str], float]


def _driver_changes(
    file: str, drv: object, horizon_years: int, problems: list[Problem]
) -> tuple[DriverSets, dict[str, float]]:
    """The ``[drivers]`` section checked: values to set, and values to add to the plan's."""
    sets: DriverSets = {}
    adds: dict[str, float] = {}
    if not isinstance(drv, dict):
        problems.append(scenario_problem(file, "drivers", "must be a table"))
        drv = {}
    for key, value in drv.items():
        if key == "add" and isinstance(value, dict):
            for k, v in value.items():
                got = _check_driver(file, f"drivers.add.{k}", v, problems, add=True)
                if got is not None:
                    adds[k] = got
        elif key.startswith("year") and isinstance(value, dict):
            try:
                year = int(key[4:])
            except ValueError:
                problems.append(scenario_problem(file, f"drivers.{key}", "use year1 .. year5"))
                continue
            if not 1 <= year <= horizon_years:
                problems.append(
                    scenario_problem(file, f"drivers.{key}", f"plan has years 1..{horizon_years}")
                )
                continue
            for k, v in value.items():
                got = _check_driver(file, f"drivers.{key}.{k}", v, problems, add=False)
                if got is not None:
                    sets[(year, k)] = got
        else:
            got = _check_driver(file, f"drivers.{key}", value, problems, add=False)
            if got is not None:
                sets[(None, key)] = got
    return sets, adds


def _cip_section(file: str, cip: object, problems: list[Problem]) -> dict[str, Any]:
    """The ``[cip]`` section checked (``scale`` or ``delivered_pct``)."""
    if not isinstance(cip, dict):
        problems.append(scenario_problem(file, "cip", "must be a table"))
        cip = {}
    for k in set(cip) - _CIP_KEYS:
        problems.append(
            scenario_problem(
                file, f"cip.{k}", f"unknown key (known: {', '.join(sorted(_CIP_KEYS))})"
            )
        )
    if "scale" in cip and "delivered_pct" in cip:
        problems.append(scenario_problem(file, "cip", "give scale or delivered_pct, not both"))
    for k in sorted(_CIP_KEYS & set(cip)):
        v = cip[k]
        # isfinite: TOML has nan and inf, and integers too big for a float (OverflowError)
        if (
            isinstance(v, bool)
            or not isinstance(v, (int, float))
            or (isinstance(v, int) and v.bit_length() > 1000)
            or not math.isfinite(v)
            or v < 0
            or (k == "delivered_pct" and v > 1)
        ):
            rule = (
                "a fraction from 0 to 1 (0.07 for 7%)" if k == "delivered_pct" else "a number >= 0"
            )
            problems.append(
                scenario_problem(file, f"cip.{k}", f"must be {rule}, got {short_repr(v)}")
            )
    return cip


def _control_total_section(file: str, ct: object, problems: list[Problem]) -> dict[str, Any]:
    """The ``[control_total]`` section checked (only ``accepted``)."""
    if not isinstance(ct, dict):
        problems.append(scenario_problem(file, "control_total", "must be a table"))
        ct = {}
    for k in set(ct) - _CT_FIELDS:
        problems.append(
            scenario_problem(file, f"control_total.{k}", "unknown key (known: accepted)")
        )
    if "accepted" in ct and not isinstance(ct["accepted"], bool):
        problems.append(
            scenario_problem(
                file, "control_total.accepted", f"must be true or false, got {ct['accepted']!r}"
            )
        )
    return ct


def _apply_drivers(
    portfolio: Portfolio, sets: DriverSets, adds: dict[str, float], file: str
) -> Portfolio:
    """Every trust's drivers for every plan year, with the scenario's values set or added."""
    existing = {(d.trust_code, d.year): d for d in portfolio.drivers}
    new = []
    for t in portfolio.trusts:
        for year in range(1, t.horizon_years + 1):
            d = existing.get((t.trust_code, year)) or Drivers(trust_code=t.trust_code, year=year)
            # driver name -> value; Any because replace() checks keys mypy cannot see
            change: dict[str, Any] = {}
            for (y, k), v in sets.items():
                if y is None or y == year:
                    change[k] = v
            for k, v in adds.items():
                change[k] = change.get(k, getattr(d, k)) + v
            new.append(dataclasses.replace(d, **change, source=None) if change else d)
    try:
        return portfolio.replace(drivers=tuple(new))
    except ValidationError as exc:
        raise ValidationError(
            [Problem(f"{file}: drivers", p.message) for p in exc.problems]
        ) from None


def _apply_delivered_pct(
    portfolio: Portfolio, pct: float, file: str, cip_and_opex: CipAndOpex | None
) -> Portfolio:
    """Each trust's CIP scaled to deliver ``pct`` of its do-nothing operating expenditure."""
    if cip_and_opex is None:
        msg = "cip.delivered_pct needs cip_and_opex (the engine's year-1 CIP and opex)"
        raise TypeError(msg)
    codes, planned, opex = cip_and_opex(portfolio)
    factors = {}
    for code, c, o in zip(codes, planned, opex, strict=True):
        if c <= 0:
            raise ValidationError(
                [
                    scenario_problem(
                        file, "cip.delivered_pct", f"trust {code} has no CIP in year 1 to scale"
                    )
                ]
            )
        factors[code] = pct * o / c
    return portfolio.with_cip_scaled(factors)
