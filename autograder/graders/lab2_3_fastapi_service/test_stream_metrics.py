"""Hidden grader: TTFT, ITL and throughput from one timestamped SSE stream (Lab 2.3, notebook 03)."""
from __future__ import annotations

import json
import math

from hypothesis import given, settings, strategies as st

from autograder.api import as_float, as_int, fail_with, points

EXERCISES = ["stream_metrics"]
TIMEOUT_S = 120
MEMORY_MB = 2048


def chunk(delta, finish=None, usage_null=False):
    obj = {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, "model": "m",
           "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
    if usage_null:
        obj["usage"] = None
    return json.dumps(obj)


def build(t0, gaps, texts, tokens_per_chunk, include_usage, empty_at):
    """A stream: role chunk, content chunks (some with empty content), finish chunk, usage chunk, [DONE]."""
    t = t0
    events = []
    t += gaps[0]
    events.append((t, chunk({"role": "assistant", "content": ""}, usage_null=include_usage)))
    content_times = []
    for i, (g, text) in enumerate(zip(gaps[1:], texts)):
        t += g
        if i in empty_at:
            events.append((t, chunk({"content": ""}, usage_null=include_usage)))
        else:
            events.append((t, chunk({"content": text}, usage_null=include_usage)))
            content_times.append(t)
    t += 0.001
    events.append((t, chunk({}, "length", usage_null=include_usage)))
    n_tokens = tokens_per_chunk * len(content_times)
    if include_usage:
        t += 0.0005
        events.append((t, json.dumps({"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1,
                                      "model": "m", "choices": [],
                                      "usage": {"prompt_tokens": 9, "completion_tokens": n_tokens,
                                                "total_tokens": 9 + n_tokens}})))
    t += 0.0002
    events.append((t, "[DONE]"))
    return events, content_times, (n_tokens if include_usage else len(content_times)), t


def check(student, t0, events, content_times, n_tokens, t_end):
    got = student.stream_metrics(t0, events)
    if not isinstance(got, dict):
        fail_with(f"stream_metrics returned {type(got).__name__}; expected a dict")
    for k in ("ttft", "itl", "e2e", "completion_tokens", "tokens_per_s"):
        if k not in got:
            fail_with(f"stream_metrics(...) has no key {k!r}")
    where = f"for a stream sent at {t0} with {len(events)} events ({len(content_times)} with content)"
    ttft = as_float(got["ttft"], "ttft")
    if not math.isclose(ttft, content_times[0] - t0, rel_tol=1e-9, abs_tol=1e-9):
        fail_with(f"{where}: ttft = {ttft}; expected {content_times[0] - t0} (first chunk with non-empty content)")
    itl = [as_float(x, "itl[i]") for x in got["itl"]]
    want_itl = [b - a for a, b in zip(content_times, content_times[1:])]
    if len(itl) != len(want_itl) or not all(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
                                            for a, b in zip(itl, want_itl)):
        fail_with(f"{where}: itl = {itl[:6]}...; expected {want_itl[:6]}... (gaps between content chunks only)")
    e2e = as_float(got["e2e"], "e2e")
    if not math.isclose(e2e, t_end - t0, rel_tol=1e-9, abs_tol=1e-9):
        fail_with(f"{where}: e2e = {e2e}; expected {t_end - t0} (until the last event, [DONE])")
    n = as_int(got["completion_tokens"], "completion_tokens")
    if n != n_tokens:
        fail_with(f"{where}: completion_tokens = {n}; expected {n_tokens} (the usage chunk when there is one, "
                  f"else the number of content chunks)")
    tps = as_float(got["tokens_per_s"], "tokens_per_s")
    if not math.isclose(tps, n_tokens / (t_end - t0), rel_tol=1e-6):
        fail_with(f"{where}: tokens_per_s = {tps}; expected completion_tokens / e2e = {n_tokens / (t_end - t0)}")


@points(2)
def test_simple_stream(student):
    """ttft and itl of a plain stream (role chunk, 3 content chunks, finish, [DONE])"""
    events, ct, n, t_end = build(100.0, [0.05, 0.1, 0.02, 0.03], ["a", "b", "c"], 1, False, set())
    check(student, 100.0, events, ct, n, t_end)


@points(2)
@settings(max_examples=60, deadline=None)
@given(st.floats(0, 1e5), st.lists(st.floats(0.0005, 0.5), min_size=3, max_size=25), st.integers(1, 4),
       st.booleans(), st.data())
def test_random_streams(student, t0, gaps, tokens_per_chunk, include_usage, data):
    """random streams: empty-content chunks ignored, usage chunk used for the token count"""
    texts = [f"w{i}" for i in range(len(gaps) - 1)]
    empty_at = set(data.draw(st.lists(st.integers(1, len(texts) - 1), max_size=3))) if len(texts) > 1 else set()
    events, ct, n, t_end = build(t0, gaps, texts, tokens_per_chunk, include_usage, empty_at)
    check(student, t0, events, ct, n, t_end)


@points(2)
def test_usage_chunk_counts_tokens(student):
    """with include_usage, completion_tokens and tokens_per_s come from the usage chunk"""
    events, ct, n, t_end = build(5.0, [0.2, 0.1, 0.1, 0.1, 0.1], ["ab", "cd", "ef", "gh"], 3, True, set())
    check(student, 5.0, events, ct, n, t_end)
