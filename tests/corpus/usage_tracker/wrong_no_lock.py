# no lock: the read-modify-write of a key's totals races between threads
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
        t = self._totals.get(api_key, {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0,
                                       "total_tokens": 0})
        self._totals[api_key] = {"requests": t["requests"] + 1,
                                 "prompt_tokens": t["prompt_tokens"] + prompt_tokens,
                                 "completion_tokens": t["completion_tokens"] + completion_tokens,
                                 "total_tokens": t["total_tokens"] + prompt_tokens + completion_tokens}
        return usage

    def totals(self, api_key: str) -> dict:
        with self._lock:
            t = self._totals.get(api_key)
            return dict(t) if t else {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}

    def snapshot(self) -> dict:
        with self._lock:
            return {k: dict(v) for k, v in self._totals.items()}
    ### END SOLUTION
