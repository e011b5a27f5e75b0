"""Extract a student's exercise code from a notebook, by nbgrader ``grade_id``, for grading.

The cell-level functions (setup cells, solution cells, one module per exercise) are
:mod:`labkit.notebook_code`, shared with the student's labkit; this module adds what only grading needs:
the grade cells and their points, and the hidden-test regions. When grading, the setup cells come from the
course's own copy of the notebook (they are locked course code, run outside the student import guard) and
only the solution cells come from the submission (see docs/instructor/exercise_contract.md).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from labkit.notebook_code import (SETUP_PREFIX, ExtractionError, cell_code, exercise_code, grade_id,  # noqa: F401
                                  is_setup_cell, is_solution_cell, nbgrader_meta, neutralize_ipython,
                                  read_notebook, setup_code, solution_code, strip_solution_markers)

TEST_PREFIX = "test_"
_HIDDEN_REGION = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?",
                            re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class GradeCell:
    grade_id: str
    points: float
    index: int


def grade_cells(nb) -> list[GradeCell]:
    """Autograded code cells (``grade: true``), in notebook order."""
    out = []
    for i, cell in enumerate(nb.cells):
        meta = nbgrader_meta(cell)
        if cell.get("cell_type") == "code" and meta.get("grade") and not meta.get("solution"):
            out.append(GradeCell(meta["grade_id"], float(meta.get("points", 0)), i))
    return out


def solution_ids(nb) -> list[str]:
    return [grade_id(c) for c in nb.cells if is_solution_cell(c)]


def strip_hidden_tests(source: str) -> str:
    return _HIDDEN_REGION.sub("", source)
