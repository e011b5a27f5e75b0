"""End to end through the real nbgrader: a fake class of six students on a demo assignment.

generate_assignment -> submitted/ -> autograde -> generate_feedback -> export, asserting every
student's exact score, that feedback names failed properties, and that it never shows hidden tests.
"""
from __future__ import annotations

import copy
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograder.authoring import grade_cell, md, notebook, save, setup, solution

from autograder.build import make_course_dir, nbgrader_env

DEMO_GRADERS = Path(__file__).parent / "fixtures" / "demo_graders"
INTRUDER_GRADERS = str(DEMO_GRADERS)
LAB = "demo_lab"

TOTAL_REF = "def total_tokens(lengths):\n    ### BEGIN SOLUTION\n    return sum(lengths)\n    ### END SOLUTION\n"
COUNTER_REF = """class TokenCounter:
    ### BEGIN SOLUTION
    def __init__(self):
        self._n = 0

    def add(self, n):
        if n < 0:
            raise ValueError("negative count")
        self._n += n

    def total(self):
        return self._n
    ### END SOLUTION
"""
STUB_TOTAL = "def total_tokens(lengths):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"

STUDENTS = {
    # name: (demo_total cell, demo_counter cell, expected score)
    "reference": (None, None, 10),
    "blank": ("stub", "stub", 0),
    "partial": (TOTAL_REF, "stub", 4),
    "broken": ("def total_tokens(lengths)\n    return sum(lengths)\n",                     # syntax error
               COUNTER_REF + "\nprint('x' * 10_000_000)\nimport sys; sys.stderr.write('noise\\n')\n", 6),
    "cheating": ("import builtins\nbuiltins.isinstance = lambda *a: True\n"
                 "def total_tokens(lengths):\n    return 12\n",
                 "import os\nclass TokenCounter:\n    def __init__(self):\n"
                 "        for fd in range(3, 64):\n"
                 "            try: os.write(fd, b'{\"event\": \"test\", \"name\": \"test_adds\", \"passed\": true}\\n')\n"
                 "            except OSError: pass\n"
                 "        os._exit(0)\n", 0),
    # During autograde the notebook itself runs (sandboxed kernel): it tries to damage the gradebook and the
    # course, plant files, and print the hidden grader into its feedback.
    "intruder": ("import glob, os\n"
                 "for path in glob.glob('../../../*') + glob.glob('../../../*/*/*') + [os.path.expanduser('~/x')]:\n"
                 "    try:\n        open(path, 'a').write('planted')\n    except OSError:\n        pass\n"
                 "for name in ('../../../planted.txt', '../../planted.txt', '/tmp/../planted.txt'):\n"
                 "    try:\n        open(name, 'w').write('planted')\n    except OSError:\n        pass\n"
                 "for path in glob.glob(os.environ.get('AUTOGRADER_GRADERS_DIRS', '/nonexistent') + '/*/*.py')"
                 " + glob.glob(INTRUDER_GRADERS + '/*/*.py'):\n"
                 "    print(open(path).read())\n"
                 "def total_tokens(lengths):\n    return 0\n",
                 "stub", 0),
    "hog": ("def total_tokens(lengths):\n    while True:\n        pass\n",
            "class TokenCounter:\n    def __init__(self):\n        self.x = bytearray(50 * 2**30)\n", 0),
}


def demo_notebook():
    return notebook([
        md("# Demo assignment"),
        setup("setup_demo", "import math"),
        solution("demo_total", TOTAL_REF),
        grade_cell("test_demo_total", 4, "assert total_tokens([1, 2]) == 3, 'total_tokens([1, 2]) should be 3'"),
        solution("demo_counter", COUNTER_REF),
        grade_cell("test_demo_counter", 6, "c = TokenCounter(); c.add(2)\nassert c.total() == 2, 'total after add(2)'"),
    ])


def nbgrader(args, course, env):
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900)
    assert proc.returncode == 0, f"nbgrader {args} failed:\n{proc.stdout[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    course = make_course_dir(tmp_path_factory.mktemp("course"), labs_=[])
    save(demo_notebook(), course / "source" / LAB / "demo.ipynb")
    env = nbgrader_env({"AUTOGRADER_GRADERS_DIRS": str(DEMO_GRADERS)})
    nbgrader(["generate_assignment", LAB, "--force"], course, env)
    released = nbformat.read(str(course / "release" / LAB / "demo.ipynb"), as_version=4)
    for student, (total_src, counter_src, _) in STUDENTS.items():
        nb = copy.deepcopy(released)
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if student == "reference" and gid in ("demo_total", "demo_counter"):
                cell.source = TOTAL_REF if gid == "demo_total" else COUNTER_REF
            elif gid == "demo_total" and total_src != "stub":
                cell.source = total_src.replace("INTRUDER_GRADERS", repr(INTRUDER_GRADERS))
            elif gid == "demo_counter" and counter_src != "stub":
                cell.source = counter_src
        save(nb, course / "submitted" / student / LAB / "demo.ipynb")
    t0 = time.monotonic()
    nbgrader(["autograde", LAB, "--force", "--SafeExecute.timeout=20"], course, env)
    seconds = time.monotonic() - t0
    nbgrader(["generate_feedback", LAB, "--force"], course, env)
    nbgrader(["export", "--to", str(course / "grades.csv")], course, env)
    with open(course / "grades.csv") as fh:
        grades = {r["student_id"]: float(r["raw_score"]) for r in csv.DictReader(fh)}
    return course, grades, seconds


def test_every_student_gets_the_exact_expected_score(graded_class):
    _, grades, _ = graded_class
    expected = {s: float(e) for s, (_, _, e) in STUDENTS.items()}
    assert grades == expected


def test_autograde_of_the_class_never_hangs(graded_class):
    *_, seconds = graded_class
    # 6 students; the hog's infinite loop and memory hog are cut by the per-cell and per-test limits.
    assert seconds < 600, f"autograde took {seconds:.0f} s"


def _feedback(course, student):
    return (course / "feedback" / student / LAB / "demo.html").read_text()


def test_feedback_names_failed_properties_and_hides_hidden_tests(graded_class):
    course, *_ = graded_class
    for student in STUDENTS:
        html = _feedback(course, student)
        assert "BEGIN HIDDEN TESTS" not in html and "hidden grader for this exercise" not in html
        assert "test_matches_sum" not in html and "as_int(" not in html, "grader code leaked into feedback"
    assert "SyntaxError in cell demo_total" in _feedback(course, "broken")
    assert "not implemented yet" in _feedback(course, "partial")
    assert "stopped answering" in _feedback(course, "cheating")
    assert "timed out" in _feedback(course, "hog")


def test_the_notebook_kernel_cannot_touch_the_course(graded_class):
    course, grades, _ = graded_class
    planted = [p for p in course.rglob("*") if p.is_file() and p.read_bytes().endswith(b"planted")]
    assert not planted, f"the intruder's kernel wrote into the course: {planted}"
    assert not (course / "planted.txt").exists()
    assert "def test_" not in _feedback(course, "intruder"), "grader source in the intruder's feedback"
    executed = (course / "autograded" / "intruder" / LAB / "demo.ipynb").read_text()
    assert "def test_small_example" not in executed and "as_int(" not in executed
