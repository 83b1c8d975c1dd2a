"""Energy per inference from event counts (twin.energy) and compressed networks on platforms
(twin.compressed): the reference runs reproduced, measured wall energy the fit never saw,
and the physical direction of bits and sparsity."""

from pathlib import Path

import pandas as pd
import pytest

from twin.compressed import LayerCompression, platform_workload
from twin.energy import inference_energy, onchip_scale
from twin.latency import LatencyModel, nominal_inference
from twin.sku import load_sku, parse_clocks, with_clocks
from zoo import get_model
from zoo.trace import trace_workload

DATA = Path(__file__).parent / "data"


def _wall_mj(sku, module_mj, latency_ms):
    return (module_mj + sku.power.carrier_w * latency_ms) / sku.power.supply_efficiency


def test_reference_runs_are_reproduced_and_the_onchip_factor_is_physical():
    resnet50 = get_model("resnet50").workload()
    k26 = load_sku("kria-k26-dpu")
    assert inference_energy(resnet50, k26).power_w == pytest.approx(4.8, rel=1e-9)  # the SOM's measured top
    xavier = load_sku("jetson-xavier-nx")
    run = nominal_inference(resnet50, xavier, "tensorrt", precision="int8")
    assert inference_energy(resnet50, xavier, "tensorrt", "int8").total_mj == pytest.approx(run.energy_mj, rel=1e-9)
    # a GPU spends more on chip per counted MAC than a dataflow FPGA (instruction issue, register files)
    assert onchip_scale(xavier) > onchip_scale(k26) > 1


@pytest.mark.parametrize("row", range(3))
def test_wall_energy_of_the_mlperf_power_rows_within_20_percent(row):
    """Xavier NX v2.0 MaxQ (the power model's fit) and two AGX Orin MaxQ rows no fit saw."""
    rows = pd.concat([pd.read_csv(DATA / f) for f in ("jetson_measured_2.csv", "jetson_heldout.csv")])
    rows = rows[rows.power_w.notna()].reset_index(drop=True)
    assert len(rows) == 3
    r = rows.iloc[row]
    sku, mode = with_clocks(load_sku(r.sku), parse_clocks(r.clocks))
    e = inference_energy(get_model(r.model).workload(), sku, r.framework, r.precision, mode)
    measured_mj = r.power_w * r.latency_ms
    assert _wall_mj(sku, e.total_mj, e.latency_ms) / measured_mj == pytest.approx(1, abs=0.20)


def test_fewer_bits_cost_less_energy_on_fpga_but_not_below_int8_on_a_gpu():
    table = trace_workload(get_model("resnet20").module(), (3, 224, 224))
    convs = [n for n, k in zip(table.name, table.kind) if k == 0]
    energy = {}
    for sku, fw in (("kria-k26-dpu", "vitis-ai"), ("jetson-xavier-nx", "tensorrt")):
        for bits in (8, 4, 1):
            layers = {n: LayerCompression(bits) for n in convs}
            energy[sku, bits] = inference_energy(platform_workload(table, layers, load_sku(sku), fw), load_sku(sku), fw).total_mj
    assert energy["kria-k26-dpu", 1] < energy["kria-k26-dpu", 4] < energy["kria-k26-dpu", 8]
    assert energy["jetson-xavier-nx", 1] == energy["jetson-xavier-nx", 4] == energy["jetson-xavier-nx", 8]


def test_sparsity_pays_only_where_kernels_skip_the_structure():
    table = trace_workload(get_model("resnet20").module(), (3, 224, 224))
    convs = [n for n, k in zip(table.name, table.kind) if k == 0][1:]
    orin = load_sku("jetson-orin-nx")
    dense = platform_workload(table, {n: LayerCompression(8) for n in convs}, orin, "tensorrt")

    def run(structure, sku=orin):
        layers = {n: LayerCompression(8, 0.5, structure) for n in convs}
        lm = LatencyModel(platform_workload(table, layers, sku, "tensorrt"), sku, "tensorrt")
        return lm.macs.sum(), inference_energy(platform_workload(table, layers, sku, "tensorrt"), sku, "tensorrt").latency_ms

    dense_macs = LatencyModel(dense, orin, "tensorrt").macs.sum()
    dense_ms = inference_energy(dense, orin, "tensorrt").latency_ms
    assert run("block") == (dense_macs, dense_ms)                              # TensorRT: no block-sparse kernels
    assert run("2:4")[0] < 0.6 * dense_macs and run("2:4")[1] < dense_ms     # Ampere sparse tensor cores
    compiler = orin.with_sparse_kernels("tensorrt", {"block": 0.5})
    assert run("block", compiler)[0] == pytest.approx(0.75 * dense_macs, rel=0.05)


def test_a_float_network_does_not_run_on_a_dpu():
    table = trace_workload(get_model("resnet20").module(), (3, 32, 32))
    with pytest.raises(Exception, match="runs only quantized networks"):
        platform_workload(table, {}, load_sku("zcu102-dpu"), "vitis-ai")
