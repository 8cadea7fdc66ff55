import pytest
import torch
from torch import nn

from nodestudy.study import ODEClassifier


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


@pytest.mark.parametrize("form", ["auto", "dense", "conv"])
@pytest.mark.parametrize("length", [1, 2, 5, 10, 80])
def test_vector_field_equals_the_conv1d_network(length, form):
    torch.manual_seed(0)
    model = ODEClassifier.initialised([0, 1, 2], (1, length), 32, 2)
    with torch.no_grad():
        for bias in (model.b1, model.b2, model.b3):
            bias.normal_()
    z = torch.randn(3, 11, length)
    ours = model.vector_field(form)(None, z)
    for member in range(3):
        expected = reference_field(model, member)(z[member].reshape(11, 1, length))
        torch.testing.assert_close(ours[member], expected.reshape(11, length))


def test_dense_and_grouped_conv_forms_agree_with_several_channels():
    model = ODEClassifier.initialised([4, 5], (3, 6), 8, 2)
    z = torch.randn(2, 9, 18)
    torch.testing.assert_close(
        model.vector_field("dense")(None, z), model.vector_field("conv")(None, z)
    )


def test_an_unknown_or_unfit_form_is_refused():
    with pytest.raises(ValueError, match="unknown form"):
        ODEClassifier.initialised([0], (1, 2), 4, 2).vector_field("sparse")
    with pytest.raises(ValueError, match="1-D states"):
        ODEClassifier.initialised([0], (1, 4, 4), 4, 2).vector_field("dense")


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
