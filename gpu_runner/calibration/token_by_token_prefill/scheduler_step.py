# Deliberately slow but correct (gpu_runner calibration): one token per request per step, as if every
# step were a decode step, so a prompt of n tokens takes n steps (a Python loop per prompt token)
# instead of one batched prefill.
from solutions.lab2_1_vllm_deployment.scheduler_step import StepPlan, schedule_step as _batched  # noqa: F401


def schedule_step(waiting, running, kv, max_num_seqs, max_num_batched_tokens):
    plan = _batched(waiting, running, kv, max_num_seqs, max_num_batched_tokens)
    for req in plan.num_scheduled_tokens:   # the slots reserved beyond one token serve the next steps
        plan.num_scheduled_tokens[req] = 1
    return plan
