"""The measurement CSV: the published Jetson file reads as it is, bad files fail with one line."""

import json

import pytest

from conftest import REPO
from testbed.errors import InputError
from twin.calibration.measurement_csv import COLUMNS, arch_hash, read_measurements, row_architecture, write_rows

PUBLISHED = REPO / "tests" / "data" / "jetson_published_latency.csv"  # a copy of shared/data/'s


def test_published_file_reads_as_it_is_with_defaults_filled():
    df = read_measurements(PUBLISHED)
    assert set(COLUMNS) <= set(df.columns)
    nano = df[df["sku"] == "jetson-nano"]
    assert len(nano) == 6 and set(nano["framework"]) == {"pytorch", "tensorrt"}
    assert (df["power_mode"] == "").all() and (df["background_cores"] == 0).all() and (df["batch"] == 1).all()
    assert df.loc[df["model"] == "resnet50", "latency_ms"].min() == pytest.approx(3.37)


def test_write_rows_appends_and_keeps_the_header_once(tmp_path):
    path = tmp_path / "m.csv"
    row = {"board_id": "b1", "sku": "host-cpu", "framework": "pytorch", "model": "resnet20", "latency_ms": 2.5}
    write_rows(path, [row])
    write_rows(path, [{**row, "board_id": "b2", "latency_ms": 2.7}])
    df = read_measurements(path)
    assert list(df["board_id"]) == ["b1", "b2"] and list(df["latency_ms"]) == [2.5, 2.7]
    assert path.read_text().count("board_id") == 1
    assert [p.name for p in tmp_path.iterdir()] == ["m.csv"]  # no temporary left behind


def test_write_rows_refuses_a_file_of_another_format(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="other.csv: exists with other columns"):
        write_rows(path, [{"sku": "x"}])
    assert path.read_text() == "a,b\n1,2\n"


@pytest.mark.parametrize("text, message", [
    ("sku,model,latency_ms\nhost-cpu,resnet20,2\n", r"missing column\(s\) framework"),
    ("sku,model,framework,latency_ms\nhost-cpu,resnet20,pytorch,0\n", r"row 2: latency_ms must be a positive number, got '0'"),
    ("sku,model,framework,latency_ms\nhost-cpu,resnet20,pytorch,fast\n", r"row 2: latency_ms must be a positive number"),
    ("sku,model,framework,latency_ms,batch\nhost-cpu,resnet20,pytorch,2,8\n", r"row 2: batch must be 1"),
    ("sku,model,framework,latency_ms\n", r"no measurement rows"),
    ("sku,model,framework,latency_ms\nhost-cpu,,pytorch,2\n", r"row 2: model is empty"),
])
def test_bad_files_fail_with_the_row_and_column(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        read_measurements(path)


def test_missing_file():
    with pytest.raises(InputError, match="nope.csv: measurement file not found"):
        read_measurements("nope.csv")


def test_row_architecture_reads_zoo_names_widths_and_specs(tmp_path):
    (tmp_path / "p.json").write_text(json.dumps({"model": "resnet20", "widths": [8] * 9}))
    assert row_architecture({"model": "resnet20", "widths": ""}) == ("resnet20", None, None)
    assert row_architecture({"model": "resnet20", "widths": "4;4;4;8;8;8;16;16;16"})[1] == (4, 4, 4, 8, 8, 8, 16, 16, 16)
    assert row_architecture({"model": "p.json", "widths": ""}, tmp_path) == ("resnet20", (8,) * 9, None)
    with pytest.raises(InputError, match="row 3: model: unknown model"):
        row_architecture({"model": "resnet9000", "widths": ""}, where="row 3: ")
    with pytest.raises(InputError, match="widths: resnet20 has 9 prunable units"):
        row_architecture({"model": "resnet20", "widths": "4;4"})
    # any input size the architecture takes; the model's own reads as None
    assert row_architecture({"model": "yolov8n", "widths": "", "input_shape": "1x3x320x320"})[2] == 320
    assert row_architecture({"model": "yolov8n", "widths": "", "input_shape": "1x3x640x640"})[2] is None
    with pytest.raises(InputError, match="input_shape: yolov8n: input size must be a multiple of 32"):
        row_architecture({"model": "yolov8n", "widths": "", "input_shape": "1x3x300x300"})
    with pytest.raises(InputError, match="input_shape: 1x3x64x48 is not a batch-1 shape resnet20 takes"):
        row_architecture({"model": "resnet20", "widths": "", "input_shape": "1x3x64x48"})
    with pytest.raises(InputError, match="input_shape: vgg16_cifar takes 32x32 inputs only"):
        row_architecture({"model": "vgg16_cifar", "widths": "", "input_shape": "1x3x64x64"})
    assert arch_hash("yolov8n", [16] * 3, 320) != arch_hash("yolov8n", [16] * 3) == arch_hash("yolov8n", [16] * 3, None)
    assert arch_hash("resnet20", [16] * 3) == arch_hash("resnet20", (16, 16, 16)) != arch_hash("resnet20", [16, 16, 15])
