"""Writing a study's folder: report.md, its CSV tables, seaborn figures and a run record, all or nothing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from testbed.io import atomic_dir, run_record

__all__ = ["write_study", "markdown_table", "k_axis"]


def markdown_table(df: pd.DataFrame, digits: int = 3) -> str:
    """Counts with thousands separators, measurements to ``digits`` significant digits."""
    fmt = [",.0f" if pd.api.types.is_integer_dtype(t) else f".{digits}g" for t in df.dtypes]
    return df.to_markdown(index=False, floatfmt=fmt)


def k_axis(ax, ks) -> None:
    """K on a log axis, labelled at the values used."""
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(ks), labels=[str(k) for k in sorted(ks)])
    ax.minorticks_off()


def write_study(out: Path, record: dict, seed: int, command: str, report: str, tables: dict[str, pd.DataFrame],
                figures: dict[str, object], **extra) -> None:
    """``out``/report.md, one CSV per table, one PNG per figure and run.json, replacing what was there."""
    with atomic_dir(out) as tmp:
        for name, df in tables.items():
            df.to_csv(tmp / f"{name}.csv", index=False, float_format="%.6g")
        for name, fig in figures.items():
            fig.savefig(tmp / f"{name}.png", dpi=110, bbox_inches="tight")
        (tmp / "report.md").write_text(report)
        (tmp / "run.json").write_text(run_record(record, seed, command=command, **extra))
