# never reads Retry-After
async def call_with_retries(send, *, max_attempts: int = 4, base_delay: float = 0.1, max_delay: float = 2.0,
                            attempt_timeout: float = 5.0, sleep=asyncio.sleep, rng=random.random):
    ### BEGIN SOLUTION
    last_exc = None
    for attempt in range(1, max_attempts + 1):
        try:
            resp = await asyncio.wait_for(send(), attempt_timeout)
        except RETRYABLE_EXCEPTIONS as exc:
            last_exc, resp = exc, None
        else:
            last_exc = None
            if resp.status_code not in RETRYABLE_STATUS:
                return resp
        if attempt == max_attempts:
            break
        delay = None
        if False:
            try:
                delay = min(max_delay, max(0.0, float(resp.headers["retry-after"])))
            except ValueError:
                delay = None
        if delay is None:
            delay = rng() * min(max_delay, base_delay * 2 ** (attempt - 1))
        await sleep(delay)
    if last_exc is not None:
        raise last_exc
    return resp
    ### END SOLUTION
