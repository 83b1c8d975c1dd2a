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

import pandas as pd
from tqdm import tqdm

from hdap.config import RunConfig
from hdap.study.trial import (
    ORACLE_DEVICES,
    TEST_ARCHITECTURES,
    StudyDay,
    TrialSpec,
    judge,
    run_trials,
    study_fleet_seed,
)
from testbed.errors import InputError
from twin.executor import Executor
from twin.simulation import simulate

__all__ = ["clusters_study", "clusters_report"]


def clusters_study(config: RunConfig, ks: list[int], sizes: list[int], seeds: int, executor: Executor,
                   progress: bool = False) -> pd.DataFrame:
    """One row per (devices, seed, K)."""
    scenario, cfg = config.scenario, config.pruning
    if min(ks) < 1 or min(sizes) < 1 or seeds < 1:
        raise InputError(f"--k, --devices and --seeds must be >= 1, got k {ks}, devices {sizes}, seeds {seeds}")
    too_many = [k for k in ks if k * cfg.representatives > min(sizes)]
    if too_many:
        raise InputError(f"--k {max(too_many)} x {cfg.representatives} representatives needs more "
                         f"devices than the smallest fleet ({min(sizes):,}); allowed: K <= "
                         f"{min(sizes) // cfg.representatives}")
    rows = []
    bar = tqdm(total=len(sizes) * seeds * (len(ks) + 1), desc="clusters study", unit="trial", disable=not progress)
    for n in sizes:
        for s in range(seeds):
            t0 = time.perf_counter()
            run = config.with_scenario(scenario.with_overrides(devices=n, seed=study_fleet_seed(scenario.seed, s)))
            sc, streams = run.scenario, run.streams
            snap = simulate(sc.with_overrides(days=sc.time.deployment_day + 1), executor=executor).final
            day = StudyDay.measure(run, snap, {cfg.features: 5}, streams)
            trials = streams.child("trial")
            oracle, done = run_trials(day, [TrialSpec(k, cfg.features, trials) for k in ks], trials, executor, bar)
            oracle_stats = day.exact_rates(oracle)
            for trial in done:
                rows.append({"devices": n, "seed": sc.seed, "k": trial.spec.k, "clusters": trial.clustering.n_clusters_,
                             **judge(trial, day, oracle_stats), "wall_s": time.perf_counter() - t0})
    bar.close()
    return pd.DataFrame(rows)


def clusters_report(df: pd.DataFrame, config: RunConfig, where: str, wall_s: float):
    """(report markdown, tables, figures) for ``write_study``."""
    import seaborn as sns

    from hdap.study.report import k_axis, markdown_table
    from testbed.figures import new_figure

    cols = ["mean_error_pct", "p95_error_pct", "device_error_pct", "profiling_device_h", "surrogate_device_h",
            "hdap_mean_ms", "oracle_mean_ms", "gap_to_oracle_pct"]
    table = df.groupby(["devices", "k"], as_index=False)[cols].mean()
    df = df.assign(fleet=df["devices"].map("{:,}".format))  # fleet sizes as evenly coloured categories
    err = df.melt(["fleet", "k"], ["mean_error_pct", "p95_error_pct", "device_error_pct"], "estimate", "error_pct")
    err["estimate"] = err["estimate"].str.replace("_error_pct", "")
    fig1, ax = new_figure(figsize=(7, 4.2))
    sns.lineplot(err, x="k", y="error_pct", hue="fleet", style="estimate", marker="o", palette="viridis", ax=ax)
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1, 1))
    ax.set(yscale="log", xlabel="clusters K", ylabel="estimate error (%, vs exact)",
           title="HDAP's fleet estimate against the exact fleet")
    k_axis(ax, df["k"].unique())
    fig2, (a1, a2) = new_figure(nrows=1, ncols=2, figsize=(11, 4.2))
    sns.lineplot(df, x="k", y="gap_to_oracle_pct", hue="fleet", marker="o", palette="viridis", ax=a1)
    a1.axhline(0, color="grey", lw=0.8)
    a1.set(xlabel="clusters K", ylabel="exact fleet mean, HDAP vs oracle (%)",
           title="Latency of HDAP's pick")
    sns.lineplot(df, x="k", y="surrogate_device_h", hue="fleet", marker="o", palette="viridis", legend=False, ax=a2)
    a2.set(yscale="log", xlabel="clusters K", ylabel="device-hours",
           title="Profiling for the surrogates (features extra, in the table)")
    for a in (a1, a2):
        k_axis(a, df["k"].unique())
    scenario, cfg = config.scenario, config.pruning
    best = pd.DataFrame({"devices": sorted(table["devices"].unique())})
    for col in ("device_error_pct", "p95_error_pct", "gap_to_oracle_pct"):
        pick = table.loc[table.groupby("devices")[col].idxmin()].set_index("devices")
        best[f"best_k_{col.removesuffix('_pct')}"] = best["devices"].map(pick["k"])
        best[col] = best["devices"].map(pick[col])
    report = f"""# Clusters study: {scenario.name}

`hdap study clusters` on `{scenario.name}` ({scenario.fleet.sku}, {scenario.deployment.workload} pruned to
{config.target_flops / 1e9:.3g} GFLOPs, objective `{cfg.objective}`), on the deployment day
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
    tables = {"clusters": df.drop(columns="fleet"), "summary": table}
    return report, tables, {"estimate_error": fig1, "latency_and_cost": fig2}
