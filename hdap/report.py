"""Writing an ``hdap run``: results.json, report.md with seaborn figures, the pruned model."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from hdap.pipeline import RunResult  # noqa: E402

__all__ = ["results_table", "write_report"]


def results_table(r: RunResult) -> pd.DataFrame:
    rows = []
    for m, lat in r.latency_ms.items():
        p50, p95, p99 = np.percentile(lat, [50, 95, 99])
        rows.append({"method": m, "fleet_mean_ms": float(lat.mean()), "p50_ms": float(p50), "p95_ms": float(p95),
                     "p99_ms": float(p99), "flops": r.zoo.flops(r.widths[m]), "params": r.zoo.params(r.widths[m]),
                     "accuracy": None})
    return pd.DataFrame(rows).set_index("method")


def _figures(r: RunResult, out: Path) -> list[str]:
    sns.set_theme(style="whitegrid")
    names = []
    long = pd.DataFrame([(m, v) for m, lat in r.latency_ms.items() for v in lat], columns=["method", "latency_ms"])
    fig, ax = plt.subplots(figsize=(8, 4))
    sns.boxplot(long, x="latency_ms", y="method", ax=ax, showfliers=False)
    ax.set_title("Exact latency on every device, per method")
    names.append("latency_per_method.png")
    fig.savefig(out / names[-1], dpi=110, bbox_inches="tight")
    plt.close(fig)
    per = pd.DataFrame({"cluster": r.labels, "hdap_ms": r.latency_ms["hdap"], "unpruned_ms": r.latency_ms["unpruned"]})
    fig, ax = plt.subplots(figsize=(8, 4))
    sns.boxplot(per.melt("cluster", var_name="model", value_name="latency_ms"), x="cluster", y="latency_ms",
                hue="model", ax=ax, showfliers=False)
    ax.set_title("Latency per cluster")
    names.append("latency_per_cluster.png")
    fig.savefig(out / names[-1], dpi=110, bbox_inches="tight")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(8, 4))
    for m, h in r.search_history.items():
        ax.plot(h, label=m)
    ax.set(xlabel="generation", ylabel="best fitness (ms)", title="Search convergence")
    ax.legend()
    names.append("search_convergence.png")
    fig.savefig(out / names[-1], dpi=110, bbox_inches="tight")
    plt.close(fig)
    check = pd.DataFrame(r.surrogate_check, columns=["cluster", "predicted_ms", "exact_ms"])
    fig, ax = plt.subplots(figsize=(5, 5))
    sns.scatterplot(check, x="exact_ms", y="predicted_ms", hue="cluster", ax=ax)
    lo, hi = check[["exact_ms", "predicted_ms"]].min().min(), check[["exact_ms", "predicted_ms"]].max().max()
    ax.plot([lo, hi], [lo, hi], color="grey", lw=1)
    ax.set_title("Surrogates: predicted vs exact cluster mean")
    names.append("surrogate_vs_exact.png")
    fig.savefig(out / names[-1], dpi=110, bbox_inches="tight")
    plt.close(fig)
    return names


def write_report(r: RunResult, out: Path) -> pd.DataFrame:
    """Write every output into ``out`` (a fresh folder the caller renames into place)."""
    table = results_table(r)
    check = pd.DataFrame(r.surrogate_check, columns=["cluster", "predicted_ms", "exact_ms"])
    results = {"methods": json.loads(table.to_json(orient="index")),
               "profiling_device_seconds": r.profiling_device_seconds,
               "hdap_estimate_ms": r.estimate_ms,
               "clusters": {"k": len(r.weights), "weights": r.weights.tolist(), "silhouette": r.k_scores},
               "surrogates": [{"kind": s.kind, "holdout": s.holdout, "profiling_device_seconds": s.profiling_device_seconds}
                              for s in r.surrogates],
               "widths": {m: [int(x) for x in w] for m, w in r.widths.items()},
               "scenario": r.scenario.model_dump(mode="json"), "seed": r.scenario.seed}
    (out / "results.json").write_text(json.dumps(results, indent=2))
    figures = _figures(r, out)
    exact_mean = r.latency_ms["hdap"].mean()
    lines = [f"# HDAP run: {r.scenario.name}", "",
             f"{r.zoo.name} pruned for {len(r.labels):,} {r.scenario.fleet.sku} devices ({r.scenario.fleet.framework}) "
             f"on day {r.scenario.time.deployment_day}. Every figure below is the exact latency of each device.", "",
             table.drop(columns="accuracy").to_markdown(floatfmt=".4g"), "",
             f"- Clusters: {len(r.weights)} (weights {', '.join(f'{w:.3f}' for w in r.weights)}); profiling cost "
             f"{r.profiling_device_seconds / 3600:.1f} device-hours.",
             f"- HDAP's own estimate of its fleet mean: {r.estimate_ms:.3f} ms; exact {exact_mean:.3f} ms "
             f"({r.estimate_ms / exact_mean - 1:+.2%}).",
             f"- Surrogates on fresh architectures: MAPE {np.mean(np.abs(check.predicted_ms / check.exact_ms - 1)):.2%} "
             f"against the exact cluster means.", ""]
    for c, s in enumerate(r.surrogates):
        lines.append(f"- Cluster {c}: {s.kind} surrogate; held-out MAPE tree {s.holdout['tree']['mape']:.2%}, "
                     f"layer {s.holdout['layer']['mape']:.2%}; Spearman {s.holdout[s.kind]['spearman']:.3f}.")
    lines += [""] + [f"![{f}]({f})" for f in figures]
    (out / "report.md").write_text("\n".join(lines) + "\n")
    return table
