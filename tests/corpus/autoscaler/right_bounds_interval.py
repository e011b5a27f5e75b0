# intersects the [min, max] and step intervals first; -inf sentinel for the last change

import math


class Autoscaler:
    def __init__(self, *, min_replicas, max_replicas, target_queue_per_replica, latency_slo_s,
                 max_scale_out_step=2, max_scale_in_step=1, scale_out_cooldown_s=30.0, scale_in_cooldown_s=120.0):
        problems = [min_replicas < 1, max_replicas < min_replicas, target_queue_per_replica <= 0,
                    max_scale_out_step < 1, max_scale_in_step < 1, scale_out_cooldown_s < 0, scale_in_cooldown_s < 0]
        if any(problems):
            raise ValueError("invalid autoscaler settings")
        self.cfg = dict(lo=min_replicas, hi=max_replicas, per=target_queue_per_replica, slo=latency_slo_s,
                        up=max_scale_out_step, down=max_scale_in_step, cd_up=scale_out_cooldown_s,
                        cd_down=scale_in_cooldown_s)
        self._last = -math.inf

    def decide(self, now, replicas, queue_depth, p95_latency_s):
        c = self.cfg
        if replicas < c["lo"] or replicas > c["hi"] or queue_depth < 0:
            raise ValueError("bad observation")
        lo = max(c["lo"], replicas - c["down"])
        hi = min(c["hi"], replicas + c["up"])
        target = -(-queue_depth // c["per"]) if isinstance(c["per"], int) and isinstance(queue_depth, int) \
            else math.ceil(queue_depth / c["per"])
        if p95_latency_s is not None and p95_latency_s > c["slo"] and target <= replicas:
            target = replicas + 1
        target = max(lo, min(hi, int(target)))
        elapsed = now - self._last
        if target > replicas and elapsed < c["cd_up"]:
            return replicas
        if target < replicas and elapsed < c["cd_down"]:
            return replicas
        if target != replicas:
            self._last = now
        return target
