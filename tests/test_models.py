"""Tests of labkit.models: the tiny models (build, cache, tokenizer, transformers, vLLM) and presets."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit import models as M

REPO = Path(__file__).resolve().parents[1]

# Measured with the default recipe (build.json of a build): greedy 0.963, sampling 0.875.
GREEDY_ALPHA_FLOOR = 0.85
SAMPLING_ALPHA_FLOOR = 0.75

# A shortened recipe: enough to check determinism and caching in a few seconds.
SHORT = dataclasses.replace(M.DEFAULT_RECIPE, target_steps=6, draft_extra_steps=2, warmup_steps=2,
                            alpha_prompts=2, alpha_new_tokens=4)


@pytest.fixture(scope="session")
def tiny() -> M.TinyModels:
    return M.tiny_models(verbose=False)


@pytest.fixture(scope="session")
def tokenizer(tiny):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny.tokenizer)


@pytest.fixture(scope="session")
def hf_models(tiny):
    from transformers import AutoModelForCausalLM

    return {name: AutoModelForCausalLM.from_pretrained(getattr(tiny, name)).eval() for name in ("target", "draft")}


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------- build and cache


def test_build_is_deterministic(tmp_path):
    a = M.build_tiny_models(recipe=SHORT, home=tmp_path / "a", verbose=False)
    b = M.build_tiny_models(recipe=SHORT, home=tmp_path / "b", verbose=False)
    fa, fb = _files(a.root), _files(b.root)
    fa.pop("build.json"), fb.pop("build.json")  # holds the build time
    assert fa.keys() == fb.keys()
    assert {"target/model.safetensors", "draft/model.safetensors", "tokenizer/tokenizer.json"} <= fa.keys()
    for name in fa:
        assert fa[name] == fb[name], f"{name} differs between two builds"
    assert a.alpha == b.alpha


def test_cache_hit_is_fast_and_stale_temp_dirs_are_removed(tmp_path):
    first = M.build_tiny_models(recipe=SHORT, home=tmp_path, verbose=False)
    stale = tmp_path / "models" / f".tmp-tiny-{SHORT.key()}-killed"
    stale.mkdir()
    t0 = time.perf_counter()
    again = M.build_tiny_models(recipe=SHORT, home=tmp_path, verbose=False)
    assert time.perf_counter() - t0 < 1.0
    assert again == first
    rebuilt = M.build_tiny_models(recipe=SHORT, home=tmp_path, force=True, verbose=False)
    assert rebuilt.root == first.root and (rebuilt.target / "config.json").is_file()
    assert not stale.exists()
    assert [p.name for p in (tmp_path / "models").iterdir() if p.is_dir()] == [first.root.name]


def test_concurrent_builders_share_one_build(tmp_path):
    script = textwrap.dedent(f"""
        import dataclasses, sys
        from labkit import models as M
        r = dataclasses.replace(M.DEFAULT_RECIPE, **{dataclasses.asdict(SHORT)!r})
        print("RESULT", M.build_tiny_models(recipe=r, home=sys.argv[1]).root)
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, env=env) for _ in range(2)]
    outs = [p.communicate(timeout=240)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert sum(o.count("building tiny models") for o in outs) == 1, outs
    roots = {line for o in outs for line in o.splitlines() if line.startswith("RESULT")}
    assert len(roots) == 1


def test_default_build_reports_alpha_and_time(tiny):
    info = json.loads((tiny.root / "build.json").read_text())
    assert info["key"] == M.DEFAULT_RECIPE.key()
    assert 0 < tiny.build_seconds
    assert tiny.alpha["greedy"] >= GREEDY_ALPHA_FLOOR, tiny.alpha
    assert tiny.alpha["sampling"] >= SAMPLING_ALPHA_FLOOR, tiny.alpha
    for name in ("target", "draft"):
        assert info["params"][name] == M.get_preset(f"tiny-{name}").params()


def test_corpus_is_reproducible_from_its_generator():
    import importlib.util

    spec = importlib.util.spec_from_file_location("corpus_generate", M.CORPUS_DIR / "generate.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    shipped = {name: (M.CORPUS_DIR / name).read_text(encoding="utf-8") for name in M.CORPUS_FILES}
    assert gen.generate() == shipped
    assert 100_000 < sum(len(t.encode()) for t in shipped.values()) < 400_000


# ---------------------------------------------------------------------------- tokenizer


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_tokenizer_round_trips_any_text(tokenizer, text):
    ids = tokenizer.encode(text, add_special_tokens=False)
    assert M.UNK_ID not in ids
    assert tokenizer.decode(ids) == text


def test_tokenizer_is_byte_level(tokenizer):
    from tokenizers.pre_tokenizers import ByteLevel

    vocab = tokenizer.get_vocab()
    assert set(ByteLevel.alphabet()) <= vocab.keys()  # one token per byte value: nothing is <unk>
    assert len(tokenizer) == M.get_preset("tiny-target").vocab_size
    rare = "\x00\x7f\u200b\U0001f600\U00020000\U0010fffd"  # control, zero-width, emoji, CJK ext. B, plane 16
    ids = tokenizer.encode(rare, add_special_tokens=False)
    assert M.UNK_ID not in ids and tokenizer.decode(ids) == rare


def test_tokenizer_specials_and_chat_template(tokenizer):
    assert (tokenizer.unk_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id) == (
        M.UNK_ID, M.BOS_ID, M.EOS_ID, M.PAD_ID)
    assert tokenizer("hello")["input_ids"][0] == M.BOS_ID
    text = tokenizer.apply_chat_template(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is a KV cache?"}],
        tokenize=False, add_generation_prompt=True)
    assert text == "<s>[SYS] Be brief. [/SYS] [INST] What is a KV cache? [/INST]"
    ids = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True,
                                        return_dict=False)
    assert list(ids).count(M.BOS_ID) == 1


# ---------------------------------------------------------------------------- transformers


PROMPTS = [
    "This note is about",
    "Let us look at speculative decoding.",
    "這一段介紹量化。",
    "[INST] What is the KV cache? [/INST]",
]


def _hf_greedy(model, tokenizer, prompts, n=32, ignore_eos=True):
    import torch

    outs = []
    for p in prompts:
        x = torch.tensor([tokenizer(p)["input_ids"]])
        kw = {"eos_token_id": None} if ignore_eos else {}
        with torch.no_grad():
            y = model.generate(x, max_new_tokens=n, min_new_tokens=n if ignore_eos else 0, do_sample=False, **kw)
        outs.append(y[0, x.shape[1]:].tolist())
    return outs


def test_transformers_greedy_is_deterministic_and_not_degenerate(hf_models, tokenizer):
    corpus_words = set(" ".join(M.corpus_documents()[0]).split())
    for name, model in hf_models.items():
        a = _hf_greedy(model, tokenizer, PROMPTS[:2], n=40)
        assert a == _hf_greedy(model, tokenizer, PROMPTS[:2], n=40)
        for ids in a:
            text = tokenizer.decode(ids, skip_special_tokens=True)
            assert len(set(ids)) >= 10, (name, text)
            words = [w for w in text.split() if w in corpus_words]
            assert len(set(words)) >= 5, (name, text)


def test_chat_answer_stops_with_eos(hf_models, tokenizer):
    x = tokenizer.apply_chat_template([{"role": "user", "content": "What is PagedAttention?"}],
                                      add_generation_prompt=True, return_tensors="pt", return_dict=True)
    y = hf_models["target"].generate(**x, max_new_tokens=200, do_sample=False)[0, x["input_ids"].shape[1]:]
    assert M.EOS_ID in y.tolist(), tokenizer.decode(y)
    answer = tokenizer.decode(y, skip_special_tokens=True)
    assert len(answer.split()) >= 5, answer


# ---------------------------------------------------------------------------- vLLM

VLLM_SCRIPT = """
import json, os, sys

if __name__ == "__main__":
    from vllm import LLM, SamplingParams

    model, prompts, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    llm = LLM(model=model, dtype="float32", enforce_eager=True, max_model_len=512, max_num_seqs=4,
              kv_cache_memory_bytes=64 * 2**20, seed=0)
    res = llm.generate(prompts, SamplingParams(temperature=0.0, max_tokens=32, ignore_eos=True))
    res += llm.chat([{"role": "user", "content": CHAT_QUESTION}], SamplingParams(temperature=0.0, max_tokens=80))
    json.dump([{"prompt_ids": list(r.prompt_token_ids), "ids": list(r.outputs[0].token_ids)} for r in res],
              open(out, "w"))
"""
CHAT_QUESTION = "What is PagedAttention?"


@pytest.mark.vllm
@pytest.mark.slow
def test_vllm_greedy_matches_transformers(tiny, hf_models, tokenizer, tmp_path):
    pytest.importorskip("vllm")
    script = tmp_path / "run_vllm.py"
    script.write_text(VLLM_SCRIPT.replace("CHAT_QUESTION", repr(CHAT_QUESTION)))
    out = tmp_path / "out.json"
    # kv_cache_memory_bytes sizes the cache; an empty VLLM_CPU_KVCACHE_SPACE would crash vLLM's worker (int('')).
    env = {k: v for k, v in os.environ.items() if k != "VLLM_CPU_KVCACHE_SPACE"}
    env["TOKENIZERS_PARALLELISM"] = "false"
    env["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"  # engine in-process: starts ~2.5x faster on 2 cores
    proc = subprocess.run([sys.executable, str(script), str(tiny.target), json.dumps(PROMPTS), str(out)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    *got, chat = json.loads(out.read_text())
    expected = _hf_greedy(hf_models["target"], tokenizer, PROMPTS)
    for prompt, g, e in zip(PROMPTS, got, expected, strict=True):
        assert g["prompt_ids"] == tokenizer(prompt)["input_ids"]
        assert g["ids"] == e, f"{prompt!r}: vLLM {tokenizer.decode(g['ids'])!r} != HF {tokenizer.decode(e)!r}"
    # /v1/chat/completions path: vLLM renders the tokenizer's chat template like transformers does
    x = tokenizer.apply_chat_template([{"role": "user", "content": CHAT_QUESTION}], add_generation_prompt=True,
                                      return_tensors="pt", return_dict=True)
    assert chat["prompt_ids"] == x["input_ids"][0].tolist()
    y = hf_models["target"].generate(**x, max_new_tokens=80, do_sample=False)[0, x["input_ids"].shape[1]:]
    assert chat["ids"] == y.tolist() and chat["ids"][-1] == M.EOS_ID


# ---------------------------------------------------------------------------- presets

PUBLISHED = {  # parameter counts from the model cards
    "llama-2-7b": 6.74e9,
    "llama-2-13b": 13.0e9,
    "llama-2-70b": 69.0e9,
    "llama-3-8b": 8.03e9,
    "llama-3-70b": 70.6e9,
    "mistral-7b": 7.24e9,
    "qwen2.5-0.5b": 0.49e9,
    "qwen2.5-7b": 7.62e9,
    "qwen2.5-72b": 72.7e9,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_preset_params_match_published(name):
    p = M.get_preset(name)
    assert abs(p.params() - PUBLISHED[name]) / PUBLISHED[name] < 0.02, p.params()
    assert p.hidden_size == p.num_attention_heads * p.head_dim
    assert p.num_attention_heads % p.num_key_value_heads == 0
    assert p.source.startswith("config.json of the ") and "/" in p.source      # names the repository it came from


@pytest.mark.parametrize("name", ["llama-3-8b", "qwen2.5-0.5b", "mistral-7b", "tiny-target"])
def test_random_model_has_preset_shape(name):
    import torch

    model = M.random_model(name, device="meta", num_layers=2)
    assert model.dtype == torch.bfloat16
    assert sum(p.numel() for p in model.parameters()) == M.get_preset(name).params(num_layers=2)
    assert len(model.model.layers) == 2


def test_model_config_families():
    from transformers import LlamaConfig, Qwen2Config

    cfg = M.model_config("llama-3-8b")
    assert isinstance(cfg, LlamaConfig) and cfg.num_key_value_heads == 8 and cfg.num_hidden_layers == 32
    assert isinstance(M.model_config("qwen2.5-7b", num_layers=3), Qwen2Config)
    assert M.model_config("qwen2.5-7b", num_layers=3).num_hidden_layers == 3


def test_get_preset_error_lists_valid_names():
    with pytest.raises(KeyError) as err:
        M.get_preset("llama-9")
    msg = str(err.value)
    assert "llama-9" in msg and all(name in msg for name in M.PRESETS)


# ---------------------------------------------------------------------------- paths and CLI


def test_labkit_home_and_cheap_import(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    assert M.cache_path().parent == tmp_path / "models"
    code = "import sys, labkit.models; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_cli_reports_cached_models(tiny, capsys):
    assert M.main([]) == 0
    out = capsys.readouterr().out
    assert "cached" in out and str(tiny.target) in out and "greedy" in out
