# a character scanner with an explicit state for "inside a quoted label value"; a linear walk for the quantile
def parse_prometheus(text: str) -> list:
    result = []
    for line in text.split("\n"):
        line = line.rstrip("\r")
        stripped = line.strip(" \t")
        if stripped == "" or stripped[0] == "#":
            continue
        i, n = 0, len(line)
        while i < n and (line[i].isalnum() or line[i] in "_:") and line[i].isascii():
            i += 1
        name = line[:i]
        labels = {}
        if i < n and line[i] == "{":
            i += 1
            key, val, state = "", "", "key"
            while i < n:
                ch = line[i]
                if state == "key":
                    if ch == "}":
                        i += 1
                        break
                    if ch == "=":
                        state = "open"
                    elif ch not in " \t,":
                        key += ch
                elif state == "open":
                    if ch == '"':
                        state = "value"
                elif state == "value":
                    if ch == "\\":
                        i += 1
                        nxt = line[i]
                        val += {"n": "\n", "\\": "\\", '"': '"'}.get(nxt, "\\" + nxt)
                    elif ch == '"':
                        labels[key.strip()] = val
                        key, val, state = "", "", "key"
                    else:
                        val += ch
                i += 1
        tokens = line[i:].replace("\t", " ").split(" ")
        tokens = [t for t in tokens if t]
        result.append((name, labels, float(tokens[0])))
    return result


def histogram_buckets(samples, name: str, match: dict | None = None) -> dict:
    table, total, count = {}, 0.0, 0.0
    for sname, labels, value in samples:
        if match and any(k not in labels or labels[k] != v for k, v in match.items()):
            continue
        suffix = sname[len(name):] if sname.startswith(name) else None
        if suffix == "_bucket":
            le = float(labels["le"])
            table[le] = table.get(le, 0.0) + value
        elif suffix == "_sum":
            total += value
        elif suffix == "_count":
            count += value
    return {"buckets": sorted(table.items(), key=lambda kv: kv[0]), "sum": total, "count": count}


def histogram_quantile(q: float, buckets) -> float:
    if math.isnan(q):
        return math.nan
    if q < 0 or q > 1:
        return math.copysign(math.inf, q)
    bs = sorted(buckets, key=lambda b: b[0])
    if len(bs) < 2 or bs[-1][0] != math.inf or bs[-1][1] == 0:
        return math.nan
    rank = q * bs[-1][1]
    prev_bound, prev_count = 0.0, 0.0
    for i, (bound, cum) in enumerate(bs):
        if i == len(bs) - 1:
            return bs[-2][0]
        if cum >= rank:
            if i == 0 and bound <= 0:
                return bound
            width = cum - prev_count
            return prev_bound + (bound - prev_bound) * ((rank - prev_count) / width) if width else math.nan
        prev_bound, prev_count = bound, cum
    return math.nan
