# recursion on the attempt number
async def call_with_retries(send, *, max_attempts: int = 4, base_delay: float = 0.1, max_delay: float = 2.0,
                            attempt_timeout: float = 5.0, sleep=asyncio.sleep, rng=random.random, _attempt: int = 1):
    try:
        resp = await asyncio.wait_for(send(), attempt_timeout)
        failure = None
    except RETRYABLE_EXCEPTIONS as exc:
        resp, failure = None, exc
    if failure is None and resp.status_code not in RETRYABLE_STATUS:
        return resp
    if _attempt >= max_attempts:
        if failure is not None:
            raise failure
        return resp
    header = resp.headers.get("retry-after") if resp is not None else None
    if header is not None:
        delay = min(float(header), max_delay)
    else:
        delay = rng() * min(base_delay * 2 ** (_attempt - 1), max_delay)
    await sleep(delay)
    return await call_with_retries(send, max_attempts=max_attempts, base_delay=base_delay, max_delay=max_delay,
                                   attempt_timeout=attempt_timeout, sleep=sleep, rng=rng, _attempt=_attempt + 1)
