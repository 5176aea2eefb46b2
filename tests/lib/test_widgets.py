"""Explorers: live ipywidgets in JupyterLab / plain papermill, one static figure in the book."""

from functools import partial

import ipywidgets
import pytest

from robustbook.book.widgets import STATIC_ENV, explorer


def _controls():
    return {"a": ipywidgets.FloatSlider(min=0, max=1, step=0.1), "b": ipywidgets.IntSlider(min=0, max=9)}


def test_static_mode_draws_once_with_the_defaults(monkeypatch):
    monkeypatch.setenv(STATIC_ENV, "1")
    calls = []
    panel = explorer(lambda result, a, b: calls.append((result, a, b)), "R", {"a": 0.2, "b": 3}, _controls())
    assert panel is None and calls == [("R", 0.2, 3)]


def test_live_mode_draws_the_defaults_then_the_run_button_redraws(monkeypatch):
    monkeypatch.delenv(STATIC_ENV, raising=False)
    calls = []
    controls = _controls()
    panel = explorer(lambda result, a, b: calls.append((result, a, b)), "R", {"a": 0.4, "b": 2}, controls)
    assert calls == [("R", 0.4, 2)]  # the defaults, drawn once as the book shows them
    controls["a"].value, controls["b"].value = 0.7, 5
    assert len(calls) == 1  # manual: a changed control waits for the Run button
    assert panel.manual_button.description == "Run"
    panel.manual_button.click()
    assert calls[-1] == ("R", 0.7, 5)


def test_live_mode_accepts_functions_without_a_name(monkeypatch):
    """ipywidgets reads ``__name__``; a functools.partial has none (chapter 05's old crash)."""
    monkeypatch.delenv(STATIC_ENV, raising=False)
    calls = []

    def draw(result, a, b, extra):
        calls.append((a, b, extra))

    panel = explorer(partial(draw, extra="x"), None, {"a": 0.1, "b": 1}, _controls())
    panel.manual_button.click()
    assert calls == [(0.1, 1, "x"), (0.1, 1, "x")]


def test_defaults_not_controlled_are_passed_fixed(monkeypatch):
    monkeypatch.delenv(STATIC_ENV, raising=False)
    calls = []
    explorer(lambda result, a, k: calls.append((a, k)), None, {"a": 0.3, "k": 7},
             {"a": ipywidgets.FloatSlider(min=0, max=1, step=0.1)})
    assert calls == [(0.3, 7)]


def test_a_control_without_a_default_is_an_error():
    with pytest.raises(ValueError, match="without a default"):
        explorer(lambda result, a: None, None, {}, {"a": ipywidgets.FloatSlider()})
