# in-process: one deque per priority and a Condition; Redis: a list per priority is not needed, same ZSET idea via WATCH
from collections import deque


class MemoryRequestQueue:
    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self.buckets = {}
        self.size = 0
        self.cond = asyncio.Condition()

    async def put(self, item: str, priority: int = 0) -> None:
        async with self.cond:
            if self.size >= self.maxsize:
                raise QueueFull("full")
            self.buckets.setdefault(priority, deque()).append(item)
            self.size += 1
            self.cond.notify_all()

    async def get(self, timeout: Optional[float] = None) -> str:
        async with self.cond:
            try:
                await asyncio.wait_for(self.cond.wait_for(lambda: self.size > 0), timeout)
            except asyncio.TimeoutError:
                raise QueueTimeout("timeout") from None
            best = min(p for p, d in self.buckets.items() if d)
            self.size -= 1
            return self.buckets[best].popleft()

    async def qsize(self) -> int:
        return self.size


class RedisRequestQueue:
    def __init__(self, client, name: str, maxsize: int):
        self.client, self.name, self.maxsize = client, name, maxsize

    async def put(self, item: str, priority: int = 0) -> None:
        async with self.client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(self.name)
                    if await pipe.zcard(self.name) >= self.maxsize:
                        await pipe.unwatch()
                        raise QueueFull("full")
                    seq = await self.client.incr(f"{self.name}:seq")
                    pipe.multi()
                    pipe.zadd(self.name, {f"{seq}:{item}": priority * 2**32 + seq})
                    await pipe.execute()
                    return
                except redis_errors.WatchError:
                    continue

    async def get(self, timeout: Optional[float] = None) -> str:
        res = await self.client.bzpopmin(self.name, timeout=timeout or 0)
        if not res:
            raise QueueTimeout("timeout")
        return res[1].decode().partition(":")[2]

    async def qsize(self) -> int:
        return int(await self.client.zcard(self.name))


import redis.exceptions as redis_errors
