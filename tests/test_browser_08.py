"""Notebook 08's beta explorer in a real browser: JupyterLab, driven by headless Chromium.

Modelled on ``test_browser.py`` (notebook 07), whose server and page helpers it reuses: the
notebook is copied to a temporary folder, JupyterLab starts on 127.0.0.1 with a random token and
its own empty model cache, and every cell is run (Run All). Then the beta slider is focused and
moved with the keyboard: the slider's value, the numbers beside it and the chart (its bytes, not
just its URL) must change, the reconstructions too, and no error output may appear. A screenshot
goes to ``build/browser/``. Without chromium or playwright the test skips with the reason, unless
VAE_COURSE_REQUIRE_BROWSER=1 (as in CI): then it fails.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from browser_support import find_chromium, wait_until_changes
from test_browser import SCREENSHOTS, error_texts, img_bytes, lab_after_run_all, server_env

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "08_diagnosing_vaes.ipynb"
RUN_ALL_S = 600  # with an empty model cache the notebook trains notebook 06's models too
EXPLORER = ".beta-explorer"  # the CSS class of BetaExplorer's box


@pytest.fixture(scope="module")
def chromium():
    return find_chromium("the browser test of notebook 08")


def move_the_beta_slider(page) -> None:
    box = page.locator(EXPLORER).first
    box.scroll_into_view_if_needed()
    handle = box.locator(".noUi-handle").first
    readout = box.locator(".widget-html-content").first
    chart = box.locator("img.widget-image").first
    recon = box.locator("img.widget-image").nth(1)
    value, text = handle.get_attribute("aria-valuenow"), readout.inner_text()
    chart_before, recon_before = img_bytes(chart), img_bytes(recon)
    handle.focus()
    page.keyboard.press("ArrowRight")  # the next beta of the sweep
    page.wait_for_function(
        "([el, v]) => el.getAttribute('aria-valuenow') !== v",
        arg=[handle.element_handle(), value],
        timeout=10_000,
    )
    wait_until_changes(lambda: img_bytes(chart), chart_before)
    wait_until_changes(readout.inner_text, text)
    assert img_bytes(chart) != chart_before, "the rate-distortion chart did not change"
    assert img_bytes(recon) != recon_before, "the reconstructions did not change"
    assert readout.inner_text() != text, "the run's numbers did not change"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "08_diagnosing_vaes_jupyterlab.png"), full_page=False)


def test_jupyterlab_runs_the_notebook_and_the_beta_slider_redraws(chromium, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(NOTEBOOK, work / NOTEBOOK.name)
    env = server_env(tmp_path, tmp_path / "model-cache")
    with lab_after_run_all(chromium, NOTEBOOK, work, env, tmp_path / "lab.log", RUN_ALL_S) as (
        page,
        server,
    ):
        page.wait_for_selector(f"{EXPLORER} .noUi-handle", timeout=30_000)
        errors = error_texts(page)
        assert not errors, f"error output after running every cell: {errors}\n{server.tail()}"
        move_the_beta_slider(page)
        errors = error_texts(page)
        assert not errors, f"error output after moving the beta slider: {errors}"
