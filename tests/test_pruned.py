"""The pruned model's spec: one validated type, written and read in one place, by every reader."""

import json
import subprocess
import sys

import numpy as np
import pytest

from testbed.errors import InputError
from zoo import PrunedSpec, get_model, resolve_workload


def test_round_trip_keeps_extra_keys_and_prices_the_architecture(tmp_path):
    zoo = get_model("resnet20")
    widths = zoo.widths_from_rates(np.full(zoo.n_units, 0.5))
    spec = PrunedSpec.of(zoo, widths, accuracy=0.97, scenario="quickstart")
    spec.write(tmp_path / "m.json")
    back = PrunedSpec.read(tmp_path / "m.json")
    assert back == spec and back.accuracy == 0.97 and back.flops == zoo.flops(widths)
    assert list(json.loads((tmp_path / "m.json").read_text())) == ["model", "widths", "input_shape", "flops", "params",
                                                                     "accuracy", "scenario"]
    assert resolve_workload(str(tmp_path / "m.pt")).dense_flops == resolve_workload(str(tmp_path / "m.json")).dense_flops
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("text,message", [
    ('{"model": "resnet20", "widths": [1, 2]}', "m.json: widths: resnet20 has 9 prunable units, got 2 widths"),
    ('{"model": "resnet9", "widths": [1]}', "m.json: model: unknown model 'resnet9'"),
    ('{"widths": [1]}', "m.json: model: Field required"),
    ('{"model": "resnet20", "widths": [1, 1, 1, 1, 1, 1, 1, 1, 999]}', "m.json: widths: resnet20: widths must be whole"),
    ('{"model": "resnet20", "widths": [8, 8, 8, 8, 8, 8, 8, 8, 8], "input_shape": [3, 30, 30]}',
     "m.json: input_shape: resnet20: input size must be a multiple of 4 from 8, got 30"),
    ('{"model": "vgg16_cifar", "widths": [8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8], "input_shape": [3, 64, 64]}',
     "m.json: input_shape: vgg16_cifar takes 32x32 inputs only"),
    ("[1, 2]", "a pruned-model spec must be a JSON mapping"),
    ("{not json", "not a pruned-model spec (not JSON"),
])
def test_bad_specs_are_one_line_naming_file_and_field(tmp_path, text, message):
    (tmp_path / "m.json").write_text(text)
    with pytest.raises(InputError) as err:
        PrunedSpec.read(tmp_path / "m.json")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_bad_sidecar_is_a_clean_error_for_every_reader(tmp_path):
    (tmp_path / "m.pt").write_bytes(b"")
    (tmp_path / "m.json").write_text('{"model": "resnet20"}')
    for cli, args in (("hdap.cli", ["train", "--pruned", "m.pt", "--epochs", "1", "--out", "o.pt"]),
                      ("twin.cli", ["predict", "--sku", "jetson-nano", "--model-file", "m.pt"])):
        r = subprocess.run([sys.executable, "-m", cli, *args], capture_output=True, text=True, cwd=tmp_path)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert "m.json: widths: Field required" in r.stderr, r.stderr


def test_a_spec_keeps_its_input_size(tmp_path):
    zoo = get_model("yolov8n", 320)
    widths = zoo.widths_from_rates(np.full(zoo.n_units, 0.5))
    PrunedSpec.of(zoo, widths).write(tmp_path / "m.json")
    spec = PrunedSpec.read(tmp_path / "m.json")
    assert spec.input_shape == (3, 320, 320) and spec.zoo.input_shape == (3, 320, 320)
    assert spec.workload().dense_flops == zoo.flops(widths)
    assert spec.workload(640).dense_flops == pytest.approx(4 * zoo.flops(widths), rel=0.01)  # 4x the pixels
