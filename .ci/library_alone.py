"""The library alone, as ``pip install nodestudy`` (no extras) gives it: run by
``make test-base`` in a fresh environment that holds torch and nodestudy only.

It imports nothing but nodestudy, torch and torchdiffeq, checks a tiny model it
defines itself, trains it with the step-size adapter, and fails if a package of the
study or of the notebooks came along.
"""

import importlib.util
import sys

import torch
from torch import nn
from torchdiffeq import odeint

import nodestudy

#: Packages that only ``[study]`` and ``[notebooks]`` bring.
NOT_IN_THE_BASE = ["papermill", "jupyter", "notebook", "seaborn", "sklearn", "mlxtend", "shapely"]


def blobs(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two Gaussian blobs in four dimensions (four, so that the check counts no
    crossings, a count it makes for 1-D and 2-D states only)."""
    generator = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=generator)
    x = torch.randn(n, 4, generator=generator) + 2.0 * (2 * y[:, None] - 1)
    return x, y


class Field(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 4))

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def main() -> None:
    present = [name for name in NOT_IN_THE_BASE if importlib.util.find_spec(name) is not None]
    assert not present, f"the base install brings {present}"
    assert len(nodestudy.__all__) <= 12, nodestudy.__all__
    assert "nodestudy.study" not in sys.modules, "import nodestudy imported the study"

    torch.manual_seed(0)
    func, head = Field(), nn.Linear(4, 2)
    optimiser = torch.optim.Adam([*func.parameters(), *head.parameters()], lr=1e-2)
    x_train, y_train = blobs(512, seed=0)
    x_test, y_test = blobs(256, seed=1)
    t = torch.tensor([0.0, 1.0])

    adapter = nodestudy.StepSizeAdapter(method="euler", check_every=10)
    adapter.start(func, x_train[:64])
    for iteration in range(40):
        x, y = x_train[iteration % 8 * 64 :][:64], y_train[iteration % 8 * 64 :][:64]
        z = odeint(func, x, t, method=adapter.method, options=adapter.options)[-1]
        loss = nn.functional.cross_entropy(head(z), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        adapter.update(iteration, func, x, y, head)
    assert (adapter.history.decision != "").sum() == 4, adapter.history

    check = nodestudy.check_ode(
        func, x_test, y_test, head=head, method=adapter.method, options=adapter.options
    )
    assert check.verdict in {"valid", "invalid", "inconclusive"}, check.verdict
    assert check.crossings is None and len(check.table) > 0 and check.to_dict()
    print(f"adapter: K = {adapter.steps} after 40 iterations; check: {check.verdict}")


if __name__ == "__main__":
    main()
