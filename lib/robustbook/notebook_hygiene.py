"""Keep the chapter sources clean: notebooks under a ``notebooks/`` folder are saved without outputs.

The contract commits ``notebooks/NN_slug.ipynb`` without outputs (the executed chapters live in
``book/chapters/``). JupyterLab users run the sources and save them; ``jupyter_server_config.py`` at
the repository root installs ``pre_save_hook`` so what reaches the disk is stripped (the open
document keeps its outputs). ``nbstripout`` does the stripping; pre-commit runs it on commits too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
from nbstripout import strip_output

SOURCE_FOLDER = "notebooks"


def strip(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``nb`` without outputs, execution counts or widget state (cell ids and tags kept)."""
    nb = strip_output(nb, keep_output=False, keep_count=False, keep_id=True)
    nb.metadata.pop("widgets", None)
    return nb


def is_source_notebook(os_path: str | Path) -> bool:
    """A chapter source: an ``.ipynb`` directly inside a folder named ``notebooks``."""
    path = Path(os_path)
    return path.suffix == ".ipynb" and path.parent.name == SOURCE_FOLDER


def pre_save_hook(model: dict[str, Any], path: str, contents_manager: Any, **kwargs: Any) -> None:
    """jupyter_server's ``FileContentsManager.pre_save_hook``: strip a source notebook in place."""
    if model.get("type") != "notebook" or model.get("content") is None:
        return
    os_path = contents_manager._get_os_path(path)  # the one documented way to map an API path
    if is_source_notebook(os_path):
        model["content"] = strip(nbformat.from_dict(model["content"]))
