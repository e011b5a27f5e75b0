"""What hidden graders import: the points marker and small checking helpers."""
from __future__ import annotations

import math
import socket

import pytest

#: ``@points(3)`` gives a test its weight; the registry reads it statically, the worker at run time.
points = pytest.mark.points


def free_port() -> int:
    """A free TCP port on the loopback interface, for a server a grader starts (uvicorn, redis-server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fail_with(message: str) -> None:
    """Fail the current test with a feedback message (no traceback, no code)."""
    raise AssertionError(message)


def as_int(value, what: str) -> int:
    """Convert a student's return value to a plain int, or fail with a clear message.

    Guards against objects whose ``__eq__`` always answers True: the result is a real ``int``.
    """
    if isinstance(value, bool) or not (isinstance(value, int) or _is_scalar(value, "int")):
        fail_with(f"{what} should be an integer, got {type(value).__name__}: {_short(value)}")
    return int(value)


def as_float(value, what: str) -> float:
    """Convert a student's return value to a plain float, or fail with a clear message."""
    if isinstance(value, bool) or not (isinstance(value, (int, float)) or _is_scalar(value, "")):
        fail_with(f"{what} should be a number, got {type(value).__name__}: {_short(value)}")
    return float(value)


def as_int_list(value, what: str) -> list[int]:
    try:
        items = list(value)
    except Exception:
        fail_with(f"{what} should be a list of integers, got {type(value).__name__}: {_short(value)}")
    return [as_int(v, f"{what}[{i}]") for i, v in enumerate(items)]


def close(a: float, b: float, rel: float = 1e-9, abs_: float = 0.0) -> bool:
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=abs_)


def _is_scalar(value, kind: str) -> bool:
    """A numpy scalar or 0-d numpy/torch array whose dtype name contains ``kind``."""
    dtype = getattr(value, "dtype", None)
    if dtype is None or getattr(value, "ndim", None) != 0 or not hasattr(value, "item"):
        return False
    return type(value).__module__.split(".")[0] in ("numpy", "torch") and kind in str(dtype)


def _short(value, limit: int = 80) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<unrepresentable {type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
