# e2e ends at the last content chunk, not at the last event
def stream_metrics(sent_at: float, events: list) -> dict:
    ### BEGIN SOLUTION
    content_times, usage, n_chunks = [], None, 0
    end = sent_at
    for t, data in events:
        end = max(end, t)
        if data == "[DONE]":
            continue
        obj = json.loads(data)
        if obj.get("usage"):
            usage = obj["usage"]
        for choice in obj.get("choices") or []:
            if choice.get("delta", {}).get("content"):
                content_times.append(t)
                n_chunks += 1
    tokens = int(usage["completion_tokens"]) if usage else n_chunks
    e2e = (content_times[-1] if content_times else end) - sent_at
    return {"ttft": content_times[0] - sent_at if content_times else None,
            "itl": [b - a for a, b in zip(content_times, content_times[1:])],
            "e2e": e2e,
            "completion_tokens": tokens,
            "tokens_per_s": tokens / e2e if e2e > 0 else 0.0}
    ### END SOLUTION
