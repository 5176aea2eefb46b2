"""Zero-shot classification the CLIP way (Radford et al., 2021, Sec. 3.1.2): embed one prompt per
class and template, average the normalised text embeddings per class, and predict the class whose
embedding has the highest cosine similarity with the normalised image embedding."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from robustbook._checks import check_int, require

Tokenizer = Callable[[list[str]], torch.Tensor]


@torch.no_grad()
def class_embeddings(model: torch.nn.Module, tokenizer: Tokenizer, class_names: Sequence[str],
                     templates: Sequence[str], device: str | torch.device = "cpu") -> torch.Tensor:
    """(C, D) unit vectors: mean over ``templates`` (each with one ``{}``) of the normalised text
    embedding of ``template.format(name)``, renormalised."""
    require(len(class_names) > 0, "class_names must name at least one class, got none")
    require(len(templates) > 0, "templates must hold at least one prompt template, got none")
    no_slot = [t for t in templates if "{}" not in t]
    # without the slot every class gets the same prompts: chance-level accuracy, no error
    require(not no_slot, f"every template needs a '{{}}' for the class name; these have none: {no_slot}")
    model.eval()
    prompts = [t.format(name) for name in class_names for t in templates]
    emb = F.normalize(model.encode_text(tokenizer(prompts).to(device)), dim=-1)
    emb = emb.view(len(class_names), len(templates), -1).mean(dim=1)
    return F.normalize(emb, dim=-1)


@torch.no_grad()
def zero_shot_logits(model: torch.nn.Module, images: torch.Tensor, class_emb: torch.Tensor,
                     batch_size: int = 512) -> torch.Tensor:
    """(N, C) cosine similarities between normalised image embeddings of ``images`` (N, 3, H, W)
    and ``class_emb`` (C, D)."""
    check_int("batch_size", batch_size)
    require(images.ndim == 4, f"images must be (N, 3, H, W), got shape {tuple(images.shape)}")
    require(class_emb.ndim == 2, f"class_emb must be (C, D), got shape {tuple(class_emb.shape)}")
    model.eval()
    out = [F.normalize(model.encode_image(xb.to(class_emb.device)), dim=-1) @ class_emb.T
           for xb in images.split(batch_size)]
    return torch.cat(out).cpu()


def zero_shot_accuracy(model: torch.nn.Module, tokenizer: Tokenizer, images: torch.Tensor,
                       labels: torch.Tensor, class_names: Sequence[str], templates: Sequence[str],
                       device: str | torch.device = "cpu") -> float:
    """Top-1 zero-shot accuracy in [0, 1]; ``labels`` (N,) index ``class_names``."""
    require(labels.ndim == 1 and len(labels) == len(images) and len(labels) > 0,
            f"labels must be (N,) with one label per image (N >= 1), got shape {tuple(labels.shape)} "
            f"for {len(images)} images")
    low, high = int(labels.min()), int(labels.max())
    require(low >= 0 and high < len(class_names),
            f"labels must index class_names, i.e. lie in [0, {len(class_names)}), got range [{low}, {high}]")
    emb = class_embeddings(model, tokenizer, class_names, templates, device)
    pred = zero_shot_logits(model, images, emb).argmax(dim=1)
    return float((pred == labels.cpu()).float().mean())
