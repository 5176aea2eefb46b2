"""robustbook.embeddings.diagnostics against hand computations: the spread of rows, and copy
accuracy with a model that copies perfectly, one that is off by one position, and one that
copies half the time."""

from types import SimpleNamespace

import pytest
import torch

from robustbook.embeddings.diagnostics import copy_accuracy, spread


def test_spread_is_the_root_mean_square_distance_to_the_mean():
    x = torch.tensor([[0.0, 0.0], [2.0, 0.0], [1.0, 3.0]])  # mean (1, 1): squared distances 2, 2, 4
    assert spread(x) == pytest.approx((8 / 3) ** 0.5)
    assert spread(torch.ones(4, 3)) == 0.0
    assert spread(3 * x) == pytest.approx(3 * spread(x))  # a scale, not a variance
    for bad in (torch.zeros(1, 3), torch.zeros(5)):
        with pytest.raises(ValueError, match="x must be \\(N, d\\) with N >= 2 rows"):
            spread(bad)


class _Copier(torch.nn.Module):
    """Predicts, at position t, the token at ``t + 1 - shift`` of its input (shift = length + 1
    copies a repeated text exactly); ``wrong_rows`` always predicts token 0."""

    def __init__(self, shift: int, vocab: int = 10, wrong_rows: tuple = ()):
        super().__init__()
        self.shift, self.vocab, self.wrong_rows = shift, vocab, wrong_rows
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, ids):
        n, t = ids.shape
        target = torch.zeros_like(ids)
        for pos in range(t):
            src = pos + 1 - self.shift
            target[:, pos] = ids[:, src] if 0 <= src < t else 0
        target[list(self.wrong_rows)] = 0
        return SimpleNamespace(logits=torch.nn.functional.one_hot(target, self.vocab).float())


def test_copy_accuracy_counts_second_copy_tokens_predicted_from_the_previous_position():
    # <s>=9, text (3 tokens), <sep>=8, text again, </s>=7
    ids = torch.tensor([[9, 1, 2, 3, 8, 1, 2, 3, 7], [9, 4, 5, 6, 8, 4, 5, 6, 7]])
    assert copy_accuracy(_Copier(shift=4), ids, first=1, length=3) == 1.0
    assert copy_accuracy(_Copier(shift=3), ids, first=1, length=3) == 0.0  # off by one position
    assert copy_accuracy(_Copier(shift=4, wrong_rows=(1,)), ids, first=1, length=3) == 0.5
    with pytest.raises(ValueError, match="past T = 9"):
        copy_accuracy(_Copier(shift=4), ids, first=1, length=4)
    with pytest.raises(ValueError, match="need first >= 0 and length >= 1"):
        copy_accuracy(_Copier(shift=4), ids, first=1, length=0)
