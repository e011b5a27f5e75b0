# a different structure: explicit key function, victims picked with max(), admission as a for loop
from dataclasses import dataclass, field


@dataclass
class StepPlan:
    num_scheduled_tokens: dict = field(default_factory=dict)
    admitted: list = field(default_factory=list)
    preempted: list = field(default_factory=list)


def _importance(req):
    return (req.priority, req.arrival)


def schedule_step(waiting, running, kv, max_num_seqs, max_num_batched_tokens):
    plan = StepPlan()
    left = max_num_batched_tokens
    for req in sorted(running, key=_importance):
        if left == 0:
            break
        if req not in running:          # preempted earlier in this step
            continue
        n = min(req.num_tokens - req.num_computed_tokens, left)
        while not kv.grow(req, n):
            victim = max(running, key=_importance)
            running.remove(victim)
            kv.free(victim)
            victim.num_computed_tokens = 0
            waiting.append(victim)
            plan.preempted.append(victim)
            if victim is req:
                break
        if req not in running:
            break
        plan.num_scheduled_tokens[req] = n
        left -= n
    if plan.preempted:
        return plan
    queue = sorted(waiting, key=_importance)
    for req in queue:
        if left == 0 or len(running) >= max_num_seqs or not kv.allocate(req):
            break
        waiting.remove(req)
        running.append(req)
        plan.admitted.append(req)
        n = min(req.num_tokens - req.num_computed_tokens, left)
        plan.num_scheduled_tokens[req] = n
        left -= n
    return plan
