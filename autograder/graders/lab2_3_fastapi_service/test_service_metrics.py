"""Hidden grader: vLLM-named Prometheus metrics of a service (Lab 2.3, notebook 04), scraped for real.

The student's app runs in the sandbox's process (httpx over ASGI, ``sandbox_helpers.asgi_requests``), with a
``CollectorRegistry`` made there; the engine is the setup cell's ``ScriptedEngine``
driven by a ``FakeClock``, so every time to first token and inter-token latency is known exactly and the
expected bucket counts are computed here from the bucket bounds. ``/metrics`` is parsed here with
``prometheus_client.parser.text_string_to_metric_families``.
"""
from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from autograder.api import fail_with, points

EXERCISES = ["service_metrics"]
TIMEOUT_S = 120
TEST_TIMEOUT_S = 40

TTFT = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0]
ITL = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5]
MODEL = "lab-model"


class Response:
    """An answer observed in the sandbox: status, headers and body."""

    def __init__(self, data):
        self.status_code = int(data["status"])
        self.headers = httpx.Headers(dict(data["headers"]))
        self.text = str(data["text"])


class App:
    """The student's app (a handle) with the sandbox's helpers, to send it requests in process."""

    def __init__(self, app, helpers):
        self.app, self.helpers = app, helpers

    def requests(self, calls, concurrent=False):
        answers = self.helpers.asgi_requests(self.app, calls, concurrent=concurrent, raise_app_exceptions=True)
        return [Response(a) for a in answers]


def registry_in_sandbox(student):
    return student.__sandbox__.helpers.construct("prometheus_client", "CollectorRegistry")


def make(student, *, model_name=MODEL, **engine_kw):
    clock = student.FakeClock()
    engine = student.ScriptedEngine(clock=clock, **engine_kw)
    registry = registry_in_sandbox(student)
    try:
        app = student.create_monitored_app(engine, registry=registry, model_name=model_name, clock=clock)
    except Exception as exc:
        fail_with(f"create_monitored_app(engine, registry=CollectorRegistry(), model_name={model_name!r}, "
                  f"clock=FakeClock()) raised {type(exc).__name__}: {exc}")
    return App(app, student.__sandbox__.helpers), engine, clock


def post(app, *bodies):
    return app.requests([["POST", "/generate", {"json": b}] for b in bodies])


def scrape(app):
    (r,) = app.requests([["GET", "/metrics", {}]])
    if r.status_code != 200:
        fail_with(f"GET /metrics answered {r.status_code}: {r.text[:200]!r}")
    try:
        fams = list(text_string_to_metric_families(r.text))
    except Exception as exc:
        fail_with(f"GET /metrics is not Prometheus text format ({type(exc).__name__}: {exc}): {r.text[:200]!r}")
    return {f.name: f for f in fams}


def family(fams, name, kind):
    if name not in fams:
        fail_with(f"/metrics has no metric family {name!r}; it has {sorted(n for n in fams if 'vllm' in n)}")
    if fams[name].type != kind:
        fail_with(f"{name} should be a {kind}, /metrics says {fams[name].type}")
    return fams[name]


def sample(fams, sample_name, **labels):
    """Value of one sample (labels matched exactly, model_name included), or None."""
    labels = {k: str(v) for k, v in labels.items()}
    for fam in fams.values():
        for s in fam.samples:
            if s.name == sample_name and dict(s.labels) == labels:
                return float(s.value)
    return None


def buckets(fams, name, model_name=MODEL):
    fam = family(fams, name, "histogram")
    out = {}
    for s in fam.samples:
        if s.name == name + "_bucket" and s.labels.get("model_name") == model_name:
            out[float(s.labels["le"])] = float(s.value)
    return out


def expected_buckets(bounds, values):
    return {**{float(b): float(sum(v <= b for v in values)) for b in bounds}, float("inf"): float(len(values))}


def ok(responses):
    for r in responses:
        if r.status_code != 200:
            fail_with(f"POST /generate answered {r.status_code}: {r.text[:200]!r}")


@points(2)
def test_names_and_types(student):
    """the six metrics carry vLLM's names and types, with a model_name label"""
    app, _, _ = make(student, ttft=0.03, itl=0.02, output_len=3)
    ok(post(app, {"prompt": "a b", "max_tokens": 8}))
    fams = scrape(app)
    family(fams, "vllm:num_requests_running", "gauge")
    family(fams, "vllm:request_success", "counter")
    family(fams, "vllm:time_to_first_token_seconds", "histogram")
    family(fams, "vllm:inter_token_latency_seconds", "histogram")
    family(fams, "vllm:prompt_tokens", "counter")
    family(fams, "vllm:generation_tokens", "counter")
    for name in ["vllm:prompt_tokens_total", "vllm:generation_tokens_total"]:
        if sample(fams, name, model_name=MODEL) is None:
            fail_with(f"/metrics has no sample {name}{{model_name=\"{MODEL}\"}} after one request")
    if sample(fams, "vllm:num_requests_running", model_name=MODEL) is None:
        fail_with(f"/metrics has no sample vllm:num_requests_running{{model_name=\"{MODEL}\"}}")


@points(2)
def test_bucket_bounds(student):
    """the two histograms use exactly the stated bucket bounds"""
    app, _, _ = make(student, ttft=0.03, itl=0.02, output_len=3)
    ok(post(app, {"prompt": "a b", "max_tokens": 8}))
    fams = scrape(app)
    for name, bounds in [("vllm:time_to_first_token_seconds", TTFT), ("vllm:inter_token_latency_seconds", ITL)]:
        got = sorted(buckets(fams, name))
        if got != [float(b) for b in bounds] + [float("inf")]:
            fail_with(f"{name} has bucket bounds {got}; expected {bounds} + [+Inf]")


@points(3)
def test_ttft_bucket_placement(student):
    """each request's time to first token lands in the right buckets (count and sum exact)"""
    ttfts = [0.0007, 0.003, 0.05, 0.07, 0.3, 1.7, 12.0]
    app, engine, _ = make(student, output_len=2, itl=0.02)
    for t in ttfts:
        engine.ttft = t
        ok(post(app, {"prompt": "one two three", "max_tokens": 4}))
    fams = scrape(app)
    got = buckets(fams, "vllm:time_to_first_token_seconds")
    want = expected_buckets(TTFT, ttfts)
    if got != want:
        diff = {b: (got.get(b), want[b]) for b in want if got.get(b) != want[b]}
        fail_with(f"after 7 requests with first-token delays {ttfts} s (scripted clock), the TTFT histogram's "
                  f"cumulative buckets differ at le -> (got, expected): {diff}")
    count = sample(fams, "vllm:time_to_first_token_seconds_count", model_name=MODEL)
    total = sample(fams, "vllm:time_to_first_token_seconds_sum", model_name=MODEL)
    if count != 7.0 or total is None or abs(total - sum(ttfts)) > 1e-6:
        fail_with(f"TTFT _count/_sum are {count}/{total}; expected 7 and {sum(ttfts):.4f} (time from the start of "
                  f"the request to its first token, measured with the clock passed to create_monitored_app)")


@points(2)
def test_itl_bucket_placement(student):
    """inter-token latencies: one observation per token after the first, in the right buckets"""
    app, engine, _ = make(student, ttft=0.3, output_len=100)
    plan = [(0.004, 5), (0.06, 3), (0.17, 4), (0.9, 1), (3.0, 2)]   # (itl, tokens)
    values = []
    for itl, n in plan:
        engine.itl = itl
        ok(post(app, {"prompt": "x", "max_tokens": n}))
        values += [itl] * (n - 1)
    fams = scrape(app)
    got = buckets(fams, "vllm:inter_token_latency_seconds")
    want = expected_buckets(ITL, values)
    if got != want:
        diff = {b: (got.get(b), want[b]) for b in want if got.get(b) != want[b]}
        fail_with(f"requests of (inter-token delay, max_tokens) {plan} should give {len(values)} ITL observations "
                  f"(n - 1 per request, the first token is TTFT); cumulative buckets differ at le -> "
                  f"(got, expected): {diff}")
    total = sample(fams, "vllm:inter_token_latency_seconds_sum", model_name=MODEL)
    if total is None or abs(total - sum(values)) > 1e-6:
        fail_with(f"ITL _sum is {total}; expected {sum(values):.4f}")


@points(3)
def test_success_and_token_counters(student):
    """request_success_total by finished_reason, prompt and generation token totals"""
    app, engine, _ = make(student, ttft=0.01, itl=0.01, output_len=5)
    bodies = [{"prompt": "a b c", "max_tokens": 3},          # length, 3 tokens
              {"prompt": "a b c d e f", "max_tokens": 9},    # stop, 5 tokens
              {"prompt": "hello", "max_tokens": 5},          # length (5 == max_tokens), 5 tokens
              {"prompt": "p q", "max_tokens": 1}]            # length, 1 token
    ok(post(app, *bodies))
    fams = scrape(app)
    got = {r: sample(fams, "vllm:request_success_total", model_name=MODEL, finished_reason=r)
           for r in ["length", "stop"]}
    if got != {"length": 3.0, "stop": 1.0}:
        fail_with(f"after 3 requests that finished by length and 1 by stop, vllm:request_success_total by "
                  f"finished_reason is {got}")
    p = sample(fams, "vllm:prompt_tokens_total", model_name=MODEL)
    g = sample(fams, "vllm:generation_tokens_total", model_name=MODEL)
    if (p, g) != (12.0, 14.0):
        fail_with(f"after prompts of 3, 6, 1 and 2 tokens (engine.count_tokens) that generated 3, 5, 5 and 1 "
                  f"tokens, vllm:prompt_tokens_total / vllm:generation_tokens_total are {p} / {g}; expected 12 / 14")


@points(2)
def test_running_gauge(student):
    """num_requests_running counts requests in flight, and returns to 0 after success and after a failure"""
    seen = []
    holder = {}

    def probe():
        seen.append(holder["registry_value"]())

    def current():
        for metric in holder["registry"].collect():
            for s in metric.samples:
                if s.name == "vllm:num_requests_running":
                    return float(s.value)
        return None

    clock = student.FakeClock()
    engine = student.ScriptedEngine(clock=clock, ttft=0.01, itl=0.01, output_len=4, probe=probe)
    registry = registry_in_sandbox(student)
    holder.update(registry=registry, registry_value=current)
    app = App(student.create_monitored_app(engine, registry=registry, model_name=MODEL, clock=clock),
              student.__sandbox__.helpers)
    ok(app.requests([["POST", "/generate", {"json": {"prompt": "a", "max_tokens": 4}}] for _ in range(3)],
                    concurrent=True))
    if not seen or max(v or 0 for v in seen) != 3.0:
        fail_with(f"with 3 concurrent requests, vllm:num_requests_running seen while tokens were produced was "
                  f"{sorted(set(seen))}; expected it to reach 3")
    after = scrape(app)
    if sample(after, "vllm:num_requests_running", model_name=MODEL) != 0.0:
        fail_with(f"after all requests finished, vllm:num_requests_running is "
                  f"{sample(after, 'vllm:num_requests_running', model_name=MODEL)}; expected 0")
    engine.fail_after = 2
    r = post(app, {"prompt": "a", "max_tokens": 4})[0]
    if r.status_code != 500:
        fail_with(f"when the engine raises RuntimeError mid-stream, POST /generate should answer 500, got "
                  f"{r.status_code}")
    after = scrape(app)
    running = sample(after, "vllm:num_requests_running", model_name=MODEL)
    if running != 0.0:
        fail_with(f"after a request whose engine stream raised, vllm:num_requests_running is {running}; "
                  f"expected 0 (decrement in a finally block)")
    succ = sum(float(s.value) for s in after.get("vllm:request_success", type("x", (), {"samples": []})).samples
               if s.name == "vllm:request_success_total")
    if succ != 3.0:
        fail_with(f"after 3 successful requests and 1 failed one, the sum of vllm:request_success_total is "
                  f"{succ}; expected 3 (a failed request is not a success)")


@points(1)
def test_registries_are_separate(student):
    """two apps get their own registries; registry=None does not touch the global one"""
    app_a, _, _ = make(student, model_name="model-a", ttft=0.01, itl=0.01, output_len=2)
    app_b, _, _ = make(student, model_name="model-b", ttft=0.01, itl=0.01, output_len=2)
    ok(post(app_a, {"prompt": "a b", "max_tokens": 2}))
    fa, fb = scrape(app_a), scrape(app_b)
    if sample(fa, "vllm:prompt_tokens_total", model_name="model-a") != 2.0:
        fail_with("vllm:prompt_tokens_total{model_name=\"model-a\"} should be 2 after one request of 2 prompt tokens "
                  "to the app created with model_name='model-a'")
    if sample(fb, "vllm:prompt_tokens_total", model_name="model-b") not in (None, 0.0):
        fail_with("a request to app A changed the metrics of app B: each app must use its own registry")
    try:
        for _ in range(2):
            student.create_monitored_app(student.ScriptedEngine())
    except Exception as exc:
        fail_with(f"calling create_monitored_app(engine) twice (registry=None) raised {type(exc).__name__}: {exc}; "
                  f"with registry=None make a new CollectorRegistry() instead of using the global one")
