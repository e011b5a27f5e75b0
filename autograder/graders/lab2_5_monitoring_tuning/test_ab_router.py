"""Hidden grader: sticky, weighted A/B routing by a stated hash (Lab 2.5, notebook 04).

bucket(user_id, salt) = int.from_bytes(sha256(f"{salt}:{user_id}".encode()).digest()[:8], "big") / 2**64,
assign_arm(user_id, weight_b, salt) = "B" if bucket < weight_b else "A"; both recomputed here.
"""
from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.api import as_float, fail_with, points

EXERCISES = ["ab_router"]
TIMEOUT_S = 90


def want_bucket(user_id: str, salt: str) -> float:
    return int.from_bytes(hashlib.sha256(f"{salt}:{user_id}".encode("utf-8")).digest()[:8], "big") / 2 ** 64


ids = st.text(min_size=0, max_size=20)


@points(2)
@settings(max_examples=150, deadline=None)
@given(user=ids, salt=ids)
def test_bucket_is_the_stated_hash(student, user, salt):
    """bucket() is sha256(salt:user_id), first 8 bytes big-endian, divided by 2**64"""
    got = as_float(student.bucket(user, salt), f"bucket({user!r}, {salt!r})")
    want = want_bucket(user, salt)
    if got != want:
        fail_with(f"bucket({user!r}, {salt!r}) returned {got!r}, expected {want!r} "
                  f"(sha256 of '{salt}:{user}', first 8 bytes big-endian / 2**64)")


@points(2)
@settings(max_examples=150, deadline=None)
@given(user=ids, salt=ids, weight=st.floats(0, 1))
def test_assign_arm_compares_bucket_with_weight(student, user, salt, weight):
    """assign_arm() puts a user in B exactly when bucket < weight_b, the same on every call"""
    call = f"assign_arm({user!r}, {weight!r}, {salt!r})"
    got = student.assign_arm(user, weight, salt)
    want = "B" if want_bucket(user, salt) < weight else "A"
    if got not in ("A", "B"):
        fail_with(f"{call} returned {got!r}; expected the string 'A' or 'B'")
    if str(got) != want:
        fail_with(f"{call} returned {got!r}, expected {want!r} (bucket = {want_bucket(user, salt)!r})")
    if str(student.assign_arm(user, weight, salt)) != str(got):
        fail_with(f"{call} gave different arms on two calls; the routing must be sticky")


@points(1)
def test_weights_and_errors(student):
    """weight 0 sends everyone to A, weight 1 everyone to B, a weight outside [0, 1] raises ValueError"""
    users = [f"user-{i}" for i in range(300)]
    if any(str(student.assign_arm(u, 0.0, "x")) != "A" for u in users):
        fail_with("assign_arm(user, 0.0, 'x') sent a user to B; with weight 0 nobody is in B")
    if any(str(student.assign_arm(u, 1.0, "x")) != "B" for u in users):
        fail_with("assign_arm(user, 1.0, 'x') sent a user to A; with weight 1 everybody is in B")
    for bad in (-0.1, 1.5):
        try:
            student.assign_arm("alice", bad, "x")
        except ValueError:
            continue
        fail_with(f"assign_arm('alice', {bad}, 'x') did not raise ValueError")
