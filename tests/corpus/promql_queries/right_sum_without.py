# sum without (...) listing every label but le; max by () for the gauge; =~ with the exact (regex-escaped) name.
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
    if model is not None:                           # =~ with the whole name regex-escaped (PromQL anchors regexes)
        import re
        sel = '{model_name=~"%s"}' % re.escape(model).replace("\\", "\\\\")
    return {
        # every label but none: one series
        "request_rate": f"sum without (instance, job, engine, model_name, finished_reason) (rate(vllm:request_success_total{sel}[{window}]))",
        # every label but le
        "ttft_quantile": f"histogram_quantile({quantile}, sum without (instance, job, engine, model_name) "
                         f"(rate(vllm:time_to_first_token_seconds_bucket{sel}[{window}])))",
        # max by () is max
        "kv_cache_usage": f"max by () (vllm:kv_cache_usage_perc{sel})",
    }
