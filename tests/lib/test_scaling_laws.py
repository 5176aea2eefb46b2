"""The data-filtering scaling law (Goyal et al., 2024): hand-computed values, the mixing rule, the
effective-data variant, the fitter, the published frontier, and budget-limited training."""

import numpy as np
import pytest
import torch

from robustbook.scaling_laws import (
    Curve,
    budget_batches,
    effective_data_error,
    fit_law,
    frontier,
    linear_errors,
    mixture_error,
    passes,
    pool_errors,
    sample_stream,
    train_linear_runs,
    utility_error,
)

# a = 8000 makes a * 50 / 1e5 = 4 and a * 100 / 1e5 = 8: round numbers by hand.
A, B, TAU, D, N = 8000.0, -0.5, 1.0, 0.1, 100


@pytest.mark.parametrize("n, expected", [
    (50, 4 ** -0.5 + 0.1),                                           # K = 0: (a n)^b + d
    (150, (8 ** -0.5 + 0.1) * 1.5 ** -0.25),                         # K = 1: b_1 = b / 2
    (250, (8 ** -0.5 + 0.1) * 2 ** -0.25 * 1.25 ** -0.125),          # K = 2: b_2 = b / 4
    (200, (8 ** -0.5 + 0.1) * 2 ** -0.25),                           # end of pass 2: last ratio 1
])
def test_utility_law_matches_hand_computation_for_zero_one_two_passes(n, expected):
    assert utility_error(n, N, A, B, TAU, D) == pytest.approx(expected, rel=1e-12)


def test_d_sits_inside_the_product_as_in_the_official_code():
    # With b_k != 0 the later passes also scale d: the error can fall below d.
    y = utility_error(10_000, N, A, B, 100.0, D)
    assert y < D
    assert passes(250, 100) == 2 and passes(99, 100) == 0
    with pytest.raises(ValueError, match="n > 0"):
        utility_error(0, N, A, B, TAU, D)


def test_law_broadcasts_over_parameter_grids():
    a = np.array([4000.0, 8000.0])[:, None]
    b = np.array([-0.5, -0.25])[None, :]
    grid = utility_error(150, N, a, b, TAU, D)
    assert grid.shape == (2, 2)
    assert grid[1, 0] == pytest.approx(utility_error(150, N, 8000.0, -0.5, TAU, D))


def test_mixing_one_bucket_is_the_single_bucket_law():
    for n in (50, 150, 1234, 5000):
        assert mixture_error(n, N, A, [B], [TAU], D) == pytest.approx(utility_error(n, N, A, B, TAU, D))


def test_mixing_two_buckets_matches_hand_computation():
    # Pool 2 x 100 = 200, n = 450: K = 2; b_k = mean_i b_i 0.5^(k / (2 tau_i)) (tau scaled by m = 2).
    b, tau = (-0.4, -0.2), (1.0, 2.0)
    b_k = [np.mean([bi * 0.5 ** (k / (2 * ti)) for bi, ti in zip(b, tau)]) for k in range(3)]
    expected = ((A * 200 / 1e5) ** b_k[0] + D) * 2 ** b_k[1] * (450 / 400) ** b_k[2]
    assert mixture_error(450, N, A, b, tau, D) == pytest.approx(expected, rel=1e-12)
    unscaled = [np.mean([bi * 0.5 ** (k / ti) for bi, ti in zip(b, tau)]) for k in range(3)]
    expected = ((A * 200 / 1e5) ** unscaled[0] + D) * 2 ** unscaled[1] * (450 / 400) ** unscaled[2]
    assert mixture_error(450, N, A, b, tau, D, scale_tau=False) == pytest.approx(expected, rel=1e-12)
    assert list(pool_errors(450, N, A, b, tau, D)) == [mixture_error(450, N, A, b[:1], tau[:1], D),
                                                       mixture_error(450, N, A, b, tau, D)]


def test_effective_data_variant():
    for n in (10, 50, 100):  # no repetition: (a n / 1e5)^b + d
        assert effective_data_error(n, N, A, B, TAU, D) == pytest.approx((A * n / 1e5) ** B + D)
    eff = A / 1e5 * (100 + 100 * 0.5 + 50 * 0.25)  # n = 250: passes weighted 1, 1/2, 1/4
    assert effective_data_error(250, N, A, B, TAU, D) == pytest.approx(eff ** B + D)


def test_published_constants_give_the_papers_frontier():
    """Values equal to the official ``estimate_best_pool`` formula (checked independently)."""
    b, tau = [-0.16, -0.125, -0.10, -0.085], [6.73, 8.55, 5.27, 2.27]
    errors, best = frontier([32e6, 64e6, 128e6, 640e6], 12.8e6, 0.025, b, tau, 0.1)
    assert list(best) == [1, 1, 2, 2]
    assert 100 * (1 - errors[0]) == pytest.approx([18.25, 15.84, 13.42, 11.68], abs=0.01)
    assert 100 * (1 - errors[-1]) == pytest.approx([31.18, 38.55, 37.57, 35.14], abs=0.01)
    # Buckets are sorted best-first by b: shuffling the input changes nothing.
    shuffled, best2 = frontier([32e6, 640e6], 12.8e6, 0.025, b[::-1], tau[::-1], 0.1)
    assert np.allclose(shuffled, errors[[0, -1]]) and list(best2) == [1, 2]


def _synthetic_curves(a, b, tau, d, pool=1000):
    budgets = tuple(float(n) for n in np.geomspace(300, 20_000, 8))
    return [Curve(budgets, pool, tuple(float(utility_error(n, pool, a, bi, ti, d)) for n in budgets))
            for bi, ti in zip(b, tau)]


def test_fitter_recovers_known_parameters_from_noise_free_curves():
    a, b, tau, d = 50.0, (-0.3, -0.2, -0.12), (3.0, 6.0, 1.5), 0.1
    fit = fit_law(_synthetic_curves(a, b, tau, d), d=d)
    assert fit.a == pytest.approx(a, rel=0.02)
    assert np.allclose(fit.b, b, atol=2e-3)
    assert np.allclose(fit.tau, tau, rtol=0.03)
    assert fit.rmse < 1e-4 and max(fit.rmse_per_curve) < 1e-4
    assert fit_law(_synthetic_curves(a, b, tau, d), d=d) == fit  # deterministic


def test_no_decay_control_fits_repeated_data_worse():
    curves = _synthetic_curves(50.0, (-0.3,), (1.5,), 0.1)
    assert fit_law(curves, d=0.1, decay=False).rmse > 10 * fit_law(curves, d=0.1).rmse
    assert fit_law(curves, d=0.1, decay=False).tau == (np.inf,)


def test_curve_needs_one_error_per_budget():
    with pytest.raises(ValueError, match="one error per budget"):
        Curve((1.0, 2.0), 10, (0.5,))


def test_budget_streams_see_exactly_the_budget_in_whole_shuffled_passes():
    seen = sample_stream(10, 27, torch.Generator().manual_seed(0))
    assert len(seen) == 27
    for k in range(2):  # each full pass is a permutation of the pool
        assert sorted(seen[10 * k:10 * (k + 1)].tolist()) == list(range(10))
    assert len(set(seen[20:].tolist())) == 7
    batches = budget_batches(10, 27, 4, torch.Generator().manual_seed(0))
    assert [len(b) for b in batches] == [4] * 6 + [3] and torch.equal(torch.cat(batches), seen)
    with pytest.raises(ValueError):
        sample_stream(0, 5, torch.Generator())


def _two_pools():
    gen = torch.Generator().manual_seed(0)
    xs = [torch.randn(40, 3, generator=gen), torch.randn(25, 3, generator=gen)]
    ys = [(x[:, 0] > 0).long() + (x[:, 1] > 1).long() for x in xs]
    return xs, ys


def test_batched_linear_runs_equal_the_runs_trained_alone():
    xs, ys = _two_pools()
    kw = dict(samples_seen=90, batch_size=8, lr=0.2, n_classes=3, weight_decay=1e-3)
    w, b = train_linear_runs(xs, ys, seeds=[0, 1], **kw)
    for r in range(2):  # padding the smaller pool and batching change nothing
        w_r, b_r = train_linear_runs(xs[r:r + 1], ys[r:r + 1], seeds=[r], **kw)
        assert torch.allclose(w[r], w_r[0], atol=1e-5) and torch.allclose(b[r], b_r[0], atol=1e-5)


def test_linear_runs_learn_and_report_test_error():
    xs, ys = _two_pools()
    w0, b0 = train_linear_runs(xs, ys, samples_seen=1, batch_size=1, lr=1e-9, n_classes=3, seeds=[0, 1])
    w, b = train_linear_runs(xs, ys, samples_seen=800, batch_size=8, lr=0.2, n_classes=3, seeds=[0, 1])
    before, after = linear_errors(w0, b0, xs, ys), linear_errors(w, b, xs, ys)
    assert all(0 <= e <= 1 for e in before + after)
    assert max(after) < 0.15 and min(before) > max(after)


@pytest.mark.parametrize("call, message", [
    (lambda: utility_error(1e5, 1e5, a=0.0, b=-0.1, tau=2.0, d=0.1), "a out of its domain"),
    (lambda: utility_error(1e5, 1e5, a=1.0, b=0.0, tau=2.0, d=0.1), "b out of its domain"),
    (lambda: utility_error(1e5, 1e5, a=1.0, b=np.array([-0.1, 0.2]), tau=2.0, d=0.1), "b out of its domain"),
    (lambda: utility_error(1e5, 1e5, a=1.0, b=-0.1, tau=0.0, d=0.1), "tau out of its domain"),
    (lambda: utility_error(1e5, 1e5, a=1.0, b=-0.1, tau=2.0, d=-0.1), "d out of its domain"),
    (lambda: utility_error(float("nan"), 1e5, a=1.0, b=-0.1, tau=2.0, d=0.1), "finite samples seen"),
    (lambda: utility_error(1e5, float("inf"), a=1.0, b=-0.1, tau=2.0, d=0.1), "finite samples seen"),
    (lambda: mixture_error(1e5, 1e5, 1.0, [-0.1, -0.2], [2.0], 0.1), "one tau per b"),
    (lambda: frontier([1e5], 1e5, 1.0, [-0.1, -0.2], [2.0], 0.1), "one tau per b"),
    (lambda: frontier([1e5], 1e5, 1.0, [-0.1], [2.0], float("nan")), "d out of its domain"),
    (lambda: fit_law([], 0.1), "at least one curve"),
])
def test_bad_inputs_are_refused_with_the_argument_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_no_decay_tau_inf_is_in_the_domain():
    assert np.isfinite(utility_error(3e5, 1e5, a=1.0, b=-0.2, tau=np.inf, d=0.1))


def test_a_fit_pinned_at_its_search_bound_is_flagged():
    # Curves generated with b = -1.4 fitted on a b grid that stops at -1.0: b sits on the bound.
    budgets = (1e4, 2e4, 4e4, 8e4)
    curves = [Curve(budgets, 1e5, tuple(float(utility_error(n, 1e5, 100.0, -1.4, 2.0, 0.05)) for n in budgets))]
    grids = {"a": np.geomspace(10, 1000, 9), "b": np.linspace(-1.0, -0.01, 12), "tau": np.geomspace(0.5, 8, 5)}
    fit = fit_law(curves, 0.05, grids=grids, refine_fit=False)
    assert "b[0]" in fit.at_bound and not fit.trustworthy
    wide = fit_law(curves, 0.05, grids={**grids, "b": np.linspace(-2.0, -0.01, 200)}, refine_fit=False)
    assert "b[0]" not in wide.at_bound and "a" not in wide.at_bound and wide.b[0] == pytest.approx(-1.4, abs=0.02)
