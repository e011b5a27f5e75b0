# torch.nn.functional.cross_entropy with ignore_index and reduction="sum"; windows via the Hugging Face recipe
import math

import torch
import torch.nn.functional as F


def perplexity_from_logits(logits, labels, ignore_index=-100):
    shift_logits = logits[..., :-1, :].double().reshape(-1, logits.shape[-1])
    shift_labels = labels[..., 1:].reshape(-1)
    n = int((shift_labels != ignore_index).sum())
    if n == 0:
        raise ValueError("nothing to predict")
    total = F.cross_entropy(shift_logits, shift_labels, ignore_index=ignore_index, reduction="sum")
    return math.exp(total.item() / n)


def sliding_window_perplexity(model, input_ids, window, stride):
    ids = input_ids.reshape(1, -1)
    seq_len = ids.shape[1]
    if stride < 1 or stride >= window or seq_len < 2:
        raise ValueError("bad arguments")
    nll_sum, n_tokens, prev_end = 0.0, 0, 0
    for begin in range(0, seq_len, stride):
        end = min(begin + window, seq_len)
        trg_len = end - prev_end
        chunk = ids[:, begin:end]
        target = chunk.clone()
        target[:, :-trg_len] = -100
        with torch.no_grad():
            logits = model(chunk).logits
        valid = int((target[:, 1:] != -100).sum())
        if valid:
            nll_sum += F.cross_entropy(logits[0, :-1].double(), target[0, 1:], ignore_index=-100,
                                       reduction="sum").item()
            n_tokens += valid
        prev_end = end
        if end == seq_len:
            break
    return math.exp(nll_sum / n_tokens)
