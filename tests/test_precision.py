"""The +precision spaces: int8 units in the zoo's tables, the twin's mixed-precision engines, the
search's int8 budget, and quantization-aware fine-tuning that matches the twin's layers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_runner import hdap

from hdap.config import RunConfig
from hdap.quantize import FakeQuantized, dequantize, quantize_units, quantized_units, unit_layers
from hdap.runner import METHODS, run_hdap
from hdap.search import int8_repair
from testbed.errors import InputError
from twin.latency import nominal_latency_ms
from twin.sku import load_sku
from zoo import PRECISIONS, PrunedSpec, Workload, get_model

INT8 = PRECISIONS.index("int8")


@pytest.mark.parametrize("name", ["resnet20", "resnet50", "mobilenet_v2", "vgg16_cifar", "yolov8n"])
def test_torch_and_the_table_agree_on_which_layers_a_unit_runs_in_int8(name):
    zoo = get_model(name)
    owner = zoo.template.owner[zoo.template._dense_rows]
    assert [len(layers) for layers in unit_layers(name)] == [int(np.sum(owner == u)) for u in range(zoo.n_units)]


def test_int8_units_mark_their_layers_and_the_rest_stay_the_deployments():
    zoo = get_model("resnet50")
    flags = np.zeros(zoo.n_units, bool)
    assert not zoo.workload(None, flags).mixed and zoo.int8_share(None, flags) == 0
    flags[3] = True
    table = zoo.workload(None, flags)
    owned = zoo.template.owner == 3
    assert np.array_equal(table.precision == INT8, owned) and owned.sum() >= 6  # convs with their norms and ReLUs
    all_int8 = zoo.workload(None, np.ones(zoo.n_units, bool))
    assert 0.8 < zoo.int8_share(None, np.ones(zoo.n_units, bool)) < 1  # stem, downsamples and fc stay fp16
    dense = all_int8.kind <= 2
    assert all_int8.flops[dense & (all_int8.precision == INT8)].sum() / all_int8.dense_flops == \
        pytest.approx(zoo.int8_share(None, np.ones(zoo.n_units, bool)))


def test_rates_carry_int8_genes_and_give_the_architecture_back():
    zoo = get_model("resnet20").in_space(depth=True, precision=True)
    assert zoo.n_rates == 2 * zoo.n_units + len(zoo.droppable)
    widths = np.array(zoo.full_widths) // 2
    widths[zoo.droppable[0]] = 0
    flags = np.arange(zoo.n_units) % 3 == 0
    rates = zoo.rates_from_widths(widths, flags)
    assert flags[zoo.droppable[0]]  # ... but its block is dropped: it runs nothing, in no precision
    assert np.array_equal(zoo.widths_from_rates(rates), widths)
    assert np.array_equal(zoo.int8_from_rates(rates), flags & (widths > 0))
    assert np.array_equal(zoo.rates_workload(rates).precision, zoo.workload(widths, flags).precision)
    with pytest.raises(InputError, match="precision"):
        get_model("resnet20").rates_from_widths(zoo.full_widths, flags)


def test_workload_tables_keep_their_precision_column_and_refuse_unknown_ones():
    zoo = get_model("resnet20")
    table = zoo.workload(None, np.arange(zoo.n_units) < 4)
    back = Workload.from_frame(table.to_frame())
    assert np.array_equal(back.precision, table.precision)
    assert "precision" not in zoo.workload().to_frame().columns  # a deployment-precision table is as it was
    frame = table.to_frame()
    frame.loc[0, "precision"] = "int3"
    with pytest.raises(InputError, match="precision: unknown precision.*int3.*allowed: fp32, fp16, int8, int4, int2, int1"):
        Workload.from_frame(frame)


def test_a_table_all_in_int8_runs_as_an_int8_engine_and_mixed_ones_between():
    """Physics: every row in int8 is the int8 deployment; fp16 is slower; a mix lies between, and
    alternating precisions pay the reformats between them."""
    sku, zoo = load_sku("jetson-xavier-nx"), get_model("mobilenet_v1")  # every layer belongs to a unit
    mode = sku.usual_mode
    on = np.ones(zoo.n_units, bool)
    fp16 = nominal_latency_ms(zoo.workload(), sku, "tensorrt", mode)
    int8 = nominal_latency_ms(zoo.workload(None, on), sku, "tensorrt", mode)
    assert int8 == pytest.approx(nominal_latency_ms(zoo.workload(), sku, "tensorrt", mode, precision="int8"), rel=1e-12)
    assert int8 < fp16
    half = np.arange(zoo.n_units) < zoo.n_units // 2
    alternate = np.arange(zoo.n_units) % 2 == 0
    t_half = nominal_latency_ms(zoo.workload(None, half), sku, "tensorrt", mode)
    t_alt = nominal_latency_ms(zoo.workload(None, alternate), sku, "tensorrt", mode)
    assert int8 < t_half < fp16 and int8 < t_alt < fp16
    # one boundary against many: the alternating engine reformats at every unit
    assert t_alt > t_half * (1 + 0.5 * (zoo.int8_share(None, half) - zoo.int8_share(None, alternate)))
    with pytest.raises(InputError, match="precision 'int8' is not available for tensorrt on jetson-nano"):
        nominal_latency_ms(zoo.workload(None, on), load_sku("jetson-nano"), "tensorrt", "MAXN")


def test_int8_repair_keeps_the_share_and_turns_off_the_least_decided_first():
    zoo = get_model("resnet20").in_space(depth=False, precision=True)
    rng = np.random.default_rng(0)
    repair = int8_repair(zoo, 0.4)
    for _ in range(20):
        r = np.concatenate([rng.uniform(0, 0.9, zoo.n_units), rng.uniform(0, 1, zoo.n_units)])
        fixed = repair(r)
        assert zoo.int8_share(zoo.widths_from_rates(fixed), zoo.int8_from_rates(fixed)) <= 0.4 + 1e-12
        was, now = zoo.int8_from_rates(r), zoo.int8_from_rates(fixed)
        assert np.all(now <= was) and np.array_equal(fixed[:zoo.n_units], r[:zoo.n_units])
        if now.sum() < was.sum() and now.any():  # what stayed on was more decided than what went off
            genes = r[zoo.n_units:]
            assert genes[now].min() >= genes[was & ~now].max()


def test_fake_quantization_follows_the_units_and_unwraps_to_the_same_weights():
    import torch

    zoo = get_model("resnet20")
    module = zoo.module(seed=0)
    keys = set(module.state_dict())
    flags = np.arange(zoo.n_units) < 3
    quantize_units(module, zoo, flags)
    assert np.array_equal(quantized_units(module, zoo), flags)
    module.train()
    module(torch.randn(16, 3, 32, 32)).sum().backward()  # gradients pass straight through
    wrapped = [m for m in module.modules() if isinstance(m, FakeQuantized)]
    assert wrapped and all(m.layer.weight.grad is not None for m in wrapped)
    module.eval()
    scale = wrapped[0].input_fq.scale.clone()
    module(torch.randn(4, 3, 32, 32) * 100)  # evaluation never moves the input scales
    assert torch.equal(wrapped[0].input_fq.scale, scale)
    assert set(dequantize(module).state_dict()) == keys


def test_precision_spaces_need_an_int8_capable_fleet_that_does_not_run_int8_already(write_scenario, tmp_path):
    bad = {"jetson-nano": "precision 'int8' is not available for tensorrt on jetson-nano",
           "jetson-xavier-nx, precision: int8": "the fleet already runs every layer in int8"}
    for fleet, message in bad.items():
        path = write_scenario(raw=f"name: t\nseed: 1\nfleet: {{sku: {fleet}, devices: 50, framework: tensorrt}}\n"
                              "time: {start: 2026-01-01, days: 2}\ndeployment: {workload: resnet20}\n"
                              "pruning: {space: width+precision}\n")
        r = hdap("run", path, "--out", tmp_path / "o")
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert f"pruning.space: {message}" in r.stderr and not (tmp_path / "o").exists()


@pytest.mark.slow  # 54 s: two rounds of int8 fine-tuning on digits end to end
def test_hdap_run_in_the_precision_space_measures_int8_accuracy_and_saves_the_units(write_scenario, tmp_path):
    """End to end on data: every searching method may pick int8 units within the budget, the
    others keep fp16; accuracy is measured fake-quantized; the saved spec prices as the run did."""
    path = write_scenario(raw="""\
name: int8
seed: 4
fleet: {sku: jetson-xavier-nx, devices: 150, framework: tensorrt, precision: fp16}
time: {start: 2026-01-01, days: 3}
deployment: {workload: resnet20}
pruning: {flops_g: 0.02, space: width+depth+precision, int8_share: 0.6, data: digits, train_epochs: 2, rounds: 2,
          finetune_epochs: 1, generations: 15, population: 6, surrogate_samples: 60, k_max: 3}
""")
    r = run_hdap(RunConfig.of(path))
    zoo, table = r.zoo, r.summary()
    assert zoo.precision and "int8_units" in table.columns
    assert table.loc[["unpruned", "uniform_l2", "global_magnitude"], "int8_units"].sum() == 0
    assert table.loc[["hdap", "single_device", "oracle"], "int8_units"].sum() > 0
    for m in METHODS[1:]:
        share = 0 if r.int8[m] is None else zoo.int8_share(r.widths[m], r.int8[m])
        assert share <= 0.6 + 1e-9 and zoo.flops(r.widths[m]) <= 0.02e9
    assert np.array_equal(quantized_units(r.module, zoo), r.int8["hdap"])  # accuracy measured fake-quantized
    first, second = r.rounds  # round 2 prunes round 1's network: its dropped blocks stay dropped
    assert all(second.widths[u] == 0 for u in range(zoo.n_units) if first.widths[u] == 0)
    assert 0.3 < table.loc["hdap", "accuracy"] <= 1  # digits: ten classes, far above chance after 2 epochs
    out = tmp_path / "run"
    r.write(out)
    results = json.loads((out / "results.json").read_text())
    rounds = results["rounds"]
    assert rounds[0]["budget_flops"] > rounds[1]["budget_flops"]
    assert all(rd["candidates_checked"] >= 1 and rd["held_out_tuned"] is not None for rd in rounds)
    assert np.all(np.array(rounds[1]["widths"]) <= np.array(rounds[0]["widths"]))  # no unit grows back
    report = (out / "report.md").read_text()
    assert (out / "accuracy_per_round.png").is_file() and "after fine-tuning" in report and "test_accuracy" in report
    spec = PrunedSpec.read(out / "resnet20_hdap.json")
    assert spec.model_extra["accuracy"] == results["methods"]["hdap"]["accuracy"]
    assert np.array_equal(spec.int8, r.int8["hdap"])
    assert np.array_equal(spec.workload().precision, zoo.workload(r.widths["hdap"], r.int8["hdap"]).precision)
    assert results["int8_units"]["hdap"] == list(spec.int8_units)
