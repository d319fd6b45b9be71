"""Cold and warm start of the presenter app (``make app``): seconds from opening the page to its
first visible slider, in headless Chromium at 1280x720.

Cold: an empty model cache (the page trains the models of its five tabs and shows their
progress). Warm: the same cache again, now full. The server is started as ``make app`` starts it.

    .venv/bin/python scripts/bench_app.py            # prints "cold: ... s" and "warm: ... s"
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = ROOT / "apps"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def first_control_seconds(cache: Path, tmp: Path) -> float:
    """Start the app on a free port with ``cache``, open it, time the first visible slider."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    env = dict(os.environ, JUPYTER_PATH=str(APPS / "jupyter"), VAE_COURSE_CACHE=str(cache))
    env.update(JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), IPYTHONDIR=str(tmp / "ipython"))
    args = [sys.executable, "-m", "voila", f"--Voila.config_file_paths={APPS}"]
    args += [f"--port={port}", str(APPS / "latent_explorer.ipynb")]
    server = subprocess.Popen(args, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=shutil.which("chromium"),
                headless=True,
                args=["--no-sandbox", "--disable-background-networking"],
            )
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            start = time.monotonic()
            page.goto(f"http://127.0.0.1:{port}/")
            page.locator(".noUi-handle").first.wait_for(state="visible", timeout=600_000)
            seconds = time.monotonic() - start
            browser.close()
        return seconds
    finally:
        server.terminate()
        server.wait(timeout=60)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "models"
        print(f"cold: {first_control_seconds(cache, Path(tmp)):.1f} s (empty model cache)")
        print(f"warm: {first_control_seconds(cache, Path(tmp)):.1f} s")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
