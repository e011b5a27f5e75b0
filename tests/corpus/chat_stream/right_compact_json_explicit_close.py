# compact ASCII JSON, the engine stream closed explicitly in finally, token counts from the final output
async def stream_chat_completion(engine, prompt: str, params: SamplingParams, *, model: str, request_id: str,
                                 created: int, include_usage: bool = False) -> AsyncIterator[str]:
    base = {"id": request_id, "object": "chat.completion.chunk", "created": created, "model": model}
    extra = {"usage": None} if include_usage else {}

    def sse(choices=None, **fields):
        obj = dict(base, choices=choices if choices is not None else [], **fields)
        return "data: " + json.dumps(obj, separators=(",", ":")) + "\n\n"

    def choice(delta, finish=None):
        return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]

    yield sse(choice({"role": "assistant", "content": ""}), **extra)
    last = None
    stream = engine.generate_stream(prompt, params, request_id=request_id)
    try:
        async for delta in stream:
            last = delta
            if delta.text != "":
                yield sse(choice({"content": delta.text}), **extra)
    finally:
        await stream.aclose()
    yield sse(choice({}, last.finish_reason), **extra)
    if include_usage:
        p, c = len(last.output.prompt_token_ids), len(last.output.token_ids)
        yield sse([], usage={"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c})
    yield "data: [DONE]\n\n"
