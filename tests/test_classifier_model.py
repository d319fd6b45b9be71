"""EncoderClassifier (notebook 03): shapes, loading an autoencoder's weights, freezing."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lecture_utils.models import VAE, Autoencoder, EncoderClassifier


@pytest.fixture
def pretrained():
    torch.manual_seed(1)
    return Autoencoder(6, (20,))


def manual_logits(ae, clf, x):
    """The classifier written out by hand from the autoencoder's weights."""
    first, last = ae.encoder[0], ae.encoder[2]
    h = torch.relu(x.reshape(len(x), -1) @ first.weight.T + first.bias)
    z = h @ last.weight.T + last.bias
    return z @ clf.head.weight.T + clf.head.bias


@pytest.mark.parametrize("shape", [(5, 1, 28, 28), (5, 784), (1, 1, 28, 28)])
def test_shapes(pretrained, shape):
    clf = EncoderClassifier.from_autoencoder(pretrained, n_classes=7)
    x = torch.rand(shape)
    assert clf.features(x).shape == (shape[0], 6)
    assert clf(x).shape == (shape[0], 7)
    assert clf.head.in_features == pretrained.latent_dim


def test_pretrained_weights_are_loaded_exactly(pretrained):
    clf = EncoderClassifier.from_autoencoder(pretrained)
    x = torch.rand(4, 1, 28, 28)
    torch.testing.assert_close(clf(x), manual_logits(pretrained, clf, x))
    torch.testing.assert_close(clf.features(x), pretrained.encode(x))
    encoder_state = clf.encoder[1].state_dict()
    assert encoder_state.keys() == pretrained.encoder.state_dict().keys()
    for key, value in pretrained.encoder.state_dict().items():
        assert torch.equal(encoder_state[key], value)
        assert encoder_state[key].data_ptr() != value.data_ptr()  # a copy, not shared memory


def test_the_copy_is_independent_of_the_autoencoder(pretrained):
    clf = EncoderClassifier.from_autoencoder(pretrained)
    x = torch.rand(3, 784)
    before = clf.features(x).detach().clone()
    with torch.no_grad():
        pretrained.encoder[0].weight.add_(1.0)  # later changes to the autoencoder ...
    torch.testing.assert_close(clf.features(x), before)  # ... do not reach the classifier


@pytest.mark.parametrize("frozen", [True, False])
def test_freezing_controls_which_parameters_get_gradients(pretrained, frozen):
    clf = EncoderClassifier.from_autoencoder(pretrained, freeze_encoder=frozen)
    assert clf.encoder_frozen is frozen
    assert all(p.requires_grad is not frozen for p in clf.encoder.parameters())
    assert all(p.requires_grad for p in clf.head.parameters())
    x, y = torch.rand(8, 1, 28, 28), torch.arange(8) % 10
    F.cross_entropy(clf(x), y).backward()
    assert all((p.grad is None) is frozen for p in clf.encoder.parameters())
    assert all(p.grad is not None for p in clf.head.parameters())


def test_linear_probe_leaves_the_encoder_and_fine_tuning_moves_it(pretrained):
    x, y = torch.rand(16, 1, 28, 28), torch.arange(16) % 10
    original = [p.detach().clone() for p in pretrained.parameters()]
    for frozen in (True, False):
        clf = EncoderClassifier.from_autoencoder(pretrained, freeze_encoder=frozen)
        enc_before = [p.detach().clone() for p in clf.encoder.parameters()]
        head_before = [p.detach().clone() for p in clf.head.parameters()]
        opt = torch.optim.Adam(clf.parameters(), lr=1e-2)
        for _ in range(3):
            opt.zero_grad()
            F.cross_entropy(clf(x), y).backward()
            opt.step()
        encoder_same = all(torch.equal(a, b) for a, b in zip(enc_before, clf.encoder.parameters()))
        assert encoder_same is frozen
        assert not any(torch.equal(a, b) for a, b in zip(head_before, clf.head.parameters()))
    # the autoencoder the classifiers came from never changes
    assert all(torch.equal(a, b) for a, b in zip(original, pretrained.parameters()))


def test_unfreeze_and_refreeze(pretrained):
    clf = EncoderClassifier.from_autoencoder(pretrained, freeze_encoder=True)
    clf.set_encoder_trainable(True)
    assert not clf.encoder_frozen and all(p.requires_grad for p in clf.parameters())
    clf.set_encoder_trainable(False)
    assert clf.encoder_frozen and all(p.requires_grad for p in clf.head.parameters())


def test_state_dict_round_trip(pretrained):
    clf = EncoderClassifier.from_autoencoder(pretrained, n_classes=4)
    other = EncoderClassifier.from_autoencoder(Autoencoder(6, (20,)), n_classes=4)
    x = torch.rand(3, 784)
    assert not torch.allclose(other(x), clf(x))
    other.load_state_dict(clf.state_dict())
    torch.testing.assert_close(other(x), clf(x))


def test_any_encoder_module_works():
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.Tanh())
    clf = EncoderClassifier(encoder, feature_dim=5, n_classes=2, freeze_encoder=True)
    assert clf(torch.rand(3, 3, 4)).shape == (3, 2)
    assert clf.encoder is not encoder and clf.encoder_frozen
    assert all(p.requires_grad for p in encoder.parameters())  # the original is untouched


def test_bad_arguments(pretrained):
    with pytest.raises(TypeError, match="encoder must be an nn.Module, got str"):
        EncoderClassifier("encoder", 4)
    with pytest.raises(TypeError, match="autoencoder must be an Autoencoder, got VAE"):
        EncoderClassifier.from_autoencoder(VAE(2))
    with pytest.raises(TypeError, match="freeze_encoder must be True or False"):
        EncoderClassifier(nn.Identity(), 3, freeze_encoder="yes")
    with pytest.raises(ValueError, match="feature_dim"):
        EncoderClassifier(nn.Identity(), 0)
    with pytest.raises(TypeError, match="n_classes"):
        EncoderClassifier(nn.Identity(), 3, n_classes=2.5)
    with pytest.raises(TypeError, match="Autoencoder"):
        EncoderClassifier.from_autoencoder(nn.Linear(784, 6))
    clf = EncoderClassifier.from_autoencoder(pretrained)
    with pytest.raises(ValueError, match="NaN"):
        clf(torch.full((2, 784), float("nan")))
    with pytest.raises(TypeError, match="Tensor"):
        clf([[0.0] * 784])


def test_a_wrong_feature_dim_says_what_the_encoder_gave():
    clf = EncoderClassifier(nn.Flatten(), feature_dim=5)
    with pytest.raises(ValueError, match=r"features of shape \(4, 784\).*feature_dim=5"):
        clf(torch.rand(4, 1, 28, 28))
    # a 3-D feature tensor is caught too, before the head sees it
    clf = EncoderClassifier(nn.Identity(), feature_dim=28)
    with pytest.raises(ValueError, match=r"features of shape \(4, 28, 28\)"):
        clf(torch.rand(4, 28, 28))


def test_input_dtype_and_single_images(pretrained):
    clf = EncoderClassifier.from_autoencoder(pretrained)
    with pytest.raises(TypeError, match=r"x has dtype torch.float64.*torch.float32"):
        clf(torch.rand(2, 784, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"x.unsqueeze\(0\)"):
        clf(torch.rand(784))
    with pytest.raises(TypeError, match="trainable must be True or False"):
        clf.set_encoder_trainable(0)
