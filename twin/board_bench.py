"""The board harness: time networks on the board it runs on and write measurement rows.

It runs on the board itself with torch alone (no simpy, pandas or scikit-learn): warm-up runs,
then repeated timed batch-1 runs at a fixed thread count, optionally beside background load
processes it starts and stops. Each (threads, background) configuration is one row per network
in the measurement CSV format (``twin.bench_csv``). On a Jetson it reads the nvpmodel mode and
the CPU / GPU clocks from /sys and /var/lib/nvpmodel; elsewhere it records what it can.
"""

from __future__ import annotations

import glob
import json
import re
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from twin.bench_csv import arch_hash
from twin.errors import InputError

__all__ = ["board_clocks", "jetson_power_mode", "background_load", "time_module", "bench_rows"]

# One busy core: a pure-Python loop, like a background app's interpreter or control loop.
_LOAD = "import os\nos.nice(0)\nwhile True:\n    sum(range(10000))\n"


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
def background_load(processes: int):
    """Keep ``processes`` CPU cores busy with separate processes for the duration of the block."""
    procs = [subprocess.Popen([sys.executable, "-c", _LOAD], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for _ in range(processes)]
    try:
        if procs:
            time.sleep(0.5)  # let the scheduler see them
        yield procs
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def time_module(module, input_shape, threads: int, warmup: int, repeats: int, device: str = "cpu",
                half: bool = False) -> list[float]:
    """Batch-1 latencies (ms) of ``repeats`` timed forward passes after ``warmup`` untimed ones."""
    import torch

    gen = torch.Generator().manual_seed(0)
    x = torch.randn((1, *input_shape), generator=gen).to(device)
    module = module.eval().to(device)
    if half:
        module, x = module.half(), x.half()
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    times, before = [], torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            for i in range(warmup + repeats):
                sync()
                t0 = time.perf_counter()
                module(x)
                sync()
                if i >= warmup:
                    times.append((time.perf_counter() - t0) * 1e3)
    finally:
        torch.set_num_threads(before)  # the caller's thread count is not ours to change
    return times


def _load_model_file(path: str):
    """A pruned model saved by ``hdap prune`` / ``hdap run``: the whole module and its .json spec."""
    import torch

    pt = Path(path)
    spec_path = pt.with_suffix(".json")
    if not pt.is_file():
        raise InputError(f"--model-file: {pt} not found")
    if not spec_path.is_file():
        raise InputError(f"--model-file: {spec_path} not found (the spec hdap writes beside the .pt)")
    try:
        spec = json.loads(spec_path.read_text())
        name, widths = spec["model"], [int(w) for w in spec["widths"]]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"--model-file: {spec_path} is not a pruned-model spec: {exc}") from None
    try:
        module = torch.load(pt, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for a file that is not a saved module
        raise InputError(f"--model-file: {pt} is not a saved torch module: {exc}") from None
    return name, widths, module


def _networks(models: list[str], model_files: list[str], widths: list[int] | None, seed: int, random_subnets: int):
    """(zoo name, widths, module, file) for every network to time."""
    import random

    from hdap.zoo import get_model

    nets = []
    for name in models:
        zoo = get_model(name)
        w = [int(v) for v in zoo.check_widths(widths)] if widths else list(zoo.full_widths)
        nets.append((name, w, zoo.module(w, seed=seed), ""))
        rng = random.Random(f"{seed}:{name}")
        for _ in range(random_subnets):
            sub = [max(1, round(f * (1 - rng.uniform(0, 0.75)))) for f in zoo.full_widths]
            nets.append((name, sub, zoo.module(sub, seed=seed), ""))
    for path in model_files:
        nets.append((*_load_model_file(path), path))
    return nets


def bench_rows(models: list[str], model_files: list[str], *, sku: str, board_id: str, threads: list[int],
               background: list[int], warmup: int, repeats: int, power_mode: str = "", widths=None,
               device: str = "cpu", precision: str = "fp32", seed: int = 0, random_subnets: int = 0,
               log=print) -> list[dict]:
    """Time every network in every (threads, background processes) configuration."""
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("--device cuda: torch sees no CUDA device here")
    nets = _networks(models, model_files, widths, seed, random_subnets)
    mode = power_mode or jetson_power_mode()
    rows = []
    for bg in background:
        with background_load(bg):
            for n in threads:
                for name, w, module, path in nets:
                    times = time_module(module, _input_shape(name), n, warmup, repeats, device, precision == "fp16")
                    median = statistics.median(times)
                    log(f"{board_id} threads={n} background={bg} {name} {arch_hash(name, w)}: "
                        f"median {median:.3f} ms over {repeats} (min {min(times):.3f}, max {max(times):.3f})")
                    rows.append({
                        "board_id": board_id, "sku": sku, "power_mode": mode, "background_cores": bg,
                        "framework": "pytorch", "precision": precision, "model": name,
                        "widths": ";".join(map(str, w)), "arch_hash": arch_hash(name, w), "model_file": path,
                        "input_shape": "1x" + "x".join(map(str, _input_shape(name))), "batch": 1, "threads": n,
                        "warmup": warmup, "repeats": repeats, "latency_ms": round(median, 4),
                        "raw_ms": ";".join(f"{t:.4f}" for t in times), "torch_version": torch.__version__,
                        "clocks": board_clocks(), "source": f"twin board-bench on {device}",
                        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    return rows


def _input_shape(name: str) -> tuple[int, ...]:
    from hdap.zoo import get_model

    return tuple(get_model(name).input_shape)
