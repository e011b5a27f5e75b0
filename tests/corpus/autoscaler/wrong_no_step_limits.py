# jumps straight to the target: no step limits
"""A replica autoscaler for an LLM service: scale out on queue depth and p95 latency, scale in slowly.

``decide(now, replicas, queue_depth, p95_latency_s)`` is called periodically with the current
replica count and the latest metrics, and returns the desired replica count. The rules, in order:

1. ``want = ceil(queue_depth / target_queue_per_replica)`` (requests waiting or running, per replica)
2. if ``p95_latency_s`` is not None and ``p95_latency_s > latency_slo_s``: ``want = max(want, replicas + 1)``
   (None means no request finished in the window: only the queue counts)
3. clamp to ``[min_replicas, max_replicas]``
4. step limits: at most ``max_scale_out_step`` replicas more, ``max_scale_in_step`` fewer than ``replicas``
5. cooldown, counted from the last call that changed the count (either direction): a scale-out needs
   ``now - last_change >= scale_out_cooldown_s``, a scale-in ``now - last_change >= scale_in_cooldown_s``;
   otherwise the answer is ``replicas``. Before the first change there is no cooldown.
6. if the answer differs from ``replicas``, ``now`` becomes the last change.

ValueError for bad settings (min_replicas < 1, max < min, target <= 0, a step < 1, a negative cooldown)
and for a call with ``replicas`` outside [min_replicas, max_replicas] or a negative queue depth.
"""
import math


class Autoscaler:
    def __init__(self, *, min_replicas, max_replicas, target_queue_per_replica, latency_slo_s,
                 max_scale_out_step=2, max_scale_in_step=1, scale_out_cooldown_s=30.0, scale_in_cooldown_s=120.0):
        if min_replicas < 1 or max_replicas < min_replicas:
            raise ValueError(f"need 1 <= min_replicas <= max_replicas, got {min_replicas}, {max_replicas}")
        if target_queue_per_replica <= 0:
            raise ValueError("target_queue_per_replica must be > 0")
        if max_scale_out_step < 1 or max_scale_in_step < 1:
            raise ValueError("step limits must be >= 1")
        if scale_out_cooldown_s < 0 or scale_in_cooldown_s < 0:
            raise ValueError("cooldowns must be >= 0")
        self.min_replicas, self.max_replicas = min_replicas, max_replicas
        self.target = target_queue_per_replica
        self.latency_slo_s = latency_slo_s
        self.out_step, self.in_step = max_scale_out_step, max_scale_in_step
        self.out_cooldown, self.in_cooldown = scale_out_cooldown_s, scale_in_cooldown_s
        self.last_change = None

    def decide(self, now, replicas, queue_depth, p95_latency_s):
        if not self.min_replicas <= replicas <= self.max_replicas:
            raise ValueError(f"replicas {replicas} outside [{self.min_replicas}, {self.max_replicas}]")
        if queue_depth < 0:
            raise ValueError(f"negative queue depth {queue_depth}")
        want = math.ceil(queue_depth / self.target)
        if p95_latency_s is not None and p95_latency_s > self.latency_slo_s:
            want = max(want, replicas + 1)
        want = min(max(want, self.min_replicas), self.max_replicas)
        since = math.inf if self.last_change is None else now - self.last_change
        if (want > replicas and since < self.out_cooldown) or (want < replicas and since < self.in_cooldown):
            want = replicas
        if want != replicas:
            self.last_change = now
        return want
