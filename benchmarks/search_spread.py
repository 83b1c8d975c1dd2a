"""How far apart two NCS runs land: the search's own noise, per search setting.

The search every method uses (``hdap.method.search``), on the exact latency of the scenario's
nominal device on its deployment day (no surrogate, no fleet: only the search varies), run under
``--seeds`` independent streams for each setting of restarts, initial mutation sd and polish rounds
(pattern search from each run's best). Prints the evaluations per search, the best, mean and worst
fitness found, the spread (worst over best) and the mean's excess over the
best: a fleet effect smaller than this is not one a single search can show.

    python benchmarks/search_spread.py scenarios/nano-rollout.yaml --space width+depth
        [--settings 1:0.1,2:0.2,2:0.2:40] [--seeds 6]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hdap.config import SEARCH_SPACES, RunConfig
from hdap.fleet import TwinGroundTruth
from hdap.importance import ImportanceProxy
from hdap.method import exact_statistics, search
from twin.simulation import simulate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario")
    ap.add_argument("--space", help="search space (default the scenario's)")
    ap.add_argument("--settings", default="1:0.1,2:0.1,2:0.2", help="RESTARTS:MUTATION_SD[:POLISH_ROUNDS],...")
    ap.add_argument("--seeds", type=int, default=6)
    args = ap.parse_args()
    try:
        parts = [s.split(":") for s in args.settings.split(",")]
        if any(len(p) not in (2, 3) for p in parts):
            raise ValueError
        settings = [(int(p[0]), float(p[1]), int(p[2]) if len(p) == 3 else 0) for p in parts]
    except ValueError:
        ap.error(f"--settings: {args.settings!r} is not RESTARTS:MUTATION_SD[:POLISH_ROUNDS],... (e.g. 1:0.1,2:0.2:30)")
    if any(r < 1 or not sd > 0 or p < 0 for r, sd, p in settings):
        ap.error("--settings: restarts >= 1, mutation sd > 0, polish rounds >= 0")
    config = RunConfig.of(args.scenario)
    scenario = config.scenario
    if args.space:
        if args.space not in SEARCH_SPACES:
            ap.error(f"--space: one of {', '.join(SEARCH_SPACES)}")
        config = RunConfig(scenario, config.pruning.model_copy(update={"space": args.space}))
    snap = simulate(scenario.with_overrides(devices=10, days=scenario.time.deployment_day + 1)).final
    zoo, cfg = config.zoo, config.pruning
    objective = exact_statistics(TwinGroundTruth(snap.nominal()), zoo, cfg.objective, None)
    proxy = ImportanceProxy(zoo.module(seed=config.streams.int_seed("init")), zoo)
    print(f"{scenario.name}: {zoo.name} at {config.target_flops / 1e9:.3g} GFLOPs, space {cfg.space}, "
          f"NCS {cfg.population} x {cfg.generations}, {args.seeds} seeds, nominal {scenario.fleet.sku} exact latency")
    for restarts, sd, polish in settings:
        spec = cfg.model_copy(update={"restarts": restarts, "mutation_sd": sd, "polish": polish})
        t0 = time.perf_counter()
        res = [search(zoo, objective, config.target_flops, proxy, spec, config.streams.rng("search", 100 + s))
               for s in range(args.seeds)]
        f = np.array([r.best_f for r in res])
        print(f"restarts {restarts} sd {sd:g} polish {polish}: {res[0].evaluations:,} evaluations; "
              f"best {f.min():.4f} mean {f.mean():.4f} worst {f.max():.4f} ms; "
              f"spread {100 * (f.max() / f.min() - 1):.2f} %, mean over best {100 * (f.mean() / f.min() - 1):.2f} % "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
