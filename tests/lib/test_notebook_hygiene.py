"""Source notebooks are saved without outputs (the JupyterLab pre-save hook)."""

from pathlib import Path

import nbformat

from robustbook.notebook_hygiene import is_source_notebook, pre_save_hook, strip


def _executed() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x = 1\nx", execution_count=4,
                                     outputs=[nbformat.v4.new_output("execute_result", {"text/plain": "1"},
                                                                     execution_count=4)])
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# t"), cell]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return nb


def test_strip_removes_outputs_counts_and_widget_state_but_keeps_tags_and_ids():
    nb = _executed()
    ids = [c.id for c in nb.cells]
    out = strip(nb)
    code = out.cells[1]
    assert code.outputs == [] and code.execution_count is None
    assert code.metadata["tags"] == ["parameters"] and [c.id for c in out.cells] == ids
    assert "widgets" not in out.metadata and code.source == "x = 1\nx"


def test_only_notebooks_directly_inside_a_notebooks_folder_are_sources():
    assert is_source_notebook("/repo/notebooks/01_x.ipynb")
    assert not is_source_notebook("/repo/book/chapters/01_x.ipynb")
    assert not is_source_notebook("/repo/notebooks/sub/01_x.ipynb")
    assert not is_source_notebook("/repo/notebooks/readme.md")


class _Manager:
    def __init__(self, root: Path):
        self.root = root

    def _get_os_path(self, path: str) -> str:
        return str(self.root / path)


def test_pre_save_hook_strips_sources_and_leaves_other_notebooks_alone(tmp_path):
    source = {"type": "notebook", "content": _executed()}
    pre_save_hook(source, "01_x.ipynb", _Manager(tmp_path / "notebooks"))
    assert source["content"].cells[1].outputs == []
    elsewhere = {"type": "notebook", "content": _executed()}
    pre_save_hook(elsewhere, "01_x.ipynb", _Manager(tmp_path / "scratch"))
    assert elsewhere["content"].cells[1].outputs != []
    text = {"type": "file", "content": "notebooks"}
    pre_save_hook(text, "a.txt", _Manager(tmp_path / "notebooks"))
    assert text["content"] == "notebooks"
