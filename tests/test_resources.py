"""Issue 11 "limits": every part of a workbook is bounded, and cells are read as Excel and
LibreOffice show them (or refused with their sheet and cell).

* Each part limit (styles, defined names, relationships, content types, sheets, zip
  entries, shared strings, cells, elements) refuses a workbook built with more entries than
  the limit, lowered through its environment variable or keyword so that the inputs stay
  small; the same workbook reads with the default limits, so the limit is what refused it.
  The full-size run (millions of entries, timed, peak memory measured) is
  ``python benchmarks/bench_hostile.py --resource``.
* The values of odd ``<c>`` elements are compared with LibreOffice's own reading of the
  same XML (``soffice --convert-to csv``): read only where LibreOffice shows the same
  value; refused, naming sheet and cell, where a naive reading would give another number.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import os
import random
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from lo_support import TIMEOUT_S

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzz.hostile import SHEET, many, plan_parts, zip_parts  # noqa: E402
from fuzz.packs import bundled, mutate, to_toml  # noqa: E402

from cipmodel.cli import cli  # noqa: E402
from cipmodel.errors import ValidationError, WorkbookError  # noqa: E402
from cipmodel.io import read_plan, read_plan_with_notes  # noqa: E402
from cipmodel.io.xlsx import LIMIT_DEFAULTS, LIMIT_ENV, MAIN_NS, Limits  # noqa: E402
from cipmodel.io.xlsx_cells import Damaged, SheetEnd, SheetHandler, parse_part  # noqa: E402

# kind -> (limit key, lowered limit, entries added, words of the message)
PART_CASES = {
    "fonts": ("max_styles", 30, 100, "'xl/styles.xml' holds more than 30 style entries"),
    "fills": ("max_styles", 30, 100, "'xl/styles.xml' holds more than 30 style entries"),
    "xfs": ("max_styles", 30, 100, "'xl/styles.xml' holds more than 30 style entries"),
    "numfmts": ("max_styles", 30, 100, "'xl/styles.xml' holds more than 30 style entries"),
    "names": ("max_names", 10, 100, "'xl/workbook.xml' holds more than 10 defined names"),
    "sheets": ("max_sheets", 20, 100, "'xl/workbook.xml' holds more than 20 sheets"),
    "rels": ("max_rels", 20, 100, "'xl/_rels/workbook.xml.rels' holds more than 20 relation"),
    "content-types": ("max_content_types", 60, 200, "'[Content_Types].xml' holds more than 60"),
    "zip-entries": ("max_zip_entries", 50, 100, "the archive holds more than 50 zip entries"),
    "strings": ("max_cells", 1000, 2000, "more than 1,000 different texts"),
    "cells": ("max_cells", 1000, 2000, "sheet 'CIP' has more than"),
    "empty-cells": ("max_cells", 1000, 5000, "sheet 'CIP' has more than 4,000 XML elements"),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for kind, (_key, _limit, n, _text) in PART_CASES.items():
        folder = tmp_path_factory.mktemp(kind)
        out[kind] = many(kind, n)(folder)
    return out


@pytest.mark.parametrize("kind", PART_CASES)
def test_each_part_limit_refuses_a_workbook_over_it(
    kind: str, built: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the limit (set by environment variable): refused, naming the part, the limit
    and the variable that raises it; by keyword: the same."""
    key, limit, _n, text = PART_CASES[kind]
    monkeypatch.setenv(LIMIT_ENV[key], str(limit))
    with pytest.raises(WorkbookError) as err:
        read_plan_with_notes(built[kind])
    assert text in str(err.value)
    assert LIMIT_ENV[key] in str(err.value)
    monkeypatch.delenv(LIMIT_ENV[key])
    with pytest.raises(WorkbookError, match="refused"):
        read_plan(built[kind], **{key: limit})


@pytest.mark.parametrize("kind", ["fonts", "names", "rels", "content-types", "zip-entries"])
def test_the_same_workbooks_read_under_the_default_limits(
    kind: str, built: dict[str, Path]
) -> None:
    """What refused them was the lowered limit: with the defaults they are plans."""
    portfolio, _notes = read_plan_with_notes(built[kind])
    assert portfolio.trusts


def test_the_zip_entry_count_is_read_from_a_zip64_directory(tmp_path: Path) -> None:
    """More than 65,535 entries: the end record says 0xFFFF and the zip64 record the true
    count; both, and the entry signatures, are counted before zipfile reads anything."""
    path = many("zip-entries", 70_000)(tmp_path)
    with pytest.raises(WorkbookError, match="more than 60,000 zip entries"):
        read_plan(path, max_zip_entries=60_000)


def test_limits_are_checked() -> None:
    """A limit that is not a whole number, or an unknown one, is a clear error."""
    with pytest.raises(WorkbookError, match="max_styles must be a whole number"):
        Limits.resolve(None, None, None, max_styles=0)
    with pytest.raises(WorkbookError, match="unknown limit 'max_fonts'"):
        Limits.resolve(None, None, None, max_fonts=3)
    assert Limits.resolve(None, None, None).max_sheets == LIMIT_DEFAULTS["max_sheets"]


# -- cells as LibreOffice reads them ----------------------------------------------------------
def _cells(xml: str, strings: tuple[str, ...] = ("zero", "one")) -> dict[int, dict[int, Any]]:
    """The values the sheet handler reads from ``<row>`` elements."""
    handler = SheetHandler(list(strings), set(), set(), dt.datetime(1899, 12, 30))
    doc = f'<worksheet xmlns="{MAIN_NS}"><sheetData>{xml}</sheetData></worksheet>'
    with contextlib.suppress(SheetEnd):  # the end of sheetData ends the parse
        parse_part(io.BytesIO(doc.encode()), handler)
    return {r: {c: cell.value for c, cell in row.items()} for r, row in handler.rows.items()}


#: (cell XML, what cipmodel reads or "refused", what LibreOffice 7 shows in CSV). Where
#: cipmodel refuses, Python's own int()/float() would read another number than LibreOffice.
CELLS: list[tuple[str, Any, str]] = [
    ('<c r="A1" t="s"><v>-1</v></c>', "refused", ""),  # naive: strings[-1], the last text
    ('<c r="A1" t="s"><v>99</v></c>', "refused", ""),
    ('<c r="A1" t="s"><v>1.5</v></c>', "refused", "one"),
    ('<c r="A1" t="s"><v> 1 </v></c>', "one", "one"),
    ('<c r="A1"><v>2_4_0</v></c>', "refused", "2"),  # naive: 240
    ('<c r="A1"><v>\u0661\u0662\u0663</v></c>', "refused", "0"),  # naive: 123
    ('<c r="A1"><v>\uff11\uff12\uff13</v></c>', "refused", "0"),  # naive: 123
    ('<c r="A1"><v>\u00a012</v></c>', "refused", "0"),  # naive: 12
    ('<c r="A1"><v>nan</v></c>', "refused", "0"),
    ('<c r="A1"><v>inf</v></c>', "refused", "0"),
    ('<c r="A1"><v>1e400</v></c>', "refused", "INF"),
    ('<c r="A1"><v>12abc</v></c>', "refused", "12"),
    ('<c r="A1"><v>1,5</v></c>', "refused", "1"),
    ('<c r="A1" t="zz"><v>7</v></c>', "refused", ""),
    ('<c r="A1"><v> 12 </v></c>', 12, "12"),
    ('<c r="A1"><v>+5</v></c>', 5, "5"),
    ('<c r="A1"><v>.5</v></c>', 0.5, "0.5"),
    ('<c r="A1"><v>5.</v></c>', 5.0, "5"),
    ('<c r="A1"><v>1e5</v></c>', 100000.0, "100000"),
    ('<c r="A1" t="b"><v>2</v></c>', True, "TRUE"),  # LibreOffice: any non-zero number
    ('<c r="A1" t="b"><v>-1</v></c>', True, "TRUE"),
    ('<c r="A1" t="b"><v>0</v></c>', False, "FALSE"),
    ('<c r="A1" t="b"><v>true</v></c>', "refused", "FALSE"),  # naive: True
    ('<x:c xmlns:x="urn:other" r="A1"><x:v>5</x:v></x:c>', None, ""),  # not a cell
]


@pytest.mark.parametrize(("xml", "ours", "_lo"), CELLS, ids=[c[0] for c in CELLS])
def test_odd_cells_are_read_as_libreoffice_shows_them_or_refused(
    xml: str, ours: Any, _lo: str
) -> None:
    if ours == "refused":
        with pytest.raises(Damaged) as err:
            _cells(f'<row r="1">{xml}</row>')
        assert err.value.where == "A1"
        return
    got = _cells(f'<row r="1">{xml}</row>').get(1, {}).get(1)
    assert got == ours and type(got) is type(ours)


@pytest.mark.parametrize(
    ("xml", "where"),
    [
        ('<row r="0"><c><v>1</v></c></row>', "row '0'"),
        ('<row r="1"><c r="A0"><v>1</v></c></row>', "cell 'A0'"),
        ('<row r="1"><c r="XFE1"><v>1</v></c></row>', "cell 'XFE1'"),
        ('<row r="1"><c r="A1048577"><v>1</v></c></row>', "cell 'A1048577'"),
        ('<row r="x"><c><v>1</v></c></row>', "row 'x'"),
    ],
)
def test_cells_outside_a_sheet_are_damaged(xml: str, where: str) -> None:
    with pytest.raises(Damaged) as err:
        _cells(xml)
    assert err.value.where == where


def _plan_with_cip_f2(tmp_path: Path, cell: str) -> Path:
    parts = plan_parts()
    cip = parts[SHEET["cip"]]
    assert b'<c r="F2"><v>240.0</v></c>' in cip
    parts[SHEET["cip"]] = cip.replace(b'<c r="F2"><v>240.0</v></c>', cell.encode())
    path = tmp_path / "plan.xlsx"
    path.write_bytes(zip_parts(parts))
    return path


@pytest.mark.parametrize(
    "cell",
    [
        '<c r="F2"><v>2_4_0</v></c>',
        '<c r="F2"><v>\u0662\u0664\u0660</v></c>',
        '<c r="F2" t="s"><v>-1</v></c>',
        '<c r="F2" t="s"><v>100000</v></c>',
        '<c r="F2" t="q"><v>240</v></c>',
    ],
)
def test_a_damaged_cell_names_its_sheet_and_cell(tmp_path: Path, cell: str) -> None:
    """The value of CIP!F2 (240 in the plan) spelt as nothing saves it: never read as
    another number, refused naming sheet and cell."""
    with pytest.raises(WorkbookError) as err:
        read_plan(_plan_with_cip_f2(tmp_path, cell))
    assert "damaged" in str(err.value) and "sheet 'CIP', F2" in str(err.value)


def test_a_cell_in_a_foreign_namespace_is_not_read(tmp_path: Path) -> None:
    """LibreOffice ignores it; so does cipmodel: F2 is blank, never 240."""
    cell = '<x:c xmlns:x="urn:other" r="F2"><x:v>240</x:v></x:c>'
    try:
        portfolio = read_plan(_plan_with_cip_f2(tmp_path, cell))
    except ValidationError as exc:
        assert "CIP!F2" in str(exc)
    else:
        assert 240 not in [s.value_fye for s in portfolio.cip]


def _hide_cip(state: str, twin: str | None) -> dict[str, bytes]:
    parts = plan_parts()
    wb = parts["xl/workbook.xml"]
    extra = f'<sheet name="{twin}" sheetId="20" r:id="rId4"/>'.encode() if twin else b""
    parts["xl/workbook.xml"] = wb.replace(
        b'<sheet name="CIP" sheetId="4" r:id="rId4"/>',
        f'<sheet name="CIP" sheetId="4" state="{state}" r:id="rId4"/>'.encode() + extra,
    )
    return parts


@pytest.mark.parametrize("state", ["hidden", "veryHidden"])
def test_a_hidden_input_sheet_alone_is_read_as_libreoffice_reads_it(
    tmp_path: Path, state: str
) -> None:
    path = tmp_path / "plan.xlsx"
    path.write_bytes(zip_parts(_hide_cip(state, None)))
    assert read_plan(path).cip


@pytest.mark.parametrize("state", ["hidden", "veryHidden"])
@pytest.mark.parametrize("twin", ["C\u0399P", "\u0421IP", "C\u200bIP", "\uff23\uff29\uff30"])
def test_a_hidden_input_sheet_behind_a_visible_look_alike_is_refused(
    tmp_path: Path, twin: str, state: str
) -> None:
    """'CIP' hidden and a visible 'CΙP' (Greek Iota), 'СIP' (Cyrillic Es), 'C\u200bIP'
    or fullwidth: the user edits the visible one, the tool would read the hidden one."""
    path = tmp_path / "plan.xlsx"
    path.write_bytes(zip_parts(_hide_cip(state, twin)))
    with pytest.raises(WorkbookError, match="sheet 'CIP' is (very )?hidden.*, and the visible"):
        read_plan(path)


def _probe_workbook(path: Path) -> None:
    """One sheet, cell A{i} of row i holding CELLS[i - 1] (its reference rewritten)."""
    rows = "".join(
        f'<row r="{i}">{xml.replace(chr(34) + "A1" + chr(34), chr(34) + f"A{i}" + chr(34))}</row>'
        for i, (xml, _ours, _lo) in enumerate(CELLS, start=1)
    )
    ns = f'xmlns="{MAIN_NS}"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    parts = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
        "_rels/.rels": f'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<?xml version="1.0"?><workbook {ns} xmlns:r="{rel}"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
        "xl/sharedStrings.xml": f'<?xml version="1.0"?><sst {ns}><si><t>zero</t></si><si><t>one</t></si></sst>',
        "xl/worksheets/sheet1.xml": f'<?xml version="1.0"?><worksheet {ns}><sheetData>{rows}</sheetData></worksheet>',
    }
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in parts.items():
            zf.writestr(name, text)


@pytest.mark.libreoffice
def test_libreoffice_shows_the_odd_cells_as_listed(soffice: str, tmp_path: Path) -> None:
    """The third column of CELLS is LibreOffice's reading: checked here, so that where
    cipmodel reads a value it is LibreOffice's, and where it refuses, LibreOffice shows
    something else than Python's int()/float() would read."""
    src = tmp_path / "probe.xlsx"
    _probe_workbook(src)
    out = tmp_path / "out"
    cmd = [
        soffice,
        f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}",
        "--headless",
        "--norestore",
        "--convert-to",
        "csv",
        "--outdir",
        str(out),
        str(src),
    ]
    subprocess.run(cmd, capture_output=True, timeout=TIMEOUT_S, check=False)
    rows = list(csv.reader((out / "probe.csv").read_text(encoding="utf-8").splitlines()))
    shown = [(r[0] if r else "") for r in rows] + [""] * len(CELLS)
    for i, (xml, ours, lo) in enumerate(CELLS):
        assert shown[i] == lo, (xml, shown[i])
        if ours not in ("refused", None):
            assert _as_csv(ours) == lo, xml


def _as_csv(value: Any) -> str:
    """How LibreOffice's CSV export shows a value read by cipmodel."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# -- linear time on user text -----------------------------------------------------------------
#: Text of tens of thousands of characters, each a worst case for a backtracking pattern.
PATHOLOGICAL = [
    "(" * 50_000,
    "[" * 50_000 + ")",
    "Value FYE" + " " * 50_000 + "x",
    "a(" + " " * 50_000,
    "1," * 25_000,
    "1" * 50_000 + "x",
    "(" + "1" * 50_000,
    "\u0661" * 50_000,
    "£" + "9" * 4_000 + "e" + "9" * 40_000,
]

_HANG_GUARD = r"""
import sys
from cipmodel.errors import CipModelError
from cipmodel.io import read_plan
for path in sys.argv[1:]:
    try:
        read_plan(path)
    except CipModelError:
        pass
print("done", len(sys.argv) - 1)
"""


def test_long_pathological_header_and_cell_text_is_read_in_linear_time(tmp_path: Path) -> None:
    """Each text as a header (CIP!F1) and as a money value (CIP!F2): refused or read, in a
    child process with a hang guard of a minute for all 18 reads (each takes milliseconds;
    the quadratic unit-suffix pattern this replaced took minutes on the first one)."""
    paths = []
    for i, text in enumerate(PATHOLOGICAL):
        for cell in ("F1", "F2"):
            parts = plan_parts()
            cip = parts[SHEET["cip"]].decode()
            start = cip.index(f'<c r="{cell}"')
            end = cip.index("</c>", start) + 4
            inline = f'<c r="{cell}" t="inlineStr"><is><t>{text}</t></is></c>'
            parts[SHEET["cip"]] = (cip[:start] + inline + cip[end:]).encode()
            path = tmp_path / f"p{i}-{cell}.xlsx"
            path.write_bytes(zip_parts(parts))
            paths.append(str(path))
    done = subprocess.run(
        [sys.executable, "-c", _HANG_GUARD, *paths],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"done {len(paths)}" in done.stdout


# -- rule packs and priors given as files -----------------------------------------------------
@pytest.fixture(scope="module")
def example_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plan") / "plan.xlsx"
    r = CliRunner().invoke(cli, ["template", str(path), "--example", "acute-11pc"])
    assert r.exit_code == 0, r.output
    return path


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=True)


def _ends_cleanly(r: Any) -> None:
    """A result (exit 0) or a message (exit 2): never an internal error or a traceback."""
    assert r.exit_code in (0, 2), (r.exit_code, r.output[-2000:], r.exception)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output and "internal error" not in r.output


PACK_OPTIONS = {
    "sof-2016": ("run", "--sof-rules"),
    "stf-2016-17": ("run", "--funding-rules"),
    "psf-2018-19": ("run", "--funding-rules"),
    "priors-2017": ("simulate", "--priors"),
}


@pytest.mark.parametrize("seed", range(48))
def test_mutated_pack_files_end_in_a_result_or_a_located_error(
    seed: int, example_plan: Path, tmp_path: Path
) -> None:
    """One value of a bundled pack made wrong (a list for a number, NaN, a negative...):
    the run ends with a result or an error naming the file and the key, exit 2."""
    rng = random.Random(seed)
    name = list(PACK_OPTIONS)[seed % len(PACK_OPTIONS)]
    raw, what = mutate(name, rng)
    path = tmp_path / f"{name}-edited.toml"
    path.write_text(to_toml(raw), encoding="utf-8")
    command, option = PACK_OPTIONS[name]
    extra = ["-n", "64", "--seed", "1"] if command == "simulate" else []
    r = _invoke(command, str(example_plan), option, str(path), "--json", *extra)
    _ends_cleanly(r)
    if r.exit_code == 2:
        assert path.name in r.output, (what, r.output)


def test_a_misspelt_pack_key_is_an_error_with_did_you_mean(
    example_plan: Path, tmp_path: Path
) -> None:
    """Ignored, the misspelt table would leave the value it was meant to change as it was."""
    raw = bundled("sof-2016")
    metric = raw["values"]["metrics"]["liquidity_days"]
    metric["threshold"] = metric.pop("thresholds")
    path = tmp_path / "sof-edited.toml"
    path.write_text(to_toml(raw), encoding="utf-8")
    r = _invoke("run", str(example_plan), "--sof-rules", str(path))
    assert r.exit_code == 2
    assert "metrics.liquidity_days.thresholds: missing; the file has" in r.output
    assert "did you mean 'metrics.liquidity_days.thresholds'" in r.output


def _fifo(folder: Path) -> Path:
    path = folder / "pack.toml"
    os.mkfifo(path)
    return path


def _huge(folder: Path) -> Path:
    path = folder / "pack.toml"
    path.write_bytes(b"#" * (2 * 2**20))
    return path


NOT_PACKS = {
    "fifo": (_fifo, "is not a rule pack file (a device, pipe"),
    "dev-zero": (lambda f: Path("/dev/zero"), "is not a rule pack file"),
    "proc": (lambda f: Path("/proc/self/status"), "is not a rule pack file"),
    "folder": (lambda f: f, "is a folder"),
    "too-big": (_huge, "more than the 1 MB a rule pack file can be"),
    "deep": (
        lambda f: _write(f, "a = " + "[" * 5000 + "]" * 5000),
        "nested too deeply",
    ),
    "latin-1": (lambda f: _write(f, "", b"title = '\xa3'"), "not UTF-8"),
}


def _write(folder: Path, text: str, data: bytes = b"") -> Path:
    path = folder / "pack.toml"
    path.write_bytes(data or text.encode())
    return path


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="no /proc")
@pytest.mark.parametrize("case", NOT_PACKS)
@pytest.mark.parametrize("option", ["--sof-rules", "--funding-rules", "--priors"])
def test_a_pack_that_is_not_a_file_is_refused_without_opening_it(
    case: str, option: str, example_plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pipe would block forever and /dev/zero never ends: refused after os.stat."""
    monkeypatch.setenv("CIPMODEL_MAX_PACK_MB", "1")
    make, text = NOT_PACKS[case]
    path = make(tmp_path)
    command = ["simulate", "-n", "64", "--seed", "1"] if option == "--priors" else ["run"]
    r = _invoke(command[0], str(example_plan), *command[1:], option, str(path))
    _ends_cleanly(r)
    assert r.exit_code == 2 and text in r.output, r.output


def test_a_pack_with_a_byte_order_mark_is_read(example_plan: Path, tmp_path: Path) -> None:
    path = tmp_path / "sof.toml"
    text = resources.files("cipmodel").joinpath("rules", "sof-2016.toml").read_text("utf-8")
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    r = _invoke("run", str(example_plan), "--sof-rules", str(path), "--json")
    assert r.exit_code == 0, r.output


# -- simulate: workers, chunks and seeds; score; closed pipes; library warnings ---------------
def test_workers_beyond_the_cores_are_lowered_with_a_note(
    example_plan: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    r = CliRunner().invoke(
        cli,
        ["simulate", str(example_plan), "-n", "256", "--seed", "1", "--workers", "5000", "--json"],
    )
    assert r.exit_code == 0, r.output
    assert "--workers 5,000 lowered to 2, the processor cores" in r.stderr
    assert json.loads(r.stdout)["provenance"]["workers"] == 2


@pytest.mark.parametrize("cores", [1, 3])
def test_workers_default_to_the_cores_and_do_not_change_the_result(
    example_plan: Path, monkeypatch: pytest.MonkeyPatch, cores: int
) -> None:
    """Without --workers, simulate uses one thread per core (recorded in the provenance,
    with the chunk size memory allows that many threads), and the answer is the one of a
    single thread, bit for bit."""
    args = ["simulate", str(example_plan), "-n", "3000", "--seed", "4", "--json"]
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert "lowered" not in r.stderr
    default = json.loads(r.stdout)
    assert default["provenance"]["workers"] == cores
    one = CliRunner().invoke(cli, [*args, "--workers", "1"])
    single = json.loads(one.stdout)
    assert single["provenance"]["workers"] == 1
    for d in (default, single):  # how the draws were computed: threads, chunks (memory)
        del d["provenance"]["workers"], d["provenance"]["chunk_size"]
    assert default == single


def test_a_chunk_size_beyond_memory_is_lowered_with_a_note(example_plan: Path) -> None:
    """A chunk of a billion draws would take terabytes: lowered, results unchanged."""
    args = ["simulate", str(example_plan), "-n", "1024", "--seed", "3", "--json"]
    big = CliRunner().invoke(cli, [*args, "--chunk-size", "1000000000"])
    plain = CliRunner().invoke(cli, args)
    assert big.exit_code == 0 and plain.exit_code == 0, big.output
    assert "--chunk-size 1,000,000,000 lowered to" in big.stderr
    used = json.loads(big.stdout)["provenance"]["chunk_size"]
    assert 64 <= used < 1_000_000_000
    strip = ("chunk_size", "created", "run_at", "started", "seconds")
    a, b = json.loads(big.stdout), json.loads(plain.stdout)
    for d in (a, b):
        for k in strip:
            d["provenance"].pop(k, None)
    assert a == b


def test_a_200_digit_seed_is_kept_exactly_everywhere(example_plan: Path, tmp_path: Path) -> None:
    """In JSON as the number; in the results workbook as text (a spreadsheet number has 53
    bits: 2**53 + 1 would come back as 2**53)."""
    seed = int("9" * 200)
    out = tmp_path / "r.xlsx"
    r = CliRunner().invoke(
        cli,
        ["simulate", str(example_plan), "-n", "64", "--seed", str(seed), "-o", str(out), "--json"],
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["provenance"]["seed"] == seed
    with zipfile.ZipFile(out) as zf:
        names = [n for n in zf.namelist() if n.startswith("xl/worksheets/sheet")]
        xml = "".join(zf.read(n).decode() for n in names)
    assert f"<t>{seed}</t>" in xml or f'<t xml:space="preserve">{seed}</t>' in xml
    assert f"<v>{seed}</v>" not in xml


def test_a_seed_of_thousands_of_digits_is_refused_up_front(example_plan: Path) -> None:
    r = _invoke("simulate", str(example_plan), "-n", "64", "--seed", "9" * 5000)
    assert r.exit_code == 2
    assert "at most 1,000 digits" in r.output and "(5,000 characters)" in r.output
    assert len(r.output) < 600


@pytest.mark.parametrize("value", ["inf", "nan", "1e400", "1e999999999", "(1e400)"])
@pytest.mark.parametrize("as_json", [False, True])
def test_score_refuses_infinities_and_nan_with_or_without_json(value: str, as_json: bool) -> None:
    args = ["score", "--capital-service-capacity", value, "--liquidity-days", "5"]
    args += ["--ie-margin", "1%", "--distance-from-plan", "0", "--agency-vs-ceiling", "0"]
    r = _invoke(*args, *(["--json"] if as_json else []))
    assert r.exit_code == 2, r.output
    assert "--capital-service-capacity" in r.output


def _cipmodel(*args: str, stdout: Any) -> subprocess.CompletedProcess[bytes]:
    code = "from cipmodel.cli.app import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("command", [["run", "--json"], ["validate"]])
def test_a_closed_pipe_ends_quietly(command: list[str], example_plan: Path) -> None:
    """`cipmodel run PLAN --json | head -0`: no traceback, no 'Exception ignored'."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = _cipmodel(command[0], str(example_plan), *command[1:], stdout=write_end)
    finally:
        os.close(write_end)
    assert done.returncode == 141, done.stderr
    # nothing but the reader's notes (the example's unsplit PFI charge): no traceback, no
    # "Exception ignored", no "Broken pipe"
    lines = done.stderr.decode().splitlines()
    assert all(ln.startswith(("note: ", "warning: ")) for ln in lines), done.stderr


def test_a_library_warning_is_one_line_of_the_tool(tmp_path: Path) -> None:
    """A warning from a library reaching the entry point is printed as one line of its own
    (never the library's file, line number and source line)."""
    code = (
        "import sys, warnings, click\n"
        "from cipmodel.cli import app\n"
        "@app.cli.command('warn')\n"
        "def warn():\n"
        "    import numpy as np\n"
        "    np.nanmax(np.array([np.nan]))\n"
        "sys.argv = ['cipmodel', 'warn']\n"
        "app.main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines == ["cipmodel: note: All-NaN slice encountered (RuntimeWarning)"], lines


def test_an_output_name_of_255_bytes_is_written(example_plan: Path, tmp_path: Path) -> None:
    """The temporary file next to it is shortened, not the user's name refused."""
    for name in ("r" * 250 + ".xlsx", "£" * 125 + ".xlsx"):  # 255 bytes each
        assert len(name.encode()) == 255
        out = tmp_path / name
        r = _invoke("run", str(example_plan), "-o", str(out))
        assert r.exit_code == 0, r.output
        assert out.is_file()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_strict_open_xml_is_found_from_the_start_of_the_workbook_part(tmp_path: Path) -> None:
    """Only the start of xl/workbook.xml is read for its namespace (it may hold millions of
    defined names, refused later by their limit)."""
    parts = plan_parts()
    parts["xl/workbook.xml"] = parts["xl/workbook.xml"].replace(
        b"http://schemas.openxmlformats.org/spreadsheetml/2006/main",
        b"http://purl.oclc.org/ooxml/spreadsheetml/main",
    )
    path = tmp_path / "plan.xlsx"
    path.write_bytes(zip_parts(parts))
    with pytest.raises(WorkbookError, match="Strict Open XML"):
        read_plan(path)
