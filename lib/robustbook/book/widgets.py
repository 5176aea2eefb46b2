"""Interactive explorers that degrade to a static figure in the HTML book.

In JupyterLab, ``explorer`` shows ipywidgets controls with a "Run" button. When the book is built
(``robustbook`` executes notebooks with ``ROBUSTBOOK_STATIC=1``), or where ipywidgets is missing, it
draws the figure once at the default values instead: a saved widget has no kernel behind it.
"""

from __future__ import annotations

import os
from collections.abc import Callable

STATIC_ENV = "ROBUSTBOOK_STATIC"


def is_static() -> bool:
    return os.environ.get(STATIC_ENV) == "1"


def explorer(draw: Callable[..., object], defaults: dict, controls: dict) -> None:
    """``draw(**values)`` with widgets built from ``controls`` ({name: ipywidgets control});
    static mode calls ``draw(**defaults)`` once."""
    if is_static():
        draw(**defaults)
        return
    try:
        import ipywidgets as widgets
    except ImportError:
        draw(**defaults)
        return
    for name, control in controls.items():
        control.value = defaults[name]
    widgets.interact_manual.opts["manual_name"] = "Run"
    widgets.interact_manual(draw, **controls)
