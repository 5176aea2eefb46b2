"""robustbook.shift: agreement, probit lines, ALine-S / ALine-D, baselines, corruptions — each
against a hand computation, a brute-force loop, or synthetic data with a known answer."""

import numpy as np
import pytest
import torch
from scipy.stats import norm

from robustbook import shift
from robustbook.shift.corruptions import corrupt_images, upscale


def _on_a_line(k: int, slope: float, bias: float, seed: int = 0):
    """Accuracies and agreements of k models that lie exactly on one probit line."""
    rng = np.random.default_rng(seed)
    acc_id = rng.uniform(0.5, 0.95, k)
    agr_id = np.ones((k, k))
    iu = np.triu_indices(k, 1)
    agr_id[iu] = rng.uniform(0.3, 0.9, len(iu[0]))
    agr_id = np.triu(agr_id) + np.triu(agr_id, 1).T
    to_ood = lambda p: norm.cdf(slope * norm.ppf(p) + bias)  # noqa: E731
    agr_ood = to_ood(agr_id)
    np.fill_diagonal(agr_ood, 1.0)
    return acc_id, to_ood(acc_id), agr_id, agr_ood


@pytest.mark.parametrize("slope, bias", [(0.8, -0.3), (1.2, -0.9), (0.5, 0.1)])
def test_aline_d_and_aline_s_recover_ood_accuracy_on_a_line(slope, bias):
    acc_id, acc_ood, agr_id, agr_ood = _on_a_line(8, slope, bias)
    line = shift.agreement_line(agr_id, agr_ood)
    assert line.slope == pytest.approx(slope, abs=1e-10) and line.bias == pytest.approx(bias, abs=1e-10)
    assert line.r2 == pytest.approx(1.0)
    np.testing.assert_allclose(shift.aline_d(acc_id, agr_id, agr_ood), acc_ood, atol=1e-10)
    # ALine-S is mapped back through Phi: an accuracy, not a probit value.
    np.testing.assert_allclose(shift.aline_s(acc_id, agr_id, agr_ood), acc_ood, atol=1e-10)


def test_aline_d_uses_only_pairs_inside_the_agreement_range():
    acc_id, acc_ood, agr_id, agr_ood = _on_a_line(6, 0.9, -0.2)
    agr_ood[0, 1] = agr_ood[1, 0] = 0.99  # off the line, and outside [0.05, 0.98]: must be ignored
    np.testing.assert_allclose(shift.aline_d(acc_id, agr_id, agr_ood), acc_ood, atol=1e-10)
    i, j = shift.usable_pairs(agr_id, agr_ood)
    assert (0, 1) not in set(zip(i.tolist(), j.tolist())) and len(i) == 15 - 1


def test_aline_d_refuses_a_model_without_usable_pairs_and_names_it():
    acc_id, _, agr_id, agr_ood = _on_a_line(5, 0.9, -0.2)
    agr_id[3, :] = agr_id[:, 3] = 0.99  # model 3 agrees > 0.98 with everyone in-distribution
    with pytest.raises(ValueError, match=r"model\(s\) \[3\].*refusing"):
        shift.aline_d(acc_id, agr_id, agr_ood)


def test_aline_d_refuses_when_pairs_do_not_determine_the_models():
    # Usable pairs form the path 0-1-2-3 (no odd cycle): every model has an equation, yet
    # z_0 + z_1, z_1 + z_2, z_2 + z_3 cannot pin down four unknowns.
    acc_id, _, agr_id, agr_ood = _on_a_line(4, 0.9, -0.2)
    for i, j in [(0, 2), (0, 3), (1, 3)]:
        agr_id[i, j] = agr_id[j, i] = 0.99
    with pytest.raises(ValueError, match="odd cycle"):
        shift.aline_d(acc_id, agr_id, agr_ood)


def test_pairwise_agreement_matches_a_brute_force_loop():
    rng = np.random.default_rng(1)
    preds = rng.choice([0, 3, 7, 9], size=(5, 200))  # classes need not be 0..C-1
    brute = np.array([[np.mean(preds[i] == preds[j]) for j in range(5)] for i in range(5)])
    np.testing.assert_allclose(shift.pairwise_agreement(preds), brute)
    np.testing.assert_allclose(shift.pairwise_agreement(torch.as_tensor(preds)), brute)


def test_accuracy_naive_agreement_and_errors_by_hand():
    preds = np.array([[0, 1, 1, 2], [0, 1, 2, 2], [1, 1, 2, 0]])
    labels = np.array([0, 1, 2, 2])
    np.testing.assert_allclose(shift.accuracy(preds, labels), [0.75, 1.0, 0.5])
    # agreements: (0,1) 3/4, (0,2) 1/4, (1,2) 2/4
    np.testing.assert_allclose(shift.naive_agreement(preds), [0.5, 0.625, 0.375])
    assert shift.mae([0.5, 0.7], [0.6, 0.6]) == pytest.approx(0.1)
    assert shift.mape([0.5, 0.9], [0.5, 0.6]) == pytest.approx(25.0)


def test_probit_is_clipped_and_inverts():
    assert np.isfinite(shift.probit([0.0, 1.0])).all()
    assert shift.probit(0.0) == pytest.approx(norm.ppf(shift.agreement.PROBIT_EPS))
    p = np.array([0.1, 0.5, 0.93])
    np.testing.assert_allclose(shift.inverse_probit(shift.probit(p)), p)


def test_fit_line_by_hand():
    line = shift.fit_line([0, 1, 2], [0, 1, 1])
    assert (line.slope, line.bias) == pytest.approx((0.5, 1 / 6))
    assert line.r2 == pytest.approx(0.75)  # SS_res 1/6, SS_tot 2/3
    with pytest.raises(ValueError, match="all x values are equal"):
        shift.fit_line([1, 1], [0, 1])


def _two_class_probs(confidences):
    c = np.asarray(confidences, dtype=float)
    return np.stack([c, 1 - c], axis=-1)[None]  # (1 model, N, 2), max prob = c


def test_atc_threshold_and_estimate_by_hand():
    assert shift.atc_threshold([0.1, 0.2, 0.3, 0.4, 0.5], 0.6) == pytest.approx(0.2)
    assert shift.atc_threshold([0.1, 0.2], 1.0) == -np.inf
    probs_id = _two_class_probs([0.55, 0.6, 0.7, 0.8, 0.9])
    probs_ood = _two_class_probs([0.58, 0.65, 0.95, 0.5])
    # 3 of 5 ID scores must lie above t: t = 0.6; OOD scores above 0.6: 0.65, 0.95 -> 1/2.
    est = shift.atc(probs_id, probs_ood, [0.6], score="max_confidence")
    np.testing.assert_allclose(est, [0.5])
    # negative entropy is monotone in the confidence for two classes (c >= 1/2): same answer.
    np.testing.assert_allclose(shift.atc(probs_id, probs_ood, [0.6]), [0.5])


def test_average_confidence_and_doc_by_hand():
    probs_id = _two_class_probs([0.6, 0.8])     # AC_ID = 0.7
    probs_ood = _two_class_probs([0.5, 0.7])    # AC_OOD = 0.6
    np.testing.assert_allclose(shift.average_confidence(probs_ood), [0.6])
    np.testing.assert_allclose(shift.doc(probs_id, probs_ood, [0.9]), [0.8])


@pytest.mark.parametrize("name", ["gaussian_noise", "impulse_noise", "glass_blur", "snow",
                                  "elastic_transform", "spatter", "zoom_blur"])
def test_every_corruption_is_reproducible_from_the_seed(name):
    # impulse_noise and glass_blur use their own unseeded generator unless given a seed
    images = upscale(np.random.default_rng(0).uniform(0, 1, (2, 8, 8)))
    a = corrupt_images(images, name, 3, seed=4)
    np.testing.assert_array_equal(a, corrupt_images(images, name, 3, seed=4))


def test_corruptions_are_seeded_and_keep_shape():
    images = upscale(np.random.default_rng(0).uniform(0, 1, (3, 8, 8)))
    assert images.shape == (3, 32, 32) and images.dtype == np.uint8
    a = corrupt_images(images, "gaussian_noise", 5, seed=1)
    b = corrupt_images(images, "gaussian_noise", 5, seed=1)
    assert a.shape == images.shape and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, images)
    assert not np.array_equal(a, corrupt_images(images, "gaussian_noise", 5, seed=2))


@pytest.mark.parametrize("kwargs, message", [
    (dict(images=np.zeros((2, 8, 8), np.uint8), name="gaussian_noise", severity=1), "at least 32x32"),
    (dict(images=np.zeros((2, 32, 32), np.uint8), name="rain", severity=1), "unknown corruption"),
    (dict(images=np.zeros((2, 32, 32), np.uint8), name="snow", severity=6), "severity"),
    (dict(images=np.zeros((2, 32, 32)), name="snow", severity=1), "uint8"),
])
def test_corruptions_reject_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        corrupt_images(seed=0, **kwargs)


# ---- the estimator battery over one ensemble (robustbook.shift.estimate) -----------------------

def _one_hot_logits(preds, scale: float, n_classes: int = 3) -> torch.Tensor:
    return scale * torch.nn.functional.one_hot(torch.tensor(preds), n_classes).float()


# ID labels and predictions of K = 3 models on N = 4 inputs, OOD on M = 5 inputs: every number
# below is counted by hand from these rows.
Y_ID, PRED_ID = [0, 1, 2, 0], [[0, 1, 2, 0], [0, 1, 2, 1], [0, 2, 2, 1]]  # acc 1, 0.75, 0.5
Y_OOD, PRED_OOD = [0, 0, 1, 2, 0], [[0, 0, 1, 2, 2], [0, 0, 1, 1, 2], [0, 1, 1, 1, 0]]  # 0.8, 0.6, 0.6


def _battery():
    # different logit scales ID (5) and OOD (2): confidence drops under the shift
    return shift.evaluate_shift(_one_hot_logits(PRED_ID, 5.0), torch.tensor(Y_ID),
                                _one_hot_logits(PRED_OOD, 2.0), torch.tensor(Y_OOD))


def test_battery_counts_accuracy_agreement_and_naive_by_hand():
    ev = _battery()
    est = ev.estimates
    np.testing.assert_allclose(est.acc_id, [1.0, 0.75, 0.5])
    np.testing.assert_allclose(ev.acc_ood, [0.8, 0.6, 0.6])
    np.testing.assert_allclose(shift.off_diagonal(est.agr_id), [0.75, 0.5, 0.75])
    np.testing.assert_allclose(shift.off_diagonal(est.agr_ood), [0.8, 0.4, 0.6])
    np.testing.assert_allclose(est.by_method["naive"], [0.6, 0.7, 0.5])  # mean agreement with the others
    assert ev.n_usable_pairs == 3 and not ev.refused


def test_battery_confidence_baselines_by_hand():
    est = _battery().estimates
    ac_id, ac_ood = np.exp(5) / (np.exp(5) + 2), np.exp(2) / (np.exp(2) + 2)
    np.testing.assert_allclose(est.by_method["ac"], [ac_ood] * 3, rtol=1e-6)  # float32 softmax
    # DOC = Acc_ID - (AC_ID - AC_OOD): a swapped difference would add 2 (AC_ID - AC_OOD)
    np.testing.assert_allclose(est.by_method["doc"], np.array([1.0, 0.75, 0.5]) - ac_id + ac_ood,
                               rtol=1e-6)
    # every OOD input has the same confidence, below ATC's thresholds except model 0's -inf
    np.testing.assert_allclose(est.by_method["atc"], [1.0, 0.0, 0.0])


def test_battery_aline_d_solves_its_three_pair_equations_exactly():
    est = _battery().estimates
    z_id, p = norm.ppf([1 - 1e-4, 0.75, 0.5]), norm.ppf
    x, y = p([0.75, 0.5, 0.75]), p([0.8, 0.4, 0.6])     # pairs (0,1), (0,2), (1,2)
    slope, bias = np.polyfit(x, y, 1)
    assert est.agr_line.slope == pytest.approx(slope) and est.agr_line.bias == pytest.approx(bias)
    z = norm.ppf(est.by_method["aline_d"])
    for (i, j), a_id, a_ood in zip([(0, 1), (0, 2), (1, 2)], [0.75, 0.5, 0.75], [0.8, 0.4, 0.6]):
        assert (z[i] + z[j]) / 2 == pytest.approx(p(a_ood) + slope * ((z_id[i] + z_id[j]) / 2 - p(a_id)))
    np.testing.assert_allclose(est.by_method["aline_s"], norm.cdf(slope * z_id + bias))


def test_battery_errors_in_points_and_percent_by_hand():
    errors = _battery().errors()
    # naive [0.6, 0.7, 0.5] vs truth [0.8, 0.6, 0.6]: |0.2|, |0.1|, |0.1|
    assert errors["naive"][0] == pytest.approx(100 * 0.4 / 3)
    assert errors["naive"][1] == pytest.approx(100 * (0.2 / 0.8 + 0.1 / 0.6 + 0.1 / 0.6) / 3)
    assert set(errors) == set(shift.METHODS)
    zero = shift.evaluate_shift(_one_hot_logits(PRED_ID, 5.0), torch.tensor(Y_ID),
                                _one_hot_logits(PRED_OOD, 2.0), torch.tensor([1, 2, 0, 0, 1]))
    assert zero.acc_ood[0] == 0 and np.isnan(zero.errors()["naive"][1])  # MAPE undefined, not raised
    assert zero.errors()["naive"][0] > 0


def test_battery_refuses_aline_when_no_pair_is_usable_and_says_so():
    same = [[0, 1, 2, 0]] * 3                       # every ID agreement is 1 > 0.98: no usable pair
    ev = shift.evaluate_shift(_one_hot_logits(same, 5.0), torch.tensor(Y_ID),
                              _one_hot_logits(PRED_OOD, 2.0), torch.tensor(Y_OOD))
    assert ev.refused and "cannot estimate model(s) [0, 1, 2]" in ev.estimates.refusals["aline_d"]
    assert "only 0 model pair(s)" in ev.estimates.refusals["aline_s"]
    assert ev.estimates.by_method["aline_d"] is None and ev.estimates.by_method["aline_s"] is None
    errors = ev.errors()
    assert np.isnan(errors["aline_d"][0]) and np.isnan(errors["aline_s"][1])
    assert not np.isnan(errors["naive"][0])          # the baselines still answer
    assert np.isnan(ev.line_gap()) and np.isnan(ev.identity_gap())
    assert ev.acc_line is None                       # equal ID accuracies: no accuracy line either


def test_battery_aline_d_refuses_alone_when_the_pair_graph_is_bipartite():
    # model 0 always predicts 0, model 2 always 1 (agreement 0: excluded), models 1 and 3 half
    # and half, differing on one input (agreement 0.99: excluded). Usable pairs (0,1), (0,3),
    # (1,2), (2,3): an even cycle, so z_0 + z_2 = z_1 + z_3 leaves one direction undetermined;
    # the agreement line exists (ID agreements 0.5, 0.49, 0.5, 0.51), so ALine-S still answers
    half = [0] * 50 + [1] * 50
    pred_id = [[0] * 100, half, [1] * 100, half[:49] + [1] + half[50:]]
    labels = torch.tensor(half)
    ev = shift.evaluate_shift(_one_hot_logits(pred_id, 5.0), labels, _one_hot_logits(pred_id, 2.0), labels)
    assert ev.n_usable_pairs == 4
    est = ev.estimates
    assert set(est.refusals) == {"aline_d"} and est.by_method["aline_s"] is not None
    assert est.agr_line is not None and not np.isnan(ev.line_gap())
    errors = ev.errors()
    assert np.isnan(errors["aline_d"][0]) and not np.isnan(errors["aline_s"][0])


def test_lines_gap_is_the_mean_vertical_distance_at_the_given_points():
    a, b = shift.LineFit(1.0, 0.0, 1.0), shift.LineFit(0.5, 0.2, 1.0)
    # a - b = 0.5 x - 0.2 at x = 0, 1, -2: -0.2, 0.3, -1.2
    assert shift.lines_gap(a, b, [0.0, 1.0, -2.0]) == pytest.approx(1.7 / 3)
    assert np.isnan(shift.lines_gap(None, b, [0.0]))
    ev = _battery()
    x = norm.ppf(np.clip(ev.estimates.acc_id, 1e-4, 1 - 1e-4))
    assert ev.identity_gap() == pytest.approx(np.mean(np.abs(ev.estimates.agr_line(x) - x)))
    assert ev.line_gap() == pytest.approx(np.mean(np.abs(ev.estimates.agr_line(x) - ev.acc_line(x))))


def test_plotting_rows_and_probit_axes():
    import matplotlib.pyplot as plt
    import pandas as pd

    from robustbook.shift import probit
    from robustbook.shift.plotting import probit_axes, rows

    frame = pd.DataFrame({"seed": [0, 0, 1], "shift": ["a", "b", "a"], "v": [1, 2, 3]})
    assert rows(frame, seed=0, shift="a")["v"].tolist() == [1]
    assert rows(frame, shift="a")["v"].tolist() == [1, 3] and len(rows(frame)) == 3
    fig, ax = plt.subplots()
    probit_axes(ax, 0.1, 0.9, np.array([0.05, 0.1, 0.5, 0.9, 0.98]))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["10", "50", "90"]
    assert ax.get_ylim() == pytest.approx((probit(0.1), probit(0.9)))
    plt.close(fig)
