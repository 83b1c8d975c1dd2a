"""Fit a SKU's latency parameters to real measurements (``twin calibrate``).

The twin's latency of a row is ``g x overhead + sum max(a x compute, b x memory)`` over layers
(twin.latency). Calibration moves, from the base SKU's values, per framework the per-layer
overhead (one scale for every kind) and a per-inference overhead, each layer kind's compute
efficiency and, where the SKU has
one, the conv occupancy knee; the effective bandwidth (memory efficiency),
the effective compute and CPU clocks of every other power mode the rows ran in and, when rows ran beside
background load, the contention coefficients. It minimises the squared log error of every row,
weighted down where the row's own repeats scatter (a noisy configuration), plus a weak pull of each parameter towards its base value, so that a parameter the rows cannot
tell apart (a kind that takes < 3 % of their time) stays where the base SKU put it. Where the file
holds several boards, the spread of their speed around the fit is the manufacturing variance.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from testbed.errors import InputError
from twin.calibration.measurement_csv import arch_hash, row_architecture
from twin.latency import Inference, LatencyModel, nominal_inference, nominal_state, resolve_mode, slowdowns
from twin.sku import SKU, CalibrationRecord, parse_clocks, with_clocks
from zoo.workload import LAYER_KINDS, Workload

__all__ = ["Calibration", "select_rows", "resolve_rows", "prediction_table", "calibrate", "leave_one_out", "apply_params",
           "PRIOR_WEIGHT", "MIN_SHARE"]

TILE_GRID = {"channel_tile": (1, 8, 16, 32, 64, 128), "spatial_tile": (1, 16, 32, 64, 128), "input_channel_tile": (1, 64)}
PRIOR_WEIGHT = 0.05   # residual per unit log-change of a parameter: a 2x move costs like a 3.5 % row error
MIN_SHARE = 0.03      # a term is fitted only if it is at least this share of its rows' predicted time
NOISE_FLOOR = 0.03    # a row's residual is weighted by NOISE_FLOOR / its spread: noisy configurations count less
MIN_KIND_SHARE = 0.0   # ... but a kind's compute efficiency whenever the rows have any (the base may badly
                       # underrate a kind, e.g. eager max-pooling on a CPU)
# Physical bounds (ASSUMED magnitudes, stated here once): a fit that reaches one is told so.
CLOCK_HEADROOM = 1.15  # a mode's effective clock at most 15 % above the highest clock the SKU lists (boost)
OVERHEAD_RANGE = 10.0  # per-layer framework overheads within 10x of the base SKU's sourced values
CALL_SHARE = 0.5       # a per-inference overhead at most half the fastest row's latency
SEPARATION = 0.98      # parameters whose effects on the rows correlate this much cannot be told apart
PRECISION_RANGE = 3.0  # a precision's kernels reach within 3x of the share of peak the default precision's do
POWER_RANGE = 3.0      # the fitted dynamic power within 3x of the base SKU's sourced values


@dataclass(frozen=True)
class _Param:
    name: str          # dotted path into the SKU's fields, e.g. frameworks.pytorch.efficiency.conv
    base: float
    log: bool          # fitted as log(value) (scales) or as value (contention, may be 0)
    lo: float
    hi: float
    scale: float = 1.0  # the prior's unit: a move of one scale costs like a PRIOR_WEIGHT log error


@dataclass(frozen=True)
class Row:
    """One measurement resolved against the SKU: what ran, where, and how long it took."""

    index: int          # row number in the file (header = 1)
    board_id: str
    model: str
    arch_hash: str
    framework: str
    mode: str
    background_cores: float
    measured_ms: float
    workload: Workload
    spread: float = NOISE_FLOOR  # sd of log latency over the row's raw repeats (robust), at least NOISE_FLOOR
    precision: str | None = None  # None: the framework's default
    clocks: tuple[tuple[str, float], ...] = ()  # the clocks it ran at, where no mode of the SKU names them
    power_w: float | None = None  # measured power while inferring ...
    power_scope: str = ""         # ... of the module ("module") or the whole system at the socket ("wall")


@dataclass
class Calibration:
    """The fitted SKU, each row's measured and predicted latency, and the parameters moved."""

    sku: SKU
    table: pd.DataFrame
    params: dict[str, tuple[float, float]]
    board_speed_sd: float | None
    warnings: list[str]          # parameters on a physical bound, pairs the rows cannot separate

    @property
    def mape_pct(self) -> float:
        return float(self.table["error_pct"].abs().mean())


def select_rows(df: pd.DataFrame, sku_name: str, source: str) -> pd.DataFrame:
    """The rows of one SKU (the file may hold several); an error lists those it holds."""
    rows = df[df["sku"] == sku_name]
    if len(rows) == 0:
        raise InputError(f"{source}: no rows for SKU {sku_name!r}; the file has: {', '.join(sorted(set(df['sku'])))}")
    return rows


def resolve_rows(df: pd.DataFrame, sku: SKU, base_dir: str | Path, source: str) -> list[Row]:
    """Each row's architecture, framework and configuration checked against the SKU."""
    from zoo import get_model

    out = []
    for i, r in df.iterrows():
        where = f"{source}: row {i + 2}: "
        model, widths, size = row_architecture(r, base_dir, where)
        if r["framework"] not in sku.frameworks:
            raise InputError(f"{where}framework: {r['framework']!r} is not a framework of {sku.name}; "
                             f"allowed: {', '.join(sku.frameworks)}")
        mode, clocks = _row_mode(sku, r, where)
        precision = str(r["precision"]).strip() or None
        if precision is not None:
            try:
                sku.precision_of(r["framework"], precision)
            except InputError as exc:
                raise InputError(f"{where}precision: {exc}") from None
        power, scope = _row_power(r, where)
        zoo = get_model(model, size)
        widths = zoo.full_widths if widths is None else widths
        label = (model if tuple(widths) == tuple(zoo.full_widths) else f"{model}*") + ("" if size is None else f"@{size}")
        workload = zoo.workload(widths)
        out.append(Row(i + 2, str(r["board_id"]), label, arch_hash(model, widths, size),
                       r["framework"], mode, float(r["background_cores"]), float(r["latency_ms"]),
                       workload, _spread(r.get("raw_ms", ""), where), precision, clocks, power, scope))
    return out


def _row_mode(sku: SKU, r, where: str) -> tuple[str, tuple[tuple[str, float], ...]]:
    """The mode a row ran in: the SKU's mode it names (its clocks are then only a record); else, on
    a CPU SKU, the mode of its thread count (an OS's clock reading is not the turbo clock the
    cores run at); else the clocks it gives, the rest as the SKU's usual mode; else the usual mode."""
    name, clocks, threads = str(r["power_mode"]).strip(), str(r.get("clocks", "") or "").strip(), int(r["threads"])
    if name in sku.power_modes or not clocks or (sku.contention.shared_cores and threads > 0):
        try:
            return resolve_mode(sku, name, threads), ()
        except InputError as exc:
            raise InputError(f"{where}power_mode: {exc} (or give the clocks it ran at: "
                             f"gpu_mhz=..;emc_mhz=..;cpu_mhz=..;cpu_cores=..)") from None
    given = parse_clocks(clocks, f"{where}clocks")
    try:
        mode = with_clocks(sku, given)[1]
    except InputError as exc:
        raise InputError(f"{where}{exc}") from None
    return mode, tuple(given.items())


def _row_power(r, where: str) -> tuple[float | None, str]:
    """A row's measured power (W) and whether it is the module's or the whole system's at the wall."""
    text = str(r.get("power_w", "") or "").strip()
    if not text:
        return None, ""
    try:
        watts = float(text)
    except ValueError:
        watts = float("nan")
    if not 0 < watts < 1e4:
        raise InputError(f"{where}power_w: must be a positive number of watts, got {text!r}")
    scope = str(r.get("power_scope", "") or "").strip().lower()
    if scope.startswith("wall"):
        return watts, "wall"
    if scope.startswith(("module", "vdd_in")):
        return watts, "module"
    raise InputError(f"{where}power_scope: must say where power was measured: 'wall ...' (whole system at the "
                     f"socket) or 'module ...' (the module's input rail, VDD_IN), got {scope!r}")


def with_row_modes(sku: SKU, rows: list[Row]) -> SKU:
    """``sku`` with a mode for every row that ran at clocks of its own (the fitted SKU drops them)."""
    for clocks in dict.fromkeys(r.clocks for r in rows if r.clocks):
        sku = with_clocks(sku, dict(clocks))[0]
    return sku


def _spread(raw: str, where: str) -> float:
    """Robust sd of log latency over a row's raw repeats (1.4826 x median absolute deviation)."""
    if not str(raw).strip():
        return NOISE_FLOOR
    try:
        logs = np.log([float(v) for v in str(raw).split(";")])
    except ValueError:
        raise InputError(f"{where}raw_ms: must be ';'-separated latencies in ms, got {str(raw)[:40]!r}") from None
    return max(NOISE_FLOOR, 1.4826 * float(np.median(np.abs(logs - np.median(logs)))))


def apply_params(base: SKU, values: dict[str, float]) -> SKU:
    """A copy of ``base`` with the dotted-path parameters set (overhead_scale scales a table)."""
    data = base.model_dump()
    for name, value in values.items():
        *path, leaf = name.split(".")
        node = data
        for key in path:
            node = node[key]
        if leaf == "overhead_scale":
            node["overhead_us"] = {k: v * value for k, v in node["overhead_us"].items()}
        else:
            node[leaf] = value
    return SKU.model_validate(data)


def _candidate_params(base: SKU, rows: list[Row]) -> list[_Param]:
    """The parameters these rows can inform (each term's share of their predicted time >= MIN_SHARE)."""
    pred = np.array([_time_terms(r, base) for r in rows])   # (rows, [overhead, compute by kind..., memory])
    total = pred.sum(axis=1, keepdims=True)
    share = pred / total
    params = []
    for fw in sorted({r.framework for r in rows}):
        on = np.array([r.framework == fw for r in rows])
        prof = base.frameworks[fw]
        if share[on, 0].mean() >= MIN_SHARE:
            params.append(_Param(f"frameworks.{fw}.overhead_scale", 1.0, True, 1 / OVERHEAD_RANGE, OVERHEAD_RANGE))
        if len({r.arch_hash for r, o in zip(rows, on) if o}) >= 2:  # a constant needs two networks to tell apart
            measured_us = 1e3 * np.array([r.measured_ms for r, o in zip(rows, on) if o])
            hi = max(CALL_SHARE * float(measured_us.min()), prof.call_overhead_us)
            params.append(_Param(f"frameworks.{fw}.call_overhead_us", prof.call_overhead_us, False, 0.0, hi,
                                 float(np.median(measured_us))))
        for k, kind in enumerate(LAYER_KINDS):
            if share[on, 1 + k].mean() > MIN_KIND_SHARE:
                params.append(_Param(f"frameworks.{fw}.efficiency.{kind}", prof.efficiency[kind], True, 1e-4, 1.0))
        if prof.occupancy_half_mmacs > 0 and share[on, 1 + LAYER_KINDS.index("conv")].mean() >= MIN_SHARE:
            params.append(_Param(f"frameworks.{fw}.occupancy_half_mmacs", prof.occupancy_half_mmacs, True, 1e-3, 1e5))
        if prof.channel_half > 0 and share[on, 1 + LAYER_KINDS.index("conv")].mean() >= MIN_SHARE:
            params.append(_Param(f"frameworks.{fw}.channel_half", prof.channel_half, True, 1e-2, 1e4))
        default = base.precision_of(fw)[0]
        for precision in sorted({r.precision for r, o in zip(rows, on) if o and r.precision not in (None, default)}):
            scale = base.frameworks[fw].precisions[precision].efficiency_scale
            params.append(_Param(f"frameworks.{fw}.precisions.{precision}.efficiency_scale", scale, True,
                                 scale / PRECISION_RANGE, scale * PRECISION_RANGE))
    if share[:, -1].mean() >= MIN_SHARE:
        params.append(_Param("memory_efficiency", base.memory_efficiency, True, 1e-3, 1.0))
    top = base.power_modes[base.top_mode]
    max_compute = max(m.compute_mhz for m in base.power_modes.values()) * CLOCK_HEADROOM
    max_cpu = max(m.cpu_mhz for m in base.power_modes.values()) * CLOCK_HEADROOM
    # the top mode is the reference the efficiencies are defined at, and rows in the usual mode alone
    # cannot tell its clocks from the efficiencies: both keep their sourced clocks
    for mode in sorted({r.mode for r in rows if not r.clocks} - {base.top_mode, base.usual_mode}):
        m = base.power_modes[mode]
        hi = min(top.compute_mhz * top.compute_units / m.compute_units, max_compute)
        params.append(_Param(f"power_modes.{mode}.compute_mhz", m.compute_mhz, True, 1.0, hi))
        params.append(_Param(f"power_modes.{mode}.cpu_mhz", m.cpu_mhz, True, m.cpu_mhz / 4, max_cpu))
    if any(r.background_cores > 0 for r in rows):
        for term in ("compute", "memory", "overhead"):
            c = getattr(base.contention, term)
            params.append(_Param(f"contention.{term}", c, False, 0.0, 100.0, 1.0 + c))
    return params


def _slowdowns(r: Row, sku: SKU) -> tuple[float, float, float]:
    sku = with_row_modes(sku, [r])
    a, b, g = slowdowns(nominal_state(sku, r.mode, r.background_cores), sku)
    return float(a[0]), float(b[0]), float(g[0])


def _time_terms(r: Row, sku: SKU) -> np.ndarray:
    """A row's predicted time split into overhead, compute-bound time per kind and memory-bound time."""
    a, b, g = _slowdowns(r, sku)
    lm = LatencyModel(r.workload, sku, r.framework, precision=r.precision)
    comp, mem = a * lm.compute_s, b * lm.memory_s
    bound = comp >= mem
    by_kind = np.bincount(lm.kind[bound], comp[bound], minlength=len(LAYER_KINDS))
    return np.concatenate([[g * lm.overhead_s[0]], by_kind, [mem[~bound].sum()]])


def _predict_s(rows: list[Row], sku: SKU) -> np.ndarray:
    """Rows' latency (s) under ``sku``, by the same path as ``twin predict``."""
    return 1e-3 * np.array([i.latency_ms for i in _infer(rows, sku)])


def _infer(rows: list[Row], sku: SKU) -> list[Inference]:
    sku = with_row_modes(sku, rows)
    return [nominal_inference(r.workload, sku, r.framework, r.mode, r.background_cores, r.precision) for r in rows]


def _power_in_scope(r: Row, i: Inference) -> float:
    """The predicted power a row's meter would read (nan where it measured none or the SKU has no model)."""
    if r.power_w is None or i.power_w is None:
        return float("nan")
    return i.wall_w if r.power_scope == "wall" else i.power_w


def _fit(rows: list[Row], base: SKU) -> tuple[SKU, dict[str, tuple[float, float]], float]:
    params = _candidate_params(base, rows)
    measured = np.log(np.array([r.measured_ms * 1e-3 for r in rows]))
    weight = NOISE_FLOOR / np.array([r.spread for r in rows])
    to_x = lambda p, v: np.log(v) if p.log else v  # noqa: E731
    x0 = np.array([to_x(p, p.base) for p in params])
    lo = np.array([to_x(p, p.lo) for p in params])
    hi = np.array([to_x(p, p.hi) for p in params])
    spread = np.array([p.scale for p in params])

    def values(x):
        return {p.name: float(np.exp(v) if p.log else v) for p, v in zip(params, x)}

    def residuals(x):
        sku = apply_params(base, values(x))
        return np.concatenate([weight * (np.log(_predict_s(rows, sku)) - measured), PRIOR_WEIGHT * (x - x0) / spread])

    warnings = []
    if params:
        eps = 1e-9 * (hi - lo)
        fit = least_squares(residuals, np.clip(x0, lo + eps, hi - eps), bounds=(lo, hi), x_scale=1.0,
                            diff_step=1e-3)  # the twin's slowdowns are float32: a finer step sees no change
        x = fit.x
        warnings = _diagnose(params, x, lo, hi, fit.jac[:len(rows)])
    else:
        x = x0
    fitted = {k: float(f"{v:.4g}") if abs(v) > 1e-9 else 0.0 for k, v in values(x).items()}  # a readable file
    sku = apply_params(base, fitted)
    sse = float(np.sum((weight * (np.log(_predict_s(rows, sku)) - measured)) ** 2))
    return sku, {p.name: (p.base, fitted[p.name]) for p in params}, sse, warnings


def _diagnose(params: list[_Param], x: np.ndarray, lo: np.ndarray, hi: np.ndarray, jac: np.ndarray) -> list[str]:
    """What the fit could not do physically or tell apart: parameters that ended on a physical
    bound, and pairs whose effects on the rows move together (the rows cannot separate them)."""
    out = []
    for p, v, a, b in zip(params, x, lo, hi):
        tol = 1e-3 * (b - a)
        at_lo, at_hi = p.lo > 0 and v <= a + tol, v >= b - tol  # a lower bound of 0 switches a term off: fine
        if at_lo or at_hi:
            bound = p.lo if at_lo else p.hi
            out.append(f"{p.name} ended on its physical bound {bound:.4g}: the rows push it past what the hardware "
                       f"can do, so another term is missing or mis-set (a mode, a background load, a kind)")
    norms = np.linalg.norm(jac, axis=0)
    live = norms > 1e-9 * max(float(norms.max()), 1e-30)
    unit = np.where(live, jac / np.where(live, norms, 1.0), 0.0)
    cos = unit.T @ unit
    for i in range(len(params)):
        for j in range(i + 1, len(params)):
            if live[i] and live[j] and abs(cos[i, j]) >= SEPARATION:
                out.append(f"the rows cannot separate {params[i].name} from {params[j].name} (their effects on every "
                           f"row move together, correlation {cos[i, j]:+.3f}): time networks of other widths "
                           f"(twin board-bench --random N) or in other modes so that they differ")
    return out


def _fit_tiles(rows: list[Row], base: SKU) -> tuple[SKU, dict[str, tuple[float, float]]]:
    """The fit at every combination of TILE_GRID's tile sizes; the lowest squared log error wins."""
    from itertools import product

    best = None
    for tiles in (dict(zip(TILE_GRID, combo)) for combo in product(*TILE_GRID.values())):
        sku, params, sse, warnings = _fit(rows, base.model_copy(update=tiles))
        if best is None or sse < best[2] - 1e-12:
            best = (sku, {**{k: (getattr(base, k), v) for k, v in tiles.items()}, **params}, sse, warnings)
    return best[0], best[1], best[3]


def prediction_table(rows: list[Row], sku: SKU) -> pd.DataFrame:
    """Per row: what ran where, measured and predicted (``twin predict``'s path), and the error."""
    inferences = _infer(rows, sku)
    df = pd.DataFrame({"row": [r.index for r in rows], "board_id": [r.board_id for r in rows],
                       "framework": [r.framework for r in rows], "mode": [r.mode for r in rows],
                       "background_cores": [r.background_cores for r in rows], "model": [r.model for r in rows],
                       "arch_hash": [r.arch_hash for r in rows], "measured_ms": [r.measured_ms for r in rows],
                       "predicted_ms": [i.latency_ms for i in inferences]})
    df["error_pct"] = 100 * (df["predicted_ms"] / df["measured_ms"] - 1)
    if any(r.power_w is not None for r in rows):
        df["precision"] = [r.precision or "" for r in rows]
        df["power_scope"] = [r.power_scope for r in rows]
        df["measured_w"] = [np.nan if r.power_w is None else r.power_w for r in rows]
        df["predicted_w"] = [_power_in_scope(r, i) for r, i in zip(rows, inferences)]
        df["energy_error_pct"] = 100 * (df["predicted_w"] * df["predicted_ms"] / (df["measured_w"] * df["measured_ms"]) - 1)
    return df


def _fit_power(rows: list[Row], sku: SKU) -> tuple[SKU, float, str]:
    """One scale on the power model's dynamic terms (GPU, memory, CPU together: their split stays
    the sourced one) so that the rows' measured power is met in log least squares, latency as
    fitted. One row fixes it exactly; more rows show how well the split holds."""
    from scipy.optimize import minimize_scalar

    measured = np.log([r.power_w for r in rows])

    def scaled(s: float) -> SKU:
        p = sku.power
        return sku.model_copy(update={"power": p.model_copy(update={
            "gpu_w": p.gpu_w * s, "memory_w": p.memory_w * s, "cpu_core_w": p.cpu_core_w * s})})

    def loss(log_s: float) -> float:
        inf = _infer(rows, scaled(float(np.exp(log_s))))
        return float(np.sum((np.log([_power_in_scope(r, i) for r, i in zip(rows, inf)]) - measured) ** 2))

    bound = float(np.log(POWER_RANGE))
    log_s = minimize_scalar(loss, bounds=(-bound, bound), method="bounded", options={"xatol": 1e-5}).x
    s = float(f"{np.exp(log_s):.4g}")
    warning = ""
    if abs(abs(log_s) - bound) < 1e-3:
        warning = (f"power.dynamic_scale ended on its bound {s:.3g}: the measured power is outside what the sourced "
                   f"static and dynamic terms can reach (check power_scope, the carrier board and supply efficiency)")
    return scaled(s), s, warning


def calibrate(rows: list[Row], base: SKU, source: str = "", search_tiles: bool = False) -> Calibration:
    """Fit ``base`` to ``rows``; the result's SKU carries a CalibrationRecord. With ``search_tiles``,
    the channel and pixel tile sizes are chosen too (from TILE_GRID): that needs rows of pruned,
    odd-width networks to tell tiles apart."""
    if search_tiles:
        sku, params, warnings = _fit_tiles(rows, base)
    else:
        sku, params, _, warnings = _fit(rows, base)
    power_rows = [r for r in rows if r.power_w is not None]
    if power_rows and sku.power is not None:
        sku, scale, warning = _fit_power(power_rows, sku)
        params["power.dynamic_scale"] = (1.0, scale)
        warnings = warnings + ([warning] if warning else [])
    elif power_rows:
        warnings = warnings + [f"{len(power_rows)} row(s) give power but {base.name} has no power model to fit"]
    table = prediction_table(rows, sku)
    boards = sorted({r.board_id for r in rows if r.board_id})
    board_sd = None
    if len(boards) >= 2:
        log_err = np.log(table["measured_ms"] / table["predicted_ms"])
        board_sd = float(log_err.groupby(table["board_id"]).mean().std(ddof=1))
    record = CalibrationRecord(
        measurements=source, rows=len(rows), networks=list(dict.fromkeys(r.arch_hash for r in rows)), fitted={k: [round(b, 6), round(v, 6)] for k, (b, v) in params.items()},
        fit_mape_pct=round(float(table["error_pct"].abs().mean()), 3),
        fit_max_error_pct=round(float(table["error_pct"].abs().max()), 3), boards=max(len(boards), 1),
        board_speed_sd=None if board_sd is None else round(board_sd, 5),
        modes=sorted({r.mode for r in rows if not r.clocks}), frameworks=sorted({r.framework for r in rows}),
        precisions=sorted({f"{r.framework}/{sku.precision_of(r.framework, r.precision)[0]}" for r in rows}),
        power_rows=len(power_rows) if sku.power is not None else 0, warnings=warnings)
    return Calibration(sku.model_copy(update={"calibration": record}), table, params, board_sd, warnings)


def leave_one_out(rows: list[Row], base: SKU) -> pd.DataFrame:
    """Each network (architecture) left out in turn: fit on the other rows, predict its rows.
    Tile sizes stay as ``base`` has them (pass the calibrated tiles to judge a tile search)."""
    parts = []
    for arch in dict.fromkeys(r.arch_hash for r in rows):
        train = [r for r in rows if r.arch_hash != arch]
        test = [r for r in rows if r.arch_hash == arch]
        if not train:
            raise InputError("leave-one-out needs at least two networks in the rows")
        sku = _fit(train, base)[0]
        parts.append(prediction_table(test, sku))
    return pd.concat(parts).sort_values("row", kind="stable").reset_index(drop=True)
