# an APIRouter whose routes reach the backend through request.app.state; errors raised as one exception class
from fastapi import APIRouter


class APIError(Exception):
    def __init__(self, status: int, message: str, kind: str = "BadRequestError", param=None):
        self.status, self.message, self.kind, self.param = status, message, kind, param


def create_app(model_path, *, served_model_name: str = "lab-model", max_model_len: int = 512,
               kv_cache_memory_bytes: int = 32 << 20) -> FastAPI:
    router = APIRouter()

    def as_json(status, message, kind, param=None):
        return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": status}},
                            status_code=status)

    def need_model(name):
        if name != served_model_name:
            raise APIError(404, f"The model `{name}` does not exist.", "NotFoundError", "model")

    async def complete(request: Request, prompt: str, params: SamplingParams):
        try:
            return await request.app.state.backend.engine.generate(prompt, params)
        except ValueError as exc:
            raise APIError(400, str(exc)) from None

    @router.get("/health")
    def health():
        return {"ok": True}

    @router.post("/generate")
    async def generate(body: GenerateRequest, request: Request) -> GenerateResponse:
        out = await complete(request, body.prompt, SamplingParams(max_tokens=body.max_tokens, seed=body.seed,
                                                                  temperature=body.temperature, top_p=body.top_p))
        return GenerateResponse(text=out.text, finish_reason=out.finish_reason,
                                prompt_tokens=len(out.prompt_token_ids), completion_tokens=len(out.token_ids))

    @router.post("/v1/chat/completions")
    async def chat(body: ChatCompletionRequest, request: Request) -> ChatCompletionResponse:
        need_model(body.model)
        if body.stream:
            raise APIError(400, "streaming is not available", param="stream")
        prompt = request.app.state.backend.chat_prompt(body.messages)
        params = SamplingParams(max_tokens=body.max_tokens if body.max_tokens is not None else 16,
                                temperature=body.temperature, top_p=body.top_p, seed=body.seed)
        out = await complete(request, prompt, params)
        p, c = len(out.prompt_token_ids), len(out.token_ids)
        return ChatCompletionResponse(
            id="chatcmpl-" + str(uuid.uuid4()), created=int(time.time()), model=served_model_name,
            choices=[ChatChoice(message=ChatMessage(role="assistant", content=out.text),
                                finish_reason=out.finish_reason)],
            usage=UsageInfo(prompt_tokens=p, completion_tokens=c, total_tokens=p + c))

    @router.post("/v1/embeddings")
    async def embeddings(body: EmbeddingRequest, request: Request) -> EmbeddingResponse:
        need_model(body.model)
        texts = body.input if isinstance(body.input, list) else [body.input]
        vectors, n = await asyncio.to_thread(request.app.state.backend.embed, texts)
        if body.encoding_format == "base64":
            vectors = [floats_to_base64(v) for v in vectors]
        return EmbeddingResponse(model=served_model_name, usage=UsageInfo(prompt_tokens=n, total_tokens=n),
                                 data=[EmbeddingData(index=i, embedding=v) for i, v in enumerate(vectors)])

    @asynccontextmanager
    async def lifespan(app):
        backend = load_backend(model_path, max_model_len=max_model_len, kv_cache_memory_bytes=kv_cache_memory_bytes)
        app.state.backend = backend
        yield
        backend.shutdown()

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)

    async def api_error(request, exc: APIError):
        return as_json(exc.status, exc.message, exc.kind, exc.param)

    async def invalid(request, exc: RequestValidationError):
        return as_json(400, str(exc.errors())[:500], "BadRequestError")

    async def http_error(request, exc: StarletteHTTPException):
        return as_json(exc.status_code, str(exc.detail), "NotFoundError" if exc.status_code == 404 else "HTTPError")

    app.add_exception_handler(APIError, api_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)
    return app
