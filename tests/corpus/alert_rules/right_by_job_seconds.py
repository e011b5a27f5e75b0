# keeps the job label (sum by (job), on (job)) and writes 'for' in seconds

def alert_rules(objective, latency_threshold_s, job="llm-server"):
    err = 1.0 - objective

    def ratio(w):
        return (f'sum by (job) (rate(llm_requests_total{{job="{job}", code=~"5.."}}[{w}])) '
                f'/ on (job) sum by (job) (rate(llm_requests_total{{job="{job}"}}[{w}]))')

    def burn(name, long, short, factor, severity, for_s):
        t = factor * err
        return {"alert": name, "expr": f"{ratio(long)} > {t} and on (job) {ratio(short)} > {t}", "for": f"{for_s}s",
                "labels": {"severity": severity, "slo": "availability"},
                "annotations": {"summary": f"burn rate above {factor} over {long} and {short}",
                                "runbook_url": "https://runbooks.example/llm"}}

    latency = {"alert": "LLMLatencyP95High",
               "expr": (f'histogram_quantile(0.95, sum by (job, le) (rate(llm_request_duration_seconds_bucket'
                        f'{{job="{job}"}}[5m]))) > {latency_threshold_s}'),
               "for": "600s", "labels": {"severity": "page"}, "annotations": {"summary": "p95 latency too high"}}
    return {"groups": [{"name": "llm-slo", "interval": "30s", "rules": [
        burn("LLMErrorBudgetFastBurn", "1h", "5m", 14.4, "page", 120),
        burn("LLMErrorBudgetSlowBurn", "6h", "30m", 6, "ticket", 900),
        latency]}]}
