"""What every chapter's ``Config`` shares: the common fields and their checks, resolving knobs left
at ``None`` from the preset, and the parameter help text written once.

A chapter writes::

    @dataclass(frozen=True)
    class Settings(CommonSettings):          # every knob resolved (what ``run`` uses)
        epochs: int
        ...

    @dataclass(frozen=True)
    class Config(ChapterConfig):             # what a user sets: the notebook's parameters cell
        SETTINGS = Settings                  # plain class attributes, not fields
        PRESETS = PRESETS
        epochs: int | None = None            # passes over the training set (cpu 60)

        def check(self) -> None:             # the chapter's own range checks
            require(...)

The ``# help`` comment after each field is the parameter's help text: ``parameters_cell(Config)``
renders the notebook's ``parameters`` cell from it (a test keeps the two equal), so the text exists
once. A chapter may re-declare a common field (same default) to give it its own help text.
"""

from __future__ import annotations

import inspect
import io
import tokenize
from dataclasses import MISSING, dataclass, fields, replace
from typing import Any

from robustbook.runtime import VALID_DEVICES

PRESET_NAMES = ("smoke", "cpu", "paper")


def require(ok: bool, message: str) -> None:
    """Raise ``ValueError(message)`` unless ``ok``: bad parameters fail before any work."""
    if not ok:
        raise ValueError(message)


def require_positive_ints(obj: Any, *names: str) -> None:
    """Each named attribute is None or an integer >= 1."""
    for name in names:
        value = getattr(obj, name)
        require(value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1),
              f"{name} must be a positive integer, got {value!r}")


def require_non_negative(obj: Any, *names: str) -> None:
    """Each named attribute is None or a number >= 0."""
    for name in names:
        value = getattr(obj, name)
        require(value is None or value >= 0, f"{name} must be >= 0, got {value}")


@dataclass(frozen=True)
class CommonSettings:
    """The resolved fields every chapter has; a chapter's ``Settings`` subclasses this and adds
    its own knobs. The reported seeds are ``seed, seed + 1, ..., seed + n_seeds - 1``."""

    preset: str
    seed: int
    device: str
    data_dir: str | None
    threads: int
    n_seeds: int

    @property
    def seeds(self) -> list[int]:
        return list(range(self.seed, self.seed + self.n_seeds))


@dataclass(frozen=True)
class ChapterConfig:
    """The parameters every chapter has, in the contract's order. Subclasses set ``SETTINGS`` and
    ``PRESETS`` and add their knobs (``None`` = the preset's value)."""

    # Plain class attributes (not annotated, so not dataclass fields); subclasses override them.
    SETTINGS = CommonSettings
    PRESETS = {}  # {preset name: {knob: value}}

    preset: str = "cpu"               # "smoke" (seconds, plumbing only) | "cpu" | "paper"
    seed: int = 0                     # first reported seed; seeds seed .. seed + n_seeds - 1
    device: str = "auto"              # "auto" (CUDA if present) | "cpu" | "cuda" | "cuda:N"
    data_dir: str | None = None       # paper preset: folder with the paper's data (see the chapter)
    results_path: str | None = None   # where to write the results JSON (None: nowhere)
    threads: int = 1                  # torch CPU threads (0 means the torch default)
    n_seeds: int | None = None        # reported seeds averaged over (None: the preset's value)

    def __post_init__(self) -> None:
        require(self.preset in PRESET_NAMES, f"preset must be one of {PRESET_NAMES}, got {self.preset!r}")
        require(isinstance(self.seed, int) and not isinstance(self.seed, bool) and self.seed >= 0,
              f"seed must be an integer >= 0, got {self.seed!r}")
        require(isinstance(self.device, str) and self.device.split(":")[0] in VALID_DEVICES,
              f"device must be one of {VALID_DEVICES} (optionally 'cuda:N'), got {self.device!r}")
        require(isinstance(self.threads, int) and self.threads >= 0,
              f"threads must be >= 0 (an integer), got {self.threads!r}")
        require_positive_ints(self, "n_seeds")
        for f in fields(self):  # lists from papermill / the CLI become tuples (hashable, frozen)
            if isinstance(getattr(self, f.name), list):
                object.__setattr__(self, f.name, tuple(getattr(self, f.name)))
        self.check()

    @classmethod
    def from_globals(cls, namespace: dict[str, Any]):
        """The config from the notebook's parameter variables (``Config.from_globals(globals())``)."""
        return cls(**{f.name: namespace[f.name] for f in fields(cls)})

    def check(self) -> None:
        """The chapter's own range checks (override); raise ``ValueError`` via ``require``."""

    def require_data(self) -> None:
        """Are the inputs this preset reads from disk (data files, model weights) present? A chapter
        with a paper preset overrides this to raise ``FileNotFoundError`` naming what is missing and
        where it goes. ``robustbook run`` calls it before a kernel starts; ``start`` calls it too."""

    def resolve(self):
        """The chapter's ``Settings``: every field except ``results_path``, knobs left at ``None``
        taken from ``PRESETS[preset]``, and preset-only values (e.g. which dataset) from the preset."""
        preset = self.PRESETS[self.preset]
        values = {}
        for f in fields(self.SETTINGS):
            value = getattr(self, f.name, None)
            if value is None and f.name in preset:
                value = preset[f.name]
            elif value is None and not hasattr(self, f.name):
                raise KeyError(f"{type(self).__qualname__}: preset {self.preset!r} has no value for "
                               f"{f.name!r}")
            values[f.name] = value
        return self.SETTINGS(**values)

    def with_(self, **changes: Any):
        return replace(self, **changes)


# ---- the parameters cell, written once -------------------------------------------------------

def parameter_help(config_cls: type) -> dict[str, str]:
    """``{field: help}`` from the ``# help`` comments of the field lines, in the class and its
    bases (the most derived declaration wins)."""
    helps: dict[str, str] = {}
    for cls in reversed(config_cls.__mro__):
        if cls is object or not hasattr(cls, "__dataclass_fields__"):
            continue
        helps.update(_field_comments(inspect.getsource(cls)))
    return {f.name: helps.get(f.name, "") for f in fields(config_cls)}


def _field_comments(source: str) -> dict[str, str]:
    """``name: type = value  # help`` lines at the class body's indentation -> {name: help}."""
    out: dict[str, str] = {}
    line_name: dict[int, str] = {}
    tokens = list(tokenize.generate_tokens(io.StringIO(inspect.cleandoc("\n" + source)).readline))
    for i, tok in enumerate(tokens[:-1]):
        nxt = tokens[i + 1]
        if tok.type == tokenize.NAME and nxt.string == ":" and tok.start[1] == 4:
            line_name[tok.start[0]] = tok.string
        if tok.type == tokenize.COMMENT and tok.start[0] in line_name:
            out[line_name[tok.start[0]]] = tok.string.lstrip("#").strip()
    return out


def _type_name(annotation: Any) -> str:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    base = text.replace(" ", "").split("|")
    base = [b for b in base if b != "None"][0].split("[")[0]
    return {"tuple": "list"}.get(base, base)


def _literal(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return '"' + value + '"' if isinstance(value, str) else repr(value)


def parameters_cell(config_cls: type) -> str:
    """The source of the notebook's ``parameters`` cell: one ``name: type = value  # help`` line
    per ``Config`` field, in order (papermill's ``--help-notebook`` reads it)."""
    helps = parameter_help(config_cls)
    lines = []
    for f in fields(config_cls):
        default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
        lines.append(f"{f.name}: {_type_name(f.type)} = {_literal(default)}  # {helps[f.name]}")
    return "\n".join(lines)
