# explicit scale-out / scale-in branches with a history of changes

import math


class Autoscaler:
    def __init__(self, *, min_replicas, max_replicas, target_queue_per_replica, latency_slo_s,
                 max_scale_out_step=2, max_scale_in_step=1, scale_out_cooldown_s=30.0, scale_in_cooldown_s=120.0):
        if not 1 <= min_replicas <= max_replicas:
            raise ValueError("min/max replicas")
        if not target_queue_per_replica > 0:
            raise ValueError("target")
        if min(max_scale_out_step, max_scale_in_step) < 1 or min(scale_out_cooldown_s, scale_in_cooldown_s) < 0:
            raise ValueError("steps/cooldowns")
        self.min, self.max = min_replicas, max_replicas
        self.target, self.slo = target_queue_per_replica, latency_slo_s
        self.out_step, self.in_step = max_scale_out_step, max_scale_in_step
        self.out_cd, self.in_cd = scale_out_cooldown_s, scale_in_cooldown_s
        self.changes = []

    def _cool(self, now, cooldown):
        return not self.changes or now - self.changes[-1][0] >= cooldown

    def decide(self, now, replicas, queue_depth, p95_latency_s):
        if not self.min <= replicas <= self.max:
            raise ValueError("replicas out of range")
        if queue_depth < 0:
            raise ValueError("queue depth")
        desired = math.ceil(queue_depth / self.target)
        breach = p95_latency_s is not None and p95_latency_s > self.slo
        if breach:
            desired = max(desired, replicas + 1)
        desired = max(self.min, min(self.max, desired))
        if desired > replicas:
            new = min(desired, replicas + self.out_step)
            if not self._cool(now, self.out_cd):
                return replicas
        elif desired < replicas:
            new = max(desired, replicas - self.in_step)
            if not self._cool(now, self.in_cd):
                return replicas
        else:
            return replicas
        self.changes.append((now, replicas, new))
        return new
