"""The paper's Neural ODE classifier, stored as an ensemble of independent members.

Each member is the model of PAPER.md: an autonomous vector field
Conv(C->H, 1) -> ReLU -> Conv(H->H, 3, padding 1) -> ReLU -> Conv(H->C, 1)
acting on the state, integrated over [0, 1], with 1-D convolutions for a length-L
sequence with C channels (the spheres) and 2-D ones for a C x H x W image (the raw
image is the state),
then flatten and one linear layer to the classes. No layers before the ODE block.

Why an ensemble: the study trains many seeds of each configuration, and on a CPU
these tiny models are bound by per-operation overhead, not arithmetic. Stacking the
seeds' weights on a leading "member" axis lets one batched matrix product serve all
of them; Adam is elementwise and the loss is a sum of per-member losses, so every
member trains exactly as it would alone (``tests/test_training.py`` checks this).

Weights are kept in the convolutions' own shapes. For short states the convolutions
are applied as the equivalent dense (banded) matrices, built once per solve, which is
several times faster than ``conv1d`` on CPU; longer states use grouped convolutions.
The dense form does the zero taps' arithmetic too, so its cost grows with the square
of the length: ``benchmarks/field_speed.py`` measured where the two cross.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core.errors import NodestudyError
from ..core.integrate import ParametrisedField, Solution, solve
from ..core.solvers import SolverSpec

#: Use dense matrices while hidden_channels * length is at most this. Measured on a
#: 2-core CPU with 32 hidden channels (``benchmarks/field_speed.py``): dense is
#: 2-4.7x faster than grouped conv1d at lengths 2-4, 1.3x at 6, and slower from 8
#: on (1.1-1.3x slower at 10, the 10-d sphere, over repeated runs).
DENSE_LIMIT = 192

FIELD_FORMS = ("auto", "dense", "conv")

PARAMETER_NAMES = ("w1", "b1", "w2", "b2", "w3", "b3", "head_weight", "head_bias")


@dataclass(frozen=True)
class MemberODE:
    """One trained member as torchdiffeq users write models: ``func(t, z)`` and
    ``head(z_T) -> logits`` on states of the inputs' shape."""

    func: Callable[[Tensor, Tensor], Tensor]
    head: Callable[[Tensor], Tensor]


def member_generators(seed: int) -> tuple[torch.Generator, torch.Generator]:
    """Independent generators for a seed's initial weights and its batch order."""
    init_seed, batch_seed = np.random.SeedSequence(seed).generate_state(2, dtype=np.uint64)
    return (
        torch.Generator().manual_seed(int(init_seed)),
        torch.Generator().manual_seed(int(batch_seed)),
    )


class ODEClassifier(nn.Module):
    """``n_members`` independent Neural ODE classifiers with stacked weights.

    States are handled flat, shape (members, batch, C*L), channel-major.
    """

    def __init__(
        self,
        n_members: int,
        state_shape: Sequence[int],
        hidden_channels: int,
        n_classes: int,
    ) -> None:
        super().__init__()
        if len(state_shape) not in (2, 3):
            raise NodestudyError(
                f"states are (C, L) for points or (C, H, W) for images, not "
                f"{tuple(state_shape)}; reshape the inputs to one of them"
            )
        self.n_members = n_members
        self.state_shape = tuple(state_shape)
        self.hidden_channels = hidden_channels
        self.n_classes = n_classes
        s, c, hid = n_members, state_shape[0], hidden_channels
        ones, threes = (1,) * self.spatial_dims, (3,) * self.spatial_dims
        self.w1 = nn.Parameter(torch.zeros(s, hid, c, *ones))
        self.b1 = nn.Parameter(torch.zeros(s, hid))
        self.w2 = nn.Parameter(torch.zeros(s, hid, hid, *threes))
        self.b2 = nn.Parameter(torch.zeros(s, hid))
        self.w3 = nn.Parameter(torch.zeros(s, c, hid, *ones))
        self.b3 = nn.Parameter(torch.zeros(s, c))
        self.head_weight = nn.Parameter(torch.zeros(s, n_classes, math.prod(state_shape)))
        self.head_bias = nn.Parameter(torch.zeros(s, n_classes))

    @classmethod
    def initialised(
        cls,
        seeds: Sequence[int],
        state_shape: Sequence[int],
        hidden_channels: int,
        n_classes: int,
    ) -> ODEClassifier:
        """Kaiming-normal (fan-in) weights and zero biases, each member from its seed."""
        model = cls(len(seeds), state_shape, hidden_channels, n_classes)
        with torch.no_grad():
            for member, seed in enumerate(seeds):
                generator, _ = member_generators(seed)
                for weight in (model.w1, model.w2, model.w3, model.head_weight):
                    nn.init.kaiming_normal_(
                        weight[member], mode="fan_in", nonlinearity="relu", generator=generator
                    )
        return model

    @property
    def state_size(self) -> int:
        return math.prod(self.state_shape)

    @property
    def spatial_dims(self) -> int:
        """1 for sequences (the spheres), 2 for images."""
        return len(self.state_shape) - 1

    # -- the ODE block --------------------------------------------------------------

    def vector_field(self, form: str = "auto") -> ParametrisedField:
        """f(z) for the current weights, for states of shape (members, batch, C*L).

        ``form`` picks the computation: "dense" (banded matrices; 1-D states only),
        "conv" (grouped convolutions) or "auto" (dense for short sequences, see
        ``DENSE_LIMIT``). All compute the same function. Build it once per solve:
        the dense form assembles its matrices here.
        """
        if form not in FIELD_FORMS:
            raise NodestudyError(f"unknown form {form!r}; choose one of {', '.join(FIELD_FORMS)}")
        if form == "auto":
            short = self.hidden_channels * self.state_shape[-1] <= DENSE_LIMIT
            form = "dense" if self.spatial_dims == 1 and short else "conv"
        if form == "dense":
            if self.spatial_dims != 1:
                raise NodestudyError(
                    "the dense form is for 1-D states (C, L) only; use form='conv' for images"
                )
            return self._dense_field()
        return self._conv_field()

    def _dense_field(self) -> ParametrisedField:
        s, length = self.n_members, self.state_shape[1]
        eye = torch.eye(length, dtype=self.w1.dtype, device=self.w1.device)
        # shift[k, q, p] = 1 where input position q feeds output position p via tap k.
        shift = torch.stack(
            [torch.diag(eye.new_ones(length - abs(1 - k)), 1 - k) for k in range(3)]
        )
        m1 = torch.einsum("shc,lm->sclhm", self.w1[..., 0], eye).reshape(s, -1, self._hidden_size)
        m2 = torch.einsum("soik,kqp->siqop", self.w2, shift).reshape(
            s, self._hidden_size, self._hidden_size
        )
        m3 = torch.einsum("sch,lm->shlcm", self.w3[..., 0], eye).reshape(
            s, self._hidden_size, self.state_size
        )
        bias1 = self.b1.repeat_interleave(length, dim=1).unsqueeze(1)
        bias2 = self.b2.repeat_interleave(length, dim=1).unsqueeze(1)
        bias3 = self.b3.repeat_interleave(length, dim=1).unsqueeze(1)

        def field(t: Tensor, z: Tensor) -> Tensor:
            hidden = torch.relu(torch.baddbmm(bias1, z, m1))
            hidden = torch.relu(torch.baddbmm(bias2, hidden, m2))
            return torch.baddbmm(bias3, hidden, m3)

        return ParametrisedField(field, (m1, m2, m3, bias1, bias2, bias3))

    def _conv_field(self) -> ParametrisedField:
        s, c, hid = self.n_members, self.state_shape[0], self.hidden_channels
        spatial = self.state_shape[1:]
        conv = F.conv1d if self.spatial_dims == 1 else F.conv2d
        w1, b1 = self.w1.reshape(s * hid, *self.w1.shape[2:]), self.b1.reshape(-1)
        w2, b2 = self.w2.reshape(s * hid, *self.w2.shape[2:]), self.b2.reshape(-1)
        w3, b3 = self.w3.reshape(s * c, *self.w3.shape[2:]), self.b3.reshape(-1)

        def field(t: Tensor, z: Tensor) -> Tensor:
            # members become groups of channels: (batch, members * C, *spatial)
            batch = z.shape[1]
            x = z.reshape(s, batch, c, *spatial).transpose(0, 1).reshape(batch, s * c, *spatial)
            x = torch.relu(conv(x, w1, b1, groups=s))
            x = torch.relu(conv(x, w2, b2, padding=1, groups=s))
            x = conv(x, w3, b3, groups=s)
            return x.reshape(batch, s, self.state_size).transpose(0, 1)

        return ParametrisedField(field, (w1, b1, w2, b2, w3, b3))

    @property
    def _hidden_size(self) -> int:
        return self.hidden_channels * self.state_shape[1]

    # -- input and output -----------------------------------------------------------

    def flatten_inputs(self, x: Tensor) -> Tensor:
        """Initial states (members, batch, state_size) from inputs (batch, *state_shape)
        shared by all members, or (members, batch, *state_shape) with a batch each."""
        if x.dim() == len(self.state_shape) + 1:
            return x.reshape(1, x.shape[0], -1).expand(self.n_members, -1, -1)
        return x.reshape(x.shape[0], x.shape[1], -1)

    def classify(self, z_final: Tensor) -> Tensor:
        """Logits (members, batch, classes) from the end states of the ODE block."""
        return torch.baddbmm(self.head_bias.unsqueeze(1), z_final, self.head_weight.transpose(1, 2))

    def solve(self, x: Tensor, solver: SolverSpec) -> Solution:
        """The ODE block from inputs (batch, *state_shape): end states of shape
        (members, batch, state_size), through the core's solver."""
        return solve(self.vector_field(), self.flatten_inputs(x), solver)

    def forward(self, x: Tensor, solver: SolverSpec) -> Tensor:
        """Logits (members, batch, classes) of inputs under ``solver``."""
        return self.classify(self.solve(x, solver).final)

    logits = forward

    def member_ode(self, member: int = 0) -> MemberODE:
        """One member as a plain Neural ODE in torchdiffeq's conventions: ``func(t, z)``
        and ``head(z)`` on states shaped like the inputs (batch, *state_shape), as a
        user would write it. Its weights are those of now; it does not train."""
        single = ODEClassifier.from_member_states(
            [self.member_state(member)], self.state_shape, self.hidden_channels, self.n_classes
        ).to(self.w1.device)
        field = single.vector_field()
        shape = self.state_shape

        def func(t: Tensor, z: Tensor) -> Tensor:
            return field(t, z.reshape(1, len(z), -1)).reshape(len(z), *shape)

        def head(z: Tensor) -> Tensor:
            return single.classify(z.reshape(1, len(z), -1))[0]

        return MemberODE(func, head)

    # -- members --------------------------------------------------------------------

    def member_state(self, member: int) -> dict[str, Tensor]:
        """One member's weights (no member axis), as stored in a run."""
        return {name: getattr(self, name)[member].detach().clone() for name in PARAMETER_NAMES}

    @classmethod
    def from_member_states(
        cls,
        states: Sequence[dict[str, Tensor]],
        state_shape: Sequence[int],
        hidden_channels: int,
        n_classes: int,
    ) -> ODEClassifier:
        model = cls(len(states), state_shape, hidden_channels, n_classes)
        with torch.no_grad():
            for name in PARAMETER_NAMES:
                getattr(model, name).copy_(torch.stack([state[name] for state in states]))
        return model
