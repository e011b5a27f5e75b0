"""Hidden grader: PromQL for three SLO panels, evaluated by a real Prometheus (Lab 2.5, notebook 01).

Synthetic scrapes of vLLM-compatible servers (vLLM 0.32's names and labels: ``vllm:request_success_total``
with ``model_name``, ``engine``, ``finished_reason``; ``vllm:time_to_first_token_seconds`` with vLLM's TTFT
buckets; ``vllm:kv_cache_usage_perc``; the Lab 2.3 service's shape without ``engine``) are written as
OpenMetrics text with timestamps, backfilled with ``promtool tsdb create-blocks-from openmetrics`` and served
by the Debian ``prometheus`` (2.42) on a free loopback port. The student's queries and the reference queries
written here are sent to its ``/api/v1/query`` at the same evaluation times and compared numerically; each
must return exactly one series. The data is fixed (timestamps from November 2023; time retention counts from
the newest block, so nothing is dropped), so the grading is deterministic.

Scenario A (10 s scrapes): two vLLM instances serving model A (one restarts at 9:03: its counters go back to
0) and one data-parallel vLLM instance (engines 0 and 1) serving model B, whose name starts with A's name;
TTFT is fast, then model A is overloaded from minute 7 to 12, then fast again.
Scenario B (15 s scrapes): two Lab 2.3 services (``lab-model``, the service's own buckets, no KV gauge)
and one vLLM; traffic stops at minute 10 (rates 0, quantiles NaN).
"""
from __future__ import annotations

import json
import math
import os
import random
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from autograder.api import fail_with, free_port, points

EXERCISES = ["promql_queries"]
TIMEOUT_S = 120
TEST_TIMEOUT_S = 40
MEMORY_MB = 4096
FILE_MB = 1024          # promtool preallocates 512 MiB chunk segment files while it writes a block

KEYS = ("request_rate", "ttft_quantile", "kv_cache_usage")
WHAT = {"request_rate": "requests/s", "ttft_quantile": "s", "kv_cache_usage": "(fraction)"}

BASE = 1_700_000_000            # 2023-11-14 22:13:20 UTC
MODEL_A = "Qwen/Qwen2.5-0.5B"
MODEL_B = "Qwen/Qwen2.5-0.5B-Instruct"
LAB_MODEL = "lab-model"
VLLM_TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
                     20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)        # vllm/v1/metrics/buckets.py (0.32)
LAB_TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
REASONS = (("stop", 0.8), ("length", 0.15), ("abort", 0.05))


# -- the synthetic scrapes -----------------------------------------------------------------------------

class Source:
    """One scraped engine: its labels, scrape timing, traffic and restarts."""

    def __init__(self, labels, start, offset, interval, duration, buckets, ttft_median, load, kv, kv_gauge=True,
                 restart=None, seed=0):
        self.labels, self.buckets, self.kv_gauge = labels, buckets, kv_gauge
        self.times = [start + offset + k * interval for k in range(int(duration // interval))]
        self.interval, self.start = interval, start
        self.ttft_median, self.load, self.kv = ttft_median, load, kv     # functions of minutes since start
        self.restart = restart                                            # (down_from_s, up_again_s) or None
        self.rng = random.Random(seed)

    def samples(self):
        """[(t, counters_by_reason, bucket_counts, ttft_sum, ttft_count, kv)] for every successful scrape."""
        out, rng = [], self.rng
        zero = lambda: ({r: 0 for r, _ in REASONS}, [0] * (len(self.buckets) + 1), 0.0, 0)   # noqa: E731
        done, buckets, total, count = zero()
        for t in self.times:
            minute = (t - self.start) / 60
            if self.restart and self.restart[0] <= t - self.start < self.restart[1]:
                done, buckets, total, count = zero()          # the process is down; it comes back from 0
                continue
            n = rng.randint(*self.load(minute))
            for _ in range(n):
                u, acc = rng.random(), 0.0
                for reason, p in REASONS:
                    acc += p
                    if u < acc:
                        break
                done[reason] += 1
                ttft = round(self.ttft_median(minute) * math.exp(rng.gauss(0, 0.6)), 4)
                total += ttft
                count += 1
                for i, le in enumerate(self.buckets):
                    if ttft <= le:
                        buckets[i] += 1
                buckets[-1] += 1
            kv = min(1.0, max(0.0, round(self.kv(minute) + rng.uniform(-0.04, 0.04), 4)))
            out.append((t, dict(done), list(buckets), total, count, kv))
        return out


def label_text(labels):
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def fmt_le(le):
    return "+Inf" if math.isinf(le) else repr(float(le))


def openmetrics(sources):
    """OpenMetrics text with timestamps: one family after the other, each series' samples in time order."""
    data = [(s, s.samples()) for s in sources]
    lines = ["# HELP vllm:request_success Count of successfully processed requests.",
             "# TYPE vllm:request_success counter"]
    for s, rows in data:
        for reason, _ in REASONS:
            name = "vllm:request_success_total" + label_text({**s.labels, "finished_reason": reason})
            lines += [f"{name} {done[reason]} {t:.3f}" for t, done, *_ in rows]
    lines += ["# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.",
              "# TYPE vllm:time_to_first_token_seconds histogram"]
    for s, rows in data:
        for i, le in enumerate(list(s.buckets) + [math.inf]):
            name = "vllm:time_to_first_token_seconds_bucket" + label_text({**s.labels, "le": fmt_le(le)})
            lines += [f"{name} {b[i]} {t:.3f}" for t, _, b, *_ in rows]
        lines += [f"vllm:time_to_first_token_seconds_count{label_text(s.labels)} {c} {t:.3f}"
                  for t, _, _, _, c, _ in rows]
        lines += [f"vllm:time_to_first_token_seconds_sum{label_text(s.labels)} {tot!r} {t:.3f}"
                  for t, _, _, tot, _, _ in rows]
    lines += ["# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.",
              "# TYPE vllm:kv_cache_usage_perc gauge"]
    for s, rows in data:
        if s.kv_gauge:
            lines += [f"vllm:kv_cache_usage_perc{label_text(s.labels)} {kv!r} {t:.3f}" for t, *_, kv in rows]
    return "\n".join(lines) + "\n# EOF\n"


def step(*phases):
    """A function of minutes: phases = (until_minute, value), ...; the last value holds after."""
    def f(minute):
        for until, value in phases:
            if minute < until:
                return value
        return phases[-1][1]
    return f


A0 = BASE
B0 = BASE + 3 * 3600


def scenario_sources():
    vllm = lambda inst, model, engine="0": {"job": "vllm", "instance": inst, "model_name": model,  # noqa: E731
                                           "engine": engine}
    a_ttft = step((7, 0.05), (12, 0.9), (99, 0.06))
    a = [
        Source(vllm("10.0.0.11:8000", MODEL_A), A0, 0.0, 10, 1200, VLLM_TTFT_BUCKETS, a_ttft,
               step((7, (4, 12)), (12, (10, 20)), (99, (2, 8))), step((7, 0.3), (12, 0.85), (99, 0.25)), seed=1),
        Source(vllm("10.0.0.12:8000", MODEL_A), A0, 3.3, 10, 1200, VLLM_TTFT_BUCKETS, a_ttft,
               step((7, (6, 14)), (12, (12, 24)), (99, (3, 9))), step((7, 0.4), (12, 0.95), (99, 0.3)),
               restart=(543.0, 563.0), seed=2),
        Source(vllm("10.0.0.21:8000", MODEL_B, "0"), A0, 6.7, 10, 1200, VLLM_TTFT_BUCKETS,
               step((12, 0.03), (99, 0.3)), step((12, (2, 6)), (99, (8, 16))), step((12, 0.2), (99, 0.7)), seed=3),
        Source(vllm("10.0.0.21:8000", MODEL_B, "1"), A0, 6.7, 10, 1200, VLLM_TTFT_BUCKETS,
               step((12, 0.035), (99, 0.4)), step((12, (1, 5)), (99, (6, 12))), step((12, 0.15), (99, 0.6)), seed=4),
    ]
    lab = lambda inst: {"job": "lab23", "instance": inst, "model_name": LAB_MODEL}  # noqa: E731
    b = [
        Source(lab("127.0.0.1:8001"), B0, 1.1, 15, 1200, LAB_TTFT_BUCKETS, step((5, 0.015), (99, 0.2)),
               step((10, (3, 9)), (99, (0, 0))), step((99, 0.0)), kv_gauge=False, seed=5),
        Source(lab("127.0.0.1:8002"), B0, 8.9, 15, 1200, LAB_TTFT_BUCKETS, step((5, 0.02), (99, 0.3)),
               step((10, (5, 15)), (99, (0, 0))), step((99, 0.0)), kv_gauge=False, restart=(300.0, 330.0), seed=6),
        Source({"job": "vllm", "instance": "127.0.0.1:8000", "model_name": MODEL_B, "engine": "0"}, B0, 4.2, 15,
               1200, VLLM_TTFT_BUCKETS, step((99, 0.08)), step((10, (2, 7)), (99, (0, 0))),
               step((10, 0.5), (99, 0.02)), seed=7),
    ]
    return a + b


#: evaluation times: (unix time, what a student reads in the feedback)
A_TIMES = [
    (A0 + 307, "scenario A at 5:07 (steady traffic, fast first tokens)"),
    (A0 + 583, "scenario A at 9:43 (20 s after instance 10.0.0.12:8000 restarted: its counters began again at 0)"),
    (A0 + 701, "scenario A at 11:41 (model A overloaded since 7:00: slow first tokens)"),
    (A0 + 793, "scenario A at 13:13 (70 s after the overload ended)"),
    (A0 + 1190, "scenario A at 19:50"),
]
B_TIMES = [
    (B0 + 341, "scenario B at 5:41 (two Lab 2.3 services and one vLLM; just after 127.0.0.1:8002 restarted: its counters began again at 0)"),
    (B0 + 552, "scenario B at 9:12"),
    (B0 + 700, "scenario B at 11:40 (no traffic since 10:00)"),
]


# -- the reference ---------------------------------------------------------------------------------------

def reference(window="1m", quantile=0.95, model=None):
    sel = "{model_name=%s}" % json.dumps(model) if model is not None else ""
    return {
        "request_rate": f"sum(rate(vllm:request_success_total{sel}[{window}]))",
        "ttft_quantile": f"histogram_quantile({quantile!r}, "
                         f"sum by (le) (rate(vllm:time_to_first_token_seconds_bucket{sel}[{window}])))",
        "kv_cache_usage": f"max(vllm:kv_cache_usage_perc{sel})",
    }


# -- Prometheus ------------------------------------------------------------------------------------------

class QueryError(Exception):
    pass


class Prometheus:
    def __init__(self, url):
        self.url = url

    def query(self, expr, at):
        params = urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}", "timeout": "10s"})
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/query?{params}", timeout=20) as r:
                body = json.load(r)
        except urllib.error.HTTPError as exc:
            try:
                body = json.load(exc)
            except Exception:
                raise QueryError(f"HTTP {exc.code}") from None
        if body.get("status") != "success":
            raise QueryError(body.get("error") or str(body))
        return body["data"]


def tool(name):
    path = shutil.which(name) or (f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None)
    if path is None:
        fail_with(f"{name} is not installed on the grading host (Debian package 'prometheus'); "
                  "ask the course staff: this is not your fault")
    return path


def start_prometheus(tmp: Path):
    (tmp / "scrapes.om").write_text(openmetrics(scenario_sources()))
    made = subprocess.run([tool("promtool"), "tsdb", "create-blocks-from", "openmetrics", "scrapes.om", "data"],
                          cwd=tmp, capture_output=True, text=True, timeout=60)
    if made.returncode != 0:
        raise RuntimeError("promtool could not backfill the grader's data (not your fault):\n"
                           + (made.stdout + made.stderr)[-1500:])
    (tmp / "prometheus.yml").write_text("global:\n  scrape_interval: 1m\n")
    for _ in range(3):                                   # the port can be taken between free_port() and bind
        port = free_port()
        log = open(tmp / "prometheus.log", "w")
        proc = subprocess.Popen([tool("prometheus"), "--config.file=prometheus.yml", "--storage.tsdb.path=data",
                                 "--storage.tsdb.retention.time=3650d", f"--web.listen-address=127.0.0.1:{port}",
                                 "--log.level=warn"], cwd=tmp, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(url + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return proc, Prometheus(url)
            except OSError:
                time.sleep(0.1)
        stop(proc)
    raise RuntimeError("prometheus did not start (not your fault):\n" + (tmp / "prometheus.log").read_text()[-1500:])


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def prom():
    tmp = Path(tempfile.mkdtemp(prefix="promql-grader-"))
    proc = None
    try:
        proc, server = start_prometheus(tmp)
        yield server
    finally:
        if proc is not None:
            stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


# -- checking ----------------------------------------------------------------------------------------------

def call_text(window, quantile, model):
    return f"promql_queries(window={window!r}, quantile={quantile!r}, model={model!r})"


def student_queries(student, window="1m", quantile=0.95, model=None):
    call = call_text(window, quantile, model)
    out = student.promql_queries(window=window, quantile=quantile, model=model)
    if not isinstance(out, dict):
        fail_with(f"{call} returned {type(out).__name__}, expected a dict with the keys {list(KEYS)}")
    missing = [k for k in KEYS if k not in out]
    if missing:
        fail_with(f"{call} has no key {missing} (keys: {sorted(map(str, out))})")
    for k in KEYS:
        if not isinstance(out[k], str) or not out[k].strip():
            fail_with(f"{call}[{k!r}] should be a non-empty PromQL string, got {type(out[k]).__name__}: "
                      f"{str(out[k])[:80]!r}")
    return call, out


def one_value(data):
    """(value, None) when the result is one sample; (None, description) otherwise."""
    kind, result = data["resultType"], data["result"]
    if kind == "scalar":
        return float(result[1]), None
    if kind != "vector":
        return None, f"a {kind} (a panel needs an instant vector with one series)"
    if len(result) != 1:
        shown = "; ".join(json.dumps(s["metric"], sort_keys=True) for s in result[:3])
        more = f" and {len(result) - 3} more" if len(result) > 3 else ""
        if not result:
            return None, ("no series (no data matched: check the metric names and label matchers; "
                          "histogram_quantile needs the le label of the buckets)")
        return None, (f"{len(result)} series: {shown}{more} (a panel needs exactly one: aggregate the instances, "
                      "engines and label values away)")
    return float(result[0]["value"][1]), None


def same(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def check(prom, student, key, times, window="1m", quantile=0.95, model=None):
    call, out = student_queries(student, window, quantile, model)
    ref = reference(window, quantile, model)[key]
    for at, when in times:
        try:
            want, problem = one_value(prom.query(ref, at))
        except QueryError as exc:                      # a grader bug, never the student's fault
            raise RuntimeError(f"the reference query failed: {exc}") from None
        assert problem is None, f"grader data gives no single reference value at {when}: {problem}"
        try:
            got, problem = one_value(prom.query(out[key], at))
        except QueryError as exc:
            fail_with(f"Prometheus rejected {call}[{key!r}] = {out[key]!r}: {exc}")
        if problem is not None:
            fail_with(f"{call}[{key!r}] at {when}: your query returned {problem}.\n  your query: {out[key]}")
        if not same(got, want):
            fail_with(f"{call}[{key!r}] at {when}: your query gives {got!r} {WHAT[key]}; the expected value is "
                      f"{want!r}.\n  your query: {out[key]}")


ALL_TIMES = A_TIMES + B_TIMES


@points(1)
def test_three_queries_accepted_by_prometheus(student, prom):
    """a dict with the three keys; Prometheus accepts every query"""
    for args in [{}, {"window": "5m", "quantile": 0.5, "model": MODEL_A}]:
        call, out = student_queries(student, **args)
        for k in KEYS:
            try:
                prom.query(out[k], A_TIMES[0][0])
            except QueryError as exc:
                fail_with(f"Prometheus rejected {call}[{k!r}] = {out[k]!r}: {exc}")


@points(2)
def test_request_rate(student, prom):
    """request_rate: finished requests per second over the window, all instances and reasons, across restarts"""
    check(prom, student, "request_rate", ALL_TIMES)


@points(2)
def test_ttft_quantile(student, prom):
    """ttft_quantile: the quantile of the bucket rates over the window, summed by le over all instances"""
    check(prom, student, "ttft_quantile", ALL_TIMES)


@points(1)
def test_kv_cache_usage(student, prom):
    """kv_cache_usage: the highest current KV cache usage among the instances"""
    check(prom, student, "kv_cache_usage", ALL_TIMES)


@points(2)
def test_window_and_quantile_arguments(student, prom):
    """the window and quantile arguments are used (30s, 90s, 2m, 5m; p50, p90, p99)"""
    for window in ("30s", "2m", "5m"):
        check(prom, student, "request_rate", [A_TIMES[1], A_TIMES[3], B_TIMES[0]], window=window)
    for window, q in [("1m", 0.5), ("5m", 0.95), ("30s", 0.99), ("90s", 0.9), ("2m", 0.5)]:
        check(prom, student, "ttft_quantile", [A_TIMES[2], A_TIMES[3], B_TIMES[1]], window=window, quantile=q)


@points(2)
def test_model_filter(student, prom):
    """model=...: only the series whose model_name equals it (not one that merely starts with it)"""
    for model, times in [(MODEL_A, A_TIMES), (MODEL_B, A_TIMES), (LAB_MODEL, B_TIMES[:2]), (MODEL_B, B_TIMES[:2])]:
        check(prom, student, "request_rate", times, model=model)
        check(prom, student, "ttft_quantile", times, model=model)
        if model != LAB_MODEL:                          # the Lab 2.3 service exports no KV cache gauge
            check(prom, student, "kv_cache_usage", times, model=model)
