"""Would a hand-written backward pass for the euler solve pay? Two prototypes, measured
before building either into the trainer, against autograd through today's loop.

Both run the forward solve without a graph, keeping every step's activations, and
propagate the state's gradient back by hand through the dense field
``f(z) = relu(relu(z M1 + b1) M2 + b2) M3 + b3``:

- *batched*: every step's activations and gradients live in (members, steps, batch,
  width) buffers, and each weight gradient is one batched product over all steps (the
  speed issue's proposal);
- *accumulated*: each step adds its weight gradients to running sums (the products
  autograd does, without its graph or engine).

Sphere2's field (3 members, 32 hidden channels, batch 128), one thread; each way's
gradients are checked against autograd's first. Forward and backward of one batch:

    .venv/bin/python benchmarks/fused_backward.py [--repeats 30]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch

import nodestudy.study as ns
from nodestudy.core.integrate import solve
from nodestudy.study import ODEClassifier


def threshold_backward(
    grad: torch.Tensor, output: torch.Tensor, out: torch.Tensor | None = None
) -> torch.Tensor:
    """The gradient through a ReLU from its output (zero where it was closed)."""
    if out is None:
        return torch.ops.aten.threshold_backward(grad, output, 0)
    return torch.ops.aten.threshold_backward.grad_input(grad, output, 0, grad_input=out)


class Batched(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, z0, m1, m2, m3, b1, b2, b3, steps: int) -> torch.Tensor:
        h, (members, batch, size), hidden = 1.0 / steps, z0.shape, m1.shape[2]
        states = z0.new_empty(members, steps + 1, batch, size)
        first = z0.new_empty(members, steps, batch, hidden)
        second = torch.empty_like(first)
        states[:, 0] = z0
        for k in range(steps):
            torch.baddbmm(b1, states[:, k], m1, out=first[:, k]).relu_()
            torch.baddbmm(b2, first[:, k], m2, out=second[:, k]).relu_()
            f = torch.baddbmm(b3, second[:, k], m3)
            torch.add(states[:, k], f, alpha=h, out=states[:, k + 1])
        ctx.save_for_backward(states, first, second, m1, m2, m3)
        ctx.h = h
        return states[:, steps].clone()

    @staticmethod
    def backward(ctx: Any, grad_end: torch.Tensor):
        states, first, second, m1, m2, m3 = ctx.saved_tensors
        members, steps, _, _ = first.shape
        m1t, m2t, m3t = (m.transpose(1, 2) for m in (m1, m2, m3))
        grad_f = grad_end.new_empty(members, steps, *grad_end.shape[1:])
        grad_second, grad_first = torch.empty_like(first), torch.empty_like(first)
        grad_z = grad_end.clone()
        for k in reversed(range(steps)):
            torch.mul(grad_z, ctx.h, out=grad_f[:, k])
            threshold_backward(torch.bmm(grad_f[:, k], m3t), second[:, k], out=grad_second[:, k])
            threshold_backward(torch.bmm(grad_second[:, k], m2t), first[:, k], out=grad_first[:, k])
            grad_z.baddbmm_(grad_first[:, k], m1t)

        def flat(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(members, -1, t.shape[-1])

        inputs = [flat(t) for t in (states[:, :steps], first, second)]
        grads = [flat(t) for t in (grad_first, grad_second, grad_f)]
        weights = [torch.bmm(i.transpose(1, 2), g) for i, g in zip(inputs, grads)]
        biases = [g.sum(dim=1, keepdim=True) for g in grads]
        return grad_z, *weights, *biases, None


class Accumulated(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, z0, m1, m2, m3, b1, b2, b3, steps: int) -> torch.Tensor:
        h, z, kept = 1.0 / steps, z0, []
        for _ in range(steps):
            a1 = torch.baddbmm(b1, z, m1).relu_()
            a2 = torch.baddbmm(b2, a1, m2).relu_()
            kept.append((z, a1, a2))
            z = torch.add(z, torch.baddbmm(b3, a2, m3), alpha=h)
        ctx.kept, ctx.h = kept, h
        ctx.save_for_backward(m1, m2, m3)
        return z

    @staticmethod
    def backward(ctx: Any, grad_end: torch.Tensor):
        m1, m2, m3 = ctx.saved_tensors
        m1t, m2t, m3t = (m.transpose(1, 2) for m in (m1, m2, m3))
        gm1, gm2, gm3 = (torch.zeros_like(m) for m in (m1, m2, m3))
        gb1 = grad_end.new_zeros(m1.shape[0], 1, m1.shape[2])
        gb2, gf_sum, grad_z = torch.zeros_like(gb1), torch.zeros_like(grad_end), grad_end
        for z, a1, a2 in reversed(ctx.kept):
            gf = grad_z * ctx.h
            gf_sum += gf
            gm3.baddbmm_(a2.transpose(1, 2), gf)
            g2 = threshold_backward(torch.bmm(gf, m3t), a2)
            gm2.baddbmm_(a1.transpose(1, 2), g2)
            g1 = threshold_backward(torch.bmm(g2, m2t), a1)
            gm1.baddbmm_(z.transpose(1, 2), g1)
            gb2 += g2.sum(1, keepdim=True)
            gb1 += g1.sum(1, keepdim=True)
            grad_z = torch.baddbmm(grad_z, g1, m1t)
        del ctx.kept
        return grad_z, gm1, gm2, gm3, gb1, gb2, gf_sum.sum(1, keepdim=True), None


def today(model: ODEClassifier, z0: torch.Tensor, steps: int) -> torch.Tensor:
    """The trainer's path: the core's euler solve, differentiated by autograd."""
    return solve(model.vector_field(form="dense"), z0, ns.SolverSpec("euler", steps)).final


def by_hand(function: type[torch.autograd.Function]):
    def way(model: ODEClassifier, z0: torch.Tensor, steps: int) -> torch.Tensor:
        return function.apply(z0, *model.vector_field(form="dense").tensors, steps)

    return way


WAYS = {"autograd": today, "batched": by_hand(Batched), "accumulated": by_hand(Accumulated)}


def gradients(way, model: ODEClassifier, z0: torch.Tensor, steps: int) -> list[torch.Tensor]:
    model.zero_grad()
    (way(model, z0, steps) ** 2).sum().backward()
    return [p.grad.clone() for p in list(model.parameters())[:6]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = ODEClassifier.initialised([0, 1, 2], (1, 2), 32, 2)
    data = ns.load_dataset(ns.DataConfig())
    z0 = model.flatten_inputs(data.x_train[:128])
    for steps in (1, 8, 64):
        expected = gradients(today, model, z0, steps)
        times = {}
        for name, way in WAYS.items():
            got = gradients(way, model, z0, steps)
            error = max(float((g - e).abs().max() / e.abs().max()) for g, e in zip(got, expected))
            if error > 1e-4:
                raise SystemExit(f"{name} at K={steps}: relative gradient error {error:.1e}")
            started = time.perf_counter()
            for _ in range(args.repeats):
                gradients(way, model, z0, steps)
            times[name] = (time.perf_counter() - started) / args.repeats * 1e3
        print(
            f"K={steps:>2}: "
            + ", ".join(
                f"{name} {ms:.2f} ms (x{times['autograd'] / ms:.2f})" for name, ms in times.items()
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
