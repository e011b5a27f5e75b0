# one pass keeping only the previous content time
def stream_metrics(sent_at: float, events: list) -> dict:
    ### BEGIN SOLUTION
    ttft, prev, itl, chunks, usage_tokens, last = None, None, [], 0, None, sent_at
    for t, data in events:
        last = t if t > last else last
        if data.strip() == "[DONE]":
            continue
        obj = json.loads(data)
        if isinstance(obj.get("usage"), dict):
            usage_tokens = obj["usage"]["completion_tokens"]
        has_text = False
        for ch in obj.get("choices", []):
            if ch.get("delta", {}).get("content", ""):
                has_text = True
        if has_text:
            chunks += 1
            if prev is None:
                ttft = t - sent_at
            else:
                itl.append(t - prev)
            prev = t
    n = usage_tokens if usage_tokens is not None else chunks
    e2e = last - sent_at
    return {"ttft": ttft, "itl": itl, "e2e": e2e, "completion_tokens": n, "tokens_per_s": n / e2e if e2e else 0.0}
    ### END SOLUTION
