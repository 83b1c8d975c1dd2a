"""``hdap study clusters``: how many clusters, how much profiling, at which fleet size.

For each fleet size and seed the scenario is simulated to its deployment day and every device's
features are measured once (the same for every K). Then, per K, one HDAP trial (cluster,
profile ``representatives`` devices per cluster, fit surrogates, search), and the oracle's search
on exact latencies. Reported per (devices, K): the error of HDAP's estimate of the fleet mean and
p95 on fresh architectures against the exact values, the per-device estimate error, profiling
cost in device-hours, and the exact fleet latency of HDAP's pick against the oracle's.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from tqdm import tqdm

from hdap.study.trial import (ORACLE_DEVICES, TEST_ARCHITECTURES, StudyDay, TrialSpec, run_oracle, run_trial,
                              target_flops)
from twin.errors import InputError
from twin.executor import Executor
from twin.scenario import Scenario
from twin.simulation import simulate

__all__ = ["clusters_study", "clusters_report"]


def _job(spec: TrialSpec | int, day: StudyDay):
    return run_oracle(spec, day) if isinstance(spec, int) else run_trial(spec, day)


def clusters_study(scenario: Scenario, ks: list[int], sizes: list[int], seeds: int, executor: Executor,
                   progress: bool = False) -> pd.DataFrame:
    """One row per (devices, seed, K)."""
    if min(ks) < 1 or min(sizes) < 1 or seeds < 1:
        raise InputError(f"--k, --devices and --seeds must be >= 1, got k {ks}, devices {sizes}, seeds {seeds}")
    too_many = [k for k in ks if k * scenario.pruning.representatives > min(sizes)]
    if too_many:
        raise InputError(f"--k {max(too_many)} x {scenario.pruning.representatives} representatives needs more "
                         f"devices than the smallest fleet ({min(sizes):,}); allowed: K <= "
                         f"{min(sizes) // scenario.pruning.representatives}")
    cfg, rows = scenario.pruning, []
    bar = tqdm(total=len(sizes) * seeds * (len(ks) + 1), desc="clusters study", unit="trial", disable=not progress)
    for n in sizes:
        for s in range(seeds):
            t0 = time.perf_counter()
            sc = scenario.with_overrides(devices=n, seed=scenario.seed + s)
            snap = simulate(sc.with_overrides(days=sc.time.deployment_day + 1), executor=executor).final
            day = StudyDay.measure(sc, snap, {cfg.features: 5}, sc.seed)
            jobs = [sc.seed] + [TrialSpec(k, cfg.features, sc.seed) for k in ks]
            done = []
            for result in executor.map(_job, jobs, executor.share(day)):
                done.append(result)
                bar.update(1)
            oracle_mean, oracle_p95 = day.exact(done[0])
            exact_mean, exact_p95 = day.test_exact_stats()
            for trial in done[1:]:
                mean, p95 = day.exact(trial.widths)
                feature_s = day.feature_device_s[cfg.features]
                rows.append({
                    "devices": n, "seed": sc.seed, "k": trial.spec.k, "clusters": trial.clustering.n_clusters_,
                    "mean_error_pct": 100 * float(np.mean(np.abs(trial.estimate_mean_ms / exact_mean - 1))),
                    "p95_error_pct": 100 * float(np.mean(np.abs(trial.estimate_p95_ms / exact_p95 - 1))),
                    "device_error_pct": 100 * trial.device_mape,
                    "surrogate_holdout_pct": 100 * trial.surrogate_holdout_mape,
                    "feature_device_h": feature_s / 3600, "surrogate_device_h": trial.surrogate_device_s / 3600,
                    "profiling_device_h": (feature_s + trial.surrogate_device_s) / 3600,
                    "hdap_mean_ms": mean, "hdap_p95_ms": p95, "oracle_mean_ms": oracle_mean, "oracle_p95_ms": oracle_p95,
                    "gap_to_oracle_pct": 100 * (mean / oracle_mean - 1),
                    "wall_s": time.perf_counter() - t0})
    bar.close()
    return pd.DataFrame(rows)


def clusters_report(df: pd.DataFrame, scenario: Scenario, where: str, wall_s: float):
    """(report markdown, tables, figures) for ``write_study``."""
    from hdap.study.report import k_axis, markdown_table, plt, sns

    cols = ["mean_error_pct", "p95_error_pct", "device_error_pct", "profiling_device_h", "surrogate_device_h",
            "hdap_mean_ms", "oracle_mean_ms", "gap_to_oracle_pct"]
    table = df.groupby(["devices", "k"], as_index=False)[cols].mean()
    sns.set_theme(style="whitegrid")
    err = df.melt(["devices", "k"], ["mean_error_pct", "p95_error_pct", "device_error_pct"], "estimate", "error_pct")
    err["estimate"] = err["estimate"].str.replace("_error_pct", "")
    fig1, ax = plt.subplots(figsize=(7, 4.2))
    sns.lineplot(err, x="k", y="error_pct", hue="devices", style="estimate", marker="o", palette="viridis", ax=ax)
    ax.set(yscale="log", xlabel="clusters K", ylabel="estimate error (%, vs exact)",
           title="HDAP's fleet estimate against the exact fleet")
    k_axis(ax, df["k"].unique())
    fig2, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    sns.lineplot(df, x="k", y="gap_to_oracle_pct", hue="devices", marker="o", palette="viridis", ax=a1)
    a1.axhline(0, color="grey", lw=0.8)
    a1.set(xlabel="clusters K", ylabel="exact fleet mean, HDAP vs oracle (%)",
           title="Latency of HDAP's pick")
    sns.lineplot(df, x="k", y="surrogate_device_h", hue="devices", marker="o", palette="viridis", ax=a2)
    a2.set(yscale="log", xlabel="clusters K", ylabel="device-hours",
           title="Profiling for the surrogates (features extra, in the table)")
    for a in (a1, a2):
        k_axis(a, df["k"].unique())
    cfg = scenario.pruning
    best = pd.DataFrame({"devices": sorted(table["devices"].unique())})
    for col in ("device_error_pct", "p95_error_pct", "gap_to_oracle_pct"):
        pick = table.loc[table.groupby("devices")[col].idxmin()].set_index("devices")
        best[f"best_k_{col.removesuffix('_pct')}"] = best["devices"].map(pick["k"])
        best[col] = best["devices"].map(pick[col])
    report = f"""# Clusters study: {scenario.name}

`hdap study clusters` on `{scenario.name}` ({scenario.fleet.sku}, {scenario.deployment.workload} pruned to
{target_flops(scenario) / 1e9:.3g} GFLOPs, objective `{cfg.objective}`), on the deployment day
({scenario.time.deployment_day}). Fleet sizes {', '.join(f'{n:,}' for n in sorted(df.devices.unique()))};
K {', '.join(map(str, sorted(df.k.unique())))}; seeds {', '.join(map(str, sorted(df.seed.unique())))}.
Ran on {where} in {wall_s:.0f} s.

Per fleet size, every device's `{cfg.features}` features are measured once (5 repeats); per K,
K-means clusters them, {cfg.representatives} representatives per cluster are profiled on
{cfg.surrogate_samples} sub-networks (the same ones for every cluster), a surrogate is fitted per
cluster (`{cfg.surrogate}`), and NCS ({cfg.population} x {cfg.generations}) searches against
the fleet estimate. The oracle runs the same search on exact latencies of up to
{cfg.oracle_devices or ORACLE_DEVICES:,} devices. Estimates are judged on {TEST_ARCHITECTURES} fresh
sub-networks in the FLOPs band: `mean_error_pct` and `p95_error_pct` compare HDAP's estimate of
the fleet mean and p95 with the exact values over every device; `device_error_pct` is the mean
per-device error (cluster prediction x the device's measured speed). Latencies of the picks are
exact, over every device. No accuracy data: the search's accuracy floor is the filter-importance
proxy of a seeded network.

## Mean over seeds

{markdown_table(table)}

Per fleet size, the K with the lowest per-device error, p95 error and gap to the oracle. A
negative gap means HDAP's search found a faster network than the oracle's: both are NCS runs of
the same size, so gaps of a few tenths of a percent are the search's own spread, not the estimate.

{markdown_table(best)}

![estimate error](estimate_error.png)

![latency and cost](latency_and_cost.png)

Every trial: `clusters.csv`.
"""
    return report, {"clusters": df, "summary": table}, {"estimate_error": fig1, "latency_and_cost": fig2}
