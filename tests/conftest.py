import pytest
import torch

from lecture_utils.models import VAE, Autoencoder
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


@pytest.fixture()
def models():
    """Untrained 2-D autoencoder and VAE, and a 4-D VAE, in eval mode (the latent views' tests)."""
    torch.manual_seed(0)
    return {
        "ae": Autoencoder(2, (16,)).eval(),
        "vae": VAE(2, (16,)).eval(),
        "vae4": VAE(4, (16,)).eval(),
    }


@pytest.fixture()
def digits():
    """12 random images ``(12, 1, 28, 28)`` and labels ``(12,)`` (the latent views' tests)."""
    g = torch.Generator().manual_seed(0)
    return torch.rand(12, 1, 28, 28, generator=g), torch.arange(12) % 10
