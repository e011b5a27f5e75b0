# generation through engine.generate_stream (deltas joined), plain dict answers, param always null
def create_app(model_path, *, served_model_name: str = "lab-model", max_model_len: int = 512,
               kv_cache_memory_bytes: int = 32 << 20) -> FastAPI:
    state = {}

    @asynccontextmanager
    async def lifespan(app):
        state["backend"] = load_backend(model_path, max_model_len=max_model_len,
                                        kv_cache_memory_bytes=kv_cache_memory_bytes)
        yield
        state.pop("backend").shutdown()

    app = FastAPI(lifespan=lifespan)

    def err(code, msg, kind="BadRequestError"):
        return JSONResponse(status_code=code, content={"error": {"message": msg, "type": kind, "param": None,
                                                                 "code": code}})

    @app.exception_handler(RequestValidationError)
    async def _v(request, exc):
        return err(400, "; ".join(e["msg"] for e in exc.errors()) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _h(request, exc):
        return err(exc.status_code, str(exc.detail), "NotFoundError")

    async def run(prompt, max_tokens, temperature, top_p, seed):
        params = SamplingParams(max_tokens=max_tokens, temperature=temperature, top_p=top_p, seed=seed)
        pieces, ids, finish, n_prompt = [], [], None, 0
        async for delta in state["backend"].engine.generate_stream(prompt, params):
            pieces.append(delta.text)
            ids += delta.token_ids
            finish = delta.finish_reason or finish
            n_prompt = len(delta.output.prompt_token_ids)
        return "".join(pieces), finish, n_prompt, len(ids)

    @app.get("/health")
    async def health():
        return {"status": "healthy", "model": served_model_name}

    @app.post("/generate")
    async def generate(req: GenerateRequest):
        try:
            text, finish, p, c = await run(req.prompt, req.max_tokens, req.temperature, req.top_p, req.seed)
        except ValueError as exc:
            return err(400, str(exc))
        return {"text": text, "finish_reason": finish, "prompt_tokens": p, "completion_tokens": c}

    @app.post("/v1/chat/completions")
    async def chat(req: ChatCompletionRequest):
        if req.model != served_model_name:
            return err(404, f"The model `{req.model}` does not exist.", "NotFoundError")
        if req.stream:
            return err(400, "stream is not supported")
        prompt = state["backend"].chat_prompt([{"role": m.role, "content": m.content} for m in req.messages])
        try:
            text, finish, p, c = await run(prompt, req.max_tokens or 16, req.temperature, req.top_p, req.seed)
        except ValueError as exc:
            return err(400, str(exc))
        return {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion", "created": int(time.time()),
                "model": served_model_name,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
                "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}}

    @app.post("/v1/embeddings")
    async def embeddings(req: EmbeddingRequest):
        if req.model != served_model_name:
            return err(404, f"The model `{req.model}` does not exist.", "NotFoundError")
        texts = [req.input] if isinstance(req.input, str) else req.input
        vectors, n = await asyncio.to_thread(state["backend"].embed, texts)
        enc = (lambda v: floats_to_base64(v)) if req.encoding_format == "base64" else (lambda v: v)
        return {"object": "list", "model": served_model_name, "usage": {"prompt_tokens": n, "total_tokens": n},
                "data": [{"object": "embedding", "index": i, "embedding": enc(v)} for i, v in enumerate(vectors)]}

    return app
