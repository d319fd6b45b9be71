import pytest
import torch


def pytest_collection_modifyitems(config, items):
    """Every cell that nbval collects from a notebook is marked `notebooks` and `slow`."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.notebooks)
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield
