"""Synthetic image-caption pools with quality buckets, for CLIP-style training at toy scale.

Images are scikit-learn's 8x8 handwritten digits (shipped with the package, so offline), upscaled
to ``image_size`` and repeated on 3 channels; a caption names the digit with one of several
templates ("a handwritten seven"). Quality buckets differ in *caption* quality: in bucket i a
fraction ``caption_noise[i]`` of captions name a wrong digit (drawn uniformly from the others),
the stand-in for web alt-text that does not describe its image. Test images are held out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from robustbook._checks import check_int

DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
CAPTION_TEMPLATES = ("a photo of the number {}", "a handwritten {}", "the digit {}",
                     "a {} written by hand")
PROMPT_TEMPLATES = ("a photo of the number {}", "the digit {}")  # zero-shot prompts
N_DIGITS = 1797


@dataclass(frozen=True)
class CaptionPool:
    """``images`` (M*S, 3, H, W) standardised, ``captions`` (M*S) strings, ``labels`` the true
    digit, ``caption_labels`` the digit the caption names, ``bucket`` (M*S,) 0 = best;
    ``test_images``/``test_labels`` held out; ``class_names`` index the labels."""

    images: torch.Tensor
    captions: tuple[str, ...]
    labels: torch.Tensor
    caption_labels: torch.Tensor
    bucket: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    class_names: tuple[str, ...]
    caption_noise: tuple[float, ...]

    @property
    def n_buckets(self) -> int:
        return len(self.caption_noise)

    def top(self, m: int) -> tuple[torch.Tensor, list[str]]:
        """(images, captions) of the m best buckets."""
        if not 1 <= m <= self.n_buckets:
            raise ValueError(f"m must be in 1..{self.n_buckets}, got {m}")
        keep = (self.bucket < m).nonzero().squeeze(1)
        return self.images[keep], [self.captions[i] for i in keep.tolist()]


def _images(x: np.ndarray, image_size: int, mean: float, std: float) -> torch.Tensor:
    """(N, 64) digit pixels in [0, 16] -> (N, 3, image_size, image_size), standardised."""
    t = torch.as_tensor((x / 16.0 - mean) / std, dtype=torch.float32).view(-1, 1, 8, 8)
    t = F.interpolate(t, size=(image_size, image_size), mode="bilinear", align_corners=False)
    return t.expand(-1, 3, -1, -1).contiguous()


def _captions(labels: torch.Tensor, gen: torch.Generator) -> list[str]:
    templates = torch.randint(0, len(CAPTION_TEMPLATES), (len(labels),), generator=gen)
    return [CAPTION_TEMPLATES[t].format(DIGIT_NAMES[y]) for t, y in zip(templates.tolist(), labels.tolist())]


def digit_caption_pool(*, bucket_size: int, caption_noise: tuple[float, ...], seed: int,
                       image_size: int = 16) -> CaptionPool:
    """M = len(caption_noise) buckets of ``bucket_size`` digit images with captions; the rest of
    the 1,797 digits (at least 300) is the test set. Split, noise and templates drawn from ``seed``."""
    check_int("bucket_size", bucket_size)
    check_int("image_size", image_size)
    n_train = bucket_size * len(caption_noise)
    if not caption_noise or bucket_size < 1 or n_train > N_DIGITS - 300:
        raise ValueError(f"need 1 <= buckets x bucket_size <= {N_DIGITS - 300} (300 test digits), "
                         f"got {len(caption_noise)} x {bucket_size}")
    if not all(0 <= r <= 1 for r in caption_noise):
        raise ValueError(f"caption noise rates must be in [0, 1], got {caption_noise}")
    digits = load_digits()
    x_tr, x_te, y_tr, y_te = train_test_split(digits.data, digits.target, train_size=n_train,
                                              stratify=digits.target, random_state=seed)
    mean, std = float((x_tr / 16).mean()), float((x_tr / 16).std())
    gen = torch.Generator().manual_seed(seed)
    labels = torch.as_tensor(y_tr, dtype=torch.long)
    bucket = torch.arange(len(caption_noise)).repeat_interleave(bucket_size)
    rates = torch.tensor(caption_noise, dtype=torch.float32)[bucket]
    wrong = torch.rand(n_train, generator=gen) < rates
    offset = torch.randint(1, len(DIGIT_NAMES), (n_train,), generator=gen)
    caption_labels = torch.where(wrong, (labels + offset) % len(DIGIT_NAMES), labels)
    return CaptionPool(_images(x_tr, image_size, mean, std), tuple(_captions(caption_labels, gen)),
                       labels, caption_labels, bucket, _images(x_te, image_size, mean, std),
                       torch.as_tensor(y_te, dtype=torch.long), DIGIT_NAMES,
                       tuple(float(r) for r in caption_noise))
