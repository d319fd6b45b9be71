import pytest
import torch

from lecture_utils.models import VAE, Autoencoder


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
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
