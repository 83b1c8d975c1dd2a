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
        assert 0.97e9 <= zoo.flops(zoo.widths_from_rates(fixed)) <= 1.0e9 and fixed.max() <= MAX_RATE
    light = repair(np.full(16, 0.9))  # too few FLOPs: rates shrink back into the band
    assert 0.97e9 <= zoo.flops(zoo.widths_from_rates(light)) <= 1.0e9


def test_ncs_minimises_a_separable_function_and_is_seeded():
    target = np.linspace(0.1, 0.8, 8)

    def f(x):
        return float(np.sum((x - target) ** 2))

    runs = [ncs_minimize(f, np.full(8, 0.5), lambda x: x, np.random.default_rng(3), generations=150) for _ in range(2)]
    assert runs[0].best_f < 0.1 * f(np.full(8, 0.5)) and runs[0].best_f == runs[1].best_f
    assert all(a >= b for a, b in zip(runs[0].history, runs[0].history[1:]))  # best-so-far never worsens


def test_search_never_ends_worse_than_its_uniform_start_and_stays_in_the_budget():
    # In this twin latency at fixed FLOPs barely depends on where the FLOPs sit (exact-fitness NCS
    # gains ~0.3 % on ResNet-50 at 1 GFLOPs): the property that holds is no regression.
    zoo = get_model("resnet50")
    truth = TwinGroundTruth(snapshot(n=1))

    def exact(r):
        return float(truth.latency_ms(zoo.workload(zoo.widths_from_rates(r)))[0])

    x0 = 1 - widths_for_flops(zoo, 1.0e9) / np.array(zoo.full_widths)
    res = ncs_minimize(exact, x0, flops_repair(zoo, 1.0e9), np.random.default_rng(0), generations=30)
    assert res.best_f <= exact(x0)
    assert 0.97e9 <= zoo.flops(zoo.widths_from_rates(res.best_x)) <= 1.0e9
    surrogate = fit_cluster_surrogate(TwinFleet(snapshot(n=3), seed=0), zoo, [0, 1, 2], n_samples=300)
    guided = ncs_minimize(lambda r: float(surrogate.predict(zoo, r)[0]), x0, flops_repair(zoo, 1.0e9),
                          np.random.default_rng(0), generations=30)
    assert exact(guided.best_x) <= 1.02 * exact(x0)
