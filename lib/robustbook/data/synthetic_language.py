"""A synthetic language whose meaning sits late in the sentence (for echo embeddings, chapter 05).

A sentence is an *early span* of ``early_len`` content words drawn uniformly at random (no meaning)
followed by a *late span* of ``late_len`` distinct synonyms of one of ``n_concepts`` concepts (the
meaning). Two sentences "mean the same" when their late spans name the same concept, whatever
their early words. The words are real English words, so a pretrained encoder that never saw this
language (all-MiniLM-L6-v2) can still be evaluated on it: its synonym groups are real synonyms.

Training text for a language model is ``<s> x </s>`` or, with probability ``repeat_fraction``,
``<s> x <sep> x </s>``: the repeated form teaches a tiny model to use an earlier copy of its input,
which is what echo embeddings rely on in large pretrained models.

The task builders return plain lists of ``Sentence`` so that any embedding model can be scored on
them (see ``robustbook.embeddings.metrics``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robustbook._checks import check_int, require

CONTENT_WORDS: tuple[str, ...] = tuple("""
table chair river mountain apple window door car house tree book pencil garden city road bridge
ship train bird horse dog cat lamp bottle phone cup plate spoon clock coin map key box bag shoe hat
shirt coat bread cheese milk stone sand wall floor roof field forest lake island desk bed sofa piano
drum guitar ticket letter card bell wheel rope ladder engine
""".split())

CONCEPTS: dict[str, tuple[str, ...]] = {
    "big": ("big", "large", "huge", "giant"),
    "happy": ("happy", "glad", "merry", "cheerful"),
    "fast": ("fast", "quick", "rapid", "swift"),
    "cold": ("cold", "chilly", "freezing", "icy"),
    "angry": ("angry", "furious", "mad", "annoyed"),
    "smart": ("smart", "clever", "bright", "intelligent"),
    "rich": ("rich", "wealthy", "affluent", "prosperous"),
    "old": ("old", "ancient", "elderly", "aged"),
}

BOS, EOS, SEP, PAD, UNK = "<s>", "</s>", "<sep>", "<pad>", "<unk>"
SPECIAL_TOKENS: tuple[str, ...] = (PAD, UNK, BOS, EOS, SEP)


@dataclass(frozen=True)
class Sentence:
    """One sentence: ``early`` words (no meaning), ``late`` synonyms of concept number ``concept``."""

    early: tuple[str, ...]
    late: tuple[str, ...]
    concept: int

    @property
    def text(self) -> str:
        return " ".join(self.early + self.late)

    @property
    def early_text(self) -> str:
        return " ".join(self.early)

    @property
    def late_text(self) -> str:
        return " ".join(self.late)

    def fields(self) -> dict[str, str]:
        """Template variables: ``text`` (whole sentence), ``early`` and ``late`` (its two spans)."""
        return {"text": self.text, "early": self.early_text, "late": self.late_text}


@dataclass(frozen=True)
class SyntheticLanguage:
    """The language's sizes. Words come from ``CONTENT_WORDS`` and ``CONCEPTS`` (in order)."""

    n_content: int = 64
    n_concepts: int = 8
    early_len: int = 6
    late_len: int = 3

    def __post_init__(self) -> None:
        synonyms = min(len(v) for v in CONCEPTS.values())
        for name in ("n_content", "n_concepts", "early_len", "late_len"):
            value = getattr(self, name)
            require(isinstance(value, (int, np.integer)) and not isinstance(value, bool),
                    f"{name} must be an integer, got {value!r}")
        if not 1 <= self.n_content <= len(CONTENT_WORDS):
            raise ValueError(f"n_content must be in [1, {len(CONTENT_WORDS)}], got {self.n_content}")
        if not 2 <= self.n_concepts <= len(CONCEPTS):
            raise ValueError(f"n_concepts must be in [2, {len(CONCEPTS)}], got {self.n_concepts}")
        if self.early_len < 1:
            raise ValueError(f"early_len must be >= 1, got {self.early_len}")
        if not 2 <= self.late_len <= synonyms - 1:
            # late_len < synonyms leaves room for a positive with other synonyms (late_triplets)
            raise ValueError(f"late_len must be in [2, {synonyms - 1}], got {self.late_len}")

    @property
    def content_words(self) -> tuple[str, ...]:
        return CONTENT_WORDS[:self.n_content]

    @property
    def concept_names(self) -> tuple[str, ...]:
        return tuple(CONCEPTS)[:self.n_concepts]

    @property
    def concept_words(self) -> tuple[tuple[str, ...], ...]:
        return tuple(CONCEPTS[name] for name in self.concept_names)

    def vocabulary(self) -> list[str]:
        """Special tokens, then content words, then concept words (a word-level vocabulary)."""
        return [*SPECIAL_TOKENS, *self.content_words, *(w for g in self.concept_words for w in g)]

    def early_span(self, rng: np.random.Generator) -> tuple[str, ...]:
        idx = rng.integers(0, self.n_content, self.early_len)
        return tuple(self.content_words[i] for i in idx)

    def late_span(self, concept: int, rng: np.random.Generator,
                  avoid: tuple[str, ...] | None = None) -> tuple[str, ...]:
        """``late_len`` distinct synonyms of ``concept`` in random order (never equal to ``avoid``)."""
        self._check_concept(concept)
        group = self.concept_words[concept]
        while True:
            late = tuple(group[i] for i in rng.permutation(len(group))[:self.late_len])
            if late != avoid:
                return late

    def _check_concept(self, concept: int) -> None:
        require(isinstance(concept, (int, np.integer)) and 0 <= concept < self.n_concepts,
                f"concept must be an integer in [0, n_concepts={self.n_concepts}), got {concept!r}")

    def sentence(self, rng: np.random.Generator, concept: int | None = None,
                 early: tuple[str, ...] | None = None) -> Sentence:
        if concept is not None:
            self._check_concept(concept)
        concept = int(rng.integers(0, self.n_concepts)) if concept is None else concept
        early = self.early_span(rng) if early is None else early
        return Sentence(early, self.late_span(concept, rng), concept)

    def sample(self, n: int, rng: np.random.Generator) -> list[Sentence]:
        check_int("n", n, minimum=0)
        return [self.sentence(rng) for _ in range(n)]

    def training_texts(self, n: int, rng: np.random.Generator, repeat_fraction: float) -> list[str]:
        """``n`` language-model training texts: ``<s> x </s>``, or ``<s> x <sep> x </s>`` with
        probability ``repeat_fraction`` (a fresh random sentence x each time)."""
        if not 0.0 <= repeat_fraction <= 1.0:
            raise ValueError(f"repeat_fraction must be in [0, 1], got {repeat_fraction}")
        check_int("n", n, minimum=0)
        texts = []
        for s, rep in zip(self.sample(n, rng), rng.random(n) < repeat_fraction):
            body = f"{s.text} {SEP} {s.text}" if rep else s.text
            texts.append(f"{BOS} {body} {EOS}")
        return texts

    def _other_concept(self, concept: int, rng: np.random.Generator) -> int:
        return int((concept + rng.integers(1, self.n_concepts)) % self.n_concepts)

    def late_triplets(self, n: int, rng: np.random.Generator) -> list[tuple[Sentence, ...]]:
        """(anchor, positive, negative): all three share the anchor's early span; the positive has
        other synonyms of the anchor's concept, the negative another concept. Only the late
        span tells them apart, so an embedding of the early span alone must score 1/2."""
        check_int("n", n, minimum=0)
        out = []
        for _ in range(n):
            anchor = self.sentence(rng)
            pos = Sentence(anchor.early, self.late_span(anchor.concept, rng, avoid=anchor.late),
                           anchor.concept)
            neg = self.sentence(rng, self._other_concept(anchor.concept, rng), early=anchor.early)
            out.append((anchor, pos, neg))
        return out

    def hard_triplets(self, n: int, rng: np.random.Generator) -> list[tuple[Sentence, ...]]:
        """(anchor, positive, negative) for whole-sentence embeddings: the positive has the
        anchor's concept but new early words, the negative the anchor's early words (6 of 9
        words shared) but another concept. Surface overlap points to the negative, meaning to
        the positive."""
        check_int("n", n, minimum=0)
        out = []
        for _ in range(n):
            anchor = self.sentence(rng)
            pos = Sentence(self.early_span(rng), self.late_span(anchor.concept, rng, avoid=anchor.late),
                           anchor.concept)
            neg = self.sentence(rng, self._other_concept(anchor.concept, rng), early=anchor.early)
            out.append((anchor, pos, neg))
        return out

    def sts_pairs(self, n: int, rng: np.random.Generator) -> tuple[list[Sentence], list[Sentence], list[float]]:
        """``n`` sentence pairs with a gold similarity in {0, 1} (same concept). Half the pairs share
        their early span, and same- and different-concept pairs are equally frequent, so the
        early words carry no information about the score."""
        check_int("n", n, minimum=0)
        first, second, gold = [], [], []
        for i in range(n):
            a = self.sentence(rng)
            same = i % 2 == 0
            concept = a.concept if same else self._other_concept(a.concept, rng)
            early = a.early if rng.random() < 0.5 else None
            first.append(a)
            second.append(self.sentence(rng, concept, early=early))
            gold.append(float(same))
        return first, second, gold

    def retrieval_task(self, n_queries: int, n_documents: int, rng: np.random.Generator
                       ) -> tuple[list[Sentence], list[Sentence], np.ndarray]:
        """Queries, a corpus and relevance (Q, D) bool: a document is relevant to a query when it
        names the same concept. For each query the corpus holds a positive (same concept, new early
        words) and a distractor (the query's early words, another concept); random sentences
        fill the corpus up to ``n_documents``."""
        check_int("n_queries", n_queries)
        check_int("n_documents", n_documents, minimum=0)  # below 2 * n_queries the corpus is 2 * n_queries
        queries = self.sample(n_queries, rng)
        positives = [self.sentence(rng, q.concept) for q in queries]
        distractors = [self.sentence(rng, self._other_concept(q.concept, rng), early=q.early)
                       for q in queries]
        corpus = positives + distractors + self.sample(max(n_documents - 2 * n_queries, 0), rng)
        relevance = np.array([[d.concept == q.concept for d in corpus] for q in queries])
        return queries, corpus, relevance
