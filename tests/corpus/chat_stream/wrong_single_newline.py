# ends each event with one newline (no blank line between events)
async def stream_chat_completion(engine, prompt: str, params: SamplingParams, *, model: str, request_id: str,
                                 created: int, include_usage: bool = False) -> AsyncIterator[str]:
    ### BEGIN SOLUTION
    def event(obj) -> str:
        return f"data: {json.dumps(obj, ensure_ascii=False)}\n"

    def chunk(delta: dict, finish_reason=None) -> dict:
        obj = {"id": request_id, "object": "chat.completion.chunk", "created": created, "model": model,
               "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}
        if include_usage:
            obj["usage"] = None
        return obj

    yield event(chunk({"role": "assistant", "content": ""}))
    prompt_tokens = completion_tokens = 0
    finish_reason = None
    async for delta in engine.generate_stream(prompt, params, request_id=request_id):
        prompt_tokens = len(delta.output.prompt_token_ids)
        completion_tokens += len(delta.token_ids)
        if delta.text:
            yield event(chunk({"content": delta.text}))
        if delta.finished:
            finish_reason = delta.finish_reason
    yield event(chunk({}, finish_reason))
    if include_usage:
        yield event({"id": request_id, "object": "chat.completion.chunk", "created": created, "model": model,
                     "choices": [], "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                                              "total_tokens": prompt_tokens + completion_tokens}})
    yield "data: [DONE]\n\n"
    ### END SOLUTION
