# in-process get() returns None on timeout instead of raising QueueTimeout
### BEGIN SOLUTION
class MemoryRequestQueue:
    def __init__(self, maxsize: int):
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._heap = []
        self._seq = itertools.count()
        self._cond = asyncio.Condition()

    async def put(self, item: str, priority: int = 0) -> None:
        async with self._cond:
            if len(self._heap) >= self.maxsize:
                raise QueueFull(f"the queue already holds {self.maxsize} requests")
            heapq.heappush(self._heap, (priority, next(self._seq), item))
            self._cond.notify()

    async def get(self, timeout: Optional[float] = None) -> str:
        async with self._cond:
            try:
                await asyncio.wait_for(self._cond.wait_for(lambda: self._heap), timeout)
            except asyncio.TimeoutError:
                return None
            return heapq.heappop(self._heap)[2]

    async def qsize(self) -> int:
        return len(self._heap)


class RedisRequestQueue:
    _PUT = """
    if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
    local seq = redis.call('INCR', KEYS[2])
    redis.call('ZADD', KEYS[1], tonumber(ARGV[2]) * 4294967296 + seq, seq .. ':' .. ARGV[3])
    return 1
    """

    def __init__(self, client, name: str, maxsize: int):
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.client, self.name, self.maxsize = client, name, maxsize
        self._put = client.register_script(self._PUT)

    async def put(self, item: str, priority: int = 0) -> None:
        ok = await self._put(keys=[self.name, self.name + ":seq"], args=[self.maxsize, int(priority), item])
        if not int(ok):
            raise QueueFull(f"the queue {self.name!r} already holds {self.maxsize} requests")

    async def get(self, timeout: Optional[float] = None) -> str:
        if timeout is not None and timeout <= 0:
            popped = await self.client.zpopmin(self.name)
            found = popped[0] if popped else None
        else:
            res = await self.client.bzpopmin(self.name, timeout=0 if timeout is None else timeout)
            found = (res[1], res[2]) if res else None
        if found is None:
            raise QueueTimeout(f"no request within {timeout} s")
        member = found[0].decode() if isinstance(found[0], bytes) else found[0]
        return member.split(":", 1)[1]

    async def qsize(self) -> int:
        return int(await self.client.zcard(self.name))
### END SOLUTION
