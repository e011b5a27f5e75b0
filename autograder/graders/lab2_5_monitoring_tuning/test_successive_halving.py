"""Hidden grader: successive halving with the notebook's exact rules (Lab 2.5, notebook 03).

A reference written here from the rules (budget min_budget * eta**k, keep max(1, len // eta) by a
stable best-first sort, stop at one config) is compared call by call on deterministic objectives.
"""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.api import fail_with, points

EXERCISES = ["successive_halving"]
TIMEOUT_S = 90


def reference(configs, evaluate, min_budget, eta):
    alive, calls, budget = list(configs), [], min_budget
    while len(alive) > 1:
        scores = []
        for c in alive:
            calls.append((c, budget))
            scores.append(evaluate(c, budget))
        order = sorted(range(len(alive)), key=lambda i: -scores[i])
        alive = [alive[i] for i in order[:max(1, len(alive) // eta)]]
        budget *= eta
    return alive[0], calls


def run(student, configs, table, min_budget, eta):
    seen = []

    def evaluate(c, b):
        seen.append((c, b))
        return table[(c, b)] if (c, b) in table else table[c]

    call = f"successive_halving({configs}, evaluate, min_budget={min_budget}, eta={eta})"
    out = student.successive_halving(list(configs), evaluate, min_budget=min_budget, eta=eta)
    if not isinstance(out, tuple) or len(out) != 2:
        fail_with(f"{call} returned {out!r:.100}; expected a tuple (best_config, calls)")
    best, calls = out
    calls = [(c, int(b)) for c, b in calls]
    return call, best, calls, seen


def objective(n, data):
    # scores depend on the budget (noisy cheap measurements) and have ties
    return {(f"c{i}", b): data[(i * 7 + b * 3) % len(data)] for i in range(n) for b in (1, 2, 3, 4, 6, 8, 9, 12, 16, 18, 27, 32, 64, 81, 128)}


@points(6)
@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 20), eta=st.integers(2, 4), min_budget=st.sampled_from([1, 2]),
       data=st.lists(st.integers(0, 5), min_size=1, max_size=30))
def test_calls_and_winner_follow_the_rules(student, n, eta, min_budget, data):
    """the (config, budget) calls and the winner match the stated rules, ties included"""
    configs = [f"c{i}" for i in range(n)]
    table = objective(n, data)
    call, best, calls, seen = run(student, configs, table, min_budget, eta)
    want_best, want_calls = reference(configs, lambda c, b: table[(c, b)], min_budget, eta)
    if calls != want_calls:
        fail_with(f"{call}: calls were {calls[:12]}{'...' if len(calls) > 12 else ''}, expected "
                  f"{want_calls[:12]}{'...' if len(want_calls) > 12 else ''} ({len(want_calls)} calls)")
    if seen != want_calls:
        fail_with(f"{call}: evaluate was called as {seen[:12]}, but the returned calls list says {calls[:12]}")
    if best != want_best:
        fail_with(f"{call} returned best {best!r}, expected {want_best!r}")


@points(2)
def test_halving_budget_doubles_and_best_is_not_re_evaluated(student):
    """with eta = 2 the budget doubles each round and the final config is not evaluated again"""
    configs = [f"c{i}" for i in range(8)]
    table = {f"c{i}": s for i, s in enumerate([3, 9, 1, 7, 5, 8, 2, 6])}
    call, best, calls, _ = run(student, configs, table, 1, 2)
    budgets = [b for _, b in calls]
    if budgets != [1] * 8 + [2] * 4 + [4] * 2:
        fail_with(f"{call}: the budgets of the calls were {budgets}; expected 8 calls at 1, 4 at 2, 2 at 4")
    if best != "c1":
        fail_with(f"{call} returned {best!r}; the best config (score 9) is 'c1'")


@points(2)
def test_single_and_empty(student):
    """one config is returned without any evaluation; an empty list raises ValueError"""
    call, best, calls, seen = run(student, ["only"], {"only": 1}, 1, 2)
    if best != "only" or calls or seen:
        fail_with(f"{call} returned ({best!r}, {calls}) after {len(seen)} evaluations; expected ('only', []) "
                  f"with no evaluation")
    try:
        student.successive_halving([], lambda c, b: 0.0)
    except ValueError:
        return
    fail_with("successive_halving([], evaluate) did not raise ValueError")
