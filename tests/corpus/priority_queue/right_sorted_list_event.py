# in-process: a sorted list with bisect and an asyncio.Event; Redis: MULTI-free Lua, ZPOPMIN polling loop
import bisect


class MemoryRequestQueue:
    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self._items = []            # sorted (priority, seq, item)
        self._seq = 0
        self._nonempty = asyncio.Event()

    async def put(self, item: str, priority: int = 0) -> None:
        if len(self._items) >= self.maxsize:
            raise QueueFull("queue full")
        self._seq += 1
        bisect.insort(self._items, (priority, self._seq, item))
        self._nonempty.set()

    async def get(self, timeout: Optional[float] = None) -> str:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not self._items:
            self._nonempty.clear()
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                raise QueueTimeout("timed out")
            try:
                await asyncio.wait_for(self._nonempty.wait(), remaining)
            except asyncio.TimeoutError:
                if not self._items:
                    raise QueueTimeout("timed out") from None
        return self._items.pop(0)[2]

    async def qsize(self) -> int:
        return len(self._items)


class RedisRequestQueue:
    SCRIPT = """
    local n = redis.call('ZCARD', KEYS[1])
    if n >= tonumber(ARGV[1]) then return -1 end
    local seq = redis.call('INCR', KEYS[1] .. ':counter')
    redis.call('ZADD', KEYS[1], tonumber(ARGV[2]) * 2^32 + seq, string.format('%012d', seq) .. '|' .. ARGV[3])
    return n + 1
    """

    def __init__(self, client, name: str, maxsize: int):
        self.client, self.name, self.maxsize = client, name, maxsize
        self.script = client.register_script(self.SCRIPT)

    async def put(self, item: str, priority: int = 0) -> None:
        if int(await self.script(keys=[self.name], args=[self.maxsize, priority, item])) < 0:
            raise QueueFull(f"{self.name} is full")

    async def get(self, timeout: Optional[float] = None) -> str:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            popped = await self.client.zpopmin(self.name, 1)
            if popped:
                return popped[0][0].decode("utf-8").split("|", 1)[1]
            if deadline is not None and loop.time() >= deadline:
                raise QueueTimeout("timed out")
            await asyncio.sleep(0.01)

    async def qsize(self) -> int:
        return await self.client.zcard(self.name)
