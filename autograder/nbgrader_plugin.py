"""nbgrader integration: run the hidden graders during ``nbgrader autograde``; keep them out of feedback.

``HiddenGraders`` runs after nbgrader has executed the notebook (``Execute``) and before it saves the
grades (``SaveAutoGrades``). For each grade cell that has a hidden grader it replaces the cell's outputs
with the feedback text and the score as the cell's last-expression value, which nbgrader records as
partial credit. The grader runs out of process on the code extracted from the notebook: the student's
kernel never sees it.
"""
from __future__ import annotations

import nbformat
from nbgrader.preprocessors import ClearHiddenTests, Execute, NbGraderPreprocessor
from traitlets import Int

from . import extract
from .feedback import feedback_text
from .registry import grader_for
from .runner import grade_notebook


def score_outputs(text: str, score: float) -> list:
    return [nbformat.v4.new_output("stream", name="stdout", text=text),
            nbformat.v4.new_output("execute_result", data={"text/plain": repr(float(score))}, execution_count=None)]


class HiddenGraders(NbGraderPreprocessor):
    workers = Int(2, help="Exercises of one notebook graded in parallel").tag(config=True)

    def preprocess(self, nb, resources):
        student = resources.get("nbgrader", {}).get("student", "?")
        origin = f"{student}/{resources.get('unique_key', 'notebook')}"
        problem = "no hidden grader result (ask your instructor to regrade)"
        index = {c.grade_id: c.index for c in extract.grade_cells(nb) if grader_for(c.grade_id)}
        try:
            results = {r.grade_id: r for r in grade_notebook(nb, origin=origin, workers=self.workers)}
        except Exception as exc:  # never leave a grade cell with "no output" (= full credit in nbgrader)
            self.log.exception("hidden graders failed for %s", origin)
            results = {}
            problem = f"the hidden grader failed ({type(exc).__name__}); ask your instructor to regrade"
        for gid, i in index.items():
            cell = nb.cells[i]
            if gid in results:
                res = results[gid]
                cell.outputs = score_outputs(feedback_text(res), res.score)
                self.log.info("%s %s: %g/%g", origin, gid, res.score, res.max_points)
            else:
                cell.outputs = score_outputs(f"{gid}: 0 points\n  !! {problem}\n", 0.0)
        return nb, resources


class SafeExecute(Execute):
    """nbgrader's Execute, except that a kernel killed by the submission (``os._exit``, a segfault, the
    memory limit) does not abort the student's whole autograde: the cells run so far keep their
    outputs and the hidden graders still grade every exercise out of process."""

    def preprocess(self, nb, resources, km=None):
        try:
            return super().preprocess(nb, resources, km=km)
        except Exception as exc:  # DeadKernelError, CellTimeoutError with a dead kernel, ...
            self.log.warning("execution stopped early (%s: %s); grading continues", type(exc).__name__, exc)
            note = nbformat.v4.new_output(
                "stream", name="stdout",
                text=f"[autograder] the notebook's kernel stopped here ({type(exc).__name__}); "
                     "later cells were not executed. Exercises are still graded.\n")
            for cell in nb.cells:
                if cell.get("cell_type") == "code" and not cell.get("outputs"):
                    cell.outputs = [note]
                    break
            return nb, resources


class StripHiddenTests(ClearHiddenTests):
    """Feedback must never show hidden test code: remove the hidden regions before rendering."""
