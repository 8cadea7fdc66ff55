import pytest


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A fresh run cache, also visible to subprocesses through NODESTUDY_CACHE."""
    path = tmp_path / "runs"
    monkeypatch.setenv("NODESTUDY_CACHE", str(path))
    return path


def rings(n: int, seed: int):
    """Points in three radius bands of the plane, the middle band class 1 (the paper's
    Sphere2, written with plain torch for the core's tests, which use no study code)."""
    import math

    import torch

    generator = torch.Generator().manual_seed(seed)
    bands = [(0.10, 0.15, 0, n // 4), (0.25, 0.30, 1, n - 2 * (n // 4)), (0.40, 0.45, 0, n // 4)]
    points, labels = [], []
    for low, high, label, m in bands:
        angle = torch.rand(m, generator=generator) * 2 * math.pi
        radius = low + (high - low) * torch.rand(m, generator=generator).sqrt()
        points.append(torch.stack([radius * angle.cos(), radius * angle.sin()], 1))
        labels.append(torch.full((m,), label))
    order = torch.randperm(n, generator=generator)
    return torch.cat(points)[order], torch.cat(labels)[order]


def textbook_model(method: str, step_size: float, iterations: int, seed: int = 0):
    """An MLP field and a linear head trained with odeint in a plain loop, as the
    torchdiffeq examples train; with held-out rings to check it on."""
    import torch
    import torch.nn.functional as F
    from torch import nn
    from torchdiffeq import odeint

    x, y = rings(2000, seed=100)
    torch.manual_seed(seed)
    func_net = nn.Sequential(
        nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2)
    )
    head = nn.Linear(2, 2)
    optimiser = torch.optim.Adam([*func_net.parameters(), *head.parameters()], lr=3e-3)
    t = torch.tensor([0.0, 1.0])

    def func(t, z):
        return func_net(z)

    for _ in range(iterations):
        index = torch.randint(0, len(y), (128,))
        z = odeint(func, x[index], t, method=method, options={"step_size": step_size})[-1]
        loss = F.cross_entropy(head(z), y[index])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return func, head, rings(600, seed=101)


@pytest.fixture(scope="session")
def coarse_textbook():
    return textbook_model("euler", 0.5, 500)


@pytest.fixture(scope="session")
def fine_textbook():
    return textbook_model("rk4", 1 / 16, 300)
