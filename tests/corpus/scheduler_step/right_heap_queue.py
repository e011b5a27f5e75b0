# running phase over an index list and a heap for the waiting queue; same rules
import heapq
from dataclasses import dataclass, field


@dataclass
class StepPlan:
    num_scheduled_tokens: dict = field(default_factory=dict)
    admitted: list = field(default_factory=list)
    preempted: list = field(default_factory=list)


def schedule_step(waiting: list, running: list, kv, max_num_seqs: int, max_num_batched_tokens: int) -> StepPlan:
    plan = StepPlan()
    budget = max_num_batched_tokens
    running[:] = sorted(running, key=lambda r: (r.priority, r.arrival))
    k = 0
    stop = False
    while k < len(running) and budget > 0 and not stop:
        req = running[k]
        want = min(req.num_tokens - req.num_computed_tokens, budget)
        while True:
            if kv.grow(req, want):
                plan.num_scheduled_tokens[req] = want
                budget -= want
                k += 1
                break
            last = running[-1]
            del running[-1]
            kv.free(last)
            last.num_computed_tokens = 0
            waiting.append(last)
            plan.preempted.append(last)
            if last is req:
                stop = True
                break
    if not plan.preempted:
        heap = [((r.priority, r.arrival), n, r) for n, r in enumerate(waiting)]
        heapq.heapify(heap)
        while heap and budget > 0 and len(running) < max_num_seqs:
            _, _, req = heap[0]
            if not kv.allocate(req):
                break
            heapq.heappop(heap)
            waiting.remove(req)
            running.append(req)
            plan.admitted.append(req)
            got = min(req.num_tokens - req.num_computed_tokens, budget)
            plan.num_scheduled_tokens[req] = got
            budget -= got
    return plan
