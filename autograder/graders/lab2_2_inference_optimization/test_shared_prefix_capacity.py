"""Hidden grader: how many sequences with a shared prefix fit in a KV block pool (Lab 2.2, notebook 01).

The expectation is computed here by filling a simulated pool: the first sequence pays for the
shared full prefix blocks once, every sequence pays for its private blocks.
"""
from __future__ import annotations

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from autograder.api import as_int, fail_with, points

EXERCISES = ["shared_prefix_capacity"]
TIMEOUT_S = 90
TEST_TIMEOUT_S = 30
QUICK = dict(report_multiple_bugs=False, phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
             deadline=None)


def fill(num_blocks, block_size, prefix, own, caching):
    """Admit sequences one by one until the next one does not fit."""
    blocks_per_seq = -(-(prefix + own) // block_size)
    shared = prefix // block_size if caching else 0
    used, admitted, shared_paid = 0, 0, False
    while True:
        need = blocks_per_seq - (shared if shared_paid else 0)
        if used + need > num_blocks:
            return admitted
        used += need
        admitted += 1
        shared_paid = True


def check(student, num_blocks, block_size, prefix, own, caching):
    text = (f"shared_prefix_capacity({num_blocks}, {block_size}, prefix_tokens={prefix}, own_tokens={own}, "
            f"prefix_caching={caching})")
    try:
        value = student.shared_prefix_capacity(num_blocks, block_size, prefix, own, prefix_caching=caching)
    except Exception as exc:  # noqa: BLE001
        fail_with(f"{text} raised {type(exc).__name__}: {exc}")
    got, want = as_int(value, text), fill(num_blocks, block_size, prefix, own, caching)
    if got != want:
        per = -(-(prefix + own) // block_size)
        shared = prefix // block_size if caching else 0
        fail_with(f"{text} returned {got}, expected {want}: a sequence holds {per} blocks; "
                  + (f"{shared} of them (the prefix's FULL blocks) are stored once and shared"
                     if caching else "nothing is shared without prefix caching"))


@points(1)
@settings(max_examples=150, **QUICK)
@given(num_blocks=st.integers(0, 400), block_size=st.sampled_from([1, 2, 4, 16, 128]),
       prefix=st.integers(0, 600), own=st.integers(1, 300))
def test_without_prefix_caching(student, num_blocks, block_size, prefix, own):
    """without prefix caching: floor(num_blocks / ceil((prefix + own) / block_size))"""
    check(student, num_blocks, block_size, prefix, own, False)


@points(3)
@settings(max_examples=300, **QUICK)
@given(num_blocks=st.integers(0, 400), block_size=st.sampled_from([1, 2, 3, 4, 16, 128]),
       prefix=st.integers(0, 600), own=st.integers(1, 300))
def test_with_prefix_caching(student, num_blocks, block_size, prefix, own):
    """with prefix caching the prefix's full blocks are paid once, its partial block by every sequence"""
    check(student, num_blocks, block_size, prefix, own, True)


@points(1)
def test_edges_and_bad_arguments(student):
    """edge cases (a pool smaller than the shared prefix, prefix of whole blocks) and ValueError for bad arguments"""
    for args in ((3, 16, 64, 10), (4, 16, 64, 10), (5, 16, 64, 10), (0, 16, 0, 1), (6, 16, 32, 16), (7, 16, 31, 2)):
        check(student, *args, True)
    for args in ((-1, 16, 0, 1), (10, 0, 0, 1), (10, 16, -1, 1), (10, 16, 8, 0)):
        text = f"shared_prefix_capacity{args}"
        try:
            value = student.shared_prefix_capacity(*args)
        except ValueError:
            continue
        except Exception as exc:  # noqa: BLE001
            fail_with(f"{text} should raise ValueError, but raised {type(exc).__name__}: {exc}")
        fail_with(f"{text} should raise ValueError, but returned {value!r}")
