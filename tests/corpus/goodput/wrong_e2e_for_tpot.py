# uses (finish - arrival) / (n - 1) as TPOT
def goodput(requests: list[dict], duration_s: float, ttft_slo_s: float, tpot_slo_s: float) -> float:
    """Requests per second that met BOTH SLOs.

    Each request is a dict with "arrival", "first_token_time", "finish_time" (seconds, one clock;
    first_token_time / finish_time are None when the request did not finish) and "num_output_tokens".
    A finished request is good when  ttft = first_token_time - arrival <= ttft_slo_s  and, if it has
    at least 2 output tokens,  tpot = (finish_time - first_token_time) / (num_output_tokens - 1) <= tpot_slo_s
    (a 1-token request has no TPOT and only needs the TTFT SLO). Unfinished requests are never good.
    Returns (number of good requests) / duration_s; duration_s <= 0 -> ValueError.
    """
    if duration_s <= 0:
        raise ValueError(f"duration_s must be positive, got {duration_s}")
    good = 0
    for r in requests:
        if r["first_token_time"] is None or r["finish_time"] is None:
            continue
        if r["first_token_time"] - r["arrival"] > ttft_slo_s:
            continue
        n = r["num_output_tokens"]
        if n >= 2 and (r["finish_time"] - r["arrival"]) / (n - 1) > tpot_slo_s:
            continue
        good += 1
    return good / duration_s
