"""Make the course's reference solutions findable by labkit (its engine's default parts, and the exercises
later labs build on) without labkit importing ``solutions``: ``register`` is the ``labkit.reference_parts``
entry point (pyproject.toml) and registers :func:`find`. Only the exercises present in a tree are found (a
student distribution holds the published labs; a grading sandbox the published labs and what the lab builds
on, ``course.toml``).
"""
from __future__ import annotations

import importlib


def find(lab: str, exercise: str):
    """The reference module of ``exercise`` of ``lab``, or None if this tree does not have it."""
    if not (lab.isidentifier() and exercise.isidentifier()):
        return None
    try:
        return importlib.import_module(f"solutions.{lab}.{exercise}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("solutions"):
            return None                       # that lab or exercise is not in this tree
        raise


def register() -> None:
    from labkit.earlier_labs import register_reference_finder
    register_reference_finder(find)
