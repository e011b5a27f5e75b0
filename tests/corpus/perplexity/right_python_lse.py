# plain Python log-sum-exp loops; windows by tracking the last scored position
import math


def _nll(row, y):
    m = max(row)
    return m + math.log(sum(math.exp(v - m) for v in row)) - row[y]


def perplexity_from_logits(logits, labels, ignore_index=-100):
    lg, lb = logits.detach().double().tolist(), labels.tolist()
    total, count = 0.0, 0
    for b in range(len(lb)):
        for t in range(1, len(lb[b])):
            if lb[b][t] != ignore_index:
                total += _nll(lg[b][t - 1], lb[b][t])
                count += 1
    if count == 0:
        raise ValueError("no predicted token")
    return math.exp(total / count)


def sliding_window_perplexity(model, input_ids, window, stride):
    ids = [int(t) for t in input_ids.reshape(-1).tolist()]
    if not (0 < stride < window) or len(ids) < 2:
        raise ValueError("need 0 < stride < window and two tokens")
    import torch
    total, last_scored, begin = 0.0, 0, 0
    while last_scored < len(ids) - 1:
        end = min(begin + window, len(ids))
        rows = model(torch.tensor([ids[begin:end]])).logits[0].double().tolist()
        for p in range(last_scored + 1, end):
            total += _nll(rows[p - begin - 1], ids[p])
        last_scored = end - 1
        begin += stride
    return math.exp(total / (len(ids) - 1))
