# one row at a time with plain sorting; top-p found by walking the sorted probabilities
import torch


def apply_temperature(logits, t):
    if isinstance(t, torch.Tensor) and t.dim() == 1:
        return logits / t.to(logits.dtype).reshape(-1, 1)
    return logits / float(t)


def _per_row(value, rows):
    if isinstance(value, torch.Tensor) and value.dim() == 1:
        return [v.item() for v in value]
    return [float(value) if not isinstance(value, torch.Tensor) else value.item()] * rows


def top_k_filter(logits, k):
    out = logits.clone()
    for i, ki in enumerate(_per_row(k, logits.shape[0])):
        ki = int(ki)
        if ki <= 0 or ki >= logits.shape[-1]:
            continue
        threshold = torch.sort(logits[i], descending=True).values[ki - 1]
        out[i][logits[i] < threshold] = float("-inf")
    return out


def top_p_filter(logits, p):
    out = logits.clone()
    for i, pi in enumerate(_per_row(p, logits.shape[0])):
        if pi >= 1.0:
            continue
        probs = logits[i].double().softmax(-1)
        order = torch.argsort(probs, descending=True)
        total = 0.0
        keep = torch.zeros_like(probs, dtype=torch.bool)
        for j in order.tolist():
            keep[j] = True
            total += probs[j].item()
            if total >= pi:
                break
        out[i][~keep] = float("-inf")
    return out
