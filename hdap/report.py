"""Writing an ``hdap run``: results.json, report.md with seaborn figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator

from hdap.prune import save_pruned
from testbed.figures import new_figure
from testbed.io import atomic_dir, run_record

__all__ = ["write_report", "write_run"]


def _save(fig, out: Path, name: str, names: list[str]) -> None:
    fig.savefig(out / name, dpi=110, bbox_inches="tight")
    names.append(name)


def _figures(r, out: Path) -> list[str]:
    names: list[str] = []
    long = pd.DataFrame({"method": np.repeat(list(r.latency_ms), [len(v) for v in r.latency_ms.values()]),
                         "latency_ms": np.concatenate(list(r.latency_ms.values()))})
    fig, ax = new_figure(figsize=(8, 4))
    sns.boxplot(long, x="latency_ms", y="method", ax=ax, showfliers=False)
    ax.axvline(r.slo_ms, color="firebrick", lw=1, ls="--", label=f"SLO {r.slo_ms:.3g} ms")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))  # beside the boxes: no whisker hidden
    ax.set_title("Exact latency on every device, per method")
    _save(fig, out, "latency_per_method.png", names)

    per = pd.DataFrame({"cluster": r.labels, **{m: r.latency_ms[m] for m in ("unpruned", "hdap", "single_device")}})
    fig, ax = new_figure(figsize=(8, 4))
    sns.boxplot(per.melt("cluster", var_name="method", value_name="latency_ms"), x="cluster", y="latency_ms",
                hue="method", ax=ax, showfliers=False)
    ax.set_title("Exact latency per cluster")
    _save(fig, out, "latency_per_cluster.png", names)

    fig, ax = new_figure(figsize=(8, 4))
    # each search on its own generations: HDAP's rounds are searches of their own, not one long one
    searches = {(f"hdap round {i + 1}" if len(r.rounds) > 1 else "hdap"): rd.history for i, rd in enumerate(r.rounds)}
    searches.update({m: h for m, h in r.search_history.items() if m != "hdap"})
    for m, h in searches.items():
        h = np.asarray(h, dtype=float)
        ax.plot(np.arange(1, len(h) + 1), np.where(h < 1e9, h, np.nan) / h[0], label=m)
    ax.set(xlabel="generation", ylabel="best fitness / its first generation's",
           title="Search convergence (each against its own objective)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    _save(fig, out, "search_convergence.png", names)

    check = pd.DataFrame(r.surrogate_check, columns=["cluster", "predicted_ms", "exact_ms"])
    fig, ax = new_figure(figsize=(5, 5))
    sns.scatterplot(check, x="exact_ms", y="predicted_ms", hue="cluster", ax=ax)
    lo, hi = check[["exact_ms", "predicted_ms"]].min().min(), check[["exact_ms", "predicted_ms"]].max().max()
    ax.plot([lo, hi], [lo, hi], color="grey", lw=1)
    ax.set_title("Surrogates on fresh architectures:\npredicted vs exact cluster mean")
    _save(fig, out, "surrogate_vs_exact.png", names)

    if any(rd.held_out_tuned is not None for rd in r.rounds):
        acc = pd.DataFrame([(i + 1, rd.budget_flops / 1e9, stage, a) for i, rd in enumerate(r.rounds)
                            for stage, a in (("after pruning", rd.held_out_pruned), ("after fine-tuning", rd.held_out_tuned))],
                           columns=["round", "budget_gflops", "stage", "held_out_accuracy"])
        fig, ax = new_figure(figsize=(6, 4))
        sns.lineplot(acc, x="round", y="held_out_accuracy", hue="stage", marker="o", ax=ax)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(title="HDAP rounds: held-out accuracy", ylabel="held-out accuracy (not the test set)")
        _save(fig, out, "accuracy_per_round.png", names)
    return names


def _json_safe(table: pd.DataFrame) -> dict:
    """Rows as plain floats (None for missing), at full precision."""
    return {m: {k: None if v is None or pd.isna(v) else float(v) for k, v in row.items()}
            for m, row in table.to_dict(orient="index").items()}


def write_report(r, out: Path) -> pd.DataFrame:
    """Write results.json, report.md and the figures into ``out`` (a fresh folder the caller
    renames into place)."""
    table = r.summary()
    check = pd.DataFrame(r.surrogate_check, columns=["cluster", "predicted_ms", "exact_ms"])
    exact_mean = float(r.latency_ms["hdap"].mean())
    cfg = r.config.pruning
    results = {"methods": _json_safe(table),
               "profiling_device_seconds": r.profiling_device_seconds,
               "hdap_estimate_ms": r.estimate_ms, "slo_ms": r.slo_ms, "objective": cfg.objective,
               "clusters": {"k": len(r.weights), "weights": r.weights.tolist(),
                            "silhouette": {str(k): v for k, v in r.k_scores.items()},
                            "representatives": cfg.representatives},
               "surrogates": [{"kind": s.kind, "samples": s.samples, "holdout": s.holdout,
                               "profiling_device_seconds": s.profiling_device_seconds} for s in r.surrogates],
               "surrogate_check_mape": float(np.mean(np.abs(check.predicted_ms / check.exact_ms - 1))),
               "rounds": [{"budget_flops": rd.budget_flops, "widths": rd.widths,
                           **({"int8_units": rd.int8_units} if r.zoo.precision else {}), "objective": rd.objective,
                           "held_out_pruned": rd.held_out_pruned, "held_out_tuned": rd.held_out_tuned,
                           "candidates_checked": rd.candidates_checked} for rd in r.rounds],
               "widths": {m: [int(x) for x in w] for m, w in r.widths.items()},
               **({"int8_units": {m: [] if f is None else np.flatnonzero(f).tolist() for m, f in r.int8.items()}}
                  if r.zoo.precision else {}),
               "scenario": r.config.record(), "seed": r.scenario.seed}
    (out / "results.json").write_text(json.dumps(results, indent=2))
    figures = _figures(r, out)
    # accuracy in the results table is on the test set; the rounds table's is on the held-out split
    shown = table.rename(columns={"accuracy": "test_accuracy"}) if table["accuracy"].notna().any() \
        else table.drop(columns="accuracy")
    lines = [f"# HDAP run: {r.scenario.name}", "",
             f"{r.zoo.name} pruned to {cfg.flops_g or r.zoo.flops() / 2e9:.4g} GFLOPs for {len(r.labels):,} "
             f"{r.scenario.fleet.sku} devices ({r.scenario.fleet.framework}) on day {r.scenario.time.deployment_day}, "
             f"objective `{cfg.objective}`. Latencies are exact, on every device; speedup is over the unpruned fleet "
             f"mean; SLO violations are the share of devices slower than {r.slo_ms:.4g} ms.", "",
             shown.to_markdown(floatfmt=".4g"), "",
             f"- Clusters: {len(r.weights)} (weights {', '.join(f'{w:.3f}' for w in r.weights)}; "
             + (f"chosen by silhouette: {', '.join(f'K={k} {v:.3f}' for k, v in r.k_scores.items())}" if r.k_scores
                else "K given") + f"); {cfg.representatives} representatives each.",
             f"- Profiling cost: {r.profiling_device_seconds / 3600:.1f} device-hours (features on every device, "
             f"{cfg.surrogate_samples} sub-networks per cluster).",
             f"- HDAP's own estimate of its fleet mean: {r.estimate_ms:.3f} ms; exact {exact_mean:.3f} ms "
             f"({r.estimate_ms / exact_mean - 1:+.2%}).",
             f"- HDAP vs oracle: {exact_mean / r.latency_ms['oracle'].mean() - 1:+.2%}; vs single-device: "
             f"{exact_mean / r.latency_ms['single_device'].mean() - 1:+.2%}; vs global magnitude: "
             f"{exact_mean / r.latency_ms['global_magnitude'].mean() - 1:+.2%}; vs uniform: "
             f"{exact_mean / r.latency_ms['uniform_l2'].mean() - 1:+.2%} (fleet mean).",
             f"- Surrogates on fresh architectures: MAPE {results['surrogate_check_mape']:.2%} against the exact "
             f"cluster means.", ""]
    for c, s in enumerate(r.surrogates):
        rho = s.holdout[s.kind]["spearman"]
        lines.append(f"- Cluster {c}: {s.kind} surrogate; held-out MAPE tree {s.holdout['tree']['mape']:.2%}, "
                     f"layer {s.holdout['layer']['mape']:.2%}; Spearman {'n/a' if rho is None else f'{rho:.3f}'}.")
    if len(r.rounds) > 1 or r.rounds[0].held_out_tuned is not None:
        lines += ["", "| round | budget GFLOPs | GFLOPs | held-out acc. after pruning | after fine-tuning | candidates checked |",
                  "|---:|---:|---:|---:|---:|---:|"]
        for i, rd in enumerate(r.rounds):
            fmt = (lambda a: "" if a is None else f"{a:.2%}")  # noqa: E731
            lines.append(f"| {i + 1} | {rd.budget_flops / 1e9:.4g} | {r.zoo.flops(rd.widths) / 1e9:.4g} | "
                         f"{fmt(rd.held_out_pruned)} | {fmt(rd.held_out_tuned)} | {rd.candidates_checked} |")
    lines += [""] + [f"![{f}]({f})" for f in figures]
    (out / "report.md").write_text("\n".join(lines) + "\n")
    return table


def write_run(r, out: Path) -> pd.DataFrame:
    """Everything ``hdap run`` leaves: the report (``write_report``), run.json and HDAP's pruned
    model (``NAME_hdap.pt`` and its spec), replacing ``out``'s files all or nothing."""
    with atomic_dir(out) as tmp:
        table = write_report(r, tmp)
        (tmp / "run.json").write_text(run_record(r.config.record(), r.scenario.seed, command="hdap run"))
        save_pruned(r.module, r.zoo, r.widths["hdap"], tmp / f"{r.zoo.name}_hdap.pt", r.int8["hdap"],
                    scenario=r.scenario.name,
                    accuracy=r.accuracy["hdap"], trained=r.config.data is not None)
    return table
