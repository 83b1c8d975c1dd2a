"""``hdap study aging``: how a model pruned on the deployment day fares as the fleet ages.

The scenario is simulated from birth to ``years`` after its deployment day, keeping every
device's state at checkpoints ``every`` days apart. On the deployment day HDAP runs once (the
scenario's K, features and surrogates): its clusters, fleet estimate and pruned widths are then
kept. At each checkpoint, on the aged fleet:

- the exact fleet mean and p95 of the day-0 model (and of the unpruned network);
- the day-0 estimate's error against the exact fleet, for fresh architectures (surrogate drift);
- cluster drift: the share of devices whose re-measured features now fall in another day-0
  cluster, and the adjusted Rand index of a fresh clustering against the day-0 one;
- re-clustering: features, clusters and surrogates measured again (same K): its estimate error
  and profiling cost;
- re-pruning: the same search against the re-clustered estimate; its pick replaces the day-0
  model only if that estimate says it is faster (as an operator would decide, without ground
  truth); the exact latency this gains over keeping the day-0 model.

Checkpoints are independent tasks for the executor.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score
from tqdm import tqdm

from hdap.config import RunConfig
from hdap.study.trial import StudyDay, Trial, TrialSpec, run_trial
from testbed.errors import InputError
from twin.executor import Executor
from twin.simulation import simulate

__all__ = ["aging_study", "aging_report"]

FEATURE_REPEATS = 5


def _errors(mean_ms, p95_ms, day: StudyDay) -> tuple[float, float]:
    exact_mean, exact_p95 = day.test_exact_stats()
    return 100 * float(np.mean(np.abs(mean_ms / exact_mean - 1))), 100 * float(np.mean(np.abs(p95_ms / exact_p95 - 1)))


def checkpoint(item: tuple[int, object, RunConfig], base: Trial) -> dict:
    """Everything measured on checkpoint day ``t`` of the aged fleet ``snapshot``."""
    t, snapshot, config = item
    kind = base.spec.features
    day = StudyDay.measure(config, snapshot, {kind: FEATURE_REPEATS}, config.streams.child("checkpoint", t))
    zoo = day.zoo
    stale_mean, stale_p95 = _errors(base.estimate.statistics(day.test_rates, "weighted_mean"),
                                    base.estimate.statistics(day.test_rates, "p95"), day)
    stale_device = np.mean([np.mean(np.abs(base.estimate.per_device_ms(r) / exact - 1))
                            for r, exact in zip(day.test_rates, day.test_exact_ms)])
    moved = float(np.mean(base.clustering.predict(day.features[kind]) != base.clustering.labels_))
    fresh = run_trial(TrialSpec(base.clustering.n_clusters_, kind, base.spec.streams), day)  # the day-0 streams
    fresh_mean, fresh_p95 = _errors(fresh.estimate_mean_ms, fresh.estimate_p95_ms, day)
    # the operator ships the re-pruned model only if the fresh estimate says it beats the deployed one
    cfg = config.pruning
    deployed, candidate = fresh.estimate.statistics(np.vstack([base.rates, fresh.rates]), cfg.objective, day.slo_ms)
    adopted = bool(candidate < deployed)
    day0_mean, day0_p95 = day.exact_rates(base.rates)
    new_mean, new_p95 = day.exact_rates(fresh.rates if adopted else base.rates)
    return {"day": t, "unpruned_mean_ms": day.exact(zoo.full_widths)[0],
            "day0_model_mean_ms": day0_mean, "day0_model_p95_ms": day0_p95,
            "repruned_mean_ms": new_mean, "repruned_p95_ms": new_p95,
            "repruning_gain_pct": 100 * (day0_mean / new_mean - 1), "repruned_adopted": adopted,
            "stale_mean_error_pct": stale_mean, "stale_p95_error_pct": stale_p95,
            "stale_device_error_pct": 100 * stale_device,
            "reclustered_mean_error_pct": fresh_mean, "reclustered_p95_error_pct": fresh_p95,
            "reclustered_device_error_pct": 100 * fresh.device_mape,
            "moved_cluster_pct": 100 * moved,
            "ari_vs_day0": float(adjusted_rand_score(base.clustering.labels_, fresh.clustering.labels_)),
            "reclustering_device_h": (day.feature_device_s[kind] + fresh.surrogate_device_s) / 3600}


def aging_study(config: RunConfig, years: float | None, every: int, executor: Executor,
                progress: bool = False) -> pd.DataFrame:
    """One row per checkpoint day, the deployment day first."""
    scenario, cfg = config.scenario, config.pruning
    d0 = scenario.time.deployment_day
    days = d0 + round(years * 365) + 1 if years is not None else scenario.time.days
    if years is not None and years <= 0:
        raise InputError(f"--years must be > 0, got {years}")
    if every < 1 or days - d0 <= every:
        raise InputError(f"--every must be between 1 and the {days - d0 - 1} days after deployment, got {every}")
    checkpoints = tuple(range(d0, days, every))
    run = config.with_scenario(scenario.with_overrides(days=days))
    sc = run.scenario
    sim = simulate(sc, executor=executor, snapshot_days=checkpoints, progress=progress)
    day0 = StudyDay.measure(run, sim.snapshots[d0], {cfg.features: FEATURE_REPEATS}, run.streams)
    base = run_trial(TrialSpec(cfg.clusters, cfg.features, run.streams.child("trial")), day0)
    rows = []
    items = [(t, sim.snapshots.pop(t), run) for t in checkpoints]
    for row in tqdm(executor.map(checkpoint, items, executor.share(base)), total=len(items), desc="aging study",
                    unit="checkpoint", disable=not progress):
        rows.append(row)
    df = pd.DataFrame(rows)
    df.insert(1, "years", (df["day"] - d0) / 365)
    df.insert(2, "date", [sc.time.start + dt.timedelta(days=int(d)) for d in df["day"]])
    df.insert(3, "clusters", base.clustering.n_clusters_)
    return df


def aging_report(df: pd.DataFrame, config: RunConfig, where: str, wall_s: float):
    import seaborn as sns

    from hdap.study.report import markdown_table
    from testbed.figures import new_figure

    lat = df.melt("years", ["day0_model_mean_ms", "day0_model_p95_ms", "repruned_mean_ms", "repruned_p95_ms"],
                  "model", "latency_ms")
    lat["statistic"] = np.where(lat["model"].str.contains("p95"), "p95", "mean")
    lat["model"] = np.where(lat["model"].str.startswith("day0"), "pruned on day 0", "re-pruned on the day")
    fig1, ax = new_figure(figsize=(7, 4.2))
    sns.lineplot(lat, x="years", y="latency_ms", hue="model", style="statistic", marker="o", ax=ax)
    ax.set(xlabel="years after deployment", ylabel="exact fleet latency (ms)",
           title="The pruned model as the fleet ages")
    err = df.melt("years", ["stale_device_error_pct", "reclustered_device_error_pct", "stale_p95_error_pct",
                            "reclustered_p95_error_pct"], "estimate", "error_pct")
    err["statistic"] = np.where(err["estimate"].str.contains("p95"), "fleet p95", "per device")
    err["estimate"] = np.where(err["estimate"].str.startswith("stale"), "day-0 clusters", "re-clustered")
    fig2, (a1, a2) = new_figure(nrows=1, ncols=2, figsize=(11, 4.2))
    sns.lineplot(err, x="years", y="error_pct", hue="estimate", style="statistic", marker="o", ax=a1)
    a1.set(xlabel="years after deployment", ylabel="estimate error (%, vs exact)", title="Surrogate error")
    sns.lineplot(df, x="years", y="moved_cluster_pct", marker="o", ax=a2)
    a2.set(xlabel="years after deployment", ylabel="devices in another day-0 cluster (%)", title="Cluster drift")
    scenario, cfg = config.scenario, config.pruning
    shown = df.drop(columns=["date", "clusters"])
    report = f"""# Aging study: {scenario.name}

`hdap study aging` on `{scenario.name}` ({scenario.fleet.devices:,} x {scenario.fleet.sku},
{scenario.deployment.workload}, objective `{cfg.objective}`, features `{cfg.features}`, K
{df['clusters'].iloc[0]} chosen on day {df['day'].iloc[0]}). Checkpoints every {int(df['day'].diff().iloc[1])} days
up to day {df['day'].iloc[-1]}. Ran on {where} in {wall_s:.0f} s.

HDAP prunes once on the deployment day. At each checkpoint, on the aged fleet: the exact mean
and p95 of that model; the day-0 estimate's error on fresh architectures (`stale_*`); the share
of devices whose re-measured features now fall in another day-0 cluster and the adjusted Rand
index of a fresh clustering against day 0; re-clustering (features, clusters and surrogates
measured again, same K: `reclustered_*`, at the profiling cost `reclustering_device_h`); and
re-pruning: the same search (same random streams) against the re-clustered estimate, shipped only if that
estimate says it beats the deployed day-0 model (`repruned_adopted`); `repruned_*` is what the
fleet then runs and `repruning_gain_pct` how much faster that is than keeping the day-0 model,
exact, over every device. Effects under about 1 % are within the search's own spread.

{markdown_table(shown)}

![latency](latency.png)

![drift](drift.png)

Every checkpoint: `aging.csv`.
"""
    return report, {"aging": df}, {"latency": fig1, "drift": fig2}
