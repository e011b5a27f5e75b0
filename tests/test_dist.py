"""The student distribution holds no unpublished answer and no hidden grader, and its notebooks run from it.

``python -m autograder dist --out DIR`` is built in a temp dir; every function and class body of every
unpublished reference solution, and every hidden grader test, is compared (normalised by ``ast``) with every
definition in the student tree's Python files and notebook code cells. Then notebooks are executed from the
student tree alone, inside the grading sandbox so that nothing of this repository is visible, with the
solution cells filled by the reference (injected only here).
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder import dist, extract, sandbox
from autograder.course import published_labs

from ._course import REPO, SOURCE

UNPUBLISHED = sorted({p.name for p in (REPO / "solutions").iterdir() if p.is_dir()} - set(published_labs()))


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    student, host = dist.build(None, out)
    return student, host


def _strip_docstrings(node: ast.AST) -> ast.AST:
    for n in ast.walk(node):
        body = getattr(n, "body", None)
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)) and body \
                and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                and isinstance(body[0].value.value, str):
            n.body = body[1:] or [ast.Pass()]
    return node


def bodies(code: str) -> set[str]:
    """Normalised bodies (no docstrings, comments or formatting) of every def and class in ``code``."""
    try:
        tree = _strip_docstrings(ast.parse(code))
    except SyntaxError:
        return set()
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            text = "\n".join(ast.unparse(stmt) for stmt in node.body)
            if len(text) >= 60:            # skip one-liners anybody would write (return sum(x), pass, ...)
                out.add(text)
    return out


def student_texts(student: Path):
    for path in sorted(student.rglob("*")):
        if path.suffix == ".py":
            yield path, path.read_text(encoding="utf-8")
        elif path.suffix == ".ipynb":
            nb = nbformat.read(str(path), as_version=4)
            yield path, "\n".join(extract.neutralize_ipython(c.source) for c in nb.cells if c.cell_type == "code")


def test_all_release_notebooks_and_an_install_command(tree):
    student, _ = tree
    assert len(list((student / "notebooks").rglob("*.ipynb"))) == 20
    assert (student / "install.sh").exists() and (student / "pyproject.toml").exists()
    readme = (student / "README.md").read_text()
    assert "bash install.sh" in readme and "jupyter lab" in readme


def test_no_grader_no_bytecode_no_unpublished_lab(tree):
    student, host = tree
    names = {p.relative_to(student).as_posix() for p in student.rglob("*")}
    assert not any(n.startswith(("autograder", "source", "tests", "release")) for n in names)
    assert not any(n.endswith((".pyc", ".pyo", ".so")) for n in names)
    assert not any(f"solutions/{lab}" in n for lab in UNPUBLISHED for n in names)
    assert (host / "autograder" / "graders").is_dir() and (host / "solutions" / UNPUBLISHED[0]).is_dir()


def test_no_unpublished_solution_code_in_the_student_tree(tree):
    student, _ = tree
    secret: dict[str, str] = {}
    for lab in UNPUBLISHED:
        for path in sorted((REPO / "solutions" / lab).glob("*.py")):
            code = path.read_text()
            for body in bodies(code):
                secret.setdefault(body, path.name)
    # Bodies also present in the release notebooks' setup cells are course code, not answers.
    for path in sorted((REPO / "release").glob("*/*.ipynb")):
        nb = extract.read_notebook(path)
        for body in bodies("\n".join(c.source for c in nb.cells if extract.is_setup_cell(c))):
            secret.pop(body, None)
    assert len(secret) > 50, "the scan found almost nothing to look for"
    leaks = []
    for path, text in student_texts(student):
        for body in bodies(text) & secret.keys():
            leaks.append(f"{path.relative_to(student)}: a body of {secret[body]}")
    assert not leaks, "\n".join(leaks[:20])


def test_no_hidden_grader_text_in_the_student_tree(tree):
    student, _ = tree
    tests, docstrings = set(), set()
    for path in sorted((REPO / "autograder" / "graders").glob("*/test_*.py")):
        code = path.read_text()
        tests |= bodies(code)
        doc = ast.get_docstring(ast.parse(code))
        if doc:
            docstrings.add(doc.splitlines()[0])
    everything = "\n".join(text for _, text in student_texts(student)) + "".join(
        p.read_text() for p in student.rglob("*.md"))
    found = [d for d in docstrings if d in everything]
    assert not found, found
    leaks = [str(p) for p, text in student_texts(student) if bodies(text) & tests]
    assert not leaks, leaks


def test_labkit_imports_no_answers():
    # labkit names the exercises but never imports solutions: the references register themselves.
    for path in (REPO / "labkit").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("solutions"):
                pytest.fail(f"{path} imports {node.module}")
            if isinstance(node, ast.Import) and any(a.name.startswith("solutions") for a in node.names):
                pytest.fail(f"{path} imports solutions")
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
                pytest.fail(f"{path} imports modules by name (line {node.lineno})")


# Notebooks executed from the student tree (every notebook when COURSE_EXECUTE_DIST=1).
QUICK = ["lab2_1_vllm_deployment/02-Basic_Inference.ipynb", "lab2_2_inference_optimization/01-KV_Cache_Optimization.ipynb"]
NOTEBOOKS = sorted(p.relative_to(SOURCE).as_posix() for p in SOURCE.glob("*/*.ipynb")) \
    if os.environ.get("COURSE_EXECUTE_DIST") == "1" else QUICK


@pytest.mark.slow
@pytest.mark.skipif(sandbox.check() is not None, reason="needs the bubblewrap sandbox to hide this repository")
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_from_the_student_tree_alone(tree, name, tmp_path):
    student, _ = tree
    work = student / "notebooks" / name
    released = nbformat.read(str(work), as_version=4)
    reference = extract.read_notebook(SOURCE / name)
    by_id = {extract.grade_id(c): c for c in reference.cells if extract.is_solution_cell(c)}
    for cell in released.cells:                # the student's cells, filled by the reference (test only)
        if extract.is_solution_cell(cell):
            cell.source = extract.strip_solution_markers(by_id[extract.grade_id(cell)].source)
    filled = tmp_path / "filled.ipynb"
    nbformat.write(released, str(filled))
    runner = ("import nbformat, sys; from nbclient import NotebookClient\n"
              "nb = nbformat.read(sys.argv[1], as_version=4)\n"
              "NotebookClient(nb, timeout=600, kernel_name='python3', resources={'metadata': {'path': sys.argv[2]}})"
              ".execute()\nnbformat.write(nb, sys.argv[3])\n")
    layout = sandbox.Layout(readonly=[student, filled], writable=[tmp_path], cwd=str(work.parent), tmp_mb=2048,
                            env={"PYTHONPATH": str(student), "LABKIT_HOME": str(tmp_path / "labkit-home"),
                                 "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"), "IPYTHONDIR": "/tmp/.ipython"})
    # The models the notebooks train on first use, built here from the student tree's own labkit.
    home = REPO / ".cache" / "labkit"
    layout.readonly.append(home)
    layout.env["LABKIT_HOME"] = str(home)
    cmd = sandbox.command([sys.executable, "-c", runner, str(filled), str(work.parent), str(tmp_path / "out.ipynb")],
                          layout)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{name} failed from the student tree:\n{done.stderr[-3000:]}"
    out = nbformat.read(str(tmp_path / "out.ipynb"), as_version=4)
    errors = [o for c in out.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors[:3]
