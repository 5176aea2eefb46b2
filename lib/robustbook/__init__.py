"""robustbook: the library behind "Robustness, Reproduced".

Capability modules (``optim``, ``data``, ``models``, ``train``, ``book`` ...) hold the algorithms;
``robustbook.chapters`` holds one thin glue module per chapter. Dependencies point one way:
capability modules never import chapter modules.
"""

from importlib import metadata

try:  # one source of truth: pyproject.toml's version, as installed
    __version__ = metadata.version("robustbook")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
