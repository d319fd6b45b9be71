"""What every browser test shares: skip, or fail in CI, when chromium or playwright is missing.

Debian's chromium is driven through Python's playwright, pointed at the system binary (never
``playwright install``). Without either, the browser tests skip and say why, unless
``VAE_COURSE_REQUIRE_BROWSER=1`` (as ``.ci/run`` sets): then they fail.
"""

from __future__ import annotations

import os
import shutil
import time

import pytest

REQUIRE_BROWSER = os.environ.get("VAE_COURSE_REQUIRE_BROWSER") == "1"


def unavailable(reason: str) -> None:
    """Skip, or fail when CI demands that the browser tests run."""
    if REQUIRE_BROWSER:
        pytest.fail(f"{reason} (VAE_COURSE_REQUIRE_BROWSER=1, so this is an error)")
    pytest.skip(reason)


def find_chromium(what: str = "the browser tests") -> str:
    """The chromium binary, once playwright is importable too; else skip (or fail in CI)."""
    path = shutil.which("chromium")
    if path is None:
        unavailable(
            f"chromium not found on PATH (Debian: apt-get install chromium); {what} need it"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        unavailable("the Python package playwright is not installed")
    return path


def wait_until_changes(read, before, seconds: float = 20):
    """Call ``read()`` every 0.2 s until it returns something other than ``before`` or
    ``seconds`` have passed; return the last value read (the caller asserts on it)."""
    deadline = time.monotonic() + seconds
    while (now := read()) == before and time.monotonic() < deadline:
        time.sleep(0.2)
    return now
