# Generated from source/lab2_1_vllm_deployment/03-Advanced_Features.ipynb by `python -m autograder build`: do not edit here,
# edit the instructor notebook and rebuild.

# --- cell: scheduler_step ---
"""Continuous batching: the scheduling decision an engine makes before every forward pass.

There are no separate prefill and decode phases (vLLM V1 style): every request simply wants
``num_tokens`` tokens in the KV cache and has ``num_computed_tokens`` there already, so a step
gives each scheduled request some of the difference. A prompt longer than the remaining token
budget is split over several steps (chunked prefill).

A request record has: ``num_tokens``, ``num_computed_tokens``, ``priority`` (lower runs first;
all equal = first come, first served) and ``arrival`` (anything orderable, lower = earlier).
The engine supplies ``kv``, the memory side:

* ``kv.allocate(req) -> bool``: admit a waiting request (reserve blocks for its prompt and set
  ``req.num_computed_tokens`` to its prefix-cache hit); False, changing nothing, if blocks are short.
* ``kv.grow(req, num_new_tokens) -> bool``: reserve room for ``num_new_tokens`` more tokens.
* ``kv.free(req)``: give all of the request's blocks back.
"""
from dataclasses import dataclass, field


@dataclass
class StepPlan:
    num_scheduled_tokens: dict = field(default_factory=dict)  # request -> tokens to compute now
    admitted: list = field(default_factory=list)              # moved from waiting to running
    preempted: list = field(default_factory=list)             # moved from running back to waiting


def _order(req):
    return (req.priority, req.arrival)


def schedule_step(waiting: list, running: list, kv, max_num_seqs: int,
                  max_num_batched_tokens: int) -> StepPlan:
    """Plan one step; moves requests between the two lists (in place)."""
    plan = StepPlan()
    budget = max_num_batched_tokens

    # 1. Running requests first, most important first. When one cannot grow, preempt the least
    #    important (latest arrived) running request by recompute: drop its KV, send it back.
    running.sort(key=_order)
    i = 0
    while i < len(running) and budget > 0:
        req = running[i]
        num_new = min(req.num_tokens - req.num_computed_tokens, budget)
        preempted_itself = False
        while not preempted_itself and not kv.grow(req, num_new):
            victim = running.pop()
            kv.free(victim)
            victim.num_computed_tokens = 0
            waiting.append(victim)
            plan.preempted.append(victim)
            preempted_itself = victim is req
        if preempted_itself:
            break
        plan.num_scheduled_tokens[req] = num_new
        budget -= num_new
        i += 1

    # 2. Admit waiting requests in order while there is budget, a seat and memory. The head of
    #    the queue is never skipped (no starvation); nothing is admitted in a step that preempted.
    waiting.sort(key=_order)
    while not plan.preempted and waiting and budget > 0 and len(running) < max_num_seqs:
        req = waiting[0]
        if not kv.allocate(req):
            break
        waiting.pop(0)
        running.append(req)
        plan.admitted.append(req)
        num_new = min(req.num_tokens - req.num_computed_tokens, budget)
        plan.num_scheduled_tokens[req] = num_new
        budget -= num_new
    return plan
