"""Hidden grader: Prometheus text format and histogram_quantile (Lab 2.1, notebook 04).

Expositions are generated here from known samples (the expectation), written the way a Prometheus
client library writes them. The quantile reference below follows PromQL's bucketQuantile
(prometheus/promql/quantile.go): rank = q * count, first bucket with cumulative count >= rank,
linear interpolation inside it, +Inf bucket -> highest finite bound, first bucket <= 0 -> its bound.
"""
from __future__ import annotations

import math
import random

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from autograder.api import as_float, fail_with, points

EXERCISES = ["prometheus_metrics"]
TIMEOUT_S = 150
TEST_TIMEOUT_S = 40
# one counterexample per test, no "explain" phase: failing submissions get their feedback quickly
QUICK = dict(report_multiple_bugs=False, phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink])


# ---------------------------------------------------------------------------------------- writing
def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def fmt_value(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == int(v) and abs(v) < 1e15 and not (v == 0 and math.copysign(1, v) < 0):
        return repr(float(v))
    return repr(v)


def sample_line(name, labels: dict, value: float, ts=None, sep=" ", trailing_comma=False, braces=False) -> str:
    body = ",".join(f'{k}="{escape_label(v)}"' for k, v in labels.items())
    if labels and trailing_comma:
        body += ","
    head = name + ("{" + body + "}" if labels or braces else "")
    return head + sep + fmt_value(value) + ("" if ts is None else f" {ts}")


def short(value, limit=90) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------------------------- checking
def as_samples(out, how):
    try:
        items = list(out)
    except TypeError:
        fail_with(f"{how}: parse_prometheus returned {type(out).__name__}, expected a list of (name, labels, value)")
    result = []
    for k, item in enumerate(items):
        try:
            name, labels, value = item
        except (TypeError, ValueError):
            fail_with(f"{how}: sample {k} is {short(item)}, expected a (name, labels, value) tuple")
        if not isinstance(name, str) or not isinstance(labels, dict):
            fail_with(f"{how}: sample {k} is {short(item)}, expected name a str and labels a dict")
        result.append((str(name), {str(a): str(b) for a, b in labels.items()}, as_float(value, f"{how}: sample {k}'s value")))
    return result


def same_value(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def check_samples(student, text, want, how):
    got = as_samples(student.parse_prometheus(text), how)
    if len(got) != len(want):
        fail_with(f"{how}: got {len(got)} samples, expected {len(want)} (HELP/TYPE/comment and blank lines are not "
                  f"samples); first lines: {short(text[:300], 300)}")
    for k, ((gn, gl, gv), (wn, wl, wv)) in enumerate(zip(got, want)):
        line = sample_line(wn, wl, wv)
        if gn != wn:
            fail_with(f"{how}: sample {k} ({short(line)}) has name {gn!r}, expected {wn!r}")
        if gl != wl:
            fail_with(f"{how}: sample {k} ({short(line)}) has labels {short(gl)}, expected {short(wl)}")
        if not same_value(gv, wv):
            fail_with(f"{how}: sample {k} ({short(line)}) has value {gv!r}, expected {wv!r}")


def promql_quantile(q, buckets):
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    bs = sorted(buckets)
    if len(bs) < 2 or not math.isinf(bs[-1][0]):
        return math.nan
    total = bs[-1][1]
    if total == 0:
        return math.nan
    rank = q * total
    b = len(bs) - 1
    for i in range(len(bs) - 1):
        if bs[i][1] >= rank:
            b = i
            break
    if b == len(bs) - 1:
        return bs[-2][0]
    if b == 0 and bs[0][0] <= 0:
        return bs[0][0]
    start, prev = (bs[b - 1][0], bs[b - 1][1]) if b else (0.0, 0.0)
    return start + (bs[b][0] - start) * ((rank - prev) / (bs[b][1] - prev))


def quantile(student, q, buckets, how=""):
    call = f"histogram_quantile({q!r}, {short(buckets, 400)})"
    return call, as_float(student.histogram_quantile(q, list(buckets)), call)


def check_quantile(student, q, buckets, why=""):
    call, got = quantile(student, q, buckets)
    want = promql_quantile(q, buckets)
    ok = same_value(got, want) or (not math.isnan(want) and math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12))
    if not ok:
        fail_with(f"{call} returned {got!r}, expected {want!r}{why}")


# ---------------------------------------------------------------------------------------- strategies
metric_names = st.from_regex(r"\A[a-zA-Z_:][a-zA-Z0-9_:]{0,12}\Z")
label_names = st.from_regex(r"\A[a-zA-Z_][a-zA-Z0-9_]{0,12}\Z").filter(lambda n: n != "le")
label_values = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=8),
    st.sampled_from(['a,b', 'x}y', 'k="v"', '\\', '\\n', '\n', 'C:\\dir\\', '"quoted"', '# not a comment',
                     '1 2 3', 'line\u2028sep', '', 'le', '{}', 'model=a,b="c"']))
values = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**12, 10**12).map(float))
timestamps = st.one_of(st.none(), st.integers(-10**13, 10**13))
label_sets = st.dictionaries(label_names, label_values, max_size=3)


@st.composite
def expositions(draw):
    families = draw(st.lists(st.tuples(metric_names, st.lists(st.tuples(label_sets, values, timestamps),
                                                               min_size=1, max_size=3)),
                             min_size=1, max_size=4))
    lines, want = [], []
    for name, series in families:
        if draw(st.booleans()):
            doc = draw(st.text(st.characters(exclude_categories=("Cs",)), max_size=10))
            lines.append(f"# HELP {name} " + doc.replace("\\", "\\\\").replace("\n", "\\n"))
        if draw(st.booleans()):
            lines.append(f"# TYPE {name} " + draw(st.sampled_from(["counter", "gauge", "untyped", "summary"])))
        if draw(st.booleans()):
            lines.append("# a free comment with {braces} and \"quotes\" 1")
        for labels, value, ts in series:
            sep = draw(st.sampled_from([" ", " ", "\t", "  "]))
            lines.append(sample_line(name, labels, value, ts, sep, trailing_comma=draw(st.booleans()),
                                     braces=draw(st.booleans())))
            want.append((name, labels, value))
        if draw(st.booleans()):
            lines.append("")
    return "\n".join(lines) + "\n", want


@st.composite
def bucket_layouts(draw, allow_nonpositive=False):
    n = draw(st.integers(1, 8))
    lo = -5.0 if allow_nonpositive else 0.001
    bounds = sorted(set(draw(st.lists(st.floats(lo, 1000.0, allow_nan=False), min_size=n, max_size=n))))
    increments = draw(st.lists(st.integers(0, 50), min_size=len(bounds) + 1, max_size=len(bounds) + 1))
    counts = [float(sum(increments[: i + 1])) for i in range(len(increments))]
    return list(zip(bounds + [math.inf], counts))


# ---------------------------------------------------------------------------------------- tests
VLLM_TEXT = """\
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="tiny"} 3.0
# HELP vllm:generation_tokens_total Number of generation tokens processed.
# TYPE vllm:generation_tokens_total counter
vllm:generation_tokens_total{engine="0",model_name="tiny"} 1024.0
# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.02",model_name="tiny"} 2.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.1",model_name="tiny"} 6.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="tiny"} 8.0
vllm:time_to_first_token_seconds_count{engine="0",model_name="tiny"} 8.0
vllm:time_to_first_token_seconds_sum{engine="0",model_name="tiny"} 0.5
process_open_fds 17
python_info{implementation="CPython",major="3",minor="11",patchlevel="7",version="3.11.7"} 1.0
"""


@points(1)
def test_parse_vllm_excerpt(student):
    """an excerpt of vLLM's /metrics: names with ':', label sets, HELP/TYPE lines skipped"""
    t = {"engine": "0", "model_name": "tiny"}
    want = [("vllm:num_requests_running", t, 3.0), ("vllm:generation_tokens_total", t, 1024.0),
            ("vllm:time_to_first_token_seconds_bucket", dict(t, le="0.02"), 2.0),
            ("vllm:time_to_first_token_seconds_bucket", dict(t, le="0.1"), 6.0),
            ("vllm:time_to_first_token_seconds_bucket", dict(t, le="+Inf"), 8.0),
            ("vllm:time_to_first_token_seconds_count", t, 8.0), ("vllm:time_to_first_token_seconds_sum", t, 0.5),
            ("process_open_fds", {}, 17.0),
            ("python_info", {"implementation": "CPython", "major": "3", "minor": "11", "patchlevel": "7",
                             "version": "3.11.7"}, 1.0)]
    check_samples(student, VLLM_TEXT, want, "parse_prometheus(<an excerpt of vLLM's /metrics>)")


@points(2)
@settings(max_examples=80, **QUICK)
@given(expositions())
def test_parse_generated_expositions(student, exposition):
    """generated expositions: any label values, HELP/TYPE/comments, timestamps, tabs, trailing commas"""
    text, want = exposition
    check_samples(student, text, want, f"parse_prometheus({short(text, 300)})")


@points(1)
def test_label_value_escapes(student):
    """label values unescape \\\\, \\" and \\n (in one pass) and may hold , } = # and spaces"""
    cases = [
        ('m{path="C:\\\\dir\\\\",msg="say \\"hi\\"\\nbye"} 1', {"path": "C:\\dir\\", "msg": 'say "hi"\nbye'}),
        ('m{a="\\\\n"} 1', {"a": "\\n"}),
        ('m{a="\\\\\\n"} 1', {"a": "\\\n"}),
        ('m{a="x,y=z",b="}{",c="# 1 2"} 1', {"a": "x,y=z", "b": "}{", "c": "# 1 2"}),
        ('m{a="",b=" "} 1', {"a": "", "b": " "}),
    ]
    for line, labels in cases:
        check_samples(student, line + "\n", [("m", labels, 1.0)], f"parse_prometheus({line!r})")


@points(1)
def test_special_values_and_timestamps(student):
    """+Inf, -Inf, NaN, exponents; a timestamp after the value is not the value"""
    text = ("a +Inf\nb -Inf\nc NaN\nd 1.7952589789225621e+09\ne 1e-05 1700000000000\n"
            'f{x="1"} 42 -17\ng\t0.25\n')
    want = [("a", {}, math.inf), ("b", {}, -math.inf), ("c", {}, math.nan), ("d", {}, 1.7952589789225621e+09),
            ("e", {}, 1e-05), ("f", {"x": "1"}, 42.0), ("g", {}, 0.25)]
    check_samples(student, text, want, f"parse_prometheus({text!r})")


@points(2)
@settings(**QUICK)
@given(bucket_layouts(allow_nonpositive=True), st.floats(0.001, 1.0), st.randoms(use_true_random=False))
def test_quantile_matches_promql(student, buckets, q, rnd):
    """histogram_quantile interpolates linearly inside the bucket holding rank q * count (PromQL)"""
    if buckets[-1][1] == 0:
        buckets[-1] = (math.inf, 1.0)
    shuffled = buckets[:]
    rnd.shuffle(shuffled)
    check_quantile(student, q, shuffled)


@points(1)
def test_quantile_edge_cases(student):
    """first bucket from 0, +Inf bucket -> highest finite bound, empty -> NaN, ties, q outside [0, 1]"""
    inf = math.inf
    cases = [
        (0.25, [(1.0, 4.0), (2.0, 8.0), (inf, 8.0)], " (the rank is in the first bucket: interpolate from 0)"),
        (0.99, [(0.5, 1.0), (1.0, 2.0), (inf, 10.0)], " (the rank is in the +Inf bucket: the highest finite bound)"),
        (0.5, [(0.5, 0.0), (1.0, 0.0), (inf, 0.0)], " (no observations: NaN)"),
        (0.5, [(1.0, 3.0), (2.0, 4.0)], " (no +Inf bucket: NaN)"),
        (0.5, [(inf, 4.0)], " (a single bucket: NaN)"),
        (0.5, [(1.0, 5.0), (2.0, 5.0), (4.0, 10.0), (inf, 10.0)],
         " (rank 5 equals the first bucket's count: the first bucket with count >= rank)"),
        (0.5, [(-1.0, 3.0), (1.0, 4.0), (inf, 4.0)], " (the rank is in a first bucket whose bound is <= 0)"),
        (1.0, [(0.1, 2.0), (0.2, 4.0), (inf, 4.0)], " (q = 1 with an empty +Inf bucket)"),
        (-0.5, [(1.0, 1.0), (inf, 2.0)], " (q < 0: -Inf)"),
        (1.5, [(1.0, 1.0), (inf, 2.0)], " (q > 1: +Inf)"),
    ]
    for q, buckets, why in cases:
        check_quantile(student, q, buckets, why)


@points(1)
def test_histogram_buckets_sums_series(student):
    """histogram_buckets sums series per le, filters by match, sorts bounds numerically"""
    lines = []
    rnd = random.Random(4)
    bounds = ["0.5", "2.5", "10.0", "+Inf"]
    per_model = {}
    for model in ["a", "b"]:
        counts = [0.0] * 4
        running = 0.0
        for i, le in enumerate(bounds):
            running += rnd.randint(0, 9)
            counts[i] = running
        per_model[model] = counts
        for le, c in reversed(list(zip(bounds, counts))):       # not in numeric order on purpose
            lines.append(f'ttft_bucket{{le="{le}",model="{model}"}} {c}')
        lines.append(f'ttft_sum{{model="{model}"}} {running * 0.5}')
        lines.append(f'ttft_count{{model="{model}"}} {running}')
    text = "\n".join(lines) + "\n"
    samples = student.parse_prometheus(text)
    le_values = [0.5, 2.5, 10.0, math.inf]
    for match, models in [(None, ["a", "b"]), ({"model": "b"}, ["b"])]:
        call = f"histogram_buckets(parse_prometheus(<two series model=a, model=b>), 'ttft', match={match!r})"
        out = student.histogram_buckets(samples, "ttft", match)
        want_b = [(le, sum(per_model[m][i] for m in models)) for i, le in enumerate(le_values)]
        try:
            got_b = [(as_float(le, call + " bound"), as_float(c, call + " count")) for le, c in out["buckets"]]
        except (TypeError, KeyError, ValueError):
            fail_with(f"{call} returned {short(out)}, expected a dict with 'buckets', 'sum' and 'count'")
        if got_b != want_b:
            fail_with(f"{call}['buckets'] is {short(got_b, 300)}, expected {short(want_b, 300)} "
                      "(summed per upper bound over the matching series, sorted numerically)")
        want_count = sum(per_model[m][-1] for m in models)
        got_sum = as_float(out["sum"], call + "['sum']")
        got_count = as_float(out["count"], call + "['count']")
        if not (math.isclose(got_count, want_count) and math.isclose(got_sum, want_count * 0.5)):
            fail_with(f"{call} has sum {got_sum!r} and count {got_count!r}, expected {want_count * 0.5!r} and "
                      f"{want_count!r}")


@points(1)
@settings(max_examples=60, **QUICK)
@given(st.lists(st.floats(0.0005, 30.0), min_size=1, max_size=60), st.floats(0.05, 0.99))
def test_mean_and_quantile_from_exposition(student, observations, q):
    """mean TTFT = _sum / _count and the quantile from the parsed _bucket series"""
    bounds = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0]
    name = "vllm:time_to_first_token_seconds"
    common = {"engine": "0", "model_name": "tiny"}
    lines = [f"# HELP {name} Histogram of time to first token in seconds.", f"# TYPE {name} histogram"]
    buckets = []
    for le in bounds + [math.inf]:
        c = float(sum(1 for x in observations if x <= le))
        buckets.append((le, c))
        lines.append(sample_line(name + "_bucket", dict(common, le="+Inf" if le == math.inf else repr(le)), c))
    lines.append(sample_line(name + "_count", common, float(len(observations))))
    lines.append(sample_line(name + "_sum", common, math.fsum(observations)))
    text = "\n".join(lines) + "\n"
    out = student.histogram_buckets(student.parse_prometheus(text), name)
    call = f"histogram_buckets(parse_prometheus(<TTFT histogram of {len(observations)} requests>), {name!r})"
    mean = as_float(out["sum"], call + "['sum']") / as_float(out["count"], call + "['count']")
    if not math.isclose(mean, math.fsum(observations) / len(observations), rel_tol=1e-9):
        fail_with(f"{call}: sum / count = {mean!r}, expected the mean TTFT "
                  f"{math.fsum(observations) / len(observations)!r}")
    got_q = as_float(student.histogram_quantile(q, out["buckets"]), f"histogram_quantile({q!r}, {call}['buckets'])")
    want_q = promql_quantile(q, buckets)
    if not math.isclose(got_q, want_q, rel_tol=1e-9):
        fail_with(f"histogram_quantile({q!r}, {call}['buckets']) returned {got_q!r}, expected {want_q!r}")
