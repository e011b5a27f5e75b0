"""Where the hidden graders live and what each one declares.

A grader is ``autograder/graders/<lab>/test_<exercise>.py``; it grades the grade cell whose
``grade_id`` is the module name. Its settings are read from the source with ``ast`` (the parent
process never imports a grader).
"""
from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

GRADERS_DIR = Path(__file__).resolve().parent / "graders"
#: Extra grader roots (os.pathsep-separated), laid out like graders/: <root>/<lab>/test_<exercise>.py
EXTRA_DIRS_ENV = "AUTOGRADER_GRADERS_DIRS"
DEFAULT_TIMEOUT_S = 120
DEFAULT_MEMORY_MB = 4096
DEFAULT_FILE_MB = 256
DEFAULT_TEST_TIMEOUT_S = 30


@dataclass(frozen=True)
class Grader:
    grade_id: str          # e.g. "test_block_manager"
    lab: str               # e.g. "lab2_1_vllm_deployment"
    path: Path
    exercises: tuple[str, ...]
    timeout_s: float = DEFAULT_TIMEOUT_S
    memory_mb: int = DEFAULT_MEMORY_MB
    file_mb: int = DEFAULT_FILE_MB        # largest file the grader process (and its children) may write
    test_timeout_s: float = DEFAULT_TEST_TIMEOUT_S
    tests: tuple[tuple[str, float], ...] = field(default=())   # (test name, points)

    @property
    def points(self) -> float:
        return sum(p for _, p in self.tests)


def _literal(tree: ast.Module, name: str, default):
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    return default


def _points_of(func: ast.FunctionDef) -> float | None:
    for dec in func.decorator_list:
        if isinstance(dec, ast.Call) and getattr(dec.func, "id", getattr(dec.func, "attr", None)) == "points":
            return float(ast.literal_eval(dec.args[0]))
    return None


def read_grader(path: Path) -> Grader:
    tree = ast.parse(path.read_text(), filename=str(path))
    gid = path.stem
    tests = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            pts = _points_of(node)
            if pts is None:
                raise ValueError(f"{path}: {node.name} has no @points(n) decorator")
            tests.append((node.name, pts))
    return Grader(
        grade_id=gid,
        lab=path.parent.name,
        path=path,
        exercises=tuple(_literal(tree, "EXERCISES", [gid.removeprefix("test_")])),
        timeout_s=float(_literal(tree, "TIMEOUT_S", DEFAULT_TIMEOUT_S)),
        memory_mb=int(_literal(tree, "MEMORY_MB", DEFAULT_MEMORY_MB)),
        file_mb=int(_literal(tree, "FILE_MB", DEFAULT_FILE_MB)),
        test_timeout_s=float(_literal(tree, "TEST_TIMEOUT_S", DEFAULT_TEST_TIMEOUT_S)),
        tests=tuple(tests),
    )


def grader_roots() -> tuple[Path, ...]:
    extra = [Path(p) for p in os.environ.get(EXTRA_DIRS_ENV, "").split(os.pathsep) if p]
    return (GRADERS_DIR, *extra)


def all_graders() -> dict[str, Grader]:
    return _graders_in(grader_roots())


@lru_cache(maxsize=None)
def _graders_in(roots: tuple[Path, ...]) -> dict[str, Grader]:
    graders: dict[str, Grader] = {}
    for path in sorted(p for root in roots for p in root.glob("*/test_*.py")):
        g = read_grader(path)
        if g.grade_id in graders:
            raise ValueError(f"grade_id {g.grade_id} has two graders: {graders[g.grade_id].path} and {path}")
        graders[g.grade_id] = g
    return graders


def grader_for(grade_id: str) -> Grader | None:
    return all_graders().get(grade_id)
