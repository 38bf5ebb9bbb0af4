"""Run one fuzz case through the Python API or the CLI and judge the outcome.

A case passes if it ends in a result or in a located error:

* Python API: ``read_plan`` / ``load_plan`` return, or raise a
  :class:`~cipmodel.errors.CipModelError` with a message (a ValidationError with at least
  one problem, each with a place and a message). Anything else is *unhandled*.
* CLI (in-process, click's runner): exit code 0, or 2 with a message on stderr; never a
  traceback, never exit code 1 (an internal error).
* After a successful read, a run (``run_plan(...).to_dict()``, ``run --json``) must give
  JSON without NaN or infinity, and the text report must not show ``nan``/``inf``.

Stronger oracles by the case's ``expect``: a clean plan must read, and read as the plan
generated; a well-formed workbook with hostile content must never be called "damaged".
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from cipmodel.cli import cli
from cipmodel.errors import CipModelError, ValidationError, WorkbookError
from cipmodel.inputs.records import Portfolio
from cipmodel.io import read_plan
from cipmodel.io.plan import load_plan
from cipmodel.results.run import run_plan

from .generators import Case
from .xlsx import read_parts

__all__ = ["Outcome", "Tally", "run_case", "strict_json"]

_NAN_WORD = re.compile(r"(?<![A-Za-z])(nan|inf|infinity)(?![A-Za-z])", re.IGNORECASE)
_CLI_ARGS = {
    "validate": ["validate"],
    "validate-json": ["validate", "--json"],
    "run": ["run"],
    "run-json": ["run", "--json"],
    "run-out": ["run", "-o", "{out}"],
}


@dataclass(frozen=True)
class Outcome:
    """How a case ended: ``kind`` (``ok``, an error class, ``exit 0``/``exit 2``), a message
    excerpt, and ``failure`` (why the case broke the rules; None if it passed)."""

    kind: str
    message: str = ""
    failure: str | None = None


@dataclass
class Tally:
    """Outcome counts over many cases, and the failures with their reproducers."""

    kinds: Counter[str] = field(default_factory=Counter)
    families: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[str, Case, Outcome]] = field(default_factory=list)

    def add(self, case_id: str, case: Case, outcome: Outcome) -> None:
        self.kinds[outcome.kind] += 1
        self.families[f"{case.family} -> {outcome.kind}"] += 1
        if outcome.failure is not None:
            self.failures.append((case_id, case, outcome))

    @property
    def total(self) -> int:
        return sum(self.kinds.values())

    def merge(self, other: Tally) -> None:
        self.kinds.update(other.kinds)
        self.families.update(other.families)
        self.failures.extend(other.failures)

    def table(self) -> str:
        lines = [f"{self.total} cases, {len(self.failures)} failures", "outcome counts:"]
        lines += [f"  {k:<40} {n:>7}" for k, n in self.kinds.most_common()]
        lines.append("by family:")
        lines += [f"  {k:<56} {n:>7}" for k, n in sorted(self.families.items())]
        return "\n".join(lines)

    def report(self, limit: int = 10) -> str:
        out = []
        for case_id, case, outcome in self.failures[:limit]:
            out.append(f"case {case_id}: {case.describe()}\n  -> {outcome.kind}: {outcome.failure}")
        return "\n".join(out)


def strict_json(text: str) -> Any:
    """Parse JSON, refusing NaN and Infinity (which ``json.loads`` accepts by default)."""

    def refuse(token: str) -> Any:
        msg = f"non-finite number {token} in JSON"
        raise ValueError(msg)

    return json.loads(text, parse_constant=refuse)


def _excerpt(text: str, n: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 3] + "..."


def _write(case: Case, folder: Path) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name, data in case.files.items():
        (folder / name).write_bytes(data)
    return folder / case.target


def _inputs_mention_nan(case: Case) -> bool:
    """Whether an input holds the word nan or inf (a trust may be called that)."""
    texts = []
    for data in case.files.values():
        texts.append(data)
        with contextlib.suppress(Exception):  # not a zip, or a broken one
            texts += read_parts(data).values()  # the text inside a workbook is compressed
    return any(_NAN_WORD.search(t.decode("latin-1")) for t in texts)


def run_case(case: Case, folder: Path) -> Outcome:
    """Run ``case`` in ``folder`` (emptied first) and judge it."""
    path = _write(case, folder)
    if case.route == "api":
        return _run_api(case, path)
    return _run_cli(case, path, folder)


def _judge_error(case: Case, exc: CipModelError, stage: str = "") -> Outcome:
    kind = (stage or "read: ") + type(exc).__name__
    text = str(exc)
    if not text.strip():
        return Outcome(kind, "", "error without a message")
    if "Traceback" in text:
        return Outcome(kind, _excerpt(text), "traceback in the message")
    if isinstance(exc, ValidationError):
        if not exc.problems:
            return Outcome(kind, _excerpt(text), "ValidationError without problems")
        if case.expect == "refused" and "did you mean" not in text:
            return Outcome(kind, _excerpt(text), "a misspelt header refused without 'did you mean'")
        for p in exc.problems:
            if not str(p.place).strip() or not str(p.message).strip():
                return Outcome(kind, _excerpt(text), f"problem without place or message: {p!r}")
    if stage:
        return Outcome(kind, _excerpt(text))
    if case.expect == "ok":
        try:
            Portfolio(**(case.expected or {}))
        except CipModelError as bad:
            return Outcome(
                kind, _excerpt(text), f"generator made an invalid plan: {_excerpt(str(bad))}"
            )
        return Outcome(kind, _excerpt(text), "a clean plan was refused")
    if (
        case.expect == "legal"
        and isinstance(exc, WorkbookError)
        and ("damaged" in text or "possible attack" in text)
    ):
        return Outcome(kind, _excerpt(text), "a well-formed workbook was reported as damaged")
    return Outcome(kind, _excerpt(text))


def _unhandled(exc: BaseException, stage: str = "") -> Outcome:
    tb = "".join(traceback.format_exception(exc, limit=-6))
    return Outcome(f"{stage}UNHANDLED {type(exc).__name__}", _excerpt(str(exc)), tb)


def _run_api(case: Case, path: Path) -> Outcome:
    try:
        if path.suffix == ".toml":
            portfolio, prov = load_plan(path)
        else:
            portfolio, prov = read_plan(path), {"input": path.name}
    except CipModelError as exc:
        return _judge_error(case, exc)
    except Exception as exc:  # noqa: BLE001 - that is what the fuzzer looks for
        return _unhandled(exc, stage="read: ")
    if case.expect == "refused":
        return Outcome("read: ok", "", "a misspelt header was read silently")
    if case.expect == "ok" and case.expected is not None:
        try:
            want = Portfolio(**case.expected)
        except CipModelError as exc:
            return Outcome("read: ok", "", f"generator made an invalid plan: {_excerpt(str(exc))}")
        if portfolio != want:
            return Outcome("read: ok", "", "read back differently from the plan written")
    if not case.run:
        return Outcome("read: ok")
    try:
        result = run_plan(portfolio, **prov)
        d = result.to_dict()
    except CipModelError as exc:
        return _judge_error(case, exc, stage="read+run: ")
    except Exception as exc:  # noqa: BLE001
        return _unhandled(exc, stage="read+run: ")
    try:
        json.dumps(d, allow_nan=False)
    except ValueError as exc:
        return Outcome("read+run: ok", "", f"run JSON holds NaN/inf: {exc}")
    return Outcome("read+run: ok")


def _run_cli(case: Case, path: Path, folder: Path) -> Outcome:
    out = folder / "results.xlsx"
    args = [a.replace("{out}", str(out)) for a in _CLI_ARGS[case.route]]
    result = CliRunner().invoke(cli, [*args, str(path)])
    kind = f"cli {case.route}: exit {result.exit_code}"
    stdout, stderr = result.stdout, result.stderr
    shown = _excerpt(stderr or stdout)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        exc = result.exception
        tb = "".join(traceback.format_exception(exc, limit=-6))
        return Outcome(f"cli {case.route}: UNHANDLED {type(exc).__name__}", _excerpt(str(exc)), tb)
    if result.exit_code not in (0, 2):
        return Outcome(kind, shown, f"exit code {result.exit_code}")
    if "Traceback" in result.output:
        return Outcome(kind, shown, "traceback printed")
    if result.exit_code == 2:
        if case.route == "validate-json" and stdout.strip():
            try:
                d = strict_json(stdout)
            except ValueError as exc:
                return Outcome(kind, shown, f"validate --json printed bad JSON: {exc}")
            if d.get("valid") is not False or not d.get("problems"):
                return Outcome(kind, shown, "validate --json exit 2 without problems")
            shown = _excerpt(d["problems"][0]["place"] + ": " + d["problems"][0]["message"])
        elif not stderr.strip():
            return Outcome(kind, shown, "exit 2 without a message")
        if case.expect == "ok" and case.route.startswith("validate"):
            return Outcome(kind, shown, "a clean plan was refused")
        if case.expect == "legal" and ("damaged" in stderr or "possible attack" in stderr):
            return Outcome(kind, shown, "a well-formed workbook was reported as damaged")
        return Outcome(kind, shown)
    if case.expect == "refused":
        return Outcome(kind, shown, "a misspelt header was read silently")
    if case.route.endswith("json"):
        try:
            strict_json(stdout)
        except ValueError as exc:
            return Outcome(kind, shown, f"--json output is not strict JSON: {exc}")
    elif not _inputs_mention_nan(case) and _NAN_WORD.search(stdout):
        return Outcome(kind, shown, "text output shows nan/inf")
    if case.route == "run-out" and not out.is_file():
        return Outcome(kind, shown, "run -o exit 0 but no results workbook")
    return Outcome(kind)
