"""Compression schemes (hdap.compression) and the platform study (hdap study platforms)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from conftest import run_main
from hdap.cli import main
from hdap.compression import SCHEMES, Scheme, compress, layer_compression, prune_mask, quantize_weight, storage_bits
from zoo import get_model


def test_block_pruning_keeps_whole_columns_of_each_block_and_the_share_asked():
    w = torch.randn(16, 8, 3, 3)
    scheme = Scheme("b", 8, "block", 0.25, block_filters=8, block_channels=4)
    keep = prune_mask(w, scheme).reshape(16, -1).numpy()
    for r in range(0, 16, 8):
        for c in range(0, 72, 36):
            block = keep[r:r + 8, c:c + 36]
            assert (block == block[:1]).all()          # a column is kept or pruned for every filter of the block
            assert block[0].sum() == 9                 # 25 % of 36 columns
    # the kept columns are the block's largest by L2 norm
    block = w.reshape(16, -1)[:8, :36]
    assert set(np.flatnonzero(keep[0, :36])) == set(block.norm(dim=0).argsort(descending=True)[:9].tolist())


def test_two_of_four_and_unstructured_masks_keep_the_largest_weights():
    w = torch.randn(8, 16)
    nm = prune_mask(w, SCHEMES["2:4-int8"]).reshape(8, -1, 4)
    assert (nm.sum(-1) == 2).all()
    assert (w.abs().reshape(8, -1, 4)[nm].min() >= 0)
    un = prune_mask(w, SCHEMES["unstructured-int8"])
    assert un.sum() == 64 and w.abs()[un].min() >= w.abs()[~un].max()


def test_low_bit_weights_take_the_levels_of_their_width():
    w = torch.randn(4, 3, 3, 3)
    for bits, levels in ((1, 2), (2, 3), (4, 15)):
        q = quantize_weight(w, bits).reshape(4, -1)
        assert all(len(torch.unique(row)) <= levels for row in q)
    q = quantize_weight(w.requires_grad_(), 4)
    q.sum().backward()
    assert torch.equal(w.grad, torch.ones_like(w))  # straight-through gradient


def test_storage_is_counted_exactly():
    mask = np.zeros((2, 40), bool)
    mask[0, [0, 1, 39]] = mask[1, 5] = True
    s = storage_bits(mask, 8)
    assert s["dense"] == 80 * 8
    assert s["coo"] == 4 * (8 + 6 + 1)                     # 40 columns: 6-bit index, 2 rows: 1 bit
    assert s["csr"] == 4 * (8 + 6) + 3 * 32
    assert s["bitmask"] == 80 + 4 * 8
    # zero runs before each kept weight (row-major): 0, 0, 37 (two fillers: 16 + 16 + 5), 5
    assert s["rle"] == (4 + 2) * (8 + 4)


def test_compressed_network_is_what_the_hardware_runs_and_its_layers_are_reported():
    zoo = get_model("resnet20")
    base = zoo.module(seed=0)
    net = compress(base, SCHEMES["binary"])
    x = torch.randn(2, 3, 32, 32)
    net.train()(x)
    layers, storage = layer_compression(net, SCHEMES["binary"])
    convs = [n for n, m in base.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert list(layers) == convs
    assert layers[convs[0]].bits == 8 and layers[convs[-1]].bits == 8 and layers[convs[5]].bits == 1
    assert sum(v["dense"] for v in storage.values()) < 0.05 * 32 * sum(p.numel() for n, p in base.named_parameters()
                                                                     if n.endswith("weight") and p.dim() > 1)


def test_platform_study_cli_end_to_end(tmp_path):
    out = tmp_path / "p"
    code, err = run_main(main, ["study", "platforms", "--models", "resnet20@16", "--schemes", "float,int8,binary,block-int8",
                                "--platforms", "jetson-xavier-nx,kria-k26-dpu", "--train-epochs", "1",
                                "--finetune-epochs", "1", "--input-size", "32", "--out", out])
    assert code == 0, err
    df = pd.read_csv(out / "platforms.csv")
    assert {"model", "platform", "scheme", "bits", "accuracy", "latency_ms", "energy_mj", "inferences_per_j",
            "storage_bytes"} <= set(df.columns)
    assert not ((df.platform == "kria-k26-dpu") & (df.scheme == "float")).any()   # a DPU runs quantized nets only
    assert set(df[df.scheme == "block-int8"].kernels) == {"stock", "compiler"}
    k26 = df[(df.platform == "kria-k26-dpu") & (df.kernels == "stock")].set_index("scheme")
    assert k26.loc["binary", "energy_mj"] < k26.loc["int8", "energy_mj"]
    assert np.allclose(df.energy_mj * df.inferences_per_j, 1000, rtol=1e-5)
    report = (out / "report.md").read_text()
    assert "Published findings" in report and (out / "energy_vs_accuracy.png").is_file()
    assert json.loads((out / "run.json").read_text())["scenario"]["study"] == "platforms"


@pytest.mark.parametrize("args, message", [
    (["--models", "resnet7"], "--models: unknown model 'resnet7'"),
    (["--models", "resnet20@x"], "the size after @ must be an integer"),
    (["--platforms", "host-cpu"], "runs neither TensorRT nor Vitis AI"),
    (["--platforms", "nope"], "--platforms: unknown SKU 'nope'"),
    (["--schemes", "int3"], "unknown scheme"),
])
def test_platform_study_refuses_bad_options_before_training(tmp_path, args, message):
    code, err = run_main(main, ["study", "platforms", *args, "--out", tmp_path / "x"])
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()
