"""The notebooks run start to finish with a real Jupyter kernel and write their plots.

Each notebook is executed by nbclient in a temporary folder (``CIPMODEL_PLOT_DIR``), with
its outputs discarded; the committed notebooks carry no outputs (checked here too).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_writes_plots(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The notebook executes without error and saves at least one PNG."""
    nb = nbformat.read(path, as_version=4)
    monkeypatch.setenv("CIPMODEL_PLOT_DIR", str(tmp_path / "plots"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    pngs = list((tmp_path / "plots").glob("*.png"))
    assert pngs, "the notebook saved no plots"
    assert all(p.stat().st_size > 5000 for p in pngs)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_outputs_are_stripped(path: Path) -> None:
    """Committed notebooks have no outputs or execution counts."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_notebooks_define_no_model_logic() -> None:
    """Notebooks import cipmodel and define no functions or classes of their own."""
    assert NOTEBOOKS
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        src = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert "import cipmodel" in src or "from cipmodel" in src
        assert "\ndef " not in "\n" + src and "\nclass " not in "\n" + src, path.name
