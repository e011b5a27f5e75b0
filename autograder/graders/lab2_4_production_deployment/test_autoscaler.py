"""Hidden grader: the queue/latency autoscaler with step limits and cooldowns (Lab 2.4, notebook 03).

Decisions are compared with a model of the stated rules, written here, on hand-made and random traces:
ceil(queue / target), +1 on a p95 breach, clamp to [min, max], step limits, cooldowns from the last
change in either direction.
"""
from __future__ import annotations

import math

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from autograder.api import as_int, fail_with, points

EXERCISES = ["autoscaler"]
TIMEOUT_S = 120
TEST_TIMEOUT_S = 30
QUICK = dict(report_multiple_bugs=False, phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
             deadline=None)

BASE = dict(min_replicas=1, max_replicas=10, target_queue_per_replica=8, latency_slo_s=2.0,
            max_scale_out_step=2, max_scale_in_step=1, scale_out_cooldown_s=30.0, scale_in_cooldown_s=120.0)


class Model:
    def __init__(self, min_replicas, max_replicas, target_queue_per_replica, latency_slo_s,
                 max_scale_out_step, max_scale_in_step, scale_out_cooldown_s, scale_in_cooldown_s):
        self.lo, self.hi, self.target, self.slo = min_replicas, max_replicas, target_queue_per_replica, latency_slo_s
        self.out_step, self.in_step = max_scale_out_step, max_scale_in_step
        self.out_cd, self.in_cd = scale_out_cooldown_s, scale_in_cooldown_s
        self.last = None

    def decide(self, now, replicas, queue, p95):
        want = math.ceil(queue / self.target)
        if p95 is not None and p95 > self.slo:
            want = max(want, replicas + 1)
        want = min(max(want, self.lo), self.hi)
        want = min(max(want, replicas - self.in_step), replicas + self.out_step)
        since = math.inf if self.last is None else now - self.last
        if (want > replicas and since < self.out_cd) or (want < replicas and since < self.in_cd):
            want = replicas
        if want != replicas:
            self.last = now
        return want


def settings_text(cfg):
    diff = {k: v for k, v in cfg.items() if BASE.get(k) != v}
    return "Autoscaler(" + (", ".join(f"{k}={v}" for k, v in diff.items()) if diff else "<defaults of the exercise>") + ")"


def run_trace(student, cfg, trace, follow=True, start_replicas=None):
    """trace: list of (now, queue, p95) or (now, replicas, queue, p95). The replicas follow the decisions."""
    scaler = student.Autoscaler(**cfg)
    ref = Model(**cfg)
    replicas = start_replicas if start_replicas is not None else cfg["min_replicas"]
    history = []
    for step in trace:
        if len(step) == 4:
            now, replicas, queue, p95 = step
        else:
            now, queue, p95 = step
        call = f"decide(now={now:g}, replicas={replicas}, queue_depth={queue}, p95_latency_s={p95})"
        got = as_int(scaler.decide(now, replicas, queue, p95), call)
        want = ref.decide(now, replicas, queue, p95)
        history.append(call + f" -> {got}")
        if got != want:
            before = "; ".join(history[-4:-1])
            fail_with(f"{settings_text(cfg)}: {call} returned {got}, expected {want}"
                      + (f" (earlier calls: {before})" if before else ""))
        if follow:
            replicas = got
    return history


@points(2)
def test_queue_drives_replicas(student):
    """want = ceil(queue_depth / target_queue_per_replica), within the step limits"""
    cfg = dict(BASE, scale_out_cooldown_s=0.0, scale_in_cooldown_s=0.0, max_scale_out_step=10, max_scale_in_step=10)
    run_trace(student, cfg, [(0, 1, 0, None), (1, 1, 8, None), (2, 1, 9, None), (3, 2, 17, 0.5), (4, 3, 24, 1.0),
                             (5, 3, 25, 1.0), (6, 4, 0, None), (7, 5, 33, 0.1), (8, 2, 16, 2.0)], follow=False)


@points(1)
def test_latency_breach_adds_a_replica(student):
    """a p95 above the SLO asks for at least one more replica; equal to the SLO or None does not"""
    cfg = dict(BASE, scale_out_cooldown_s=0.0, scale_in_cooldown_s=0.0)
    run_trace(student, cfg, [(0, 3, 8, 2.5), (1, 3, 8, 2.0), (2, 4, 40, 9.0), (3, 4, 0, None), (4, 4, 0, 2.0001),
                             (5, 2, 24, 3.0)], follow=False)


@points(2)
def test_bounds_and_step_limits(student):
    """never outside [min, max]; at most max_scale_out_step up and max_scale_in_step down per call"""
    cfg = dict(BASE, min_replicas=2, max_replicas=6, scale_out_cooldown_s=0.0, scale_in_cooldown_s=0.0)
    run_trace(student, cfg, [(0, 2, 1000, None), (1, 6, 1000, 9.0), (2, 6, 0, None), (3, 2, 0, None),
                             (4, 3, 40, None), (5, 5, 0, 0.1)], follow=False)
    cfg = dict(BASE, max_scale_out_step=3, max_scale_in_step=2, scale_out_cooldown_s=0.0, scale_in_cooldown_s=0.0)
    run_trace(student, cfg, [(0, 80, None), (1, 80, None), (2, 80, None), (3, 0, None), (4, 0, None),
                             (5, 0, None), (6, 0, None)])


@points(2)
def test_cooldowns(student):
    """cooldowns count from the last change in either direction; at exactly the cooldown it may scale"""
    cfg = dict(BASE)   # out 30 s, in 120 s
    # scale out at 0; blocked at 29; allowed at 30; scale-in blocked until 150; out again blocked by the change at 150
    run_trace(student, cfg, [(0, 40, None), (29, 40, None), (30, 40, None), (60, 40, None), (100, 0, None),
                             (149, 0, None), (150, 0, None), (170, 80, None), (180, 80, None), (200, 0, None)])
    # the first change of a fresh autoscaler is not blocked, even at now = 0 or a negative clock
    run_trace(student, cfg, [(5.0, 3, 0, None)], follow=False)
    run_trace(student, dict(cfg, scale_in_cooldown_s=10.0), [(-50.0, 30, None), (-45.0, 0, None), (-40.0, 0, None)])


traces = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 120), st.one_of(st.none(), st.integers(0, 40).map(lambda x: x / 10))),
                  min_size=1, max_size=30)
configs = st.fixed_dictionaries(dict(
    min_replicas=st.integers(1, 3), max_replicas=st.integers(3, 12), target_queue_per_replica=st.sampled_from([4, 8, 10, 2.5]),
    latency_slo_s=st.sampled_from([1.0, 2.0]), max_scale_out_step=st.integers(1, 4), max_scale_in_step=st.integers(1, 3),
    scale_out_cooldown_s=st.sampled_from([0.0, 15.0, 30.0, 60.0]), scale_in_cooldown_s=st.sampled_from([0.0, 60.0, 120.0, 300.0])))


@points(2)
@settings(max_examples=100, **QUICK)
@given(cfg=configs, steps=traces)
def test_random_traces(student, cfg, steps):
    """decisions on random traces (replicas follow the decisions) match the stated rules"""
    now, trace = 0.0, []
    for dt, queue, p95 in steps:
        now += dt
        trace.append((now, queue, p95))
    run_trace(student, cfg, trace)


@points(1)
def test_rejects_bad_settings_and_calls(student):
    """ValueError for impossible settings, replicas outside [min, max] and a negative queue"""
    for bad, why in [(dict(BASE, min_replicas=0), "min_replicas < 1"), (dict(BASE, min_replicas=5, max_replicas=4), "max < min"),
                     (dict(BASE, target_queue_per_replica=0), "target 0"), (dict(BASE, max_scale_in_step=0), "a step of 0"),
                     (dict(BASE, scale_out_cooldown_s=-1.0), "a negative cooldown")]:
        try:
            student.Autoscaler(**bad)
        except ValueError:
            continue
        except Exception as exc:
            fail_with(f"Autoscaler with {why} raised {type(exc).__name__}; expected ValueError")
        fail_with(f"Autoscaler with {why} ({settings_text(bad)}) did not raise ValueError")
    scaler = student.Autoscaler(**BASE)
    for args, why in [((0.0, 0, 5, None), "replicas 0 < min_replicas 1"), ((0.0, 11, 5, None), "replicas 11 > max_replicas 10"),
                      ((0.0, 2, -1, None), "a negative queue depth")]:
        try:
            scaler.decide(*args)
        except ValueError:
            continue
        except Exception as exc:
            fail_with(f"decide{args} raised {type(exc).__name__}; expected ValueError ({why})")
        fail_with(f"decide{args} did not raise ValueError ({why})")
