# snapshot() returns the live dict
class UsageTracker:
    ### BEGIN SOLUTION
    def __init__(self):
        self._lock = threading.Lock()
        self._totals = {}

    def record(self, api_key: str, prompt_tokens: int, completion_tokens: int) -> dict:
        prompt_tokens, completion_tokens = int(prompt_tokens), int(completion_tokens)
        if prompt_tokens < 0 or completion_tokens < 0:
            raise ValueError("token counts must be >= 0")
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens}
        with self._lock:
            t = self._totals.setdefault(api_key, {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0,
                                                  "total_tokens": 0})
            t["requests"] += 1
            for k, v in usage.items():
                t[k] += v
        return usage

    def totals(self, api_key: str) -> dict:
        with self._lock:
            t = self._totals.get(api_key)
            return dict(t) if t else {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}

    def snapshot(self) -> dict:
        with self._lock:
            return self._totals
    ### END SOLUTION
