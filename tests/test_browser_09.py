"""Notebook 09's digit explorer in a real browser: JupyterLab, driven by headless Chromium.

Modelled on ``test_browser_08.py``, whose server and page helpers (``test_browser.py``) it reuses.
The test writes a small notebook of its own, the cells that notebook 09 uses to show the
explorer (the course's conditional VAE from the model cache, trained there on the first run, and
``DigitExplorer(...).widget``), into a temporary folder; JupyterLab starts on 127.0.0.1 with a
random token and its own empty model cache, and every cell is run (Run All). Then a digit button
is clicked: the image (its bytes, not just its URL) and the readout must change to that digit;
then a style slider is focused and moved with the keyboard: its value, the readout and the
image must change again; no error output may appear. A screenshot goes to ``build/browser/``.
Without chromium or playwright the test skips with the reason, unless
VAE_COURSE_REQUIRE_BROWSER=1 (as in CI): then it fails.
"""

from __future__ import annotations

import nbformat
import pytest
from browser_support import find_chromium, wait_until_changes
from test_browser import SCREENSHOTS, error_texts, img_bytes, lab_after_run_all, server_env

pytestmark = [pytest.mark.browser, pytest.mark.slow]
RUN_ALL_S = 300  # an empty model cache: the conditional VAE trains (seconds on an idle machine)
EXPLORER = ".digit-explorer"  # the CSS class of DigitExplorer's box
CELLS = (
    "from lecture_utils import seed_everything\n"
    "from lecture_utils.conditional import train_cvae_cached\n"
    "from lecture_utils.widgets import DigitExplorer\n"
    "\n"
    "generator = seed_everything(0)",
    "cvae, history = train_cvae_cached()\nexplorer = DigitExplorer(cvae, digit=3)",
    "explorer.widget",
)


@pytest.fixture(scope="module")
def chromium():
    return find_chromium("the browser test of notebook 09's explorer")


def write_notebook(folder):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = folder / "digit_explorer.ipynb"
    nbformat.write(nb, path)
    return path


def press_a_digit_then_move_a_slider(page) -> None:
    box = page.locator(EXPLORER).first
    box.scroll_into_view_if_needed()
    image = box.locator("img.widget-image").first
    readout = box.locator(".widget-html-content").first
    before, text = img_bytes(image), readout.inner_text()
    assert "y = 3" in text, f"the explorer should start at digit 3, shows {text!r}"
    box.locator(".widget-toggle-button", has_text="7").first.click()
    wait_until_changes(lambda: img_bytes(image), before)
    wait_until_changes(readout.inner_text, text)
    assert img_bytes(image) != before, "pressing the digit 7 did not redraw the image"
    assert "y = 7" in readout.inner_text(), f"the readout shows {readout.inner_text()!r}"
    seven, text = img_bytes(image), readout.inner_text()
    handle = box.locator(".noUi-handle").first
    value = handle.get_attribute("aria-valuenow")
    handle.focus()
    for _ in range(10):  # 10 steps of 0.05: the style's first number grows by 0.5
        page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "([el, v]) => el.getAttribute('aria-valuenow') !== v",
        arg=[handle.element_handle(), value],
        timeout=10_000,
    )
    wait_until_changes(lambda: img_bytes(image), seven)
    wait_until_changes(readout.inner_text, text)
    assert img_bytes(image) != seven, "moving a style slider did not redraw the image"
    assert readout.inner_text() != text and "y = 7" in readout.inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "09_digit_explorer_jupyterlab.png"), full_page=False)


def test_jupyterlab_shows_the_digit_explorer_and_its_controls_redraw(chromium, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    notebook = write_notebook(work)
    env = server_env(tmp_path, tmp_path / "model-cache")
    with lab_after_run_all(chromium, notebook, work, env, tmp_path / "lab.log", RUN_ALL_S) as (
        page,
        server,
    ):
        page.wait_for_selector(f"{EXPLORER} .noUi-handle", timeout=30_000)
        errors = error_texts(page)
        assert not errors, f"error output after running every cell: {errors}\n{server.tail()}"
        press_a_digit_then_move_a_slider(page)
        errors = error_texts(page)
        assert not errors, f"error output after pressing a digit and moving a slider: {errors}"
