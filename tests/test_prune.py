"""Structured pruning: exact widths for every family, importance respected, save and load."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from hdap.prune import (
    load_pruned,
    prune_to_widths,
    save_pruned,
    unit_anchors,
    widths_for_flops,
)
from testbed.errors import InputError
from zoo import get_model, trace_workload


def _sorted(table):
    df = table.to_frame().drop(columns="name")
    return df.sort_values(list(df.columns)).reset_index(drop=True)


@pytest.mark.parametrize("name", ["resnet18", "resnet20", "vgg16_cifar", "vgg11_bn", "mobilenet_v1", "mobilenet_v2", "yolov8n",
                                  "yolov8s"])
def test_pruned_module_has_exactly_the_requested_widths(name):
    zoo = get_model(name)
    torch.manual_seed(0)
    full = zoo.module()
    widths = zoo.widths_from_rates(np.random.default_rng(1).uniform(0.1, 0.7, zoo.n_units))
    pruned = prune_to_widths(full, zoo, widths)
    assert _sorted(trace_workload(pruned, zoo.input_shape)).equals(_sorted(zoo.workload(widths)))
    assert sum(p.numel() for p in pruned.parameters()) == zoo.params(widths)
    out = pruned.eval()(torch.zeros(1, *zoo.input_shape))
    reference = full.eval()(torch.zeros(1, *zoo.input_shape))
    shapes = [o.shape for o in out] if isinstance(out, list) else [out.shape]
    assert shapes == ([o.shape for o in reference] if isinstance(reference, list) else [reference.shape])


def test_every_unit_has_an_anchor():
    for name in ("resnet50", "resnet56", "vgg16", "mobilenet_v2", "yolov8n", "yolov8m", "yolov8x"):
        anchors = unit_anchors(name)
        assert len(anchors) == get_model(name).n_units and all(anchors)
    assert unit_anchors("resnet50")[0] == ("layer1.0.conv1", "layer1.0.conv2")


@pytest.mark.parametrize("importance", ["l2", "l1"])
def test_magnitude_pruning_keeps_the_strongest_channels(importance):
    zoo = get_model("resnet20")
    torch.manual_seed(0)
    full = zoo.module()
    conv = full.layers[0].conv1
    strong = [3, 7, 11, 15]
    with torch.no_grad():
        conv.weight.mul_(0.01)
        conv.weight[strong] *= 1000
    widths = list(zoo.full_widths)
    widths[0] = 4
    pruned = prune_to_widths(full, zoo, widths, importance)
    assert torch.equal(pruned.layers[0].conv1.weight, conv.weight[strong])


def test_taylor_importance_uses_calibration_data():
    zoo = get_model("resnet20")
    torch.manual_seed(0)
    x, y = torch.randn(16, 3, 32, 32), torch.randint(0, 10, (16,))
    widths = zoo.widths_from_rates(np.full(zoo.n_units, 0.5))
    pruned = prune_to_widths(zoo.module(), zoo, widths, "taylor", calibration=(x, y))
    assert pruned(x).shape == (16, 10)
    with pytest.raises(InputError, match="taylor importance needs a calibration batch"):
        prune_to_widths(zoo.module(), zoo, widths, "taylor")
    with pytest.raises(InputError, match="unknown importance 'l3'"):
        prune_to_widths(zoo.module(), zoo, widths, "l3")


def test_flops_target_with_uniform_rates():
    zoo = get_model("resnet50")
    widths = widths_for_flops(zoo, 1.0e9)
    assert 0.95e9 <= zoo.flops(widths) <= 1.0e9
    assert len(set(np.round(1 - widths / np.array(zoo.full_widths), 2))) <= 3  # uniform up to rounding
    with pytest.raises(InputError, match="can reach .* GFLOPs"):
        widths_for_flops(zoo, 1e6)


def test_save_and_load_round_trip_and_the_twin_reads_the_spec_without_torch(tmp_path):
    zoo = get_model("resnet20")
    widths = zoo.widths_from_rates(np.full(zoo.n_units, 0.5))
    torch.manual_seed(0)
    pruned = prune_to_widths(zoo.module(), zoo, widths).eval()
    spec = save_pruned(pruned, zoo, widths, tmp_path / "m.pt")
    loaded, spec2 = load_pruned(tmp_path / "m.pt")
    x = torch.randn(2, 3, 32, 32)
    assert (tmp_path / "m.json").is_file() and not list(tmp_path.glob(".m.*"))  # no temporary left
    assert torch.equal(loaded.eval()(x), pruned(x)) and spec == spec2
    assert spec.flops == zoo.flops(widths) and spec.params == zoo.params(widths)
    code = (f"import sys; from zoo import resolve_workload; "
            f"w = resolve_workload({str(tmp_path / 'm.json')!r}); "
            f"assert 'torch' not in sys.modules; print(w.dense_flops)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert float(r.stdout) == pytest.approx(spec.flops)


def hdap(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "hdap.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def test_prune_cli_writes_module_and_spec(tmp_path):
    out = tmp_path / "half.pt"
    r = hdap("prune", "--model", "resnet20", "--flops", "0.02", "--out", out)
    assert r.returncode == 0, r.stderr
    spec = json.loads(out.with_suffix(".json").read_text())
    assert spec["model"] == "resnet20" and spec["flops"] <= 0.02e9 and len(spec["widths"]) == 9
    module, _ = load_pruned(out)
    assert module(torch.zeros(1, 3, 32, 32)).shape == (1, 10)


@pytest.mark.parametrize("args,message", [
    (("--model", "resnet9", "--rates", "0.5"), "unknown model 'resnet9'"),
    (("--model", "resnet20", "--rates", "0.5,0.5"), "9 prunable units, got 2 rates"),
    (("--model", "resnet20", "--rates", ",".join(["1.2"] * 9)), r"rates must be in [0, 1)"),
    (("--model", "resnet20", "--flops", "0.0000001"), "can reach"),
    (("--model", "resnet20", "--flops", "0.02", "--weights", "missing.pt"), "missing.pt: weights file not found"),
])
def test_prune_cli_errors_write_nothing(tmp_path, args, message):
    r = hdap("prune", *args, "--out", tmp_path / "x.pt", cwd=tmp_path)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_prune_cli_rejects_weights_of_another_model(tmp_path):
    torch.save(get_model("resnet56").module().state_dict(), tmp_path / "r56.pt")
    r = hdap("prune", "--model", "resnet20", "--flops", "0.02", "--weights", tmp_path / "r56.pt", "--out", tmp_path / "x.pt")
    assert r.returncode == 2 and "not weights of a full resnet20" in r.stderr
    assert not (tmp_path / "x.pt").exists()


def test_dropped_blocks_become_identities_and_the_rest_keep_their_weights():
    zoo = get_model("resnet56")
    base = zoo.module(seed=0).eval()
    widths = np.array(zoo.full_widths)
    widths[[1, 4]] = 0
    widths[7] = 8
    pruned = prune_to_widths(base, zoo, widths)
    assert isinstance(pruned.layers[1], torch.nn.Identity) and isinstance(pruned.layers[4], torch.nn.Identity)
    assert torch.equal(pruned.layers[2].conv1.weight, base.layers[2].conv1.weight)  # an untouched block
    assert pruned.layers[7].conv1.out_channels == 8
    assert sum(p.numel() for p in pruned.parameters()) == zoo.params(widths)
    # dropping a block is the identity: the block's input goes on unchanged
    x = torch.randn(2, 16, 32, 32)
    assert torch.equal(pruned.layers[1](x), x)


class _Payload:
    """Unpickling this runs code: what a hostile whole-module .pt file could do."""

    def __reduce__(self):
        return (print, ("UNPICKLED CODE RAN",))


def test_pruned_models_are_weights_and_pickled_modules_need_an_explicit_opt_in(tmp_path):
    zoo = get_model("resnet20")
    widths = np.array(zoo.full_widths) // 2
    widths[1] = 0  # a dropped block too: the architecture comes from the spec
    pruned = prune_to_widths(zoo.module(seed=0), zoo, widths).eval()
    save_pruned(pruned, zoo, widths, tmp_path / "m.pt")
    assert isinstance(torch.load(tmp_path / "m.pt", weights_only=True), dict)  # a state dict, nothing to run
    # an old-style whole-module file, and a hostile one, beside the same spec
    torch.save(pruned, tmp_path / "old.pt")
    (tmp_path / "old.json").write_text((tmp_path / "m.json").read_text())
    torch.save({"x": _Payload()}, tmp_path / "evil.pt")
    (tmp_path / "evil.json").write_text((tmp_path / "m.json").read_text())
    for name in ("old", "evil"):
        with pytest.raises(InputError, match="whole pickled module.*--trust-pickle"):
            load_pruned(tmp_path / f"{name}.pt")
    old, _ = load_pruned(tmp_path / "old.pt", trust_pickle=True)
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(old.eval()(x), pruned(x))
    r = hdap("train", "--pruned", tmp_path / "evil.pt", "--epochs", 1, "--out", tmp_path / "t.pt")
    assert r.returncode == 2 and "--trust-pickle" in r.stderr and "UNPICKLED" not in r.stdout + r.stderr
    r = subprocess.run([sys.executable, "-m", "twin.cli", "board-bench", "--model-file", tmp_path / "evil.pt",
                        "--sku", "host-cpu", "--repeats", "1", "--warmup", "1", "--out", tmp_path / "b.csv"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "--trust-pickle" in r.stderr and "UNPICKLED" not in r.stdout + r.stderr
