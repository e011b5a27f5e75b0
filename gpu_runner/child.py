"""The check process: load the student's parts, run checks, report their measurements.

Started by :mod:`gpu_runner.sandbox` as ``python -m gpu_runner.child``. Reads one JSON job from stdin
(check names, settings, the student's exercise files, a nonce and the result pipe), loads the model
and then each exercise module, sends ``ready``, then one ``result`` line per check
(``{"nonce", "event", "check", "metrics" | "error"}``), and exits. Each check gets the student's
versions of the exercises it tests and the reference for every other part. Libraries are imported
before the student's code, and ``autograder.guard.TamperGuard`` reports any function or class of
torch, numpy, labkit, ... that the code rebinds (the check, or the exercise, then fails).
"""
from __future__ import annotations

import json
import logging
import os
import re
import sys
import traceback
import types

_CELL_MARK = re.compile(r"^# --- cell: (\S+) ---$")


class SubmissionError(Exception):
    """The student's code could not be used (does not load, lacks a name, ...): the check fails."""


def _location(path: str, lineno: int) -> str:
    """'cell block_manager, line 7' for a line of an extracted module (or 'line 7' for a .py file)."""
    cell, start = None, 0
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh.read().splitlines()[:lineno], start=1):
            m = _CELL_MARK.match(line)
            if m:
                cell, start = m.group(1), i
    return f"cell {cell}, line {lineno - start}" if cell else f"line {lineno}"


def describe(exc: BaseException, student_files: dict[str, str]) -> str:
    """The exception and where it happened, in the student's terms when their code raised it."""
    text = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    by_path = {os.path.abspath(p): e for e, p in student_files.items()}
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        exercise = by_path.get(os.path.abspath(frame.filename))
        if exercise:
            return f"{text} (raised in your {exercise}, {_location(frame.filename, frame.lineno)})"
    if frames:
        last = frames[-1]
        where = last.filename.split(os.sep + "labkit" + os.sep)[-1].split(os.sep + "gpu_runner" + os.sep)[-1]
        return f"{text} (at {where}:{last.lineno}, while running with your parts)"
    return text


def load_exercise(exercise: str, path: str) -> types.ModuleType:
    module = types.ModuleType(f"submission_{exercise}")
    module.__file__ = path
    sys.modules[module.__name__] = module
    with open(path, encoding="utf-8") as fh:
        source = fh.read()
    try:
        code = compile(source, path, "exec")
    except SyntaxError as exc:
        raise SubmissionError(f"{exercise}: SyntaxError in {_location(path, exc.lineno or 0)}: {exc.msg}") from None
    try:
        exec(code, module.__dict__)
    except BaseException as exc:  # noqa: BLE001 - anything the student's top level raises
        raise SubmissionError(f"{exercise}: your code raised {describe(exc, {exercise: path})} when it was "
                              "loaded") from None
    return module


def load_exercises(files: dict[str, str], guard) -> tuple[dict, dict[str, str]]:
    """Load each exercise module: exercise -> {name: object}, and exercise -> why it cannot be used."""
    from .submission import known_exercises
    known = known_exercises()
    loaded, errors = {}, {}
    for exercise, path in files.items():
        try:
            module = load_exercise(exercise, path)
            changed = guard.changes()
            if changed:
                raise SubmissionError(f"{exercise}: your code changed {', '.join(changed)} while it was loaded; "
                                      "this is not allowed")
            names = {}
            for name in known[exercise][1]:
                if name not in vars(module):
                    raise SubmissionError(f"{exercise}: your code does not define {name!r} (check the spelling, "
                                          "and that the exercise cell defines it at top level)")
                value = vars(module)[name]
                home = getattr(value, "__module__", "") or ""
                if home.partition(".")[0] == "solutions":
                    raise SubmissionError(f"{exercise}: {name} is the reference implementation imported from "
                                          f"{home}; there is nothing of yours to check")
                names[name] = value
            loaded[exercise] = names
        except SubmissionError as exc:
            errors[exercise] = str(exc)
    return loaded, errors


def parts_for(uses, loaded: dict):
    """EngineParts with the student's versions of the exercises in ``uses``, and their other names."""
    from labkit.engine import EngineParts, parts_from_namespace
    namespace, extras = {}, {}
    for exercise in uses:
        for name, value in loaded.get(exercise, {}).items():
            (namespace if name in EngineParts.names() else extras)[name] = value
    return parts_from_namespace(namespace, label="submission"), extras


def main() -> None:
    job = json.loads(sys.stdin.readline())
    fd, nonce = job.pop("result_fd"), job.pop("nonce")

    def send(event: str, **payload) -> None:
        os.write(fd, (json.dumps({"nonce": nonce, "event": event, **payload}, default=str) + "\n").encode())

    import torch
    import transformers  # noqa: F401 - the libraries are loaded (and snapshotted) before the student's code

    import labkit.engine  # noqa: F401
    from autograder.guard import TamperGuard

    from .checks import Context
    from .runner import check_by_name

    settings, files = job["settings"], job["files"]
    if settings["device"] == "cpu":
        torch.set_num_threads(settings.get("threads", 1))
    torch.manual_seed(settings.get("seed", 0))
    logging.getLogger("labkit.engine").setLevel(logging.ERROR)   # "part X: using the reference"
    ctx = Context(settings, parts=None, extras={})
    ctx.target()   # loading a model finishes the libraries' lazy set-up (torch._dynamo wraps torch.manual_seed)
    guard = TamperGuard.snapshot()
    loaded, load_errors = load_exercises(files, guard)
    send("ready", load_errors=load_errors)
    for name in job["checks"]:
        spec = check_by_name(name)
        problems = [load_errors[e] for e in spec.uses if e in load_errors]
        if problems:
            send("result", check=name, error="; ".join(problems))
            continue
        ctx.parts, ctx.extras = parts_for(spec.uses, loaded)
        try:
            metrics = spec.run(ctx)
            changed = guard.changes()
            if changed:
                raise SubmissionError(f"your code changed {', '.join(changed)} during the check; this is not allowed")
        except SubmissionError as exc:
            send("result", check=name, error=str(exc))
        except BaseException as exc:  # noqa: BLE001 - reported; the parent decides
            guard.changes()
            traceback.print_exc()
            send("result", check=name, error=describe(exc, {e: files[e] for e in spec.uses if e in files}))
        else:
            send("result", check=name, metrics=metrics)
        sys.stdout.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)   # skip interpreter teardown: nothing the student registered (atexit, __del__) runs after


if __name__ == "__main__":
    main()
