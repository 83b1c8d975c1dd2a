"""The board harness: time networks on the board it runs on and write measurement rows.

It runs on the board itself with torch, numpy and pydantic (no simpy, pandas, scikit-learn or
PyYAML): warm-up runs, then repeated timed batch-1 runs at a fixed thread count, optionally beside background load
processes it starts and stops. Each (threads, background) configuration is one row per network
in the measurement CSV format (``twin.calibration.measurement_csv``). On a Jetson it reads the nvpmodel mode and
the CPU / GPU clocks from /sys and /var/lib/nvpmodel; elsewhere it records what it can.

Three choices make a median reproducible on a shared machine (each measured on a 2-core VM):

- The networks of a configuration are timed in interleaved rounds, so a machine that drifts over
  minutes biases none of them against another. In a round each network first runs once untimed:
  timed straight after VGG-11, a ResNet-18 on 2 threads ran 10 % slower than alone (its caches
  held the other's data); after one untimed run, within 1-4 %.
- glibc's allocator is pinned (no trimming, no mmap below 32 MiB): by default it returns freed
  activations to the kernel, a pruned ResNet-18 then takes ~2,300 page faults per inference, and
  its 2-thread latency depended on what had run before in the process (12.4 to 15.5 ms).
- Background load is ``cores`` busy cores as duty-cycled processes (busy part of every 4 ms), so
  0.5 is half a core, as the twin's ``background_cores`` means. A fully busy core beside as many
  torch threads as cores is not reproducible (OpenMP threads wait at every layer for the one
  that shares its core): ResNet-18 on 2 threads measured 179 to 269 ms there in five sessions.
"""

from __future__ import annotations

import glob
import math
import re
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from testbed.errors import InputError
from twin.calibration.measurement_csv import arch_hash

__all__ = ["board_clocks", "cpu_name", "jetson_power_mode", "pin_allocator", "background_load", "time_module",
           "time_modules", "bench_rows"]

ROUND_RUNS = 3         # timed runs of one network in a row, after one untimed run
LOAD_PERIOD_S = 0.004  # a background process is busy part of every period: a 250 Hz control or sensor loop
# One background process busy ``duty`` of every period: a pure-Python loop, like an app's interpreter.
_LOAD = """import sys, time
duty, period = float(sys.argv[1]), float(sys.argv[2])
while True:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < duty * period:
        sum(range(200))
    if duty < 1:
        time.sleep((1 - duty) * period)
"""


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def board_clocks() -> str:
    """Current clocks where the OS exposes them, as ``name=MHz`` pairs joined by ';'."""
    out = []
    khz = _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq")
    if khz and khz.isdigit():
        out.append(f"cpu_mhz={int(khz) / 1e3:g}")
    else:
        mhz = re.search(r"cpu MHz\s*:\s*([\d.]+)", _read("/proc/cpuinfo") or "")
        if mhz:
            out.append(f"cpu_mhz={float(mhz.group(1)):g}")
    for path in sorted(glob.glob("/sys/devices/gpu.0/devfreq/*/cur_freq") +
                       glob.glob("/sys/devices/*.gv11b/devfreq/*/cur_freq")):
        hz = _read(path)
        if hz and hz.isdigit():
            out.append(f"gpu_mhz={int(hz) / 1e6:g}")
            break
    emc = _read("/sys/kernel/debug/clk/emc/clk_rate")
    if emc and emc.isdigit():
        out.append(f"emc_mhz={int(emc) / 1e6:g}")
    return ";".join(out)


def cpu_name() -> str:
    """The CPU's model name (/proc/cpuinfo), or '' where it cannot be read."""
    found = re.search(r"model name\s*:\s*(.+)", _read("/proc/cpuinfo") or "")
    return found.group(1).strip() if found else ""


def pin_allocator() -> bool:
    """Keep freed memory in this process from now on (glibc: no trimming, no mmap below 32 MiB), so
    that a network's latency does not depend on what ran before it. False where the C library is
    not glibc."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        return bool(libc.mallopt(m_mmap_threshold, 32 << 20)) and bool(libc.mallopt(m_trim_threshold, 2**31 - 1))
    except (OSError, AttributeError):
        return False


def jetson_power_mode() -> str:
    """The nvpmodel mode's name on a Jetson (from its status and configuration files), else ''."""
    status = _read("/var/lib/nvpmodel/status") or ""
    found = re.search(r"pmode:(\d+)", status)
    if not found:
        return ""
    mode_id = int(found.group(1))
    conf = _read("/etc/nvpmodel.conf") or ""
    for m in re.finditer(r"<\s*POWER_MODEL\s+ID=(\d+)\s+NAME=([^\s>]+)", conf):
        if int(m.group(1)) == mode_id:
            return m.group(2)
    return f"nvpmodel-{mode_id}"


@contextmanager
def background_load(cores: float):
    """Keep ``cores`` CPU cores busy for the duration of the block: ceil(cores) processes, each busy
    ``cores / ceil(cores)`` of every LOAD_PERIOD_S."""
    n = math.ceil(cores)
    procs = [subprocess.Popen([sys.executable, "-c", _LOAD, str(cores / n), str(LOAD_PERIOD_S)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(n)]
    try:
        if procs:
            time.sleep(0.5)  # let the scheduler see them
        yield procs
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def time_modules(modules: list, input_shapes: list, threads: int, warmup: int, repeats: int, device: str = "cpu",
                 half: bool = False) -> list[list[float]]:
    """Batch-1 latencies (ms) of every module: ``warmup`` untimed runs each, then rounds in which
    each module runs once untimed (its caches refilled after the previous module's) and up to
    ROUND_RUNS times timed, until each has ``repeats`` timed runs. Slow drift of the machine spreads
    evenly over the modules, and no run is timed in a cache left by another network."""
    import torch

    gen = torch.Generator().manual_seed(0)
    xs = [torch.randn((1, *shape), generator=gen).to(device) for shape in input_shapes]
    modules = [m.eval().to(device) for m in modules]
    if half:
        modules, xs = [m.half() for m in modules], [x.half() for x in xs]
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    times, before = [[] for _ in modules], torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            for module, x in zip(modules, xs):
                for _ in range(warmup):
                    module(x)
            while len(times[0]) < repeats:
                for module, x, out in zip(modules, xs, times):
                    if len(modules) > 1:
                        module(x)
                    for _ in range(min(ROUND_RUNS, repeats - len(out))):
                        sync()
                        t0 = time.perf_counter()
                        module(x)
                        sync()
                        out.append((time.perf_counter() - t0) * 1e3)
    finally:
        torch.set_num_threads(before)  # the caller's thread count is not ours to change
    return times


def time_module(module, input_shape, threads: int, warmup: int, repeats: int, device: str = "cpu",
                half: bool = False) -> list[float]:
    """Batch-1 latencies (ms) of ``repeats`` timed forward passes after ``warmup`` untimed ones."""
    return time_modules([module], [input_shape], threads, warmup, repeats, device, half)[0]


def _load_model_file(path: str, input_size: int | None = None, trust_pickle: bool = False):
    """A pruned model saved by ``hdap prune`` / ``hdap run``: its weights and the .json spec beside them."""
    from zoo import PrunedSpec
    from zoo.pruned import load_weights

    pt = Path(path)
    if not pt.is_file():
        raise InputError(f"--model-file: {pt} not found")
    try:
        spec = PrunedSpec.read(PrunedSpec.beside(pt))
    except InputError as exc:
        raise InputError(f"--model-file: {exc} (the spec hdap writes beside the .pt)") from None
    name, widths, shape = spec.model, list(spec.widths), tuple(spec.zoo.at_size(input_size).input_shape)
    try:
        module = load_weights(pt, spec.zoo, widths, trust_pickle)
    except InputError as exc:
        raise InputError(f"--model-file: {exc}") from None
    return name, widths, module, shape


def _networks(models: list[str], model_files: list[str], widths: list[list[int]] | None, seed: int,
              random_subnets: int, input_size: int | None = None, trust_pickle: bool = False):
    """(zoo name, widths, module, file, input shape) for every network to time: each model at each
    of ``widths`` (default: unpruned), its random sub-networks, and the model files (at the size
    their spec was saved with), all on ``input_size`` inputs when given."""
    import random

    from zoo import get_model

    nets = []
    for name in models:
        zoo = get_model(name, input_size)
        for w in widths or [zoo.full_widths]:
            w = [int(v) for v in zoo.check_widths(w)]
            nets.append((name, w, zoo.module(w, seed=seed), "", zoo.input_shape))
        rng = random.Random(f"{seed}:{name}")
        for _ in range(random_subnets):
            sub = [max(1, round(f * (1 - rng.uniform(0, 0.75)))) for f in zoo.full_widths]
            nets.append((name, sub, zoo.module(sub, seed=seed), "", zoo.input_shape))
    for path in model_files:
        name, w, module, shape = _load_model_file(path, input_size, trust_pickle)
        nets.append((name, w, module, path, shape))
    return nets


def bench_rows(models: list[str], model_files: list[str], *, sku: str, board_id: str, threads: list[int],
               background: list[float], warmup: int, repeats: int, power_mode: str = "", widths=None,
               device: str = "cpu", precision: str = "fp32", seed: int = 0, random_subnets: int = 0,
               input_size: int | None = None, trust_pickle: bool = False, log=print) -> list[dict]:
    """Time every network in every (threads, background cores) configuration, interleaved."""
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("--device cuda: torch sees no CUDA device here")
    pinned = pin_allocator()
    nets = _networks(models, model_files, widths, seed, random_subnets, input_size, trust_pickle)
    mode = power_mode or jetson_power_mode()
    source = "; ".join(filter(None, [f"twin board-bench on {device}", cpu_name(), "interleaved rounds",
                                     "glibc malloc pinned" if pinned else ""]))
    rows = []
    for bg in background:
        with background_load(bg):
            for n in threads:
                timed = time_modules([net[2] for net in nets], [net[4] for net in nets], n,
                                     warmup, repeats, device, precision == "fp16")
                for (name, w, _, path, shape), times in zip(nets, timed):
                    median = statistics.median(times)
                    aid = arch_hash(name, w, _own_size_or(name, shape))
                    log(f"{board_id} threads={n} background={bg:g} {name} {aid}: "
                        f"median {median:.3f} ms over {repeats} (min {min(times):.3f}, max {max(times):.3f})")
                    rows.append({
                        "board_id": board_id, "sku": sku, "power_mode": mode, "background_cores": bg,
                        "framework": "pytorch", "precision": precision, "model": name,
                        "widths": ";".join(map(str, w)), "arch_hash": aid, "model_file": path,
                        "input_shape": "1x" + "x".join(map(str, shape)), "batch": 1, "threads": n,
                        "warmup": warmup, "repeats": repeats, "latency_ms": round(median, 4),
                        "raw_ms": ";".join(f"{t:.4f}" for t in times), "torch_version": torch.__version__,
                        "clocks": board_clocks(), "source": source,
                        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    return rows


def _own_size_or(name: str, shape) -> int | None:
    """The input size for ``arch_hash``: None when it is the model's own."""
    from zoo import get_model

    return None if shape[-1] == get_model(name).input_size else int(shape[-1])
