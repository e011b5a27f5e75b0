"""Hidden grader: an append-only audit log with a hash chain (Lab 2.4, notebook 04).

The digest is recomputed here from its definition (SHA-256 of the canonical JSON of the six chained
fields); tampering is done by the grader on copies of the student's entries and on the log file.
"""
from __future__ import annotations

import copy
import hashlib
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

from autograder.api import fail_with, points

EXERCISES = ["audit_log"]
TIMEOUT_S = 90
FIELDS = ("seq", "ts", "actor", "action", "resource", "prev")
GENESIS = "0" * 64


def digest(e):
    body = json.dumps({k: e[k] for k in FIELDS}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def new_log(student, path):
    try:
        return student.AuditLog(path)
    except Exception as exc:
        fail_with(f"AuditLog({str(path)!r}) raised {type(exc).__name__}: {exc}")


def filled(student, n, tmp):
    log = new_log(student, Path(tmp) / "audit.jsonl")
    for i in range(n):
        log.append(f"user{i % 3}", ["login", "generate", "delete_model", "rotate_key"][i % 4], f"res/{i}",
                   ts=1_700_000_000 + i)
    return log


def check(student, entries, head, want, what):
    try:
        got = student.verify_chain(entries) if head is None else student.verify_chain(entries, head)
    except Exception as exc:
        fail_with(f"verify_chain() of {what} raised {type(exc).__name__}: {exc}; expected {want}")
    if got is not None and (isinstance(got, bool) or not isinstance(got, int)):
        fail_with(f"verify_chain() of {what} returned {got!r}; expected an index or None")
    if got != want:
        fail_with(f"verify_chain() of {what} returned {got!r}; expected {want!r}")


@points(1)
def test_append_builds_the_chain(student):
    """append() returns entries with seq, ts, actor, action, resource, prev = previous hash, hash = digest"""
    with tempfile.TemporaryDirectory() as tmp:
        log = new_log(student, Path(tmp) / "a.jsonl")
        helpers = student.__sandbox__.helpers
        # the first result is kept inside the sandbox, where changing it could reach the log's own entry
        first = helpers.hold(log.append, "alice", "login", "api", ts=10.5)
        got = [first.get(), log.append("bob", "generate", "model/x", ts=11),
               log.append("請求者", "delete", "模型", ts=12)]
        prev = GENESIS
        for i, (e, (actor, ts)) in enumerate(zip(got, [("alice", 10.5), ("bob", 11), ("請求者", 12)])):
            if not isinstance(e, dict) or set(e) != {*FIELDS, "hash"}:
                fail_with(f"append() #{i} returned {e!r:.150}; expected a dict with keys {sorted({*FIELDS, 'hash'})}")
            if e["seq"] != i or e["actor"] != actor or e["ts"] != ts:
                fail_with(f"append() #{i} returned seq={e['seq']!r}, actor={e['actor']!r}, ts={e['ts']!r}; expected "
                          f"{i}, {actor!r}, {ts!r}")
            if e["prev"] != prev:
                fail_with(f"entry {i} has prev={e['prev']!r:.20}...; expected "
                          f"{'GENESIS' if i == 0 else 'the hash of entry ' + str(i - 1)}")
            if e["hash"] != digest(e):
                fail_with(f"entry {i} has hash {e['hash']!r:.20}...; expected entry_digest(entry)")
            prev = e["hash"]
        n, h = log.head()
        if (n, h) != (3, prev):
            fail_with(f"head() after 3 appends is {(n, h)}; expected (3, hash of entry 2)")
        held = helpers.hold(log.entries)      # the returned list itself, kept in the sandbox
        entries = held.get()
        if [e["hash"] for e in entries] != [e["hash"] for e in got]:
            fail_with("entries() does not list the appended entries in order")
        lines = [json.loads(x) for x in (Path(tmp) / "a.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
        if lines != entries:
            fail_with(f"the log file holds {len(lines)} JSON lines that differ from entries(); each append writes its "
                      f"entry as one JSON line")
        # changed inside the sandbox, where the student's code can see it (the grader only ever gets copies)
        for change in (lambda: first.setitem(["actor"], "mallory"), lambda: held.setitem([1, "actor"], "mallory"),
                       lambda: held.call([], "append", dict(got[2], seq=3, actor="mallory"))):
            try:
                change()
            except Exception:
                pass
        after = log.entries()
        if len(after) != 3 or any(e["actor"] == "mallory" for e in after):
            fail_with("changing a dict returned by append() or entries() changed the log; return copies")
        empty = new_log(student, Path(tmp) / "empty.jsonl")
        if tuple(empty.head()) != (0, GENESIS):
            fail_with(f"head() of an empty log is {empty.head()!r}; expected (0, GENESIS)")


@points(2)
def test_tampering_is_located(student):
    """edits, rewritten hashes, removals, reorders, insertions and replays are found at the first bad index"""
    with tempfile.TemporaryDirectory() as tmp:
        log = filled(student, 8, tmp)
        base = log.entries()
        check(student, base, None, None, "an intact log of 8 entries")
        check(student, [], None, None, "an empty list")
        for k in (0, 3, 7):
            t = copy.deepcopy(base)
            t[k]["actor"] = "mallory"
            check(student, t, None, k, f"8 entries where entry {k}'s actor was edited (hash left as is)")
        for k in (0, 3, 6):
            t = copy.deepcopy(base)
            t[k]["action"] = "noop"
            t[k]["hash"] = digest(t[k])
            check(student, t, None, k + 1, f"8 entries where entry {k} was edited AND its hash recomputed "
                                           f"(entry {k + 1}'s prev no longer matches)")
        for k in (0, 4):
            t = copy.deepcopy(base)
            del t[k]
            check(student, t, None, k, f"the log with entry {k} removed")
        t = copy.deepcopy(base)
        t[2], t[3] = t[3], t[2]
        check(student, t, None, 2, "the log with entries 2 and 3 swapped")
        t = copy.deepcopy(base)
        forged = dict(t[4], actor="mallory", action="grant_admin")
        forged["hash"] = digest(forged)
        t.insert(4, forged)
        check(student, t, None, 5, "the log with a forged entry inserted at index 4 that fits the chain before it "
                                   "(seq 4, prev = hash of entry 3, its own hash right): entry 5's prev no longer matches")
        t = copy.deepcopy(base)
        t.append(copy.deepcopy(t[-1]))
        check(student, t, None, 8, "the log with its last entry replayed (appended twice)")
        t = copy.deepcopy(base)
        t[5]["seq"] = 6
        t[5]["hash"] = digest(t[5])
        for j in range(6, 8):
            t[j]["prev"] = t[j - 1]["hash"]
            t[j]["hash"] = digest(t[j])
        check(student, t, None, 5, "the log whose entry 5 was renumbered and everything after it re-hashed")


@points(1)
def test_head_detects_truncation_and_rewrites(student):
    """with a published head (n, hash), truncation and a rewritten tail are caught"""
    with tempfile.TemporaryDirectory() as tmp:
        log = filled(student, 6, tmp)
        head = tuple(log.head())
        base = log.entries()
        check(student, base, head, None, "the intact log against its own head()")
        check(student, base[:4], None, None, "the first 4 of 6 entries with no head (truncation is invisible)")
        check(student, base[:4], head, 4, "the first 4 of 6 entries against the head (6, h)")
        check(student, [], head, 0, "an empty list against the head (6, h)")
        t = copy.deepcopy(base)
        t[5]["resource"] = "res/other"
        t[5]["hash"] = digest(t[5])
        check(student, t, head, 5, "the log whose last entry was edited and re-hashed, against the head")
        log.append("later", "login", "api", ts=1_800_000_000)
        check(student, log.entries(), head, None, "the log with one more append, against the older head (6, h)")
        check(student, base, (0, GENESIS), None, "the log against the head (0, GENESIS)")


@points(1)
def test_malformed_entries_do_not_crash(student):
    """entries that are not dicts or lack a field are reported, not raised"""
    with tempfile.TemporaryDirectory() as tmp:
        base = filled(student, 4, tmp).entries()
        t = copy.deepcopy(base)
        del t[2]["prev"]
        check(student, t, None, 2, "the log whose entry 2 has no 'prev' key")
        t = copy.deepcopy(base)
        del t[1]["hash"]
        check(student, t, None, 1, "the log whose entry 1 has no 'hash' key")
        t = copy.deepcopy(base)
        t[3] = "not an entry"
        check(student, t, None, 3, "the log whose entry 3 is a string")
        t = copy.deepcopy(base)
        t[0]["ts"] = {1, 2}
        check(student, t, None, 0, "the log whose entry 0 has a ts that is a set (not JSON)")


@points(2)
def test_file_is_reopened_and_verified(student):
    """AuditLog(path) reloads and continues an intact file and raises TamperedLogError on a tampered one"""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit.jsonl"
        log = filled(student, 5, tmp)
        head = tuple(log.head())
        again = new_log(student, path)
        if tuple(again.head()) != head or again.entries() != log.entries():
            fail_with("AuditLog(path) on the file of a 5-entry log does not load the same entries and head")
        e = again.append("carol", "login", "api", ts=5)
        if e["seq"] != 5 or e["prev"] != head[1]:
            fail_with(f"append() after reopening a 5-entry file gave seq={e['seq']} prev={e['prev']:.16}...; expected "
                      f"seq 5 chained to the last entry in the file")
        third = new_log(student, path)
        check(student, third.entries(), None, None, "the entries of a file reopened twice")
        lines = path.read_text(encoding="utf-8").splitlines()
        for k, mutate, what in ((2, lambda d: d.update(actor="mallory"), "entry 2's actor edited"),
                                (0, None, "entry 0's line deleted"),
                                (3, "junk", "entry 3's line replaced by text that is not JSON")):
            bad = list(lines)
            if mutate is None:
                del bad[k]
            elif mutate == "junk":
                bad[k] = "{not json"
            else:
                d = json.loads(bad[k])
                mutate(d)
                bad[k] = json.dumps(d)
            tampered = Path(tmp) / f"tampered{k}.jsonl"
            tampered.write_text("\n".join(bad) + "\n", encoding="utf-8")
            try:
                student.AuditLog(tampered)
            except student.TamperedLogError as exc:
                if exc.index != k:
                    fail_with(f"AuditLog() of a file with {what} raised TamperedLogError({exc.index}); expected "
                              f"TamperedLogError({k})")
                continue
            except Exception as exc:
                fail_with(f"AuditLog() of a file with {what} raised {type(exc).__name__}: {exc}; expected "
                          f"TamperedLogError({k})")
            fail_with(f"AuditLog() opened a file with {what} without complaint; it must verify the file first")


class SlowPath(type(Path())):
    """A path whose every use gives other threads a chance to run (widens unsynchronised windows)."""

    def __fspath__(self):
        time.sleep(0)
        return super().__fspath__()


@points(1)
def test_concurrent_appends_keep_one_chain(student):
    """8 threads appending at once produce one valid chain with every entry, in memory and on disk"""
    for trial in range(4):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "c.jsonl"
            log = new_log(student, SlowPath(path) if trial % 2 else path)
            errors = []
            barrier = threading.Barrier(8)

            def work(t):
                try:
                    barrier.wait()
                    for i in range(50):
                        log.append(f"t{t}", "generate", f"r{i}", ts=float(i))
                except Exception as exc:
                    errors.append(exc)

            old = sys.getswitchinterval()
            sys.setswitchinterval(1e-6)
            try:
                ts = [threading.Thread(target=work, args=(t,)) for t in range(8)]
                for t in ts:
                    t.start()
                for t in ts:
                    t.join()
            finally:
                sys.setswitchinterval(old)
            if errors:
                fail_with(f"append() from 8 threads raised {type(errors[0]).__name__}: {errors[0]}")
            entries = log.entries()
            if len(entries) != 400:
                fail_with(f"8 threads x 50 append() left {len(entries)} entries; expected 400")
            check(student, entries, None, None, "the entries after 8 threads x 50 concurrent append() (guard the "
                                                "read of the last hash and the append with one lock)")
            reopened = new_log(student, path)
            if len(reopened.entries()) != 400:
                fail_with(f"the file written by 8 threads x 50 append() reloads as {len(reopened.entries())} entries")
