"""The course is consistent: ids, points, graders, and generated artefacts in sync with source/."""
from __future__ import annotations

import pytest

from autograder import build, extract
from autograder.cli import selfcheck
from autograder.registry import all_graders

from ._course import source_notebooks

pytestmark = pytest.mark.skipif(not source_notebooks(), reason="no lab notebooks under source/ yet")


def _cells():
    for path in source_notebooks():
        nb = extract.read_notebook(path)
        for cell in nb.cells:
            meta = extract.nbgrader_meta(cell)
            if meta:
                yield path, cell, meta


def test_grade_ids_are_unique_across_the_course():
    seen = {}
    for path, _, meta in _cells():
        gid = meta["grade_id"]
        assert gid not in seen, f"grade_id {gid} is used in {seen[gid].name} and {path.name}"
        seen[gid] = path


def test_every_grade_cell_has_a_grader_with_the_same_points():
    graders = all_graders()
    for path, _, meta in _cells():
        if meta.get("grade") and not meta.get("solution"):
            gid = meta["grade_id"]
            assert gid in graders, f"{path.name}: grade cell {gid} has no autograder/graders/*/{gid}.py"
            assert float(meta["points"]) == graders[gid].points, \
                f"{gid}: cell has {meta['points']} points, grader tests add up to {graders[gid].points}"
            assert graders[gid].lab == path.parent.name, f"{gid}: grader is filed under another lab"


def test_every_grader_grades_a_cell_and_every_solution_is_graded():
    cells = {meta["grade_id"] for _, _, meta in _cells()}
    solutions = {meta["grade_id"] for _, c, meta in _cells() if extract.is_solution_cell(c)}
    graded = set()
    for g in all_graders().values():
        assert g.grade_id in cells, f"grader {g.path.name} has no grade cell in source/"
        missing = set(g.exercises) - solutions
        assert not missing, f"{g.grade_id}: EXERCISES names unknown solution cells {missing}"
        graded |= set(g.exercises)
    assert solutions <= graded, f"solution cells no grader looks at: {solutions - graded}"


def test_setup_and_grade_cells_are_locked():
    for path, cell, meta in _cells():
        if extract.is_setup_cell(cell) or meta.get("grade"):
            assert meta.get("locked"), f"{path.name}: {meta['grade_id']} must be locked"


def test_release_and_solutions_are_in_sync_with_source():
    problems = build.build(check=True)
    assert not problems, "run `python -m autograder build`:\n" + "\n".join(problems)


def test_solutions_score_full_marks_and_stubs_score_zero():
    rows, problems = selfcheck(build.labs())
    assert rows, "no exercise was graded"
    assert not problems, "\n".join(problems)


def test_course_check_lab_selection():
    from autograder.labs import select_labs
    labs = ["lab2_1_vllm_deployment", "lab2_2_inference_optimization", "lab2_5_monitoring_tuning"]
    assert select_labs(labs, None) == labs
    assert select_labs(labs, ["lab2_5", "lab2_1_vllm_deployment", "lab2_5"]) == [labs[2], labs[0]]
    for bad in (["lab9"], ["lab2_"]):          # no match, several matches
        with pytest.raises(ValueError, match="expected one of"):
            select_labs(labs, bad)
