"""The zoo: published sizes, analytic tables equal to traced ones, unit bookkeeping."""

import logging

import numpy as np
import pytest
import torch
from fvcore.nn import FlopCountAnalysis

from testbed.errors import InputError
from zoo import get_model, model_names, trace_workload
from zoo.arch.yolo import UNITS

UNIT = {u: i for i, u in enumerate(UNITS)}

# (zoo name): (published GMACs, published M params, source)
PUBLISHED = {
    "resnet50": (4.1, 25.6, "torchvision"),
    "resnet18": (1.8, 11.7, "torchvision"),
    "resnet56": (0.125, 0.85, "He et al. 2016, CIFAR ResNet"),
    "resnet20": (0.041, 0.27, "He et al. 2016"),
    "vgg16": (15.5, 138.4, "torchvision"),
    "vgg16_cifar": (0.313, 15.0, "Li et al. 2017"),
    "mobilenet_v1": (0.569, 4.2, "Howard et al. 2017"),
    "mobilenet_v2": (0.300, 3.5, "Sandler et al. 2018 / torchvision"),
    "yolov8n": (4.35, 3.2, "ultralytics: 8.7 GFLOPs counting a MAC as 2"),
}


def test_zoo_names():
    assert set(model_names()) == {
        "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "vgg11", "vgg13", "vgg16", "vgg19",
        "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn", "mobilenet_v1", "mobilenet_v2", "resnet20", "resnet56",
        "resnet110", "vgg16_cifar", "yolov8n", "yolov8s", "yolov8m", "yolov8l", "yolov8x"}


@pytest.fixture
def quiet_fvcore():
    """fvcore warns about every op it does not count; silence its logger for one test only."""
    logger = logging.getLogger("fvcore")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_fvcore_agrees_with_published_sizes(name, quiet_fvcore):
    m = get_model(name)
    module = m.module().eval()
    gmacs, mparams, _ = PUBLISHED[name]
    counted = FlopCountAnalysis(module, torch.zeros(1, *m.input_shape))
    counted.unsupported_ops_warnings(False)
    counted.uncalled_modules_warnings(False)
    assert counted.total() / 1e9 == pytest.approx(gmacs, rel=0.05)  # fvcore also counts batch norm
    assert m.workload().dense_flops / 1e9 == pytest.approx(gmacs, rel=0.02)
    assert sum(p.numel() for p in module.parameters()) / 1e6 == pytest.approx(mparams, rel=0.02)


def _sorted(table):
    df = table.to_frame().drop(columns="name")
    return df.sort_values(list(df.columns)).reset_index(drop=True)


# ultralytics' published figures at 640 (GFLOPs count a MAC as 2): GFLOPs, M params
YOLOV8 = {"yolov8n": (8.7, 3.2), "yolov8s": (28.6, 11.2), "yolov8m": (78.9, 25.9), "yolov8l": (165.2, 43.7),
          "yolov8x": (257.8, 68.2)}


@pytest.mark.parametrize("name", sorted(YOLOV8))
def test_yolov8_family_matches_ultralytics(name):
    m = get_model(name)
    gflops, mparams = YOLOV8[name]
    assert 2 * m.flops() / 1e9 == pytest.approx(gflops, abs=0.06)  # published to one decimal (l: 165.15 vs 165.2)
    assert m.params() / 1e6 == pytest.approx(mparams, abs=0.05)
    with torch.device("meta"):
        module = m.module()
    assert sum(p.numel() for p in module.parameters()) == m.params()
    assert m.input_shape == (3, 640, 640) and m.n_units == 25


def test_yolov8_scales_as_ultralytics_scales():
    from zoo.arch.yolo import config

    n, x = config("yolov8n"), config("yolov8x")
    assert n.c2f[4] == (2, True) and config("yolov8m").c2f[4] == (4, True) and x.c2f[4] == (6, True)
    assert n.c2f[12] == (1, False) and x.c2f[12] == (3, False)
    assert (n.box_ch, n.cls_ch) == (64, 80) and (x.box_ch, x.cls_ch) == (80, 320)
    assert config("yolov8m").full_widths[UNIT["c2f21.out"]] == 576  # max_channels 768 x width 0.75
    assert x.full_widths[UNIT["c2f21.out"]] == 640                    # max_channels 512 x width 1.25


@pytest.mark.parametrize("name", model_names())
def test_analytic_table_equals_traced_pruned_module(name):
    m = get_model(name)
    rng = np.random.default_rng(sum(map(ord, name)))  # stable across processes
    for _ in range(2):
        widths = m.widths_from_rates(rng.uniform(0.1, 0.9, m.n_units))
        analytic = m.workload(widths)
        module = m.module(widths)
        traced = trace_workload(module, m.input_shape)
        assert _sorted(analytic).equals(_sorted(traced))
        assert m.params(widths) == sum(p.numel() for p in module.parameters())
        assert analytic.dense_flops < m.workload().dense_flops


def test_units_and_rates():
    m = get_model("resnet50")
    assert m.n_units == 16 and m.full_widths[:3] == (64, 64, 64) and m.full_widths[-1] == 512
    assert get_model("resnet56").n_units == 27
    assert list(m.widths_from_rates(np.full(16, 0.5))[:3]) == [32, 32, 32]
    assert m.widths_from_rates(np.full(16, 0.999)).min() == 1


@pytest.mark.parametrize("rates,message", [(np.full(15, 0.5), "16 prunable units, got 15"),
                                           (np.full(16, 1.0), r"rates must be in \[0, 1\)"),
                                           (np.full(16, -0.1), r"rates must be in \[0, 1\)")])
def test_bad_rates(rates, message):
    with pytest.raises(InputError, match=message):
        get_model("resnet50").widths_from_rates(rates)


def test_unknown_model():
    with pytest.raises(InputError, match="unknown model 'resnet9'.*resnet50"):
        get_model("resnet9")


def test_pruned_modules_run_and_keep_classifier_outputs():
    m = get_model("resnet56")
    module = m.module(m.widths_from_rates(np.full(27, 0.5))).eval()
    assert module(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_architectures_and_tables_need_no_torch():
    import subprocess
    import sys
    code = ("import sys, zoo as z; z.get_model('resnet50').workload(); "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def test_mobilenet_v2_first_block_never_residual():
    # the first inverted residual maps the 32-channel stem to 16 channels: a stem pruned to 16
    # must not turn it into a residual block (the traced module would gain an add layer)
    m = get_model("mobilenet_v2")
    widths = list(m.full_widths)
    widths[0] = 16
    assert _sorted(m.workload(widths)).equals(_sorted(trace_workload(m.module(widths), m.input_shape)))
    assert not m.module(widths).features[1].use_res


def test_fvcore_test_leaves_logging_as_it_was():
    assert logging.root.manager.disable == logging.NOTSET
    assert logging.getLogger("fvcore").level == logging.NOTSET


@pytest.mark.parametrize("name,size", [("yolov8n", 160), ("yolov8s", 352), ("resnet18", 160), ("resnet20", 48),
                                       ("mobilenet_v2", 288)])
def test_other_input_sizes_trace_to_the_analytic_table(name, size):
    m = get_model(name, size)
    assert m.input_shape == (3, size, size) and m.full_widths == get_model(name).full_widths
    widths = m.widths_from_rates(np.random.default_rng(size).uniform(0.1, 0.8, m.n_units))
    assert _sorted(m.workload(widths)).equals(_sorted(trace_workload(m.module(widths), m.input_shape)))
    assert get_model(name, size) is get_model(name, size) and get_model(name, m.input_size) is m


def test_yolo_flops_grow_with_the_pixels():
    flops = {s: get_model("yolov8n", s).flops() for s in (160, 320, 640, 1280)}
    for small, big in ((160, 320), (320, 640), (640, 1280)):
        assert flops[big] / flops[small] == pytest.approx(4, rel=0.01)


@pytest.mark.parametrize("name,size,message", [("yolov8n", 100, "yolov8n: input size must be a multiple of 32 from 32"),
                                               ("yolov8n", 0, "multiple of 32 from 32, got 0"),
                                               ("vgg16", 448, "vgg16 takes 224x224 inputs only"),
                                               ("resnet20", 30, "multiple of 4 from 8")])
def test_sizes_an_architecture_does_not_take(name, size, message):
    with pytest.raises(InputError, match=message):
        get_model(name, size)


def test_droppable_blocks_are_those_with_an_identity_path():
    # ResNet: every block after each stage's first (and ResNet-18/CIFAR stage 1's first: 64 -> 64, 16 -> 16)
    assert get_model("resnet50").droppable == (1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 14, 15)
    assert get_model("resnet18").droppable == (0, 1, 3, 5, 7)
    assert len(get_model("resnet56").droppable) == 27 - 2
    # MobileNetV2: the stride-1 inverted residuals with equal channels
    assert get_model("mobilenet_v2").droppable == (2, 4, 5, 7, 8, 9, 11, 12, 14, 15)
    assert get_model("vgg16").droppable == get_model("yolov8n").droppable == get_model("mobilenet_v1").droppable == ()


@pytest.mark.parametrize("name,size", [("resnet18", 64), ("resnet50", 64), ("resnet56", 32), ("mobilenet_v2", 64)])
def test_dropped_blocks_trace_to_the_analytic_table(name, size):
    zoo = get_model(name, size)
    widths = np.array(zoo.full_widths) // 2
    widths[list(zoo.droppable)[::2]] = 0
    traced = trace_workload(zoo.module(widths), zoo.input_shape)
    table = zoo.workload(widths)
    assert len(table) < len(zoo.workload(np.array(zoo.full_widths) // 2))
    assert len(traced) == len(table) and np.array_equal(traced.kind, table.kind)
    assert np.allclose(traced.flops, table.flops) and np.allclose(traced.bytes_read, table.bytes_read)
    assert zoo.params(widths) == sum(p.numel() for p in zoo.module(widths).parameters())


def test_drop_genes_rates_and_widths_round_trip():
    flat, deep = get_model("resnet50"), get_model("resnet50").in_space(depth=True)
    assert deep.n_rates == 16 + 12 and flat.n_rates == 16 and deep.in_space(False) is flat
    assert deep.at_size(128).depth and deep.at_size(128).input_size == 128
    rates = np.concatenate([np.full(16, 0.5), np.zeros(12)])
    rates[16 + 3] = 0.5  # the fourth droppable unit (5) at DROP_GENE: dropped
    widths = deep.widths_from_rates(rates)
    assert widths[5] == 0 and np.sum(widths == 0) == 1
    assert np.array_equal(deep.widths_from_rates(deep.rates_from_widths(widths)), widths)
    with pytest.raises(InputError, match="need the width\\+depth space"):
        flat.rates_from_widths(widths)
    with pytest.raises(InputError, match="16 prunable units and 12 drop genes, got 16 rates"):
        deep.widths_from_rates(np.zeros(16))
    bad = np.array(flat.full_widths)
    bad[0] = 0  # the first block downsamples: no identity path
    with pytest.raises(InputError, match="0 drops the block of a unit in"):
        flat.check_widths(bad)
