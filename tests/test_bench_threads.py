"""scripts/bench_threads.py: the thread benchmark prints its rows, gives each notebook run a new
empty model cache, and never leaves its busy-loop process running (error, signal or kill)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest
from script_loader import load_script

from lecture_utils.seed import DEFAULT_THREADS

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "bench_threads.py"
bench = load_script("bench_threads", register=True)  # dataclasses look their module up there

NUMBER = r"(\d+\.\d+)"
STEP_ROW = re.compile(
    rf"^(1 thread|2 threads|2 threads, PASSIVE) +(idle|one core busy) +{NUMBER} +"
    rf"{NUMBER}-{NUMBER} +{NUMBER} +(-|\d+ %) +(-|{NUMBER})$",
    re.M,
)
NOTEBOOK_ROW = re.compile(rf"^(idle|one core busy) +{NUMBER} +(-|\d+ %)$", re.M)


def busy_loop_running(pid: int) -> bool:
    """Is ``pid`` still a live (not zombie) busy-loop process of the benchmark?

    An empty command line counts as the loop: Linux shows one for a moment while ``execve`` is
    still setting up a process that ``Popen`` has already returned."""
    try:
        proc = psutil.Process(pid)
        cmdline = proc.cmdline()
        return proc.status() != psutil.STATUS_ZOMBIE and (not cmdline or bench.BUSY_LOOP in cmdline)
    except psutil.Error:
        return False


def describe(pid: int, stderr: str) -> str:
    """What became of ``pid`` (for failure messages)."""
    try:
        proc = psutil.Process(pid)
        state = f"{proc.status()}, parent {proc.ppid()}, {proc.cmdline()}"
    except psutil.Error as error:
        state = repr(error)
    return f"busy loop {pid}: {state}\nstderr so far:\n{stderr}"


def ratio_agrees(ratio: float, num: float, den: float) -> bool:
    """Is a printed ratio (2 decimals) ``num / den`` for ``num`` and ``den`` printed with
    1 decimal (each up to 0.05 off)?"""
    low, high = (num - 0.05) / (den + 0.05), (num + 0.05) / max(den - 0.05, 1e-9)
    return low - 0.005 <= ratio <= high + 0.005


def started_pids(stderr: str) -> list[int]:
    return [int(p) for p in re.findall(r"busy loop started \(pid (\d+)\)", stderr)]


def run_env(tmp_path: Path) -> dict[str, str]:
    return dict(os.environ, VAE_COURSE_CACHE=str(tmp_path / "own-cache"), PYTHONUNBUFFERED="1")


def test_busy_core_kills_its_process_when_the_block_fails():
    me = psutil.Process()
    with pytest.raises(RuntimeError, match="inside"):
        with bench.busy_core() as busy:
            assert busy.pid in [c.pid for c in me.children()]
            assert busy_loop_running(busy.pid)
            time.sleep(0.3)
            raise RuntimeError("inside the block")
    assert busy.pid not in [c.pid for c in me.children(recursive=True)]
    assert not busy_loop_running(busy.pid)
    assert busy.core_share is not None and busy.core_share > 0
    before = {c.pid for c in me.children(recursive=True)}
    with bench.busy_core(False) as idle:
        assert {c.pid for c in me.children(recursive=True)} == before
    assert idle.pid is None and idle.core_share is None


def test_bad_arguments_are_refused_with_the_value():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--repeats", "0"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "positive whole number, got '0'" in done.stderr
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--notebook", "no_such.ipynb"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "no notebook at 'no_such.ipynb'" in done.stderr


@pytest.mark.slow
def test_quick_run_prints_every_row_and_leaves_nothing_running(tmp_path):
    record = tmp_path / "record.jsonl"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import json, os\n"
            "cache = os.environ['VAE_COURSE_CACHE']\n"
            f"with open({str(record)!r}, 'a') as f:\n"
            "    f.write(json.dumps({'cache': cache, 'files': os.listdir(cache)}) + '\\n')\n"
            "open(os.path.join(cache, 'model.pt'), 'w').close()  # the next run must not see it"
        ),
        nbformat.v4.new_code_cell("sum(i * i for i in range(300_000))"),
    ]
    notebook = tmp_path / "tiny.ipynb"
    nbformat.write(nb, notebook)
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--steps", "--notebook", str(notebook)],
        capture_output=True,
        text=True,
        timeout=900,
        env=run_env(tmp_path),
    )
    out = done.stdout
    assert done.returncode == 0, done.stderr
    assert f"DEFAULT_THREADS = {DEFAULT_THREADS} thread" in out
    assert re.search(r"^load average at start: \d+\.\d\d \d+\.\d\d \d+\.\d\d", out, re.M)
    assert "1 warm-up step, then 2 repeats of 3 steps" in out

    rows = STEP_ROW.findall(out)
    assert [(r[0], r[1]) for r in rows] == [
        (label, load) for label, _, _ in bench.SETTINGS for load in bench.LOADS
    ]
    medians = {}
    for label, load, median, low, high, cpu, share, ratio, _ in rows:
        median, low, high = float(median), float(low), float(high)
        assert 0 < low <= median <= high and float(cpu) > 0
        medians[label, load] = median
        assert (share == "-") == (load == "idle") and (ratio == "-") == (load == "idle")
        if load != "idle":  # busy median / idle median, both as printed
            assert ratio_agrees(float(ratio), median, medians[label, "idle"])

    nb_rows = NOTEBOOK_ROW.findall(out)
    assert [r[0] for r in nb_rows] == ["idle", "one core busy"]
    idle, loaded = (float(r[1]) for r in nb_rows)
    assert idle > 0 and loaded > 0
    ratio = float(re.search(rf"^busy / idle: {NUMBER}", out, re.M).group(1))
    assert ratio_agrees(ratio, loaded, idle)

    # each notebook run saw its own new, empty cache, removed afterwards
    runs = [json.loads(line) for line in record.read_text().splitlines()]
    assert len(runs) == 2 and runs[0]["cache"] != runs[1]["cache"]
    assert all(r["files"] == [] and not Path(r["cache"]).exists() for r in runs)
    assert str(tmp_path / "own-cache") not in {r["cache"] for r in runs}

    pids = started_pids(done.stderr)
    assert len(pids) == 4  # three busy step rows and one busy notebook run
    for pid in pids:
        assert f"busy loop stopped (pid {pid})" in done.stderr
        assert not busy_loop_running(pid)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_a_stopped_benchmark_stops_its_busy_loop(tmp_path, signum):
    """Ctrl-C and SIGTERM stop the loop on the way out; after SIGKILL it stops by itself."""
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--quick"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=run_env(tmp_path),
        # a test run started in the background (`pytest &`) ignores SIGINT, and its children
        # inherit that; give the benchmark the default Ctrl-C of a terminal
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        seen = ""
        while not started_pids(seen):
            line = proc.stderr.readline()
            assert line, f"the benchmark ended before starting a busy loop:\n{seen}"
            seen += line
        (pid,) = started_pids(seen)
        assert busy_loop_running(pid), describe(pid, seen)
        proc.send_signal(signum)
        seen += proc.communicate(timeout=120)[1]
    finally:
        proc.kill()
        proc.wait()
    if signum == signal.SIGKILL:
        assert "busy loop stopped" not in seen
        deadline = time.monotonic() + 20
        while busy_loop_running(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    else:
        # Ctrl-C: Python's own exit by SIGINT; SIGTERM: the script's SystemExit(128 + 15)
        expected = -signum if signum == signal.SIGINT else 128 + signum
        assert proc.returncode == expected, seen
        assert f"busy loop stopped (pid {pid})" in seen
    assert not busy_loop_running(pid)
