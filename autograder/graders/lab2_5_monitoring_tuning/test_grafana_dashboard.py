"""Hidden grader: a Grafana dashboard generated from code (Lab 2.5, notebook 01).

Layout rule (checked against a model written here): panels are placed in order, left to right; a panel
that does not fit in what is left of the current row starts a new row at x=0, y = current row's y + the
height of the tallest panel of the current row. ids 1..n in order, refIds A, B, ... per panel, every panel
and target uses the Prometheus datasource; w outside 1..columns, h < 1 or an unknown kind raise ValueError.
"""
from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.api import as_int, fail_with, points

EXERCISES = ["grafana_dashboard"]
TIMEOUT_S = 90
TEST_TIMEOUT_S = 30

SPECS = [
    {"title": "Request rate", "expr": "sum(rate(labkit_requests_total[1m]))", "kind": "timeseries", "w": 12, "h": 8,
     "unit": "reqps"},
    {"title": "TTFT", "expr": ["histogram_quantile(0.5, sum by (le) (rate(x_bucket[1m])))",
                               "histogram_quantile(0.95, sum by (le) (rate(x_bucket[1m])))"],
     "kind": "timeseries", "w": 12, "h": 6, "unit": "s"},
    {"title": "KV cache", "expr": "max(labkit_kv_cache_usage_ratio)", "kind": "gauge", "w": 8, "h": 4,
     "unit": "percentunit"},
    {"title": "Running", "expr": "sum(labkit_num_requests_running)", "kind": "stat", "w": 8, "h": 5},
    {"title": "Wide", "expr": "up", "kind": "timeseries", "w": 24, "h": 3},
]


def layout(specs, columns=24):
    x = y = row_h = 0
    out = []
    for s in specs:
        if x + s["w"] > columns:
            x, y, row_h = 0, y + row_h, 0
        out.append((x, y, s["w"], s["h"]))
        x, row_h = x + s["w"], max(row_h, s["h"])
    return out


def build(student, specs, columns=24):
    call = f"grafana_dashboard('t', <{len(specs)} panel specs>, columns={columns})"
    d = student.grafana_dashboard("t", [dict(s) for s in specs], columns=columns)
    try:
        d = json.loads(json.dumps(d))
    except (TypeError, ValueError) as e:
        fail_with(f"{call} is not JSON-serialisable ({e}); Grafana imports JSON")
    if not isinstance(d, dict) or not isinstance(d.get("panels"), list):
        fail_with(f"{call} should return a dict with a 'panels' list")
    if len(d["panels"]) != len(specs):
        fail_with(f"{call} has {len(d['panels'])} panels; expected {len(specs)}")
    return call, d


def grid(call, d):
    out = []
    for i, p in enumerate(d["panels"]):
        g = p.get("gridPos")
        if not isinstance(g, dict):
            fail_with(f"{call}: panel {i} has no gridPos dict")
        out.append(tuple(as_int(g.get(k), f"{call}: panels[{i}]['gridPos'][{k!r}]") for k in "xywh"))
    return out


@points(2)
def test_panels_and_targets(student):
    """one panel per spec: ids 1..n, title, type, unit, one target per expression with refIds A, B, ..."""
    call, d = build(student, SPECS)
    if not isinstance(d.get("title"), str) or not isinstance(d.get("schemaVersion"), int):
        fail_with(f"{call} needs a 'title' string and an integer 'schemaVersion'")
    for i, (p, s) in enumerate(zip(d["panels"], SPECS)):
        if p.get("id") != i + 1 or p.get("title") != s["title"] or p.get("type") != s["kind"]:
            fail_with(f"{call}: panels[{i}] has id={p.get('id')!r}, title={p.get('title')!r}, type={p.get('type')!r}; "
                      f"expected id={i + 1}, title={s['title']!r}, type={s['kind']!r}")
        exprs = [s["expr"]] if isinstance(s["expr"], str) else s["expr"]
        targets = p.get("targets") or []
        got = [(t.get("refId"), t.get("expr")) for t in targets]
        want = [(chr(ord("A") + j), e) for j, e in enumerate(exprs)]
        if got != want:
            fail_with(f"{call}: panels[{i}] targets are {got}; expected {want}")
        unit = (p.get("fieldConfig") or {}).get("defaults", {}).get("unit")
        if unit != s.get("unit", "short"):
            fail_with(f"{call}: panels[{i}] fieldConfig.defaults.unit is {unit!r}; expected {s.get('unit', 'short')!r}")


@points(1)
def test_prometheus_datasource(student):
    """every panel and every target uses the Prometheus datasource"""
    call, d = build(student, SPECS)
    for i, p in enumerate(d["panels"]):
        for where, ds in [("panel", p.get("datasource"))] + [("target", t.get("datasource")) for t in p["targets"]]:
            if not isinstance(ds, dict) or ds.get("type") != "prometheus":
                fail_with(f"{call}: a {where} of panels[{i}] has datasource {ds!r}; expected "
                          "{'type': 'prometheus', 'uid': ...}")


@points(2)
def test_row_layout(student):
    """panels flow left to right and wrap under the tallest panel of the row"""
    call, d = build(student, SPECS)
    got, want = grid(call, d), layout(SPECS)
    if got != want:
        fail_with(f"{call}: gridPos (x, y, w, h) are {got}; expected {want}")
    call, d = build(student, SPECS[2:4] * 2, columns=12)
    got, want = grid(call, d), layout(SPECS[2:4] * 2, 12)
    if got != want:
        fail_with(f"{call}: gridPos (x, y, w, h) are {got}; expected {want} on a {12}-column grid")


@points(1)
def test_rejects_bad_specs(student):
    """w outside 1..columns, h < 1 or an unknown panel kind raise ValueError"""
    bad = [dict(SPECS[0], w=25), dict(SPECS[0], w=0), dict(SPECS[0], h=0), dict(SPECS[0], kind="piechart")]
    for s in bad:
        try:
            student.grafana_dashboard("t", [s])
        except ValueError:
            continue
        except Exception as e:
            fail_with(f"grafana_dashboard('t', [{{w={s['w']}, h={s['h']}, kind={s['kind']!r}}}]) raised "
                      f"{type(e).__name__}; expected ValueError")
        fail_with(f"grafana_dashboard('t', [{{w={s['w']}, h={s['h']}, kind={s['kind']!r}}}]) returned; expected ValueError")


@points(2)
@settings(max_examples=100, deadline=None)
@given(sizes=st.lists(st.tuples(st.integers(1, 24), st.integers(1, 10)), min_size=1, max_size=12))
def test_random_layouts_never_overlap(student, sizes):
    """any sizes: the layout follows the rule, stays inside the grid and no two panels overlap"""
    specs = [{"title": f"p{i}", "expr": "up", "kind": "stat", "w": w, "h": h} for i, (w, h) in enumerate(sizes)]
    call, d = build(student, specs)
    got = grid(call, d)
    cells = {}
    for i, (x, y, w, h) in enumerate(got):
        if x < 0 or x + w > 24:
            fail_with(f"{call}: panels[{i}] at x={x}, w={w} leaves the 24-column grid")
        for cx in range(x, x + w):
            for cy in range(y, y + h):
                if (cx, cy) in cells:
                    fail_with(f"{call}: panels[{i}] overlaps panels[{cells[(cx, cy)]}] at ({cx}, {cy})")
                cells[(cx, cy)] = i
    if got != layout(specs):
        fail_with(f"{call}: gridPos (x, y, w, h) are {got}; expected {layout(specs)}")
