"""Interactive explorers that degrade to a static figure in the HTML book.

One convention for every chapter: the chapter's ``plots.explore(result, **knobs)`` draws one
figure for the chosen knob values (``result`` may be ignored when the explorer trains its own
small model), and the notebook calls::

    explorer(plots.explore, result, defaults={...}, controls={name: ipywidgets control})

as the last expression of its cell (Jupyter displays the returned widget).

In JupyterLab (and under plain papermill) that shows the controls and a "Run" button; each press
calls ``explore(result, **values)`` (the defaults are drawn once at the start). When the book is built (the runner sets
``ROBUSTBOOK_STATIC=1``), or where ipywidgets is missing, it draws the figure once at ``defaults``:
a saved widget has no kernel behind it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

STATIC_ENV = "ROBUSTBOOK_STATIC"


def is_static() -> bool:
    return os.environ.get(STATIC_ENV) == "1"


def explorer(explore: Callable[..., object], result: Any, defaults: dict[str, Any],
             controls: dict[str, Any]):
    """Live: returns an ``ipywidgets.interactive`` with a Run button — the last expression of its
    notebook cell, so Jupyter displays it (tests press ``.manual_button.click()``). Static:
    ``explore(result, **defaults)`` once; returns None."""
    missing = set(controls) - set(defaults)
    if missing:
        raise ValueError(f"explorer: controls without a default value: {sorted(missing)}")
    if is_static():
        explore(result, **defaults)
        return None
    try:
        import ipywidgets as widgets
    except ImportError:
        explore(result, **defaults)
        return None
    for name, control in controls.items():
        control.value = defaults[name]

    def run(**values):  # a plain function: ipywidgets reads its name and signature
        return explore(result, **values)

    run.__name__ = getattr(explore, "__name__", "explore")
    fixed = {k: widgets.fixed(v) for k, v in defaults.items() if k not in controls}
    panel = widgets.interactive(run, {"manual": True, "manual_name": "Run"}, **controls, **fixed)
    panel.update()  # draw the defaults at once, as the static book does; Run redraws
    return panel
