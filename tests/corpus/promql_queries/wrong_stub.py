# The released stub: every test fails.
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
    # YOUR CODE HERE
    raise NotImplementedError()
