"""The notebooks run from top to bottom."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def _execute(name: str, folder: Path) -> list:
    notebook = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    NotebookClient(
        notebook,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    return outputs


@pytest.mark.slow
def test_quickstart_notebook_executes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _execute("quickstart.ipynb", tmp_path)
    assert (tmp_path / "runs" / "quickstart" / "report.json").exists()


@pytest.mark.slow
def test_extending_notebook_executes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    printed = "".join(o.get("text", "") for o in _execute("extending.ipynb", tmp_path))
    for line in ("| with a hinge discriminator", "| with an Adam encoder", "| with a latent L1"):
        assert line in printed
