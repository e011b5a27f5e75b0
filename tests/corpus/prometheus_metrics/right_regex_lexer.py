# one regex for the sample line and one for the labels; escapes undone by a single re.sub; bisect for the quantile
import bisect

_LINE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>(?:[^"}]|"(?:[^"\\]|\\.)*")*)\})?'
                   r'[ \t]+(?P<value>\S+)(?:[ \t]+(?P<ts>-?\d+))?[ \t]*$')
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')
_ESC = re.compile(r"\\(.)", re.S)


def _unescape(s):
    return _ESC.sub(lambda m: {"n": "\n", "\\": "\\", '"': '"'}.get(m.group(1), m.group(0)), s)


def parse_prometheus(text: str) -> list:
    out = []
    for line in text.split("\n"):
        if not line.strip() or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None:
            raise ValueError(f"cannot parse {line!r}")
        labels = {}
        if m.group("labels"):
            pos, body = 0, m.group("labels")
            while pos < len(body):
                lm = _LABEL.match(body, pos)
                if lm is None:
                    if body[pos:].strip() == "":
                        break
                    raise ValueError(f"bad labels in {line!r}")
                labels[lm.group(1)] = _unescape(lm.group(2))
                pos = lm.end()
        out.append((m.group("name"), labels, float(m.group("value"))))
    return out


def histogram_buckets(samples, name: str, match: dict | None = None) -> dict:
    wanted = (match or {}).items()
    acc, s, c = {}, 0.0, 0.0
    for n, labels, v in samples:
        if not all(labels.get(k) == val for k, val in wanted):
            continue
        if n == f"{name}_bucket":
            key = math.inf if labels["le"] in ("+Inf", "Inf", "inf") else float(labels["le"])
            acc[key] = acc.get(key, 0.0) + v
        elif n == f"{name}_sum":
            s += v
        elif n == f"{name}_count":
            c += v
    return {"buckets": [(le, acc[le]) for le in sorted(acc)], "sum": s, "count": c}


def histogram_quantile(q: float, buckets) -> float:
    if q != q:
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    pairs = sorted(buckets)
    if len(pairs) < 2 or not (pairs[-1][0] == math.inf):
        return math.nan
    bounds = [b for b, _ in pairs]
    counts = [c for _, c in pairs]
    if counts[-1] == 0:
        return math.nan
    rank = q * counts[-1]
    i = min(bisect.bisect_left(counts[:-1], rank), len(pairs) - 1)
    if i == len(pairs) - 1:
        return bounds[-2]
    if i == 0 and bounds[0] <= 0:
        return bounds[0]
    lo_b, lo_c = (bounds[i - 1], counts[i - 1]) if i > 0 else (0.0, 0.0)
    if counts[i] == lo_c:
        return math.nan
    return lo_b + (bounds[i] - lo_b) * (rank - lo_c) / (counts[i] - lo_c)
