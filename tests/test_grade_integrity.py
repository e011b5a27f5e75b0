"""Attack submissions: a dishonest student gains nothing, damages nothing, and leaves nothing behind.

Each attack is graded like any submission (extracted code, sandboxed host process, grader behind handles).
For every one: it scores no more than a blank submission, no file outside its sandbox changes, no process
it started survives grading, and an honest submission graded right after it gets its normal score.
The other direction (right corpus variants keep full marks through the same path) is tests/test_graders_corpus.py.
"""
from __future__ import annotations

import copy
import hashlib
import subprocess
import time
from pathlib import Path

import pytest

from autograder import extract
from autograder.course import published_labs
from autograder.feedback import feedback_text
from autograder.registry import grader_for, read_grader
from autograder.runner import grade_notebook, run_grader

from ._course import REPO, SOURCE, code_with_variant

DEMO = Path(__file__).parent / "fixtures" / "demo_graders" / "demo_lab"
TOTAL = read_grader(DEMO / "test_demo_total.py")
RIGHT_TOTAL = "def total_tokens(lengths):\n    return sum(lengths)\n"
WRONG_TOTAL = "def total_tokens(lengths):\n    return 0\n"
GRADER_FILE = REPO / "autograder" / "graders" / "lab2_1_vllm_deployment" / "test_block_manager.py"
SOLUTION_FILE = REPO / "solutions" / "lab2_2_inference_optimization" / "prefix_cache.py"
MARK = "autograder-attack-7f3a"
UNPUBLISHED = sorted({p.name for p in (REPO / "solutions").iterdir() if p.is_dir()} - set(published_labs()))     # daemons put this in their command line, so the test can look for them

FORGE_FRAMES = """
import sys, gc
# Walk every frame and object of this process looking for the grader's plugin or result channel.
found = [o for o in gc.get_objects() if type(o).__name__ in ('GradingPlugin', 'Channel')]
frame = sys._getframe()
while frame is not None:
    for v in list(frame.f_locals.values()):
        if type(v).__name__ in ('GradingPlugin', 'Channel'):
            found.append(v)
    frame = frame.f_back
for o in found:
    ch = getattr(o, 'channel', o)
    for name in ('test_small_example', 'test_matches_sum'):
        ch.send('test', name=name, passed=True)
"""

FORGE_FDS = """
import os, json, struct
# Write fake pass events and fake protocol answers to every descriptor this process has.
for fd in range(0, 256):
    for payload in (b'{"event": "test", "name": "test_small_example", "passed": true}\\n',
                    struct.pack('>I', 20) + b'{"re": 1, "ok": 12}  '):
        try:
            os.write(fd, payload)
        except OSError:
            pass
"""

READ_SECRETS = f"""
import glob, os
stolen = []
for pattern in ({str(GRADER_FILE)!r}, {str(SOLUTION_FILE)!r}, {str(REPO)!r} + '/autograder/graders/*/*.py',
                *[{str(REPO)!r} + f'/solutions/{{lab}}/*.py' for lab in {UNPUBLISHED!r}],
                {str(REPO)!r} + '/tests/corpus/*/right_*.py', {str(REPO)!r} + '/source/*/*.ipynb',
                '/proc/1/root' + {str(REPO)!r} + '/autograder/graders/*/*.py'):
    for path in glob.glob(pattern):
        try:
            stolen.append(open(path).read())
        except OSError:
            pass
if stolen:
    raise AssertionError('STOLEN ' + ' '.join(stolen))
"""

TAMPER_TOOLS = """
import sys, pytest
try:
    import hypothesis.errors
    class Reject(hypothesis.errors.UnsatisfiedAssumption): pass
except Exception:
    Reject = Exception
sys.settrace(lambda *a: None)
def total_tokens(lengths):
    if lengths:
        raise Reject()            # what hypothesis treats as a rejected example
    pytest.skip('skip me')        # a skip must not count as a pass
"""

PERSIST = f"""
import os, site, sys
targets = [os.path.join(p, 'sitecustomize.py') for p in site.getsitepackages() + [site.getusersitepackages()]]
targets += [os.path.join(p, 'zz_attack.pth') for p in site.getsitepackages()]
targets += [{str(GRADER_FILE)!r}, {str(REPO / 'autograder' / 'api.py')!r}, {str(REPO / 'autograder' / 'runner.py')!r},
            {str(REPO / 'labkit' / '__init__.py')!r}, sys.executable + '_attack']
for path in targets:
    try:
        with open(path, 'a') as fh:
            fh.write('\\nraise SystemExit("planted by a submission")\\n')
    except OSError:
        pass
"""

DAEMON = f"""
import os, subprocess
# Daemons that try to outlive grading: setsid children, double forks, nohup.
subprocess.Popen(['sleep', '300', '{MARK}'], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp('sleep', ['sleep', '301', '{MARK}'])
    os._exit(0)
"""

FORK_SWARM = """
import os
def total_tokens(lengths):
    children = 0
    try:
        while children < 100000:
            if os.fork() == 0:
                import time
                time.sleep(30)
                os._exit(0)
            children += 1
    except OSError:
        pass
    return children
"""

DISK_FILL = """
import os, tempfile
def fill(folder):
    chunk = b'x' * (1 << 20)
    for i in range(100000):
        try:
            with open(os.path.join(folder, f'fill{i}'), 'wb') as fh:
                for _ in range(64):
                    fh.write(chunk)
        except OSError:
            return
def total_tokens(lengths):
    import glob
    for folder in ['/tmp', tempfile.gettempdir(), '/dev/shm', os.getcwd(), *glob.glob('/tmp/*/shared')]:
        fill(folder)
    return 0
"""

PIPE_FLOOD = """
import os, sys
sys.stderr.write('x' * (256 << 20))          # 256 MB without a newline on the output pipe
def total_tokens(lengths):
    os.write(1, b'\\xff\\xff\\xff\\xf0' + b'y' * (1 << 20))   # a protocol frame claiming 4 GB
    return 0
"""

NETWORK = """
import socket
def total_tokens(lengths):
    for host in ('1.1.1.1', '8.8.8.8', '10.0.0.1'):
        try:
            socket.create_connection((host, 80), timeout=1).close()
            return sum(lengths) + 1
        except OSError:
            pass
    return 0
"""

# name: the attack's code (its total_tokens, if any, is wrong or missing: a blank submission scores 0)
ATTACKS = {
    "forges_events_through_frames": FORGE_FRAMES + WRONG_TOTAL,
    "forges_events_on_every_fd": FORGE_FDS + WRONG_TOTAL,
    "reads_graders_and_solutions": READ_SECRETS + WRONG_TOTAL,
    "rejects_examples_and_skips": TAMPER_TOOLS,
    "persists_into_the_interpreter": PERSIST + WRONG_TOTAL,
    "leaves_daemons": DAEMON + WRONG_TOTAL,
    "fork_swarm": FORK_SWARM,
    "fills_the_disk": DISK_FILL,
    "floods_the_pipes": PIPE_FLOOD,
    "reaches_the_network": NETWORK,
}


def fingerprint() -> dict[str, str]:
    """Hashes of the files a submission must never change."""
    paths = [*sorted((REPO / "autograder").rglob("*.py")), *sorted((REPO / "labkit").glob("*.py")),
             *sorted((REPO / "solutions").rglob("*.py")), REPO / "nbgrader_config.py", REPO / "course.toml"]
    import site
    for folder in site.getsitepackages():
        paths += [Path(folder) / "sitecustomize.py", Path(folder) / "zz_attack.pth"]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else "absent" for p in paths}


def leftover_processes() -> str:
    found = subprocess.run(["pgrep", "-af", MARK], capture_output=True, text=True).stdout
    return "\n".join(line for line in found.splitlines() if "pgrep" not in line)


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_gains_nothing_damages_nothing_leaves_nothing(attack):
    before = fingerprint()
    t0 = time.monotonic()
    result = run_grader(TOTAL, ATTACKS[attack], origin=attack)
    report = feedback_text(result)
    assert result.score == 0, f"{attack} scored {result.score}:\n{report}"
    assert time.monotonic() - t0 < TOTAL.timeout_s + 30, "the attack held grading past its time limit"
    assert "STOLEN" not in report and "def test_" not in report and "class BlockManager" not in report, report
    assert fingerprint() == before, "a file outside the sandbox changed"
    time.sleep(0.5)
    assert leftover_processes() == "", f"processes survived grading:\n{leftover_processes()}"
    honest = run_grader(TOTAL, RIGHT_TOTAL, origin="honest after " + attack)
    assert honest.score == 4, feedback_text(honest)


def test_forging_on_a_course_exercise_gains_nothing():
    # The original exploit: an empty BlockManager plus frame walking got 15/15.
    grader, code, setup = code_with_variant("block_manager", "class BlockManager:\n    pass\n" + FORGE_FRAMES)
    result = run_grader(grader, code, origin="forging block_manager", setup=setup)
    assert result.score == 0, feedback_text(result)


def test_student_exceptions_are_clipped_and_marked_as_theirs():
    code = "def total_tokens(lengths):\n    raise ValueError('A' * 100000)\n"
    result = run_grader(TOTAL, code, origin="long exception")
    report = feedback_text(result)
    assert result.score == 0 and "your code raised ValueError" in report, report
    assert len(report) < 5000, f"feedback is {len(report)} characters long"


def test_a_continuation_line_starting_with_percent_is_code_not_a_magic():
    code = "def total_tokens(lengths):\n    return (sum(lengths)\n            % 10**9)\n"
    result = run_grader(TOTAL, code, origin="continuation line")
    assert result.score == 4, feedback_text(result)


def _lab21_notebook():
    return extract.read_notebook(SOURCE / "lab2_1_vllm_deployment" / "02-Basic_Inference.ipynb")


def test_pasted_grade_cells_do_not_add_points():
    nb = _lab21_notebook()
    honest = {r.grade_id: r.score for r in grade_notebook(nb, origin="honest")}
    pasted = copy.deepcopy(nb)
    grade = next(c for c in pasted.cells if extract.nbgrader_meta(c).get("grade")
                 and not extract.nbgrader_meta(c).get("solution"))
    for _ in range(4):
        pasted.cells.append(copy.deepcopy(grade))
    results = grade_notebook(pasted, origin="pasted")
    assert {r.grade_id: r.score for r in results} == honest
    assert sum(r.max_points for r in results) == sum(grader_for(g).points for g in honest)
    assert any("appears 5 times" in n for r in results for n in r.notices)


def test_deleted_grade_cells_are_still_scored_against_the_course():
    nb = copy.deepcopy(_lab21_notebook())
    for cell in nb.cells:     # a stub everywhere, and every grade cell deleted
        if extract.is_solution_cell(cell):
            cell.source = "raise NotImplementedError()\n"
    nb.cells = [c for c in nb.cells if not (extract.nbgrader_meta(c).get("grade")
                                            and not extract.nbgrader_meta(c).get("solution"))]
    results = grade_notebook(nb, origin="deleted grade cells")
    course = [c.grade_id for c in extract.grade_cells(_lab21_notebook()) if grader_for(c.grade_id)]
    assert sorted(r.grade_id for r in results) == sorted(course)
    assert sum(r.score for r in results) == 0
    assert all(any("missing from your notebook" in n for n in r.notices) for r in results)


def test_a_class_run_keeps_classmates_apart(tmp_path):
    from autograder.cli import find_submissions, grade_many
    import nbformat
    from autograder.authoring import grade_cell, notebook, save, solution
    victim_nb = tmp_path / "victim" / "demo.ipynb"
    thief = (f"import glob\nnbs = glob.glob({str(tmp_path)!r} + '/*/*.ipynb')\n"
             "for p in nbs:\n    try:\n        open(p, 'a').write('x')\n    except OSError:\n        pass\n"
             "if any('return sum(lengths)' in open(p).read() for p in nbs if 'victim' in p):\n"
             "    def total_tokens(lengths):\n        return sum(lengths)\n")

    def demo(code):
        return notebook([solution("demo_total", "### BEGIN SOLUTION\n" + code + "### END SOLUTION\n"),
                         grade_cell("test_demo_total", 4, "pass")])
    save(demo(RIGHT_TOTAL), victim_nb)
    save(demo(thief), tmp_path / "thief" / "demo.ipynb")
    original = victim_nb.read_bytes()
    import os
    os.environ["AUTOGRADER_GRADERS_DIRS"] = str(DEMO.parent)
    try:
        rows = grade_many(find_submissions(tmp_path), workers=1, progress=False)
    finally:
        del os.environ["AUTOGRADER_GRADERS_DIRS"]
    scores = {r["student"]: r["score"] for r in rows}
    assert scores == {"victim": 4.0, "thief": 0.0}, rows
    assert victim_nb.read_bytes() == original
    assert RIGHT_TOTAL in nbformat.read(str(victim_nb), as_version=4).cells[0].source


def test_without_bwrap_grading_refuses_and_no_sandbox_marks_results(tmp_path):
    import json
    import sys
    nb = SOURCE / "lab2_1_vllm_deployment" / "02-Basic_Inference.ipynb"
    env = {"PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path), "PYTHONHASHSEED": "0"}
    refused = subprocess.run([sys.executable, "-m", "autograder", "grade", str(nb), "-q"], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "bubblewrap" in refused.stderr, refused.stderr
    out = tmp_path / "out"
    forced = subprocess.run([sys.executable, "-m", "autograder", "grade", str(nb), "-q", "--no-sandbox",
                             "--out", str(out)], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert forced.returncode == 0, forced.stderr[-2000:]
    rows = json.loads((out / "results.json").read_text())
    assert rows and all(r["sandboxed"] is False for r in rows)
    assert "graded WITHOUT the sandbox" in next(out.glob("feedback_*.txt")).read_text()
    assert "False" in (out / "results.csv").read_text()
