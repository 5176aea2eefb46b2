"""The ten chapters: one dict literal (no registry machinery needed for ten entries).

``module`` names the chapter's glue module once the chapter exists (None: not written yet).
The notebook is ``notebooks/{number:02d}_{slug}.ipynb``; results and tests use the same slug.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

PARTS = {
    "robust-training": "Robust training",
    "ood-prediction": "Predicting OOD performance without labels",
    "unlabeled-web-data": "Learning from unlabeled and web data",
    "language-models": "Language models: embeddings, forgetting, safety",
}


@dataclass(frozen=True)
class ChapterInfo:
    number: int
    slug: str
    title: str
    part: str
    arxiv: str
    bibkey: str
    module: str | None = None

    @property
    def stem(self) -> str:
        """File stem shared by the notebook, executed chapter and results: ``01_sam-label-noise``."""
        return f"{self.number:02d}_{self.slug}"

    def load(self) -> ModuleType:
        if self.module is None:
            raise NotImplementedError(f"chapter {self.stem} is not written yet")
        return importlib.import_module(self.module)


CHAPTERS: dict[str, ChapterInfo] = {c.slug: c for c in (
    ChapterInfo(1, "sam-label-noise", "Why is SAM robust to label noise?", "robust-training",
                "2405.03676", "baek2024sam", "robustbook.chapters.sam_label_noise"),
    ChapterInfo(2, "data-filtering-scaling", "Scaling laws for data filtering",
                "unlabeled-web-data", "2404.07177", "goyal2024scaling", "robustbook.chapters.data_filtering_scaling"),
    ChapterInfo(3, "agreement-foundation", "Agreement-on-the-line for fine-tuned foundation models",
                "ood-prediction", "2404.01542", "saxena2024agreement", "robustbook.chapters.agreement_foundation"),
    ChapterInfo(4, "purple-problem", "Jailbreak defenses and the purple problem",
                "language-models", "2403.14725", "kim2024purple", "robustbook.chapters.purple_problem"),
    ChapterInfo(5, "echo-embeddings", "Repetition improves language model embeddings",
                "language-models", "2402.15449", "springer2024echo", "robustbook.chapters.echo_embeddings"),
    ChapterInfo(6, "autoft", "AutoFT: learning an objective for robust fine-tuning",
                "robust-training", "2401.10220", "choi2024autoft", "robustbook.chapters.autoft"),
    ChapterInfo(7, "contrastive-selftraining", "Contrastive learning and self-training under shift",
                "unlabeled-web-data", "2312.03318", "garg2023complementary", "robustbook.chapters.contrastive_selftraining"),
    ChapterInfo(8, "multitask-groups", "Multitask learning for worst-group outcomes",
                "robust-training", "2312.03151", "kulkarni2024multitask", "robustbook.chapters.multitask_groups"),
    ChapterInfo(9, "tta-lines", "Test-time adaptation strengthens accuracy and agreement lines",
                "ood-prediction", "2310.04941", "kim2024tta", "robustbook.chapters.tta_lines"),
    ChapterInfo(10, "conjugate-prompting", "Forgetting via implicit inference; conjugate prompting",
                "language-models", "2309.10105", "kotha2024forgetting", "robustbook.chapters.conjugate_prompting"),
)}


def get_chapter(slug: str) -> ChapterInfo:
    """The chapter named ``slug``; a clear error listing the known slugs otherwise."""
    try:
        return CHAPTERS[slug]
    except KeyError:
        raise KeyError(f"unknown chapter {slug!r}; known chapters: {', '.join(CHAPTERS)}") from None


def implemented() -> list[ChapterInfo]:
    """Chapters that have a module (and therefore a notebook), in book order."""
    return sorted((c for c in CHAPTERS.values() if c.module), key=lambda c: c.number)
