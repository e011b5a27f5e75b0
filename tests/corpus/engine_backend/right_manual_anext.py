# drives the engine stream with __anext__ and closes it in finally; chat_completion keeps a list of chunks
class LabkitBackend:
    ### BEGIN SOLUTION
    name = "labkit"

    def __init__(self, engine):
        self.engine = engine

    async def generate(self, prompt, params, request_id):
        stream = self.engine.generate_stream(
            prompt, SamplingParams(temperature=params.temperature, max_tokens=params.max_tokens,
                                   ignore_eos=params.ignore_eos, seed=params.seed), request_id=request_id)
        try:
            while True:
                try:
                    d = await stream.__anext__()
                except StopAsyncIteration:
                    return
                yield GenChunk(d.text, [int(t) for t in d.token_ids], d.finish_reason if d.finished else None,
                               len(d.output.prompt_token_ids))
        finally:
            await stream.aclose()
    ### END SOLUTION


async def chat_completion(backend, prompt, params, *, model, request_id, created):
    ### BEGIN SOLUTION
    chunks = [c async for c in backend.generate(prompt, params, request_id)]
    n_out = sum(len(c.token_ids) for c in chunks)
    n_prompt = chunks[-1].prompt_tokens if chunks else 0
    finish = next((c.finish_reason for c in reversed(chunks) if c.finish_reason), None)
    return {
        "id": request_id, "object": "chat.completion", "created": created, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(c.text for c in chunks)},
                     "logprobs": None, "finish_reason": finish}],
        "usage": {"prompt_tokens": n_prompt, "completion_tokens": n_out, "total_tokens": n_prompt + n_out},
    }
    ### END SOLUTION
