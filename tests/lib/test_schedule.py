"""The one warm-up + cosine schedule, checked at both ends and in between."""

import math

import pytest
import torch

from robustbook.optim.schedule import warmup_cosine, warmup_cosine_factor


def test_factor_by_hand():
    # 4 warm-up steps of 10: 1/4, 2/4, 3/4, 4/4, then cosine over the remaining 6 steps.
    assert [warmup_cosine_factor(s, 10, 4) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert warmup_cosine_factor(4, 10, 4) == 1.0
    assert warmup_cosine_factor(7, 10, 4) == pytest.approx(0.5 * (1 + math.cos(math.pi * 3 / 6)))
    assert warmup_cosine_factor(10, 10, 4) == pytest.approx(0.0)
    assert warmup_cosine_factor(50, 10, 4) == pytest.approx(0.0)  # held at 0 after the end
    assert warmup_cosine_factor(0, 8) == 1.0  # no warm-up starts at the base lr


def test_scheduler_drives_every_group():
    p, q = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [p], "lr": 1.0}, {"params": [q], "lr": 0.1}])
    sched = warmup_cosine(opt, total_steps=5, warmup_steps=2)
    seen = []
    for _ in range(5):
        seen.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    assert seen[0] == [0.5, pytest.approx(0.05)]
    assert seen[1] == [1.0, pytest.approx(0.1)]
    assert seen[4][0] == pytest.approx(0.5 * (1 + math.cos(math.pi * 2 / 3)))


def test_bad_arguments():
    with pytest.raises(ValueError, match="total_steps"):
        warmup_cosine_factor(0, 0)
