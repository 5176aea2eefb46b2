"""The paper's models (Kulkarni et al., 2024, Sec. 4): a pretrained transformer trunk with a
classifier on the first token's last-layer state and the model's own pretraining head for the
auxiliary task on an independent batch — masked-language modelling for BERT-style text models,
masked-image modelling (SimMIM) for ViT. Loaded by name with ``transformers`` from a local folder
or the local cache only (no download at run time); ``check_model`` says what is missing first.

Loss = CE + w_mt * L_pretrain + w_reg * (mean |h_end| + mean |h_aux|), h the last-layer hidden
states of the two batches (the official code's l1 term)."""

from __future__ import annotations

import torch
from torch import nn

from robustbook._checks import check_choice, check_int, check_number, require

MODALITIES = ("text", "image")


def check_model(model_name: str) -> None:
    """Raise FileNotFoundError unless ``model_name`` is a local transformers checkpoint (a
    folder, or a name already in the local Hugging Face cache)."""
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(model_name, local_files_only=True)
    except (OSError, ValueError) as e:
        raise FileNotFoundError(
            f"model {model_name!r} is not available offline: save a transformers checkpoint "
            f"(config, weights, tokenizer or image processor) in a folder and pass its path as "
            f"model_name, or pre-fill the Hugging Face cache ({e.__class__.__name__})") from None


class TransformerMTL(nn.Module):
    """Trunk + classifier head + pretraining head. ``modality``: "text" or "image"."""

    def __init__(self, model_name: str, n_classes: int, modality: str) -> None:
        super().__init__()
        check_choice("modality", modality, MODALITIES)
        check_int("n_classes", n_classes)
        from transformers import AutoModelForMaskedLM, AutoTokenizer, ViTForMaskedImageModeling

        self.modality = modality
        if modality == "text":
            self.pretrain = AutoModelForMaskedLM.from_pretrained(model_name, local_files_only=True)
            self.tokenizer = AutoTokenizer.from_pretrained(model_name, local_files_only=True)
        else:
            self.pretrain = ViTForMaskedImageModeling.from_pretrained(model_name, local_files_only=True)
        self.head = nn.Linear(self.pretrain.config.hidden_size, n_classes)

    def _trunk(self, **inputs) -> torch.Tensor:
        return self.pretrain.base_model(**inputs).last_hidden_state       # (B, T, H)

    def forward(self, inputs: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """End task: (logits (B, C), last-layer hidden states (B, T, H))."""
        h = self._trunk(**inputs)
        return self.head(h[:, 0]), h

    def pretraining_loss(self, inputs: dict, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Masked-token (text: ``mask`` (B, T) over tokens) or masked-patch (image: ``mask``
        (B, n_patches)) modelling loss, and the hidden states of that batch."""
        if self.modality == "text":
            labels = inputs["input_ids"].masked_fill(~mask, -100)
            ids = inputs["input_ids"].masked_fill(mask, self.tokenizer.mask_token_id)
            out = self.pretrain(**{**inputs, "input_ids": ids}, labels=labels, output_hidden_states=True)
        else:
            out = self.pretrain(**inputs, bool_masked_pos=mask, output_hidden_states=True)
        return out.loss, out.hidden_states[-1]


def mtl_transformer_loss(model: TransformerMTL, batch: dict, y: torch.Tensor, aux: dict,
                         aux_mask: torch.Tensor, *, w_mt: float, w_reg: float) -> torch.Tensor:
    """The paper's objective for one end-task batch and one auxiliary batch (scalar)."""
    logits, h = model(batch)
    loss = nn.functional.cross_entropy(logits, y)
    l1 = h.abs().mean()
    if w_mt > 0:
        pre, h_aux = model.pretraining_loss(aux, aux_mask)
        loss = loss + w_mt * pre
        l1 = l1 + h_aux.abs().mean()
    return loss + w_reg * l1


def random_token_mask(input_ids: torch.Tensor, special: torch.Tensor, rate: float,
                      gen: torch.Generator) -> torch.Tensor:
    """(B, T) bool: each non-special token masked with probability ``rate`` (at least one per row)."""
    check_number("rate", rate, low=0, high=1)
    require(input_ids.ndim == 2 and special.shape == input_ids.shape,
            f"input_ids and special must both be (B, T), got {tuple(input_ids.shape)} and {tuple(special.shape)}")
    mask = (torch.rand(input_ids.shape, generator=gen) < rate).to(input_ids.device) & ~special
    first = (~special).float().argmax(dim=1)
    empty = ~mask.any(dim=1)
    mask[empty, first[empty]] = True
    return mask
