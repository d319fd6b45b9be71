"""Notebook 07 in a real browser: JupyterLab and voila, driven by headless Chromium.

Each test copies the notebook to a temporary folder, starts a server on 127.0.0.1 with a random
token, and opens the page with playwright in Debian's ``chromium`` (``executable_path``; never
``playwright install``). In JupyterLab every cell is run; in voila the app runs itself. Then a
slider is focused and moved with the keyboard, and the test asserts that the decoded image
changes (its bytes, not just its URL) and that no error output appears. Then a point of the
2-D manifold's scatter is clicked (the first digit's point, found by its red ring, after the
keyboard has chosen the next digit): the digit drawn there must be chosen (its ring lands on
the clicked pixel, the caption and the slider follow), its image must change, and no error
output may appear. Screenshots go to
``build/browser/``. Both servers share one temporary model cache, so the models are trained once.

Without chromium or playwright these tests skip with the reason, unless
VAE_COURSE_REQUIRE_BROWSER=1 (as in CI): then they fail.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from browser_support import find_chromium, wait_until_changes

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "07_latent_explorer.ipynb"
SCREENSHOTS = ROOT / "build" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVER_START_S = 120
RUN_ALL_S = 360

# The image of the first explorer (the 2-D VAE's sliders) and its first slider's handle.
SLIDERS_BOX = ".widget-hbox:has(> .widget-vbox .widget-slider):has(> .widget-image)"
# The manifold explorer: grid, scatter, then the panel (digit slider, chosen pair, probe, caption).
MANIFOLD_BOX = ".widget-hbox:has(> img.widget-image + img.widget-image + .widget-vbox)"
ERROR_OUTPUTS = (
    '[data-mime-type="application/vnd.jupyter.stderr"]',
    '[data-mime-type="application/vnd.jupyter.error"]',
    ".jp-RenderedText.error",
)


@pytest.fixture(scope="module")
def chromium():
    return find_chromium("the browser tests of notebook 07")


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory):
    """One empty model cache for both servers: the first run trains, the second loads."""
    return tmp_path_factory.mktemp("model-cache")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(tmp: Path, cache: Path) -> dict[str, str]:
    """Keep Jupyter's runtime, config and settings inside ``tmp``, so that nothing of the
    user's setup is read or changed; turn off JupyterLab's news and update checks."""
    settings = tmp / "lab-settings"
    for plugin, values in {
        "@jupyterlab/apputils-extension/notification": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    }.items():
        target = settings / f"{plugin}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    env = dict(os.environ)
    env.update(
        {
            "JUPYTER_CONFIG_DIR": str(tmp / "config"),
            "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
            "IPYTHONDIR": str(tmp / "ipython"),
            "VAE_COURSE_CACHE": str(cache),
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        }
    )
    return env


class Server:
    """A Jupyter server subprocess; waits until it answers, stops it on exit."""

    def __init__(self, args: list[str], port: int, token: str, cwd: Path, env: dict, log: Path):
        self.port, self.token, self.log = port, token, log
        self._log = open(log, "wb")
        self.proc = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{self.port}{path}{sep}token={self.token}"

    def wait(self, path: str | None = None) -> None:
        """Until ``path`` answers 200 (or, with no path, until the port accepts a connection:
        any page of voila would start running the notebook)."""
        deadline = time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"the server exited with code {self.proc.returncode}:\n{self.tail()}")
            try:
                if path is None:
                    socket.create_connection(("127.0.0.1", self.port), timeout=5).close()
                    return
                with urllib.request.urlopen(self.url(path), timeout=5) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        pytest.fail(f"the server did not answer within {SERVER_START_S} s:\n{self.tail()}")

    def tail(self, n: int = 4000) -> str:
        self._log.flush()
        return self.log.read_bytes()[-n:].decode(errors="replace")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def copy_notebook(tmp: Path) -> Path:
    work = tmp / "work"
    work.mkdir()
    shutil.copy(NOTEBOOK, work / NOTEBOOK.name)
    return work


def image_bytes(page, box) -> bytes:
    """The bytes behind the sliders' image."""
    return img_bytes(box.locator("img").first)


def error_texts(page) -> list[str]:
    found = []
    for selector in ERROR_OUTPUTS:
        found += page.locator(selector).all_inner_texts()
    for marker in (
        "Error displaying widget",
        "Click to show javascript error",
        "Traceback (most recent call last)",
    ):
        if page.get_by_text(marker).count():
            found.append(marker)
    return found


def move_slider_with_keyboard(page, name: str) -> None:
    """Focus the first slider of the 2-D VAE's explorer, press the right arrow, and check
    that its value, the z readout and the decoded image all change."""
    box = page.locator(SLIDERS_BOX).first
    box.scroll_into_view_if_needed()
    handle = box.locator(".noUi-handle").first
    readout = box.locator(".widget-html-content").first
    value_before, text_before = handle.get_attribute("aria-valuenow"), readout.inner_text()
    image_before = image_bytes(page, box)
    handle.focus()
    for _ in range(10):  # 10 steps of 0.05: z1 grows by 0.5
        page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "([el, v]) => el.getAttribute('aria-valuenow') !== v",
        arg=[handle.element_handle(), value_before],
        timeout=10_000,
    )
    deadline = time.monotonic() + 20
    while image_bytes(page, box) == image_before and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert image_bytes(page, box) != image_before, f"{name}: the decoded image did not change"
    assert readout.inner_text() != text_before, f"{name}: the z readout did not change"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"07_latent_explorer_{name}.png"), full_page=False)


def img_bytes(img) -> bytes:
    """The bytes behind an ``<img>`` of the page, read in the page."""
    import base64

    return base64.b64decode(
        img.evaluate(
            """async img => {
            const buf = await (await fetch(img.src)).arrayBuffer();
            return btoa(String.fromCharCode(...new Uint8Array(buf)));
        }"""
        )
    )


def ring_centre(png: bytes) -> tuple[float, float]:
    """(x, y) of the red ring's centre, in the picture's own pixels (y downwards)."""
    import io

    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    red = np.argwhere((rgb[..., 0] > 200) & (rgb[..., 1] < 60) & (rgb[..., 2] < 60))
    assert len(red) > 10, "no red ring on the scatter"
    row, col = red.mean(0)
    return float(col), float(row)


def click_a_point_of_the_scatter(page, name: str) -> None:
    """Choose the next digit with the keyboard, then click the first digit's point (where its
    ring was): the digit drawn there is chosen (the first one, or one drawn on the same pixel),
    in the ring, the caption, the slider and the image."""
    box = page.locator(MANIFOLD_BOX).first
    box.scroll_into_view_if_needed()
    scatter = box.locator("> img.widget-image").nth(1)
    panel = box.locator("> .widget-vbox").first
    chosen = panel.locator("img.widget-image").first
    handle = panel.locator(".noUi-handle").first
    caption = panel.locator(".widget-html-content").last
    first = int(float(handle.get_attribute("aria-valuenow")))
    x, y = ring_centre(img_bytes(scatter))
    image_first, text_first = img_bytes(chosen), caption.inner_text()
    assert f"digit #{first}:" in text_first, f"{name}: caption {text_first!r}, slider at {first}"
    handle.focus()
    page.keyboard.press("ArrowRight")
    wait_until_changes(lambda: img_bytes(chosen), image_first)
    wait_until_changes(caption.inner_text, text_first)
    image_next, text_next = img_bytes(chosen), caption.inner_text()
    assert image_next != image_first, f"{name}: the keyboard did not choose another digit"
    wait_until_changes(lambda: ring_centre(img_bytes(scatter)), (x, y))
    nx, ny = ring_centre(img_bytes(scatter))
    assert (nx - x) ** 2 + (ny - y) ** 2 > 4**2, f"{name}: the next digit is drawn on the first"
    # click the first digit's pixel; the page may show the picture resized, so scale
    natural = scatter.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    shown = scatter.bounding_box()
    scatter.click(
        position={
            "x": (round(x) + 0.5) * shown["width"] / natural[0],
            "y": (round(y) + 0.5) * shown["height"] / natural[1],
        }
    )
    wait_until_changes(lambda: img_bytes(chosen), image_next)
    assert img_bytes(chosen) != image_next, f"{name}: clicking a point did not change the image"
    # the digit drawn nearest the click is chosen: the first, or one drawn on the same pixel
    wait_until_changes(caption.inner_text, text_next)
    text = caption.inner_text()
    chosen_index = int(re.match(r"digit #(\d+):", text).group(1))
    cx, cy = ring_centre(img_bytes(scatter))
    assert abs(cx - x) <= 1.5 and abs(cy - y) <= 1.5, (
        f"{name}: clicked the pixel ({x:.1f}, {y:.1f}) of digit #{first}, chose #{chosen_index}, "
        f"drawn at ({cx:.1f}, {cy:.1f})"
    )
    page.wait_for_function(
        "([el, v]) => parseFloat(el.getAttribute('aria-valuenow')) === v",
        arg=[handle.element_handle(), chosen_index],
        timeout=10_000,
    )
    if chosen_index == first:
        assert text == text_first and img_bytes(chosen) == image_first, (
            f"{name}: the first digit's caption or image did not come back"
        )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"07_latent_explorer_{name}_click.png"), full_page=False)


@contextlib.contextmanager
def served_page(chromium_path: str, server: Server, ready: str | None = None):
    """Wait for ``server`` (see :meth:`Server.wait`), open a headless Chromium page, and stop
    both afterwards."""
    from playwright.sync_api import sync_playwright

    try:
        server.wait(ready)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
            )
            try:
                yield browser.new_page(viewport={"width": 1400, "height": 1000})
            finally:
                browser.close()
    finally:
        server.stop()


def no_errors_then_slider_and_click(page, name: str, server: Server) -> None:
    errors = error_texts(page)
    assert not errors, f"{name}: error output after running every cell: {errors}\n{server.tail()}"
    move_slider_with_keyboard(page, name)
    errors = error_texts(page)
    assert not errors, f"{name}: error output after moving the slider: {errors}"
    click_a_point_of_the_scatter(page, name)
    errors = error_texts(page)
    assert not errors, f"{name}: error output after clicking the scatter: {errors}"


@contextlib.contextmanager
def lab_after_run_all(chromium, notebook: Path, work: Path, env: dict, log: Path, seconds: float):
    """JupyterLab serving ``work``, with ``work/<notebook>`` open and every cell run as
    Run > Run All Cells does; yields ``(page, server)`` (notebooks 07 and 08 use it)."""
    port, token = free_port(), secrets.token_hex(16)
    args = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={work}",
        "--LabApp.expose_app_in_browser=True",
        "--ServerApp.allow_root=True",
    ]
    server = Server(args, port, token, work, env, log)
    with served_page(chromium, server, ready="/api/status") as page:
        page.goto(server.url(f"/lab/tree/{notebook.name}?reset"), timeout=120_000)
        page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=120_000)
        page.wait_for_function(
            """() => {
                const nb = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                const kernel = nb && nb.sessionContext && nb.sessionContext.session
                    && nb.sessionContext.session.kernel;
                return kernel && kernel.status === 'idle';
            }""",
            timeout=120_000,
        )
        # what Run > Run All Cells does
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        n_code = sum(c["cell_type"] == "code" for c in json.loads(notebook.read_text())["cells"])
        page.wait_for_function(
            """n => {
                const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                    .map(p => p.textContent.trim());
                return prompts.length === n && prompts.every(t => /^\\[\\d+\\]:$/.test(t))
                    && Math.max(...prompts.map(t => parseInt(t.slice(1)))) === n;
            }""",
            arg=n_code,
            timeout=seconds * 1000,
            polling=500,
        )
        yield page, server


def test_jupyterlab_runs_the_notebook_slider_and_click_redraw(chromium, model_cache, tmp_path):
    work = copy_notebook(tmp_path)
    env = server_env(tmp_path, model_cache)
    with lab_after_run_all(chromium, NOTEBOOK, work, env, tmp_path / "lab.log", RUN_ALL_S) as (
        page,
        server,
    ):
        page.wait_for_selector(f"{SLIDERS_BOX} .noUi-handle", timeout=30_000)
        no_errors_then_slider_and_click(page, "jupyterlab", server)


def test_voila_app_runs_slider_and_click_redraw(chromium, model_cache, tmp_path):
    work = copy_notebook(tmp_path)
    port, token = free_port(), secrets.token_hex(16)
    args = [
        sys.executable,
        "-m",
        "voila",
        str(work / NOTEBOOK.name),
        "--no-browser",
        "--Voila.ip=127.0.0.1",
        f"--port={port}",
        f"--token={token}",
        "--ServerApp.port_retries=0",
        "--show_tracebacks=True",
    ]
    server = Server(
        args, port, token, work, server_env(tmp_path, model_cache), tmp_path / "voila.log"
    )
    with served_page(chromium, server) as page:
        page.goto(server.url("/"), timeout=RUN_ALL_S * 1000)
        # voila runs every cell, then renders; the glossary is the last output
        page.wait_for_selector(f"{SLIDERS_BOX} .noUi-handle", timeout=RUN_ALL_S * 1000)
        page.get_by_text("Glossary").first.wait_for(timeout=RUN_ALL_S * 1000)
        page.wait_for_load_state("networkidle", timeout=60_000)
        assert page.locator(".widget-image").count() >= 4, "the explorers' images are missing"
        no_errors_then_slider_and_click(page, "voila", server)
