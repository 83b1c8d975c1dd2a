"""Accuracy for ``hdap run``: the trained full model, held-out checks and fine-tuning.

Built from a scenario's ``pruning`` section when it names data. The training set is split once
(seeded): the search's accuracy floor is measured on a held-out tenth of it, fine-tuning uses the
rest, and reported accuracy is on the test set, which nothing else sees.
"""

from __future__ import annotations

from hdap.data import hold_out
from hdap.prune import load_full_model
from hdap.train import evaluate, recalibrate_batch_norm, train
from testbed.errors import InputError
from testbed.streams import Streams

__all__ = ["AccuracyLab"]

HOLDOUT_SHARE = 0.1


class AccuracyLab:
    """Accuracy for a run whose pruning section names data (``config.data``). Its random streams:
    ``init`` (the full network's weights), ``data`` 0-3 (test split, held-out split, training
    order, batch-norm re-estimation)."""

    def __init__(self, config, streams: Streams, progress: bool = False):
        self.cfg, self.zoo, self.progress = config.pruning, config.zoo, progress
        self.init_seed = streams.int_seed("init")
        self.split_seed, self.hold_out_seed, self.train_seed, self.bn_seed = (
            streams.int_seed("data", i) for i in range(4))
        train_set, self.test = config.data.load(size=self.zoo.input_shape[-1], seed=self.split_seed)
        self.fit, self.held_out = hold_out(train_set, HOLDOUT_SHARE, self.hold_out_seed)
        if min(len(self.fit), len(self.held_out), len(self.test)) == 0:
            raise InputError(f"{config.scenario.source}: pruning.data: {self.cfg.data} has too few images per class "
                             f"to hold out test and accuracy-floor sets (about 10 per class at least)")
        self.weights = config.weights

    def base_model(self):
        """The trained full network: the scenario's weights, or trained here (seeded)."""
        if self.weights is not None:
            return self._check_classes(load_full_model(self.zoo, str(self.weights)))
        module = self.zoo.module(seed=self.init_seed)
        self._check_classes(module)
        train(module, self.fit, self.cfg.train_epochs, self.cfg.lr, self.cfg.batch_size, seed=self.train_seed,
              progress=self.progress, desc=f"train {self.zoo.name}")
        return module

    def _check_classes(self, module):
        from torch import nn

        outputs = [m.out_features for m in module.modules() if isinstance(m, nn.Linear)][-1]
        classes = int(max(self.fit.tensors[1].max(), self.test.tensors[1].max())) + 1
        if classes > outputs:
            raise InputError(f"pruning.data: {self.cfg.data} has {classes} classes; {self.zoo.name} has {outputs} outputs")
        return module

    def held_out_accuracy(self, module) -> float:
        return evaluate(module, self.held_out)

    def pruned_accuracy(self, module) -> float:
        """Held-out accuracy of a freshly pruned network, batch-norm statistics re-estimated first."""
        recalibrate_batch_norm(module, self.fit, seed=self.bn_seed)
        return self.held_out_accuracy(module)

    def test_accuracy(self, module) -> float:
        return evaluate(module, self.test)

    def finetune(self, module, epochs: int, desc: str = "fine-tune") -> None:
        train(module, self.fit, epochs, self.cfg.finetune_lr, self.cfg.batch_size, seed=self.train_seed,
              progress=self.progress, desc=desc)
