"""Batch-1 latency and energy of a workload on N devices, in one vectorised call.

Per layer l on device i::

    t_il = g_i * o_l * fw(i, kind_l)  +  max(a_i * tc_l, b_i * tm_l)

plus ``g_i x o_call``, the framework's per-inference overhead. ``o_l`` is the framework overhead
of the layer's kind, ``tc_l`` its compute time on a nominal
device at the top mode (FLOPs padded to whole tiles of output channels and pixels, fewer for
Winograd 3x3 convs, over peak x kind efficiency), ``tm_l``
its memory time (bytes over effective bandwidth). Each device scales the three terms differently:
``a`` (compute) by mode compute clock, silicon speed, thermal and supply throttling and, on a CPU,
background load; ``b`` (memory) by memory clock, board memory speed and background traffic; ``g``
(overhead) by CPU clock, silicon speed and background CPU load. So devices differ in shape.

The sum over layers of ``max(a tc, b tm) = b max(r tc, tm)`` with ``r = a / b`` is piecewise
linear in ``r``: a layer is compute-bound iff ``r > tm / tc``. With layers sorted by that ratio and
prefix sums, a device's latency needs only the count of breakpoints below its ``r``, found by a
bucketed lookup. The result is exact and costs O(1) per device whatever the layer count.

A sparse table (rows whose weights were pruned in place: ``density``, ``sparsity``) computes the
pruned MACs only as far as the framework's kernels skip that structure
(``FrameworkProfile.sparse_efficiency``), and where they skip, reads the kept weights and their
index instead of the dense matrix.

A mixed-precision table (rows naming their own precision, e.g. int8 units) runs each row at its
precision's peak, efficiency and element size; where consecutive executed layers differ in
element size, the engine reformats the tensor between them (TensorRT inserts reformat layers at
precision boundaries): the second layer also reads its input in the first's size and writes it
in its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from testbed.errors import InputError
from twin.engines import Engines, build_of, kernel_multipliers
from twin.fleet import FleetSnapshot, FleetState
from twin.sku import SKU
from zoo.workload import ELEMENT_BYTES, LAYER_KINDS, PRECISIONS, SPARSITY, Workload

__all__ = ["LatencyModel", "ModeTable", "mode_table", "slowdowns", "latency_ms", "resolve_mode",
           "nominal_state", "nominal_latency_ms", "Inference", "nominal_inference", "power_w", "energy_j"]

_KIND = {k: i for i, k in enumerate(LAYER_KINDS)}
_CHANNEL_ALIGNED = np.array([k in ("conv", "dwconv", "linear") for k in LAYER_KINDS])


@dataclass(frozen=True, eq=False)
class ModeTable:
    """Per power mode, as arrays indexed by mode: speed fractions of the top mode, cores, power."""

    compute_frac: np.ndarray
    compute_units: np.ndarray
    cpu_frac: np.ndarray
    memory_frac: np.ndarray
    cpu_cores: np.ndarray
    power_w: np.ndarray
    idle_w: np.ndarray


_MODE_TABLES: dict[int, tuple[SKU, ModeTable]] = {}


def mode_table(sku: SKU) -> ModeTable:
    """The SKU's modes as arrays (memoised per SKU object: it is called every simulated day)."""
    hit = _MODE_TABLES.get(id(sku))
    if hit is None or hit[0] is not sku:
        if len(_MODE_TABLES) > 32:  # calibration makes many short-lived SKUs
            _MODE_TABLES.clear()
        hit = _MODE_TABLES[id(sku)] = (sku, _build_mode_table(sku))
    return hit[1]


def _build_mode_table(sku: SKU) -> ModeTable:
    modes = [sku.power_modes[m] for m in sku.mode_names]
    top = sku.power_modes[sku.top_mode]
    power = [sku.mode_power_w(m) for m in sku.mode_names]
    arr = lambda xs: np.array(xs, dtype=np.float32)  # noqa: E731
    return ModeTable(
        compute_frac=arr([m.compute_mhz * m.compute_units / (top.compute_mhz * top.compute_units) for m in modes]),
        compute_units=arr([m.compute_units for m in modes]),
        cpu_frac=arr([m.cpu_mhz / top.cpu_mhz for m in modes]),
        memory_frac=arr([m.memory_mhz / top.memory_mhz for m in modes]),
        cpu_cores=arr([m.cpu_cores for m in modes]),
        power_w=arr([p[1] for p in power]),
        idle_w=arr([p[0] for p in power]))


def slowdowns(s: FleetState, sku: SKU) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-device multipliers (compute a, memory b, overhead g) of the nominal top-mode times.

    Background load slows each term by ``1 + contention x load``. The load is the busy share of
    the CPU cores for memory always, and for compute and overhead on a GPU board (apps take the
    framework's CPU time); on a CPU SKU (``contention.shared_cores``) the network's own threads
    are on those cores, so compute and overhead slow only once threads + busy cores oversubscribe
    them.
    """
    t = mode_table(sku)
    mode = s.power_mode
    busy = s.background_cores / t.cpu_cores[mode]
    c = sku.contention
    cpu_load = np.maximum(0, (t.compute_units[mode] + s.background_cores) / t.cpu_cores[mode] - 1) \
        if c.shared_cores else busy
    speed = s.silicon_speed
    a = (1 + np.float32(c.compute) * cpu_load) / (t.compute_frac[mode] * speed * s.thermal_throttle * s.supply_throttle)
    b = (1 + np.float32(c.memory) * busy) / (t.memory_frac[mode] * s.memory_speed)
    g = (1 + np.float32(c.overhead) * cpu_load) / (t.cpu_frac[mode] * speed)
    return a, b, g


def _tile_padding(w: Workload, kind: np.ndarray, sku: SKU) -> np.ndarray:
    """Work actually done / useful MACs: kernels compute whole tiles of output channels and, for
    convs (implicit GEMM), of output pixels; a layer with 33 channels pays for 64 on a 32 tile.
    Dense convs with more input channels than one tile also read whole tiles of them, where the
    SKU's layout blocks them (a stem conv of 3 channels runs an unblocked kernel)."""
    def pad(x, tile):
        return np.ceil(x / tile) * tile / np.maximum(x, 1)
    conv_like = (kind == _KIND["conv"]) | (kind == _KIND["dwconv"])
    blocked = (kind == _KIND["conv"]) & (w.groups == 1) & (w.c_in > sku.input_channel_tile)
    return np.where(_CHANNEL_ALIGNED[kind], pad(w.c_out, sku.channel_tile), 1.0) \
        * np.where(conv_like, pad(w.h * w.w, sku.spatial_tile), 1.0) \
        * np.where(blocked, pad(w.c_in, sku.input_channel_tile), 1.0)


class _Breakpoints:
    """``sum over layers of max(a tc, b tm)`` for any (a, b) in O(1): layers sorted by tm/tc, prefix
    sums, and the breakpoints bucketed in log space for the lookup."""

    def __init__(self, tc: np.ndarray, tm: np.ndarray):
        keep = (tc > 0) | (tm > 0)
        tc, tm = tc[keep], tm[keep]
        with np.errstate(divide="ignore"):
            rho = np.where(tc > 0, tm / np.where(tc > 0, tc, 1.0), np.inf)
        self._tm_always = float(tm[np.isinf(rho)].sum())  # layers with no compute are always memory time
        tc, tm, rho = tc[np.isfinite(rho)], tm[np.isfinite(rho)], rho[np.isfinite(rho)]
        self._tc_always = float(tc[rho == 0].sum())       # layers with no memory traffic
        tc, tm, rho = tc[rho > 0], tm[rho > 0], rho[rho > 0]
        rho, inverse = np.unique(rho, return_inverse=True)
        c_sum = np.bincount(inverse, tc, minlength=len(rho))
        m_sum = np.bincount(inverse, tm, minlength=len(rho))
        # k breakpoints below r: compute-bound prefix sums C[k], memory-bound suffix sums M[k]
        self._cum_c = np.concatenate([[0.0], np.cumsum(c_sum)])
        self._tail_m = np.concatenate([np.cumsum(m_sum[::-1])[::-1], [0.0]])
        self._rho = rho
        if len(rho) == 0:
            return
        # Bucket breakpoints with the very expression used for devices (in float64, a monotone map
        # of r), so a device's bucket splits them into surely-below, same-bucket (compared one by
        # one) and surely-above: the count of breakpoints below r is exact.
        self._log_lo = float(np.log2(rho[0]))
        self._buckets = 16 * len(rho) + 64
        self._scale = self._buckets / max(float(np.log2(rho[-1])) - self._log_lo, 1e-9)
        per_bucket = np.bincount(self._bucket(rho), minlength=self._buckets)
        self._first = np.concatenate([[0], np.cumsum(per_bucket)[:-1]]).astype(np.intp)
        self._window = int(per_bucket.max())
        self._rho_padded = np.concatenate([rho, np.full(self._window, np.inf)])

    def _bucket(self, r: np.ndarray) -> np.ndarray:
        pos = (np.log2(np.asarray(r, np.float64)) - self._log_lo) * self._scale
        return np.clip(pos, 0, self._buckets - 1).astype(np.intp)

    def _count_below(self, r: np.ndarray) -> np.ndarray:
        if len(self._rho) == 0:
            return np.zeros(r.shape, np.intp)
        start = self._first[self._bucket(r)]
        count = start.copy()
        for j in range(self._window):
            count += r > self._rho_padded[start + j]
        return count

    def table(self, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
        """(breakpoints padded with inf to ``length``, C[k], M[k] padded likewise, compute-only and
        memory-only sums): what a compiled kernel needs to evaluate ``body_s``."""
        pad = length - len(self._rho)
        return (np.concatenate([self._rho, np.full(pad, np.inf)]), np.concatenate([self._cum_c, np.zeros(pad)]),
                np.concatenate([self._tail_m, np.zeros(pad)]), self._tc_always, self._tm_always)

    def body_s(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        r = a / b
        k = self._count_below(r)
        return b * (r * self._cum_c[k] + self._tail_m[k]) + a * self._tc_always + b * self._tm_always


class LatencyModel:
    """A workload compiled for one SKU and framework: evaluates any number of devices fast.

    ``firmware_overhead`` and ``firmware_speed`` are (firmware versions, layer kinds) tables: each
    release's framework overhead and kernel speed per kind relative to the factory firmware (row 0).
    A release that changes a kind's kernels changes the device's shape, not only its speed; so does
    the engine build a device runs (``engines``: each build's kernel speed per layer shape; ``kernels``
    gives the builds' per-layer multipliers instead, to hold each layer's kernel while its width
    changes). Every (firmware, build) variant gets its own breakpoint table."""

    def __init__(self, workload: Workload, sku: SKU, framework: str = "pytorch",
                 firmware_overhead: np.ndarray | None = None, precision: str | None = None,
                 firmware_speed: np.ndarray | None = None, engines: Engines | None = None,
                 kernels: np.ndarray | None = None):
        if framework not in sku.frameworks:
            raise InputError(f"framework {framework!r} is not available on {sku.name}; "
                             f"allowed: {', '.join(sku.frameworks)}")
        prof = sku.frameworks[framework]
        self.precision = sku.precision_of(framework, precision)[0]
        kind = workload.kind.astype(np.intp)
        live = ~np.isin(kind, [_KIND[k] for k in prof.fused])
        peak_scale, eff_scale, element_bytes, self.row_precision = _row_precisions(workload, sku, framework,
                                                                                    self.precision)
        eff = np.minimum(1.0, eff_scale * np.array([prof.efficiency[k] for k in LAYER_KINDS])[kind])
        work = workload.flops * _tile_padding(workload, kind, sku)
        # pruned weights: the MACs the framework's kernels skip for their structure (none: dense kernels)
        skip = np.array([0.0] + [prof.sparse_efficiency.get(s, 0.0) for s in SPARSITY[1:]])[workload.sparsity]
        work = work * (1 - (1 - workload.density) * skip)
        winograd = (kind == _KIND["conv"]) & (workload.kernel == 3) & (workload.stride == 1)
        work = np.where(winograd, work / prof.winograd_speedup, work)
        if prof.occupancy_half_mmacs > 0:  # small dense convs cannot fill the device
            eff = eff * np.where(kind == _KIND["conv"], work / (work + prof.occupancy_half_mmacs * 1e6), 1.0)
        if prof.channel_half > 0:  # narrow dense convs underfill the tensor cores' GEMM tiles: by whole
            # tiles, so that time never falls as channels grow within one
            c_pad = np.ceil(workload.c_out / sku.channel_tile) * sku.channel_tile
            eff = eff * np.where(kind == _KIND["conv"], c_pad / (c_pad + prof.channel_half), 1.0)
        peak = (prof.peak_gmacs or sku.peak_gmacs) * peak_scale * 1e9
        tc = np.where(live, work / (peak * np.maximum(eff, 1e-12)), 0.0)
        moved = (workload.bytes_read + workload.bytes_written) * (element_bytes / ELEMENT_BYTES) \
            + _reformat_bytes(workload, live, element_bytes)
        if workload.sparse:  # a skipping kernel reads the kept weights and their index, not the dense matrix
            dense_weights = workload.weights * element_bytes
            moved = moved + np.where(skip > 0, workload.density * dense_weights + workload.index_bits() / 8
                                     - dense_weights, 0.0)
        tm = np.where(live, moved / (sku.bandwidth_gbs * 1e9 * sku.memory_efficiency), 0.0)
        self.macs = np.where(live, work, 0.0)            # MACs the device computes (padded to whole tiles)
        self.moved_bytes = np.where(live, moved, 0.0)   # DRAM bytes, at each row's element size
        over = np.where(live, np.array([prof.overhead_us[k] for k in LAYER_KINDS])[kind] * 1e-6, 0.0)
        fw = np.ones((1, len(LAYER_KINDS))) if firmware_overhead is None else np.asarray(firmware_overhead, float)
        # overhead per firmware version: sum over layers of o_l x scale(version, kind_l)
        self._layer_overhead_s = fw[:, kind] * over          # (firmware versions, layers)
        self.overhead_s = self._layer_overhead_s.sum(axis=1) + prof.call_overhead_us * 1e-6
        self.kind, self.compute_s, self.memory_s = kind, tc, tm
        speed = None if firmware_speed is None else np.asarray(firmware_speed, float)
        self.engines = engines if engines is not None and engines.kernel_sd > 0 else None
        self._builds = 1 if self.engines is None else self.engines.builds
        if (speed is None or np.all(speed == 1.0)) and self.engines is None:
            self._layer_compute_s = tc[None, :]
        else:  # variant v = firmware x builds + build: its kernels move the layers' balance
            per_fw = tc[None, :] if speed is None else tc[None, :] / speed[:, kind]
            mult = np.ones((1, len(tc))) if self.engines is None else \
                kernel_multipliers(workload, self.engines) if kernels is None else np.asarray(kernels, float)
            self._layer_compute_s = (per_fw[:, None, :] * mult[None, :, :]).reshape(-1, len(tc))
        self._body = [_Breakpoints(c, tm) for c in self._layer_compute_s]

    def latency_s(self, a: np.ndarray, b: np.ndarray, g: np.ndarray, firmware: np.ndarray | None = None,
                  build: np.ndarray | None = None) -> np.ndarray:
        """Exact latency in seconds for devices with slowdowns a, b, g, firmware indices and engine
        builds (``build_of``; None: build 0)."""
        over = self.overhead_s[0] if firmware is None else self.overhead_s[firmware]
        if len(self._body) == 1:
            return g * over + self._body[0].body_s(a, b)
        variant = self._variant(firmware, build, np.shape(a))
        body = np.empty(np.shape(a), dtype=np.result_type(a, b, np.float64))
        for v in np.unique(variant):
            on = variant == v
            body[on] = self._body[v].body_s(a[on], b[on])
        return g * over + body

    def tables(self) -> dict[str, np.ndarray]:
        """Every variant's breakpoint table, stacked and padded (``_Breakpoints.table``), with the
        per-firmware overheads: the latency model as plain arrays, for twin.kernel."""
        length = max(len(b._rho) for b in self._body)
        rho, cum_c, tail_m, tc, tm = zip(*(b.table(length) for b in self._body))
        return {"rho": np.stack(rho), "count": np.array([len(b._rho) for b in self._body], np.intp),
                "cum_c": np.stack(cum_c), "tail_m": np.stack(tail_m), "tc_always": np.float32(tc),
                "tm_always": np.float32(tm), "overhead_s": np.asarray(self.overhead_s, np.float64)}

    def variants(self, state: FleetState) -> np.ndarray:
        """Each device's breakpoint table (its firmware and engine build) as an index into ``tables``."""
        if len(self._body) == 1:
            return np.zeros(len(state), np.intp)
        return self._variant(state.firmware, self.builds_of(state), (len(state),))

    def _variant(self, firmware, build, shape) -> np.ndarray:
        fw = np.zeros(shape, np.intp) if firmware is None or len(self._layer_compute_s) == self._builds \
            else np.asarray(firmware, np.intp)
        return fw * self._builds + (0 if build is None else np.asarray(build, np.intp))

    def builds_of(self, state: FleetState) -> np.ndarray | None:
        """Each device's engine build, or None without engine variation."""
        return None if self.engines is None else build_of(state.device_id, state.firmware, self.engines)

    def state_latency_s(self, state: FleetState, a: np.ndarray, b: np.ndarray, g: np.ndarray) -> np.ndarray:
        """``latency_s`` for the devices of ``state`` (their firmware and engine builds)."""
        return self.latency_s(a, b, g, state.firmware, self.builds_of(state))

    @property
    def layer_overhead_s(self) -> np.ndarray:
        """Per-layer framework overhead (s) on a nominal device with factory firmware."""
        return self._layer_overhead_s[0]

    def layer_latency_s(self, a: float, b: float, g: float, firmware: int = 0, build: int = 0) -> np.ndarray:
        """Per-layer times on one device, the direct (slow) form of ``latency_s`` (which adds the
        framework's per-call overhead ``g x call_overhead``), for checks."""
        compute = self._layer_compute_s[int(self._variant(firmware, build, ()))] if len(self._body) > 1 \
            else self._layer_compute_s[0]
        return g * self._layer_overhead_s[firmware] + np.maximum(a * compute, b * self.memory_s)

    def snapshot_ms(self, snapshot: FleetSnapshot) -> np.ndarray:
        a, b, g = slowdowns(snapshot.state, snapshot.sku)
        return 1e3 * self.state_latency_s(snapshot.state, a, b, g)

    @classmethod
    def of(cls, workload: Workload, snapshot: FleetSnapshot, kernels: np.ndarray | None = None) -> "LatencyModel":
        """``workload`` compiled for the fleet of ``snapshot``: its SKU, framework, precision, firmware
        and engine builds (``kernels``: the builds' per-layer multipliers to hold)."""
        return cls(workload, snapshot.sku, snapshot.framework, snapshot.firmware_overhead, snapshot.precision,
                   snapshot.firmware_speed, snapshot.engines, kernels)


def _row_precisions(workload: Workload, sku: SKU, framework: str, deployed: str):
    """Per row: peak scale, efficiency scale, element bytes and name of the precision it runs in
    (its own, else the deployment's ``deployed``)."""
    out = np.empty((3, len(workload)))
    names = np.empty(len(workload), dtype=object)
    for code in np.unique(workload.precision):
        name, spec, size = sku.precision_of(framework, PRECISIONS[code] or deployed)
        out[:, workload.precision == code] = np.array([[spec.peak_scale], [spec.efficiency_scale], [size]])
        names[workload.precision == code] = name
    return out[0], out[1], out[2], names


def _reformat_bytes(workload: Workload, live: np.ndarray, element_bytes: np.ndarray) -> np.ndarray:
    """Per row, the bytes of reformatting its input from the previous executed layer's element
    size to its own (0 where they agree)."""
    out = np.zeros(len(workload))
    rows = np.flatnonzero(live)
    if len(rows) < 2 or not workload.mixed:
        return out
    size = element_bytes[rows]
    change = np.flatnonzero(size[1:] != size[:-1]) + 1
    r = rows[change]
    elements = workload.c_in[r] * (workload.h[r] * workload.stride[r]) * (workload.w[r] * workload.stride[r])
    out[r] = elements * (size[change - 1] + size[change])
    return out


def latency_ms(workload: Workload, snapshot: FleetSnapshot) -> np.ndarray:
    """Noise-free batch-1 latency (ms) of ``workload`` on every device of ``snapshot``."""
    return LatencyModel.of(workload, snapshot).snapshot_ms(snapshot)


def resolve_mode(sku: SKU, power_mode: str = "", threads: int = 0) -> str:
    """The power mode a measurement ran in: as named; else, on a CPU SKU, the mode with that many
    threads; else the SKU's usual mode (its default, else its top mode)."""
    if power_mode:
        if power_mode not in sku.power_modes:
            raise InputError(f"unknown power mode {power_mode!r} of {sku.name}; allowed: {', '.join(sku.mode_names)}")
        return power_mode
    if sku.contention.shared_cores and threads > 0:
        for name, m in sku.power_modes.items():
            if m.compute_units == threads:
                return name
        raise InputError(f"{sku.name} has no power mode with {threads} thread(s); modes: "
                         + ", ".join(f"{n} ({m.compute_units})" for n, m in sku.power_modes.items()))
    return sku.usual_mode


def nominal_state(sku: SKU, mode: str, background_cores: float = 0.0) -> FleetState:
    """One factory-fresh nominal device in ``mode`` with that much background load."""
    state = FleetState.nominal(1, sku.mode_names.index(mode))
    state.background_cores[:] = background_cores
    return state


def nominal_latency_ms(workload: Workload, sku: SKU, framework: str = "pytorch", mode: str | None = None,
                       background_cores: float = 0.0, precision: str | None = None) -> float:
    """Latency (ms) of ``workload`` on one nominal device: what ``twin predict`` prints."""
    return nominal_inference(workload, sku, framework, mode, background_cores, precision).latency_ms


@dataclass(frozen=True)
class Inference:
    """One inference on one nominal device: how long, how busy the GPU and DRAM were, what it drew."""

    latency_ms: float
    gpu_util: float       # compute-busy share of the latency
    memory_util: float    # DRAM-busy share of the latency
    power_w: float | None  # module power while inferring (None: the SKU has no power model)
    wall_w: float | None   # whole system at the socket

    @property
    def energy_mj(self) -> float | None:
        return None if self.power_w is None else self.power_w * self.latency_ms

    @property
    def wall_energy_mj(self) -> float | None:
        return None if self.wall_w is None else self.wall_w * self.latency_ms


def nominal_inference(workload: Workload, sku: SKU, framework: str = "pytorch", mode: str | None = None,
                      background_cores: float = 0.0, precision: str | None = None) -> Inference:
    """Latency, utilisation and power of ``workload`` on one nominal device (``twin predict``)."""
    mode = resolve_mode(sku, mode or "")
    a, b, g = (float(x[0]) for x in slowdowns(nominal_state(sku, mode, background_cores), sku))
    lm = LatencyModel(workload, sku, framework, precision=precision)
    latency = float(lm.latency_s(np.float32([a]), np.float32([b]), np.float32([g]))[0])
    gpu = float(a * lm.compute_s.sum()) / latency
    memory = float(b * lm.memory_s.sum()) / latency
    if sku.power is None:
        return Inference(1e3 * latency, gpu, memory, None, None)
    module = sku.module_power_w(mode, gpu, memory)
    return Inference(1e3 * latency, gpu, memory, module, sku.wall_power_w(module))


def power_w(s: FleetState, sku: SKU) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per device (idle, full active, drawn while inferring): the mode's power scaled by the die's
    power factor; throttled clocks draw proportionally less of the active increment."""
    t = mode_table(sku)
    idle = t.idle_w[s.power_mode] * s.power_factor
    active = t.power_w[s.power_mode] * s.power_factor
    return idle, active, idle + (active - idle) * (s.thermal_throttle * s.supply_throttle)


def energy_j(snapshot: FleetSnapshot, latency_ms: np.ndarray) -> np.ndarray:
    """Energy (J) of one inference: the power drawn while inferring, over the latency."""
    return power_w(snapshot.state, snapshot.sku)[2] * latency_ms * 1e-3
