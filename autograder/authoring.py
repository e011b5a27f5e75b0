"""Helpers for writing instructor notebooks with the right nbgrader metadata.

    from autograder.authoring import notebook, md, code, setup, solution, tests
    nb = notebook([
        md("# 標題"),
        setup("setup_imports", "import torch"),
        solution("kv_cache_size", "def kv_cache_bytes(...):\\n    ### BEGIN SOLUTION\\n    ...\\n    ### END SOLUTION"),
        tests("test_kv_cache_size", 10, "assert kv_cache_bytes(...) == ...\\n"),
    ])
    save(nb, "source/lab2_1_vllm_deployment/02-Basic_Inference.ipynb")

The notebook file is the source of truth; these helpers only make the metadata hard to get wrong.
"""
from __future__ import annotations

from pathlib import Path

import nbformat

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
HIDDEN_NOTE = ("### BEGIN HIDDEN TESTS\n"
               "# The hidden grader for this exercise runs out of process at autograde time.\n"
               "### END HIDDEN TESTS\n")


def _nbgrader(grade_id: str, *, grade: bool, solution: bool, locked: bool, points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
            "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def md(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_markdown_cell(text.strip("\n"))


def code(src: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(src.strip("\n"))


def setup(grade_id: str, src: str) -> nbformat.NotebookNode:
    if not grade_id.startswith("setup_"):
        raise ValueError("setup cell ids start with 'setup_'")
    cell = code(src)
    cell.metadata.update(_nbgrader(grade_id, grade=False, solution=False, locked=True))
    return cell


def solution(grade_id: str, src: str) -> nbformat.NotebookNode:
    if "### BEGIN SOLUTION" not in src:
        raise ValueError(f"solution cell {grade_id} has no ### BEGIN SOLUTION region")
    cell = code(src)
    cell.metadata.update(_nbgrader(grade_id, grade=False, solution=True, locked=False))
    return cell


def tests(grade_id: str, points: float, visible_src: str) -> nbformat.NotebookNode:
    if not grade_id.startswith("test_"):
        raise ValueError("grade cell ids start with 'test_'")
    cell = code(visible_src.rstrip("\n") + "\n\n" + HIDDEN_NOTE)
    cell.metadata.update(_nbgrader(grade_id, grade=True, solution=False, locked=True, points=points))
    return cell


def notebook(cells: list) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def save(nb: nbformat.NotebookNode, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.validate(nb)
    nbformat.write(nb, str(path))
    return path


#: Same as :func:`tests`; use this name inside pytest modules (pytest would collect ``tests``).
grade_cell = tests
