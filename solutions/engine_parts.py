"""Register the course's reference solutions as labkit's default engine parts.

Declared as the ``labkit.reference_parts`` entry point in pyproject.toml, so labkit finds the references
without importing ``solutions`` itself. Only the labs present in this tree register (a student
distribution holds the published ones; the grading sandbox sees the published ones of other labs); the
engine uses a placeholder naming the exercise for every other part.
"""
from __future__ import annotations

import importlib


def register() -> None:
    from labkit.engine.parts import REFERENCE_MODULES, register_reference
    for module_name, names in REFERENCE_MODULES.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:      # that lab's solutions are not in this tree
            continue
        for name in names:
            register_reference(name, getattr(module, name), module_name)
