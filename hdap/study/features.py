"""``hdap study features``: the paper's clustering features against the probe set, same budget.

The paper clusters devices on repeated runs of the unpruned network; the default here is a probe
set spanning the compute-, memory- and overhead-bound regimes plus the network. Both are measured
on every device of the fleet on its deployment day with the same profiling budget: the probes
with 5 repeats each, the paper's features with as many repeats of the network as cost the same
device-seconds. Then, per K, an HDAP trial with each, judged as in the clusters study.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from tqdm import tqdm

from hdap.config import RunConfig
from hdap.study.trial import StudyDay, TrialSpec, judge, run_trials, study_fleet_seed
from testbed.errors import InputError
from twin.executor import Executor
from twin.simulation import simulate

__all__ = ["features_study", "features_report", "PROBE_REPEATS"]

PROBE_REPEATS = 5


def paper_repeats(day: StudyDay, noise) -> int:
    """Repeats of the unpruned network costing what the probes cost per device (at least 1)."""
    per_device = day.feature_device_s["probes"] / len(day.snapshot)
    net_s = float(np.mean(day.unpruned_ms["probes"])) / 1e3
    return max(1, round((per_device - noise.setup_s) / net_s - noise.warmup))


def features_study(config: RunConfig, ks: list[int], seeds: int, executor: Executor,
                   progress: bool = False) -> pd.DataFrame:
    """One row per (seed, feature kind, K)."""
    scenario, cfg, n = config.scenario, config.pruning, config.scenario.fleet.devices
    if min(ks) < 1 or seeds < 1 or max(ks) * cfg.representatives > n:
        raise InputError(f"--k must be between 1 and {n // cfg.representatives} (devices / representatives) "
                         f"and --seeds >= 1, got k {ks}, seeds {seeds}")
    rows = []
    bar = tqdm(total=seeds * (2 * len(ks) + 1), desc="features study", unit="trial", disable=not progress)
    for s in range(seeds):
        t0 = time.perf_counter()
        run = config.with_scenario(scenario.with_overrides(seed=study_fleet_seed(scenario.seed, s)))
        sc, streams = run.scenario, run.streams
        snap = simulate(sc.with_overrides(days=sc.time.deployment_day + 1), executor=executor).final
        day = StudyDay.measure(run, snap, {"probes": PROBE_REPEATS}, streams)
        repeats = {"probes": PROBE_REPEATS, "paper": paper_repeats(day, sc.measurement)}
        day.measure_features("paper", repeats["paper"])
        trials = streams.child("trial")
        specs = [TrialSpec(k, kind, trials) for kind in ("paper", "probes") for k in ks]
        oracle, done = run_trials(day, specs, trials, executor, bar)
        oracle_stats = day.exact_rates(oracle)
        for trial in done:
            kind = trial.spec.features
            rows.append({"seed": sc.seed, "features": kind, "repeats": repeats[kind], "k": trial.spec.k,
                         **judge(trial, day, oracle_stats), "wall_s": time.perf_counter() - t0})
    bar.close()
    return pd.DataFrame(rows)


def features_report(df: pd.DataFrame, config: RunConfig, where: str, wall_s: float):
    import seaborn as sns

    from hdap.study.report import markdown_table
    from testbed.figures import new_figure

    cols = ["repeats", "feature_device_h", "surrogate_device_h", "mean_error_pct", "p95_error_pct",
            "device_error_pct", "hdap_mean_ms", "oracle_mean_ms", "gap_to_oracle_pct"]
    table = df.groupby(["features", "k"], as_index=False)[cols].mean()
    fig, axes = new_figure(nrows=1, ncols=3, figsize=(16, 4.2), layout="constrained")
    for ax, col, title in zip(axes, ["device_error_pct", "p95_error_pct", "gap_to_oracle_pct"],
                              ["per-device estimate error (%)", "fleet p95 estimate error (%)",
                               "exact fleet mean, HDAP vs oracle (%)"]):
        sns.barplot(df, x="k", y=col, hue="features", ax=ax)
        ax.set(xlabel="clusters K", ylabel=title)
    scenario, cfg = config.scenario, config.pruning
    report = f"""# Features study: {scenario.name}

`hdap study features` on `{scenario.name}` ({scenario.fleet.devices:,} x {scenario.fleet.sku},
{scenario.deployment.workload}, objective `{cfg.objective}`) on its deployment day
({scenario.time.deployment_day}). Seeds {', '.join(map(str, sorted(df.seed.unique())))}. Ran on {where}
in {wall_s:.0f} s.

- `paper`: the authors' features, repeated runs of the unpruned network (sorted log latencies).
- `probes`: a compute-bound, a memory-bound and an overhead-bound probe plus the network, 5 repeats each.

The paper's repeats are chosen so that measuring them costs every device what the probes cost
(`feature_device_h`, measured). Everything after the features is the same: K-means, {cfg.representatives}
representatives per cluster profiled on the same {cfg.surrogate_samples} sub-networks, surrogates,
NCS against the estimate; the oracle runs the same search on exact latencies. Errors are judged
on fresh sub-networks against the exact fleet; latencies of the picks are exact over every device.
A negative gap means HDAP's search found a faster network than the oracle's: the oracle is the
same search on a rougher landscape (exact latencies step with channel tiles), not an optimum.

## Mean over seeds

{markdown_table(table)}

![features](features.png)

Every trial: `features.csv`.
"""
    return report, {"features": df, "summary": table}, {"features": fig}
