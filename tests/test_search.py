import numpy as np

from conftest import snapshot
from hdap.config import PruningSpec
from hdap.fleet import TwinGroundTruth
from hdap.importance import ImportanceProxy
from hdap.method import search
from hdap.prune import widths_for_flops
from hdap.search import MAX_RATE, UNDECIDED, NCSResult, flops_repair, ncs_minimize, pattern_polish
from zoo import get_model


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


def test_repair_never_grows_a_unit_back():
    zoo = get_model("resnet50")
    floor = np.linspace(0.1, 0.6, 16)
    repair = flops_repair(zoo, 0.8e9, floor=floor)
    for r in np.random.default_rng(1).uniform(0, 0.95, (10, 16)):
        fixed = repair(r)
        assert np.all(fixed >= floor - 1e-12) and zoo.flops(zoo.widths_from_rates(fixed)) <= 0.8e9


def test_search_finds_where_flops_are_cheap_on_tensorrt():
    # on a Nano running TensorRT, FLOPs in small maps (7x7 pays for 64-pixel tiles) and in strided or
    # 1x1 convs (no Winograd) cost more: at equal FLOPs an exact-fitness search beats uniform pruning
    zoo = get_model("resnet50")
    truth = TwinGroundTruth(snapshot(n=1, framework="tensorrt"))

    def exact(r):
        return float(truth.latency_ms(zoo.workload(zoo.widths_from_rates(r)))[0])

    x0 = 1 - widths_for_flops(zoo, 1.0e9) / np.array(zoo.full_widths)
    res = ncs_minimize(exact, x0, flops_repair(zoo, 1.0e9), np.random.default_rng(0), generations=60)
    assert res.best_f < 0.96 * exact(x0)
    assert 0.97e9 <= zoo.flops(zoo.widths_from_rates(res.best_x)) <= 1.0e9
    assert res.archive[0][0] == res.best_f and len(res.archive) == 10
    assert all(a[0] <= b[0] for a, b in zip(res.archive, res.archive[1:]))


def test_repair_moves_widths_and_leaves_drop_genes_alone():
    zoo = get_model("resnet50").in_space(depth=True)
    target = 1.0e9
    repair = flops_repair(zoo, target)
    genes = np.zeros(12)
    genes[[0, 5, 7]] = 0.8
    x = repair(np.concatenate([np.zeros(16), genes]))
    assert np.array_equal(x[16:], genes)
    widths = zoo.widths_from_rates(x)
    assert 0.97 * target <= zoo.flops(widths) <= target and np.sum(widths == 0) == 3


def _resnet20_depth_search(seed: int, **spec):
    """The search on one TensorRT device's exact latency, ResNet-20 with depth at half its FLOPs,
    15 generations: (zoo, target FLOPs, result)."""
    zoo = get_model("resnet20").in_space(depth=True)
    truth = TwinGroundTruth(snapshot(n=1, framework="tensorrt"))
    target = 0.5 * zoo.flops()

    def objective(rates):
        return [float(truth.latency_ms(zoo.rates_workload(r))[0]) for r in rates]

    res = search(zoo, objective, target, ImportanceProxy(zoo.module(seed=0), zoo),
                 PruningSpec(flops_g=target / 1e9, generations=15, **spec), np.random.default_rng(seed))
    return zoo, target, res


def test_restarts_keep_the_best_of_independent_runs():
    # the first of R runs is the single run (same stream), so R runs never end worse; one stream, one result
    def run(restarts, seed=4):
        return _resnet20_depth_search(seed, restarts=restarts)[2]

    one, three, again = run(1), run(3), run(3)
    assert three.best_f <= one.best_f and three.evaluations == 3 * one.evaluations
    assert three.best_f == again.best_f and np.array_equal(three.best_x, again.best_x)
    assert any(run(3, seed).best_f < run(1, seed).best_f for seed in range(4))  # restarts do find better optima


def test_polish_walks_to_the_local_optimum_and_flips_discrete_genes():
    # separable: rates want `target`, the one discrete gene wants to be on (>= 0.5) and starts off
    target = np.array([0.12, 0.33, 0.61, 0.8])

    def f(xs):
        return np.sum((xs[:, :4] - target) ** 2, axis=1) + np.where(xs[:, 4] >= 0.5, 0.0, 1.0)

    start = np.array([0.3, 0.3, 0.3, 0.3, UNDECIDED])
    res = pattern_polish(f, NCSResult(start, float(f(start[None])[0])), lambda x: x, n_rates=4, rounds=200)
    assert res.best_x[4] >= 0.5 and np.allclose(res.best_x[:4], target, atol=0.005)
    assert all(a >= b for a, b in zip(res.history, res.history[1:])) and res.evaluations > 0
    capped = pattern_polish(f, NCSResult(start, float(f(start[None])[0])), lambda x: x, n_rates=4, rounds=2)
    assert res.best_f < capped.best_f < f(start[None])[0]  # each round moves one gene: two rounds get part way


def test_polish_only_improves_the_search_it_follows():
    runs = [(_resnet20_depth_search(seed), _resnet20_depth_search(seed, polish=20)) for seed in range(3)]
    zoo, target, _ = runs[0][0]
    pairs = [(plain[2], polished[2]) for plain, polished in runs]
    assert all(p.best_f <= r.best_f and p.evaluations > r.evaluations for r, p in pairs)
    assert any(p.best_f < r.best_f for r, p in pairs)
    assert all(0.97 * target <= zoo.flops(zoo.widths_from_rates(p.best_x)) <= target for _, p in pairs)
