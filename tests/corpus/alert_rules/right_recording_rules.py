# recording rules for the ratios, alerts on the recorded series, 5xx as code=~"5.*"

def alert_rules(objective, latency_threshold_s, job="llm-server"):
    windows = ["5m", "30m", "1h", "6h"]
    rec = [{"record": f"job:llm_error_ratio:rate{w}",
            "expr": f'sum(rate(llm_requests_total{{code=~"5.*",job="{job}"}}[{w}])) / '
                    f'sum(rate(llm_requests_total{{job="{job}"}}[{w}]))',
            "labels": {"job": job}} for w in windows]

    def cond(w, factor):
        return f'job:llm_error_ratio:rate{w}{{job="{job}"}} > ({factor} * (1 - {objective}))'

    alerts = [
        {"alert": "LLMErrorBudgetFastBurn", "expr": cond("1h", 14.4) + " and " + cond("5m", 14.4), "for": "2m",
         "labels": {"severity": "page"}, "annotations": {"summary": "fast error budget burn"}},
        {"alert": "LLMErrorBudgetSlowBurn", "expr": cond("6h", 6) + " and " + cond("30m", 6), "for": "15m",
         "labels": {"severity": "ticket"}, "annotations": {"summary": "slow error budget burn"}},
        {"alert": "LLMLatencyP95High",
         "expr": f'histogram_quantile(0.95, sum(rate(llm_request_duration_seconds_bucket{{job="{job}"}}[5m])) by (le))'
                 f' > {latency_threshold_s}',
         "for": "10m", "labels": {"severity": "page"}, "annotations": {"summary": "p95 latency above the threshold"}},
    ]
    return {"groups": [{"name": "llm-slo", "rules": rec + alerts}]}
