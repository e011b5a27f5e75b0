# parses everything first, then computes from the parsed list
def stream_metrics(sent_at, events):
    ### BEGIN SOLUTION
    parsed = [(t, None if d == "[DONE]" else json.loads(d)) for t, d in events]
    times = [t for t, o in parsed if o is not None
             and any((c.get("delta") or {}).get("content") for c in (o.get("choices") or []))]
    usages = [o["usage"] for _, o in parsed if o is not None and o.get("usage")]
    end = max([sent_at] + [t for t, _ in parsed])
    n = usages[-1]["completion_tokens"] if usages else len(times)
    dur = end - sent_at
    return dict(ttft=(times[0] - sent_at) if times else None,
                itl=[times[i + 1] - times[i] for i in range(len(times) - 1)],
                e2e=dur, completion_tokens=n, tokens_per_s=(n / dur) if dur > 0 else 0.0)
    ### END SOLUTION
