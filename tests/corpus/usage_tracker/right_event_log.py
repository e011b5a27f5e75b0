# keeps every request in a list and sums on demand (RLock)
class UsageTracker:
    ### BEGIN SOLUTION
    def __init__(self):
        self._lock = threading.RLock()
        self._log = []

    def record(self, api_key, prompt_tokens, completion_tokens):
        if min(prompt_tokens, completion_tokens) < 0:
            raise ValueError("negative token count")
        with self._lock:
            self._log.append((api_key, int(prompt_tokens), int(completion_tokens)))
        return dict(prompt_tokens=int(prompt_tokens), completion_tokens=int(completion_tokens),
                    total_tokens=int(prompt_tokens) + int(completion_tokens))

    def totals(self, api_key):
        with self._lock:
            rows = [(p, c) for k, p, c in self._log if k == api_key]
        p, c = sum(r[0] for r in rows), sum(r[1] for r in rows)
        return {"requests": len(rows), "prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}

    def snapshot(self):
        with self._lock:
            keys = {k for k, _, _ in self._log}
        return {k: self.totals(k) for k in keys}
    ### END SOLUTION
