"""Hidden grader: the SQLite model registry (Lab 2.4, notebook 02).

Behaviour is compared with the stated rules; concurrency is tested with threads (one registry per
thread) and with forked processes on one database file: no version handed out twice, none lost. The threads
and processes run inside the sandbox (``sandbox_helpers.method_calls_in_threads`` / ``_in_processes``); the
database lives in the grader's temporary folder, which the sandbox shares.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from autograder.api import as_int, fail_with, points
from autograder.graders.batched import repeat

EXERCISES = ["model_registry"]
TIMEOUT_S = 150
TEST_TIMEOUT_S = 60


def fresh(student, tmp=None):
    tmp = tmp or tempfile.mkdtemp(prefix="registry_")
    path = str(Path(tmp) / "registry.db")
    return student.ModelRegistry(path), path


def version_of(out, call):
    return as_int(out, call)


def expect_error(fn, call, kinds, words):
    try:
        fn()
    except kinds as exc:
        text = str(exc)
        missing = [w for w in words if str(w) not in text]
        if missing:
            fail_with(f"{call} raised {type(exc).__name__}({text!r}); the message should name {missing}")
        return
    except Exception as exc:
        fail_with(f"{call} raised {type(exc).__name__}: {exc}; expected {kinds if isinstance(kinds, type) else kinds[0]}")
    fail_with(f"{call} raised nothing; expected {kinds.__name__ if isinstance(kinds, type) else kinds[0].__name__}")


@points(2)
def test_versions_and_get(student):
    """register numbers versions 1, 2, 3 per model; get by version or alias returns the record"""
    reg, path = fresh(student)
    got = [version_of(reg.register("llama", f"s3://models/llama/{i}", {"mmlu": 0.5 + i / 100}), f"register('llama', ...) #{i}")
           for i in range(1, 4)]
    other = version_of(reg.register("mistral", "s3://models/mistral/1"), "register('mistral', ...)")
    if got != [1, 2, 3] or other != 1:
        fail_with(f"three register('llama', ...) returned {got} and the first register('mistral', ...) {other}; "
                  f"expected [1, 2, 3] and 1 (versions count per model)")
    rec = reg.get("llama", 2)
    if not isinstance(rec, dict) or rec.get("uri") != "s3://models/llama/2" or rec.get("version") != 2 \
            or rec.get("name") != "llama" or rec.get("metrics") != {"mmlu": 0.52}:
        fail_with(f"get('llama', 2) returned {rec!r}; expected name, version 2, uri s3://models/llama/2, metrics {{'mmlu': 0.52}}")
    if student.ModelRegistry(path).get("mistral", 1).get("metrics") != {}:
        fail_with("get('mistral', 1) of a version registered without metrics should have metrics {} "
                  "(and a second ModelRegistry on the same file must see it)")
    reg.set_alias("llama", "canary", 3)
    if reg.get("llama", "canary").get("version") != 3:
        fail_with("after set_alias('llama', 'canary', 3), get('llama', 'canary') should be version 3")
    reg.set_alias("llama", "canary", 1)
    if reg.get("llama", "canary").get("version") != 1:
        fail_with("set_alias('llama', 'canary', 1) after pointing it at 3: the alias should move to version 1")


@points(2)
def test_unknown_refs_raise_clear_errors(student):
    """KeyError naming the model and the ref for unknown models, versions and aliases"""
    reg, _ = fresh(student)
    reg.register("llama", "s3://a")
    expect_error(lambda: reg.get("llama", 7), "get('llama', 7)", KeyError, ["llama", "7"])
    expect_error(lambda: reg.get("llama", "prod"), "get('llama', 'prod') before any promote", KeyError, ["llama", "prod"])
    expect_error(lambda: reg.get("qwen", 1), "get('qwen', 1) of a model never registered", KeyError, ["qwen"])
    expect_error(lambda: reg.set_alias("llama", "canary", 2), "set_alias('llama', 'canary', 2) (only version 1 exists)",
                 KeyError, ["llama", "2"])
    expect_error(lambda: reg.promote("llama", 5), "promote('llama', 5)", KeyError, ["llama", "5"])
    expect_error(lambda: reg.set_traffic("llama", {1: 0.5, 9: 0.5}), "set_traffic('llama', {1: 0.5, 9: 0.5})",
                 KeyError, ["llama", "9"])
    expect_error(lambda: reg.rollback("llama"), "rollback('llama') with no earlier prod", LookupError, ["llama"])


@points(2)
def test_promote_and_rollback(student):
    """promote pushes the previous prod; rollback pops it (several levels); nothing left: LookupError"""
    reg, path = fresh(student)
    for i in range(4):
        reg.register("m", f"uri{i + 1}")
    reg.promote("m", 1)
    reg.promote("m", 2)
    reg.promote("m", 4)
    if reg.get("m", "prod").get("version") != 4:
        fail_with("after promote 1, 2, 4: prod should be version 4")
    reg2 = student.ModelRegistry(path)                     # the history lives in the database
    back = version_of(reg2.rollback("m"), "rollback('m')")
    if back != 2 or reg.get("m", "prod").get("version") != 2:
        fail_with(f"promote 1, 2, 4 then rollback('m') returned {back}, prod {reg.get('m', 'prod').get('version')}; "
                  f"expected 2 and 2 (from a second ModelRegistry on the same file)")
    reg.promote("m", 3)
    seq = [version_of(reg.rollback("m"), "rollback('m')") for _ in range(2)]
    if seq != [2, 1]:
        fail_with(f"promote 1, 2, 4, rollback, promote 3, then rollback twice returned {seq}; expected [2, 1]")
    expect_error(lambda: reg.rollback("m"), "a third rollback('m') (history used up)", LookupError, ["m"])
    if reg.get("m", "prod").get("version") != 1:
        fail_with("a failed rollback must leave prod where it was (version 1)")


def routes(student, reg, ids: list) -> list:
    """``[reg.route("m", r) for r in ids]``, made in the sandbox in a few round trips (``batched.repeat``)."""
    out = []
    for value, exc in repeat(student, reg, "route", [["m", r] for r in ids]):
        if exc is not None:
            raise exc
        out.append(value)
    return out


@points(2)
def test_traffic_split(student):
    """route: sticky per request id, shares follow the weights, aliases resolved at routing time"""
    reg, path = fresh(student)
    for i in range(3):
        reg.register("m", f"uri{i + 1}")
    reg.promote("m", 1)
    if {version_of(v, "route") for v in routes(student, reg, [f"r{i}" for i in range(50)])} != {1}:
        fail_with("without a traffic split every request should go to prod (version 1)")
    reg.set_alias("m", "canary", 2)
    reg.set_traffic("m", {"prod": 0.9, "canary": 0.1})
    ids = [f"user-{i}" for i in range(4000)]
    first = [version_of(v, f"route('m', {r!r})") for r, v in zip(ids, routes(student, reg, ids))]
    share = first.count(2) / len(first)
    if not 0.07 <= share <= 0.13 or set(first) != {1, 2}:
        fail_with(f"with set_traffic('m', {{'prod': 0.9, 'canary': 0.1}}) {share:.1%} of 4000 request ids went to the "
                  f"canary (version 2); expected about 10%")
    again = routes(student, student.ModelRegistry(path), ids[:200])
    if again != first[:200]:
        fail_with("route('m', request_id) must give the same version every time for the same id "
                  "(also from another ModelRegistry on the same file): hash the id with a fixed hash such as sha256")
    reg.promote("m", 3)
    moved = routes(student, reg, ids[:400])
    if set(moved) != {2, 3}:
        fail_with(f"after promote('m', 3) the 'prod' share of the split should go to version 3 (aliases are resolved "
                  f"when routing), got versions {sorted(set(moved))}")
    reg.set_traffic("m", {1: 0.5, 3: 0.5})
    half = [reg.route("m", r) for r in ids[:2000]].count(1) / 2000
    if not 0.45 <= half <= 0.55:
        fail_with(f"set_traffic('m', {{1: 0.5, 3: 0.5}}) sent {half:.1%} of the requests to version 1")
    for split in ({1: 0.5, 3: 0.4}, {1: 1.2, 3: -0.2}, {}):
        expect_error(lambda: reg.set_traffic("m", split), f"set_traffic('m', {split})", ValueError, [])


@points(2)
def test_concurrent_threads(student):
    """8 threads with their own registry on one file: distinct versions 1..N, none lost"""
    reg, path = fresh(student)
    reg.register("warm", "x")
    # switch threads often, and pause after reads: races show up
    calls = [[["thr", f"thr-{{pid}}-{{tid}}-{i}"] for i in range(25)] for _ in range(8)]
    results = student.__sandbox__.helpers.method_calls_in_threads(
        student.ModelRegistry, [path], "register", calls, switch_interval=1e-5, slow_sqlite_reads_s=0.002,
        timeout_s=60)
    flat = [x for r in results for x in r]
    errors = [x for x in flat if isinstance(x, str)]
    if errors:
        fail_with(f"8 threads, each with its own ModelRegistry on one file, calling register('thr', ...) 25 times: "
                  f"{len(errors)} calls failed, e.g. {errors[0]} (wait for the database lock instead of failing)")
    versions = sorted(as_int(v, "register('thr', ...)") for v in flat)
    if versions != list(range(1, 201)):
        dup = sorted({v for v in versions if versions.count(v) > 1})[:5]
        fail_with(f"8 threads x 25 concurrent register('thr', ...) returned {len(set(versions))} distinct versions "
                  f"(duplicates e.g. {dup}); expected exactly 1..200: read the last version and insert the next one in "
                  f"one write transaction")
    check = student.ModelRegistry(path)
    stored = [check.get("thr", v).get("version") for v in (1, 100, 200)]
    if stored != [1, 100, 200]:
        fail_with(f"after the concurrent registers, get('thr', 1/100/200) gave versions {stored}")


@points(1)
def test_concurrent_processes(student):
    """4 processes registering at once on one file: distinct versions, none lost"""
    reg, path = fresh(student)
    calls = [[["proc", f"proc-{{pid}}-{{tid}}-{i}"] for i in range(25)] for _ in range(4)]
    per_process = student.__sandbox__.helpers.method_calls_in_processes(student.ModelRegistry, [path], "register",
                                                                        calls, timeout_s=50)
    flat = []
    for got in per_process:
        if isinstance(got, list):
            flat += got
    errors = [x for x in flat if isinstance(x, str)]
    if errors or len(flat) != 100:
        fail_with(f"4 processes x 25 register('proc', ...) on one file: {len(flat) - len(errors)} succeeded, "
                  f"{len(errors)} failed{', e.g. ' + errors[0] if errors else ''}")
    if sorted(flat) != list(range(1, 101)):
        fail_with(f"4 processes x 25 concurrent register('proc', ...) gave {len(set(flat))} distinct versions; expected 1..100")
