"""Shared helpers for the project's tests: find exercises in source/, build variant submissions."""
from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path

from autograder import extract
from autograder.registry import all_graders

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "source"
RELEASE = REPO / "release"
CORPUS = Path(__file__).resolve().parent / "corpus"


@lru_cache(maxsize=None)
def source_notebooks() -> tuple[Path, ...]:
    return tuple(sorted(SOURCE.glob("*/*.ipynb")))


@lru_cache(maxsize=None)
def exercise_home() -> dict[str, Path]:
    """solution grade_id -> the source notebook that defines it."""
    home = {}
    for path in source_notebooks():
        for gid in extract.solution_ids(extract.read_notebook(path)):
            home[gid] = path
    return home


def grader_of_exercise(exercise: str):
    for g in all_graders().values():
        if exercise in g.exercises:
            return g
    raise LookupError(f"no grader lists exercise {exercise!r} in EXERCISES")


def code_with_variant(exercise: str, variant_src: str) -> tuple[object, str, str]:
    """(grader, the student's code, the course setup code) for the exercise's notebook with its solution
    cell replaced by ``variant_src``, extracted as ``autograder grade`` extracts a submission."""
    grader = grader_of_exercise(exercise)
    nb = copy.deepcopy(extract.read_notebook(exercise_home()[exercise]))
    for cell in nb.cells:
        if extract.is_solution_cell(cell) and extract.grade_id(cell) == exercise:
            cell.source = variant_src
    return grader, extract.solution_code(nb, list(grader.exercises), f"corpus:{exercise}"), \
        extract.setup_code(nb, f"setup of {exercise_home()[exercise].name}")
