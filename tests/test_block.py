"""pruning.granularity: block: per-unit block-pruning ratios searched against a fleet whose kernels
skip pruned blocks, the weights masked in place, the twin pricing what the kernels skip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import run_main
from hdap.cli import main
from hdap.compression import Compressed
from hdap.config import RunConfig
from hdap.prune import load_pruned
from hdap.runner import run_hdap
from twin.latency import nominal_latency_ms
from twin.sku import load_sku
from zoo import PrunedSpec, Workload, get_model
from zoo.workload import SPARSITY


def test_block_widths_prune_the_units_layers_in_place_and_count_kept_macs():
    zoo = get_model("resnet50").in_space(False, False, block=True)
    assert zoo.block and zoo.in_space(False).block and not get_model("resnet50").block
    widths = np.asarray(zoo.widths_from_rates(np.linspace(0.1, 0.7, zoo.n_units)))
    table, full = zoo.workload(widths), get_model("resnet50").workload()
    assert len(table) == len(full) and np.array_equal(table.c_out, full.c_out)     # every channel stays
    assert zoo.flops(widths) == pytest.approx(table.kept_flops, rel=1e-12)
    assert zoo.flops(widths) < 0.75 * zoo.flops()
    pruned = table.sparsity == SPARSITY.index("block")
    assert pruned.any() and np.all(table.density[pruned] < 1) and np.all(table.density[~pruned] == 1)
    assert zoo.params(widths) < zoo.params() and zoo.module(widths).fc.in_features == 2048


def test_block_pruning_pays_only_where_the_kernels_skip_blocks():
    zoo = get_model("resnet50").in_space(False, False, block=True)
    k26 = load_sku("kria-k26-dpu")
    compiler = k26.with_sparse_kernels("vitis-ai", {"block": 0.9})
    ms = {}
    for rate in (0.0, 0.3, 0.6):
        wl = zoo.workload(zoo.widths_from_rates(np.full(zoo.n_units, rate)))
        ms["stock", rate] = nominal_latency_ms(wl, k26, "vitis-ai")
        ms["compiler", rate] = nominal_latency_ms(wl, compiler, "vitis-ai")
    assert ms["stock", 0.0] == ms["stock", 0.3] == ms["stock", 0.6]                 # zeros computed as zeros
    assert ms["compiler", 0.0] > ms["compiler", 0.3] > ms["compiler", 0.6]
    assert ms["compiler", 0.0] == ms["stock", 0.0]


def test_sparse_columns_round_trip_and_unknown_structures_are_refused(tmp_path):
    zoo = get_model("resnet20").in_space(False, False, block=True)
    table = zoo.workload(zoo.widths_from_rates(np.full(zoo.n_units, 0.5)))
    back = Workload.from_frame(table.to_frame())
    assert np.array_equal(back.sparsity, table.sparsity) and np.allclose(back.density, table.density)
    frame = table.to_frame()
    frame.loc[3, "sparsity"] = "4:8"
    with pytest.raises(Exception, match="sparsity: unknown structure.*allowed: unstructured, block, 2:4"):
        Workload.from_frame(frame)
    frame = table.to_frame()
    frame.loc[3, "density"] = 0
    with pytest.raises(Exception, match=r"density: every value must be a share of weights kept, in \(0, 1\]"):
        Workload.from_frame(frame)


@pytest.mark.parametrize("extra, message", [
    ("pruning: {granularity: block, space: width+depth}\nfleet: {sku: kria-k26-dpu, devices: 500, framework: vitis-ai, "
     "sparse_kernels: {block: 0.9}}\n", "it needs pruning.space: width"),
    ("pruning: {granularity: block}\nfleet: {sku: kria-k26-dpu, devices: 500, framework: vitis-ai}\n",
     "computes pruned blocks as zeros"),
])
def test_block_granularity_is_checked_before_any_work(tmp_path, extra, message):
    path = tmp_path / "b.yaml"
    path.write_text("name: b\nseed: 1\ntime: {start: 2026-01-01, days: 5}\ndeployment: {workload: resnet20}\n" + extra)
    code, err = run_main(main, ["run", path, "--out", tmp_path / "out"])
    assert code == 2 and message in err and not (tmp_path / "out").exists()


@pytest.mark.parametrize("data", [
    "", pytest.param(", data: digits, train_epochs: 2, finetune_epochs: 1", marks=pytest.mark.slow)])
def test_hdap_run_with_block_granularity_masks_weights_and_saves_the_granularity(tmp_path, data):
    """Without data (default run) and with fine-tuning on digits (slow: 48 s)."""
    path = tmp_path / "block.yaml"
    path.write_text(f"""\
name: block
seed: 5
fleet: {{sku: jetson-orin-nano, devices: 200, framework: tensorrt, precision: int8, sparse_kernels: {{block: 0.5}}}}
time: {{start: 2026-01-01, days: 3}}
deployment: {{workload: resnet20}}
pruning: {{flops_g: 0.02, granularity: block, generations: 8, population: 6, surrogate_samples: 40, k_max: 2{data}}}
""")
    r = run_hdap(RunConfig.of(path))
    table = r.summary()
    assert (table.loc[["hdap", "uniform_l2", "single_device", "oracle"], "flops"] <= 0.02e9 * 1.0001).all()
    assert table.loc["hdap", "fleet_mean_ms"] < table.loc["unpruned", "fleet_mean_ms"]
    masked = [m for m in r.module.modules() if isinstance(m, Compressed)]
    assert masked and all(bool((m.mask == 0).any()) for m in masked)
    r.write(tmp_path / "run")
    module, spec = load_pruned(tmp_path / "run" / "resnet20_hdap.pt")
    assert spec.granularity == "block" and spec.flops == pytest.approx(table.loc["hdap", "flops"])
    before = [m.layer.weight.detach().clone() for m in module.modules() if isinstance(m, Compressed)]
    opt = torch.optim.SGD(module.parameters(), lr=0.1)
    module.train()(torch.randn(4, 3, 32, 32)).sum().backward()
    opt.step()
    for m, w in zip([m for m in module.modules() if isinstance(m, Compressed)], before):
        assert torch.all((m.layer.weight * m.mask)[w == 0] == 0)   # what was pruned stays pruned
    assert PrunedSpec.read(tmp_path / "run" / "resnet20_hdap.json").zoo.block
