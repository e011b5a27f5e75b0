"""The checked-in settings (``thresholds.toml``): one table per mode, ``gpu`` and ``cpu``."""
from __future__ import annotations

import tomllib
from pathlib import Path

THRESHOLDS_FILE = Path(__file__).with_name("thresholds.toml")
MODES = ("gpu", "cpu")


def load_settings(mode: str, path: str | Path | None = None) -> dict:
    """The settings of ``mode`` plus the shared ``points`` table, as plain (JSON-able) data."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    path = Path(path or THRESHOLDS_FILE)
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    settings = dict(data[mode])
    settings["mode"] = mode
    settings["device"] = "cuda" if mode == "gpu" else "cpu"
    settings["points"] = dict(data.get("points", {}))
    settings["thresholds_file"] = str(path)
    return settings


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def device_name(mode: str) -> str:
    """A human description of the device a run uses."""
    import os
    import platform
    if mode == "gpu":
        import torch
        props = torch.cuda.get_device_properties(0)
        return f"{props.name} ({props.total_memory / 2**30:.0f} GiB), torch {torch.__version__}"
    return f"CPU {platform.machine()} ({os.cpu_count()} cores), {platform.python_implementation()} {platform.python_version()}"
