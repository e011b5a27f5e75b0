"""Read a lab notebook's code the way the course does: setup cells, solution cells by nbgrader ``grade_id``.

One exercise becomes one Python module: every ``setup_*`` cell of the notebook, then the solution cells the
exercise names, in notebook order. This is how ``solutions/`` is written from ``source/``, how a submission's
code is extracted for grading (:mod:`autograder.extract` builds on this module), and how a later lab reuses a
student's own earlier exercise (:mod:`labkit.earlier_labs`). It lives in labkit because students have it
too: nothing here knows an answer or a grader.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import nbformat

SETUP_PREFIX = "setup_"
_SOLUTION_MARKERS = re.compile(r"^[ \t]*###[ \t]*(BEGIN|END) SOLUTION[ \t]*(\n|$)", re.MULTILINE)


class ExtractionError(ValueError):
    """The notebook does not have the cells an exercise needs."""


def read_notebook(path: str | Path) -> nbformat.NotebookNode:
    try:
        return nbformat.read(str(path), as_version=4)
    except Exception as exc:  # malformed JSON, not a notebook, ...
        raise ExtractionError(f"{path}: not a readable notebook ({type(exc).__name__}: {exc})") from exc


def nbgrader_meta(cell) -> dict:
    return dict(cell.get("metadata", {}).get("nbgrader", {}) or {})


def grade_id(cell) -> str | None:
    return nbgrader_meta(cell).get("grade_id")


def is_setup_cell(cell) -> bool:
    gid = grade_id(cell) or ""
    return cell.get("cell_type") == "code" and gid.startswith(SETUP_PREFIX)


def is_solution_cell(cell) -> bool:
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("solution")) and not meta.get("grade")


def strip_solution_markers(source: str) -> str:
    return _SOLUTION_MARKERS.sub("", source)


def neutralize_ipython(source: str) -> str:
    """Turn IPython-only lines (``%magic``, ``!shell``, ``%%cell``) into comments.

    Exercise code must be plain Python; a magic in a solution cell is not part of the exercise. Which lines
    are magics is decided by IPython's own input transformer, so a continuation line that happens to start
    with ``%`` or ``!=`` stays code.
    """
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        return "\n".join("# [ipython] " + ln for ln in lines)
    if not any(ln.lstrip().startswith(("%", "!", "?")) or ln.rstrip().endswith("?") for ln in lines):
        return "\n".join(lines)
    try:
        transformed = _transformer().transform_cell(source + "\n").splitlines()
    except Exception:  # noqa: BLE001 - not even IPython syntax: leave it to the grader's SyntaxError
        return "\n".join(lines)
    if len(transformed) != len(lines):
        return "\n".join(lines)
    out = []
    for ln, new in zip(lines, transformed):
        if new != ln and "get_ipython()" in new:
            stripped = ln.lstrip()
            out.append(f"{ln[: len(ln) - len(stripped)]}pass  # [ipython] {stripped}")
        else:
            out.append(ln)
    return "\n".join(out)


@lru_cache(maxsize=1)
def _transformer():
    from IPython.core.inputtransformer2 import TransformerManager
    return TransformerManager()


def cell_code(cell) -> str:
    return neutralize_ipython(strip_solution_markers(cell.get("source", ""))).rstrip() + "\n"


def setup_code(nb, origin: str = "notebook") -> str:
    """Every ``setup_*`` cell of the notebook, in order: the course's own code, run before any exercise."""
    parts = [f"# Setup cells of {origin}\n"]
    for cell in nb.cells:
        if is_setup_cell(cell):
            parts.append(f"\n# --- cell: {grade_id(cell)} ---\n" + cell_code(cell))
    return "".join(parts)


def solution_code(nb, exercises: list[str], origin: str = "notebook") -> str:
    """The solution cells named by ``exercises``, in notebook order (the part a student writes)."""
    cells = {grade_id(c): c for c in nb.cells if is_solution_cell(c)}
    missing = [e for e in exercises if e not in cells]
    if missing:
        raise ExtractionError(
            f"{origin}: no solution cell with grade_id {', '.join(map(repr, missing))} "
            f"(found: {', '.join(sorted(cells)) or 'none'}). Was the cell deleted or its metadata edited?")
    parts = [f"# Extracted from {origin}: exercise {', '.join(exercises)}\n"]
    for cell in nb.cells:
        if is_solution_cell(cell) and grade_id(cell) in exercises:
            parts.append(f"\n# --- cell: {grade_id(cell)} ---\n" + cell_code(cell))
    return "".join(parts)


def exercise_code(nb, exercises: list[str], origin: str = "notebook") -> str:
    """One module for ``exercises``: all setup cells, then those solution cells (how solutions/ is written)."""
    solutions = solution_code(nb, exercises, origin).split("\n", 1)[1]
    setup = setup_code(nb, origin).split("\n", 1)[1]
    return f"# Extracted from {origin}: setup cells + exercise {', '.join(exercises)}\n" + setup + solutions
