"""Generate (or check) the committed artefacts that come from ``source/``.

- ``release/<lab>/*.ipynb``: student notebooks, made by ``nbgrader generate_assignment``.
- ``solutions/<lab>/<exercise>.py``: the reference parts, made by the same extraction the grader uses.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import extract

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCE = REPO_ROOT / "source"
RELEASE = REPO_ROOT / "release"
SOLUTIONS = REPO_ROOT / "solutions"
SOLUTION_HEADER = ("# Generated from {origin} by `python -m autograder build`: do not edit here,\n"
                   "# edit the instructor notebook and rebuild.\n")


def labs() -> list[str]:
    return sorted(p.name for p in SOURCE.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))) \
        if SOURCE.exists() else []


def source_notebooks(lab: str) -> list[Path]:
    return sorted((SOURCE / lab).glob("*.ipynb"))


# -- solutions ------------------------------------------------------------------------------------

def solution_files() -> dict[Path, str]:
    """Every file under solutions/ as it should be, keyed by path."""
    files: dict[Path, str] = {SOLUTIONS / "__init__.py": '"""Reference parts, generated from source/."""\n'}
    for lab in labs():
        files[SOLUTIONS / lab / "__init__.py"] = ""
        for nb_path in source_notebooks(lab):
            nb = extract.read_notebook(nb_path)
            origin = nb_path.relative_to(REPO_ROOT).as_posix()
            for exercise in extract.solution_ids(nb):
                code = extract.exercise_code(nb, [exercise], origin)
                body = code.split("\n", 1)[1]  # drop the extraction banner: the header says it all
                files[SOLUTIONS / lab / f"{exercise}.py"] = SOLUTION_HEADER.format(origin=origin) + body
    return files


def write_solutions() -> list[Path]:
    wanted = solution_files()
    for path, text in wanted.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    stale = [p for p in SOLUTIONS.rglob("*.py") if p not in wanted and _is_generated(p)]
    for p in stale:
        p.unlink()
    return sorted(wanted)


def _is_generated(path: Path) -> bool:
    return path.read_text(encoding="utf-8").startswith("# Generated from ")


def check_solutions() -> list[str]:
    problems = []
    for path, text in solution_files().items():
        if not path.exists():
            problems.append(f"missing {path.relative_to(REPO_ROOT)}")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"out of date {path.relative_to(REPO_ROOT)}")
    return problems


# -- release ----------------------------------------------------------------------------------------

def nbgrader_env(extra: dict | None = None) -> dict:
    """The environment for an nbgrader subprocess: nbgrader runs the `alembic` script of this Python's
    environment, so its bin/ must be on PATH even when the venv was not activated."""
    bin_dir = os.path.dirname(sys.executable)
    return {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""), **(extra or {})}


def _nbgrader(args: list[str], cwd: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, capture_output=True, text=True,
                          env=nbgrader_env())
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def make_course_dir(dest: Path, labs_: list[str] | None = None) -> Path:
    """A throw-away nbgrader course directory holding source/ and the config (for release or grading)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO_ROOT / "nbgrader_config.py", dest / "nbgrader_config.py")
    cfg = (dest / "nbgrader_config.py").read_text()
    # The copied config must still import this repo's autograder package.
    cfg = cfg.replace("sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))",
                      f"sys.path.insert(0, {str(REPO_ROOT)!r})")
    (dest / "nbgrader_config.py").write_text(cfg)
    for lab in labs_ or labs():
        shutil.copytree(SOURCE / lab, dest / "source" / lab,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return dest


def generate_release(lab: str, course_dir: Path) -> Path:
    _nbgrader(["generate_assignment", lab, "--force", "--log-level=WARN"], cwd=course_dir)
    return course_dir / "release" / lab


def normalized(nb_path: Path) -> str:
    """Notebook JSON without what legitimately differs between runs (cell ids)."""
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        cell.pop("id", None)
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False)


def release_diff(lab: str, generated: Path) -> list[str]:
    problems = []
    committed = RELEASE / lab
    want = {p.relative_to(generated) for p in generated.rglob("*") if p.is_file()}
    have = {p.relative_to(committed) for p in committed.rglob("*") if p.is_file()} if committed.exists() else set()
    for rel in sorted(want - have):
        problems.append(f"missing release/{lab}/{rel}")
    for rel in sorted(have - want):
        problems.append(f"extra release/{lab}/{rel}")
    for rel in sorted(want & have):
        a, b = generated / rel, committed / rel
        same = normalized(a) == normalized(b) if rel.suffix == ".ipynb" else a.read_bytes() == b.read_bytes()
        if not same:
            problems.append(f"out of date release/{lab}/{rel}")
    return problems


def write_release(lab: str, generated: Path) -> None:
    """Copy a generated release into release/<lab> file by file (a kernel whose cwd is that folder keeps
    working), then remove files that are no longer generated."""
    committed = RELEASE / lab
    want = {p.relative_to(generated) for p in generated.rglob("*") if p.is_file()}
    for rel in sorted(want):
        dest = committed / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.exists() or dest.read_bytes() != (generated / rel).read_bytes():
            shutil.copyfile(generated / rel, dest)
    if committed.exists():
        for p in committed.rglob("*"):
            if p.is_file() and p.relative_to(committed) not in want:
                p.unlink()


def build(check: bool = False, lab: str | None = None) -> list[str]:
    """Regenerate release/ and solutions/ (``check``: only report what differs; ``lab``: only that lab's
    release, solutions/ is always regenerated as a whole)."""
    selected = [lab] if lab else labs()
    unknown = [name for name in selected if name not in labs()]
    if unknown:
        raise SystemExit(f"no lab named {unknown[0]!r} under source/ (labs: {', '.join(labs()) or 'none'})")
    problems = check_solutions() if check else (write_solutions() and [])
    with tempfile.TemporaryDirectory(prefix="course-build-") as tmp:
        course = make_course_dir(Path(tmp), selected)
        for name in selected:
            generated = generate_release(name, course)
            if check:
                problems += release_diff(name, generated)
            else:
                write_release(name, generated)
    return problems
