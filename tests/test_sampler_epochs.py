"""Lightning advances our batch samplers' epochs (it calls set_epoch on batch_sampler.sampler only)."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

from xlt.data.mixture import MixtureBatchSampler, MixtureDataset, SamplingConfig
from xlt.data.sampling import EpochBatchSampler, EpochIndexed


class Recorder(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.seen: list[tuple[int, list[int]]] = []

    def training_step(self, batch, batch_idx):
        self.seen.append((self.current_epoch, batch.tolist()))
        return self.weight.pow(2).sum()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


EXAMPLES = [{"x": i} for i in range(12)]


@pytest.mark.parametrize("make", [
    lambda: (EpochBatchSampler(12, 4, seed=1), EpochIndexed(EXAMPLES)),
    lambda: (MixtureBatchSampler([6, 6], 4, seed=1, sampling=SamplingConfig(policy="smoothed")),
             MixtureDataset([("a", EXAMPLES[:6]), ("b", EXAMPLES[6:])])),
])
def test_each_epoch_gets_its_own_batch_order(make):
    sampler, dataset = make()
    loader = DataLoader(dataset, batch_sampler=sampler,
                        collate_fn=lambda examples: torch.tensor([e["x"] for e in examples]))
    model = Recorder()
    L.Trainer(max_epochs=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False, accelerator="cpu").fit(model, loader)
    epochs = [[batch for epoch, batch in model.seen if epoch == e] for e in range(3)]
    assert epochs[0] != epochs[1] and epochs[1] != epochs[2]
    assert sampler.epoch == 2
