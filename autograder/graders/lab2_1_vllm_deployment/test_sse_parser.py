"""Hidden grader: the SSE parser for OpenAI chat-completion streams (Lab 2.1, notebook 04).

Streams are built here from a list of chunk objects (the expectation comes from that list, never
from a parser), serialised the way an SSE server may send them, then cut into pieces at arbitrary
byte or character positions.
"""
from __future__ import annotations

import json

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from autograder.api import as_int, fail_with, points
from autograder.graders.batched import sandbox_function

EXERCISES = ["sse_parser"]
TIMEOUT_S = 150
TEST_TIMEOUT_S = 40
# one counterexample per test, no "explain" phase: failing submissions get their feedback quickly
QUICK = dict(report_multiple_bugs=False, phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink])

HEAD = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000, "model": "tiny"}

# Characters str.splitlines() treats as line breaks although SSE does not (JSON leaves them unescaped).
NOT_EOL = "\x85\u2028\u2029"
plain_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters=NOT_EOL), max_size=6)
tricky = st.sampled_from(["[DONE]", "data: x", "\n\n", "\r\n", "é", "你好", "🙂", ": no comment", "\\", '"',
                          "event: error", "a:b"])
piece = st.one_of(plain_text, tricky)


# ---------------------------------------------------------------------------------------- streams
def chunk(choices, **extra):
    return {**HEAD, "choices": choices, **extra}


def build_events(texts: dict, finish: dict, usage, *, role_chunk=True, null_usage=False, order=None,
                 finish_on_last=False):
    """Chunk objects for choices {index: [pieces]}; returns the objects (no [DONE])."""
    events = []
    extra = {"usage": None} if null_usage else {}
    if role_chunk:
        for i in sorted(texts):
            events.append(chunk([{"index": i, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                                  "finish_reason": None}], **extra))
    queue = order if order is not None else [i for i in sorted(texts) for _ in texts[i]]
    cursor = {i: 0 for i in texts}
    for i in queue:
        j = cursor[i]
        cursor[i] += 1
        last = cursor[i] == len(texts[i])
        fr = finish[i] if (finish_on_last and last) else None
        events.append(chunk([{"index": i, "delta": {"content": texts[i][j]}, "logprobs": None,
                              "finish_reason": fr}], **extra))
    for i in sorted(texts):
        if not (finish_on_last and texts[i]):
            events.append(chunk([{"index": i, "delta": {"content": None} if i % 2 else {}, "logprobs": None,
                                  "finish_reason": finish[i]}], **extra))
    if usage is not None:
        events.append(chunk([], usage=usage))
    return events


def serialize(events, *, eol="\n", space=True, comments=False, fields=False, multiline=False, done=True,
              after_done="") -> str:
    sep = ": " if space else ":"
    out = []
    if comments:
        out.append(": keep-alive" + eol)
    for k, ev in enumerate(events):
        if fields:
            out.append(f"event{sep}message{eol}id{sep}{k}{eol}")
        if comments and k % 2:
            out.append(f":ping {k}{eol}")
        if multiline:
            body = json.dumps(ev, ensure_ascii=False, indent=1).split("\n")
        else:
            body = [json.dumps(ev, ensure_ascii=False)]
        out.extend(f"data{sep}{line}{eol}" for line in body)
        if fields and k == 0:
            out.append(f"retry{sep}3000{eol}")
        out.append(eol)
    if done:
        out.append(f"data{sep}[DONE]{eol}{eol}")
    return "".join(out) + after_done


def expected(texts: dict, finish: dict, usage, num_events: int, role=True, done=True) -> dict:
    joined = {i: "".join(p or "" for p in texts[i]) for i in texts}
    return {"text": joined.get(0, ""), "texts": joined, "role": "assistant" if role else None,
            "finish_reason": finish.get(0), "finish_reasons": dict(finish), "usage": usage,
            "num_chunks": num_events, "done": done}


def cut(seq, positions):
    points_ = sorted({p for p in positions if 0 < p < len(seq)})
    return [seq[a:b] for a, b in zip([0, *points_], [*points_, len(seq)])]


# ---------------------------------------------------------------------------------------- checking
def short(value, limit=70) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def run(student, pieces, how):
    try:
        out = sandbox_function(student, "call_with_iterator")(student, "parse_chat_stream", pieces)
    except student.StreamError as exc:
        fail_with(f"{how}: raised StreamError({short(str(exc))}) on a stream without an error")
    if not isinstance(out, dict):
        fail_with(f"{how}: parse_chat_stream returned {type(out).__name__}, expected a dict")
    missing = {"text", "texts", "role", "finish_reason", "finish_reasons", "usage", "num_chunks", "done"} - set(out)
    if missing:
        fail_with(f"{how}: the result has no key(s) {sorted(missing)}")
    return out


def check(out, exp, how, keys=("text", "texts", "role", "finish_reason", "finish_reasons", "usage",
                                 "num_chunks", "done")):
    for key in keys:
        got, want = out[key], exp[key]
        if key == "num_chunks":
            got = as_int(got, f"{how}: result['num_chunks']")
        elif key in ("texts", "finish_reasons"):
            try:
                got = {int(k): v for k, v in dict(got).items()}
            except (TypeError, ValueError):
                fail_with(f"{how}: result[{key!r}] should be a dict keyed by the choice index, got {short(got)}")
            if set(got) != set(want):
                fail_with(f"{how}: result[{key!r}] has choice indices {sorted(got)}, expected {sorted(want)}")
            for i in want:
                if not (type(got[i]) in (str, type(None)) and got[i] == want[i]):
                    fail_with(f"{how}: result[{key!r}][{i}] is {short(got[i])}, expected {short(want[i])}")
            continue
        elif key == "done":
            if got is not want:
                fail_with(f"{how}: result['done'] is {short(got)}, expected {want}")
            continue
        elif key == "usage":
            if want is None:
                if got is not None:
                    fail_with(f"{how}: result['usage'] is {short(got)}, expected None (the stream has no usage)")
                continue
            if not isinstance(got, dict) or json.dumps(got, sort_keys=True) != json.dumps(want, sort_keys=True):
                fail_with(f"{how}: result['usage'] is {short(got)}, expected {short(want)}")
            continue
        if not (type(got) in (str, int, type(None)) and got == want):
            fail_with(f"{how}: result[{key!r}] is {short(got)}, expected {short(want)}")


USAGE = {"prompt_tokens": 7, "total_tokens": 12, "completion_tokens": 5}


def single(pieces_list, finish="length", usage=USAGE, **kw):
    texts, fin = {0: pieces_list}, {0: finish}
    events = build_events(texts, fin, usage, **kw)
    return events, expected(texts, fin, usage, len(events))


# ---------------------------------------------------------------------------------------- tests
@points(1)
@settings(**QUICK)
@given(st.lists(piece, min_size=1, max_size=8), st.sampled_from(["stop", "length"]))
def test_whole_stream_in_one_piece(student, pieces, finish):
    """one vLLM-style stream in one piece: text, role, finish_reason, usage, chunk count"""
    events, exp = single(pieces, finish)
    how = f"stream of {len(events)} events (content pieces {short(pieces)}) given as one bytes piece"
    check(run(student, [serialize(events).encode()], how), exp, how)


@points(2)
@settings(**QUICK)
@given(st.lists(piece, min_size=1, max_size=8), st.lists(st.integers(0, 4000), max_size=40),
       st.booleans(), st.booleans())
def test_arbitrary_rechunking(student, pieces, cuts, as_text, tiny):
    """the same events cut at arbitrary byte boundaries (inside UTF-8 characters too) give the same result"""
    events, exp = single(pieces)
    body = serialize(events)
    seq = body if as_text else body.encode()
    if tiny:
        cuts = list(range(1, len(seq), 1 + len(seq) // 97))
    parts = cut(seq, cuts)
    kind = "str" if as_text else "bytes"
    how = (f"stream with content pieces {short(pieces)} cut into {len(parts)} {kind} pieces at "
           f"{short(sorted(set(c for c in cuts if 0 < c < len(seq))), 60)}")
    check(run(student, parts, how), exp, how)


@points(1)
@settings(**QUICK)
@given(st.lists(piece, min_size=1, max_size=6), st.sampled_from(["\r\n", "\r"]),
       st.lists(st.integers(0, 3000), max_size=30), st.booleans())
def test_crlf_and_cr_line_endings(student, pieces, eol, cuts, multiline):
    """lines ending in \\r\\n or \\r (a piece may end between \\r and \\n)"""
    events, exp = single(pieces)
    body = serialize(events, eol=eol, multiline=multiline).encode()
    # always cut right after some "\r" characters too
    cr_cuts = [i + 1 for i, b in enumerate(body) if b == 13][::3]
    parts = cut(body, cuts + cr_cuts)
    how = (f"stream with {eol!r} line endings{' and multi-line data' if multiline else ''}, "
           f"{len(parts)} pieces (some cut right after a \\r)")
    check(run(student, parts, how), exp, how)


@points(1)
@settings(**QUICK)
@given(st.lists(st.one_of(piece, st.sampled_from(list(NOT_EOL) + ["a\u2028b", "x\x85y"])), min_size=1, max_size=6))
def test_only_cr_and_lf_end_lines(student, pieces):
    """U+2028, U+2029 and U+0085 in the content do not end a line (only CR and LF do)"""
    pieces = pieces + ["\u2028"]
    events, exp = single(pieces)
    body = serialize(events).encode()
    how = f"stream whose content {short(pieces)} contains U+2028 (unescaped in the JSON, as vLLM sends it)"
    check(run(student, [body], how), exp, how)


@points(1)
@settings(**QUICK)
@given(st.lists(piece, min_size=1, max_size=5), st.booleans(), st.lists(st.integers(0, 3000), max_size=10))
def test_comments_and_other_fields(student, pieces, space, cuts):
    """comment lines (':'), event/id/retry fields and 'data:' without a space are handled per the SSE rules"""
    events, exp = single(pieces)
    body = serialize(events, comments=True, fields=True, space=space).encode()
    how = (f"stream with ': keep-alive' comments, 'event: message', 'id:' and 'retry:' lines"
           f"{'' if space else ' and no space after the colons'}")
    check(run(student, cut(body, cuts), how), exp, how)


@points(1)
@settings(**QUICK)
@given(st.lists(piece, min_size=1, max_size=5), st.lists(st.integers(0, 4000), max_size=20))
def test_multiline_data_joined_with_newline(student, pieces, cuts):
    """several data: lines of one event are joined with '\\n' into one JSON document"""
    events, exp = single(pieces)
    body = serialize(events, multiline=True).encode()
    how = "stream whose JSON events are spread over several 'data:' lines each (pretty-printed JSON)"
    check(run(student, cut(body, cuts), how), exp, how)


@points(1)
@settings(**QUICK)
@given(st.lists(piece, min_size=1, max_size=5), st.booleans(), st.booleans())
def test_usage_and_null_content(student, pieces, with_usage, finish_on_last):
    """usage comes from the usage chunk (null elsewhere), missing usage is None, null content counts as ''"""
    usage = dict(USAGE, completion_tokens=len(pieces)) if with_usage else None
    pieces = [None, *pieces, None]
    events, exp = single(pieces, usage=usage, null_usage=True, finish_on_last=finish_on_last)
    body = serialize(events).encode()
    how = (f"stream {'with a final usage chunk' if with_usage else 'without usage (no include_usage)'} and "
           f"'usage': null on the other chunks")
    check(run(student, [body], how), exp, how)


@points(1)
@settings(**QUICK)
@given(st.integers(2, 4), st.data())
def test_several_choices(student, n, data):
    """n > 1: content and finish_reason are kept per choice index, even when interleaved"""
    texts = {i: data.draw(st.lists(piece, min_size=1, max_size=4), label=f"pieces of choice {i}") for i in range(n)}
    finish = {i: data.draw(st.sampled_from(["stop", "length"]), label=f"finish {i}") for i in range(n)}
    order = data.draw(st.permutations([i for i in range(n) for _ in texts[i]]), label="interleaving")
    events = build_events(texts, finish, USAGE, order=order)
    exp = expected(texts, finish, USAGE, len(events))
    how = f"stream with n={n} choices whose chunks are interleaved in the order {short(order, 50)}"
    check(run(student, [serialize(events).encode()], how), exp, how)


@points(1)
def test_errors_and_done(student):
    """an error object or an 'event: error' raises StreamError with the server's message; [DONE] ends the stream"""
    events, exp = single(["Hello", " world"])
    err = {"error": {"message": "engine died: out of KV blocks", "type": "InternalServerError", "param": None,
                     "code": 500}}
    body = serialize(events[:2], done=False) + f"data: {json.dumps(err)}\n\n" + serialize(events[2:])
    try:
        student.parse_chat_stream([body.encode()])
    except student.StreamError as exc:
        if "out of KV blocks" not in str(exc):
            fail_with(f"an error object in the stream raised StreamError({short(str(exc))}) without the server's "
                      "message 'engine died: out of KV blocks'")
    except Exception as exc:  # noqa: BLE001
        fail_with(f"an error object in the stream ({short(err)}) raised {type(exc).__name__}, expected StreamError")
    else:
        fail_with(f"an error object in the stream ({short(err)}) did not raise StreamError")

    body = serialize(events[:2], done=False) + 'event: error\ndata: {"message": "overloaded"}\n\n'
    try:
        student.parse_chat_stream([body.encode()])
    except student.StreamError as exc:
        if "overloaded" not in str(exc):
            fail_with(f"'event: error' raised StreamError({short(str(exc))}) without the message 'overloaded'")
    except Exception as exc:  # noqa: BLE001
        fail_with(f"an 'event: error' with data {{\"message\": \"overloaded\"}} raised {type(exc).__name__}, "
                  "expected StreamError")
    else:
        fail_with("an 'event: error' with data {\"message\": \"overloaded\"} did not raise StreamError")

    # nothing after [DONE] is read, and a stream without [DONE] reports done=False
    body = serialize(events, after_done="data: {not json}\n\n")
    how = "a stream followed by 'data: {not json}' after [DONE]"
    check(run(student, [body.encode()], how), exp, how)
    body = serialize(events, done=False)
    how = "a stream that ends without [DONE]"
    check(run(student, [body.encode()], how), dict(exp, done=False), how)
