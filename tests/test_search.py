import numpy as np

from conftest import snapshot
from hdap.fleet import TwinFleet, TwinGroundTruth
from hdap.prune import widths_for_flops
from hdap.search import MAX_RATE, flops_repair, ncs_minimize
from hdap.surrogate import fit_cluster_surrogate
from hdap.zoo import get_model


def test_repair_meets_the_flops_budget():
    zoo = get_model("resnet50")
    repair = flops_repair(zoo, 1.0e9)
    for r in np.random.default_rng(0).uniform(0, 0.5, (20, 16)):
        fixed = repair(r)
        assert zoo.flops(zoo.widths_from_rates(fixed)) <= 1.0e9 and np.all(fixed >= r - 1e-12) and fixed.max() <= MAX_RATE


def test_ncs_minimises_a_separable_function_and_is_seeded():
    target = np.linspace(0.1, 0.8, 8)

    def f(x):
        return float(np.sum((x - target) ** 2))

    runs = [ncs_minimize(f, np.full(8, 0.5), lambda x: x, np.random.default_rng(3), generations=150) for _ in range(2)]
    assert runs[0].best_f < 0.1 * f(np.full(8, 0.5)) and runs[0].best_f == runs[1].best_f
    assert all(a >= b for a, b in zip(runs[0].history, runs[0].history[1:]))  # best-so-far never worsens


def test_search_against_a_surrogate_beats_uniform_pruning_at_the_same_budget():
    zoo = get_model("resnet50")
    snap = snapshot(n=3)
    surrogate = fit_cluster_surrogate(TwinFleet(snap, seed=0), zoo, [0, 1, 2], n_samples=300)
    res = ncs_minimize(lambda r: float(surrogate.predict(zoo, r)[0]), np.full(16, 0.5), flops_repair(zoo, 1.0e9),
                       np.random.default_rng(0), generations=60)
    truth = TwinGroundTruth(snap)
    found = truth.latency_ms(zoo.workload(zoo.widths_from_rates(res.best_x))).mean()
    uniform = truth.latency_ms(zoo.workload(widths_for_flops(zoo, 1.0e9))).mean()
    assert zoo.flops(zoo.widths_from_rates(res.best_x)) <= 1.0e9
    assert found < 0.97 * uniform
