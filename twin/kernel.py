"""The fused daily kernel: one simulated day of a block in a few compiled passes.

``twin.simulation.advance_day`` and ``twin.summary.DailyRecorder.record`` are the readable
definition of a day: about fifteen numpy expressions, each streaming the block's arrays through
memory again. This module computes the same day in a few numba passes: weather, heat throttling,
slowdowns, latency, energy and the battery's Arrhenius exponents in one (``_day``, with
``_recount`` for the few devices whose breakpoint count changed since yesterday), battery aging
(``_age``, ``_fade``), supply sag (``_sag``) and the day's record (``_summarise``).

It is the same arithmetic in the same order and precision, so it gives the same bits: float32
where numpy computes in float32 (numpy's weak Python scalars become float32 constants here),
float64 where it promotes. The float32 transcendentals (exp, power, log2) stay numpy calls between
the passes: numpy's SIMD versions differ from libm's by an ulp, and an ulp can flip a device's
under-voltage decision and, with it, the block's random draws. The one difference: the record's
float64 sums add devices in another order than numpy's pairwise sums (~1e-16 relative).
tests/test_kernel.py holds the kernel to the reference, bit for bit on the devices.
"""

from __future__ import annotations

import numba
import numpy as np
from numba.core.compiler import Compiler

from twin.battery import GAS_CONSTANT, T_REF_K, WANG_CELL_AH
from twin.latency import mode_table
from twin.summary import HIST_BINS

__all__ = ["DayKernel", "STATE_READ", "STATE_WRITTEN"]

# What a device-day must touch of FleetState (the rest changes only at events: rollouts, arrivals):
# the least memory traffic any implementation of the day needs, which benchmarks/fleet_sim.py
# sets against the machine's bandwidth.
STATE_WRITTEN = ("dust", "ambient_c", "junction_c", "thermal_throttle", "supply_throttle", "latency_ms",
                 "energy_wh", "battery_health", "battery_resistance_ratio", "battery_calendar_acc",
                 "battery_cycle_acc", "background_cores")
STATE_READ = STATE_WRITTEN + ("climate_zone", "enclosure_c", "dust_exposure", "power_mode", "power_factor",
                              "thermal_resistance", "silicon_speed", "memory_speed", "usage", "firmware",
                              "battery_capacity", "battery_resistance", "background_until")


class _NoAlias(Compiler):
    """Numba's compiler with every array argument marked ``noalias`` (as C's ``restrict``): the
    passes never get overlapping arrays, and without the promise LLVM must check each pair of the
    ~20 arrays for overlap at run time, which it declines to do, leaving the loops scalar."""

    def __init__(self, typingctx, targetctx, library, args, return_type, flags, locals):
        flags.noalias = True
        super().__init__(typingctx, targetctx, library, args, return_type, flags, locals)


_JIT = dict(cache=True, nogil=True, error_model="numpy", pipeline_class=_NoAlias)


@numba.njit(**_JIT)
def _clip(x, lo, hi):
    """np.clip for one value (NaN stays NaN)."""
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


def _flat_tables(rho: np.ndarray, cum_c: np.ndarray, tail_m: np.ndarray):
    """Each variant's tables in one flat row of a power-of-two ``width`` at ``v * width``: C[k] and
    M[k] at offset k; the breakpoints shifted by one, after a -inf, and padded with inf, so that
    offset p holds breakpoint p - 1 and the count below r is the last offset whose value is < r
    (a bisection, or a check of yesterday's count, which reads one offset past it: hence the
    width of at least the count + 2)."""
    width = 1 << int(np.ceil(np.log2(rho.shape[1] + 2)))

    def pad(t, before, after):
        return np.concatenate([np.full((len(t), len(before)), before[0]) if before else t[:, :0], t,
                               np.full((len(t), width - len(before) - t.shape[1]), after)], axis=1).ravel()

    return pad(rho, [-np.inf], np.inf), pad(cum_c, [], 0.0), pad(tail_m, [], 0.0), width


# A device's factors that change only with its power mode (or never): ``_mode_factors`` keeps them
# per device, so the daily pass streams them instead of gathering from the per-mode tables (each
# gather is ~10x a streamed load on the 2-core VM's cores; measured 9.7 -> 6.3 ns per device-day).
# Each is the very product the readable path forms first, so the bits do not change.
IDLE, ACTIVE, COMPUTE, MEMORY, CPU, CORES, UNITS = range(7)


@numba.njit(**_JIT)
def _mode_factors(mode, cached_mode, power_factor, silicon, memory, modes, factors):
    """Refresh ``factors`` (rows IDLE..UNITS) for the devices whose mode changed since they were
    computed: idle and active power, compute and CPU clock times silicon speed, memory clock times
    memory speed, CPU cores and compute units. A few devices change mode on a day, so the modes
    are compared eight devices (one int64) at a time."""
    n = len(mode)
    words = n // 8
    now, then = mode[:8 * words].view(np.int64), cached_mode[:8 * words].view(np.int64)
    for w in range(words + 1):  # the last "word" is the tail, checked device by device
        if w < words and now[w] == then[w]:
            continue
        for i in range(8 * w, min(8 * w + 8, n)):
            m = mode[i]
            if m != cached_mode[i]:
                cached_mode[i] = m
                factors[IDLE, i] = modes[0, m] * power_factor[i]
                factors[ACTIVE, i] = modes[1, m] * power_factor[i]
                factors[COMPUTE, i] = modes[2, m] * silicon[i]
                factors[UNITS, i] = modes[3, m]
                factors[CPU, i] = modes[4, m] * silicon[i]
                factors[MEMORY, i] = modes[5, m] * memory[i]
                factors[CORES, i] = modes[6, m]


@numba.njit(**_JIT)
def _latency_energy(a, b, g, r, k, tc_always, tm_always, overhead_s, throttle, supply, usage, idle, active, cum_c,
                    tail_m, inferences, day_s, hour_s):
    """One device's latency (ms) and energy (Wh) today, given its count ``k`` of breakpoints below
    r = a / b (LatencyModel.latency_s: the prefix sums; twin.energy: the day's draw)."""
    r64 = np.float64(r)
    body = np.float64(b) * (r64 * cum_c[k] + tail_m[k]) + np.float64(a * tc_always) + np.float64(b * tm_always)
    latency_s = np.float64(g) * overhead_s + body
    drawn = idle + (active - idle) * (throttle * supply)
    busy_s = inferences * usage * np.float32(latency_s)
    if busy_s > day_s:
        busy_s = day_s
    return np.float32(latency_s * 1e3), (drawn * busy_s + idle * (day_s - busy_s)) / hour_s


@numba.njit(**_JIT)
def _day(zone, enclosure, dust, dust_exposure, thermal_resistance, background, supply, usage, factors, software,
         overhead_s, ambient, junction, throttle, latency_ms, energy, k_io, miss, a_out, b_out, g_out, x_cal, x_cyc,
         x_res, peak_c, mean_c, rho, cum_c, tail_m, c32, shared_cores, battery):
    """A device's day up to its battery, in one straight-line pass that the compiler vectorises
    across devices: weather, dust and heat throttling (twin.environment), the slowdowns
    (twin.latency.slowdowns), latency and energy, and with a battery the exponents of its
    Arrhenius terms at today's cell temperature (twin.battery). ``factors`` are the device's
    mode factors (_mode_factors), ``software`` its breakpoint table's compute- and memory-only
    sums and ``overhead_s`` its firmware's overhead. Latency takes each device's count of
    breakpoints below a / b from yesterday (``k_io``, as v * width + count: see _flat_tables):
    a / b moves little from day to day, so two gathers usually confirm it; the devices where they
    do not are flagged in ``miss`` for ``_recount``. Returns how many."""
    one = np.float32(1.0)
    dust_step, r_thermal, throttle_c, min_fraction, c_compute, c_memory, c_overhead, inferences, day_s, hour_s = \
        c32[:10]
    kelvin, cal_coef, inv_ref, log_b, cyc_ea, cyc_c, gas, exponent, res_coef, c_rate_div = c32[10:]
    misses = 0
    for i in range(len(zone)):
        z = zone[i]
        amb = peak_c[z] + enclosure[i]
        ambient[i] = amb
        d = dust[i] + dust_step * dust_exposure[i]
        dust[i] = d
        idle, active = factors[IDLE, i], factors[ACTIVE, i]
        res = r_thermal * thermal_resistance[i] * (one + d)
        allowed = (throttle_c - amb) / res
        frac = _clip((allowed - idle) / (active - idle), min_fraction, one)
        junction[i] = amb + (idle + (active - idle) * frac) * res
        throttle[i] = frac
        bg, cores = background[i], factors[CORES, i]
        busy = bg / cores
        if shared_cores:
            load = (factors[UNITS, i] + bg) / cores - one
            load = load if not load < 0 else np.float32(0.0)
        else:
            load = busy
        a = (one + c_compute * load) / (factors[COMPUTE, i] * frac * supply[i])
        b = (one + c_memory * busy) / factors[MEMORY, i]
        g = (one + c_overhead * load) / factors[CPU, i]
        a_out[i], b_out[i], g_out[i] = a, b, g
        r = a / b
        k = k_io[i]
        wrong = not rho[k] < np.float64(r) or rho[k + 1] < np.float64(r)
        miss[i] = wrong
        misses += wrong
        latency_ms[i], energy[i] = _latency_energy(a, b, g, r, k, software[0, i], software[1, i], overhead_s[i], frac,
                                                   supply[i], usage[i], idle, active, cum_c, tail_m, inferences, day_s,
                                                   hour_s)
        if battery:
            temp_k = mean_c[z] + enclosure[i] + kelvin
            inv = one / temp_k - inv_ref
            x_cal[i] = cal_coef * inv
            c_rate = active / c_rate_div
            x_cyc[i] = (log_b + (cyc_ea + cyc_c * c_rate) / (gas * temp_k)) / exponent
            x_res[i] = res_coef * inv
    return misses


@numba.njit(**_JIT)
def _recount(miss, a_in, b_in, g_in, variant, throttle, supply, usage, factors, software, overhead_s, latency_ms,
             energy, k_io, rho, cum_c, tail_m, width, c32):
    """The devices whose count ``_day`` found wrong: their count by bisection, their latency and
    energy again."""
    inferences, day_s, hour_s = c32[7:10]
    for i in range(len(miss)):
        if miss[i]:
            a, b = a_in[i], b_in[i]
            r = a / b
            k = variant[i] * width
            step = width // 2
            while step > 0:
                if rho[k + step] < np.float64(r):
                    k += step
                step //= 2
            k_io[i] = k
            latency_ms[i], energy[i] = _latency_energy(a, b, g_in[i], r, k, software[0, i], software[1, i],
                                                       overhead_s[i], throttle[i], supply[i], usage[i],
                                                       factors[IDLE, i], factors[ACTIVE, i], cum_c, tail_m, inferences,
                                                       day_s, hour_s)


@numba.njit(**_JIT)
def _age(energy, e_cal, e_cyc, calendar_acc, cycle_acc, c32):
    """Accumulate the calendar and cycle aging states (twin.battery.age_battery)."""
    k_cal2, cell_ah_per_wh, wang = c32
    for i in range(len(energy)):
        calendar_acc[i] += k_cal2 * e_cal[i]
        cycle_acc[i] += e_cyc[i] * (energy[i] * cell_ah_per_wh) * wang


@numba.njit(**_JIT)
def _fade(calendar_acc, cycle_pow, capacity, resistance, energy, health, resistance_ratio, soc, x_ocv, c32):
    """Capacity fade, resistance growth and the end-of-day state of charge (twin.battery)."""
    one = np.float32(1.0)
    hundred, growth, capacity_wh, floor, discharge, knee = c32
    for i in range(len(energy)):
        fade = np.sqrt(calendar_acc[i]) + cycle_pow[i]
        h = capacity[i] * (one - fade / hundred)
        health[i] = h
        resistance_ratio[i] = resistance[i] * (one + growth * fade)
        h = h if not h < floor else floor
        s = _clip(one - energy[i] * discharge / (capacity_wh * h), np.float32(0.0), one)
        soc[i] = s
        x_ocv[i] = -s / knee


@numba.njit(**_JIT)
def _sag(soc, e_ocv, e_res, resistance_ratio, factors, supply, sag, c32):
    """Terminal voltage at peak draw against the cut-off (twin.battery.undervolted); the clocks
    throttle from tomorrow where it sags."""
    one = np.float32(1.0)
    cells, v0, v_slope, v_knee, r_internal, peak_factor, min_v, undervolt_fraction = c32
    for i in range(len(soc)):
        s = soc[i]
        ocv = cells * (v0 + v_slope * s + v_knee * (one - e_ocv[i]))
        ohm = r_internal * resistance_ratio[i] / e_res[i]
        peak = factors[ACTIVE, i] * peak_factor
        low = ocv - peak / ocv * ohm < min_v
        sag[i] = low
        supply[i] = undervolt_fraction if low else one


@numba.njit(fastmath={"reassoc", "nnan", "nsz"}, **_JIT)
def _totals(ambient, junction, health, resistance_ratio, dust, latency_ms, energy, sums, extrema):
    """The day's float64 sums and extrema, in any order (so the compiler vectorises them; the
    values are finite by construction): [ambient, junction, health, resistance, dust, latency,
    latency squared, energy], [min health, min latency, max junction, max latency]. Two loops:
    twelve accumulators in one spill out of the registers (measured 2x slower)."""
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    for i in range(len(ambient)):
        lat = np.float64(latency_ms[i])
        s0 += ambient[i]
        s1 += junction[i]
        s2 += health[i]
        s3 += resistance_ratio[i]
        s4 += dust[i]
        s5 += lat
        s6 += lat * lat
        s7 += energy[i]
    sums[:] = (s0, s1, s2, s3, s4, s5, s6, s7)
    # float32 extrema: converting to float64 is exact and monotonic, so they are the float64 extrema
    min_health = min_lat = np.float32(np.inf)
    max_junction = max_lat = np.float32(-np.inf)
    for i in range(len(ambient)):
        lat = latency_ms[i]
        min_health = min(min_health, health[i])
        min_lat = min(min_lat, lat)
        max_junction = max(max_junction, junction[i])
        max_lat = max(max_lat, lat)
    extrema[:] = (min_health, min_lat, max_junction, max_lat)


@numba.njit(**_JIT)
def _tallies(throttle, supply, health, junction, background, log2_ms, mode, firmware, counts, mode_counts, fw_counts,
             hist, lo, per_log2, shutdown_c):
    """The day's counts: [thermally throttled, under-voltage, background apps, end of life,
    overheated], devices per mode and firmware, and the latency histogram. Modes and firmware are
    counted a category at a time (vectorised compares: a few categories); only the histogram
    scatters, one increment per device."""
    one, eol_health = np.float32(1.0), np.float32(0.8)
    c0 = c1 = c2 = c3 = c4 = 0
    for i in range(len(throttle)):
        c0 += throttle[i] < one
        c1 += supply[i] < one
        c2 += background[i] > 0
        c3 += health[i] < eol_health
        c4 += junction[i] > shutdown_c
    counts[:] = (c0, c1, c2, c3, c4)
    for m in range(len(mode_counts)):
        c = 0
        for i in range(len(mode)):
            c += mode[i] == m
        mode_counts[m] += c
    for f in range(len(fw_counts)):
        c = 0
        for i in range(len(firmware)):
            c += firmware[i] == f
        fw_counts[f] += c
    for i in range(len(log2_ms)):
        b = int((np.float64(log2_ms[i]) - lo) * per_log2)
        hist[min(max(b, 0), HIST_BINS - 1)] += 1


@numba.njit(**_JIT)
def _summarise(ambient, junction, health, resistance_ratio, dust, latency_ms, energy, throttle, supply, background,
               log2_ms, mode, firmware, sums, extrema, counts, mode_counts, fw_counts, hist, lo, per_log2, shutdown_c):
    """_totals and _tallies in one call (each call costs the dispatcher ~0.1 us per argument)."""
    _totals(ambient, junction, health, resistance_ratio, dust, latency_ms, energy, sums, extrema)
    _tallies(throttle, supply, health, junction, background, log2_ms, mode, firmware, counts, mode_counts, fw_counts,
             hist, lo, per_log2, shutdown_c)


@numba.njit(**_JIT)
def _depart(background, until, day):
    """Background apps whose stay ends today leave (twin.config_drift.depart_background)."""
    for i in range(len(background)):
        if until[i] <= day:
            background[i] = 0


class DayKernel:
    """One block's days through the compiled passes; built per block from the run's context."""

    def __init__(self, ctx):
        sc, sku = ctx.scenario, ctx.sku
        f32 = np.float32
        self.ctx, self.lm = ctx, ctx.latency
        t = mode_table(sku)
        self._modes = np.stack([t.idle_w, t.power_w, t.compute_frac, t.compute_units, t.cpu_frac, t.memory_frac,
                                t.cpu_cores])  # one argument: each costs the dispatcher ~0.1 us per call
        tab = ctx.latency.tables()
        self._latency = (*_flat_tables(tab["rho"], tab["cum_c"], tab["tail_m"]), tab["tc_always"], tab["tm_always"],
                         tab["overhead_s"])
        th, c = sku.thermal, sku.contention
        self.battery = bool(sc.fleet.battery)
        pack, bp = sku.battery, sc.battery
        self._c32 = np.array([
            sc.environment.dust_rate_per_year / 365.25, th.thermal_resistance_c_per_w, th.throttle_c,
            th.min_clock_fraction, c.compute, c.memory, c.overhead, sc.deployment.inferences_per_day, 86_400.0,
            3600.0, 273.15,
            -2 * bp.calendar_activation_j_mol / GAS_CONSTANT if self.battery else 0.0, 1 / T_REF_K,
            np.log(bp.cycle_b) if self.battery else 0.0, -bp.cycle_activation_j_mol if self.battery else 0.0,
            bp.cycle_c_rate_j_mol if self.battery else 0.0, GAS_CONSTANT, bp.cycle_exponent if self.battery else 1.0,
            -bp.resistance_activation_j_mol / GAS_CONSTANT if self.battery else 0.0,
            pack.nominal_v * pack.capacity_ah if self.battery else 1.0], f32)
        self.shared_cores = bool(c.shared_cores)
        if self.battery:
            k_cal = f32(bp.calendar_pct_per_sqrt_day)
            self._c_age = np.array([k_cal * k_cal, bp.discharge_fraction / pack.nominal_v / pack.cells_parallel,
                                    WANG_CELL_AH / pack.cell_capacity_ah], f32)
            self._exponent = f32(bp.cycle_exponent)
            self._c_fade = np.array([100, bp.resistance_growth_per_pct, pack.capacity_wh, 1e-3, bp.discharge_fraction,
                                     0.05], f32)
            self._c_sag = np.array([pack.cells_series, 3.0, 0.65, 0.5, pack.internal_resistance_ohm,
                                    pack.peak_power_factor, pack.min_pack_v, bp.undervolt_clock_fraction], f32)
            self._downgrade = bp.downgrade_probability
            self._lowest = sku.mode_names.index(sku.lowest_mode)
        self._variant = self._scratch = None
        self._sums, self._extrema, self._counts = np.empty(8), np.empty(4), np.empty(5, np.int64)

    def firmware_changed(self) -> None:
        """A rollout moved firmware: the devices' breakpoint tables (firmware x engine build) change."""
        self._variant = None

    @staticmethod
    def depart_background(s, day: int) -> None:
        _depart(s.background_cores, s.background_until, day)

    def advance(self, s, day: int, rng: np.random.Generator, recorder) -> None:
        """``advance_day`` then ``recorder.record`` for the block's state ``s``."""
        n = len(s)
        if self._scratch is None or self._scratch.shape[1] != n:
            # allocated once per block: a fresh block-sized array each day costs the kernel zeroing new pages
            self._scratch, self._factors = np.empty((7, n), np.float32), np.empty((7, n), np.float32)
            self._cached_mode = np.full(n, -1, np.int8)  # no mode yet: every device's factors computed today
            self._sag, self._miss = np.empty(n, np.bool_), np.empty(n, np.bool_)
        if self._variant is None:  # the block's first day, or a rollout moved firmware
            rho, cum_c, tail_m, width, tc_always, tm_always, overhead_s = self._latency
            self._variant = self.lm.variants(s).astype(np.int32)
            self._k = self._variant * np.int32(width)  # count 0: checked, then bisected, tomorrow
            self._software = np.stack([tc_always[self._variant], tm_always[self._variant]])
            self._overhead = overhead_s[s.firmware]
        _mode_factors(s.power_mode, self._cached_mode, s.power_factor, s.silicon_speed, s.memory_speed, self._modes,
                      self._factors)
        ctx, scratch, k, factors = self.ctx, self._scratch, self._k, self._factors
        a, b, g, log2_ms, cal, cyc, res = scratch
        rho, cum_c, tail_m, width = self._latency[:4]
        misses = _day(s.climate_zone, s.enclosure_c, s.dust, s.dust_exposure, s.thermal_resistance,
                      s.background_cores, s.supply_throttle, s.usage, factors, self._software, self._overhead,
                      s.ambient_c, s.junction_c, s.thermal_throttle, s.latency_ms, s.energy_wh, k, self._miss, a, b, g,
                      cal, cyc, res, ctx.zone_peak_c[day], ctx.zone_mean_c[day], rho, cum_c, tail_m, self._c32,
                      self.shared_cores, self.battery)
        if misses:
            _recount(self._miss, a, b, g, self._variant, s.thermal_throttle, s.supply_throttle, s.usage, factors,
                     self._software, self._overhead, s.latency_ms, s.energy_wh, k, rho, cum_c, tail_m, width,
                     self._c32)
        if self.battery:
            np.exp(scratch[4:], out=scratch[4:])
            _age(s.energy_wh, cal, cyc, s.battery_calendar_acc, s.battery_cycle_acc, self._c_age)
            cycle_pow, soc, x_ocv = g, a, b  # spent
            np.power(s.battery_cycle_acc, self._exponent, out=cycle_pow)
            _fade(s.battery_calendar_acc, cycle_pow, s.battery_capacity, s.battery_resistance, s.energy_wh,
                  s.battery_health, s.battery_resistance_ratio, soc, x_ocv, self._c_fade)
            np.exp(x_ocv, out=x_ocv)
            sag = self._sag
            _sag(soc, x_ocv, res, s.battery_resistance_ratio, factors, s.supply_throttle, sag, self._c_sag)
            sagging = np.flatnonzero(sag)
            drop = sagging[rng.random(len(sagging)) < self._downgrade]
            s.power_mode[drop] = self._lowest
        self._record(s, day, recorder, np.log2(s.latency_ms, out=log2_ms))

    def _record(self, s, day: int, r, log2_ms: np.ndarray) -> None:
        """DailyRecorder.record for the fused path (its column order: twin.summary._MEAN, _MIN, _MAX)."""
        r.count = len(s)
        sums, extrema, counts = self._sums, self._extrema, self._counts
        _summarise(s.ambient_c, s.junction_c, s.battery_health, s.battery_resistance_ratio, s.dust, s.latency_ms,
                   s.energy_wh, s.thermal_throttle, s.supply_throttle, s.background_cores, log2_ms,
                   s.power_mode, s.firmware, sums, extrema, counts, r.mode_counts[day], r.fw_counts[day], r.hist[day],
                   np.float64(r._lo), np.float64(r._per_log2), np.float32(r.shutdown_c))
        r.sums[day] = [sums[0], sums[1], counts[0], counts[1], sums[2], sums[3], sums[4], counts[2], sums[5],
                       sums[6], sums[7]]
        r.mins[day] = extrema[:2]
        r.maxs[day] = extrema[2:]
        r.eol[day], r.overheat[day] = counts[3:]
