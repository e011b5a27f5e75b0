"""Code a later lab builds on: an exercise of an earlier lab, from its published reference or your own notebook.

Lab 2.2 reuses the Lab 2.1 block manager, Lab 2.4 the Lab 2.1 KV-cache formula, Lab 2.5 the Lab 2.3 service.
A notebook asks for such a part by the exercise that defines it::

    BlockManager, OutOfBlocksError = earlier_part("lab2_1_vllm_deployment", "block_manager",
                                                  "BlockManager", "OutOfBlocksError")

and gets, in this order:

1. the course's **reference** of that exercise, where this tree has it: a published lab in a student's copy
   of the course, the instructor's repository, or a grading sandbox (which sees exactly the references the
   lab builds on, ``course.toml`` ``[builds_on]``). labkit never imports the answers itself: the reference
   package registers a finder through the ``labkit.reference_parts`` entry point (``solutions/engine_parts.py``);
2. otherwise **your own solution** of that exercise, read from your notebook of that lab (the folder
   ``<lab>/`` next to this notebook's lab folder, or ``$LABKIT_NOTEBOOKS/<lab>/``): the notebook's setup cells
   and that exercise's cell, run as a module (again whenever the notebook file changes);
3. otherwise a :class:`PartUnavailable` error that names the exercise and the notebook to write it in.
"""
from __future__ import annotations

import logging
import os
import sys
import types
from pathlib import Path
from typing import Any, Callable

logger = logging.getLogger("labkit.earlier_labs")

#: finders registered by a reference-solution package: ``find(lab, exercise) -> module | None``
_finders: list[Callable[[str, str], types.ModuleType | None]] = []
_own: dict[tuple[str, str], tuple[float, types.ModuleType]] = {}     # (notebook, exercise) -> (mtime, module)


class PartUnavailable(RuntimeError):
    """A part from an exercise that has neither a reference in this tree nor a solution written yet."""


def register_reference_finder(find: Callable[[str, str], types.ModuleType | None]) -> None:
    """Called by a reference-solution package: ``find(lab, exercise)`` returns that exercise's module or None."""
    if find not in _finders:
        _finders.append(find)


ENTRY_POINT_GROUP = "labkit.reference_parts"
_discovered = False


def discover_references() -> None:
    """Let the installed reference-solution packages register their finder (entry point group
    ``labkit.reference_parts``: ``solutions/engine_parts.py`` in the course's repository)."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    from importlib.metadata import entry_points
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()()
        except ModuleNotFoundError as exc:     # a package installed elsewhere whose files are not in this tree
            logger.debug("reference solutions provider %s is not importable here: %s", ep.value, exc)
        except Exception as exc:  # noqa: BLE001 - a broken provider must not break the notebooks
            logger.warning("reference solutions provider %s failed: %s", ep.value, exc)


def reference_module(lab: str, exercise: str) -> types.ModuleType | None:
    """The course's reference module of ``exercise`` of ``lab``, if this tree has it."""
    discover_references()
    for find in _finders:
        module = find(lab, exercise)
        if module is not None:
            return module
    return None


def lab_folder(lab: str, start: str | Path | None = None) -> Path | None:
    """Your notebooks of ``lab``: ``$LABKIT_NOTEBOOKS/<lab>``, else ``<lab>/`` (or ``notebooks/<lab>/``) in the
    working directory or up to two levels above it (a notebook runs in its own folder, ``notebooks/<this lab>/``)."""
    bases = [Path(os.environ["LABKIT_NOTEBOOKS"])] if os.environ.get("LABKIT_NOTEBOOKS") else []
    here = Path(start or os.getcwd()).resolve()
    bases += [here, *list(here.parents)[:2]]
    for base in bases:
        for candidate in (base / lab, base / "notebooks" / lab):
            if candidate.is_dir():
                return candidate
        if base.name == lab and base.is_dir():
            return base
    return None


_read: dict[str, tuple[float, object]] = {}          # notebook path -> (mtime, parsed notebook)


def _notebook_with(folder: Path, exercise: str):
    from labkit import notebook_code as code
    for path in sorted(folder.glob("*.ipynb")):
        mtime = path.stat().st_mtime
        if str(path) not in _read or _read[str(path)][0] != mtime:
            try:
                _read[str(path)] = (mtime, code.read_notebook(path))
            except code.ExtractionError:
                continue
        nb = _read[str(path)][1]
        for cell in nb.cells:
            if code.is_solution_cell(cell) and code.grade_id(cell) == exercise:
                return path, nb, cell
    return None


def _written(source: str) -> bool:
    """False for a cell that still holds the exercise's stub (``raise NotImplementedError``)."""
    return "raise NotImplementedError" not in source


def own_module(lab: str, exercise: str, start: str | Path | None = None) -> tuple[types.ModuleType | None, str]:
    """Your solution of ``exercise`` as a module (the notebook's setup cells, then that cell), and where it is
    or why there is none."""
    from labkit import notebook_code as code
    folder = lab_folder(lab, start)
    if folder is None:
        return None, f"no folder {lab}/ with your notebooks of that lab was found next to this one"
    found = _notebook_with(folder, exercise)
    if found is None:
        return None, f"no notebook in {folder} has the exercise cell {exercise!r}"
    path, nb, cell = found
    if not _written(cell.source):
        return None, f"its cell in {path.name} still raises NotImplementedError: write it there first"
    key, mtime = (str(path), exercise), path.stat().st_mtime
    if key in _own and _own[key][0] == mtime:
        return _own[key][1], f"your notebook {path}"
    name = f"labkit_your_{lab}_{exercise}"
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module
    try:
        exec(compile(code.exercise_code(nb, [exercise], origin=str(path)), f"<{path.name}: {exercise}>", "exec"),
             module.__dict__)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise PartUnavailable(f"your {exercise!r} in {path} does not run: {type(exc).__name__}: {exc}") from exc
    _own[key] = (mtime, module)
    return module, f"your notebook {path}"


def find_exercise(lab: str, exercise: str) -> tuple[types.ModuleType | None, str]:
    """(module, where it came from: the reference's module name or "your notebook <path>"), the reference
    first; (None, why not) if there is neither."""
    module = reference_module(lab, exercise)
    if module is not None:
        return module, module.__name__
    return own_module(lab, exercise)


def earlier_part(lab: str, exercise: str, *names: str) -> Any:
    """The names ``names`` defined by ``exercise`` of ``lab`` (one value, or a tuple for several); see the
    module docstring for where they come from."""
    module, where = find_exercise(lab, exercise)
    if module is None:
        raise PartUnavailable(f"this cell builds on exercise {exercise!r} of {lab}, which is not published in "
                              f"this course yet and not written by you: {where}")
    missing = [n for n in names if not hasattr(module, n)]
    if missing:
        raise PartUnavailable(f"exercise {exercise!r} of {lab} ({where}) does not define {', '.join(missing)}")
    logger.info("%s.%s: %s from %s", lab, exercise, ", ".join(names), where)
    values = tuple(getattr(module, n) for n in names)
    return values[0] if len(values) == 1 else values
