"""Predicted against measured latency, row by row (``hdap validate``): is the twin right here?

Every row of a measurement CSV for the SKU is predicted on one nominal device in the row's power
mode, framework and background load, exactly as ``twin predict`` would. Rows whose network the SKU
was calibrated on (its ``calibration.networks``) are told apart from held-out ones: the held-out
error is the one that says whether the twin can be trusted for a network it has not seen.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns

from testbed.figures import new_figure
from twin.calibration.calibrate import prediction_table, resolve_rows, select_rows
from twin.calibration.measurement_csv import read_measurements
from twin.sku import SKU

__all__ = ["validation_table", "summarise", "write_validation"]


def validation_table(path: str | Path, sku: SKU) -> pd.DataFrame:
    """One line per row of ``path`` for ``sku``: configuration, network, measured, predicted, error."""
    path = Path(path)
    rows = resolve_rows(select_rows(read_measurements(path), sku.name, str(path)), sku, path.parent, str(path))
    seen = set(sku.calibration.networks) if sku.calibration else set()
    df = prediction_table(rows, sku)
    df.insert(7, "gflops", [r.workload.dense_flops / 1e9 for r in rows])
    df.insert(8, "set", ["calibration" if r.arch_hash in seen else "held out" for r in rows])
    df["configuration"] = df["mode"] + np.where(df["background_cores"] > 0,
                                                " + " + df["background_cores"].map("{:g}".format) + " bg", "")
    return df


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    """MAPE and worst error per set and configuration, and over all rows."""
    def stats(g):
        e = g["error_pct"].abs()
        return pd.Series({"rows": len(g), "mape_pct": e.mean(), "max_abs_error_pct": e.max(),
                          "mean_error_pct": g["error_pct"].mean()})
    parts = [df.groupby(["set", "configuration"]).apply(stats, include_groups=False).reset_index(),
             df.groupby("set").apply(stats, include_groups=False).reset_index().assign(configuration="all"),
             stats(df).to_frame().T.assign(set="all", configuration="all")]
    out = pd.concat(parts, ignore_index=True)[["set", "configuration", "rows", "mape_pct", "max_abs_error_pct",
                                              "mean_error_pct"]]
    out["rows"] = out["rows"].astype(int)
    return out


def _figure(df: pd.DataFrame, out: Path) -> None:
    fig, ax = new_figure(figsize=(6.4, 5.2))
    sns.scatterplot(df, x="measured_ms", y="predicted_ms", hue="configuration", style="set", ax=ax, s=45)
    lo, hi = df[["measured_ms", "predicted_ms"]].min().min() * 0.8, df[["measured_ms", "predicted_ms"]].max().max() * 1.25
    line = np.array([lo, hi])
    ax.plot(line, line, color="black", lw=1)
    ax.fill_between(line, line * 0.9, line * 1.1, color="grey", alpha=0.15, label="±10 %")
    ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi), xlabel="measured (ms)", ylabel="twin (ms)",
           title="batch-1 latency: twin prediction against measurement")
    ax.legend(fontsize=7)
    fig.savefig(out / "predicted_vs_measured.png", dpi=110, bbox_inches="tight")


def write_validation(df: pd.DataFrame, sku: SKU, source: str, out: Path) -> pd.DataFrame:
    """report.md, validation.csv, summary.csv and the scatter figure into ``out`` (a temp dir)."""
    summary = summarise(df)
    df.to_csv(out / "validation.csv", index=False, float_format="%.4f")
    summary.to_csv(out / "summary.csv", index=False, float_format="%.3f")
    _figure(df, out)
    cal = sku.calibration
    lines = [f"# Validation of {sku.name} against {source}", "",
             f"{len(df)} rows; predicted by the twin on one nominal device in each row's power mode, framework and "
             f"background load (`twin predict`). "
             + (f"The SKU was calibrated on {cal.rows} rows of {cal.measurements} ({len(cal.networks)} networks); rows of "
                f"those networks are `calibration`, the rest `held out`." if cal else
                "The SKU carries no calibration record: every row is `held out`."), "",
             "## Summary", "", summary.to_markdown(index=False, floatfmt=".2f"), "",
             "![predicted vs measured](predicted_vs_measured.png)", "", "## Every row", "",
             df.drop(columns=["configuration"]).to_markdown(index=False, floatfmt=".3f"), ""]
    (out / "report.md").write_text("\n".join(lines))
    return summary
