import pytest
import torch

from lecture_utils.seed import torch_threads


def pytest_collection_modifyitems(config, items):
    """Every cell that nbval collects from a notebook is marked `notebooks` and `slow`."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.notebooks)
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _seed():
    """Each test starts from seed 0 on the course's one torch thread; the count is restored after.

    One thread is the course's policy (lecture_utils.seed.DEFAULT_THREADS); it also keeps test
    times steady on a busy machine, where torch's default of one thread per core contends.
    """
    torch.manual_seed(0)
    with torch_threads():
        yield
