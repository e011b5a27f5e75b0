# a while loop with an explicit attempt counter; Retry-After parsed with a helper
def _retry_after(resp):
    if resp is None:
        return None
    value = resp.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


async def call_with_retries(send, *, max_attempts: int = 4, base_delay: float = 0.1, max_delay: float = 2.0,
                            attempt_timeout: float = 5.0, sleep=asyncio.sleep, rng=random.random):
    failures = 0
    while True:
        resp, error = None, None
        try:
            resp = await asyncio.wait_for(send(), timeout=attempt_timeout)
        except (asyncio.TimeoutError, httpx.TransportError, ConnectionError) as exc:
            error = exc
        if error is None and resp.status_code not in RETRYABLE_STATUS:
            return resp
        failures += 1
        if failures >= max_attempts:
            if error is not None:
                raise error
            return resp
        wait = _retry_after(resp)
        if wait is None:
            wait = min(max_delay, base_delay * (2 ** (failures - 1))) * rng()
        else:
            wait = min(wait, max_delay)
        await sleep(wait)
