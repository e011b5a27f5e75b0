"""Graders in both directions: every wrong variant loses points, every right variant gets full marks.

The corpus lives in tests/corpus/<exercise>/{wrong,right}_*.py; each file replaces the exercise's
solution cell (the notebook's setup cells are kept).
"""
from __future__ import annotations

import pytest

from autograder.feedback import feedback_text
from autograder.runner import run_grader

from ._course import CORPUS, exercise_home

VARIANTS = sorted(CORPUS.glob("*/*.py"))
EXERCISES = sorted(exercise_home())


@pytest.mark.parametrize("path", VARIANTS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_variant_scored_as_expected(path):
    from ._course import code_with_variant
    exercise = path.parent.name
    assert exercise in exercise_home(), f"corpus folder {exercise} names no solution cell in source/"
    grader, code, setup = code_with_variant(exercise, path.read_text())
    result = run_grader(grader, code, origin=str(path), setup=setup)
    report = feedback_text(result)
    if path.stem.startswith("right_"):
        assert result.score == result.max_points, f"a correct alternative lost points:\n{report}"
    else:
        assert path.stem.startswith("wrong_"), f"corpus files are named right_* or wrong_*: {path.name}"
        assert result.score < result.max_points, f"a wrong implementation got full marks:\n{report}"


@pytest.mark.parametrize("exercise", EXERCISES)
def test_every_exercise_has_a_corpus(exercise):
    folder = CORPUS / exercise
    wrong = list(folder.glob("wrong_*.py"))
    right = list(folder.glob("right_*.py"))
    assert len(wrong) >= 5 and len(right) >= 2, \
        f"{exercise}: {len(wrong)} wrong and {len(right)} right variants (need >= 5 and >= 2)"
