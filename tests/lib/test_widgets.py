"""Explorers: live ipywidgets in JupyterLab, one static figure when the book is built."""

import ipywidgets

from robustbook.book.widgets import STATIC_ENV, explorer


def test_static_mode_draws_once_with_the_defaults(monkeypatch):
    monkeypatch.setenv(STATIC_ENV, "1")
    calls = []
    explorer(lambda a, b: calls.append((a, b)), {"a": 0.2, "b": 3}, {"a": ipywidgets.FloatSlider(),
                                                                   "b": ipywidgets.IntSlider()})
    assert calls == [(0.2, 3)]


def test_interactive_mode_builds_controls_and_waits_for_run(monkeypatch):
    monkeypatch.delenv(STATIC_ENV, raising=False)
    calls = []
    slider = ipywidgets.FloatSlider(min=0, max=1)
    explorer(lambda a: calls.append(a), {"a": 0.4}, {"a": slider})
    assert calls == []  # interact_manual: nothing runs until the Run button
    assert slider.value == 0.4
