"""robustbook.icl: task samplers, Bayes-optimal predictors (closed forms vs brute force),
conjugate transforms, the in-context GPT-2 wrapper, prompt datasets and the LLM scoring loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from robustbook.icl import bayes, conjugate, llm_eval, prompts
from robustbook.icl.model import InContextRegressor, predict, train_regressor
from robustbook.icl.tasks import sample_prompts, sample_weights, task_pool


def _g(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- tasks -----------------------------------------------------------------------------------
def test_weights_come_from_the_right_family():
    pool = task_pool(3, 2, generator=_g())
    w, disc = sample_weights(400, pool, 0.3, generator=_g(1))
    in_pool = (w[:, None, :] == pool[None]).all(-1).any(-1)
    assert torch.equal(in_pool, disc)                      # discrete draws are pool members, others not
    assert 0.2 < disc.float().mean() < 0.4                 # P(discrete) = 0.3, not 0.7
    assert sample_weights(50, pool, 1.0, generator=_g())[1].all()
    assert not sample_weights(50, pool, 0.0, generator=_g())[1].any()


def test_prompts_follow_the_linear_model():
    pool = task_pool(4, 3, generator=_g())
    p = sample_prompts(5, 6, pool, p_discrete=0.5, sigma=0.0, generator=_g(2))
    assert p.x.shape == (5, 6, 3) and p.y.shape == (5, 6)
    torch.testing.assert_close(p.y, torch.einsum("bkd,bd->bk", p.x, p.w))
    noisy = sample_prompts(2000, 4, pool, p_discrete=0.0, sigma=0.5, generator=_g(3))
    resid = noisy.y - torch.einsum("bkd,bd->bk", noisy.x, noisy.w)
    assert abs(float(resid.std()) - 0.5) < 0.02
    with pytest.raises(ValueError, match="p_discrete"):
        sample_weights(3, pool, 1.5, generator=_g())


# --- Bayes-optimal predictors ----------------------------------------------------------------
def _prompt(b=3, k=5, d=2, seed=0):
    g = _g(seed)
    return torch.randn(b, k, d, generator=g, dtype=torch.float64), torch.randn(b, k, generator=g, dtype=torch.float64)


def test_ridge_matches_explicit_solve_per_prefix():
    x, y = _prompt()
    sigma = 0.7
    pred = bayes.ridge_predictions(x, y, sigma)
    for b in range(3):
        assert pred[b, 0] == 0                              # no examples: the prior mean
        for j in range(1, 5):
            X, Y = x[b, :j].numpy(), y[b, :j].numpy()
            w = np.linalg.solve(X.T @ X + sigma**2 * np.eye(2), X.T @ Y)
            assert float(pred[b, j]) == pytest.approx(float(x[b, j].numpy() @ w), rel=1e-9)


def test_discrete_posterior_by_hand():
    pool = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    x = torch.tensor([[[1.0, 1.0], [2.0, -1.0]]], dtype=torch.float64)
    y = torch.tensor([[1.5, 0.0]], dtype=torch.float64)
    sigma = 0.5
    pred = bayes.discrete_predictions(x, y, pool, sigma)
    assert float(pred[0, 0]) == pytest.approx((1.0 + 2.0) / 2)          # uniform prior: mean of <w_m, x_1>
    l1, l2 = math.exp(-(1.5 - 1.0) ** 2 / (2 * sigma**2)), math.exp(-(1.5 - 2.0) ** 2 / (2 * sigma**2))
    l1, l2 = l1 / (l1 + l2), l2 / (l1 + l2)                            # equal here: |0.5| both
    assert float(pred[0, 1]) == pytest.approx(l1 * 2.0 + l2 * -2.0)
    y2 = torch.tensor([[1.2, 0.0]], dtype=torch.float64)               # closer to w_1: asymmetric
    a, b = math.exp(-0.2**2 / (2 * sigma**2)), math.exp(-0.8**2 / (2 * sigma**2))
    assert float(bayes.discrete_predictions(x, y2, pool, sigma)[0, 1]) == pytest.approx((2 * a - 2 * b) / (a + b))


def _brute_family_posterior(x, y, pool, sigma, p, j):
    """P(discrete | first j examples) from explicit Gaussian densities (numpy, float64)."""
    X, Y = x[:j].numpy(), y[:j].numpy()
    cov = X @ X.T + sigma**2 * np.eye(j)
    sign, logdet = np.linalg.slogdet(cov)
    log_cont = -0.5 * (Y @ np.linalg.solve(cov, Y) + logdet + j * np.log(2 * np.pi))
    lik = [np.exp(-((Y - X @ w) ** 2).sum() / (2 * sigma**2)) / (2 * np.pi * sigma**2) ** (j / 2) for w in pool.numpy()]
    disc = p * np.mean(lik)
    return disc / (disc + (1 - p) * np.exp(log_cont))


def test_family_posterior_matches_brute_force():
    x, y = _prompt(b=2, k=4, d=2, seed=5)
    pool = torch.tensor([[0.5, -1.0], [1.5, 0.3], [-0.7, 0.2]], dtype=torch.float64)
    sigma, p = 0.8, 0.3
    q = bayes.family_posterior(x, y, pool, sigma, p)
    for b in range(2):
        assert float(q[b, 0]) == pytest.approx(p)
        for j in range(1, 4):
            assert float(q[b, j]) == pytest.approx(_brute_family_posterior(x[b], y[b], pool, sigma, p, j), rel=1e-8)


def test_mixture_endpoints_and_blend():
    x, y = _prompt(seed=7)
    pool = torch.tensor([[0.5, -1.0], [1.5, 0.3]], dtype=torch.float64)
    torch.testing.assert_close(bayes.mixture_predictions(x, y, pool, 0.5, 0.0), bayes.ridge_predictions(x, y, 0.5))
    torch.testing.assert_close(bayes.mixture_predictions(x, y, pool, 0.5, 1.0), bayes.discrete_predictions(x, y, pool, 0.5))
    q = bayes.family_posterior(x, y, pool, 0.5, 0.25)
    blend = q * bayes.discrete_predictions(x, y, pool, 0.5) + (1 - q) * bayes.ridge_predictions(x, y, 0.5)
    torch.testing.assert_close(bayes.mixture_predictions(x, y, pool, 0.5, 0.25), blend)


# --- conjugate transforms --------------------------------------------------------------------
def test_scale_inputs_keeps_answers_and_inverts():
    x, y = _prompt(seed=1)
    cx, cy = conjugate.scale_inputs(x, y, 1.5)
    torch.testing.assert_close(cx, 1.5 * x)
    assert cy is y
    torch.testing.assert_close(conjugate.unscale_inputs(cx, cy, 1.5)[0], x)
    w = torch.tensor([0.3, -2.0], dtype=torch.float64)
    torch.testing.assert_close(cx @ (w / 1.5), x @ w)               # implied weights w / c, same answer
    with pytest.raises(ValueError, match="nonzero"):
        conjugate.scale_inputs(x, y, 0.0)


def test_conjugate_predict_inverts_the_output():
    x, y = _prompt(seed=2)
    seen = {}

    def recorder(a, b):
        seen["x"], seen["y"] = a, b
        return b + 1.0                                                # an affine "model": not scale-invariant

    out = conjugate.conjugate_predict(recorder, x, y, 2.0, mode="inputs")
    torch.testing.assert_close(seen["x"], 2 * x)
    torch.testing.assert_close(out, y + 1.0)                          # identity inverse
    out = conjugate.conjugate_predict(recorder, x, y, 2.0, mode="targets")
    torch.testing.assert_close(seen["y"], 2 * y)
    torch.testing.assert_close(out, (2 * y + 1.0) / 2)                # divided by c, not multiplied
    with pytest.raises(ValueError, match="mode"):
        conjugate.conjugate_predict(recorder, x, y, 2.0, mode="outputs")


# --- the in-context GPT-2 --------------------------------------------------------------------
def test_interleave_order():
    x = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    y = torch.tensor([[5.0, 6.0]])
    z = InContextRegressor.interleave(x, y)
    expected = torch.tensor([[[1, 2, 0], [0, 0, 5], [3, 4, 0], [0, 0, 6]]], dtype=torch.float32)
    torch.testing.assert_close(z, expected)


def test_prediction_j_sees_examples_before_it_only():
    model = InContextRegressor(2, 5, n_embd=16, seed=0)
    x, y = torch.randn(2, 5, 2, generator=_g()), torch.randn(2, 5, generator=_g(1))
    base = predict(model, x, y)
    y2 = y.clone()
    y2[:, 2] += 3.0                                                   # change the answer of query 2
    moved = predict(model, x, y2)
    torch.testing.assert_close(moved[:, :3], base[:, :3])            # queries 0..2 do not see y_3
    assert (moved[:, 3] - base[:, 3]).abs().min() > 1e-6             # query 3 does
    torch.testing.assert_close(predict(InContextRegressor(2, 5, n_embd=16, seed=0), x, y), base)


def test_training_lowers_the_loss():
    pool = task_pool(2, 2, generator=_g())
    model = InContextRegressor(2, 4, n_embd=16, seed=1)
    sample = lambda g: sample_prompts(32, 4, pool, p_discrete=1.0, sigma=0.1, generator=g)  # noqa: E731
    losses = train_regressor(model, sample, steps=200, lr=1e-2, generator=_g(4))
    assert len(losses) == 200 and np.mean(losses[-20:]) < 0.6 * np.mean(losses[:20])
    assert not model.training


# --- prompt datasets -------------------------------------------------------------------------
def test_leetspeak_and_pig_latin_round_trip():
    assert prompts.to_leetspeak("Tea time is sweet") == "734 71m3 15 5w337"
    assert prompts.to_pig_latin("What is an apple, my friend?") == "at-Whay is-ay an-ay apple-ay, my-ay iend-fray?"
    for s in prompts.INSTRUCTIONS:
        assert prompts.from_pig_latin(prompts.to_pig_latin(s)) == s
        assert prompts.from_leetspeak(prompts.to_leetspeak(s)).lower() == s.lower()
    with pytest.raises(ValueError, match="digits"):
        prompts.to_leetspeak("route 66 to 4 towns")


def test_icl_prompts_are_deterministic_and_paired_across_languages():
    a = prompts.icl_prompts("capslock", "en", 5, seed=3)
    assert a == prompts.icl_prompts("capslock", "en", 5, seed=3)
    assert a != prompts.icl_prompts("capslock", "en", 5, seed=4)
    first = a[0].prompt.split("\n")
    assert first[0].startswith("Input: ") and first[1] == "Output: " + first[0][7:].upper()
    assert a[0].prompt.endswith("Output:") and a[0].prompt.count("Input:") == 3
    query = a[0].prompt.split("Input: ")[-1].split("\nOutput:")[0]
    assert a[0].answer == query.upper()
    queries = [p.prompt.split("Input: ")[-1].split("\nOutput:")[0] for p in prompts.icl_prompts("repeat", "en", 5, seed=3)]
    assert [p.answer for p in prompts.icl_prompts("repeat", "en", 5, seed=3)] == queries
    pig = prompts.icl_prompts("repeat", "piglatin", 5, seed=3)       # same sentences, other language
    assert [p.answer for p in pig] == [prompts.to_pig_latin(q) for q in queries]
    leet = prompts.icl_prompts("capslock", "leetspeak", 5, seed=3)
    assert leet[0].answer == prompts.to_leetspeak(a[0].answer.lower()).upper()
    assert leet[0].answer != a[0].answer


def test_translations_loaded_and_checked(tmp_path):
    with pytest.raises(FileNotFoundError, match="fr.json"):
        prompts.load_translations(tmp_path, "fr")
    (tmp_path / "translations").mkdir()
    import json
    (tmp_path / "translations" / "fr.json").write_text(json.dumps({s: f"[fr] {s}" for s in prompts.INSTRUCTIONS}))
    table = prompts.load_translations(tmp_path, "fr")
    p = prompts.icl_prompts("repeat", "fr", 2, seed=0, translations=table)
    assert p[0].answer.startswith("[fr] ")
    (tmp_path / "translations" / "nl.json").write_text(json.dumps({prompts.INSTRUCTIONS[0]: "x"}))
    with pytest.raises(ValueError, match="lacks translations"):
        prompts.load_translations(tmp_path, "nl")


# --- LLM scoring on a tiny random GPT-2 saved on disk -----------------------------------------
def _save_tiny_lm(folder):
    from robustbook.models.tiny_lm import tiny_gpt2, word_tokenizer
    words = sorted({w for s in prompts.INSTRUCTIONS for w in (s + " " + s.upper()).split()} | {"Input:", "Output:"})
    vocab = ["<pad>", "<unk>", "<s>", "</s>", "<sep>", *words]
    tok = word_tokenizer(vocab)
    model = tiny_gpt2(len(vocab), n_positions=128, n_embd=32, seed=0)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)


def test_llm_loop_end_to_end_on_a_tiny_random_lm(tmp_path):
    _save_tiny_lm(tmp_path / "tiny" / "lm")
    assert llm_eval.missing_models(tmp_path, ["tiny/lm", "other/lm"]) == [str(tmp_path / "other" / "lm")]
    model, tok = llm_eval.load_causal_lm(tmp_path / "tiny" / "lm")
    ps = prompts.icl_prompts("repeat", "en", 4, seed=0)
    batched = llm_eval.greedy_continuations(model, tok, [p.prompt for p in ps], max_new_tokens=3, batch_size=4)
    single = [llm_eval.greedy_continuations(model, tok, [p.prompt], max_new_tokens=3)[0] for p in ps]
    assert batched == single                                          # left padding does not change outputs
    ids = tok(ps[0].prompt, return_tensors="pt")["input_ids"]        # reference: argmax decoding by hand
    with torch.no_grad():
        for _ in range(3):
            ids = torch.cat([ids, model(ids).logits[:, -1].argmax(-1, keepdim=True)], 1)
    assert tok.decode(ids[0, -3:], skip_special_tokens=True) == single[0]
    acc = llm_eval.icl_accuracy(model, tok, ps, max_new_tokens=3)
    assert acc == sum(llm_eval.follows_icl(c, p.answer) for c, p in zip(single, ps)) / 4


def test_follows_icl():
    assert llm_eval.follows_icl("  WHAT IS THE", "WHAT IS THE CAPITAL")
    assert not llm_eval.follows_icl("The capital", "What is the capital")
    assert not llm_eval.follows_icl("anything", "")
