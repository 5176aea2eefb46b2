"""Chapter 04's paper preset: a chat model and purple questions read from ``data_dir``.

On disk::

    data_dir/<model_name>/            a transformers causal LM (config.json, weights, tokenizer)
    data_dir/purple_questions.json    {"test": [purple-eliciting questions], "clean": [other questions]}

The model is attacked as it is (the paper's DPO-defended Llama-2-7b-chat, or any chat model); its
chat template (when the tokenizer has one) renders every prompt, the suffix going at the end of
the user's message.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from robustbook.icl.llm_eval import load_causal_lm, missing_models

QUESTIONS_FILE = "purple_questions.json"
MARK = "\u2063SUFFIX\u2063"


def check_paper_inputs(data_dir: str | None, model_name: str) -> None:
    """Raise ``FileNotFoundError`` naming every missing input and where it goes."""
    missing = missing_models(data_dir, [model_name]) if data_dir else [f"<data_dir>/{model_name}"]
    questions = Path(data_dir) / QUESTIONS_FILE if data_dir else None
    if questions is None or not questions.is_file():
        missing.append(str(questions) if questions else f"<data_dir>/{QUESTIONS_FILE}")
    if missing:
        raise FileNotFoundError(
            "preset paper needs a chat model folder (config.json, weights, tokenizer) and the purple "
            f"questions ({QUESTIONS_FILE}: {{'test': [...], 'clean': [...]}}); missing: "
            + ", ".join(missing) + ". Set data_dir to the folder that holds them.")


def load_questions(data_dir: str) -> tuple[list[str], list[str]]:
    """(purple-eliciting test questions, clean questions) from ``purple_questions.json``."""
    data = json.loads((Path(data_dir) / QUESTIONS_FILE).read_text())
    if not data.get("test") or not data.get("clean"):
        raise ValueError(f"{QUESTIONS_FILE} needs non-empty lists 'test' and 'clean'")
    return list(data["test"]), list(data["clean"])


def load_chat_model(data_dir: str, model_name: str, device: torch.device):
    """(model, tokenizer) from ``data_dir/model_name``, eval mode, right padding."""
    model, tokenizer = load_causal_lm(Path(data_dir) / model_name, device)
    tokenizer.padding_side = "right"
    return model, tokenizer


def render(tokenizer, question: str) -> tuple[str, str]:
    """(text before the suffix, text after it) of the chat prompt for ``question``: the model's
    chat template with the suffix at the end of the user turn, or the plain
    ``<s> user : question [suffix] assistant :`` format when the tokenizer has no template."""
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template([{"role": "user", "content": f"{question} {MARK}"}],
                                             tokenize=False, add_generation_prompt=True)
        before, after = text.split(MARK)
        return before.rstrip(), after.strip()
    from robustbook.jailbreak.corpus import ASSISTANT, prompt_text
    return prompt_text(question).removesuffix(ASSISTANT).strip(), ASSISTANT


def paper_subject(s, device: torch.device):
    """The chat model on disk (already defended, not trained here) and the questions on disk."""
    from robustbook.chapters.purple_problem.experiments import Subject
    model, tok = load_chat_model(s.data_dir, s.model_name, device)
    test, clean = load_questions(s.data_dir)
    prompts = [" ".join(render(tok, q)) for q in clean]
    nan = float("nan")
    stats = {"pretrain_loss": nan, "pretrain_s": 0.0, "purple_before": nan, "benign_before": nan,
             "dpo_loss": [], "dpo_s": 0.0, "benign_after": nan, "purple_train_after": nan}
    return Subject(model, tok, test, prompts[::2], prompts[1::2] or prompts[::2],
                   lambda q: render(tok, q), None, [], stats)
