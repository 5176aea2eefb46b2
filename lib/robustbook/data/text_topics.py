"""A topic-classification task in plain English with real distribution shifts, built offline
(for chapter 03's language version: linear heads on a frozen pretrained text encoder).

A *post* is about one of ``n_topics`` topics. It names two words of its topic and one word of
another topic (a distractor), plus a neutral filler word, in a sentence template. Its label
is its topic: the only topic named twice. Posts are written in one register (news reports) with
each topic's *common* words; the shifts change how the same posts are written:

* ``vocabulary`` — each topic word (distractor included) is, with probability severity / 5, replaced
  by one of the topic's *held-out* words (related words never seen in training: "referee" for
  sports, "drizzle" for weather);
* ``style`` — the same words in another register (casual chat templates, never seen in
  training); one severity;
* ``typos`` — each word of three or more letters gets one keyboard-style edit (swap, drop,
  double or replace a letter) with probability severity / 10.

A shifted set re-renders the *same* posts (same topics, words and fillers), as a corrupted image
set re-renders the same test images, so only the shift differs between ID and OOD.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from robustbook._checks import check_int, check_number, require

# topic: (common words, used in training and the ID test set; held-out words, vocabulary shift)
TOPICS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "sports": (("football", "tennis", "goal", "match", "team", "coach", "player", "score"),
               ("basketball", "referee", "stadium", "tournament", "athlete", "league", "trophy", "umpire")),
    "food": (("bread", "soup", "cheese", "dinner", "kitchen", "recipe", "pasta", "salad"),
             ("sandwich", "bakery", "omelette", "chef", "dessert", "noodles", "breakfast", "spices")),
    "weather": (("rain", "storm", "snow", "wind", "cloud", "sunshine", "thunder", "fog"),
                ("hurricane", "drizzle", "blizzard", "forecast", "humidity", "tornado", "hail", "monsoon")),
    "music": (("guitar", "song", "concert", "piano", "band", "melody", "singer", "drum"),
              ("violin", "orchestra", "album", "chorus", "symphony", "rapper", "lyrics", "saxophone")),
    "money": (("bank", "price", "money", "loan", "market", "budget", "salary", "tax"),
              ("mortgage", "investor", "stocks", "inflation", "dividend", "wallet", "currency", "profit")),
    "health": (("doctor", "hospital", "medicine", "fever", "nurse", "patient", "illness", "clinic"),
               ("surgeon", "vaccine", "pharmacy", "diagnosis", "symptoms", "therapy", "infection", "ambulance")),
}
FILLERS: tuple[str, ...] = tuple("""
people morning yesterday city friend week family office street village evening neighbour
weekend school town road holiday afternoon crowd group
""".split())
# {a} {b}: the topic's two words, {x}: the distractor, {f}: a filler
NEWS_TEMPLATES: tuple[str, ...] = (
    "Officials say the {a} and the {b} drew notice near the {x} this {f}.",
    "A {f} report links the {a} to the {b}, not to the {x}.",
    "According to the {f}, the {b} and the {a} matter more than the {x}.",
    "Sources confirm the {a} met the {b} after the {x} on {f}.",
)
CHAT_TEMPLATES: tuple[str, ...] = (
    "omg the {a} and the {b} lol, also that {x} haha",
    "ngl my {f} was all {b} and {a}... and the {x} too??",
    "cant stop thinking abt {a} + {b} tbh, not the {x}",
    "lmao my {f} saw the {b} then the {a} then the {x}",
)
SHIFT_KINDS: tuple[str, ...] = ("vocabulary", "style", "typos")
KEYBOARD = "qwertyuiopasdfghjklzxcvbnm"


@dataclass(frozen=True)
class Post:
    """One post: ``topic``; its topic words ``a``, ``b`` (index into the topic's word lists);
    ``x`` = (distractor topic, word index); filler ``f``; ``template`` index; and per
    word slot whether it uses the held-out list (``heldout``: a, b, x)."""

    topic: int
    a: int
    b: int
    x: tuple[int, int]
    f: str
    template: int
    heldout: tuple[bool, bool, bool] = (False, False, False)


def topic_names(n_topics: int) -> tuple[str, ...]:
    check_int("n_topics", n_topics, minimum=2)
    require(n_topics <= len(TOPICS), f"n_topics must be in [2, {len(TOPICS)}], got {n_topics}")
    return tuple(TOPICS)[:n_topics]


def sample_posts(n: int, rng: np.random.Generator, n_topics: int = len(TOPICS)) -> list[Post]:
    """``n`` posts with uniform topics, two distinct common words of the topic, a distractor
    word of another topic, a filler and a news template."""
    check_int("n", n, minimum=0)
    names = topic_names(n_topics)
    n_words = len(TOPICS[names[0]][0])
    posts = []
    for _ in range(n):
        topic = int(rng.integers(n_topics))
        a, b = (int(i) for i in rng.choice(n_words, 2, replace=False))
        other = int((topic + rng.integers(1, n_topics)) % n_topics)
        f = FILLERS[int(rng.integers(len(FILLERS)))]
        posts.append(Post(topic, a, b, (other, int(rng.integers(n_words))), f,
                          int(rng.integers(len(NEWS_TEMPLATES)))))
    return posts


def _word(topic: int, index: int, heldout: bool) -> str:
    common, held = TOPICS[tuple(TOPICS)[topic]]
    return (held if heldout else common)[index]


def render(post: Post, style: str = "news") -> str:
    """The post's text in ``style`` ("news", the training register, or "chat")."""
    require(style in ("news", "chat"), f"style must be 'news' or 'chat', got {style!r}")
    templates = NEWS_TEMPLATES if style == "news" else CHAT_TEMPLATES
    ha, hb, hx = post.heldout
    return templates[post.template % len(templates)].format(
        a=_word(post.topic, post.a, ha), b=_word(post.topic, post.b, hb), x=_word(*post.x, hx),
        f=post.f)


def with_heldout_words(posts: Sequence[Post], share: float, rng: np.random.Generator) -> list[Post]:
    """Each topic word slot (a, b and the distractor) switched to the held-out list with
    probability ``share``; the word index is kept, so "football" becomes "basketball"."""
    check_number("share", share, low=0, high=1)
    return [replace(p, heldout=tuple(bool(u) for u in rng.random(3) < share)) for p in posts]


def typo(word: str, rng: np.random.Generator) -> str:
    """One keyboard-style edit of ``word`` (swap two neighbours, drop, double or replace a letter);
    words shorter than three letters are returned unchanged."""
    if len(word) < 3:
        return word
    i = int(rng.integers(len(word) - 1))
    kind = int(rng.integers(4))
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == 1:
        return word[:i] + word[i + 1:]
    if kind == 2:
        return word[:i] + word[i] + word[i:]
    letter = KEYBOARD[int(rng.integers(len(KEYBOARD)))]
    return word[:i] + letter + word[i + 1:]


def add_typos(text: str, rate: float, rng: np.random.Generator) -> str:
    """Each alphabetic word of three or more letters edited by :func:`typo` with probability ``rate``."""
    check_number("rate", rate, low=0, high=1)
    out = []
    for token in text.split(" "):
        core = token.rstrip(".,?!")
        edit = core.isalpha() and len(core) >= 3 and rng.random() < rate
        out.append(typo(core, rng) + token[len(core):] if edit else token)
    return " ".join(out)


def shifted_texts(posts: Sequence[Post], kind: str, severity: int, rng: np.random.Generator) -> list[str]:
    """The posts rendered under one shift (module docstring): ``kind`` in ``SHIFT_KINDS``,
    ``severity`` in 1..5 (``style`` has one level and ignores it)."""
    require(kind in SHIFT_KINDS, f"unknown text shift {kind!r}; choose from {', '.join(SHIFT_KINDS)}")
    check_int("severity", severity, minimum=1)
    require(severity <= 5, f"severity must be in 1..5, got {severity}")
    if kind == "vocabulary":
        return [render(p) for p in with_heldout_words(posts, severity / 5, rng)]
    if kind == "style":
        return [render(p, "chat") for p in posts]
    return [add_typos(render(p), severity / 10, rng) for p in posts]
