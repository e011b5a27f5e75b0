# fires when either window is above the threshold
"""Prometheus alerting rules for the LLM service's SLO, generated from code.

The service exports (Lab 2.3 / 2.5) a counter ``llm_requests_total{job, code}`` (``code``: the HTTP
status) and a histogram ``llm_request_duration_seconds{job}`` (``_bucket{le}``, ``_sum``, ``_count``).
``alert_rules`` returns the rule file as a dict (``yaml.safe_dump`` of it is what Prometheus reads):
one group ``llm-slo`` with three alerts, each with ``expr``, ``for``, ``labels: {severity}`` and
``annotations: {summary}``:

* ``LLMErrorBudgetFastBurn`` (severity ``page``, for ``2m``): the 5xx ratio over **1h and over 5m**
  both above ``14.4 * (1 - objective)`` (burning 2 % of a 30-day budget in one hour)
* ``LLMErrorBudgetSlowBurn`` (severity ``ticket``, for ``15m``): over **6h and over 30m** both above
  ``6 * (1 - objective)`` (5 % of the budget in six hours)
* ``LLMLatencyP95High`` (severity ``page``, for ``10m``): ``histogram_quantile(0.95, ...)`` of the
  latency over 5m above ``latency_threshold_s``

Every expression selects ``job="<job>"``; the ratio is 5xx requests / all requests.
"""


def alert_rules(objective, latency_threshold_s, job="llm-server"):
    budget = 1 - objective
    sel = f'job="{job}"'

    def ratio(window):
        return (f'sum(rate(llm_requests_total{{{sel},code=~"5.."}}[{window}]))'
                f' / sum(rate(llm_requests_total{{{sel}}}[{window}]))')

    def burn(long, short, factor):
        threshold = factor * budget
        return f"({ratio(long)}) > {threshold!r} or ({ratio(short)}) > {threshold!r}"

    p95 = f"histogram_quantile(0.95, sum by (le) (rate(llm_request_duration_seconds_bucket{{{sel}}}[5m])))"
    return {"groups": [{"name": "llm-slo", "rules": [
        {"alert": "LLMErrorBudgetFastBurn", "expr": burn("1h", "5m", 14.4), "for": "2m",
         "labels": {"severity": "page"},
         "annotations": {"summary": f"{job}: 5xx ratio burns the {objective:.4%} SLO budget 14.4x too fast (1h and 5m)"}},
        {"alert": "LLMErrorBudgetSlowBurn", "expr": burn("6h", "30m", 6), "for": "15m",
         "labels": {"severity": "ticket"},
         "annotations": {"summary": f"{job}: 5xx ratio burns the {objective:.4%} SLO budget 6x too fast (6h and 30m)"}},
        {"alert": "LLMLatencyP95High", "expr": f"{p95} > {latency_threshold_s!r}", "for": "10m",
         "labels": {"severity": "page"},
         "annotations": {"summary": f"{job}: p95 latency above {latency_threshold_s} s for 10 minutes"}},
    ]}]}
