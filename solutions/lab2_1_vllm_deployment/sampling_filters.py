# Generated from source/lab2_1_vllm_deployment/03-Advanced_Features.ipynb by `python -m autograder build`: do not edit here,
# edit the instructor notebook and rebuild.

# --- cell: sampling_filters ---
"""Logit filters of a sampler: temperature, top-k and top-p (nucleus), on [batch, vocab] tensors.

Filters return new logits in which removed tokens are -inf, so softmax gives them probability 0.
k and p may be a number (every row) or a [batch] tensor (one value per row); k = 0 and
p = 1.0 switch the filter off for that row. Ties at the threshold are kept.
"""
import torch


def apply_temperature(logits: torch.Tensor, t) -> torch.Tensor:
    """logits / t; t > 0 (greedy decoding, t = 0, is argmax and never calls this)."""
    t = torch.as_tensor(t, dtype=logits.dtype, device=logits.device)
    return logits / (t.unsqueeze(-1) if t.dim() == 1 else t)


def top_k_filter(logits: torch.Tensor, k) -> torch.Tensor:
    """Keep the k largest logits of each row."""
    vocab = logits.shape[-1]
    k = torch.as_tensor(k, device=logits.device).long().expand(logits.shape[0])
    k = torch.where(k <= 0, vocab, k.clamp(max=vocab))
    kth_largest = logits.sort(dim=-1, descending=True).values.gather(-1, (k - 1).unsqueeze(-1))
    return logits.masked_fill(logits < kth_largest, float("-inf"))


def top_p_filter(logits: torch.Tensor, p) -> torch.Tensor:
    """Keep the fewest most likely tokens whose probabilities add up to at least p."""
    p = torch.as_tensor(p, dtype=logits.dtype, device=logits.device).expand(logits.shape[0])
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    probs = sorted_logits.softmax(dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs        # mass of the strictly more likely tokens
    remove_sorted = (mass_before >= p.unsqueeze(-1)) & (p.unsqueeze(-1) < 1.0)
    remove_sorted[:, 0] = False                       # the most likely token always stays
    remove = torch.zeros_like(remove_sorted).scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))
