# a generator with helper predicates
def goodput(requests, duration_s, ttft_slo_s, tpot_slo_s):
    if not duration_s > 0:
        raise ValueError("duration")

    def ok(r):
        first, fin = r.get("first_token_time"), r.get("finish_time")
        if first is None or fin is None:
            return False
        if not first - r["arrival"] <= ttft_slo_s:
            return False
        n = r["num_output_tokens"]
        return n < 2 or (fin - first) / (n - 1) <= tpot_slo_s

    return sum(1 for r in requests if ok(r)) / duration_s
