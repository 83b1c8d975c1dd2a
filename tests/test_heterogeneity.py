"""hdap study heterogeneity: each mechanism switched on alone, the oracle is the best pick, the
theory moves with the magnitude, neutral cells are one fleet, and the CLI's contract."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import run_main
from hdap import cli as hdap_cli
from hdap.config import RunConfig
from hdap.study.heterogeneity import MECHANISMS, Mechanism, heterogeneity_study, parse_magnitudes
from testbed.errors import InputError
from twin.executor import Executor
from twin.simulation import simulate

FLEET = """\
    deployment: {workload: resnet20}
    drift:
      power_modes: {initial: {MAXN: 0.7, 5W: 0.3}}
    pruning: {flops_g: 0.02, population: 4, generations: 6, surrogate_samples: 40, representatives: 2, k_max: 3}
    """


def hdap(*args):
    return subprocess.run([sys.executable, "-m", "hdap.cli", *map(str, args)], capture_output=True, text=True)


@pytest.fixture
def config(write_scenario):
    return RunConfig.of(write_scenario(FLEET, devices=300, days=12))


def test_each_mechanism_alone_and_the_others_off(config):
    sc = config.scenario
    mechs = {m: Mechanism.of(m, sc, config) for m in MECHANISMS}
    assert mechs["modes"].mode == "5W" and mechs["software"].kind == "conv"  # resnet20 has no depthwise convs
    modes = mechs["modes"].apply(sc, 0.4)
    assert modes.drift.power_modes.initial == {"MAXN": 0.6, "5W": 0.4} and modes.drift.power_modes.switch_rate_per_year == 0
    assert modes.drift.background.arrival_rate_per_year == 0 and modes.drift.firmware == []
    release = mechs["software"].apply(sc, 1.6).drift.firmware
    assert len(release) == 1 and release[0].kernel_speed == {"conv": 1.6} and release[0].coverage == 0.5
    assert mechs["engines"].apply(sc, 0.1).deployment.engines.kernel_sd == 0.1
    assert mechs["background"].apply(sc, 1.0).drift.background.cores == (1.0, 1.0)
    neutral = mechs["modes"].apply(sc, 0.0)
    assert neutral.drift.power_modes.initial == {} and neutral.deployment.engines.kernel_sd == 0
    # the mode share is what the fleet gets
    snap = simulate(modes.with_overrides(devices=2000, days=1)).final
    assert np.mean(snap.state.power_mode == snap.sku.mode_names.index("5W")) == pytest.approx(0.4, abs=0.04)


def test_study_rows_the_oracle_is_the_best_pick_and_the_theory_moves_with_magnitude(config):
    with Executor(1) as ex:
        df = heterogeneity_study(config, ["modes", "engines"], ["width", "width+depth"],
                                 parse_magnitudes(["modes=0", "engines=0,0.3"]), None, 1, ex)
    assert len(df) == 6 and set(df["space"]) == {"width", "width+depth"}
    for col in ("single_device_loss_pct", "predicted_loss_pct", "hdap_gain_pct", "oracle_gain_pct", "clusters",
                "profiling_device_hours"):
        assert df[col].notna().all(), col
    picks = df[["hdap_ms", "single_device_ms", "nominal_ms"]].min(axis=1)
    assert (df["oracle_ms"] <= picks + 1e-12).all()
    assert (df["hdap_gap_to_oracle_pct"] >= 0).all() and (df["single_device_loss_pct"] >= 0).all()
    # neutral magnitudes are one fleet: the engines row repeats the modes row
    neutral = df[df["magnitude"] == 0].set_index(["mechanism", "space"])
    assert np.allclose(neutral.loc["engines"]["oracle_ms"], neutral.loc["modes"]["oracle_ms"])
    # engine builds that pick different kernels per layer shape differ in shape; at 0 in speed only
    width = df[(df["space"] == "width") & (df["mechanism"] == "engines")].set_index("magnitude")
    assert width.loc[0, "predicted_loss_pct"] < 0.1 < width.loc[0.3, "predicted_loss_pct"]
    depth = df[df["space"] == "width+depth"]
    assert (df[df["space"] == "width"]["hdap_blocks_dropped"] == 0).all() and depth["oracle_blocks_dropped"].max() > 0


def test_the_precision_space_is_studied_on_a_fleet_that_runs_int8(write_scenario):
    config = RunConfig.of(write_scenario(raw="""\
name: xnx
seed: 2
fleet: {sku: jetson-xavier-nx, devices: 200, framework: tensorrt, precision: fp16}
time: {start: 2026-01-01, days: 3}
deployment: {workload: resnet20}
drift: {power_modes: {initial: {20W_6CORE: 0.6, 10W_DESKTOP: 0.4}}}
pruning: {flops_g: 0.02, population: 4, generations: 6, surrogate_samples: 40, representatives: 2, k_max: 3}
"""))
    with Executor(1) as ex:
        df = heterogeneity_study(config, ["modes"], ["width", "width+depth+precision"], parse_magnitudes(["modes=0.4"]),
                                 None, 1, ex)
    assert set(df["space"]) == {"width", "width+depth+precision"}
    precision = df[df["space"] == "width+depth+precision"].iloc[0]
    assert precision["oracle_int8_units"] > 0 and (df[df["space"] == "width"]["oracle_int8_units"] == 0).all()
    # int8 units at the same FLOPs: the oracle's fleet mean falls
    assert precision["oracle_ms"] < df[df["space"] == "width"]["oracle_ms"].iloc[0]


def test_magnitudes_are_checked():
    assert parse_magnitudes(["engines=0,0.2"])["engines"] == (0.0, 0.2)
    for bad, message in [("speed=1", "mechanisms: modes"), ("modes=1.5", "shares in"), ("software=0.5", "speed factors"),
                         ("engines=a", "must be numbers"), ("background=", "not MECHANISM=")]:
        with pytest.raises(InputError, match=message):
            parse_magnitudes([bad])


def test_heterogeneity_cli_writes_report_and_rejects_bad_input(write_scenario, tmp_path):
    path = write_scenario(FLEET, devices=200, days=12)
    out = tmp_path / "het"
    r = hdap("study", "heterogeneity", path, "--mechanisms", "engines", "--magnitudes", "engines=0,0.2",
             "--spaces", "width", "--workers", 1, "--out", out)
    assert r.returncode == 0, r.stderr
    assert {"report.md", "heterogeneity.csv", "summary.csv", "heatmap_oracle_gain.png", "heatmap_hdap_gain.png",
            "theory_vs_simulation.png", "run.json"} <= {p.name for p in out.iterdir()}
    df = pd.read_csv(out / "heterogeneity.csv")
    assert list(df.columns[:3]) == ["mechanism", "magnitude", "space"] and len(df) == 2
    assert "Theory against simulation" in (out / "report.md").read_text()
    vgg = write_scenario("deployment: {workload: vgg16_cifar}\n", name="vgg", devices=50, days=3)
    for args, message in [((path, "--mechanisms", "modes,speed"), "unknown speed"),
                          ((path, "--spaces", "depth"), "unknown depth"),
                          ((path, "--magnitudes", "modes=2"), "shares in [0, 1]"),
                          ((vgg, "--spaces", "width+depth"), "pruning.space: vgg16_cifar has no residual block")]:
        code, err = run_main(hdap_cli.main, ["study", "heterogeneity", *args, "--workers", 1, "--out", tmp_path / "bad"])
        assert code == 2 and message in err and "Traceback" not in err, (args, err)
        assert not (tmp_path / "bad").exists()
