"""Hostile inputs (issue 6): resource limits, XML attacks, damaged archives, macros,
external links and formula injection.

Each input of ``tests/fuzz/hostile.py`` must end as listed there (refused with a message,
located problems, read, or a run), through the Python API and through the CLI (exit 2 with
a message and no traceback for every refusal). The outcomes make the table in
``docs/hostile-inputs.md``; ``test_hostile_inputs_doc_is_current`` fails if it is stale.
Regenerate it with::

    python tests/test_hostile.py

Speed and memory of the resource cases are measured in ``benchmarks/bench_hostile.py``,
not asserted here.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from lo_support import recalc_profile

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for `python tests/test_hostile.py`

from fuzz.hostile import (  # noqa: E402
    BY_ID,
    HOSTILE,
    MB,
    READ,
    Hostile,
    Row,
    external_link,
    markdown,
    no_network,
    outcome,
)
from fuzz.xlsx import read_parts  # noqa: E402

from cipmodel.cli import cli  # noqa: E402
from cipmodel.examples import example_portfolio  # noqa: E402
from cipmodel.io import read_plan, write_template  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "hostile-inputs.md"
REGENERATE = "python tests/test_hostile.py"

_ROWS: dict[str, Row] = {}
_PATHS: dict[str, Path] = {}
_BASE = Path(tempfile.mkdtemp(prefix="cipmodel-hostile-"))


def _path(h: Hostile) -> Path:
    """The hostile file of ``h``, built once per session (the million-row one takes seconds)."""
    if h.id not in _PATHS:
        folder = _BASE / h.id
        folder.mkdir(parents=True)
        assert h.make is not None
        _PATHS[h.id] = h.make(folder)
    return _PATHS[h.id]


def _row(h: Hostile) -> Row:
    """The outcome of ``h``, computed once per session."""
    if h.id not in _ROWS:
        path = _path(h) if h.via != "run" else None
        _ROWS[h.id] = outcome(h, _BASE / h.id, path)
    return _ROWS[h.id]


@pytest.mark.parametrize("h", HOSTILE, ids=[h.id for h in HOSTILE])
def test_hostile_input_ends_as_documented(h: Hostile) -> None:
    """Each hostile input is refused, reported, read or run as listed, with a clear message."""
    row = _row(h)
    assert (row.kind, h.text in row.full) == (h.expect, True), row.full
    if row.kind not in (READ, "run"):
        assert row.full.strip() and "Traceback" not in row.full


CLI_ENV = {
    "max_unpacked_bytes": ("CIPMODEL_MAX_UNPACKED_MB", lambda v: str(v // MB)),
    "max_cells": ("CIPMODEL_MAX_CELLS", str),
    "max_rows": ("CIPMODEL_MAX_ROWS", str),
}


# the million-row sheets take 2 s a read: through the CLI they take the path of rows-env
CLI_CASES = [h for h in HOSTILE if h.via != "run" and not h.id.startswith("million")]


@pytest.mark.parametrize("h", CLI_CASES, ids=lambda h: h.id)
def test_hostile_input_through_the_cli(h: Hostile) -> None:
    """`cipmodel validate` on each hostile file: exit 0 if it reads, else exit 2 and the
    same message on stderr; never a traceback, never exit 1."""
    path = _path(h)
    env = dict(h.env)
    args = ["validate", str(path)]
    for key, value in h.kwargs:
        if key == "allow_extra_columns":  # an option, not a limit
            args += [x for v in value for x in ("--allow-extra-column", v)]
            continue
        name, show = CLI_ENV[key]
        env[name] = show(value)
    with no_network() as attempts:
        r = CliRunner(env=env).invoke(cli, args)
    assert not attempts
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert "Traceback" not in r.output
    if h.expect == READ:
        assert r.exit_code == 0, r.output
    else:
        assert r.exit_code == 2, r.output
        # the same message as read_plan's (or click's own, for a path it cannot stat)
        assert h.text in r.stderr or "does not exist" in r.stderr, r.stderr


def test_hostile_inputs_doc_is_current() -> None:
    """docs/hostile-inputs.md lists every hostile input and its outcome as the code has it now."""
    text = markdown({h.id: _row(h) for h in HOSTILE})
    current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    assert current == text, f"docs/hostile-inputs.md is stale: regenerate it with `{REGENERATE}`"


# -- limits can be raised -----------------------------------------------------------------
def test_limits_can_be_raised_by_keyword_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan over a lowered limit is refused; the same plan reads once the limit is raised."""
    path = BY_ID["rows-env"].make(tmp_path)  # type: ignore[misc]
    monkeypatch.setenv("CIPMODEL_MAX_ROWS", "2")
    with pytest.raises(Exception, match="more than 2 rows"):
        read_plan(path)
    assert read_plan(path, max_rows=100) == example_portfolio("small")  # keyword wins
    monkeypatch.setenv("CIPMODEL_MAX_ROWS", "100")
    assert read_plan(path) == example_portfolio("small")
    monkeypatch.setenv("CIPMODEL_MAX_ROWS", "lots")
    with pytest.raises(Exception, match="CIPMODEL_MAX_ROWS must be a whole number"):
        read_plan(path)


def test_sheets_are_not_scanned_before_the_row_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """openpyxl's read-only worksheets parse a sheet without a <dimension> to its end when
    they are created (12 s for a million rows); the reader must not create them."""
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    def refuse(self: object) -> None:
        raise AssertionError("a whole-sheet scan before the row limit")

    monkeypatch.setattr(ReadOnlyWorksheet, "_get_size", refuse)
    path = _path(BY_ID["million-empty-rows"])
    assert read_plan(path) == example_portfolio("small").replace(cip=())


# -- macros, external links ------------------------------------------------------------------
def _run_out(plan: Path, tmp_path: Path) -> Path:
    out = tmp_path / "results.xlsx"
    with no_network() as attempts:
        r = CliRunner().invoke(cli, ["run", str(plan), "-o", str(out)])
    assert not attempts
    assert r.exit_code == 0, r.output
    return out


def test_macros_are_never_run_or_carried_into_results(tmp_path: Path) -> None:
    """An .xlsm's VBA project is not run, and no results workbook carries it (or any macro part)."""
    plan = BY_ID["xlsm-macros"].make(tmp_path)  # type: ignore[misc]
    assert "xl/vbaProject.bin" in zipfile.ZipFile(plan).namelist()
    out = _run_out(plan, tmp_path)
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        types = zf.read("[Content_Types].xml").decode()
    assert not [n for n in names if "vba" in n.lower() or n.lower().endswith(".bin")]
    assert "macroEnabled" not in types and "vbaProject" not in types


def test_external_links_are_not_followed_or_kept(tmp_path: Path) -> None:
    """A formula on another workbook is read by its saved value; the link is neither fetched
    (no network) nor copied into the results."""
    plan = external_link(tmp_path)
    with no_network() as attempts:
        p = read_plan(plan)
    assert not attempts
    assert p.cip[0].value_fye == 240.0  # the saved value, not the linked workbook's 999
    out = _run_out(plan, tmp_path)
    with zipfile.ZipFile(out) as zf:
        assert not [n for n in zf.namelist() if "externalLink" in n]
        assert b"127.0.0.1" not in b"".join(zf.read(n) for n in zf.namelist())


# -- formula injection -----------------------------------------------------------------------
RISKY = [
    '=HYPERLINK("http://x","y")',
    "@SUM(A1)",
    "+1+1",
    "-1+1",
    "=1+1",
    "=cmd|' /C calc'!A0",
    "@x",
    "=A1",
    "-",
    "+",
    "=",
    "a\t=1",
]


def risky_portfolio() -> object:
    """The small example with formula-like text in every text field a user types."""
    import dataclasses

    p = example_portfolio("small")
    t = dataclasses.replace(p.trusts[0], name=RISKY[0])
    schemes = tuple(
        dataclasses.replace(s, name=RISKY[(k + 1) % len(RISKY)]) for k, s in enumerate(p.cip)
    )
    more = tuple(
        dataclasses.replace(p.cip[0], scheme_id=f"={k}", name=text) for k, text in enumerate(RISKY)
    )
    income = tuple(dataclasses.replace(i, description=RISKY[2]) for i in p.income)
    return p.replace(trusts=(t,), cip=schemes + more, income=income)


def _formulas_and_texts(path: Path) -> tuple[list[str], set[str]]:
    """Every formula in the workbook's sheets, and every text value (shared or inline)."""
    parts = read_parts(path.read_bytes())
    formulas: list[str] = []
    texts: set[str] = set()
    for name, data in parts.items():
        xml = data.decode("utf-8", "replace")
        if name.startswith("xl/worksheets/sheet"):
            formulas += re.findall(r"<f(?:\s[^>]*)?>([^<]*)</f>", xml)
    wb = openpyxl.load_workbook(path)  # formulas as formulas
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str):
                    if c.data_type == "f":
                        formulas.append(c.value)
                    else:
                        texts.add(c.value)
    return formulas, texts


def _unescape(text: str) -> str:
    return (
        text.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    )


def test_user_text_is_never_written_as_a_formula(tmp_path: Path) -> None:
    """Formula-like names come back as text from write_template and from `run -o`; no
    formula the results workbook writes (it writes live formulas of its own) contains them."""
    p = risky_portfolio()
    plan = tmp_path / "plan.xlsx"
    write_template(plan, p)
    assert read_plan(plan) == p
    out = _run_out(plan, tmp_path)
    for path in (plan, out):
        formulas, texts = _formulas_and_texts(path)
        for text in RISKY:
            assert text in texts, (path.name, text)
            assert not any(
                text.lstrip("=+-@") and text.lstrip("=+-@") in _unescape(f)
                for f in formulas
                if len(text.lstrip("=+-@")) > 3
            ), (path.name, text)
    assert read_plan(out) == p


@pytest.mark.libreoffice
def test_formula_injection_stays_text_after_libreoffice_recalculates(
    soffice: str, tmp_path: Path
) -> None:
    """A trust named =HYPERLINK("http://x","y") and a scheme named @SUM(A1) are literal text
    in the results workbook after LibreOffice opens, recalculates and saves it."""
    p = risky_portfolio()
    plan = tmp_path / "plan.xlsx"
    write_template(plan, p)
    out = _run_out(plan, tmp_path)
    converted = tmp_path / "lo-out"
    profile = recalc_profile(tmp_path / "lo-profile")  # the formulas, not saved values
    cmd = [
        soffice,
        f"-env:UserInstallation={profile.as_uri()}",
        "--headless",
        "--norestore",
        "--nolockcheck",
        "--calc",
        "--convert-to",
        "xlsx:Calc MS Excel 2007 XML",
        "--outdir",
        str(converted),
        str(out),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    saved = converted / "results.xlsx"
    assert saved.is_file(), f"LibreOffice did not convert: {done.stdout}{done.stderr}"
    wb = openpyxl.load_workbook(saved, data_only=True)
    values = {c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row}
    assert '=HYPERLINK("http://x","y")' in values and "@SUM(A1)" in values
    formulas, _texts = _formulas_and_texts(saved)
    assert not [f for f in formulas if "HYPERLINK" in f or "SUM(A1)" in f or "cmd|" in f]
    assert read_plan(saved) == p


def write_doc() -> None:
    """Regenerate docs/hostile-inputs.md (``python tests/test_hostile.py``)."""
    with tempfile.TemporaryDirectory() as tmp:
        rows = {h.id: outcome(h, Path(tmp) / h.id) for h in HOSTILE}
    DOC.write_text(markdown(rows), encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)} ({len(rows)} inputs)")


if __name__ == "__main__":
    write_doc()
