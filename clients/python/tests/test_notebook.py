"""examples/notebooks/quickstart.ipynb, executed cell by cell (nbclient, ipykernel) against
the same store, as a user runs it after `npm start`: it must never rot."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[3] / "examples" / "notebooks" / "quickstart.ipynb"


def test_the_quickstart_notebook_runs(repo: str, monkeypatch: pytest.MonkeyPatch) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # The kernel inherits this process's environment: point the notebook at the test store.
    monkeypatch.setenv("LARDER_QUICKSTART_DIR", repo)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "\n".join(str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "driver_hourly_stats" in text and "p_trip_completed" in text
