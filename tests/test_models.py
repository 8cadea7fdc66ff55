import pytest
import torch
from torch import nn

from nodestudy import ODEClassifier


def reference_field(model, member):
    """The paper's vector field for one member, built from torch.nn layers."""
    c, h = model.state_shape[0], model.hidden_channels
    layers = nn.Sequential(
        nn.Conv1d(c, h, 1), nn.ReLU(), nn.Conv1d(h, h, 3, padding=1), nn.ReLU(), nn.Conv1d(h, c, 1)
    )
    with torch.no_grad():
        for layer, (w, b) in zip(layers[::2], [("w1", "b1"), ("w2", "b2"), ("w3", "b3")]):
            layer.weight.copy_(getattr(model, w)[member])
            layer.bias.copy_(getattr(model, b)[member])
    return layers


@pytest.mark.parametrize("length", [1, 2, 5, 80])
def test_vector_field_equals_the_conv1d_network(length):
    # length 80 with 32 channels exceeds DENSE_LIMIT, so it uses the grouped-conv path
    torch.manual_seed(0)
    model = ODEClassifier.initialised([0, 1, 2], (1, length), 32, 2)
    with torch.no_grad():
        for bias in (model.b1, model.b2, model.b3):
            bias.normal_()
    z = torch.randn(3, 11, length)
    ours = model.vector_field()(z)
    for member in range(3):
        expected = reference_field(model, member)(z[member].reshape(11, 1, length))
        torch.testing.assert_close(ours[member], expected.reshape(11, length))


def test_dense_and_grouped_conv_forms_agree():
    model = ODEClassifier.initialised([4, 5], (1, 6), 8, 2)
    z = torch.randn(2, 9, 6)
    torch.testing.assert_close(model._dense_field()(z), model._conv_field()(z))


def test_kaiming_fan_in_initialisation_and_zero_biases():
    model = ODEClassifier.initialised(list(range(20)), (1, 2), 32, 2)
    assert model.w2.std().item() == pytest.approx((2 / (32 * 3)) ** 0.5, rel=0.05)
    assert model.w1.std().item() == pytest.approx(2**0.5, rel=0.1)
    assert all(torch.all(b == 0) for b in (model.b1, model.b2, model.b3, model.head_bias))


def test_each_member_is_fixed_by_its_seed_alone():
    together = ODEClassifier.initialised([7, 8], (1, 2), 32, 2)
    alone = ODEClassifier.initialised([8], (1, 2), 32, 2)
    torch.testing.assert_close(together.member_state(1), alone.member_state(0))
    assert not torch.equal(together.w2[0], together.w2[1])
