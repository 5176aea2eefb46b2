"""robustbook.icl refuses bad inputs at the door, naming the argument (issue 19)."""

import pytest
import torch

from robustbook.icl import bayes, conjugate, llm_eval, prompts
from robustbook.icl.model import InContextRegressor, predict, train_regressor
from robustbook.icl.tasks import sample_prompts, sample_weights, task_pool


def _g():
    return torch.Generator().manual_seed(0)


POOL = torch.randn(4, 2, generator=_g())
X, Y = torch.randn(3, 5, 2, generator=_g()), torch.randn(3, 5, generator=_g())
MODEL = InContextRegressor(2, 5, n_layer=1, n_head=2, n_embd=8)


def _sampler(g):
    return sample_prompts(4, 5, POOL, p_discrete=0.5, sigma=0.1, generator=g)


@pytest.mark.parametrize("call, message", [
    (lambda: task_pool(0, 2, generator=_g()), r"n_tasks and dim must be >= 1, got 0, 2"),
    (lambda: task_pool(2.5, 2, generator=_g()), r"n_tasks must be an integer >= 1, got 2.5"),
    (lambda: sample_weights(4, POOL, 1.5, generator=_g()), r"p_discrete must be in \[0, 1\], got 1.5"),
    (lambda: sample_weights(4, POOL, float("nan"), generator=_g()), r"p_discrete must be in \[0, 1\], got nan"),
    (lambda: sample_weights(0, POOL, 0.5, generator=_g()), r"batch must be an integer >= 1, got 0"),
    (lambda: sample_weights(4, POOL[:0], 0.5, generator=_g()), r"pool must be \(n_tasks >= 1, dim\), got shape \(0, 2\)"),
    (lambda: sample_prompts(4, 0, POOL, p_discrete=0.5, sigma=0.1, generator=_g()), r"k must be an integer >= 1, got 0"),
    (lambda: sample_prompts(4, 5, POOL, p_discrete=0.5, sigma=-0.1, generator=_g()), r"sigma must be a finite number in \[0, inf\), got -0.1"),
    (lambda: bayes.ridge_predictions(X, Y, 0.0), r"sigma must be a finite number in \(0, inf\), got 0.0"),
    (lambda: bayes.ridge_predictions(X, Y[:, :4], 0.5), r"x must be \(B, k, d\) and y \(B, k\), got \(3, 5, 2\) and \(3, 4\)"),
    (lambda: bayes.discrete_predictions(X, Y, torch.randn(4, 3), 0.5), r"pool must be \(M >= 1, d=2\), got shape \(4, 3\)"),
    (lambda: bayes.discrete_predictions(X, Y, POOL, float("nan")), r"sigma must be a finite number in \(0, inf\), got nan"),
    (lambda: bayes.family_posterior(X, Y, POOL, 0.5, 1.5), r"p_discrete must be a finite number in \[0, 1\], got 1.5"),
    (lambda: bayes.mixture_predictions(X, Y, POOL, 0.5, -0.1), r"p_discrete must be a finite number in \[0, 1\], got -0.1"),
    (lambda: conjugate.scale_inputs(X, Y, 0.0), r"c must be a finite nonzero number \(the transform must be invertible\), got 0.0"),
    (lambda: conjugate.scale_inputs(X, Y, float("nan")), r"c must be a finite nonzero number.*got nan"),
    (lambda: conjugate.unscale_inputs(X, Y, 0), r"c must be a finite nonzero number.*got 0"),
    (lambda: conjugate.scale_targets(X, Y, float("inf")), r"c must be a finite nonzero number.*got inf"),
    (lambda: conjugate.conjugate_predict(lambda x, y: y, X, Y, 2.0, mode="outputs"), r"mode must be 'inputs' or 'targets', got 'outputs'"),
    (lambda: conjugate.conjugate_predict(lambda x, y: y, X, Y, 0.0, mode="targets"), r"c must be a finite nonzero number"),
    (lambda: InContextRegressor(0, 5), r"dim must be an integer >= 1, got 0"),
    (lambda: InContextRegressor(2, 5, n_embd=10, n_head=4), r"n_embd must be divisible by n_head, got n_embd=10, n_head=4"),
    (lambda: MODEL(torch.zeros(3, 6, 2), torch.zeros(3, 6)), r"x must be \(B, k <= 5, d = 2\) and y \(B, k\), got \(3, 6, 2\) and \(3, 6\)"),
    (lambda: MODEL(torch.zeros(3, 5, 3), torch.zeros(3, 5)), r"x must be \(B, k <= 5, d = 2\)"),
    (lambda: train_regressor(MODEL, _sampler, steps=0, lr=1e-3, generator=_g()), r"steps must be an integer >= 1, got 0"),
    (lambda: train_regressor(MODEL, _sampler, steps=2, lr=1e-3, generator=_g(), warmup=1.5), r"warmup must be a finite number in \[0, 1\], got 1.5"),
    (lambda: predict(MODEL, X, Y, chunk=0), r"chunk must be an integer >= 1, got 0"),
    (lambda: predict(MODEL, X, Y[:2]), r"need x, y with the same number \(>= 1\) of prompts, got 3, 2"),
    (lambda: prompts.apply_task("reverse", "a"), r"task must be one of \('repeat', 'capslock'\), got 'reverse'"),
    (lambda: prompts.to_leetspeak("room 101"), r"digits"),
    (lambda: prompts.conjugate_text("a", "fr"), r"language 'fr' needs a translation table"),
    (lambda: prompts.icl_prompts("reverse", "en", 0, seed=0), r"task must be one of \('repeat', 'capslock'\), got 'reverse'"),
    (lambda: prompts.icl_prompts("repeat", "klingon", 2, seed=0), r"language must be one of \('en', 'leetspeak', 'piglatin'\) or come with a translation table"),
    (lambda: prompts.icl_prompts("repeat", "en", -1, seed=0), r"n must be an integer >= 0, got -1"),
    (lambda: prompts.icl_prompts("repeat", "en", 2, seed=0, n_shots=24), r"n_shots must leave a query among the 24 sentences \(n_shots < 24\), got 24"),
    (lambda: llm_eval.greedy_continuations(None, None, ["a"], max_new_tokens=0), r"max_new_tokens must be an integer >= 1, got 0"),
    (lambda: llm_eval.greedy_continuations(None, None, ["a"], batch_size=0), r"batch_size must be an integer >= 1, got 0"),
])
def test_bad_inputs_are_refused_with_the_argument_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_noise_free_prompts_and_negative_c_stay_valid():
    assert sample_prompts(2, 3, POOL, p_discrete=1.0, sigma=0.0, generator=_g()).y.shape == (2, 3)
    x, _ = conjugate.scale_inputs(X, Y, -2.0)
    torch.testing.assert_close(conjugate.unscale_inputs(x, Y, -2.0)[0], X)
