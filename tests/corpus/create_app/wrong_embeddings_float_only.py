# ignores encoding_format: always floats (the openai client asks for base64)
def create_app(model_path, *, served_model_name: str = "lab-model", max_model_len: int = 512,
               kv_cache_memory_bytes: int = 32 << 20) -> FastAPI:
    ### BEGIN SOLUTION
    def error(status: int, message: str, type_: str, param: Optional[str] = None) -> JSONResponse:
        body = ErrorResponse(error=ErrorInfo(message=message, type=type_, param=param, code=status))
        return JSONResponse(body.model_dump(), status_code=status)

    def check_model(name: str):
        if name != served_model_name:
            return error(404, f"The model `{name}` does not exist.", "NotFoundError", "model")
        return None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.backend = load_backend(model_path, max_model_len=max_model_len,
                                         kv_cache_memory_bytes=kv_cache_memory_bytes)
        try:
            yield
        finally:
            app.state.backend.shutdown()

    app = FastAPI(title="Lab 2.3 LLM service", lifespan=lifespan)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p != "body"]
        where = ".".join(loc)
        message = f"{where}: {first.get('msg', 'invalid request')}" if where else first.get("msg", "invalid request")
        return error(400, message, "BadRequestError", where or None)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException):
        kind = {404: "NotFoundError", 405: "MethodNotAllowedError"}.get(exc.status_code, "HTTPError")
        return error(exc.status_code, str(exc.detail), kind)

    async def run(prompt: str, max_tokens: int, temperature: float, top_p: float, seed):
        params = SamplingParams(max_tokens=max_tokens, temperature=temperature, top_p=top_p, seed=seed)
        return await app.state.backend.engine.generate(prompt, params)

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    @app.post("/generate", response_model=GenerateResponse)
    async def generate(req: GenerateRequest):
        try:
            out = await run(req.prompt, req.max_tokens, req.temperature, req.top_p, req.seed)
        except ValueError as exc:
            return error(400, str(exc), "BadRequestError", "prompt")
        return GenerateResponse(text=out.text, finish_reason=out.finish_reason,
                                prompt_tokens=len(out.prompt_token_ids), completion_tokens=len(out.token_ids))

    @app.post("/v1/chat/completions", response_model=ChatCompletionResponse)
    async def chat_completions(req: ChatCompletionRequest):
        if (bad := check_model(req.model)) is not None:
            return bad
        if req.stream:
            return error(400, "stream=true is not supported by this server yet", "BadRequestError", "stream")
        backend = app.state.backend
        prompt = backend.chat_prompt([m.model_dump() for m in req.messages])
        try:
            out = await run(prompt, req.max_tokens or 16, req.temperature, req.top_p, req.seed)
        except ValueError as exc:
            return error(400, str(exc), "BadRequestError", "messages")
        usage = UsageInfo(prompt_tokens=len(out.prompt_token_ids), completion_tokens=len(out.token_ids),
                          total_tokens=len(out.prompt_token_ids) + len(out.token_ids))
        return ChatCompletionResponse(
            id=f"chatcmpl-{uuid.uuid4().hex}", created=int(time.time()), model=served_model_name,
            choices=[ChatChoice(index=0, message=ChatMessage(role="assistant", content=out.text),
                                finish_reason=out.finish_reason)],
            usage=usage)

    @app.post("/v1/embeddings", response_model=EmbeddingResponse)
    async def embeddings(req: EmbeddingRequest):
        if (bad := check_model(req.model)) is not None:
            return bad
        texts = [req.input] if isinstance(req.input, str) else list(req.input)
        vectors, num_tokens = await asyncio.to_thread(app.state.backend.embed, texts)
        data = [EmbeddingData(index=i, embedding=v)
                for i, v in enumerate(vectors)]
        return EmbeddingResponse(data=data, model=served_model_name,
                                 usage=UsageInfo(prompt_tokens=num_tokens, total_tokens=num_tokens))

    return app
    ### END SOLUTION
