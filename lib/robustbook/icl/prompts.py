"""Prompt datasets of Kotha et al. (2024, Sec. 5): in-context learning in conflict with
instruction following, and the conjugate "languages" that move a prompt away from the fine-tuning
distribution while keeping the task.

Each input is an instruction-like sentence (a question or request). The in-context task ignores
the instruction: ``repeat`` copies the input, ``capslock`` upper-cases it. Two demonstrations and
a query make a prompt; a model that follows the demonstrations answers with the task's output, an
instruction-tuned model tends to answer the instruction instead (forgotten in-context learning).
Conjugates: ``en`` (identity), ``leetspeak`` and hyphenated ``piglatin`` (both with exact
inverses on letter-only text), or a translation table read from disk (``translations``).
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from robustbook._checks import check_int, require

INSTRUCTIONS = (
    "What is the capital of France?", "Write a short poem about the sea.", "How do airplanes fly?",
    "Name three primary colors.", "Explain why the sky is blue.", "Give me a recipe for pancakes.",
    "Who wrote the play Hamlet?", "Translate hello into Spanish.", "List four kinds of fruit.",
    "Describe a rainy afternoon.", "What is the boiling point of water?", "Tell me a joke about cats.",
    "Summarize the plot of Cinderella.", "How many legs does a spider have?", "Suggest a name for a dog.",
    "Why do leaves change color?", "Write a greeting for a birthday card.", "What causes the seasons?",
    "Recommend a book for a long trip.", "Explain how a rainbow forms.", "What do bees make?",
    "Describe the taste of lemons.", "How far away is the moon?", "Write a haiku about winter.",
)
TASKS = ("repeat", "capslock")
LANGUAGES = ("en", "leetspeak", "piglatin")  # others need a translation table
LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"}
_UNLEET = {v: k for k, v in LEET.items()}
_VOWELS = "aeiouAEIOU"


def apply_task(task: str, text: str) -> str:
    """The in-context task's answer for ``text``."""
    if task == "repeat":
        return text
    if task == "capslock":
        return text.upper()
    raise ValueError(f"task must be one of {TASKS}, got {task!r}")


def to_leetspeak(text: str) -> str:
    """Replace a, e, i, o, s, t (either case) by 4, 3, 1, 0, 5, 7. Exact inverse on digit-free text."""
    if any(ch in _UNLEET for ch in text):
        raise ValueError("leetspeak is invertible only on text without the digits 0 1 3 4 5 7")
    return "".join(LEET.get(ch.lower(), ch) for ch in text)


def from_leetspeak(text: str) -> str:
    """Inverse of ``to_leetspeak`` up to case (the digits carry no case: letters come back lower)."""
    return "".join(_UNLEET.get(ch, ch) for ch in text)


def _pig_word(word: str) -> str:
    m = re.fullmatch(r"([^aeiouAEIOU]*)([A-Za-z]*)", word)
    if not m or not word:
        return word
    head, rest = m.groups()
    return f"{rest}-{head}ay" if rest else f"{head}-ay"


def to_pig_latin(text: str) -> str:
    """Hyphenated Pig Latin per word (``hello`` -> ``ello-hay``, ``apple`` -> ``apple-ay``);
    punctuation after a word stays after it. Invertible with ``from_pig_latin``."""
    return re.sub(r"[A-Za-z]+", lambda m: _pig_word(m.group()), text)


def from_pig_latin(text: str) -> str:
    """Inverse of ``to_pig_latin``: ``ello-hay`` -> ``hello``, ``apple-ay`` -> ``apple``."""
    return re.sub(r"([A-Za-z]*)-([A-Za-z]*)ay", lambda m: m.group(2) + m.group(1), text)


def load_translations(data_dir: str | Path, language: str) -> dict[str, str]:
    """A translation table ``{english sentence: translation}`` from
    ``data_dir/translations/<language>.json``; it must cover every sentence of ``INSTRUCTIONS``."""
    path = Path(data_dir) / "translations" / f"{language}.json"
    if not path.is_file():
        raise FileNotFoundError(f"missing translation table {path} (JSON: English sentence -> "
                                f"{language} translation, one entry per prompt sentence)")
    table = json.loads(path.read_text())
    missing = [s for s in INSTRUCTIONS if s not in table]
    if missing:
        raise ValueError(f"{path} lacks translations of {len(missing)} sentences, e.g. {missing[0]!r}")
    return table


def conjugate_text(text: str, language: str, translations: dict[str, str] | None = None) -> str:
    """``text`` in the conjugate ``language``: en, leetspeak, piglatin, or via ``translations``."""
    if language == "en":
        return text
    if language == "leetspeak":
        return to_leetspeak(text)
    if language == "piglatin":
        return to_pig_latin(text)
    if translations is None:
        raise ValueError(f"language {language!r} needs a translation table (load_translations)")
    return translations[text]


@dataclass(frozen=True)
class IclPrompt:
    task: str
    language: str
    prompt: str
    answer: str          # what following the in-context examples gives (in the prompt's language)


def format_prompt(demos: list[tuple[str, str]], query: str) -> str:
    """``Input: q\\nOutput: a\\n\\n`` per demonstration, then ``Input: query\\nOutput:``."""
    shots = "".join(f"Input: {q}\nOutput: {a}\n\n" for q, a in demos)
    return f"{shots}Input: {query}\nOutput:"


def icl_prompts(task: str, language: str, n: int, *, seed: int, n_shots: int = 2,
                translations: dict[str, str] | None = None) -> list[IclPrompt]:
    """``n`` deterministic prompts: ``n_shots`` demonstrations and a query drawn (distinct) from
    ``INSTRUCTIONS`` by ``random.Random(seed)``, all in ``language``."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if language not in LANGUAGES and translations is None:
        raise ValueError(f"language must be one of {LANGUAGES} or come with a translation table "
                         f"(load_translations), got {language!r}")
    check_int("n", n, minimum=0)
    check_int("n_shots", n_shots, minimum=0)
    require(n_shots < len(INSTRUCTIONS), f"n_shots must leave a query among the {len(INSTRUCTIONS)} "
                                         f"sentences (n_shots < {len(INSTRUCTIONS)}), got {n_shots}")
    rng = random.Random(f"{seed}-{task}")      # same sentences in every language: paired comparison
    out = []
    for _ in range(n):
        picked = [conjugate_text(s, language, translations) for s in rng.sample(INSTRUCTIONS, n_shots + 1)]
        demos = [(s, apply_task(task, s)) for s in picked[:-1]]
        out.append(IclPrompt(task, language, format_prompt(demos, picked[-1]), apply_task(task, picked[-1])))
    return out
