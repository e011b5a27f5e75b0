# Deliberately slow but correct (gpu_runner calibration): static batching. New requests join only when
# the whole running batch has finished, so every batch waits for its longest request.
from solutions.lab2_1_vllm_deployment.scheduler_step import StepPlan, schedule_step as _continuous  # noqa: F401


def schedule_step(waiting, running, kv, max_num_seqs, max_num_batched_tokens):
    if not running:                                  # an empty engine: admit a new batch
        return _continuous(waiting, running, kv, max_num_seqs, max_num_batched_tokens)
    held_back = []                                   # nobody joins a running batch ...
    plan = _continuous(held_back, running, kv, max_num_seqs, max_num_batched_tokens)
    waiting.extend(held_back)                        # ... but preempted requests go back to the queue
    return plan
