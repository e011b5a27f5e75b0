"""The cost of one call across the sandbox boundary (grader -> student's process -> grader).

    python benchmarks/round_trip.py [--calls 2000]

Starts a student process (in the bubblewrap sandbox where available) on a two-line module and times plain
calls of a module function, method calls on an instance, and, for scale, a raw pipe round trip between two
processes. docs/benchmarks.md quotes these figures.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from autograder.student_proxy import StudentProcess

CODE = "def f(x):\n    return x\n\n\nclass A:\n    def g(self, x):\n        return x\n"


def per_call_us(fn, n: int) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - t0) / n * 1e6


def raw_pipe_us(n: int) -> float:
    a_r, a_w = os.pipe()
    b_r, b_w = os.pipe()
    if os.fork() == 0:                       # echo every byte back
        os.close(a_w)
        while os.read(a_r, 1):
            os.write(b_w, b"x")
        os._exit(0)
    os.close(a_r)
    os.close(b_w)
    t0 = time.perf_counter()
    for _ in range(n):
        os.write(a_w, b"x")
        os.read(b_r, 1)
    took = (time.perf_counter() - t0) / n * 1e6
    os.close(a_w)
    os.wait()
    os.close(b_r)
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=2000)
    n = ap.parse_args().calls
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "student_submission.py"
        path.write_text(CODE)
        os.chmod(tmp, 0o755)
        process = StudentProcess(str(path), None, None, 2048, 64, 600, 60)
        module = process.start()
        try:
            obj = module.A()
            print(f"student.f(x):   {per_call_us(module.f, n):6.0f} us per call (sandboxed: {process.sandboxed})")
            print(f"obj.g(x):       {per_call_us(lambda i: obj.g(i), n):6.0f} us per call")
        finally:
            process.stop()
    print(f"raw pipe round trip between two processes: {raw_pipe_us(n):6.0f} us")


if __name__ == "__main__":
    main()
