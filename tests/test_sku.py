import pytest

from testbed.errors import InputError
from twin.sku import list_skus, load_sku


def test_catalogue_holds_the_skus_with_their_modes():
    assert list_skus() == ["host-cpu", "jetson-agx-orin", "jetson-agx-xavier", "jetson-nano", "jetson-orin-nano",
                           "jetson-orin-nx", "jetson-xavier-nx", "kria-k26-dpu", "zcu102-dpu", "zcu104-dpu"]
    nano = load_sku("jetson-nano")
    assert nano.mode_names == ["MAXN", "5W"] and nano.top_mode == "MAXN" and nano.lowest_mode == "5W"
    assert {"10W_4CORE", "15W_6CORE", "20W_6CORE", "10W_DESKTOP"} <= set(load_sku("jetson-xavier-nx").mode_names)
    for name in list_skus():
        sku = load_sku(name)
        assert ("pytorch" in sku.frameworks or name.endswith("-dpu")) and sku.sources
    assert "tensorrt" in nano.frameworks and nano.battery.capacity_wh == pytest.approx(50.3, abs=0.1)


def test_nano_memory_clock_is_the_same_in_both_modes():
    nano = load_sku("jetson-nano")
    assert nano.power_modes["MAXN"].memory_mhz == nano.power_modes["5W"].memory_mhz


def test_unknown_sku_names_the_catalogue():
    with pytest.raises(InputError, match="unknown SKU 'jetson-tx9'.*jetson-nano"):
        load_sku("jetson-tx9")


def test_sku_file_errors_name_file_and_field(tmp_path):
    path = tmp_path / "bad.yaml"
    text = (load_sku.__globals__["SKU_DIR"] / "jetson-nano.yaml").read_text().replace("peak_gmacs: 236.0", "peak_gmacs: -1")
    path.write_text(text)
    with pytest.raises(InputError, match=r"bad.yaml: peak_gmacs: .*greater than 0"):
        load_sku(path)
