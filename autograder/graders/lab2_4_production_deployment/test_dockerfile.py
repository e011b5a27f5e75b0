"""Hidden grader: the multi-stage GPU Dockerfile (Lab 2.4, notebook 02).

The text is parsed the way Docker reads it (comments dropped, backslash continuations joined,
instructions case-insensitive, stages split at FROM) and checked against the exercise's rules.
"""
from __future__ import annotations

import json
import re

from autograder.api import fail_with, points

EXERCISES = ["dockerfile"]
TIMEOUT_S = 60
TEST_TIMEOUT_S = 20

CASES = [dict(), dict(cuda="12.1.0", ubuntu="20.04", packages=("torch==2.4.0", "vllm==0.6.3", "fastapi==0.115.0"),
                      uid=2000, port=9000)]
DEFAULTS = dict(cuda="12.4.1", ubuntu="22.04", packages=("vllm==0.6.3",), uid=10001, port=8000)


def call_text(case):
    return "dockerfile(" + ", ".join(f"{k}={v!r}" for k, v in case.items()) + ")"


def parse(text):
    """[(instruction, arguments)] per stage; stage 0 starts at the first FROM."""
    logical, buf = [], ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        logical.append((buf + line).strip())
        buf = ""
    if buf.strip():
        logical.append(buf.strip())
    stages = []
    for line in logical:
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "FROM":
            stages.append([])
        if not stages:
            if word != "ARG":
                fail_with(f"the Dockerfile has {word} before its first FROM")
            continue
        stages[-1].append((word, rest.strip()))
    return stages


def build(student, case):
    call = call_text(case)
    text = student.dockerfile(**case)
    if not isinstance(text, str):
        fail_with(f"{call} returned {type(text).__name__}, expected the Dockerfile as a str")
    stages = parse(text)
    return call, stages, {**DEFAULTS, **case}


@points(1)
def test_two_stages(student):
    """two stages: a cudnn-devel builder and a cudnn-runtime final image of the same CUDA / Ubuntu"""
    for case in CASES:
        call, stages, p = build(student, case)
        froms = [s[0][1] for s in stages]
        want_b = f"nvidia/cuda:{p['cuda']}-cudnn-devel-ubuntu{p['ubuntu']}"
        want_f = f"nvidia/cuda:{p['cuda']}-cudnn-runtime-ubuntu{p['ubuntu']}"
        if len(stages) != 2:
            fail_with(f"{call} has {len(stages)} FROM stages {froms}; expected 2 (builder and runtime)")
        b = froms[0].split()
        if b[0] != want_b or len(b) != 3 or b[1].upper() != "AS" or b[2] != "builder":
            fail_with(f"{call}: the first stage is 'FROM {froms[0]}', expected 'FROM {want_b} AS builder'")
        if froms[1].split()[0] != want_f:
            fail_with(f"{call}: the final stage is 'FROM {froms[1]}', expected 'FROM {want_f}' (runtime: no compilers)")


@points(1)
def test_packages_built_in_builder(student):
    """packages installed with pip --no-cache-dir in the builder; /opt/venv copied into the final stage"""
    for case in CASES:
        call, stages, p = build(student, case)
        if len(stages) != 2:
            fail_with(f"{call} should have two stages")
        builder, final = stages
        pips = [a for w, a in builder if w == "RUN" and "pip install" in a]
        if not pips or not all("--no-cache-dir" in a for a in pips):
            fail_with(f"{call}: the builder should install with 'pip install --no-cache-dir', found {pips}")
        words = " ".join(pips).split()
        missing = [pkg for pkg in p["packages"] if pkg not in words]
        if missing:
            fail_with(f"{call}: the builder's pip install does not install {missing}")
        if not any(w == "RUN" and "venv" in a and "/opt/venv" in a for w, a in builder):
            fail_with(f"{call}: the builder should create a virtualenv in /opt/venv")
        copies = [a.split() for w, a in final if w == "COPY"]
        if not any("--from=builder" in c and c[-2:] == ["/opt/venv", "/opt/venv"] for c in copies):
            fail_with(f"{call}: the final stage should 'COPY --from=builder /opt/venv /opt/venv'")
        if any(w == "RUN" and "pip install" in a for w, a in final):
            fail_with(f"{call}: the final stage runs pip install; packages come from the builder")


@points(1)
def test_apt_lists_removed_in_same_layer(student):
    """every RUN with apt-get install removes /var/lib/apt/lists in the same RUN"""
    for case in CASES:
        call, stages, _ = build(student, case)
        runs = [a for s in stages for w, a in s if w == "RUN" and "apt-get install" in a]
        if not runs:
            fail_with(f"{call}: no RUN installs the system packages (python3) with apt-get install")
        for a in runs:
            if "rm -rf /var/lib/apt/lists" not in a:
                fail_with(f"{call}: 'RUN {a[:90]}...' leaves /var/lib/apt/lists in its layer: remove it in the same RUN")


@points(1)
def test_non_root_user(student):
    """the final stage creates the user with the given UID and runs as USER <uid>; uid < 1000 is refused"""
    for case in CASES:
        call, stages, p = build(student, case)
        final = stages[-1]
        users = [(i, a) for i, (w, a) in enumerate(final) if w == "USER"]
        if not users or users[-1][1].split(":")[0] != str(p["uid"]):
            fail_with(f"{call}: the final stage should end with 'USER {p['uid']}' (numeric), got {[a for _, a in users]}")
        entry = [i for i, (w, _) in enumerate(final) if w in ("ENTRYPOINT", "CMD")]
        if entry and users[-1][0] > entry[-1]:
            fail_with(f"{call}: USER comes after ENTRYPOINT/CMD")
        made = [a for w, a in final[:users[-1][0]] if w == "RUN" and re.search(r"(useradd|adduser)\b", a)]
        if not any(re.search(rf"(--uid|-u)[ =]{p['uid']}\b", a) for a in made):
            fail_with(f"{call}: the final stage should create the user with useradd --uid {p['uid']} before USER")
    for bad in (0, 999):
        try:
            student.dockerfile(uid=bad)
        except ValueError:
            continue
        except Exception as exc:
            fail_with(f"dockerfile(uid={bad}) raised {type(exc).__name__}; expected ValueError")
        fail_with(f"dockerfile(uid={bad}) did not raise ValueError (root / a system account)")


@points(1)
def test_port_healthcheck_entrypoint(student):
    """EXPOSE <port>, a HEALTHCHECK on /health, and an exec-form ENTRYPOINT with --port <port>"""
    for case in CASES:
        call, stages, p = build(student, case)
        final = stages[-1]
        if not any(w == "EXPOSE" and str(p["port"]) in a.replace("/tcp", "").split() for w, a in final):
            fail_with(f"{call}: the final stage should EXPOSE {p['port']}")
        if not any(w == "HEALTHCHECK" and "/health" in a and f":{p['port']}" in a for w, a in final):
            fail_with(f"{call}: the final stage needs a HEALTHCHECK that requests http://localhost:{p['port']}/health")
        entries = [a for w, a in final if w == "ENTRYPOINT"]
        if not entries:
            fail_with(f"{call}: the final stage has no ENTRYPOINT")
        try:
            argv = json.loads(entries[-1])
        except ValueError:
            fail_with(f"{call}: ENTRYPOINT {entries[-1]} is in shell form; use the exec form (a JSON array) so the "
                      f"server is PID 1 and receives SIGTERM")
        if not isinstance(argv, list) or not all(isinstance(x, str) for x in argv):
            fail_with(f"{call}: ENTRYPOINT should be a JSON array of strings, got {entries[-1]}")
        pairs = list(zip(argv, argv[1:]))
        if ("--port", str(p["port"])) not in pairs:
            fail_with(f"{call}: ENTRYPOINT {argv} should pass '--port', '{p['port']}'")
