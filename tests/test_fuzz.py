"""The CLI contract, fuzzed: whatever scenario or arguments a user gives, exit 0 with a complete
output, or exit 2 with one line naming what is wrong; never a traceback, never a partial folder.

Scenario documents are generated around a valid one (keys dropped, values swapped for numbers,
strings, infinities, huge counts, unknown names); argument lists mix valid and invalid values.
The CLIs run in this process (their ``main``), so a crash surfaces as the exception it would
have printed. Each example is bounded in time (hypothesis' deadline) and the process in memory
(its peak resident size, checked after every call). A bounded budget runs by default; ``-m slow``
runs a longer one.
"""

import math
import resource
from datetime import timedelta

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import REPO, run_main
from hdap import cli as hdap_cli
from twin import cli as twin_cli

EXAMPLES = 100
LONG = 2000
DEADLINE = timedelta(seconds=60)   # per example: a hang or a runaway fleet fails, not stalls the suite
MAX_RSS_GB = 4.0                   # the whole test process's peak: a runaway allocation fails the example

JUNK = st.one_of(st.integers(-10**13, 10**13), st.floats(allow_nan=True, allow_infinity=True),
                 st.text(max_size=12), st.none(), st.booleans(), st.lists(st.integers(-3, 3), max_size=3))
COUNT = st.one_of(st.integers(-3, 400), st.sampled_from(["1e2", "2.5", "1e12", "1e400", ".inf", "many"]), JUNK)
SHARES = st.dictionaries(st.sampled_from(["MAXN", "5W", "TURBO", ""]),
                         st.one_of(st.floats(-1, 2), st.sampled_from([math.inf, math.nan, 0.0])), max_size=3)


@st.composite
def scenarios(draw):
    """A valid document with up to two of its values broken (none, a third of the time)."""
    broken = draw(st.sets(st.sampled_from(["name", "sku", "devices", "start", "days", "framework", "workload",
                                           "inferences", "shares", "extra", "missing"]), max_size=2))

    def pick(field, valid, invalid):
        return draw(invalid if field in broken else valid)

    doc = {"name": pick("name", st.just("f"), st.one_of(st.text(max_size=6), JUNK)),
           "fleet": {"sku": pick("sku", st.sampled_from(["jetson-nano", "jetson-xavier-nx"]),
                                 st.sampled_from(["tx9", "", "../nowhere.yaml"])),
                     "devices": pick("devices", st.one_of(st.integers(1, 300), st.just("1e2")), COUNT)},
           "time": {"start": pick("start", st.just("2026-01-01"), st.sampled_from(["2026-13-40", "yesterday", ""])),
                    "days": pick("days", st.integers(1, 4), st.one_of(st.integers(-2, 0), JUNK))}}
    doc["fleet"]["framework"] = pick("framework", st.sampled_from(["pytorch", "tensorrt"]),
                                     st.sampled_from(["onnx", "", "TensorRT"]))
    doc["deployment"] = {"workload": pick("workload", st.sampled_from(["resnet20", "mobilenet_v2"]),
                                          st.sampled_from(["nothere.csv", "", "resnet9"])),
                         "inferences_per_day": pick("inferences", st.floats(1, 1e6),
                                                    st.one_of(st.sampled_from([math.inf, math.nan, -1.0, 0.0]), JUNK))}
    if doc["fleet"]["sku"] == "jetson-nano" or "shares" in broken:
        doc["drift"] = {"power_modes": {"initial": pick("shares", st.fixed_dictionaries(
            {"MAXN": st.floats(0.1, 1), "5W": st.floats(0.1, 1)}), SHARES)}}
    if "extra" in broken:
        doc[draw(st.sampled_from(["colour", "environment", "battery"]))] = draw(JUNK)
    if "missing" in broken:
        del doc[draw(st.sampled_from(["name", "fleet", "time"]))]
    return doc


def _call(main, argv) -> tuple[int, str]:
    """Exit code and stderr of a CLI's ``main`` run in this process, its peak memory bounded."""
    code, err = run_main(main, argv)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB on Linux
    assert peak_gb < MAX_RSS_GB, f"{argv}: peak memory {peak_gb:.1f} GB"
    return code, err


def _one_clear_line(code: int, err: str, prog: str, path=None) -> None:
    """Exit 0, or exit 2 with the project's error (``prog: error: ...``, one line per problem, each
    naming ``path`` when the problems are in a file) or argparse's (usage, then ``prog cmd: error:``)."""
    assert code in (0, 2), (code, err)
    assert "Traceback" not in err, err
    if code == 2:
        lines = err.strip().splitlines()
        argparse_error = lines[-1].startswith(f"{prog} ") and ": error: argument" in lines[-1]
        ours = [i for i, line in enumerate(lines) if line.startswith(f"{prog}: error: ")]
        assert argparse_error or ours, err
        if ours and path is not None and str(path) in lines[ours[0]]:
            assert all(line.startswith(str(path)) for line in lines[ours[0] + 1:]), err


def _fuzz(examples):
    return settings(max_examples=examples, deadline=DEADLINE, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _simulate_contract(doc, tmp_path):
    path = tmp_path / "fuzz.yaml"
    path.write_text(yaml.safe_dump(doc))
    out = tmp_path / "out"
    code, err = _call(twin_cli.main, ["simulate", path, "--workers", 1, "--out", out])
    _one_clear_line(code, err, "twin", path)
    if code == 0:
        assert sorted(p.name for p in out.iterdir()) == ["devices.parquet", "history.parquet", "run.json"]
    else:
        assert not out.exists() and not list(tmp_path.glob(".out.*"))
    return code


@_fuzz(EXAMPLES)
@given(doc=scenarios())
def test_generated_scenarios_run_or_fail_cleanly(doc, tmp_path_factory):
    _simulate_contract(doc, tmp_path_factory.mktemp("s"))


ARG = st.one_of(st.integers(-5, 5), st.sampled_from(["nan", "inf", "-1", "1e400", "1e12", "0.5", "abc", "", "2.7"]))


@_fuzz(EXAMPLES)
@given(flag=st.sampled_from(["--day", "--devices", "--background", "--rates", "--input-size", "--clocks"]),
       value=ARG, command=st.sampled_from(["latency", "predict"]))
def test_generated_arguments_run_or_fail_cleanly(flag, value, command):
    if command == "latency":
        argv = ["latency", REPO / "scenarios" / "quickstart.yaml", "--model", "resnet20", "--devices", 30,
                "--workers", 1]
        if flag in ("--background", "--clocks"):
            flag = "--day"
    else:
        argv = ["predict", "--sku", "jetson-nano", "--model", "resnet20"]
        if flag in ("--day", "--devices"):
            flag = "--background"
    code, err = _call(twin_cli.main, [*argv, flag, value])
    _one_clear_line(code, err, "twin")


@_fuzz(EXAMPLES // 2)
@given(key=st.sampled_from(["clusters", "representatives", "flops_g", "space", "objective", "generations",
                            "accuracy_floor", "surrogate_samples", "k_max"]),
       value=st.one_of(st.integers(-3, 10**7), st.floats(allow_nan=True, allow_infinity=True),
                       st.sampled_from(["auto", "width+depth", "p95", "none"])))
def test_generated_pruning_sections_are_checked_before_any_work(key, value, tmp_path_factory):
    """A bad pruning key is refused when the scenario is read, before simulating or searching."""
    tmp = tmp_path_factory.mktemp("p")
    doc = {"name": "p", "fleet": {"sku": "jetson-nano", "devices": 60}, "time": {"start": "2026-01-01", "days": 2},
           "deployment": {"workload": "resnet20"}, "pruning": {key: value}}
    (tmp / "p.yaml").write_text(yaml.safe_dump(doc))
    from hdap.config import RunConfig
    from testbed.errors import InputError

    try:
        RunConfig.of(tmp / "p.yaml")
    except InputError as exc:
        assert str(exc).startswith(str(tmp / "p.yaml")) and "pruning" in str(exc), str(exc)
        code, err = _call(hdap_cli.main, ["run", tmp / "p.yaml", "--workers", 1, "--out", tmp / "out"])
        assert code == 2 and "Traceback" not in err and not (tmp / "out").exists()


@pytest.mark.slow
@_fuzz(LONG)
@given(doc=scenarios())
def test_generated_scenarios_long(doc, tmp_path_factory):
    _simulate_contract(doc, tmp_path_factory.mktemp("s"))
