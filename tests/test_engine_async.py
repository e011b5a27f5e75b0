"""Streaming, cancellation and leaks: the AsyncLLMEngine streams per-token deltas with timestamps,
a cancelled or abandoned stream frees its blocks at once, and after 1,000 requests (some
aborted while waiting, some while running, some forked, under preemption and prefix caching)
every block is free again.
"""
from __future__ import annotations

import asyncio
import random

import pytest

from labkit.engine import AsyncLLMEngine, LLMEngine, SamplingParams

from .test_engine_correctness import load_hf, one_thread, tiny_model_paths  # noqa: F401


@pytest.fixture(scope="module")
def hf_target():
    return load_hf(tiny_model_paths()[0])


def assert_no_leaks(engine: LLMEngine):
    stats = engine.stats()
    bm = engine.kv.blocks
    assert stats["num_free_blocks"] == engine.num_blocks, f"{engine.num_blocks - stats['num_free_blocks']} blocks leaked"
    assert all(bm.ref_count(b) == 0 for b in range(engine.num_blocks))
    assert not bm.tables, f"the block manager still holds sequences {list(bm.tables)}"
    assert not engine.scheduler.waiting and not engine.scheduler.running and not engine.requests


def test_stream_yields_tokens_with_timestamps(hf_target):
    async def main():
        engine = AsyncLLMEngine(LLMEngine(hf_target))
        deltas = [d async for d in engine.generate_stream([5, 6, 7], SamplingParams(max_tokens=12, temperature=0,
                                                                                      ignore_eos=True))]
        engine.shutdown()
        return engine, deltas
    engine, deltas = asyncio.run(main())
    tokens = [t for d in deltas for t in d.token_ids]
    times = [t for d in deltas for t in d.token_times]
    assert len(tokens) == 12 and len(times) == 12 and times == sorted(times)
    assert deltas[-1].finished and deltas[-1].finish_reason == "length"
    assert not any(d.finished for d in deltas[:-1])
    assert deltas[0].arrival_time <= deltas[0].first_token_time == times[0]
    assert tokens == deltas[-1].output.token_ids
    assert_no_leaks(engine.engine)


def test_cancelled_and_abandoned_streams_free_their_blocks(hf_target):
    async def main():
        engine = AsyncLLMEngine(LLMEngine(hf_target))
        long = SamplingParams(max_tokens=400, temperature=0, ignore_eos=True)

        async def consume(prompt, stop_after=None):
            n = 0
            async for d in engine.generate_stream(prompt, long):
                n += len(d.token_ids)
                if stop_after is not None and n >= stop_after:
                    break                                   # abandon the stream
            return n

        cancelled = asyncio.create_task(consume([1, 2, 3]))
        abandoned = asyncio.create_task(consume([4, 5, 6], stop_after=3))
        aborted = engine.generate_stream([7, 8, 9], long, request_id="to-abort")
        first = await aborted.__anext__()
        await asyncio.sleep(0.2)
        assert engine.engine.kv.num_free_blocks() < engine.engine.num_blocks
        cancelled.cancel()
        engine.abort("to-abort")
        rest = [d async for d in aborted]
        assert rest[-1].finish_reason == "abort" and rest[-1].finished
        assert (await abandoned) >= 3
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        await asyncio.sleep(0.1)
        free = engine.engine.kv.num_free_blocks()
        engine.shutdown()
        return engine, first, free
    engine, first, free = asyncio.run(main())
    assert first.token_ids
    assert free == engine.engine.num_blocks
    assert_no_leaks(engine.engine)


def test_many_concurrent_streams(hf_target):
    async def main():
        engine = AsyncLLMEngine(LLMEngine(hf_target, enable_prefix_caching=True))
        rng = random.Random(0)

        async def one(i):
            params = SamplingParams(max_tokens=rng.randint(1, 12), temperature=rng.choice([0.0, 1.0]), seed=i)
            got = 0
            async for d in engine.generate_stream([10, 11, 12, 13] * 5 + [i % 50 + 20], params):
                got += len(d.token_ids)
                if i % 7 == 0:
                    break
            return got
        results = await asyncio.gather(*(one(i) for i in range(100)))
        engine.shutdown()
        return engine, results
    engine, results = asyncio.run(main())
    assert all(r >= 1 for r in results)
    assert_no_leaks(engine.engine)


@pytest.mark.parametrize("prefix_caching", [False, True])
def test_no_leaked_blocks_after_1000_requests(hf_target, prefix_caching):
    rng = random.Random(prefix_caching)
    engine = LLMEngine(hf_target, num_blocks=48, max_num_seqs=32, max_num_batched_tokens=256,
                       enable_prefix_caching=prefix_caching)
    shared = [rng.randrange(4, 2000) for _ in range(40)]
    submitted, aborted, finished = 0, 0, 0
    live: list[str] = []
    while submitted < 1000 or engine.has_unfinished():
        for _ in range(rng.randint(0, 12)):
            if submitted < 1000:
                prompt = shared[:rng.choice([0, 16, 33])] + [rng.randrange(4, 2000) for _ in range(rng.randint(1, 24))]
                params = SamplingParams(max_tokens=rng.randint(1, 16), n=rng.choice([1, 1, 1, 2]),
                                        temperature=rng.choice([0.0, 0.8]), ignore_eos=True)
                rid = f"r{submitted}"
                engine.add_request(rid, prompt, params)
                live.append(rid)
                submitted += 1
        if live and rng.random() < 0.3:                      # abort someone: waiting or running
            rid = live.pop(rng.randrange(len(live)))
            if engine.abort(rid) is not None:
                aborted += 1
        for out in engine.step():
            if out.finished:
                finished += 1
                live.remove(out.request_id)
    assert finished + aborted == 1000 and aborted > 100
    stats = engine.stats()
    assert stats["num_preemptions"] > 0 and stats["num_copy_on_write"] > 0
    if prefix_caching:
        assert stats["prefix_cache_hit_rate"] > 0
    assert_no_leaks(engine)
