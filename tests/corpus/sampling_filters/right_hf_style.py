# Hugging Face style: top-k via torch.topk values, top-p by removing the low tail whose ascending mass is <= 1 - p
import torch


def apply_temperature(logits, t):
    t = torch.as_tensor(t, dtype=logits.dtype)
    if t.dim() == 1:
        t = t[:, None]
    return logits.div(t)


def top_k_filter(logits, k):
    k = torch.as_tensor(k).long()
    if k.dim() == 0:
        k = k.repeat(logits.shape[0])
    vocab = logits.shape[-1]
    k = torch.where((k <= 0) | (k > vocab), torch.full_like(k, vocab), k)
    top = torch.topk(logits, int(k.max()), dim=-1).values
    threshold = top.gather(-1, (k - 1)[:, None])
    return torch.where(logits < threshold, torch.full_like(logits, float("-inf")), logits)


def top_p_filter(logits, p):
    p = torch.as_tensor(p, dtype=torch.float64)
    if p.dim() == 0:
        p = p.repeat(logits.shape[0])
    sorted_logits, idx = torch.sort(logits, descending=False, dim=-1)
    cum = sorted_logits.double().softmax(dim=-1).cumsum(dim=-1)
    remove_sorted = cum <= (1 - p)[:, None]
    remove_sorted[:, -1] = False
    remove_sorted &= (p < 1.0)[:, None]
    remove = remove_sorted.scatter(-1, idx, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))
