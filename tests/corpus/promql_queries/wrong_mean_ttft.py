# The mean TTFT from _sum / _count instead of the quantile from the buckets.
def promql_queries(window: str = "1m", quantile: float = 0.95, model: str | None = None) -> dict[str, str]:
    """PromQL for three SLO panels over every scraped instance of a vLLM-compatible server.

    The job, instance and engine labels are aggregated away: each query returns exactly one series.
      "request_rate":   finished requests per second over `window`
                        (counter vllm:request_success_total, all finished_reason values)
      "ttft_quantile":  the `quantile` of time to first token over `window`,
                        from the histogram vllm:time_to_first_token_seconds
      "kv_cache_usage": the highest current vllm:kv_cache_usage_perc among the instances
    model: when given, only the series whose model_name label equals it.
    """
    sel = ""
    if model is not None:                           # an exact match (=), escaped as a PromQL string
        sel = '{model_name="%s"}' % model.replace("\\", "\\\\").replace('"', '\\"')
    return {
        # rate() per series first (it detects counter resets), then add the series up
        "request_rate": f"sum(rate(vllm:request_success_total{sel}[{window}]))",
        # the buckets' rates over the window, added up per upper bound (keep le!), then the quantile
        "ttft_quantile": f"sum(rate(vllm:time_to_first_token_seconds_sum{sel}[{window}])) / "
                         f"sum(rate(vllm:time_to_first_token_seconds_count{sel}[{window}]))",
        # a gauge: the fullest instance is the one that starts queueing first
        "kv_cache_usage": f"max(vllm:kv_cache_usage_perc{sel})",
    }
