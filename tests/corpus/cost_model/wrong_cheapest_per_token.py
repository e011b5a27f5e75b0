# picks the lowest price per token, ignoring whole replicas
"""Cost per million output tokens, and the cheapest way to serve a demand.

`cost_per_million_tokens(tokens_per_s, gpus, usd_per_gpu_hour, utilization=1.0)`: a replica of `gpus`
GPUs that produces `tokens_per_s` tokens per second while busy, and is busy a fraction `utilization`
(0 < utilization <= 1) of the time it is paid for, costs
    usd_per_gpu_hour * gpus / (tokens_per_s * utilization * 3600) * 1_000_000   dollars per 1M tokens.
ValueError when tokens_per_s <= 0, gpus < 1, usd_per_gpu_hour < 0 or utilization outside (0, 1].

`cheapest_option(options, demand_tokens_per_s, utilization=1.0)`: `options` is a list of dicts with keys
"name", "tokens_per_s" (of one replica), "gpus" (per replica) and "usd_per_gpu_hour". For each option,
replicas = ceil(demand_tokens_per_s / (tokens_per_s * utilization)) (at least 1), and
usd_per_hour = replicas * gpus * usd_per_gpu_hour. Returns a dict {"name", "replicas", "usd_per_hour"}
of the option with the lowest usd_per_hour; ties go to the option listed first. ValueError for an empty
list or demand_tokens_per_s <= 0.
"""


def cost_per_million_tokens(tokens_per_s, gpus, usd_per_gpu_hour, utilization=1.0):
    if tokens_per_s <= 0 or gpus < 1 or usd_per_gpu_hour < 0 or not 0 < utilization <= 1:
        raise ValueError("need tokens_per_s > 0, gpus >= 1, usd_per_gpu_hour >= 0, 0 < utilization <= 1")
    return usd_per_gpu_hour * gpus / (tokens_per_s * utilization * 3600) * 1_000_000


def cheapest_option(options, demand_tokens_per_s, utilization=1.0):
    if not options or demand_tokens_per_s <= 0:
        raise ValueError("need at least one option and a positive demand")
    best = None
    for opt in options:
        replicas = max(1, math.ceil(demand_tokens_per_s / (opt["tokens_per_s"] * utilization)))
        usd = replicas * opt["gpus"] * opt["usd_per_gpu_hour"]
        per_token = opt["gpus"] * opt["usd_per_gpu_hour"] / opt["tokens_per_s"]
        if best is None or per_token < best["_pt"]:
            best = {"name": opt["name"], "replicas": replicas, "usd_per_hour": usd, "_pt": per_token}
    best.pop("_pt")
    return best
