"""Zero-shot classification the CLIP way (Radford et al., 2021, Sec. 3.1.2): embed one prompt per
class and template, average the normalised text embeddings per class, and predict the class whose
embedding has the highest cosine similarity with the normalised image embedding."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

Tokenizer = Callable[[list[str]], torch.Tensor]


@torch.no_grad()
def class_embeddings(model: torch.nn.Module, tokenizer: Tokenizer, class_names: Sequence[str],
                     templates: Sequence[str], device: str | torch.device = "cpu") -> torch.Tensor:
    """(C, D) unit vectors: mean over ``templates`` (each with one ``{}``) of the normalised text
    embedding of ``template.format(name)``, renormalised."""
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
    model.eval()
    out = [F.normalize(model.encode_image(xb.to(class_emb.device)), dim=-1) @ class_emb.T
           for xb in images.split(batch_size)]
    return torch.cat(out).cpu()


def zero_shot_accuracy(model: torch.nn.Module, tokenizer: Tokenizer, images: torch.Tensor,
                       labels: torch.Tensor, class_names: Sequence[str], templates: Sequence[str],
                       device: str | torch.device = "cpu") -> float:
    """Top-1 zero-shot accuracy in [0, 1]; ``labels`` (N,) index ``class_names``."""
    emb = class_embeddings(model, tokenizer, class_names, templates, device)
    pred = zero_shot_logits(model, images, emb).argmax(dim=1)
    return float((pred == labels.cpu()).float().mean())
