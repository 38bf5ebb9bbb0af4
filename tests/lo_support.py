"""LibreOffice helpers shared by the spreadsheet tests (not a test module).

cipmodel saves every formula with its value, and LibreOffice by default shows the saved
values of an ``.xlsx`` file without recalculating. A test that means to check the formulas
themselves runs LibreOffice with a profile set to recalculate every formula on load:
:func:`recalc_profile`.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

TIMEOUT_S = 240

_ALWAYS_RECALCULATE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
  xmlns:xs="http://www.w3.org/2001/XMLSchema"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def recalc_profile(folder: Path) -> Path:
    """A new LibreOffice profile folder whose Calc recalculates every formula of an
    ``.xlsx`` (or ``.ods``) file when it opens it ("Recalculation on file load: Always");
    pass it as ``-env:UserInstallation=<folder URI>``."""
    user = folder / "user"
    user.mkdir(parents=True, exist_ok=True)
    (user / "registrymodifications.xcu").write_text(_ALWAYS_RECALCULATE, encoding="utf-8")
    return folder


def export_pdf(soffice: str, src: Path, tmp_path: Path, tag: str = "pdf") -> Path:
    """``src`` exported to PDF by LibreOffice (every visible sheet, as printed)."""
    out = tmp_path / f"{tag}-out"
    out.mkdir()
    profile = tmp_path / f"{tag}-profile"
    cmd = [
        soffice,
        f"-env:UserInstallation={profile.as_uri()}",
        "--headless",
        "--norestore",
        "--nolockcheck",
        "--convert-to",
        "pdf",
        "--outdir",
        str(out),
        str(src),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    pdf = out / (src.stem + ".pdf")
    assert pdf.is_file(), f"LibreOffice did not export {src.name}: {done.stdout}{done.stderr}"
    return pdf


def need_poppler() -> None:
    """Skip, with the reason, where poppler's pdftotext is missing (CI installs it)."""
    if shutil.which("pdftotext") is None or shutil.which("pdfinfo") is None:
        pytest.skip("poppler (pdfinfo, pdftotext) not found: install poppler-utils")


def pdf_pages(pdf: Path) -> list[str]:
    """The text of each page of ``pdf`` (poppler's ``pdftotext -layout``)."""
    done = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    )
    pages = done.stdout.split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def pages_per_sheet(pages: list[str], sheets: list[str]) -> Counter[str]:
    """How many pages each sheet printed on, from the sheet name in each page's header
    (the first line of text); pages whose header names no sheet count under ``"?"``."""
    by_length = sorted(sheets, key=len, reverse=True)
    counts: Counter[str] = Counter()
    for text in pages:
        first = next((line for line in text.splitlines() if line.strip()), "")
        header = f" {' '.join(first.split())} "
        counts[next((s for s in by_length if f" {s} " in header), "?")] += 1
    return counts
