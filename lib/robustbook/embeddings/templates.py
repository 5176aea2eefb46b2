"""Prompt templates for classical and echo embeddings, and exact token-span bookkeeping.

Template syntax (the convention of the official echo-embeddings code, Springer et al., 2024):

* text outside braces is literal and never pooled, e.g. ``<s>Document:``;
* ``{...}`` is pooled: its ``%%name%%`` variables are filled in, and its tokens are averaged
  (``mean``) or its last token taken (``last``);
* ``{!...}`` is filled in the same way but not pooled.

Every piece is tokenised separately, with no automatic BOS/EOS (write ``<s>`` and ``</s>`` in the
template), so the pooled positions are known exactly: ``render`` returns, for every token, whether
it is pooled. Echo templates repeat the text and pool only the second occurrence (plus ``</s>``
in the paper's query/document templates): the second occurrence's tokens have attended to the
whole first occurrence, so even its *early* tokens can carry information about *late* words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BRACES = re.compile(r"\{(.+?)\}", re.DOTALL)
_VARIABLE = re.compile(r"%%(\w+)%%")

# The paper's templates (official repository README), fine-tuned and zero-shot evaluation.
# Echo: the text twice, pooled over the second occurrence and the final </s>.
PAPER_TEMPLATES: dict[str, dict[str, str]] = {
    "echo": {
        "query": "<s>Instruct:{!%%prompt%%,}\nQuery:{!%%text%%}\nQuery again:{%%text%%}{</s>}",
        "document": "<s>Document:{!%%text%%}\nDocument again:{%%text%%}{</s>}",
    },
    # Classical: the same prompts with the first occurrence removed; pooled over the only
    # occurrence and </s> (the apples-to-apples baseline of the paper).
    "classical": {
        "query": "<s>Instruct:{!%%prompt%%,}\nQuery:{%%text%%}{</s>}",
        "document": "<s>Document:{%%text%%}{</s>}",
    },
}
# Zero-shot echo prompt (confirmed by the first author): pool only the second S. The classical
# zero-shot wording is our choice: the same instruction style with a single occurrence.
ZERO_SHOT_TEMPLATES: dict[str, str] = {
    "echo": "<s>Rewrite the following paragraph:{!%%text%%}\nThe rewritten paragraph:{%%text%%}",
    "classical": "<s>Write the following paragraph:{%%text%%}",
}


@dataclass(frozen=True)
class Piece:
    """One separately tokenised piece: ``text`` (with ``%%var%%`` when ``fill``), pooled or not."""

    text: str
    pooled: bool
    fill: bool


@dataclass(frozen=True)
class Template:
    """A parsed template; ``source`` keeps the original string."""

    source: str
    pieces: tuple[Piece, ...]

    @property
    def variables(self) -> set[str]:
        return {v for p in self.pieces if p.fill for v in _VARIABLE.findall(p.text)}


def parse_template(source: str) -> Template:
    """Split ``source`` into literal, pooled ``{...}`` and unpooled ``{!...}`` pieces."""
    pieces, start = [], 0
    for match in _BRACES.finditer(source):
        if match.start() > start:
            pieces.append(Piece(source[start:match.start()], pooled=False, fill=False))
        inner = match.group(1)
        if inner.startswith("!"):
            pieces.append(Piece(inner[1:], pooled=False, fill=True))
        else:
            pieces.append(Piece(inner, pooled=True, fill=True))
        start = match.end()
    if start < len(source):
        pieces.append(Piece(source[start:], pooled=False, fill=False))
    if not any(p.pooled for p in pieces):
        raise ValueError(f"template pools nothing (no {{...}} piece): {source!r}")
    return Template(source, tuple(pieces))


@dataclass(frozen=True)
class Encoded:
    """One rendered input: token ids and, per token, whether it is pooled (same length)."""

    input_ids: tuple[int, ...]
    pooled: tuple[bool, ...]

    @property
    def pooled_positions(self) -> list[int]:
        return [i for i, p in enumerate(self.pooled) if p]


def _fill(text: str, values: dict[str, str]) -> str:
    def replace(m: re.Match) -> str:
        if m.group(1) not in values:
            raise KeyError(f"template variable %%{m.group(1)}%% has no value (given: {sorted(values)})")
        return values[m.group(1)]
    return _VARIABLE.sub(replace, text)


def render(template: Template | str, tokenizer, values: dict[str, str],
           max_tokens: int | None = None) -> Encoded:
    """Tokenise ``template`` filled with ``values``, piece by piece, without special tokens added
    by the tokenizer. ``max_tokens`` truncates each filled piece separately (so ``{</s>}`` in its
    own braces is never cut off, as in the official code)."""
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
                                   or max_tokens < 1):
        raise ValueError(f"max_tokens must be None or an integer >= 1, got {max_tokens!r}")
    template = parse_template(template) if isinstance(template, str) else template
    ids: list[int] = []
    pooled: list[bool] = []
    for piece in template.pieces:
        text = _fill(piece.text, values) if piece.fill else piece.text
        if not text:
            continue
        toks = tokenizer(text, add_special_tokens=False)["input_ids"]
        if piece.fill and max_tokens is not None:
            toks = toks[:max_tokens]
        ids += toks
        pooled += [piece.pooled] * len(toks)
    return Encoded(tuple(ids), tuple(pooled))


def show_pooled(encoded: Encoded, tokenizer) -> str:
    """A one-line picture of an input: tokens, pooled ones in ``[brackets]``."""
    tokens = tokenizer.convert_ids_to_tokens(list(encoded.input_ids))
    return " ".join(f"[{t}]" if p else t for t, p in zip(tokens, encoded.pooled)).replace("\n", "\\n")
