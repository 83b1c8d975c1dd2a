"""Train, fine-tune and evaluate on CPU, deterministically under a seed.

The seed governs shuffling and any randomness inside the loop; it is applied inside
``torch.random.fork_rng`` so the caller's global generator is left as it was.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from tqdm import tqdm

__all__ = ["train", "evaluate", "recalibrate_batch_norm"]


def train(model: nn.Module, data: TensorDataset, epochs: int, lr: float = 0.1, batch_size: int = 64,
          weight_decay: float = 5e-4, seed: int = 0, progress: bool = True, desc: str = "train") -> list[float]:
    """SGD with momentum, one epoch of linear warm-up, then a cosine schedule; returns each epoch's
    mean loss. (Deep ResNets diverge when started at full rate: He et al. 2016 warm up ResNet-110.)
    A single epoch warms up over its first fifth only: a whole epoch of warm-up would end the run
    at full rate, with no annealing, and a pruned network fine-tuned so can collapse."""
    losses = []
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        loader = DataLoader(data, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay, nesterov=True)
        steps = epochs * len(loader)
        warm = len(loader) if epochs > 1 else max(1, len(loader) // 5)
        sched = torch.optim.lr_scheduler.SequentialLR(opt, [
            torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.05, total_iters=warm),
            torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, steps - warm))], milestones=[warm])
        model.train()
        for epoch in tqdm(range(epochs), desc=desc, disable=not progress, unit="epoch"):
            total, n = 0.0, 0
            for x, y in loader:
                opt.zero_grad(set_to_none=True)
                loss = nn.functional.cross_entropy(model(x), y)
                loss.backward()
                opt.step()
                sched.step()
                total, n = total + loss.item() * len(y), n + len(y)
            losses.append(total / n)
    model.eval()
    return losses


@torch.no_grad()
def evaluate(model: nn.Module, data: TensorDataset, batch_size: int = 256) -> float:
    """Top-1 accuracy."""
    model.eval()
    correct = 0
    for x, y in DataLoader(data, batch_size=batch_size):
        correct += (model(x).argmax(1) == y).sum().item()
    return correct / len(data)


@torch.no_grad()
def recalibrate_batch_norm(model: nn.Module, data: TensorDataset, batches: int = 10, batch_size: int = 64,
                           seed: int = 0) -> None:
    """Re-estimate batch-norm statistics of a freshly pruned network from a few training batches
    (adaptive BN, EagleEye, Li et al., ECCV 2020): pruning leaves the old statistics wrong, and
    accuracy measured with them says little about what fine-tuning recovers."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the batches seen
    loader = DataLoader(data, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    model.train()
    for i, (x, _) in enumerate(loader):
        if i >= batches:
            break
        model(x)
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    model.eval()
