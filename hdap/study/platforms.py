"""``hdap study platforms``: mobile GPU or FPGA? Energy per inference of compressed networks.

After Yuan et al., "Mobile or FPGA? A comprehensive evaluation on energy efficiency and a unified
optimization framework" (ACM TECS 2022). Per model, a float network is trained on real data
(scikit-learn's digits); each compression scheme (``hdap.compression``) is applied to it and
fine-tuned, and its test accuracy measured. Each (scheme, platform) cell then prices that network
on the platform with the twin: the precision it really runs in (``twin.compressed``), the MACs its
kernels skip, latency (``twin.latency``) and energy (``twin.energy``), and the exact storage of its
weights. Sparse schemes are priced twice where it matters: with the platform's own kernels
("stock": TensorRT and the DPU compute pruned weights as zeros, except 2:4 on Ampere's sparse
tensor cores) and with block-sparse kernels a compiler provides ("compiler", efficiencies assumed
and stated).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hdap.compression import STORAGE_FORMATS, Scheme, compress, layer_compression, uncompressed
from hdap.data import digits
from hdap.prune import prune_to_widths, widths_for_flops
from hdap.study.report import markdown_table
from hdap.train import evaluate, train
from testbed.errors import InputError
from twin.compressed import platform_workload
from twin.energy import inference_energy
from twin.sku import load_sku
from zoo import get_model, model_names
from zoo.trace import trace_workload

__all__ = ["PlatformConfig", "PLATFORMS", "platform_study", "platform_report", "COLUMNS"]

PLATFORMS = ("jetson-xavier-nx", "jetson-orin-nx", "kria-k26-dpu", "zcu102-dpu", "zcu104-dpu")
COLUMNS = ("model", "platform", "kind", "framework", "scheme", "bits", "structure", "density", "kernels", "runs_as",
           "accuracy", "latency_ms", "energy_mj", "inferences_per_j", "storage_bytes", "storage_format",
           "dense_int8_bytes")
# block-sparse kernels a compiler provides (ASSUMED, no measurement at hand): the share of pruned
# blocks' MACs they skip. GRIM (Niu et al. 2021) reports up to 14x over dense mobile frameworks on
# its own kernels, which also fuse and tune; an FPGA engine that skips pruned block columns loses
# only scheduling slack.
COMPILER_BLOCK_EFFICIENCY = {"gpu": 0.5, "fpga": 0.9}


@dataclass(frozen=True)
class PlatformConfig:
    models: tuple[str, ...] = ("resnet20", "vgg16_cifar")
    platforms: tuple[str, ...] = PLATFORMS
    schemes: tuple[Scheme, ...] = ()
    seed: int = 0
    train_epochs: int = 15
    finetune_epochs: int = 3
    lr: float = 0.1
    finetune_lr: float = 0.02
    input_size: int = 224     # latency and energy at this input (the size the platform figures were fitted at)

    def check(self) -> None:
        """Refuse bad names before any training: one message naming the option and what is allowed."""
        for m in self.models:
            _zoo(m)
        for p in self.platforms:
            try:
                sku = load_sku(p)
            except InputError as exc:
                raise InputError(f"--platforms: {exc}") from None
            _framework(sku)

    def record(self) -> dict:
        return {"models": list(self.models), "platforms": list(self.platforms),
                "schemes": [s.name for s in self.schemes], "train_epochs": self.train_epochs,
                "finetune_epochs": self.finetune_epochs, "input_size": self.input_size}


def _zoo(spec: str):
    """A zoo model from ``NAME`` or ``NAME@SIZE``."""
    name, _, size = spec.partition("@")
    if name not in model_names():
        raise InputError(f"--models: unknown model {name!r}; the zoo has: {', '.join(model_names())}")
    if size and not (size.isdigit() and int(size) >= 8):
        raise InputError(f"--models: {spec!r}: the size after @ must be an integer >= 8")
    return get_model(name, int(size) if size else None)


def _framework(sku) -> tuple[str, str]:
    """(framework, kind) the study deploys with on ``sku``."""
    for fw, kind in (("vitis-ai", "fpga"), ("tensorrt", "gpu")):
        if fw in sku.frameworks:
            return fw, kind
    raise InputError(f"--platforms: {sku.name} runs neither TensorRT nor Vitis AI; the study compares those "
                     f"(e.g. {', '.join(PLATFORMS)})")


def _networks(name: str, cfg: PlatformConfig, progress: bool):
    """The trained float network and, per scheme, the compressed, fine-tuned one with its accuracy."""
    zoo = _zoo(name)
    fit, test = digits(size=zoo.input_size, seed=cfg.seed)
    base = zoo.module(seed=cfg.seed)
    train(base, fit, cfg.train_epochs, cfg.lr, seed=cfg.seed, progress=progress, desc=f"train {name}")
    out = {}
    for scheme in cfg.schemes:
        net = base
        if scheme.structure == "channel":
            net = prune_to_widths(base, zoo, widths_for_flops(zoo, scheme.density * zoo.flops()))
        net = compress(net, scheme)
        if scheme.bits < 16 or scheme.pruned:
            train(net, fit, cfg.finetune_epochs, cfg.finetune_lr, seed=cfg.seed, progress=progress,
                  desc=f"fine-tune {name} {scheme.name}")
        out[scheme.name] = (net, evaluate(net, test))
    return zoo, out


def platform_study(cfg: PlatformConfig, progress: bool = False) -> pd.DataFrame:
    """One row per (model, platform, scheme, kernels) that the platform can run."""
    skus = [load_sku(p) for p in cfg.platforms]
    kinds = [_framework(s) for s in skus]
    rows = []
    for name in cfg.models:
        zoo, nets = _networks(name, cfg, progress)
        for scheme in cfg.schemes:
            net, acc = nets[scheme.name]
            layers, storage = layer_compression(net, scheme)
            table = trace_workload(uncompressed(net), (3, cfg.input_size, cfg.input_size))
            dense8 = sum(v["dense"] / layers[n].bits for n, v in storage.items())  # one byte per weight
            best = {f: sum(v.get(f, v["dense"]) for v in storage.values()) / 8 for f in STORAGE_FORMATS}
            fmt = min(best, key=best.get)
            for sku, (fw, kind) in zip(skus, kinds):
                variants = {"stock": sku}
                if scheme.structure == "block":
                    variants["compiler"] = sku.with_sparse_kernels(fw, {"block": COMPILER_BLOCK_EFFICIENCY[kind]})
                for kernels, runs_on in variants.items():
                    try:
                        wl = platform_workload(table, layers, runs_on, fw)
                    except InputError:
                        continue  # e.g. a float network on a DPU: it runs only quantized ones
                    e = inference_energy(wl, runs_on, fw)
                    runs = sorted({p for p in _row_precisions(wl)})
                    rows.append(dict(
                        model=name, platform=sku.name, kind=kind, framework=fw, scheme=scheme.name, bits=scheme.bits,
                        structure=scheme.structure, density=scheme.density, kernels=kernels, runs_as="+".join(runs),
                        accuracy=acc, latency_ms=e.latency_ms, energy_mj=e.total_mj, inferences_per_j=1e3 / e.total_mj,
                        storage_bytes=best[fmt], storage_format=fmt, dense_int8_bytes=dense8))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _row_precisions(wl) -> list[str]:
    from zoo.workload import LAYER_KINDS, PRECISIONS

    weighted = np.isin(wl.kind, [LAYER_KINDS.index(k) for k in ("conv", "dwconv", "linear")])
    return [PRECISIONS[c] for c in np.unique(wl.precision[weighted])]


def _best(df: pd.DataFrame, kind: str, schemes: list[str], kernels: str = "stock") -> pd.Series:
    """Per model, the lowest energy over ``kind``'s platforms and ``schemes``."""
    sel = df[(df.kind == kind) & df.scheme.isin(schemes) & (df.kernels == kernels)]
    return sel.groupby("model").energy_mj.min()


def _findings(df: pd.DataFrame) -> list[str]:
    """Each published finding of Yuan et al. against this table: agrees, or not, and the figures."""
    out, have = [], set(df.scheme)
    base = [s for s in ("float", "int8") if s in have]
    if base:
        gpu, fpga = _best(df, "gpu", base), _best(df, "fpga", ["int8"])
        both = gpu.index.intersection(fpga.index)
        wins = [m for m in both if gpu[m] < fpga[m]]
        out.append(f"1. *At baseline, mobile GPUs are generally more energy-efficient than FPGA designs.* "
                   f"{'Agrees' if len(wins) == len(both) else 'Partly' if wins else 'Does not agree'}: the best GPU "
                   f"({'/'.join(base)}) spends " + "; ".join(f"{m} {gpu[m]:.3g} mJ against the best FPGA's (int8) "
                                                             f"{fpga[m]:.3g} mJ" for m in both) + ".")
    low = [s for s in ("binary", "ternary") if s in have]
    if low and base:
        gpu, gpu_any, fpga = _best(df, "gpu", base), _best(df, "gpu", sorted(have)), _best(df, "fpga", low)
        acc = df[df.scheme.isin(low + base)].groupby(["model", "scheme"]).accuracy.first()
        both = gpu.index.intersection(fpga.index)
        wins = [m for m in both if fpga[m] < gpu[m]]
        drops = "; ".join(f"{m} {s} {100 * (acc[(m, base[0])] - acc[(m, s)]):.1f}" for m in both for s in low)
        out.append(f"2. *FPGAs can win with binary or ternary quantization, at a significant accuracy cost.* "
                   f"{'Agrees' if len(wins) == len(both) else 'Partly' if wins else 'Does not agree'}: the best FPGA "
                   f"with {'/'.join(low)} spends " + "; ".join(
                       f"{m} {fpga[m]:.3g} mJ against the best GPU baseline's {gpu[m]:.3g} mJ (and the best GPU "
                       f"compression's {gpu_any[m]:.3g})" for m in both)
                   + f". Accuracy points lost against {base[0]}: {drops}.")
    q = [s for s in ("int4", "ternary", "binary") if s in have]
    if q and "int8" in have:
        ratio = {}
        for kind in ("gpu", "fpga"):
            e8, eq = _best(df, kind, ["int8"]), _best(df, kind, q)
            ratio[kind] = (eq / e8).dropna()
        both = ratio["gpu"].index.intersection(ratio["fpga"].index)
        agree = all(ratio["fpga"][m] < ratio["gpu"][m] for m in both)
        out.append(f"3. *Quantization suits FPGAs more than mobile GPUs.* {'Agrees' if agree else 'Does not agree'}: "
                   f"going below 8 bits ({'/'.join(q)}) leaves the best energy at "
                   + "; ".join(f"{m} {100 * ratio['fpga'][m]:.0f} % of int8's on FPGA, {100 * ratio['gpu'][m]:.0f} % "
                               f"on GPU" for m in both)
                   + " (a GPU without sub-8-bit kernels runs them as int8).")
    if "block-int8" in have and "int8" in have:
        lines = []
        for kind in ("gpu", "fpga"):
            d = df[df.kind == kind]
            e8 = d[d.scheme == "int8"].groupby(["model", "platform"]).latency_ms.first()
            for kernels in ("stock", "compiler"):
                b = d[(d.scheme == "block-int8") & (d.kernels == kernels)].groupby(["model", "platform"]).latency_ms.first()
                speed = (e8 / b).dropna()
                if len(speed):
                    lines.append(f"{kind} {kernels} kernels {speed.min():.2f}-{speed.max():.2f}x")
        st = df[df.scheme.isin(["int8", "block-int8"])].groupby(["model", "scheme"]).storage_bytes.first().unstack()
        accel = all(float(x.split()[-1].split("-")[0]) > 1 for x in lines if "compiler" in x) \
            and all(st["block-int8"] < st["int8"])
        out.append(f"4. *Block-based pruning, with compiler support, reduces weight storage and accelerates both.* "
                   f"{'Agrees' if accel else 'Does not agree'}: storage "
                   + "; ".join(f"{m} {st.loc[m, 'block-int8'] / 1024:.0f} KiB against int8's {st.loc[m, 'int8'] / 1024:.0f}"
                               for m in st.index)
                   + "; latency speed-up over int8: " + ", ".join(lines)
                   + " (the compiler kernels' efficiencies are ASSUMED). Without such kernels (TensorRT, the stock "
                   "DPU) pruned blocks are computed as zeros: storage falls, latency does not.")
    return out


def platform_report(df: pd.DataFrame, cfg: PlatformConfig, wall_s: float):
    """(report.md text, tables, figures)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    acc = df.groupby(["model", "scheme"], sort=False).accuracy.first().unstack("model")
    stock = df[df.kernels == "stock"]
    energy = stock.pivot_table(index=["model", "scheme"], columns="platform", values="energy_mj", sort=False)
    latency = stock.pivot_table(index=["model", "scheme"], columns="platform", values="latency_ms", sort=False)
    storage = df.groupby(["model", "scheme"], sort=False)[["storage_bytes", "storage_format", "dense_int8_bytes"]].first()
    fig, axes = plt.subplots(1, len(cfg.platforms), figsize=(4 * len(cfg.platforms), 3.6), sharey=True, squeeze=False)
    for ax, platform in zip(axes[0], cfg.platforms):
        d = df[df.platform == platform]
        sns.scatterplot(data=d, x="energy_mj", y="accuracy", hue="scheme", style="model", ax=ax, legend=ax is axes[0][-1])
        ax.set(title=platform, xscale="log", xlabel="energy per inference (mJ)", ylabel="test accuracy (digits)")
    if axes[0][-1].get_legend():
        sns.move_legend(axes[0][-1], "upper left", bbox_to_anchor=(1, 1), fontsize=7)
    fig.tight_layout()
    text = "\n".join([
        "# Mobile GPU or FPGA? Energy per inference of compressed networks", "",
        f"Models {', '.join(cfg.models)} trained {cfg.train_epochs} epochs on scikit-learn's digits (seed {cfg.seed}); "
        f"each scheme fine-tuned {cfg.finetune_epochs} epochs. Accuracy is on the digits test split at the models' own "
        f"input size; latency and energy are the twin's for the same networks at {cfg.input_size} x {cfg.input_size} "
        f"(the size the platform figures were fitted at). {len(df)} cells in {wall_s:.0f} s.", "",
        "## Published findings against these numbers", "", *_findings(df), "",
        "## Test accuracy", "", markdown_table(acc.reset_index()), "",
        "## Energy per inference (mJ, platforms' own kernels)", "", markdown_table(energy.reset_index()), "",
        "## Latency (ms, platforms' own kernels)", "", markdown_table(latency.reset_index()), "",
        "## Weight storage (bytes, best exact format)", "", markdown_table(storage.reset_index()), "",
        "## How the cells are priced", "",
        "- A layer trained at b bits runs at the narrowest precision the platform has that holds b: the Jetsons run "
        "4, 2 and 1-bit layers as int8 (Orin's Ampere tensor cores have int4 MMA, but TensorRT has no int4 "
        "convolution); the DPUs run int4 on packed DSPs (up to 1.8x int8, WP521) and binary on LUT engines "
        "(FINN-R's LUT cost); a float network runs fp16 on the Jetsons and not at all on a DPU.",
        "- Sparse weights are computed as zeros unless the kernels support the structure: 2:4 on Orin's sparse "
        "tensor cores (2x math); block sparsity with a compiler's kernels (the `compiler` rows: "
        f"{COMPILER_BLOCK_EFFICIENCY['gpu']:.0%} of pruned MACs skipped on a GPU, "
        f"{COMPILER_BLOCK_EFFICIENCY['fpga']:.0%} on an FPGA, both ASSUMED).",
        "- Energy: static power over the latency plus per-event energy (Horowitz 2014 at 45 nm, scaled to each "
        "process node, times an on-chip factor fitted to one power figure per SKU: the Xavier NX MLPerf row via its "
        "calibrated power model, the Kria K26 SOM's measured 4.3-4.8 W; the ZCU102/ZCU104 power models are ASSUMED).",
    ]) + "\n"
    return text, {"platforms": df, "accuracy": acc.reset_index()}, {"energy_vs_accuracy": fig}


def run_platforms(cfg: PlatformConfig, progress: bool = False) -> tuple[pd.DataFrame, float]:
    t0 = time.perf_counter()
    df = platform_study(cfg, progress)
    return df, time.perf_counter() - t0
