# Generated from source/lab2_1_vllm_deployment/04-Production_Deployment.ipynb by `python -m autograder build`: do not edit here,
# edit the instructor notebook and rebuild.

# --- cell: setup_production ---
# Shared by the exercises of this notebook: the standard library only (no vLLM, no model here).
import codecs
import json
import math
import re
from typing import Iterable


class StreamError(RuntimeError):
    """The server reported an error inside a stream (an `event: error`, or a JSON object with an "error" key)."""

# --- cell: prometheus_metrics ---
def parse_prometheus(text: str) -> list:
    """Parse Prometheus text exposition format (what GET /metrics returns) into samples.

    Returns a list of (name, labels, value) tuples in the order of the text: name a str, labels a dict
    {label name: label value} (unescaped), value a float ("+Inf", "-Inf" and "NaN" included). Lines
    starting with "#" (HELP, TYPE, comments) and blank lines are skipped; an optional timestamp after
    the value is ignored. Lines are separated by "\\n" only. In a label value, "\\\\" is a backslash,
    "\\"" a double quote and "\\n" a newline; a value may contain ",", "}", "=", "#" and spaces.
    Raises ValueError on a malformed sample line.
    """
    name_re = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
    label_re = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
    escapes = {"\\": "\\", '"': '"', "n": "\n"}
    samples = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        if line.endswith("\r"):
            line = line[:-1]
        if not line.strip(" \t") or line.lstrip(" \t").startswith("#"):
            continue
        m = name_re.match(line)
        if not m:
            raise ValueError(f"line {lineno}: no metric name in {line!r}")
        name, pos, labels = m.group(), m.end(), {}
        if pos < len(line) and line[pos] == "{":
            pos += 1
            while True:
                while pos < len(line) and line[pos] in " \t":
                    pos += 1
                if pos < len(line) and line[pos] == "}":
                    pos += 1
                    break
                lm = label_re.match(line, pos)
                if not lm or line[lm.end():lm.end() + 2] != '="':
                    raise ValueError(f"line {lineno}: bad label at column {pos} in {line!r}")
                pos, value = lm.end() + 2, []
                while True:
                    if pos >= len(line):
                        raise ValueError(f"line {lineno}: unterminated label value in {line!r}")
                    ch = line[pos]
                    if ch == "\\" and pos + 1 < len(line):
                        nxt = line[pos + 1]
                        value.append(escapes.get(nxt, "\\" + nxt))
                        pos += 2
                    elif ch == '"':
                        pos += 1
                        break
                    else:
                        value.append(ch)
                        pos += 1
                labels[lm.group()] = "".join(value)
                if pos < len(line) and line[pos] == ",":
                    pos += 1
        rest = line[pos:].split()
        if len(rest) not in (1, 2):
            raise ValueError(f"line {lineno}: expected a value and an optional timestamp in {line!r}")
        samples.append((name, labels, float(rest[0])))
    return samples


def histogram_buckets(samples, name: str, match: dict | None = None) -> dict:
    """The cumulative buckets, sum and count of histogram `name`, summed over its series.

    Uses the samples `name + "_bucket"` (label "le" = upper bound), `name + "_sum"` and `name + "_count"`
    whose labels contain every item of `match` (all series when match is None). Series that differ in
    other labels are added up, bucket by bucket (PromQL: `sum by (le) (...)`).
    Returns {"buckets": [(upper_bound, cumulative_count), ...] sorted by upper bound (a float, math.inf
    for "+Inf"), "sum": float, "count": float}.
    """
    match = match or {}
    per_le, total_sum, total_count = {}, 0.0, 0.0
    for sample_name, labels, value in samples:
        if any(labels.get(k) != v for k, v in match.items()):
            continue
        if sample_name == name + "_bucket":
            le = float(labels["le"])
            per_le[le] = per_le.get(le, 0.0) + value
        elif sample_name == name + "_sum":
            total_sum += value
        elif sample_name == name + "_count":
            total_count += value
    return {"buckets": sorted(per_le.items()), "sum": total_sum, "count": total_count}


def histogram_quantile(q: float, buckets) -> float:
    """Estimate the q-quantile from cumulative buckets, like PromQL's histogram_quantile.

    buckets: (upper_bound, cumulative_count) pairs, in any order; the last bound must be +Inf.
    rank = q * total count; take the first bucket (by upper bound) whose cumulative count >= rank and
    interpolate linearly between its lower bound (the previous upper bound; 0 for the first bucket)
    and its upper bound. Special cases, as in PromQL:
      q < 0 -> -inf; q > 1 -> +inf; q NaN -> NaN;
      no +Inf bucket, fewer than 2 buckets or a total count of 0 -> NaN;
      the rank falls in the +Inf bucket -> the highest finite upper bound;
      the rank falls in the first bucket and its upper bound is <= 0 -> that upper bound.
    """
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    bs = sorted((float(le), float(c)) for le, c in buckets)
    if len(bs) < 2 or bs[-1][0] != math.inf:
        return math.nan
    total = bs[-1][1]
    if total == 0:
        return math.nan
    rank = q * total
    b = next(i for i, (_, c) in enumerate(bs) if c >= rank or i == len(bs) - 1)
    if b == len(bs) - 1:
        return bs[-2][0]
    if b == 0 and bs[0][0] <= 0:
        return bs[0][0]
    start, prev = (bs[b - 1][0], bs[b - 1][1]) if b > 0 else (0.0, 0.0)
    end, count = bs[b][0], bs[b][1] - prev
    if count == 0:                    # only for q == 0 with an empty first bucket: 0/0 in PromQL
        return math.nan
    return start + (end - start) * ((rank - prev) / count)
