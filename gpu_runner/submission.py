"""A submission (a notebook, or a folder of notebooks and/or exercise ``.py`` files) -> exercise modules.

Notebooks go through the autograder's extraction (``autograder.extract``: every ``setup_*`` cell,
then the exercise's solution cell, found by nbgrader ``grade_id``), so a student's engine is built
exactly as their autograded code is. A ``.py`` file named after an exercise (``block_manager.py``,
as in ``solutions/<lab>/``) is taken as that exercise's module as it is.

A GPU host may lack ``nbformat`` (it needs only torch, transformers and numpy): then a minimal
reader of the notebook JSON stands in for it (``_FallbackNbformat``), and the same extraction runs.
"""
from __future__ import annotations

import json
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

# exercise -> (lab, the part names it defines): the engine parts, plus Lab 2.2/03's group-wise INT4
# quantization exercise (not an engine part; the check is described in docs/instructor/gpu_runner.md).
QUANTIZATION_EXERCISE = ("lab2_2_inference_optimization", "group_int4",
                         ("quantize_int4_groupwise", "dequantize_int4_groupwise", "pack_int4", "unpack_int4"))


def known_exercises() -> dict[str, tuple[str, tuple[str, ...]]]:
    from labkit.engine.parts import PARTS
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    for name, (lab, exercise) in PARTS.items():
        out[exercise] = (lab, out.get(exercise, (lab, ()))[1] + (name,))
    lab, exercise, names = QUANTIZATION_EXERCISE
    out[exercise] = (lab, names)
    return out


class _Node(dict):
    """Attribute access on a notebook's JSON, like ``nbformat.NotebookNode``."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _to_node(value):
    if isinstance(value, dict):
        node = _Node({k: _to_node(v) for k, v in value.items()})
        if isinstance(node.get("source"), list):           # nbformat joins multi-line sources
            node["source"] = "".join(node["source"])
        return node
    if isinstance(value, list):
        return [_to_node(v) for v in value]
    return value


class _FallbackNbformat(types.ModuleType):
    """The one function of ``nbformat`` that ``autograder.extract`` uses, for hosts without it."""

    def __init__(self):
        super().__init__("nbformat", "gpu_runner's stand-in: reads .ipynb JSON (nbformat is not installed)")

    @staticmethod
    def read(path, as_version=4):
        with open(path, encoding="utf-8") as fh:
            nb = json.load(fh)
        if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
            raise ValueError("no 'cells' list: not a notebook")
        if nb.get("nbformat", 4) < as_version:
            raise ValueError(f"nbformat {nb.get('nbformat')} notebooks are not supported")
        return _to_node(nb)


def extraction():
    """``autograder.extract``, with the JSON fallback installed first if nbformat is missing."""
    try:
        import nbformat  # noqa: F401
    except ImportError:
        sys.modules["nbformat"] = _FallbackNbformat()
    from autograder import extract
    return extract


@dataclass
class Submission:
    path: Path
    modules: dict[str, str] = field(default_factory=dict)   # exercise -> module source
    origins: dict[str, str] = field(default_factory=dict)   # exercise -> where it came from
    labs: list[str] = field(default_factory=list)           # labs graded (selected or found)
    problems: list[str] = field(default_factory=list)       # unreadable or missing files
    notes: list[str] = field(default_factory=list)          # e.g. an exercise found twice

    def write_parts(self, folder: Path) -> dict[str, str]:
        """One ``<exercise>.py`` per exercise under ``folder``; returns exercise -> path."""
        folder.mkdir(parents=True, exist_ok=True)
        paths = {}
        for exercise, code in self.modules.items():
            path = folder / f"{exercise}.py"
            path.write_text(code, encoding="utf-8")
            paths[exercise] = str(path)
        return paths


def _files(path: Path) -> tuple[list[Path], list[Path]]:
    if path.is_file():
        return ([path], []) if path.suffix == ".ipynb" else ([], [path])
    hidden = lambda p: any(part.startswith(".") for part in p.relative_to(path).parts)  # noqa: E731
    notebooks = sorted(p for p in path.rglob("*.ipynb") if not hidden(p))
    modules = sorted(p for p in path.rglob("*.py") if not hidden(p))
    return notebooks, modules


def resolve_labs(requested: list[str] | None) -> list[str] | None:
    """Full lab ids for ``--lab`` values (a unique prefix such as ``lab2_1`` is enough)."""
    from autograder.labs import select_labs
    if not requested:
        return None
    return select_labs(sorted({lab for lab, _ in known_exercises().values()}), requested)


def load_submission(path: str | Path, labs: list[str] | None = None) -> Submission:
    """Extract every known exercise found under ``path`` (of ``labs`` only, when given)."""
    path = Path(path)
    sub = Submission(path)
    if not path.exists():
        sub.problems.append(f"{path}: no such file or folder")
        return sub
    known = known_exercises()
    wanted = set(resolve_labs(labs) or {lab for lab, _ in known.values()})
    notebooks, py_files = _files(path)

    def add(exercise: str, code: str, origin: str) -> None:
        if known[exercise][0] not in wanted:
            return
        if exercise in sub.modules:
            sub.notes.append(f"{origin}: exercise {exercise!r} also found in {sub.origins[exercise]}; "
                             "using the first")
            return
        sub.modules[exercise], sub.origins[exercise] = code, origin

    if notebooks:
        extract = extraction()
        for nb_path in notebooks:
            origin = str(nb_path)
            try:
                nb = extract.read_notebook(nb_path)
                for exercise in extract.solution_ids(nb):
                    if exercise in known:
                        add(exercise, extract.exercise_code(nb, [exercise], origin), origin)
            except Exception as exc:  # noqa: BLE001 - a broken notebook is reported, the rest is graded
                sub.problems.append(f"{origin}: {exc}")
    for py in py_files:
        if py.stem in known:
            add(py.stem, py.read_text(encoding="utf-8"), str(py))
    sub.labs = sorted(wanted) if labs else sorted({known[e][0] for e in sub.modules})
    return sub
