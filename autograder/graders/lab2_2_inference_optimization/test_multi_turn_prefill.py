"""Hidden grader: prefill work of a multi-turn chat with and without prefix caching (Lab 2.2, notebook 01).

The expectation is computed here by simulating the engine token by token: every turn's prompt is a
list of token ids, the prefix cache is a set of whole-block prefixes that were computed, and a turn
reuses the longest cached prefix of its prompt minus the last token.
"""
from __future__ import annotations

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from autograder.api import as_int_list, fail_with, points

EXERCISES = ["multi_turn_prefill"]
TIMEOUT_S = 90
TEST_TIMEOUT_S = 30
QUICK = dict(report_multiple_bugs=False, phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
             deadline=None)


def simulate(turns, block_size, prefix_caching):
    """Token-level simulation: (prompt lengths, computed tokens per turn)."""
    cache: set[tuple] = set()
    conv: list[int] = []
    prompts, computed = [], []
    next_token = iter(range(10**9))
    for user, reply in turns:
        conv = conv + [next(next_token) for _ in range(user)]
        hit = 0
        if prefix_caching:
            limit = len(conv) - 1                              # the last prompt token is always computed
            while hit + block_size <= limit and tuple(conv[:hit + block_size]) in cache:
                hit += block_size
        prompts.append(len(conv))
        computed.append(len(conv) - hit)
        conv = conv + [next(next_token) for _ in range(reply)]
        fed = len(conv) - 1                                    # the last sampled token is never fed back
        for end in range(block_size, fed + 1, block_size):
            cache.add(tuple(conv[:end]))
    return prompts, computed


def call(student, turns, block_size, prefix_caching):
    text = f"multi_turn_prefill({turns}, block_size={block_size}, prefix_caching={prefix_caching})"
    try:
        value = student.multi_turn_prefill(list(turns), block_size, prefix_caching=prefix_caching)
    except Exception as exc:  # noqa: BLE001
        fail_with(f"{text} raised {type(exc).__name__}: {exc}")
    return text, as_int_list(value, text)


def check(student, turns, block_size, prefix_caching):
    prompts, want = simulate(turns, block_size, prefix_caching)
    text, got = call(student, turns, block_size, prefix_caching)
    if got != want:
        i = next((k for k in range(min(len(got), len(want))) if got[k] != want[k]), min(len(got), len(want)))
        if len(got) != len(want):
            fail_with(f"{text} returned {len(got)} numbers for {len(turns)} turns: {got}")
        why = (f"turn {i} sends a {prompts[i]}-token prompt (the whole conversation so far + its user tokens)")
        if prefix_caching and i > 0:
            why += (f"; {prompts[i] - want[i]} of them are cached: the full blocks of the "
                    f"{prompts[i - 1] + turns[i - 1][1] - 1} tokens whose KV turn {i - 1} computed "
                    f"(its prompt + reply, minus the last reply token)")
        fail_with(f"{text} returned {got}, expected {want}: {why}")


TURNS = st.lists(st.tuples(st.integers(1, 40), st.integers(1, 40)), min_size=1, max_size=8)


@points(2)
@settings(max_examples=100, **QUICK)
@given(turns=TURNS, block_size=st.sampled_from([1, 2, 3, 4, 8, 16]))
def test_without_prefix_caching(student, turns, block_size):
    """without prefix caching every turn recomputes its whole prompt (the conversation so far + its message)"""
    check(student, turns, block_size, False)


@points(1)
def test_worked_example(student):
    """with prefix caching: the worked example of the notebook (block_size 16)"""
    check(student, [(40, 20), (13, 30), (25, 7), (9, 16)], 16, True)
    check(student, [(16, 1), (16, 1)], 16, True)
    check(student, [(15, 2), (1, 1)], 16, True)


@points(2)
@settings(max_examples=200, **QUICK)
@given(turns=TURNS, block_size=st.sampled_from([1, 2, 3, 4, 5, 8, 16]))
def test_with_prefix_caching(student, turns, block_size):
    """with prefix caching a turn computes only what the full cached blocks of the previous turn do not hold"""
    check(student, turns, block_size, True)


@points(1)
def test_bad_arguments(student):
    """ValueError for block_size < 1 or a turn with no user or no reply tokens; an empty chat gives []"""
    for turns, bs in (([(3, 4)], 0), ([(0, 4)], 16), ([(3, 0)], 16), ([(3, 4), (2, -1)], 4)):
        text = f"multi_turn_prefill({turns}, block_size={bs})"
        try:
            value = student.multi_turn_prefill(turns, bs)
        except ValueError:
            continue
        except Exception as exc:  # noqa: BLE001
            fail_with(f"{text} should raise ValueError, but raised {type(exc).__name__}: {exc}")
        fail_with(f"{text} should raise ValueError, but returned {value!r}")
    text, got = call(student, [], 16, True)
    if got != []:
        fail_with(f"{text} returned {got}, expected []")
