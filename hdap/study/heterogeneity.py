"""``hdap study heterogeneity``: when does compressing for the fleet beat compressing for one device?

Each mechanism that can change a device's *shape* (the relative cost of its layers), not only its
speed, is switched on alone, at a range of magnitudes, on the scenario's fleet with all four
switched off (manufacturing, aging and climate stay as the scenario has them: they scale speed):

- ``modes``: the share of the fleet in a second power mode (the scenario's most common other mode,
  else the SKU's lowest-power one), the rest in its usual mode; no switching;
- ``software``: a release whose kernels of one layer kind run ``magnitude`` times as fast, on half
  the fleet from day 0 (the kind: the scenario's own release's, else depthwise convs where the
  network has them, else convs);
- ``engines``: per-device engine builds, each layer shape's kernel a lognormal draw of sd ``magnitude``;
- ``background``: apps keeping ``magnitude`` CPU cores busy, on about half the fleet in steady
  state (arrivals ln 2 x 365 / 30 a year, 30-day stays).

For every (mechanism, magnitude, seed) the variant is simulated to its deployment day, and per
search space four picks are made at the same FLOPs budget, with the same search and accuracy floor:
``oracle`` (exact latency of a sample of the fleet), ``hdap`` (clusters, profiled
representatives, surrogates), ``single_device`` (the baseline: a surrogate of one nominal
device, as ``hdap run``'s) and ``nominal`` (exact latency of the nominal device: the optimum the
theory speaks of). Each pick's exact fleet mean over every device is compared; the oracle, which
knows every device, ends with the fastest of its own pick and the others' (one NCS run lands
0.5-2 % from another, more with int8 genes, the size of the effects measured here:
``benchmarks/search_spread.py``). The theory
(``twin.shape``) predicts the nominal optimum's loss from unit-cost ratios measured on the fleet.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm import tqdm

from hdap.baselines import BaselineInputs, single_device
from hdap.config import SEARCH_SPACES, PruningSpec, RunConfig
from hdap.fleet import TwinGroundTruth
from hdap.method import exact_statistics, search
from hdap.prune import widths_for_flops
from hdap.study.trial import StudyDay, TrialSpec, run_oracle, run_trial, study_fleet_seed
from testbed.errors import InputError
from testbed.streams import Streams
from twin.config_drift import BackgroundLoad, FirmwareRelease, PowerModeDrift
from twin.engines import EngineVariation
from twin.scenario import Scenario
from twin.shape import shape_report
from twin.simulation import simulate
from zoo import LAYER_KINDS

__all__ = ["MECHANISMS", "DEFAULT_MAGNITUDES", "ORACLE_SAMPLE", "Mechanism", "heterogeneity_study",
           "heterogeneity_report", "parse_magnitudes"]

MECHANISMS = ("modes", "software", "engines", "background")
# none, the sourced or assumed value, and beyond (see the module docstring for each one's unit)
DEFAULT_MAGNITUDES = {"modes": (0.0, 0.15, 0.3, 0.5), "software": (1.0, 1.3, 1.6, 2.5),
                      "engines": (0.0, 0.05, 0.1, 0.2), "background": (0.0, 0.5, 1.0, 2.0)}
NEUTRAL = {"modes": 0.0, "software": 1.0, "engines": 0.0, "background": 0.0}
ORACLE_SAMPLE = 2_000    # devices in the oracle's exact objective unless pruning.oracle_devices says otherwise
BACKGROUND_STAY_DAYS = 30.0


def parse_magnitudes(specs: list[str] | None) -> dict[str, tuple[float, ...]]:
    """``["engines=0,0.1", ...]`` -> {mechanism: magnitudes}, the defaults for the others."""
    out = dict(DEFAULT_MAGNITUDES)
    for spec in specs or []:
        name, _, values = spec.partition("=")
        if name not in MECHANISMS or not values:
            raise InputError(f"--magnitudes: {spec!r} is not MECHANISM=V1,V2,...; mechanisms: {', '.join(MECHANISMS)}")
        try:
            mags = tuple(float(v) for v in values.split(","))
        except ValueError:
            raise InputError(f"--magnitudes: {spec!r}: magnitudes must be numbers") from None
        low = 1.0 if name == "software" else 0.0
        if any(not np.isfinite(m) or m < low or (name == "modes" and m > 1) for m in mags) or \
                any(name == "software" and m == 0 for m in mags):
            allowed = {"modes": "shares in [0, 1]", "software": "speed factors >= 1 (> 0)",
                       "engines": "kernel sd >= 0", "background": "cores >= 0"}[name]
            raise InputError(f"--magnitudes: {spec!r}: allowed: {allowed}")
        out[name] = mags
    return out


@dataclass(frozen=True)
class Mechanism:
    """One shape mechanism of the study, applied to a scenario with all four switched off."""

    name: str
    kind: str      # software: the layer kind the release changes
    mode: str      # modes: the second power mode

    @property
    def label(self) -> str:
        """What the magnitude acts on, for the table: the layer kind or the mode."""
        return {"software": self.kind, "modes": self.mode}.get(self.name, "")

    @staticmethod
    def of(name: str, scenario: Scenario, config: RunConfig) -> "Mechanism":
        sku = scenario.sku_model()
        others = {m: s for m, s in scenario.drift.power_modes.initial.items() if m != sku.usual_mode}
        mode = max(others, key=others.get) if others else min(
            (m for m in sku.mode_names if m != sku.usual_mode), key=lambda m: sku.mode_power_w(m)[1], default="")
        speeds = [r.kernel_speed for r in scenario.drift.firmware if isinstance(r.kernel_speed, dict)]
        has_dw = LAYER_KINDS.index("dwconv") in config.zoo.workload().kind
        kind = next(iter(speeds[0])) if speeds else "dwconv" if has_dw else "conv"
        return Mechanism(name, kind, mode)

    def apply(self, scenario: Scenario, magnitude: float) -> Scenario:
        modes, firmware = PowerModeDrift(switch_rate_per_year=0), []
        background = BackgroundLoad(arrival_rate_per_year=0)
        engines = EngineVariation(kernel_sd=0.0, builds=scenario.deployment.engines.builds)
        if self.name == "modes" and magnitude > 0:
            if not self.mode:
                raise InputError(f"{scenario.source}: fleet.sku: {scenario.fleet.sku} has one power mode; "
                                 "the modes mechanism needs two")
            usual = scenario.sku_model().usual_mode
            shares = {self.mode: magnitude} if magnitude >= 1 else {usual: 1 - magnitude, self.mode: magnitude}
            modes = PowerModeDrift(initial=shares, switch_rate_per_year=0)
        elif self.name == "software" and magnitude != 1:
            firmware = [FirmwareRelease(name="study-release", day=0, overhead_scale=1.0,
                                        kernel_speed={self.kind: magnitude}, waves=[1.0], coverage=0.5)]
        elif self.name == "engines":
            engines = EngineVariation(kernel_sd=magnitude, builds=scenario.deployment.engines.builds)
        elif self.name == "background" and magnitude > 0:
            background = BackgroundLoad(arrival_rate_per_year=np.log(2) * 365.25 / BACKGROUND_STAY_DAYS,
                                        mean_duration_days=BACKGROUND_STAY_DAYS, cores=(magnitude, magnitude))
        drift = scenario.drift.model_copy(update={"power_modes": modes, "firmware": firmware, "background": background})
        deployment = scenario.deployment.model_copy(update={"engines": engines})
        return _copy(scenario, drift=drift, deployment=deployment)


def _copy(scenario: Scenario, **update) -> Scenario:
    """``scenario`` with top-level keys replaced, still resolving paths where its file is."""
    copy = scenario.model_copy(update=update)
    copy._base_dir, copy._path = scenario.base_dir, scenario._path
    return copy


def _nominal(streams: Streams, day: StudyDay) -> np.ndarray:
    """The search on the exact latency of the fleet's nominal device: what the theory calls its optimum."""
    cfg, zoo = day.config.pruning, day.zoo
    truth = TwinGroundTruth(day.snapshot.nominal())
    res = search(zoo, exact_statistics(truth, zoo, cfg.objective, day.slo_ms), day.target_flops, day.base_proxy(),
                 cfg, streams.rng("search", 0))
    return res.best_x


def _single_device(streams: Streams, day: StudyDay) -> np.ndarray:
    """The single-device baseline as ``hdap run`` makes it (a surrogate of one nominal device)."""
    base = day.zoo.module(seed=day.config.streams.int_seed("init"))
    inputs = BaselineInputs(day.config, base, day.base_proxy(), day.snapshot, day.slo_ms, streams)
    pick = single_device(inputs)
    return day.zoo.rates_from_widths(pick.widths, pick.int8)


_JOBS = {"oracle": run_oracle, "nominal": _nominal, "single_device": _single_device}


def _job(task: tuple[str, object], day: StudyDay):
    name, arg = task
    return run_trial(arg, day) if name == "hdap" else _JOBS[name](arg, day)


def heterogeneity_study(config: RunConfig, mechanisms: list[str], spaces: list[str],
                        magnitudes: dict[str, tuple[float, ...]], devices: int | None, seeds: int, executor,
                        progress: bool = False) -> pd.DataFrame:
    """One row per (mechanism, magnitude, seed, space)."""
    scenario, cfg = config.scenario, config.pruning
    bad = [m for m in mechanisms if m not in MECHANISMS] + [s for s in spaces if s not in SEARCH_SPACES]
    if bad:
        raise InputError(f"--mechanisms / --spaces: unknown {', '.join(bad)}; mechanisms: {', '.join(MECHANISMS)}; "
                         f"spaces: {', '.join(SEARCH_SPACES)}")
    if seeds < 1:
        raise InputError(f"--seeds must be >= 1, got {seeds}")
    configs = {space: RunConfig.of(_copy(scenario, pruning={**scenario.pruning, "space": space}))
               if space != cfg.space else config for space in spaces}
    oracle_devices = cfg.oracle_devices or ORACLE_SAMPLE
    cells = [(m, mag) for m in mechanisms for mag in magnitudes[m]]
    bar = tqdm(total=len(cells) * seeds * len(spaces), desc="heterogeneity study", unit="cell", disable=not progress)
    rows, neutral = [], {}   # every mechanism's neutral magnitude is the same fleet: computed once per seed

    def dropped(rates):
        return int(np.sum(run.zoo.widths_from_rates(rates) == 0))

    def in_int8(rates):
        return int(np.sum(run.zoo.int8_from_rates(rates))) if run.zoo.precision else 0
    for mechanism, magnitude in cells:
        mech = Mechanism.of(mechanism, scenario, config)
        for s in range(seeds):
            if magnitude == NEUTRAL[mechanism] and s in neutral:
                rows += [{**row, "mechanism": mechanism, "magnitude": magnitude, "kind": mech.label}
                         for row in neutral[s]]
                bar.update(len(spaces))
                continue
            t0 = time.perf_counter()
            variant = mech.apply(scenario.with_overrides(devices=devices, seed=study_fleet_seed(scenario.seed, s)),
                                 magnitude)
            snap = simulate(variant.with_overrides(days=variant.time.deployment_day + 1), executor=executor).final
            theory, done = None, []
            for space in spaces:
                run = configs[space].with_scenario(variant)
                run = RunConfig(variant, run.pruning.model_copy(update={"oracle_devices": oracle_devices}))
                day = StudyDay.measure(run, snap, {cfg.features: 5}, run.streams)
                trials = run.streams.child("trial")
                tasks = [("oracle", trials), ("hdap", TrialSpec(cfg.clusters, cfg.features, trials)),
                         ("single_device", trials), ("nominal", trials)]
                searched, trial, single, nominal = executor.map(_job, tasks, executor.share(day))
                if theory is None:  # the theory covers widths: at the nominal optimum of the width space
                    widths = run.zoo.widths_from_rates(nominal) if space == "width" else \
                        widths_for_flops(run.zoo, run.target_flops)
                    theory = shape_report(run.zoo.in_space(False), widths, snap)
                picks = {"searched": searched, "hdap": trial.rates, "single_device": single, "nominal": nominal}
                exact = {m: day.exact_rates(r)[0] for m, r in picks.items()}
                # the oracle knows every device: of its own search's pick and the others', it takes the fastest
                oracle = min(exact, key=exact.get)
                exact["oracle"] = exact[oracle]
                done.append({"mechanism": mechanism, "magnitude": magnitude, "space": space, "seed": variant.seed,
                             "kind": mech.label,
                             "single_device_loss_pct": 100 * (exact["nominal"] / exact["oracle"] - 1),
                             "predicted_loss_pct": 100 * theory.fleet_loss,
                             "predicted_device_loss_pct": 100 * float(theory.loss.mean()),
                             "hdap_gain_pct": 100 * (exact["single_device"] / exact["hdap"] - 1),
                             "oracle_gain_pct": 100 * (exact["single_device"] / exact["oracle"] - 1),
                             "hdap_gap_to_oracle_pct": 100 * (exact["hdap"] / exact["oracle"] - 1),
                             "oracle_pick": oracle,
                             "clusters": trial.clustering.n_clusters_,
                             "profiling_device_hours": (day.feature_device_s[cfg.features] +
                                                        trial.surrogate_device_s) / 3600,
                             "overhead_share": float(np.median(theory.overhead_share)),
                             **{f"{m}_ms": exact[m] for m in ("oracle", "hdap", "single_device", "nominal")},
                             **{f"{m}_{what}": count(picks[p]) for m, p in (("hdap", "hdap"), ("oracle", oracle))
                                for what, count in (("blocks_dropped", dropped), ("int8_units", in_int8))},
                             "devices": len(snap), "wall_s": time.perf_counter() - t0})
                bar.update(1)
            rows += done
            if magnitude == NEUTRAL[mechanism]:
                neutral[s] = done
    bar.close()
    return pd.DataFrame(rows)


def heterogeneity_report(df: pd.DataFrame, config: RunConfig, where: str, wall_s: float):
    """(report markdown, tables, figures) for ``write_study``."""
    import seaborn as sns

    from hdap.study.report import markdown_table
    from testbed.figures import new_figure

    scenario, cfg = config.scenario, config.pruning
    keys = ["mechanism", "magnitude", "space"]
    cols = ["single_device_loss_pct", "predicted_loss_pct", "hdap_gain_pct", "oracle_gain_pct",
            "hdap_gap_to_oracle_pct", "clusters", "profiling_device_hours", "hdap_blocks_dropped"] + \
        (["hdap_int8_units"] if df["space"].str.contains("precision").any() else [])
    table = df.groupby(keys, as_index=False, sort=False)[cols].mean()
    figures = {}
    for col, title in (("oracle_gain_pct", "Oracle over single-device (%)"),
                       ("hdap_gain_pct", "HDAP over single-device (%)")):
        n = table["space"].nunique()
        fig, axes = new_figure(nrows=1, ncols=n, figsize=(6.8 * n, 3.6), layout="constrained")
        for ax, (space, part) in zip(np.atleast_1d(axes), table.groupby("space", sort=False)):
            # mechanisms have their own units: columns are each one's magnitudes in order, rows name them
            part = part.assign(step=part.groupby("mechanism", sort=False).cumcount(),
                               row=part["mechanism"] + part.groupby("mechanism", sort=False)["magnitude"].transform(
                                   lambda m: " (" + ", ".join(f"{v:g}" for v in m) + ")"))
            grid = part.pivot_table(index="row", columns="step", values=col, sort=False)
            sns.heatmap(grid, annot=True, fmt=".1f", cmap="RdBu", center=0, cbar=False, ax=ax)
            ax.set(title=f"{title}: {space}", xlabel="magnitude (in the order the row lists them)", ylabel="")
        figures[f"heatmap_{col.removesuffix('_pct')}"] = fig
    fig, ax = new_figure(figsize=(5, 4.2))
    width = df[df["space"] == df["space"].iloc[0]]
    sns.scatterplot(width, x="predicted_loss_pct", y="single_device_loss_pct", hue="mechanism", ax=ax)
    top = max(1.0, float(width[["predicted_loss_pct", "single_device_loss_pct"]].max().max()))
    ax.plot([0, top], [0, top], color="grey", lw=0.8)
    ax.set(xlabel="theory: predicted loss (%)", ylabel="simulated: nominal optimum's loss (%)",
           title=f"Theory against simulation ({width['space'].iloc[0]})")
    figures["theory_vs_simulation"] = fig
    worst_gap = float(df["hdap_gap_to_oracle_pct"].max())
    at_neutral = df[df["magnitude"] == df["mechanism"].map(NEUTRAL)]
    noise = (f"At the neutral magnitudes devices differ in speed only, and the theory predicts "
             f"{at_neutral['predicted_loss_pct'].max():.2f} %: the nominal optimum's simulated loss there, "
             f"{at_neutral['single_device_loss_pct'].mean():.2f} % (mean), is the search's own noise.") \
        if len(at_neutral) else ""
    depth = ""
    per = df.pivot_table(index=["mechanism", "magnitude", "seed"], columns="space", values="oracle_ms")
    if "width" in per.columns and len(per.columns) > 1:
        depth = "Same budget, against the width space, the oracle's fleet mean is lower by " + ", ".join(
            f"{100 * (1 - (per[s] / per['width']).mean()):.1f} % in {s}" for s in per.columns if s != "width") + \
            " (mean over cells)."
    widths_only = df[df["space"] == "width"] if (df["space"] == "width").any() else df  # the theory's space
    theory_err = (widths_only["predicted_loss_pct"] - widths_only["single_device_loss_pct"]).abs()
    mags = "; ".join(f"`{m}` {', '.join(f'{v:g}' for v in df[df.mechanism == m].magnitude.unique())}"
                     for m in df.mechanism.unique())
    kinds = "; ".join(f"{m}: {k}" for m, k in df.groupby("mechanism")["kind"].first().items() if k)
    default_sd = PruningSpec.model_fields["mutation_sd"].default
    runs = f", best of {cfg.restarts} runs at initial mutation sd {cfg.mutation_sd:g}" if cfg.restarts > 1 else \
        f", mutation sd {cfg.mutation_sd:g}" if cfg.mutation_sd != default_sd else ""
    runs += f", each run polished by up to {cfg.polish} rounds of pattern search" if cfg.polish else ""
    report = f"""# Heterogeneity study: {scenario.name}

`hdap study heterogeneity` on `{scenario.name}` ({int(df.devices.iloc[0]):,} x {scenario.fleet.sku},
{scenario.fleet.framework}, {config.zoo.name} pruned to {config.target_flops / 1e9:.3g} GFLOPs, objective
`{cfg.objective}`), on the deployment day ({scenario.time.deployment_day}). Magnitudes: {mags}
({kinds}). Seeds: {', '.join(map(str, sorted(df.seed.unique())))}. Ran on {where} in {wall_s:.0f} s.

Each mechanism alone, on the scenario's fleet with the four shape mechanisms switched off
(`hdap.study.heterogeneity` says what each magnitude means). Per search space, four picks at the
same budget, by the same NCS search ({cfg.population} x {cfg.generations}{runs}) under the same
accuracy floor (the filter-importance proxy): the oracle (a search on the exact latency of
{cfg.oracle_devices or ORACLE_SAMPLE:,} sampled devices; it then keeps the fastest, over every device, of
its pick and the three others', as one NCS run lands 0.5-2 % from another), HDAP ({cfg.clusters} clusters of
`{cfg.features}` features, {cfg.representatives} representatives each, {cfg.surrogate_samples}
profiled sub-networks), the single-device baseline (a surrogate of one nominal device) and the
nominal device's exact optimum. Latencies are exact, over every device.

- `single_device_loss_pct`: the nominal optimum's fleet mean over the oracle's, minus 1;
- `predicted_loss_pct`: the theory's prediction of it (`twin shape`: arithmetic over geometric mean
  of the fleet-mean unit-cost ratios, at the width space's nominal optimum; the theory covers
  widths only, so the other spaces' rows repeat it);
- `hdap_gain_pct`, `oracle_gain_pct`: the single-device baseline's fleet mean over HDAP's / the
  oracle's, minus 1 (positive: faster than single-device).

## Mean over seeds

{markdown_table(table)}

Worst HDAP gap to the oracle: {worst_gap:+.2f} %. Theory against simulation (width space): mean
absolute difference {theory_err.mean():.2f} points, worst {theory_err.max():.2f}. {noise} {depth}

![oracle gain](heatmap_oracle_gain.png)

![hdap gain](heatmap_hdap_gain.png)

![theory](theory_vs_simulation.png)

Every cell: `heterogeneity.csv`.
"""
    return report, {"heterogeneity": df, "summary": table}, figures
