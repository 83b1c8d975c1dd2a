"""The FPGA catalogue: DPU SKUs fitted to the Model Zoo's published latencies, checked on rows the
fit never saw, and the physics of their precisions."""

from pathlib import Path

import pandas as pd
import pytest

from twin.latency import nominal_inference, nominal_latency_ms
from twin.sku import load_sku
from zoo import get_model


def test_dpu_model_predicts_the_held_out_published_resnet50_within_20_percent():
    """ResNet-50 is left out of the fit on both boards (tests/data/dpu_heldout.csv)."""
    rows = pd.read_csv(Path(__file__).parent / "data" / "dpu_heldout.csv")
    assert set(rows["sku"]) == {"zcu102-dpu", "zcu104-dpu"}
    for r in rows.itertuples():
        wl = get_model(r.model).workload()
        predicted = nominal_latency_ms(wl, load_sku(r.sku), r.framework, r.power_mode, precision=r.precision)
        assert abs(predicted / r.latency_ms - 1) < 0.20, (r.sku, predicted, r.latency_ms)


def test_dpu_clock_and_bit_width_move_latency_the_physical_way():
    wl = get_model("resnet50").workload()
    zcu102 = load_sku("zcu102-dpu")
    at = {m: nominal_latency_ms(wl, zcu102, "vitis-ai", m) for m in ("DPU_287MHZ", "DPU_281MHZ")}
    assert at["DPU_281MHZ"] > at["DPU_287MHZ"]
    bits = {p: nominal_latency_ms(wl, zcu102, "vitis-ai", precision=p) for p in ("int8", "int4", "int1")}
    assert bits["int1"] < bits["int4"] < bits["int8"]
    assert bits["int8"] / bits["int4"] < 1.8  # the peak's 1.8x is not reached: overheads and memory stay


def test_kria_power_on_resnet50_falls_in_the_measured_som_range():
    """Simfero (2026) read 4.3-4.8 W on the SOM's sensors during DPU inference."""
    inf = nominal_inference(get_model("resnet50").workload(), load_sku("kria-k26-dpu"), "vitis-ai")
    assert 4.3 <= inf.power_w <= 4.8


def test_sub_8_bit_weights_run_as_the_narrowest_precision_a_platform_has():
    nano, xavier, k26 = load_sku("jetson-nano"), load_sku("jetson-xavier-nx"), load_sku("kria-k26-dpu")
    assert nano.runs_as("tensorrt", "int4") == "fp16"        # Maxwell: no int8 kernels
    assert xavier.runs_as("tensorrt", "int1") == "int8"
    assert xavier.runs_as("tensorrt", "fp16") == "fp16"
    assert k26.runs_as("vitis-ai", "int2") == "int4" and k26.runs_as("vitis-ai", "int1") == "int1"
    with pytest.raises(Exception, match="runs nothing as wide as fp32"):
        k26.runs_as("vitis-ai", "fp32")
