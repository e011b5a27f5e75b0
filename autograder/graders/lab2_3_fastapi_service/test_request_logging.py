"""Hidden grader: request ids and one JSON log line per request (Lab 2.3, notebook 04).

A small FastAPI app is built inside the sandbox (``sandbox_helpers.request_probe_app``), ``add_request_logging``
is applied to it with a list as the log sink and a scripted clock, and requests (concurrent ones included) go
through httpx over ASGI inside the sandbox (``sandbox_helpers.asgi_requests``); the answers and the log lines
come back here as plain data and are checked here.
"""
from __future__ import annotations

import json
import random
import re

import httpx

from autograder.api import fail_with, points

EXERCISES = ["request_logging"]
TIMEOUT_S = 90
TEST_TIMEOUT_S = 30


class Response:
    """An answer observed in the sandbox: status, headers and body."""

    def __init__(self, data):
        self.status_code = int(data["status"])
        self.headers = httpx.Headers(dict(data["headers"]))
        self.text = str(data["text"])

    def json(self):
        return json.loads(self.text)


class Log:
    """The log sink inside the sandbox; ``lines`` copies what it received so far."""

    def __init__(self, sink):
        self.sink = sink

    def __len__(self):
        return len(self.lines)

    @property
    def lines(self):
        return list(self.sink.lines)


def build(student):
    helpers = student.__sandbox__.helpers
    clock = helpers.ManualClock(500.0)
    sink = helpers.LineSink()
    app = helpers.request_probe_app(clock)
    try:
        out = student.add_request_logging(app, log=sink.append, clock=clock)
    except Exception as exc:
        fail_with(f"add_request_logging(app, log=lines.append, clock=clock) raised {type(exc).__name__}: {exc}")
    return (app if out is None else out, helpers), Log(sink), clock


def send(app, *calls):
    app, helpers = app
    answers = helpers.asgi_requests(app, [[m, u, {"headers": h or {}}] for m, u, h in calls], concurrent=True,
                                    raise_app_exceptions=False)
    return [Response(a) for a in answers]


def parse(log, n):
    lines = log.lines
    if len(lines) != n:
        fail_with(f"after {n} requests, log() was called {len(lines)} times; expected exactly one line per request")
    records = []
    for line in lines:
        if not isinstance(line, str) or "\n" in line:
            fail_with(f"each log() call should get one line of text (a str without newlines), got {line!r:.120}")
        try:
            rec = json.loads(line)
        except ValueError:
            fail_with(f"log line is not JSON: {line!r:.120}")
        if not isinstance(rec, dict):
            fail_with(f"log line should be a JSON object, got {line!r:.120}")
        missing = {"method", "path", "status", "duration_ms", "request_id"} - set(rec)
        if missing:
            fail_with(f"log line {line!r:.160} lacks {sorted(missing)}")
        records.append(rec)
    return records


@points(2)
def test_one_json_line_per_request(student):
    """one JSON line per request with method, path (no query), status and request_id"""
    app, lines, _ = build(student)
    (r,) = send(app, ("GET", "/item/7?wait=0", None))
    (r2,) = send(app, ("GET", "/nowhere", None))
    recs = parse(lines, 2)
    a, b = recs
    got = (a["method"], a["path"], a["status"], b["path"], b["status"])
    if got != ("GET", "/item/7", 200, "/nowhere", 404):
        fail_with(f"GET /item/7?wait=0 then GET /nowhere (404) logged (method, path, status, path, status) = {got}; "
                  f"expected ('GET', '/item/7', 200, '/nowhere', 404): the path without the query string, "
                  f"the status as an int")
    if a["request_id"] != r.headers.get("x-request-id"):
        fail_with(f"the logged request_id {a['request_id']!r} differs from the response's X-Request-ID header "
                  f"{r.headers.get('x-request-id')!r}")


@points(2)
def test_incoming_id_propagated(student):
    """a valid incoming X-Request-ID is kept: response header, request.state and the log line"""
    app, lines, _ = build(student)
    ids = ["abc-123", "trace.42_A", "x" * 64]
    resps = send(app, *[("GET", f"/item/{k}", {"X-Request-ID": rid}) for k, rid in enumerate(ids)])
    recs = {rec["path"]: rec for rec in parse(lines, 3)}
    for k, (rid, r) in enumerate(zip(ids, resps)):
        if r.headers.get("x-request-id") != rid:
            fail_with(f"request sent with X-Request-ID: {rid!r} got the response header "
                      f"{r.headers.get('x-request-id')!r}; a valid incoming id must be propagated")
        if r.json().get("seen_id") != rid:
            fail_with(f"the handler read request.state.request_id = {r.json().get('seen_id')!r} for a request sent "
                      f"with X-Request-ID: {rid!r}")
        if recs.get(f"/item/{k}", {}).get("request_id") != rid:
            fail_with(f"the log line of the request sent with X-Request-ID {rid!r} has request_id "
                      f"{recs.get(f'/item/{k}', {}).get('request_id')!r}")


@points(2)
def test_new_ids_unique_under_concurrency(student):
    """missing or invalid ids are replaced by fresh unique ones, matched per request under concurrency"""
    app, lines, _ = build(student)
    rng = random.Random(7)
    bad = ["", "has space", "x" * 65, "semi;colon", "ünï"]
    calls = []
    for k in range(40):
        headers = {"X-Request-ID": bad[k % len(bad)]} if k % 2 else None
        if headers and not headers["X-Request-ID"].isascii():
            headers = {"X-Request-ID": "new\tline"}
        calls.append(("GET", f"/item/{k}?wait={rng.random() * 0.02:.4f}", headers))
    resps = send(app, *calls)
    recs = {rec["path"]: rec for rec in parse(lines, 40)}
    ids = []
    for k, r in enumerate(resps):
        rid = r.headers.get("x-request-id")
        sent = (calls[k][2] or {}).get("X-Request-ID")
        if not rid or not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", rid) or rid == sent:
            fail_with(f"request {k} sent with X-Request-ID {sent!r} got back X-Request-ID {rid!r}; expected a "
                      f"fresh id (uuid4().hex)")
        if r.json().get("seen_id") != rid or recs.get(f"/item/{k}", {}).get("request_id") != rid:
            fail_with(f"under 40 concurrent requests, request {k}: response header {rid!r}, "
                      f"request.state.request_id {r.json().get('seen_id')!r}, logged "
                      f"{recs.get(f'/item/{k}', {}).get('request_id')!r}; all three must be the same id "
                      f"(keep it per request, not in a shared variable)")
        ids.append(rid)
    if len(set(ids)) != len(ids):
        fail_with(f"40 requests got only {len(set(ids))} distinct request ids")


@points(2)
def test_duration_from_clock(student):
    """duration_ms is the request's time on the given clock, in milliseconds"""
    app, lines, _ = build(student)
    works = [0.25, 0.0015, 3.0]
    for k, w in enumerate(works):
        send(app, ("GET", f"/item/{k}?work={w}", None))
    recs = parse(lines, 3)
    got = [float(rec["duration_ms"]) for rec in recs]
    want = [w * 1000 for w in works]
    if any(abs(g - w) > 6e-4 for g, w in zip(got, want)):
        fail_with(f"handlers that took {works} s on the clock passed to add_request_logging logged duration_ms "
                  f"{got}; expected {want}")


@points(2)
def test_exception_logged_as_500(student):
    """a handler exception becomes a logged 500 in the OpenAI error shape, with the request id"""
    app, lines, _ = build(student)
    (r,) = send(app, ("POST", "/boom", {"X-Request-ID": "req-boom"}))
    if r.status_code != 500:
        fail_with(f"POST /boom (the handler raises KeyError) answered {r.status_code}; expected 500")
    try:
        body = r.json()
    except ValueError:
        fail_with(f"the 500 answer should be JSON, got {r.text[:120]!r}")
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict) or err.get("code") != 500 or err.get("type") != "InternalServerError":
        fail_with(f"the 500 body is {body!r:.200}; expected {{'error': {{'message': ..., 'type': "
                  f"'InternalServerError', 'param': None, 'code': 500}}}}")
    if r.headers.get("x-request-id") != "req-boom":
        fail_with(f"the 500 answer carries X-Request-ID {r.headers.get('x-request-id')!r}; expected 'req-boom'")
    (rec,) = parse(lines, 1)
    if (rec["status"], rec["request_id"], rec.get("error")) != (500, "req-boom", "KeyError"):
        fail_with(f"the failing request was logged as {rec}; expected status 500, request_id 'req-boom' and "
                  f"error 'KeyError' (the exception's class name)")
