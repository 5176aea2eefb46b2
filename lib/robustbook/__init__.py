"""robustbook: the library behind "Robustness, Reproduced".

Capability modules (``optim``, ``data``, ``models``, ``train``, ``book`` ...) hold the algorithms;
``robustbook.chapters`` holds one thin glue module per chapter. Dependencies point one way:
capability modules never import chapter modules.
"""

__version__ = "0.1.0"
