"""Runs a Llama-family model (Llama, Mistral, Qwen2, the tiny models) over a paged KV cache.

The weights come from a Hugging Face ``*ForCausalLM``; the forward pass is our own, because it
reads and writes the KV cache through block tables:

* the cache is one tensor ``[num_layers, 2 (K, V), num_blocks, block_size, num_kv_heads, head_dim]``;
* a step's tokens from all sequences are flattened into one batch (prefill chunks and decode
  tokens together); token ``t`` of a sequence is written to slot
  ``block_table[t // block_size] * block_size + t % block_size`` (the *slot mapping*);
* attention gathers each sequence's blocks into contiguous K/V and runs
  ``scaled_dot_product_attention`` with grouped-query attention. Short query runs (decode steps,
  speculative verification) are sorted by context length and batched in groups, each padded to
  its longest context and masked; a long prefill chunk runs on its own, causally, straight from
  the fresh K/V when it has no past.

RoPE, RMSNorm and the MLP follow transformers' Llama code operation for operation, so greedy
output matches ``model.generate`` token for token.

CPU notes. There is no paged-attention kernel in PyTorch, so the gather is a real copy; groups of
about ``GROUP_TOKENS`` padded tokens keep each group's copy in the CPU cache while attention reads
it. With ``torch.set_num_threads(1)`` (recommended on small machines: OpenMP threads that spin
while waiting ruin a 2-core box as soon as anything else runs), a helper thread takes half of
the attention groups and half of the rows of tall matmuls; PyTorch releases the GIL inside its
kernels, so both cores work. On a GPU everything is one group and the helper is off.

Small steps. A step of one sequence attends to exactly its keys (no padding, no mask when it has
one query); a step that is one group in row order skips the output scatter; matmuls of 2-63 rows
use oneDNN with the big weight matrices packed once (MKL repacks them on every call), which is
what keeps the target's speculative verification pass close to the cost of a decode step.
``decode_loop`` runs the draft's proposal passes with the step layout built once.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

SUPPORTED_MODEL_TYPES = ("llama", "mistral", "qwen2")
DECODE_MAX_QUERY = 8   # sequences with at most this many new tokens go to the batched path
GROUP_TOKENS = 4096    # padded context tokens per batched attention group (tuned on a 2-core CPU)
PARALLEL_ROWS = 64     # matmuls with at least this many rows are split over the two threads
ONEDNN_MIN_WEIGHT = 1 << 17  # weights this big (512 KiB in float32) use oneDNN for steps of 2-63 rows,
ONEDNN_MIN_SIDE = 256        # and so do weights with both sides at least this long (the target's 256x256)


def load_hf_model(path: str | Path, dtype: torch.dtype | None = None):
    from transformers import AutoModelForCausalLM
    return AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype or torch.float32)


def default_dtype(device: str | torch.device) -> torch.dtype:
    return torch.float32 if torch.device(device).type == "cpu" else torch.bfloat16


@dataclass
class SeqInput:
    """One sequence's share of a forward pass."""
    token_ids: list[int]     # the new tokens, at positions start .. start + len - 1
    start: int
    block_table: list[int]
    num_logits: int          # logits wanted for the last num_logits new tokens (0 for a mid-prompt chunk)


class _Layer:
    def __init__(self, layer, dtype, device):
        def t(x):
            return None if x is None else x.detach().to(device=device, dtype=dtype)
        att, mlp = layer.self_attn, layer.mlp
        self.ln1 = t(layer.input_layernorm.weight)
        self.ln2 = t(layer.post_attention_layernorm.weight)
        self.qkv = t(torch.cat([att.q_proj.weight, att.k_proj.weight, att.v_proj.weight]))
        biases = [p.bias for p in (att.q_proj, att.k_proj, att.v_proj)]
        self.qkv_bias = t(torch.cat(biases)) if biases[0] is not None else None
        self.o = t(att.o_proj.weight)
        self.o_bias = t(att.o_proj.bias)
        self.gate_up = t(torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]))
        self.down = t(mlp.down_proj.weight)
        self.packed: _Layer | None = None     # the same weights reordered for oneDNN (see _pack_weights)

    def packed_copy(self) -> _Layer:
        """This layer with its big matrices (ONEDNN_MIN_WEIGHT elements or more, or both sides
        ONEDNN_MIN_SIDE or more) reordered for oneDNN; ``kernels`` says which linear function
        each of qkv, o, gate_up, down takes."""
        p = object.__new__(_Layer)
        p.__dict__.update(self.__dict__)
        kernels = []
        for name in ("qkv", "o", "gate_up", "down"):
            weight = getattr(self, name)
            if weight.numel() >= ONEDNN_MIN_WEIGHT or min(weight.shape) >= ONEDNN_MIN_SIDE:
                setattr(p, name, _pack_weights_for_onednn(weight))
                kernels.append(_onednn_linear)
            else:
                kernels.append(F.linear)
        p.kernels, p.packed = tuple(kernels), None
        return p


def _onednn_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


def _pack_weights_for_onednn(weight: torch.Tensor) -> torch.Tensor:
    return torch.ops.mkldnn._reorder_linear_weight(weight)


class ModelRunner:
    def __init__(self, model, num_blocks: int, block_size: int, device: str = "cpu",
                 dtype: torch.dtype | None = None, max_model_len: int | None = None,
                 attention_helper: bool | None = None):
        from transformers.activations import ACT2FN
        if isinstance(model, (str, Path)):
            model = load_hf_model(model)
        cfg = model.config
        if cfg.model_type not in SUPPORTED_MODEL_TYPES:
            raise NotImplementedError(f"model_type {cfg.model_type!r}: supported are {SUPPORTED_MODEL_TYPES}")
        self.config = cfg
        self.device = torch.device(device)
        self.dtype = dtype or default_dtype(device)
        self.block_size = block_size
        self.num_blocks = num_blocks
        self.num_layers = cfg.num_hidden_layers
        self.num_heads = cfg.num_attention_heads
        self.num_kv_heads = cfg.num_key_value_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        self.eps = cfg.rms_norm_eps
        self.act = F.silu if cfg.hidden_act == "silu" else ACT2FN[cfg.hidden_act]  # the same function, no module call
        self._tail_masks: dict[int, torch.Tensor] = {}
        self.max_model_len = max_model_len or cfg.max_position_embeddings
        self.vocab_size = cfg.vocab_size

        body = model.model
        self.embed = body.embed_tokens.weight.detach().to(self.device, self.dtype)
        self.layers = [_Layer(layer, self.dtype, self.device) for layer in body.layers]
        self.norm = body.norm.weight.detach().to(self.device, self.dtype)
        self.lm_head = model.lm_head.weight.detach().to(self.device, self.dtype)
        # RoPE tables, computed exactly as transformers does (positions * inv_freq in float32).
        rotary = body.rotary_emb
        positions = torch.arange(self.max_model_len, dtype=torch.float32)
        freqs = positions[:, None] * rotary.inv_freq.detach().float().cpu()[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        self.cos = (emb.cos() * rotary.attention_scaling).to(self.device, self.dtype)
        self.sin = (emb.sin() * rotary.attention_scaling).to(self.device, self.dtype)
        # rotate_half(x) * sin == roll(x, D/2) * sin_signed, exactly (negation is exact in floating point)
        half = self.head_dim // 2
        self.sin_signed = torch.cat((-self.sin[:, :half], self.sin[:, half:]), dim=-1)

        self.group_tokens = GROUP_TOKENS if self.device.type == "cpu" else 1 << 40  # GPUs: one group
        self.kv_cache = torch.zeros(self.num_layers, 2, num_blocks, block_size, self.num_kv_heads,
                                    self.head_dim, device=self.device, dtype=self.dtype)
        # views of the cache: per layer, (K, V) by slot [slots, kv_heads, D] and by block [blocks, -1]
        self._slots = [(c[0].view(-1, self.num_kv_heads, self.head_dim), c[1].view(-1, self.num_kv_heads,
                                                                                   self.head_dim)) for c in self.kv_cache]
        self._kv_blocks = [c.view(2, num_blocks, -1) for c in self.kv_cache]  # per layer, K and V by block
        self._workspaces = [torch.empty(0, device=self.device, dtype=self.dtype) for _ in range(2)]
        use_helper = self.device.type == "cpu" and (os.cpu_count() or 1) > 1 if attention_helper is None \
            else attention_helper
        self._helper = ThreadPoolExecutor(1, thread_name_prefix="labkit-attention") if use_helper else None
        self._pack_weights()

    def _pack_weights(self) -> None:
        """On a CPU, a second copy of the big weight matrices reordered for oneDNN, for steps of
        2 to PARALLEL_ROWS - 1 tokens (speculative verification, small decode batches).

        MKL's sgemm is fast for one row (a matrix-vector product) but, for a handful of rows, packs
        the weight matrix on every call: the target's 17 matmuls for 5 rows (verifying 4 drafts)
        cost 1.5-1.7x those for one row on the 2-core benchmark machine, with oneDNN and the
        weights packed once about 0.9x. oneDNN has a higher fixed cost per call, so only matrices
        of ONEDNN_MIN_WEIGHT elements or more use it: in a whole forward pass of the tiny target
        (weights out of the L2 cache), oneDNN also won for its 512 KiB QKV and down projections
        (5-row verify pass 1.29x -> 1.20x a one-row step, 7 rows 1.40x -> 1.31x), and lost on
        the draft's 256 KiB gate/up (2-row catch-up pass 1.24x -> 1.43x a one-row draft step),
        whose whole model stays in the L2 cache. Matrices with both sides ONEDNN_MIN_SIDE or more
        also use it: the target's 256 KiB output projection (256x256; verify pass 2-4% faster,
        plain batched decoding of the throughput benchmark about 7% less CPU time), not the
        draft's 128-wide ones. oneDNN's fixed cost is about 12 us per call more than
        MKL's (15 vs 3 us on a 64x64 matrix), so one row always uses MKL's matrix-vector product
        (oneDNN was no faster for the target and 30% slower for the draft). Float32 CPU only;
        skipped where oneDNN is missing.
        """
        self._packed_head = None
        if self.device.type != "cpu" or self.dtype != torch.float32 or not torch.backends.mkldnn.is_available():
            return
        try:
            x = torch.randn(3, self.lm_head.shape[1], dtype=self.dtype)
            head = _pack_weights_for_onednn(self.lm_head)
            if not torch.allclose(_onednn_linear(x, head), F.linear(x, self.lm_head), rtol=1e-4, atol=1e-4):
                return
        except (RuntimeError, AttributeError):
            return
        if self.lm_head.numel() < ONEDNN_MIN_WEIGHT:
            return
        for w in self.layers:
            w.packed = w.packed_copy()
        self._packed_head = head

    # ------------------------------------------------------------------------------------------
    @staticmethod
    def cache_bytes_per_block(config, block_size: int, dtype_bytes: int, kv_cache_bytes) -> int:
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        return kv_cache_bytes(config.num_hidden_layers, config.num_key_value_heads, head_dim,
                              block_size, dtype_bytes=dtype_bytes)

    def copy_blocks(self, copies: list[tuple[int, int]]) -> None:
        """Copy-on-write: duplicate the KV of block src into block dst, in every layer."""
        if copies:
            src = torch.tensor([s for s, _ in copies], device=self.device)
            dst = torch.tensor([d for _, d in copies], device=self.device)
            self.kv_cache[:, :, dst] = self.kv_cache[:, :, src]

    # ------------------------------------------------------------------------------------------
    def _rms_norm(self, x, weight):
        if x.dtype != torch.float32:                 # transformers normalises in float32
            return weight * self._rms_norm(x.to(torch.float32), 1.0).to(x.dtype)
        # weight * (x * rsqrt(mean(x^2) + eps)), as transformers computes it, with fewer temporaries
        return (x * x.pow(2).mean(-1, keepdim=True).add_(self.eps).rsqrt_()).mul_(weight)

    @staticmethod
    def _rope(x, cos, sin_signed):
        """x * cos + rotate_half(x) * sin, with rotate_half(x) * sin computed as roll(x) * sin_signed."""
        return (x * cos).add_(x.roll(x.shape[-1] // 2, -1).mul_(sin_signed))

    @torch.inference_mode()
    def forward(self, seqs: list[SeqInput]) -> torch.Tensor:
        """Runs one step; returns float32 logits [sum of num_logits, vocab], in sequence order."""
        return self._run(_Batch(self, seqs))

    @torch.inference_mode()
    def decode_loop(self, starts: list[int], block_tables: list[list[int]], input_ids: torch.Tensor,
                    num_steps: int, pick) -> None:
        """``num_steps`` passes of one token per sequence, with the step layout built once.

        Pass ``j`` computes, for sequence ``i``, the token ``ids[i]`` at position ``starts[i] + j``
        (slots already reserved in ``block_tables[i]``), where ``ids`` is ``input_ids`` for the
        first pass and then what ``pick(logits [n, vocab], j)`` returned (a tensor of n token ids).
        This is the draft's proposal loop: no scheduler, no per-pass batch construction, no
        round trip of the tokens through Python lists.
        """
        b = _Batch.decode(self, starts, block_tables, num_steps)
        ids = input_ids
        for j in range(num_steps):
            b.set_step(j)
            b.input_ids = ids
            ids = pick(self._run(b), j)

    def _run(self, b: _Batch) -> torch.Tensor:
        h = self.embed[b.input_ids]
        H, KVH, D = self.num_heads, self.num_kv_heads, self.head_dim
        T = h.shape[0]
        packed = self._packed_head is not None and 1 < T < PARALLEL_ROWS
        if packed:
            linear, head = _onednn_linear, self._packed_head
        else:
            linear = F.linear if self._helper is None or T < PARALLEL_ROWS else self._linear
            head = self.lm_head
        kernels = (linear,) * 4
        split = [(H + KVH) * D, KVH * D]
        for i, w in enumerate(self.layers):
            if packed:
                w = w.packed
                kernels = w.kernels
            x = self._rms_norm(h, w.ln1)
            qk, v = kernels[0](x, w.qkv, w.qkv_bias).split_with_sizes(split, dim=-1)
            qk = self._rope(qk.view(T, H + KVH, D), b.cos, b.sin)   # queries and keys rotate alike
            q, k, v = qk[:, :H], qk[:, H:], v.view(T, KVH, D)
            self._slots[i][0].index_copy_(0, b.slots, k)             # write this step's K/V to its slots
            self._slots[i][1].index_copy_(0, b.slots, v)
            o = self._attention(i, b, q, k, v)
            h.add_(kernels[1](o, w.o, w.o_bias))
            x = self._rms_norm(h, w.ln2)
            gate, up = kernels[2](x, w.gate_up).chunk(2, dim=-1)
            h.add_(kernels[3](self.act(gate).mul_(up), w.down))
        if b.logit_rows is not None:
            h = h.index_select(0, b.logit_rows)
            if packed and h.shape[0] == 1:
                linear, head = F.linear, self.lm_head
        return linear(self._rms_norm(h, self.norm), head).float()

    def causal_tail_mask(self, q: int, kv_len: int) -> torch.Tensor:
        """[1, 1, q, kv_len] additive mask of q queries that are the last q of kv_len positions
        (query i sees keys 0 .. kv_len - q + i): a view of a table made once per q."""
        table = self._tail_masks.get(q)
        if table is None or table.shape[-1] < kv_len:
            width = max(kv_len, self.max_model_len + DECODE_MAX_QUERY)
            keys = torch.arange(width, device=self.device)
            qpos = torch.arange(width - q, width, device=self.device)
            table = self._tail_masks[q] = _additive(keys[None, :] <= qpos[:, None], self.dtype)[None, None]
        return table[..., table.shape[-1] - kv_len:]

    def _linear(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        """F.linear; on a CPU with torch running one thread, big ones are split over two threads by rows."""
        if self._helper is None or x.shape[0] < PARALLEL_ROWS or torch.get_num_threads() != 1:
            return F.linear(x, weight, bias)
        half = x.shape[0] // 2
        theirs = self._helper.submit(_in_inference_mode, F.linear, x[half:], weight, bias)
        return torch.cat([F.linear(x[:half], weight, bias), theirs.result()])

    def _gather(self, layer: int, flat_blocks: torch.Tensor, num_seqs: int, worker: int = 0):
        """K and V of blocks (flattened [num_seqs * n]) as [num_seqs, n * block_size, kv_heads, head_dim].

        One copy for K and V together, into a reused workspace (one per worker thread): no fresh
        memory (and page faults) every call, and a group's K/V is still in the CPU cache when
        attention reads it.
        """
        m = flat_blocks.shape[0]
        size = 2 * m * self.block_size * self.num_kv_heads * self.head_dim
        if self._workspaces[worker].numel() < size:
            self._workspaces[worker] = torch.empty(size, device=self.device, dtype=self.dtype)
        kv = self._workspaces[worker][:size].view(2, m, -1)
        torch.index_select(self._kv_blocks[layer], 1, flat_blocks, out=kv)
        shape = (num_seqs, -1, self.num_kv_heads, self.head_dim)
        return kv[0].view(shape), kv[1].view(shape)

    def _attention(self, layer: int, b: _Batch, q, k, v) -> torch.Tensor:
        """Attention of every query of the step, written into one output [tokens, heads * head_dim].

        The work items (groups of short queries, long prefill chunks) are independent; on a CPU
        with torch running one thread, a helper thread takes every other item (torch releases
        the GIL inside its kernels, so the two run on two cores). A step that is one group whose
        queries are the step's rows in order (batch-1 decoding and verification, the draft's
        proposals) returns that group's output as it is.
        """
        if b.whole is not None:
            return self._attend_group(layer, b.whole, q, 0).reshape(q.shape[0], -1)
        out = torch.empty_like(q)
        items = b.items
        if self._helper is not None and len(items) > 1 and torch.get_num_threads() == 1:
            theirs = self._helper.submit(_in_inference_mode, self._attend, layer, items[1::2], q, k, v, out, 1)
            self._attend(layer, items[0::2], q, k, v, out, 0)
            theirs.result()
        else:
            self._attend(layer, items, q, k, v, out, 0)
        return out.view(q.shape[0], -1)

    def _attend_group(self, layer: int, g: _Group, q, worker: int) -> torch.Tensor:
        """Attention of a group of short queries: [the group's real queries, heads, head_dim]
        (in the order of g.span, or of g.rows / g.out_rows)."""
        H, KVH, D = self.num_heads, self.num_kv_heads, self.head_dim
        kc, vc = self._gather(layer, g.flat_blocks, g.n, worker)
        kc, vc = kc.transpose(1, 2), vc.transpose(1, 2)     # [n, kv_heads, S, D]
        if g.kv_len is not None:                            # one sequence: its keys exactly, no padding
            kc, vc = kc[:, :, :g.kv_len], vc[:, :, :g.kv_len]
        if g.q == 1:  # one query per sequence: the G query heads sharing a KV head are its rows
            qd = q[g.span[0]:g.span[1]] if g.span is not None else q.index_select(0, g.rows)
            od = F.scaled_dot_product_attention(qd.view(g.n, KVH, H // KVH, D), kc, vc, attn_mask=g.mask)
            return od.reshape(g.n, H, D)
        qd = q[g.span[0]:g.span[1]].view(g.n, g.q, H, D) if g.span is not None else q[g.rows]
        od = F.scaled_dot_product_attention(qd.transpose(1, 2), kc, vc, attn_mask=g.mask,
                                            enable_gqa=True).transpose(1, 2)     # [n, Q, H, D]
        return od.reshape(-1, H, D) if g.span is not None else od[g.valid]

    def _attend(self, layer: int, items: list, q, k, v, out, worker: int) -> None:
        for item in items:
            if isinstance(item, _Group):                      # short queries (decode, verify), batched
                g = item
                od = self._attend_group(layer, g, q, worker)
                if g.span is not None:
                    out[g.span[0]:g.span[1]] = od
                else:
                    out.index_copy_(0, g.rows if g.q == 1 else g.out_rows, od)
                continue
            t0, t1, flat_blocks, mask = item                  # a long prefill chunk
            qp = q[t0:t1].transpose(0, 1).unsqueeze(0)
            if flat_blocks is None:                            # no past: attend to the fresh K/V
                kp, vp = k[t0:t1].transpose(0, 1).unsqueeze(0), v[t0:t1].transpose(0, 1).unsqueeze(0)
                op = F.scaled_dot_product_attention(qp, kp, vp, is_causal=True, enable_gqa=True)
            else:
                kc, vc = self._gather(layer, flat_blocks, 1, worker)
                op = F.scaled_dot_product_attention(qp, kc.transpose(1, 2), vc.transpose(1, 2),
                                                    attn_mask=mask, enable_gqa=True)
            out[t0:t1] = op[0].transpose(0, 1)


@dataclass
class _Group:
    """Sequences with short queries attended together, padded to the group's longest context."""
    n: int                   # sequences
    q: int                   # longest query (1 when decoding)
    rows: torch.Tensor | None  # token rows of the queries: [n] when q == 1, else [n, q] (padding repeats)
    flat_blocks: torch.Tensor
    mask: torch.Tensor | None  # [n, 1, 1 or q, S], additive: the query at position p sees keys 0..p
    valid: torch.Tensor | None = None     # [n, q] real queries (q > 1)
    out_rows: torch.Tensor | None = None  # rows[valid]
    span: tuple[int, int] | None = None   # the queries are the rows span[0]:span[1], n x q of them in order
    kv_len: int | None = None             # one sequence: attend to its first kv_len keys, no mask
    masks: torch.Tensor | None = None     # decode loop: the mask (or kv_len) of every pass
    kv_lens: list[int] | None = None


def _in_inference_mode(fn, *args):
    """Run fn in the helper thread under inference mode (a per-thread setting)."""
    with torch.inference_mode():
        return fn(*args)


def _additive(allowed: torch.Tensor, dtype) -> torch.Tensor:
    """A boolean mask as an additive one (0 / -inf), made once per step instead of in every layer."""
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill_(~allowed, float("-inf"))


def _cut_groups(members: list, group_tokens: int, length) -> list[list]:
    """Members sorted by context length, cut into groups of about group_tokens padded tokens."""
    members = sorted(members, key=length)
    groups, i = [], 0
    while i < len(members):
        j = i + 1
        while j < len(members) and (j + 1 - i) * length(members[j]) <= group_tokens:
            j += 1
        groups.append(members[i:j])
        i = j
    return groups


def _flat_blocks(tables: list[list[int]], n_blocks: int) -> list[int]:
    flat = []
    for table in tables:
        table = table[:n_blocks]
        flat.extend(table)
        flat.extend([table[-1]] * (n_blocks - len(table)))
    return flat


class _Batch:
    """Tensors describing one step: ids, positions, slots, and the attention layout."""

    def __init__(self, runner: ModelRunner, seqs: list[SeqInput]):
        bs, dev = runner.block_size, runner.device
        ids, pos, slots, logit_rows = [], [], [], []
        decode, prefills = [], []
        t = 0
        for s in seqs:
            n, start, table = len(s.token_ids), s.start, s.block_table
            if n == 1:                                   # the common case: one decode token
                ids.append(s.token_ids[0])
                pos.append(start)
                slots.append(table[start // bs] * bs + start % bs)
                if s.num_logits:
                    logit_rows.append(t)
            else:
                ids.extend(s.token_ids)
                positions = range(start, start + n)
                pos.extend(positions)
                slots.extend(table[p // bs] * bs + p % bs for p in positions)
                logit_rows.extend(range(t + n - s.num_logits, t + n))
            (decode if n <= DECODE_MAX_QUERY else prefills).append((t, n, s))
            t += n
        self.input_ids = torch.tensor(ids, device=dev)
        positions_t = torch.tensor(pos, device=dev)
        self.cos = runner.cos[positions_t].unsqueeze(1)
        self.sin = runner.sin_signed[positions_t].unsqueeze(1)
        self.slots = torch.tensor(slots, device=dev)
        # every row wanted, in order (decoding, verification): no selection
        self.logit_rows = None if len(logit_rows) == t else torch.tensor(logit_rows, device=dev, dtype=torch.long)

        # Short queries: sorted by context length and cut into groups of about GROUP_TOKENS padded
        # tokens, so that little is padded and each group's gathered K/V stays in the CPU cache.
        self.groups = [self._group(runner, m, bs, dev, runner.dtype)
                       for m in _cut_groups(decode, runner.group_tokens, lambda d: d[2].start + d[1])]
        self.items: list = list(self.groups)     # attention work: groups, then prefill chunks
        for t0, n, s in prefills:
            if s.start == 0:
                self.items.append((t0, t0 + n, None, None))
                continue
            n_blocks = -(-(s.start + n) // bs)
            blocks = torch.tensor(s.block_table[:n_blocks], device=dev)
            keys = torch.arange(n_blocks * bs, device=dev)
            qpos = torch.arange(s.start, s.start + n, device=dev)
            self.items.append((t0, t0 + n, blocks, _additive(keys[None, :] <= qpos[:, None], runner.dtype)))
        self.whole = self._whole(t)

    def _whole(self, num_tokens: int) -> _Group | None:
        """The group that is the whole step (its queries are all the rows, in order), if there is one."""
        if len(self.items) == 1 and isinstance(self.items[0], _Group) and self.items[0].span == (0, num_tokens):
            return self.items[0]
        return None

    @staticmethod
    def _group(runner: ModelRunner, members, bs: int, dev, dtype) -> _Group:
        q_max = max(n for _, n, _ in members)
        t0s = [t0 for t0, _, _ in members]
        span = None
        if all(n == q_max for _, n, _ in members) and t0s == list(range(t0s[0], t0s[0] + q_max * len(t0s), q_max)):
            span = (t0s[0], t0s[0] + q_max * len(t0s))
        if len(members) == 1:                  # one sequence: exactly its keys, no padding
            _, n, s = members[0]
            kv_len = s.start + n
            n_blocks = -(-kv_len // bs)
            flat = torch.tensor(s.block_table[:n_blocks], device=dev)
            rows = None if span else torch.tensor([[t0s[0] + j for j in range(n)]] if n > 1 else t0s, device=dev)
            if n == 1:
                return _Group(1, 1, rows, flat, None, span=span, kv_len=kv_len)
            mask = runner.causal_tail_mask(n, kv_len)
            valid = None if span else torch.ones(1, n, dtype=torch.bool, device=dev)
            return _Group(1, n, rows, flat, mask, valid, None if span else rows[valid], span=span, kv_len=kv_len)
        n_blocks = -(-max(s.start + n for _, n, s in members) // bs)
        flat = torch.tensor(_flat_blocks([s.block_table for _, _, s in members], n_blocks), device=dev)
        keys = torch.arange(n_blocks * bs, device=dev)
        if q_max == 1:
            rows = None if span else torch.tensor(t0s, device=dev)
            ctx = torch.tensor([s.start for _, _, s in members], device=dev)
            mask = (keys[None, :] <= ctx[:, None])[:, None, None, :]
            return _Group(len(members), 1, rows, flat, _additive(mask, dtype), span=span)
        qpos = torch.tensor([[s.start + min(j, n - 1) for j in range(q_max)] for _, n, s in members], device=dev)
        mask = _additive((keys[None, None, :] <= qpos[:, :, None]).unsqueeze(1), dtype)
        if span:
            return _Group(len(members), q_max, None, flat, mask, span=span)
        rows = torch.tensor([[t0 + min(j, n - 1) for j in range(q_max)] for t0, n, _ in members], device=dev)
        valid = torch.tensor([[j < n for j in range(q_max)] for _, n, _ in members], device=dev)
        return _Group(len(members), q_max, rows, flat, mask, valid, rows[valid], span=span)

    # ---- the decode loop: the layout of num_steps one-token passes, built once ------------------
    @classmethod
    def decode(cls, runner: ModelRunner, starts: list[int], tables: list[list[int]], num_steps: int) -> _Batch:
        bs, dev, n = runner.block_size, runner.device, len(starts)
        b = cls.__new__(cls)
        pos = [[p + j for p in starts] for j in range(num_steps)]
        positions = torch.tensor(pos, device=dev)                                   # [steps, n]
        b._cos = runner.cos[positions].unsqueeze(2)                                  # [steps, n, 1, D]
        b._sin = runner.sin_signed[positions].unsqueeze(2)
        b._slots = torch.tensor([[t[p // bs] * bs + p % bs for p, t in zip(row, tables)] for row in pos], device=dev)
        b.logit_rows = None
        b.groups = []
        members = list(range(n))
        for m in _cut_groups(members, runner.group_tokens, lambda i: starts[i] + num_steps):
            span = (m[0], m[-1] + 1) if m == list(range(m[0], m[-1] + 1)) else None
            rows = None if span else torch.tensor(m, device=dev)
            if len(m) == 1:                   # one sequence: exactly its keys, no mask
                i = m[0]
                n_blocks = -(-(starts[i] + num_steps) // bs)
                g = _Group(1, 1, rows, torch.tensor(tables[i][:n_blocks], device=dev), None, span=span,
                           kv_lens=[starts[i] + j + 1 for j in range(num_steps)])
            else:
                n_blocks = -(-max(starts[i] + num_steps for i in m) // bs)
                flat = torch.tensor(_flat_blocks([tables[i] for i in m], n_blocks), device=dev)
                keys = torch.arange(n_blocks * bs, device=dev)
                ctx = torch.tensor([[starts[i] + j for i in m] for j in range(num_steps)], device=dev)
                masks = _additive(keys[None, None, :] <= ctx[:, :, None], runner.dtype)[:, :, None, None, :]
                g = _Group(len(m), 1, rows, flat, None, span=span, masks=masks)
            b.groups.append(g)
        b.items = list(b.groups)
        b.whole = b._whole(n)
        return b

    def set_step(self, j: int) -> None:
        """Point the decode loop's layout at pass j."""
        self.cos, self.sin, self.slots = self._cos[j], self._sin[j], self._slots[j]
        for g in self.groups:
            if g.kv_lens is not None:
                g.kv_len = g.kv_lens[j]
            else:
                g.mask = g.masks[j]
