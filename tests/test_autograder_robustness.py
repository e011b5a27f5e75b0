"""The grading engine survives whatever a submission does, and a cheating submission gains nothing."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from autograder.feedback import feedback_text
from autograder.registry import read_grader
from autograder.runner import run_grader

DEMO = Path(__file__).parent / "fixtures" / "demo_graders" / "demo_lab"
TOTAL = read_grader(DEMO / "test_demo_total.py")
NORM = read_grader(DEMO / "test_demo_norm.py")

RIGHT_TOTAL = "def total_tokens(lengths):\n    return sum(lengths)\n"
RIGHT_NORM = "import torch\ndef l2_norm(x):\n    return float(torch.linalg.vector_norm(x))\n"

# name: (grader, code, expected score, a phrase the feedback must contain)
CASES = {
    "reference": (TOTAL, RIGHT_TOTAL, 4, "PASS"),
    "partly_wrong": (TOTAL, "def total_tokens(lengths):\n    return sum(lengths[:5])\n", 2, "counterexample"),
    "stub": (TOTAL, "def total_tokens(lengths):\n    raise NotImplementedError()\n", 0, "not implemented yet"),
    "syntax_error": (TOTAL, "# --- cell: demo_total ---\ndef total_tokens(lengths)\n    return 1\n", 0,
                     "SyntaxError in cell demo_total, line 1"),
    "missing_name": (TOTAL, "def total(lengths):\n    return sum(lengths)\n", 0, "does not define 'total_tokens'"),
    "raises_at_load": (TOTAL, "1 / 0\n", 0, "ZeroDivisionError"),
    "infinite_loop": (TOTAL, "def total_tokens(lengths):\n    while True:\n        pass\n", 0, "timed out"),
    "loop_at_load": (TOTAL, "while True:\n    pass\n", 0, "did not finish loading"),
    "swallows_timeout": (TOTAL, "def total_tokens(lengths):\n    while True:\n        try:\n            "
                         "while True: pass\n        except BaseException:\n            pass\n", 0, "timed out"),
    "os_exit": (TOTAL, "import os\ndef total_tokens(lengths):\n    os._exit(0)\n", 0, "stopped answering"),
    "memory_hog": (TOTAL, "def total_tokens(lengths):\n    return len(bytearray(64 * 2**30))\n", 0, "out of memory"),
    "huge_output": (TOTAL, "print('x' * 10_000_000)\nimport sys\nsys.stderr.write('warning: noise\\n' * 1000)\n"
                    + RIGHT_TOTAL, 4, "PASS"),
    # Patching libraries changes only the sandbox's own copy: the grader's checks run in another process.
    "patches_builtins": (TOTAL, "import builtins\nbuiltins.sum = lambda *a, **k: 13\n" + RIGHT_TOTAL, 0, "FAIL"),
    "patches_autograder": (TOTAL, "import autograder.api as api\napi.as_int = lambda v, w: 12\n"
                           "def total_tokens(l):\n    return 0\n", 0, "ModuleNotFoundError"),
    "patches_numpy_late": (NORM, "import numpy\ndef l2_norm(x):\n    numpy.allclose = lambda *a, **k: True\n"
                           "    return 0.0\n", 0, "FAIL"),
    "patches_torch": (NORM, "import torch\ntorch.allclose = lambda *a, **k: True\ndef l2_norm(x):\n"
                      "    return 0.0\n", 0, "FAIL"),
    "forges_results": (TOTAL, "import os\nfor fd in range(3, 64):\n    try:\n        os.write(fd, b'{\"event\": "
                       "\"test\", \"name\": \"test_small_example\", \"passed\": true}\\n')\n    except OSError:\n"
                       "        pass\ndef total_tokens(l):\n    return 0\n", 0, "FAIL"),
    "always_equal": (TOTAL, "class Yes(int):\n    def __eq__(self, o):\n        return True\n"
                     "def total_tokens(l):\n    return Yes(0)\n", 0, "FAIL"),
    "imports_solutions": (TOTAL, "from solutions.lab2_2_inference_optimization import prefix_cache\n" + RIGHT_TOTAL,
                          0, "ModuleNotFoundError"),
    "norm_reference": (NORM, RIGHT_NORM, 3, "PASS"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_submission_gets_expected_score_and_clear_feedback(case):
    grader, code, expected, phrase = CASES[case]
    t0 = time.monotonic()
    result = run_grader(grader, code, origin=case)
    report = feedback_text(result)
    assert result.score == expected, report
    assert phrase in report, report
    assert time.monotonic() - t0 < grader.timeout_s + 15


def test_grading_is_deterministic():
    code = CASES["partly_wrong"][1]
    reports = {feedback_text(run_grader(TOTAL, code)) for _ in range(2)}
    assert len(reports) == 1, reports


def test_importing_a_library_is_not_tampering():
    # torch rebinds inspect.getfile when first imported; the demo_total grader does not import torch.
    code = "import torch\nimport numpy as np\n" + RIGHT_TOTAL
    result = run_grader(TOTAL, code, origin="imports torch")
    assert result.score == 4, feedback_text(result)


TRUSTED_SETUP = ("# --- cell: setup_demo ---\nfrom labkit.earlier_labs import earlier_part\n"
                 "import labkit.engine\nSETUP_CONSTANT = 7\n")


def test_trusted_setup_may_import_what_student_code_may_not():
    # The course's setup cells run first, in the student's module: the student's code sees their names.
    code = "def total_tokens(lengths):\n    assert SETUP_CONSTANT == 7\n    return sum(lengths)\n"
    result = run_grader(TOTAL, code, origin="trusted setup", setup=TRUSTED_SETUP)
    assert result.score == 4, feedback_text(result)


def test_student_code_still_cannot_import_solutions_with_a_trusted_setup():
    # Only published labs and what a lab builds on are in the sandbox (course.toml): here, nothing.
    code = "import solutions.lab2_2_inference_optimization.prefix_cache\n" + RIGHT_TOTAL
    result = run_grader(TOTAL, code, origin="imports solutions", setup=TRUSTED_SETUP)
    assert result.score == 0 and "ModuleNotFoundError" in feedback_text(result), feedback_text(result)


def test_broken_course_setup_is_reported_as_the_course_s_fault():
    result = run_grader(TOTAL, RIGHT_TOTAL, origin="broken setup", setup="raise RuntimeError('no model')\n")
    assert result.score == 0
    assert "course's setup cells failed" in feedback_text(result), feedback_text(result)


def test_submission_setup_cells_are_replaced_by_the_course_copy():
    # A correct solution cell that relies on an edit the student made to a locked setup cell fails: the
    # grader takes the setup cells from the course's own notebook. The unedited notebook gets full marks.
    import copy

    from autograder import extract
    from autograder.runner import grade_notebook
    from tests._course import SOURCE
    src = extract.read_notebook(SOURCE / "lab2_1_vllm_deployment" / "02-Basic_Inference.ipynb")
    edited = copy.deepcopy(src)
    for cell in edited.cells:
        if extract.is_setup_cell(cell):
            cell.source += "\nSTUDENT_EDIT = True\n"
        if extract.grade_id(cell) == "kv_cache_size":
            cell.source = "assert STUDENT_EDIT\n" + cell.source
    scores = {}
    for name, nb in (("as released", src), ("edited setup", edited)):
        result = grade_notebook(nb, origin=name, only={"test_kv_cache_size"})[0]
        scores[name] = (result.score, result.max_points, feedback_text(result))
    assert scores["as released"][0] == scores["as released"][1], scores["as released"][2]
    assert scores["edited setup"][0] == 0, scores["edited setup"][2]
    assert "STUDENT_EDIT" in scores["edited setup"][2], scores["edited setup"][2]


def test_faking_a_subprocess_tool_changes_nothing_for_the_grader():
    # Graders that run a real tool (promtool) run it in their own process: a submission that fakes
    # subprocess.run fakes it only in its sandbox, and keeps exactly the score its code earns.
    fake = "import subprocess\nsubprocess.run = lambda *a, **k: subprocess.CompletedProcess(a, 0, '', '')\n"
    assert run_grader(TOTAL, fake + RIGHT_TOTAL, origin="fakes subprocess").score == 4
    assert run_grader(TOTAL, fake + "def total_tokens(l):\n    return 0\n", origin="fakes subprocess").score == 0
