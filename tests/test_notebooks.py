"""The notebooks of docs/notebooks run from top to bottom, so they cannot rot: each is executed in a
fresh Jupyter kernel (nbclient), its own asserts included, and is committed without outputs."""

import pytest

from conftest import REPO

nbformat = pytest.importorskip("nbformat", reason="the notebook tests need nbformat (the test extra)")
nbclient = pytest.importorskip("nbclient", reason="the notebook tests need nbclient (the test extra)")
pytest.importorskip("ipykernel", reason="the notebook tests need a Python kernel: ipykernel (the test extra)")

NOTEBOOKS = sorted((REPO / "docs" / "notebooks").glob("*.ipynb"))


def test_the_three_notebooks_are_there_and_indexed():
    assert [path.name for path in NOTEBOOKS] == ["01-tokenizers.ipynb", "02-attention.ipynb", "03-gpt.ipynb"]
    index = (REPO / "docs" / "notebooks" / "README.md").read_text()
    assert all(f"({path.name})" in index for path in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_the_notebook_is_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs == [] and cell.execution_count is None for cell in code)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_the_notebook_runs(path, tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # a failing cell (an assert of the notebook's own) raises CellExecutionError
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    if path.stem == "02-attention":
        assert any("image/png" in output.get("data", {}) for output in outputs)  # the heat map is drawn
