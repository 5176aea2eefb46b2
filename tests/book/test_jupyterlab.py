"""JupyterLab as its users meet it: `jupyter lab notebooks/` started from a checkout-shaped folder
(with the project's server config that `make setup` installs into the venv), a chapter opened in headless Chromium, run top to
bottom at preset smoke in the project's kernel, one explorer control changed and its Run button
pressed, the new figure found, the notebook saved — and the saved source holds no outputs.

One chapter in CI (01); every written chapter with ROBUSTBOOK_FULL=1. Server and kernels are shut
down even when the test fails; every wait is bounded. The browser may reach 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import papermill as pm
import pytest

from robustbook.chapters import get_chapter, implemented
from robustbook.notebook_hygiene import is_source_notebook

pytestmark = [pytest.mark.xdist_group("jupyterlab"), pytest.mark.book]
CHROMIUM = "/usr/bin/chromium"
FULL = os.environ.get("ROBUSTBOOK_FULL") == "1"
SLUGS = [c.slug for c in implemented()] if FULL else ["sam-label-noise"]
RUN_TIMEOUT_MS = 240_000
# Every cell in the DOM (no virtual scrolling), no news pop-up fetched from the internet.
LAB_SETTINGS = {"@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
                "@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"jupyter lab did not answer {url} within {timeout} s")


@pytest.fixture
def lab(tmp_path, root):
    """A running `jupyter lab notebooks/` in a checkout-shaped folder; yields (base url, token, folder)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: apt-get install -y chromium (.ci/run does)")
    installed = Path(sys.prefix) / "etc" / "jupyter" / "jupyter_server_config.json"
    assert installed.read_text() == (root / "etc/jupyter/jupyter_server_config.json").read_text(), (
        f"{installed} is missing or stale: `make setup` installs it")
    work = tmp_path / "checkout"
    (work / "notebooks").mkdir(parents=True)
    for slug in SLUGS:  # the user's edit: preset smoke in the parameters (papermill injects it)
        stem = get_chapter(slug).stem
        pm.execute_notebook(str(root / "notebooks" / f"{stem}.ipynb"), str(work / "notebooks" / f"{stem}.ipynb"),
                            parameters={"preset": "smoke"}, prepare_only=True, kernel_name="python3")
    port, token = _free_port(), secrets.token_hex(16)
    settings = tmp_path / "lab-settings"
    for plugin, values in LAB_SETTINGS.items():
        path = settings / f"{plugin.replace(':', '/')}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"), "JUPYTER_DATA_DIR": str(tmp_path / "data"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"), "JUPYTERLAB_SETTINGS_DIR": str(settings)}
    env.pop("ROBUSTBOOK_STATIC", None)
    jupyter = Path(sys.executable).parent / "jupyter"
    proc = subprocess.Popen(
        [str(jupyter), "lab", "notebooks/", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--ServerApp.port_retries=0", "--allow-root"],
        cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(f"{base}/api/status?token={token}", proc)
        yield base, token, work
    finally:
        _shutdown(proc, f"{base}/api/shutdown?token={token}")
        log = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
        (tmp_path / "jupyter.log").write_text(log)


def _shutdown(proc: subprocess.Popen, url: str) -> None:
    """Ask the server to stop (it shuts its kernels down); kill the process group if it does not."""
    if proc.poll() is None:
        try:
            urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=5)
            proc.wait(timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the kernels too, whatever state the server is in
    except ProcessLookupError:
        pass


def _browser(p):
    return p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"])


def _offline(page) -> list[str]:
    """Abort every request that leaves 127.0.0.1; return the list of such requests."""
    blocked: list[str] = []

    def route(r):
        if r.request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")):
            return r.continue_()
        blocked.append(r.request.url)
        return r.abort()

    page.route("**/*", route)
    return blocked


def _run_all_and_wait(page, n_code_cells: int) -> None:
    """Run > Run All Cells, then wait until every code cell shows an execution count."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    page.wait_for_function(
        """(n) => { const p = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
                    return p.length === n && p.every(e => /\\[\\d+\\]/.test(e.textContent)); }""",
        arg=n_code_cells, timeout=RUN_TIMEOUT_MS)


def _accept_kernel_dialog(page) -> None:
    """JupyterLab sometimes asks which kernel to start; the notebook's own (python3) is preselected."""
    button = page.locator(".jp-Dialog button", has_text="Select")
    try:
        button.wait_for(timeout=5_000)
    except Exception:  # noqa: BLE001 - no dialog: the kernel started by itself
        return
    button.click()


def _code_cells(path: Path) -> int:
    return sum(c["cell_type"] == "code" for c in json.loads(path.read_text())["cells"])


def _error_outputs(page) -> list[str]:
    """Text of error outputs (an exception's traceback), not warnings or progress bars on stderr."""
    return page.eval_on_selector_all(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
        "els => els.map(e => e.textContent).filter(t => /Traceback|Error:/.test(t))")


def _explorer_image(page) -> str:
    img = page.locator(".widget-interact .jp-OutputArea-output img").last
    img.wait_for(timeout=60_000)
    return img.get_attribute("src")


def _press_run_with_a_new_value(page) -> None:
    """Move the first explorer slider that can move (one step right, else left: at preset smoke
    some sliders have a single option), or else pick another option in a dropdown, and press the
    explorer's Run button."""
    handles = page.locator(".widget-interact .noUi-handle")
    moved = False
    for i in range(handles.count()):
        handle = handles.nth(i)
        for key in ("ArrowRight", "ArrowLeft"):
            before = handle.get_attribute("aria-valuenow")
            handle.focus()
            handle.press(key)
            if handle.get_attribute("aria-valuenow") != before:
                moved = True
                break
        if moved:
            break
    selects = page.locator(".widget-interact select")
    for i in range(selects.count() if not moved else 0):
        values = selects.nth(i).locator("option").evaluate_all("os => os.map(o => o.value)")
        current = selects.nth(i).input_value()
        others = [v for v in values if v != current]
        if others:
            selects.nth(i).select_option(others[0])
            moved = True
            break
    assert moved, "no explorer control could be changed"
    page.locator(".widget-interact button", has_text="Run").click()


@pytest.mark.slow
@pytest.mark.parametrize("slug", SLUGS)
def test_chapter_runs_in_jupyterlab_with_a_live_explorer_and_saves_clean(lab, slug, tmp_path):
    from playwright.sync_api import sync_playwright

    base, token, work = lab
    stem = get_chapter(slug).stem
    with sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        blocked, console_errors = _offline(page), []
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        try:
            page.goto(f"{base}/lab/tree/{stem}.ipynb?token={token}", timeout=60_000)
            page.locator(".jp-Notebook").first.wait_for(timeout=60_000)
            _accept_kernel_dialog(page)
            page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=60_000)
            _run_all_and_wait(page, _code_cells(work / "notebooks" / f"{stem}.ipynb"))
            assert _error_outputs(page) == []
            before = _explorer_image(page)
            _press_run_with_a_new_value(page)
            page.wait_for_function(
                """(old) => { const i = [...document.querySelectorAll('.widget-interact .jp-OutputArea-output img')];
                              return i.length > 0 && i[i.length - 1].getAttribute('src') !== old; }""",
                arg=before, timeout=RUN_TIMEOUT_MS)
            assert _error_outputs(page) == []
            page.keyboard.press("Control+s")
            page.wait_for_timeout(1500)
        finally:
            page.screenshot(path=str(tmp_path / f"{stem}.lab.png"), full_page=True)  # also on failure
            browser.close()
    assert not [u for u in blocked if not u.startswith("chrome")], blocked
    saved = json.loads((work / "notebooks" / f"{stem}.ipynb").read_text())
    assert is_source_notebook(work / "notebooks" / f"{stem}.ipynb")
    code = [c for c in saved["cells"] if c["cell_type"] == "code"]
    assert code and not any(c.get("outputs") or c.get("execution_count") for c in code), (
        "saving from JupyterLab left outputs in a source notebook")
