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
import shutil
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
            if len(text) >= 60 and (len(node.body) > 1 or len(text) >= 120):   # not a one-liner anybody writes
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
    # Bodies also present in the release notebooks' setup cells are course code, and those in the release
    # version of an exercise cell are the scaffold students are given (a dataclass to fill in): not answers.
    for path in sorted((REPO / "release").glob("*/*.ipynb")):
        nb = extract.read_notebook(path)
        given = [c.source for c in nb.cells if extract.is_setup_cell(c) or extract.is_solution_cell(c)]
        for body in bodies("\n".join(extract.neutralize_ipython(g) for g in given)):
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


def test_default_course_publishes_nothing(tree):
    # Until the instructor publishes a lab (course.toml), students get no reference solution at all.
    student, _ = tree
    assert published_labs() == ()
    assert not (student / "solutions").exists()
    assert "solutions" not in (student / "pyproject.toml").read_text()


@pytest.fixture(scope="module")
def completed(tree, tmp_path_factory):
    """A copy of the student tree in which every exercise cell of every notebook is filled by the reference
    (a student who has done every lab: later labs build on their own earlier solutions), installed into a
    fresh virtual environment (its third-party packages are this venv's, through a .pth file)."""
    student, _ = tree
    work = tmp_path_factory.mktemp("completed") / "student"
    shutil.copytree(student, work)
    for path in sorted((work / "notebooks").glob("*/*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        reference = extract.read_notebook(SOURCE / path.parent.name / path.name)
        by_id = {extract.grade_id(c): c for c in reference.cells if extract.is_solution_cell(c)}
        for cell in nb.cells:
            if extract.is_solution_cell(cell):
                cell.source = extract.strip_solution_markers(by_id[extract.grade_id(cell)].source)
        nbformat.write(nb, str(path))
    venv = work.parent / "venv"
    subprocess.run([sys.base_prefix + "/bin/python3", "-m", "venv", str(venv)], check=True, capture_output=True)
    site = next(venv.glob("lib/python3*/site-packages"))
    deps = next(Path(sys.prefix).glob("lib/python3*/site-packages"))
    (site / "course_deps.pth").write_text(f"{deps}\n")
    # (the build backend is this venv's setuptools, put first: the fresh venv's own may be too old)
    done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps",
                           "--no-build-isolation", "--no-index", "-e", str(work)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(deps)})
    assert done.returncode == 0, done.stderr[-3000:]
    return work, venv


# Notebooks executed from the student tree (every notebook when COURSE_EXECUTE_DIST=1).
QUICK = ["lab2_1_vllm_deployment/01-Setup_and_Installation.ipynb",
         "lab2_2_inference_optimization/01-KV_Cache_Optimization.ipynb"]
NOTEBOOKS = sorted(p.relative_to(SOURCE).as_posix() for p in SOURCE.glob("*/*.ipynb")) \
    if os.environ.get("COURSE_EXECUTE_DIST") == "1" else QUICK


def run_in_sandbox(work: Path, venv: Path, notebook: Path, out: Path, tmp: Path) -> subprocess.CompletedProcess:
    runner = ("import nbformat, sys; from nbclient import NotebookClient\n"
              "nb = nbformat.read(sys.argv[1], as_version=4)\n"
              "NotebookClient(nb, timeout=600, kernel_name='python3', resources={'metadata': {'path': sys.argv[2]}})"
              ".execute()\nnbformat.write(nb, sys.argv[3])\n")
    # Only the student tree, its venv and a writable copy of the model cache (built from labkit; notebooks keep
    # their logs there too, as in a student's ~/.cache/labkit) are visible: not this repository.
    home = tmp / "labkit-home"
    shutil.copytree(REPO / ".cache" / "labkit", home)
    layout = sandbox.Layout(readonly=[work, venv], writable=[tmp], cwd=str(notebook.parent), tmp_mb=2048,
                            env={"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "LABKIT_HOME": str(home),
                                 "JUPYTER_RUNTIME_DIR": str(tmp / "rt"), "IPYTHONDIR": "/tmp/.ipython",
                                 "JUPYTER_PATH": str(venv / "share" / "jupyter")})
    cmd = sandbox.command([str(venv / "bin" / "python"), "-c", runner, str(notebook), str(notebook.parent),
                           str(out)], layout)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
@pytest.mark.skipif(sandbox.check() is not None, reason="needs the bubblewrap sandbox to hide this repository")
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_from_the_student_tree_alone(completed, name, tmp_path):
    work, venv = completed
    out = tmp_path / "out.ipynb"
    done = run_in_sandbox(work, venv, work / "notebooks" / name, out, tmp_path)
    assert done.returncode == 0, f"{name} failed from the student tree:\n{done.stderr[-3000:]}"
    nb = nbformat.read(str(out), as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors[:3]
    text = "\n".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "solutions" not in text.replace("published_solutions", ""), "a notebook used the course's answers"


@pytest.mark.slow
def test_a_later_lab_says_which_earlier_exercise_it_needs(tree, completed):
    # A student who starts Lab 2.2 before writing Lab 2.1's block manager: the setup cell names the exercise
    # (the student tree's labkit from the fresh venv, run in the unfilled tree's Lab 2.2 folder).
    student, _ = tree
    _, venv = completed
    done = subprocess.run([str(venv / "bin" / "python"), "-c", (
        "from labkit.earlier_labs import PartUnavailable, earlier_part\n"
        "try:\n    earlier_part('lab2_1_vllm_deployment', 'block_manager', 'BlockManager')\n"
        "except PartUnavailable as exc:\n    print(exc)\n")],
        cwd=student / "notebooks" / "lab2_2_inference_optimization", capture_output=True, text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, timeout=120)
    assert "'block_manager'" in done.stdout and "NotImplementedError" in done.stdout, done.stdout + done.stderr


def test_engine_parts_in_course_toml_name_the_engines_parts():
    from autograder.course import settings
    from labkit.engine.parts import PARTS
    assert sorted(settings()["engine_parts"]) == sorted({f"{lab}/{ex}" for lab, ex in PARTS.values()})


def test_a_grading_sandbox_sees_only_what_its_lab_builds_on():
    from autograder.course import sandbox_paths
    solutions = REPO / "solutions"

    def seen(lab):
        return {p.relative_to(solutions).as_posix() for p in sandbox_paths(lab) if solutions in p.parents}
    assert seen("lab2_1_vllm_deployment") == set()                       # nothing published, builds on nothing
    lab22 = seen("lab2_2_inference_optimization")
    assert "lab2_1_vllm_deployment/block_manager.py" in lab22
    assert not any(p.startswith("lab2_2_inference_optimization") for p in lab22)   # never its own answers
    assert "lab2_1_vllm_deployment/paging_waste.py" not in lab22          # only the modules it builds on


def test_own_earlier_exercise_is_read_from_the_notebook_and_follows_edits(tmp_path):
    from labkit import earlier_labs

    path = tmp_path / "notebooks" / "lab_a" / "01-demo.ipynb"

    def notebook(body: str, stamp: int) -> None:
        nb = nbformat.v4.new_notebook()
        setup = nbformat.v4.new_code_cell("BASE = 10")
        setup.metadata["nbgrader"] = {"grade_id": "setup_demo", "locked": True, "solution": False, "grade": False}
        cell = nbformat.v4.new_code_cell(body)
        cell.metadata["nbgrader"] = {"grade_id": "demo_ex", "solution": True, "grade": False}
        nb.cells = [setup, cell]
        nbformat.write(nb, str(path))
        os.utime(path, (stamp, stamp))                            # each edit: a new modification time
    (tmp_path / "notebooks" / "lab_a").mkdir(parents=True)
    (tmp_path / "notebooks" / "lab_b").mkdir()
    here = tmp_path / "notebooks" / "lab_b"                      # a notebook of the later lab runs here
    notebook("def f():\n    raise NotImplementedError()", 1000)
    module, why = earlier_labs.own_module("lab_a", "demo_ex", start=here)
    assert module is None and "01-demo.ipynb" in why and "NotImplementedError" in why
    notebook("def f():\n    return BASE + 1", 2000)
    module, where = earlier_labs.own_module("lab_a", "demo_ex", start=here)
    assert module.f() == 11 and "your notebook" in where
    notebook("def f():\n    return BASE + 2", 3000)                  # the edit is picked up
    assert earlier_labs.own_module("lab_a", "demo_ex", start=here)[0].f() == 12
    assert earlier_labs.own_module("lab_a", "missing", start=here)[0] is None
