# contextlib.aclosing around the engine stream; a helper builds each chunk
import contextlib


class LabkitBackend:
    ### BEGIN SOLUTION
    name = "labkit"

    def __init__(self, engine):
        self.engine = engine

    @staticmethod
    def _to_chunk(delta):
        return GenChunk(text=delta.text or "", token_ids=list(delta.token_ids),
                        finish_reason=(delta.finish_reason if delta.finished else None),
                        prompt_tokens=len(delta.output.prompt_token_ids))

    async def generate(self, prompt, params, request_id):
        kw = dict(max_tokens=params.max_tokens, temperature=params.temperature, ignore_eos=params.ignore_eos)
        if params.seed is not None:
            kw["seed"] = params.seed
        async with contextlib.aclosing(self.engine.generate_stream(prompt, SamplingParams(**kw),
                                                                   request_id=request_id)) as s:
            async for delta in s:
                yield self._to_chunk(delta)
    ### END SOLUTION


async def chat_completion(backend, prompt, params, *, model, request_id, created):
    ### BEGIN SOLUTION
    text, usage, finish = "", {"prompt_tokens": 0, "completion_tokens": 0}, None
    async for c in backend.generate(prompt, params, request_id):
        text += c.text
        usage["completion_tokens"] += len(c.token_ids)
        usage["prompt_tokens"] = c.prompt_tokens
        finish = c.finish_reason if c.finish_reason is not None else finish
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    message = {"role": "assistant", "content": text}
    return {"id": request_id, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": usage}
    ### END SOLUTION
