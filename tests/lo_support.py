"""LibreOffice helpers shared by the spreadsheet tests (not a test module).

cipmodel saves every formula with its value, and LibreOffice by default shows the saved
values of an ``.xlsx`` file without recalculating. A test that means to check the formulas
themselves runs LibreOffice with a profile set to recalculate every formula on load:
:func:`recalc_profile`.
"""

from __future__ import annotations

from pathlib import Path

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
