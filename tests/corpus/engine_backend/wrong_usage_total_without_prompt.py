# total_tokens leaves out the prompt
class LabkitBackend:
    ### BEGIN SOLUTION
    name = "labkit"

    def __init__(self, engine):
        self.engine = engine

    async def generate(self, prompt: str, params: GenParams, request_id: str):
        sp = SamplingParams(max_tokens=params.max_tokens, temperature=params.temperature, seed=params.seed,
                            ignore_eos=params.ignore_eos)
        async for delta in self.engine.generate_stream(prompt, sp, request_id=request_id):
            yield GenChunk(text=delta.text, token_ids=list(delta.token_ids),
                           finish_reason=delta.finish_reason if delta.finished else None,
                           prompt_tokens=len(delta.output.prompt_token_ids))
    ### END SOLUTION


async def chat_completion(backend, prompt: str, params: GenParams, *, model: str, request_id: str,
                          created: int) -> dict:
    ### BEGIN SOLUTION
    text, completion_tokens, prompt_tokens, finish_reason = [], 0, 0, None
    async for chunk in backend.generate(prompt, params, request_id):
        text.append(chunk.text)
        completion_tokens += len(chunk.token_ids)
        prompt_tokens = chunk.prompt_tokens
        if chunk.finish_reason is not None:
            finish_reason = chunk.finish_reason
    return {"id": request_id, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(text)},
                         "logprobs": None, "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": completion_tokens}}
    ### END SOLUTION
