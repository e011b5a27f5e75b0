# builds the events of each delta in a list first, then yields them; usage keys in another order
def _chunk(request_id, created, model, delta, finish_reason, include_usage):
    out = {"id": request_id, "object": "chat.completion.chunk", "created": created, "model": model,
           "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}
    if include_usage:
        out["usage"] = None
    return out


async def stream_chat_completion(engine, prompt: str, params: SamplingParams, *, model: str, request_id: str,
                                 created: int, include_usage: bool = False) -> AsyncIterator[str]:
    def fmt(obj):
        return "data: %s\n\n" % json.dumps(obj)

    yield fmt(_chunk(request_id, created, model, {"role": "assistant", "content": ""}, None, include_usage))
    n_prompt, n_gen, reason = 0, 0, "length"
    async for d in engine.generate_stream(prompt, params, request_id=request_id):
        pending = []
        if d.text:
            pending.append(fmt(_chunk(request_id, created, model, {"content": d.text}, None, include_usage)))
        n_gen += len(d.token_ids)
        n_prompt = len(d.output.prompt_token_ids)
        if d.finish_reason is not None:
            reason = d.finish_reason
        for item in pending:
            yield item
    yield fmt(_chunk(request_id, created, model, {}, reason, include_usage))
    if include_usage:
        yield fmt({"id": request_id, "object": "chat.completion.chunk", "created": created, "model": model,
                   "choices": [], "usage": {"total_tokens": n_prompt + n_gen, "completion_tokens": n_gen,
                                            "prompt_tokens": n_prompt}})
    yield "data: [DONE]\n\n"
