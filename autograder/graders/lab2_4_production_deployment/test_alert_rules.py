"""Hidden grader: SLO burn-rate and latency alerts as a Prometheus rule file (Lab 2.4, notebook 03).

The student's rule file is checked by the real tools: ``promtool check rules`` (syntax, PromQL) and
``promtool test rules`` (the rules evaluated over synthetic series; which alerts fire is read from the
``ALERTS`` series, so the wording of labels from the expressions and of annotations does not matter).
promtool comes with the Debian package ``prometheus``.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

from autograder.api import fail_with, points

EXERCISES = ["alert_rules"]
TIMEOUT_S = 120
TEST_TIMEOUT_S = 40
MEMORY_MB = 4096

JOB = "llm-api"
OBJECTIVE = 0.999
THRESHOLD = 0.5
NAMES = ("LLMErrorBudgetFastBurn", "LLMErrorBudgetSlowBurn", "LLMLatencyP95High")
SPEC = {"LLMErrorBudgetFastBurn": ("page", 120), "LLMErrorBudgetSlowBurn": ("ticket", 900),
        "LLMLatencyP95High": ("page", 600)}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        fail_with("promtool is not installed on the grading host (Debian package 'prometheus'); "
                  "ask the course staff: this is not your fault")
    return path


def rule_file(student, objective=OBJECTIVE, threshold=THRESHOLD, job=JOB):
    call = f"alert_rules({objective}, {threshold}, job={job!r})"
    out = student.alert_rules(objective, threshold, job=job)
    if not isinstance(out, dict):
        fail_with(f"{call} returned {type(out).__name__}, expected a dict (the rule file)")
    try:
        text = yaml.safe_dump(out, sort_keys=False)
    except Exception as exc:
        fail_with(f"yaml.safe_dump({call}) failed ({type(exc).__name__}): use plain dicts, lists, str and numbers")
    return call, out, text


def alerts_of(call, out):
    groups = out.get("groups")
    if not isinstance(groups, list) or not groups:
        fail_with(f"{call} should have a non-empty list under 'groups'")
    rules = {}
    for g in groups:
        for r in (g.get("rules") or []) if isinstance(g, dict) else []:
            if isinstance(r, dict) and "alert" in r:
                rules[r["alert"]] = r
    missing = [n for n in NAMES if n not in rules]
    if missing:
        fail_with(f"{call} has no alerting rule named {missing} (found {sorted(rules)})")
    return rules


def duration_s(text) -> float | None:
    m = re.fullmatch(r"((\d+)h)?((\d+)m)?((\d+)s)?", str(text).strip())
    if not m or not text:
        return None
    return int(m.group(2) or 0) * 3600 + int(m.group(4) or 0) * 60 + int(m.group(6) or 0)


def run_promtool(args, cwd):
    proc = subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def check_rules(text):
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "rules.yml").write_text(text)
        return run_promtool(["check", "rules", "rules.yml"], tmp)


def stripped(out):
    """The rule file without annotations (free text) for the unit tests."""
    groups = []
    for g in out["groups"]:
        rules = [{k: v for k, v in r.items() if k != "annotations"} for r in g.get("rules") or []]
        groups.append({**{k: v for k, v in g.items() if k != "rules"}, "rules": rules})
    return {"groups": groups}


def counter(code, values):
    return {"series": f'llm_requests_total{{job="{JOB}",code="{code}",instance="a:8000"}}', "values": values}


def traffic(per_min_ok, per_min_err, minutes, err_from=0, err_until=None):
    """Series for minutes of traffic: per_min_ok 200s and per_min_err 503s per minute (errors only in a span)."""
    err_until = minutes if err_until is None else err_until
    ok, err, a, b = [], [], 0, 0
    for m in range(minutes + 1):
        ok.append(a)
        err.append(b)
        a += per_min_ok
        b += per_min_err if err_from <= m < err_until else 0
    return [counter("200", " ".join(map(str, ok))), counter("503", " ".join(map(str, err))),
            counter("other-job-errors", "0+1000x%d" % minutes) | {"series": 'llm_requests_total{job="other",code="500"}'}]


BUCKETS = ["0.1", "0.25", "0.5", "1", "2.5", "+Inf"]


def latency(minutes, fast_per_min, slow_per_min, slow_from=0):
    """Histogram series: fast requests land in (0.1, 0.25], slow ones in (1, 2.5] (from slow_from on)."""
    series = []
    for le in BUCKETS:
        vals, total = [], 0
        for m in range(minutes + 1):
            vals.append(total)
            if le not in ("0.1",):
                total += fast_per_min
            if le in ("2.5", "+Inf") and m >= slow_from:
                total += slow_per_min
        series.append({"series": f'llm_request_duration_seconds_bucket{{job="{JOB}",le="{le}"}}',
                       "values": " ".join(map(str, vals))})
    return series


def fires(student, scenario, series, at_min, expect, threshold=THRESHOLD):
    call, out, _ = rule_file(student, threshold=threshold)
    rules = stripped(out)
    tests = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m", "input_series": series,
        "promql_expr_test": [{"expr": 'count by (alertname) (ALERTS{alertstate="firing"})', "eval_time": f"{at_min}m",
                              "exp_samples": [{"labels": f'{{alertname="{n}"}}', "value": 1} for n in sorted(expect)]}]}]}
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "rules.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
        Path(tmp, "test.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
        code, text = run_promtool(["test", "rules", "test.yml"], tmp)
    if code != 0:
        got = re.findall(r'alertname="(\w+)"', text.split("got:", 1)[1]) if "got:" in text else None
        detail = f"the firing alerts were {sorted(set(got))}" if got is not None else "promtool said: " + text[-600:]
        fail_with(f"{call}, {scenario}: after {at_min} min expected exactly {sorted(expect) or 'no alert'} "
                  f"firing; {detail}")


@points(2)
def test_rule_file_passes_promtool_check(student):
    """the rule file is valid for promtool check rules and has the three alerts"""
    for objective, threshold, job in [(OBJECTIVE, THRESHOLD, JOB), (0.99, 1.5, "chat")]:
        call, out, text = rule_file(student, objective, threshold, job)
        alerts_of(call, out)
        code, msg = check_rules(text)
        if code != 0:
            fail_with(f"promtool check rules rejected {call}: {msg[-800:]}")


@points(1)
def test_severity_for_and_summary(student):
    """severity labels, 'for' durations and a summary annotation on every alert"""
    call, out, _ = rule_file(student)
    rules = alerts_of(call, out)
    for name, (severity, for_s) in SPEC.items():
        r = rules[name]
        sev = (r.get("labels") or {}).get("severity")
        if sev != severity:
            fail_with(f"{call}: {name} has labels.severity {sev!r}, expected {severity!r}")
        got = duration_s(r.get("for", ""))
        if got != for_s:
            fail_with(f"{call}: {name} has for: {r.get('for')!r}, expected {for_s // 60}m")
        summary = (r.get("annotations") or {}).get("summary")
        if not isinstance(summary, str) or not summary.strip():
            fail_with(f"{call}: {name} needs a non-empty annotations.summary")
        if f'job="{JOB}"' not in str(r.get("expr", "")).replace("'", '"').replace(" ", ""):
            fail_with(f"{call}: the expression of {name} should select job=\"{JOB}\"")


@points(2)
def test_fast_burn(student):
    """the fast burn alert needs the 1h and the 5m windows both above 14.4x the budget"""
    fires(student, "2% of requests failing for 2 h (burn rate 20)", traffic(98, 2, 120), 120,
          {"LLMErrorBudgetFastBurn", "LLMErrorBudgetSlowBurn"})
    fires(student, "a 5-minute burst of 10% errors after 2 h without errors (1h ratio 0.8%)",
          traffic(90, 10, 125, err_from=120), 125, set())
    fires(student, "5% errors for 1 h, then 10 min without errors (the 5m window has recovered, the 30m not yet)",
          traffic(95, 5, 70, err_until=60), 70, {"LLMErrorBudgetSlowBurn"})
    fires(student, "0.2% errors and 5% 429 (rate limited, not an error) for 2 h (burn rate 2, below both thresholds)",
          traffic(998, 2, 120) + [counter("429", "0+50x120")], 120, set())


@points(1)
def test_slow_burn(student):
    """the slow burn alert: 6h and 30m both above 6x the budget (a ticket, not a page)"""
    fires(student, "0.8% errors for 3 h (burn rate 8: slow burn only)", traffic(992, 8, 180), 180,
          {"LLMErrorBudgetSlowBurn"})
    fires(student, "0.8% errors for 3 h then 40 min without errors (the 30m window has recovered)",
          traffic(992, 8, 220, err_until=180), 220, set())


@points(2)
def test_latency_p95(student):
    """the latency alert fires when the p95 (not the mean or p99) stays above the threshold for 10 min"""
    fires(student, "10% of requests take 1-2.5 s from minute 20 on", latency(60, 90, 10, slow_from=20), 60,
          {"LLMLatencyP95High"})
    fires(student, "3% of requests take 1-2.5 s (the p99 is slow, the p95 is fine)", latency(60, 97, 3), 60, set())
    fires(student, "10% of requests slow, but only for the last 8 minutes", latency(60, 90, 10, slow_from=52), 60, set())
    fires(student, "10% of requests take 1-2.5 s from minute 20 on (p95 about 1.75 s)",
          latency(60, 90, 10, slow_from=20), 60, set(), threshold=2.0)
