"""Detect a submission that monkeypatches the libraries or the grader it is graded with (the GPU runner).

A detector of mistakes, not a defence: the hidden-grader path runs student code in a sandbox behind
handles instead (autograder/student_proxy.py); the GPU runner still loads it in-process.

Before the student's code is loaded, the worker records the identity of every function, class and
submodule bound in the protected modules (builtins, numpy, torch, pytest, hypothesis, the
autograder, ...) and of the methods of their classes. After loading and after every test, anything
rebound or deleted means the submission tampered with its grader: it scores 0 for that exercise.
New names are allowed (importing a submodule adds one). Data attributes are not compared: libraries
update their own module-level state while they run.
"""
from __future__ import annotations

import ast
import importlib
import signal
import sys
import types

_vars, _list, _len = vars, list, len   # bound now: a submission may rebind the builtins

PROTECTED_ROOTS = frozenset({
    "builtins", "autograder", "pytest", "_pytest", "pluggy", "hypothesis", "numpy", "torch", "scipy",
    "math", "cmath", "random", "operator", "functools", "itertools", "collections", "json", "os", "sys",
    "signal", "time", "copy", "heapq", "bisect", "statistics", "types", "inspect", "re", "traceback",
    "asyncio", "fractions", "decimal", "labkit", "subprocess", "shutil", "tempfile", "threading", "sqlite3",
    "jwt", "hashlib", "hmac",
})


def _watched(value) -> bool:
    # Functions, classes, numpy's array-function dispatchers, ufuncs, ...: anything callable, plus modules.
    return callable(value) or isinstance(value, (types.ModuleType, staticmethod, classmethod, property))


def _is_protected(name: str) -> bool:
    return name.partition(".")[0] in PROTECTED_ROOTS


class TamperGuard:
    def __init__(self) -> None:
        self.modules: dict[str, types.ModuleType] = {}
        self.module_items: dict[str, dict[str, object]] = {}
        self.class_items: dict[type, dict[str, object]] = {}
        self.alarm_handler = None

    @classmethod
    def snapshot(cls) -> "TamperGuard":
        guard = cls()
        for name, mod in list(sys.modules.items()):
            if not _is_protected(name) or not isinstance(mod, types.ModuleType):
                continue
            items = {k: v for k, v in list(vars(mod).items()) if _watched(v)}
            guard.modules[name] = mod
            guard.module_items[name] = items
            for value in items.values():
                if isinstance(value, type) and _is_protected(getattr(value, "__module__", "") or "") \
                        and value not in guard.class_items and _is_python_class(value):
                    guard.class_items[value] = {k: v for k, v in list(vars(value).items()) if _watched(v)}
        guard.alarm_handler = signal.getsignal(signal.SIGALRM)
        return guard

    def changes(self, limit: int = 3) -> list[str]:
        """Names that were rebound or deleted since the snapshot (at most ``limit``).

        Everything found is put back at once, so the grader can report it even if the submission
        broke ``isinstance`` or ``json`` along the way.
        """
        found: list[str] = []
        for name, mod in self.modules.items():
            if sys.modules.get(name, mod) is not mod:
                sys.modules[name] = mod
                found.append(f"sys.modules[{name!r}]")
            current = _vars(mod)
            for key, value in self.module_items[name].items():
                if current.get(key, _MISSING) is not value:
                    current[key] = value
                    found.append(f"{name}.{key}")
        for klass, items in self.class_items.items():
            current = _vars(klass)
            for key, value in items.items():
                if current.get(key, _MISSING) is not value:
                    setattr(klass, key, value)
                    found.append(f"{klass.__module__}.{klass.__qualname__}.{key}")
        if signal.getsignal(signal.SIGALRM) is not self.alarm_handler:
            signal.signal(signal.SIGALRM, self.alarm_handler)
            found.append("signal handler for SIGALRM")
        return found[:limit]


_MISSING = object()


def _is_python_class(klass: type) -> bool:
    """Heap types that are not immutable: the classes whose methods can be rebound."""
    heap, immutable = 1 << 9, 1 << 8
    return bool(klass.__flags__ & heap) and not klass.__flags__ & immutable


def imported_modules(code: str) -> list[str]:
    """Dotted names of the watched libraries that ``code`` imports anywhere (top level or in functions)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
    return [n for n in dict.fromkeys(names) if _is_protected(n) and n.partition(".")[0] not in ("autograder",)]


def preimport_libraries(code: str) -> None:
    for name in imported_modules(code):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a missing library is the submission's problem, reported later
            pass
