import pandas as pd
import pytest

from testbed.errors import InputError
from zoo import get_model
from zoo.workload import Workload, conv, read_workload


def test_conv_row_arithmetic():
    row = conv("c", 64, 128, 3, 56, 56, stride=2)
    assert (row["h"], row["w"]) == (28, 28)
    assert row["flops"] == 128 * 28 * 28 * 64 * 9
    assert row["bytes_written"] == 128 * 28 * 28 * 4
    dw = conv("dw", 32, 32, 3, 56, 56, groups=32)
    assert dw["kind"] == "dwconv" and dw["flops"] == 32 * 56 * 56 * 9


def test_csv_round_trip(tmp_path):
    w = get_model("resnet18").workload()
    path = tmp_path / "w.csv"
    w.to_frame().to_csv(path, index=False)
    back = read_workload(path)
    assert back.to_frame().equals(w.to_frame())


def test_bad_tables_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="missing column"):
        Workload.from_frame(pd.DataFrame({"kind": ["conv"]}))
    df = get_model("resnet18").workload().to_frame()
    df.loc[0, "kind"] = "attention"
    with pytest.raises(InputError, match="unknown layer kind.*attention"):
        Workload.from_frame(df)
    df = get_model("resnet18").workload().to_frame()
    df.loc[0, "flops"] = -5
    with pytest.raises(InputError, match="flops: every value must be a number >= 0"):
        Workload.from_frame(df)
    with pytest.raises(InputError, match="not found"):
        read_workload(tmp_path / "missing.csv")


def test_stride_is_input_rows_per_output_row_and_optional_in_files(tmp_path):
    assert conv("c", 64, 64, 3, 56, 56, stride=2)["stride"] == 2
    assert conv("c", 64, 64, 3, 7, 7, stride=2)["stride"] == 2   # 7 -> 4 rows
    assert conv("c", 64, 64, 1, 56, 56)["stride"] == 1
    df = get_model("resnet18").workload().to_frame()
    assert sorted(set(df["stride"])) == [1, 2, 7]                # 7: the global average pool
    path = tmp_path / "w.csv"
    df.drop(columns="stride").to_csv(path, index=False)
    assert set(read_workload(path).stride) == {1}
