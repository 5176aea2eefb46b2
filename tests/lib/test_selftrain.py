"""Unit tests of robustbook.selftrain: losses against hand computations, the closed-form linear
contrastive encoder against SGD, FixMatch masking, entropy self-training, augmentations."""

import math

import pytest
import torch

from robustbook.selftrain import augment, linear
from robustbook.selftrain.losses import entropy_loss, fixmatch_loss, nt_xent_loss, spectral_contrastive_loss


def test_spectral_contrastive_loss_by_hand():
    z1 = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    z2 = torch.tensor([[2.0, 0.0], [1.0, 1.0], [0.0, 3.0]])
    positive = (2.0 + 2.0 + 3.0) / 3                      # z1_i . z2_i
    gram = z1 @ z2.T                                      # [[2,1,0],[0,2,6],[2,2,3]]
    off = [1.0, 0.0, 0.0, 6.0, 2.0, 2.0]                  # i != j entries
    expected = -2 * positive + sum(v * v for v in off) / 6
    assert gram[1, 2] == 6.0
    assert spectral_contrastive_loss(z1, z2).item() == pytest.approx(expected)
    # swapping the views transposes the Gram matrix: same off-diagonal multiset, same loss
    assert spectral_contrastive_loss(z2, z1).item() == pytest.approx(expected)


def test_nt_xent_by_hand_for_two_pairs():
    z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    z2 = torch.tensor([[0.6, 0.8], [0.0, 1.0]])
    t = 0.5
    views = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    sim = views @ views.T / t
    partner = [2, 3, 0, 1]
    losses = []
    for i in range(4):
        others = [j for j in range(4) if j != i]
        losses.append(-sim[i, partner[i]] + torch.logsumexp(sim[i, others], 0))
    assert nt_xent_loss(z1, z2, t).item() == pytest.approx(float(torch.stack(losses).mean()), rel=1e-6)
    # anchor 0's partner is at cosine 0.6; its negatives at 0 and 0.8: a near-miss pairing would differ
    wrong = nt_xent_loss(z1, z2.flip(0), t).item()
    assert abs(wrong - nt_xent_loss(z1, z2, t).item()) > 1e-3


def test_fixmatch_mask_and_consistency_term_by_hand():
    logits_l = torch.tensor([[2.0, 0.0]])
    y = torch.tensor([0])
    weak = torch.tensor([[3.0, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.0, 4.0]])  # confident, not, confident
    strong = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    loss, mask = fixmatch_loss(logits_l, y, weak, strong, tau=0.8, lam=0.5)
    assert mask.tolist() == [True, False, True]  # softmax max: 0.91, 0.45, 0.96
    sup = math.log(1 + math.exp(-2.0))
    ce0 = -math.log(math.e / (math.e + 2))               # strong row 0, pseudo-label 0
    ce2 = -math.log(1 / (math.e + 2))                    # strong row 2, pseudo-label 2
    assert loss.item() == pytest.approx(sup + 0.5 * (ce0 + ce2) / 3, rel=1e-6)  # mean over all U = 3
    # tau above every confidence: only the supervised term is left
    loss_none, mask_none = fixmatch_loss(logits_l, y, weak, strong, tau=0.99, lam=0.5)
    assert not mask_none.any() and loss_none.item() == pytest.approx(sup)


def test_fixmatch_pseudo_labels_carry_no_gradient_through_the_weak_view():
    weak = torch.tensor([[3.0, 0.0]], requires_grad=True)
    strong = torch.tensor([[0.0, 1.0]], requires_grad=True)
    loss, _ = fixmatch_loss(torch.zeros(1, 2), torch.tensor([0]), weak, strong, tau=0.5)
    loss.backward()
    assert weak.grad is None and strong.grad.abs().sum() > 0


def test_entropy_loss_binary_and_multiclass():
    p = 1 / (1 + math.exp(-1.5))
    h = -(p * math.log(p) + (1 - p) * math.log(1 - p))
    assert entropy_loss(torch.tensor([1.5, 0.0])).item() == pytest.approx((h + math.log(2)) / 2)
    assert entropy_loss(torch.zeros(2, 3)).item() == pytest.approx(math.log(3))


def _anisotropic_moment(d=6):
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    lam = torch.tensor([9.0, 4.0, 2.0, 1.0, 0.5, 0.25], dtype=torch.float64)[:d]
    return q @ torch.diag(lam) @ q.T, q, lam


def test_closed_form_spectral_encoder_scaling_and_value():
    s, q, lam = _anisotropic_moment()
    w, top = linear.spectral_closed_form(s, 2, sigma=0.5)
    assert top.tolist() == pytest.approx([9.0, 4.0])
    # row norms sqrt(lambda) / (lambda + sigma^2): 3 / 9.25 and 2 / 4.25 (not 1 / sqrt(lambda))
    assert sorted(w.norm(dim=1).tolist()) == pytest.approx(sorted([3 / 9.25, 2 / 4.25]))
    value = float(linear.population_spectral_loss(w, s, 0.5))
    assert value == pytest.approx(-(81 / 9.25**2 + 16 / 4.25**2))
    assert value == pytest.approx(linear.spectral_optimum_value(top, 0.5))
    # rotating the rows keeps the loss; the rows span the top-2 eigenvectors
    rot = torch.tensor([[0.6, -0.8], [0.8, 0.6]], dtype=torch.float64)
    assert float(linear.population_spectral_loss(rot @ w, s, 0.5)) == pytest.approx(value)
    assert linear.subspace_alignment(w, q[:, :2].T) == pytest.approx(1.0)


def test_closed_form_matches_gradient_descent_on_the_population_loss():
    s, _, _ = _anisotropic_moment()
    w_cf, lam = linear.spectral_closed_form(s, 2, sigma=0.5)
    w = (0.1 * torch.randn(2, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)).requires_grad_()
    opt = torch.optim.Adam([w], lr=0.02)
    for _ in range(3000):
        opt.zero_grad()
        linear.population_spectral_loss(w, s, 0.5).backward()
        opt.step()
    assert float(linear.population_spectral_loss(w, s, 0.5)) == pytest.approx(
        linear.spectral_optimum_value(lam, 0.5), abs=1e-6)
    assert linear.subspace_alignment(w.detach(), w_cf) == pytest.approx(1.0, abs=1e-4)


def test_sgd_on_samples_finds_the_top_subspace():
    s, q, _ = _anisotropic_moment()
    g = torch.Generator().manual_seed(2)
    x = torch.randn(4000, 6, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(s).T
    w = linear.fit_spectral_sgd(x, k=2, sigma=0.5, steps=600, lr=0.02, batch_size=256, generator=g)
    assert linear.subspace_alignment(w, q[:, :2].T) > 0.95
    assert linear.subspace_alignment(w, q[:, 2:4].T) < 0.1


def test_entropy_self_training_turns_to_the_low_density_direction_and_keeps_the_scale():
    # two clusters along axis 0 (+-2, noise 0.3), wide unimodal noise along axis 1 (std 3)
    g = torch.Generator().manual_seed(3)
    y = torch.randint(0, 2, (2000,), generator=g) * 2 - 1
    z = torch.stack([2.0 * y + 0.3 * torch.randn(2000, generator=g), 3.0 * torch.randn(2000, generator=g)], 1)
    z = z.double()
    w0 = torch.tensor([0.3, 1.0], dtype=torch.float64)        # mostly along the noise axis
    w, path = linear.entropy_self_train(z, w0, 0.0, steps=200, lr=0.05, logit_scale=5.0, record_every=50)
    assert len(path) == 5 and float((z @ w).std()) == pytest.approx(5.0)
    assert abs(w[0]) / w.norm() > 0.99 and w[0] > 0           # turned to the cluster axis, same sign
    assert linear.linear_accuracy(z, y.double(), w, 0.0) > 0.99
    assert linear.linear_accuracy(z, y.double(), w0, 0.0) < 0.8


def test_logistic_fit_penalty_scales_with_l2():
    z = torch.tensor([[1.0], [2.0], [-1.0], [-2.0]], dtype=torch.float64)
    y = torch.tensor([1.0, 1.0, -1.0, -1.0], dtype=torch.float64)
    w_small, _ = linear.fit_logistic(z, y, l2=1.0)
    w_large, _ = linear.fit_logistic(z, y, l2=0.01)
    assert 0 < float(w_small[0]) < float(w_large[0])
    # stationarity of mean logistic loss + (l2 / 2) w^2 at l2 = 1 (bias ~ 0 by symmetry)
    margin = y * z[:, 0] * w_small[0]
    grad = float((-(y * z[:, 0]) * torch.sigmoid(-margin)).mean() + w_small[0])
    assert grad == pytest.approx(0.0, abs=1e-5)


def test_translate_moves_pixels_and_fills_zeros():
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 1, 2] = 1.0
    g = torch.Generator().manual_seed(0)
    out = augment.translate(x.repeat(64, 1, 1, 1), 1, g)
    positions = {tuple(torch.nonzero(o[0])[0].tolist()) for o in out if o.sum() > 0}
    assert positions <= {(r, c) for r in (0, 1, 2) for c in (1, 2, 3)} and len(positions) >= 6
    assert torch.equal(augment.translate(x, 0, g), x)


def test_cutout_zeroes_one_square_and_colour_distort_permutes_channels():
    g = torch.Generator().manual_seed(1)
    out = augment.cutout(torch.ones(8, 1, 8, 8), 3, g)
    zeros = (out == 0).sum(dim=(1, 2, 3))
    assert zeros.max() == 9 and zeros.min() >= 4                # 3x3, clipped at borders
    x = torch.zeros(200, 3, 2, 2)
    x[:, 0] = 1.0                                               # red only
    d = augment.colour_distort(x, g, p_grey=0.0)
    lit = (d.amax(dim=(2, 3)) > 0).float().mean(0)
    assert (lit > 0.2).all()                                    # red moved to every channel
    assert ((d > 0).sum(dim=1) <= 1).all()                      # still one channel per image


def _tiny_images(n=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.rand(n, 3, 6, 6, generator=g) * 0.1
    x[y == 1, 0] += 0.8                                           # class 1 is red
    return x, y


def test_fixmatch_train_mask_rate_and_pseudo_label_accuracy():
    from robustbook.models.tiny_cnn import TinyCNN
    from robustbook.selftrain.image import fixmatch_train

    x, y = _tiny_images()
    torch.manual_seed(0)
    model = TinyCNN(3, 2, 4)
    log = fixmatch_train(model, x, y, x, epochs=2, batch_size=4, mu=2, tau=1.01, lam=1.0, lr=1e-3,
                         generator=torch.Generator().manual_seed(0), y_unlab=y)
    assert log.mask_rate == [0.0, 0.0]                           # tau > 1: nothing passes
    with torch.no_grad():                                        # always predicts class 1, confidently
        model.head.weight.zero_()
        model.head.bias.copy_(torch.tensor([0.0, 5.0]))
    log = fixmatch_train(model, x, y, x, epochs=1, batch_size=4, mu=2, tau=0.5, lam=1.0, lr=0.0,
                         generator=torch.Generator().manual_seed(0), y_unlab=y)
    assert log.mask_rate == [1.0] and log.pseudo_acc == [0.5]  # half the labels are 1
    log = fixmatch_train(model, x, y, x, epochs=1, batch_size=4, mu=2, tau=0.999, lam=1.0, lr=0.0,
                         generator=torch.Generator().manual_seed(0), y_unlab=y)
    assert log.mask_rate == [0.0]                                # softmax(5) = 0.9933 < 0.999


def test_simclr_pretrain_moves_the_encoder_only_and_lowers_its_loss():
    from robustbook.models.tiny_cnn import TinyCNN
    from robustbook.selftrain.image import simclr_pretrain

    x, _ = _tiny_images(64)
    torch.manual_seed(0)
    model = TinyCNN(3, 2, 4)
    head, conv = model.head.weight.clone(), model.body[0].weight.clone()
    losses = simclr_pretrain(model, x, epochs=15, batch_size=32, lr=3e-3, temperature=0.5,
                             generator=torch.Generator().manual_seed(1))
    assert torch.equal(model.head.weight, head) and not torch.equal(model.body[0].weight, conv)
    assert sum(losses[-3:]) < sum(losses[:3])
