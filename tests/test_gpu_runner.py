"""gpu_runner: blocked without a GPU, CPU mode end to end, slow-but-correct and wrong parts, reports.

The end-to-end tests run ``python -m gpu_runner run`` like CI does, in CPU mode (``--cpu``: tiny
models, CPU thresholds). Tests marked ``gpu`` run the same on a CUDA device and are skipped here.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import torch

from gpu_runner import checks, report, runner, submission
from gpu_runner.config import load_settings

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
CALIBRATION = REPO / "gpu_runner" / "calibration"
CORPUS = REPO / "tests" / "corpus"
HAS_CUDA = torch.cuda.is_available()
needs_gpu = pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device (GPU mode of gpu_runner)")

# Lab 2.2/03's group_int4 contract (the quantization_bounds check): a correct version written independently of
# solutions/, and one that truncates instead of rounding (errors reach a whole quantization step).
QUANTIZE_OK = '''
import torch

def quantize_int4_groupwise(w, group_size):
    groups = w.float().reshape(-1, group_size)
    absmax = groups.abs().amax(dim=-1, keepdim=True)
    scale = torch.where(absmax > 0, absmax / 7.0, torch.ones_like(absmax))
    q = torch.round(groups / scale).clamp(-7, 7).to(torch.int8)
    return q.reshape(w.shape), scale.reshape(*w.shape[:-1], -1)

def dequantize_int4_groupwise(q, scales, group_size):
    groups = q.float().reshape(-1, group_size) * scales.float().reshape(-1, 1)
    return groups.reshape(q.shape)

def pack_int4(q):
    nib = q.to(torch.int16) & 0xF
    return (nib[..., 0::2] | (nib[..., 1::2] << 4)).to(torch.uint8)

def unpack_int4(packed):
    b = packed.to(torch.int16)
    vals = torch.stack([b & 0xF, (b >> 4) & 0xF], dim=-1).reshape(*packed.shape[:-1], -1)
    return torch.where(vals >= 8, vals - 16, vals).to(torch.int8)
'''
QUANTIZE_TRUNCATES = QUANTIZE_OK.replace("torch.round(groups / scale)", "(groups / scale)")
# Wrong only in the packing: the high nibble is not sign-extended back.
QUANTIZE_BAD_PACKING = QUANTIZE_OK.replace("torch.where(vals >= 8, vals - 16, vals)", "vals")


def run_cli(*args, env=None, timeout=900) -> tuple[int, dict]:
    out = Path(args[args.index("--out") + 1])
    proc = subprocess.run([sys.executable, "-m", "gpu_runner", "run", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})
    assert (out / "report.json").exists(), f"no report (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    return proc.returncode, json.loads((out / "report.json").read_text())


def by_name(rep: dict) -> dict[str, dict]:
    return {c["name"]: c for c in rep["checks"]}


def solutions_with_quantization(folder: Path) -> Path:
    """The reference parts, with an independent correct group_int4, as a folder of exercise files."""
    for py in SOLUTIONS.glob("*/*.py"):
        if py.stem != "__init__":
            shutil.copy(py, folder / py.name)
    (folder / "group_int4.py").write_text(QUANTIZE_OK)
    return folder


@pytest.fixture(scope="module")
def tiny():
    """The tiny models (``$LABKIT_ENGINE_TEST_MODELS`` points at prebuilt ones, as for the engine tests)."""
    from gpu_runner.workload import tiny_model_path
    return tiny_model_path("target")


@pytest.fixture(scope="module")
def reference_run(tiny, tmp_path_factory):
    """The reference parts (+ a correct quantization) in CPU mode: every check, throughput included."""
    folder = solutions_with_quantization(tmp_path_factory.mktemp("reference"))
    out = tmp_path_factory.mktemp("reference-report")
    code, rep = run_cli("--submission", str(folder), "--out", str(out), "--cpu")
    return code, rep, out


# ---- no GPU --------------------------------------------------------------------------------------------
def test_blocked_without_gpu(tmp_path):
    """No CUDA device and no --cpu: every check is blocked (not failed), the run exits 0."""
    code, rep = run_cli("--submission", str(SOLUTIONS), "--out", str(tmp_path), env={"CUDA_VISIBLE_DEVICES": ""})
    assert code == 0 and rep["status"] == "blocked" and rep["mode"] == "blocked"
    statuses = {c["name"]: c["status"] for c in rep["checks"]}
    assert statuses.pop("extract") == "passed"
    assert set(statuses.values()) == {"blocked"}, statuses
    junit = ET.parse(tmp_path / "junit.xml").getroot()
    assert junit.get("failures") == "0"
    assert any(s.get("message", "").startswith("blocked:") for s in junit.iter("skipped"))
    assert "Blocked" in (tmp_path / "summary.md").read_text()


def test_bad_arguments_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "gpu_runner", "run", "--submission", str(SOLUTIONS), "--out",
                           str(tmp_path), "--lab", "lab9"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2 and "--lab 'lab9'" in proc.stderr


# ---- extraction ---------------------------------------------------------------------------------------
def test_extraction_finds_the_engine_exercises():
    sub = submission.load_submission(REPO / "source" / "lab2_1_vllm_deployment")
    assert set(sub.modules) == {"block_manager", "kv_cache_size", "scheduler_step", "sampling_filters"}
    assert sub.labs == ["lab2_1_vllm_deployment"] and not sub.problems
    assert "# --- cell: setup_nb01 ---" in sub.modules["block_manager"]
    only = submission.load_submission(SOLUTIONS, labs=["lab2_2"])
    assert set(only.modules) == {"prefix_cache", "speculative_verify", "speculative_theory", "group_int4"}


def test_extraction_without_nbformat_is_identical():
    """A GPU host may lack nbformat: the JSON stand-in extracts the same modules."""
    lab = REPO / "source" / "lab2_1_vllm_deployment"
    script = ("import sys, json; sys.modules['nbformat'] = None\n"
              "from gpu_runner.submission import load_submission\n"
              f"sub = load_submission({str(lab)!r})\n"
              "assert type(sys.modules['nbformat']).__name__ == '_FallbackNbformat'\n"
              "print(json.dumps(sub.modules))")
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout) == submission.load_submission(lab).modules


def test_unreadable_notebook_fails_extraction(tmp_path):
    (tmp_path / "broken.ipynb").write_text("{ not json")
    sub = submission.load_submission(tmp_path)
    assert sub.problems and "broken.ipynb" in sub.problems[0]
    assert runner._extraction_outcome(sub).status == "failed"


# ---- CPU mode end to end ------------------------------------------------------------------------------
@pytest.mark.slow
def test_reference_passes_in_cpu_mode(reference_run):
    code, rep, _ = reference_run
    checks_ = by_name(rep)
    assert code == 0 and rep["status"] == "passed" and rep["mode"] == "cpu", [
        (c["name"], c["status"], c["message"]) for c in rep["checks"]]
    assert all(c["status"] == "passed" for c in rep["checks"]), checks_
    assert rep["score"] == rep["max_score"] > 0
    thresholds = load_settings("cpu")["throughput"]["thresholds"]
    for entry, limit in thresholds.items():
        assert checks_[entry]["measured"] >= limit and checks_[entry]["threshold"] == limit


@pytest.mark.slow
def test_reports_are_valid(reference_run):
    _, rep, out = reference_run
    assert json.loads((out / "report.json").read_text())["status"] == rep["status"]
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [c["name"] for c in rep["checks"]]
    assert suite.get("failures") == "0" and suite.get("tests") == str(len(cases))
    md = (out / "summary.md").read_text()
    assert "| check | kind | status | measured | threshold | points | details |" in md
    assert "CPU mode" in md and "## Throughput" in md
    for name in ("greedy_paged", "throughput_vs_reference", "quantization_bounds"):
        assert f"| {name} |" in md
    try:
        import matplotlib  # noqa: F401
        assert (out / "throughput.png").stat().st_size > 1000 and "throughput.png" in md
    except ImportError:
        assert "no plot" in md


@pytest.mark.slow
def test_static_batching_is_correct_but_too_slow(tmp_path):
    """A scheduler that only admits into an empty engine: correct, but fails the throughput threshold."""
    code, rep = run_cli("--submission", str(CALIBRATION / "static_batching"), "--out", str(tmp_path), "--cpu")
    checks_ = by_name(rep)
    assert checks_["greedy_paged"]["status"] == "passed", checks_["greedy_paged"]["message"]
    slow = checks_["throughput_vs_reference"]
    assert slow["status"] == "failed" and slow["measured"] < slow["threshold"], slow["message"]
    assert slow["points"] == 0 and checks_["greedy_paged"]["points"] > 0
    assert code == 1 and rep["status"] == "failed"


@pytest.mark.slow
def test_wrong_part_fails_correctness_and_gets_no_performance_points(tmp_path):
    """A notebook whose block manager skips copy-on-write, a sampling filter that kills its process
    and a correct speculative_verify: the first two fail, the third still passes in a fresh
    process, and throughput is not measured."""
    extract = submission.extraction()
    nb = extract.read_notebook(REPO / "source" / "lab2_1_vllm_deployment" / "01-Setup_and_Installation.ipynb")
    for cell in nb.cells:
        if extract.is_solution_cell(cell) and extract.grade_id(cell) == "block_manager":
            cell.source = (CORPUS / "block_manager" / "wrong_no_copy_on_write.py").read_text()
    import nbformat
    folder = tmp_path / "submission"
    folder.mkdir()
    nbformat.write(nb, str(folder / "01-Setup_and_Installation.ipynb"))
    (folder / "sampling_filters.py").write_text(
        "import os\n\ndef apply_temperature(logits, t):\n    os._exit(3)\n\n"
        "def top_k_filter(logits, k):\n    return logits\n\ndef top_p_filter(logits, p):\n    return logits\n")
    shutil.copy(SOLUTIONS / "lab2_2_inference_optimization" / "speculative_verify.py", folder)
    code, rep = run_cli("--submission", str(folder), "--out", str(tmp_path / "out"), "--cpu",
                        "--check", "greedy_paged", "--check", "sampling_filters",
                        "--check", "speculative_distribution", "--check", "throughput")
    checks_ = by_name(rep)
    wrong = checks_["greedy_paged"]
    assert wrong["status"] == "failed" and "copy-on-write" in wrong["message"], wrong["message"]
    assert checks_["sampling_filters"]["status"] == "failed"
    assert "ended without a result" in checks_["sampling_filters"]["message"]
    assert checks_["speculative_distribution"]["status"] == "passed", checks_["speculative_distribution"]["message"]
    for entry in ("throughput_vs_reference", "throughput_vs_transformers"):
        assert checks_[entry]["status"] == "skipped" and checks_[entry]["points"] == 0
        assert "no performance points" in checks_[entry]["message"]
    assert code == 1 and rep["status"] == "failed"
    assert "block_manager" in rep["parts"] and rep["parts"]["block_manager"].endswith(".ipynb")


# ---- checks in-process (their statistics and bounds) ---------------------------------------------------
@pytest.fixture(scope="module")
def cpu_context(tiny):
    torch.set_num_threads(1)
    return checks.Context(load_settings("cpu"), parts=checks.Context.reference_parts(), extras={})


def test_speculative_distribution_test_has_power(cpu_context):
    """The chi-square test accepts the reference and rejects 'resample from p' (the classic mistake)."""
    settings = cpu_context.settings
    ok = checks._run_spec_distribution(cpu_context)
    assert checks._judge_spec_distribution(ok, settings)[0].status == "passed"
    reference = cpu_context.parts.verify_draft

    def resample_from_target(draft_tokens, q, p, generator=None):
        out = reference(draft_tokens, q, p, generator=generator)
        if len(out) <= len(draft_tokens):        # a rejection: draw from p instead of max(0, p - q)
            out[-1] = int(torch.multinomial(p[len(out) - 1], 1, generator=generator))
        return out

    import dataclasses
    wrong = dataclasses.replace(cpu_context.parts, verify_draft=resample_from_target)
    ctx = checks.Context(settings, parts=wrong, extras={})
    verdict = checks._judge_spec_distribution(checks._run_spec_distribution(ctx), settings)[0]
    assert verdict.status == "failed" and "chi-square" in verdict.message


def test_quantization_bounds(cpu_context):
    settings = cpu_context.settings
    for source, expected in ((QUANTIZE_OK, "passed"), (QUANTIZE_TRUNCATES, "failed"), (QUANTIZE_BAD_PACKING, "failed")):
        namespace = {}
        exec(source, namespace)
        ctx = checks.Context(settings, parts=cpu_context.parts, extras=namespace)
        ctx._target = cpu_context.target()
        verdict = checks._judge_quantization(checks._run_quantization(ctx), settings)[0]
        assert verdict.status == expected, verdict.message


def test_chi2_critical_values():
    # Exact upper quantiles (scipy.stats.chi2.ppf): df 5 at 1e-3 is 20.515, at 1e-5 30.856. The
    # Wilson-Hilferty approximation is within 4 %, on the conservative (larger) side.
    for p_value, exact in ((1e-3, 20.515), (1e-5, 30.856)):
        assert exact <= checks.chi2_critical(5, p_value) <= 1.04 * exact


def test_report_from_synthetic_outcomes(tmp_path):
    """All four statuses render in JSON, JUnit and Markdown."""
    outcomes = [checks.Outcome("extract", "submission", "passed", "exercises: block_manager"),
                checks.Outcome("greedy_paged", "correctness", "failed", "request 3 | token 7 differs", measured=2.5,
                               threshold=1e-3, better="lower", max_points=4, output_tail="Traceback ..."),
                checks.Outcome("sampling_filters", "correctness", "blocked", runner.BLOCKED_REASON, max_points=1),
                checks.Outcome("throughput_vs_reference", "performance", "skipped", "no performance points")]
    rep = {"tool": "gpu_runner", "submission": "x.ipynb", "labs": ["lab2_1_vllm_deployment"], "mode": "cpu",
           "device": "CPU", "status": runner.overall_status(outcomes), "score": 0, "max_score": 5,
           "started": "2025-01-01T00:00:00", "seconds": 1.0, "thresholds_file": "thresholds.toml",
           "parts": {"block_manager": "x.ipynb"}, "checks": [vars(o) for o in outcomes]}
    files = report.write_reports(rep, tmp_path)
    assert rep["status"] == "failed" and "plot" not in files
    suite = ET.parse(files["junit"]).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "1", "2")
    failure = suite.find("testcase[@name='greedy_paged']/failure")
    assert "Traceback" in failure.text and failure.get("message").startswith("request 3")
    md = Path(files["markdown"]).read_text()
    assert "request 3 \\| token 7" in md and "⛔ blocked" in md and "❌ failed" in md
    assert json.loads(Path(files["json"]).read_text())["checks"][1]["measured"] == 2.5


def test_roofline_bytes_match_the_model_shape(tiny):
    """A decode step reads every weight once (the tiny model ties its LM head to the embedding) plus the KV."""
    from transformers import AutoModelForCausalLM

    from gpu_runner import roofline
    from labkit.engine.model_runner import ModelRunner
    from labkit.models import get_preset
    runner = ModelRunner(AutoModelForCausalLM.from_pretrained(str(tiny), dtype=torch.float32), 4, 16)
    p = get_preset("tiny-target")
    kv_per_token = 2 * p.num_layers * p.num_key_value_heads * p.head_dim * 4
    assert roofline.decode_step_bytes(runner, [10, 20]) == p.params() * 4 + 30 * kv_per_token
    assert roofline.nominal_bandwidth("NVIDIA H100 PCIe") == 2.0e12
    assert roofline.nominal_bandwidth("NVIDIA H100 80GB HBM3") == 3.35e12
    assert roofline.nominal_bandwidth("NVIDIA L40S") == 0.864e12


def test_thresholds_file_has_both_modes():
    for mode in ("gpu", "cpu"):
        s = load_settings(mode)
        assert set(s["throughput"]["thresholds"]) == {"throughput_vs_reference", "throughput_vs_transformers"}
        assert all(0 < v for v in s["throughput"]["thresholds"].values())
        assert set(s["timeouts"]) >= {c.name for c in runner.ALL_CHECKS} | {"startup"}
    assert "PROVISIONAL" in (REPO / "gpu_runner" / "thresholds.toml").read_text()


# ---- on a GPU -----------------------------------------------------------------------------------------
@pytest.mark.gpu
@needs_gpu
def test_reference_passes_on_gpu(tmp_path):
    folder = tmp_path / "reference"
    folder.mkdir()
    code, rep = run_cli("--submission", str(solutions_with_quantization(folder)), "--out", str(tmp_path / "out"),
                        timeout=3600)
    assert rep["mode"] == "gpu" and code == 0 and rep["status"] == "passed", [
        (c["name"], c["status"], c["message"]) for c in rep["checks"]]


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("variant", ["static_batching", "token_by_token_prefill"])
def test_slow_variants_fail_throughput_on_gpu(tmp_path, variant):
    code, rep = run_cli("--submission", str(CALIBRATION / variant), "--out", str(tmp_path), timeout=3600)
    checks_ = by_name(rep)
    assert checks_["greedy_paged"]["status"] == "passed", checks_["greedy_paged"]["message"]
    assert checks_["throughput_vs_reference"]["status"] == "failed"
    assert code == 1
