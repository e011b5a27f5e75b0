# keeps the current request id in a variable shared by all requests
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def add_request_logging(app: FastAPI, *, log: Callable[[str], None],
                        clock: Callable[[], float] = time.perf_counter) -> FastAPI:
    ### BEGIN SOLUTION
    current = {}

    @app.middleware("http")
    async def request_log(request: Request, call_next):
        start = clock()
        incoming = request.headers.get("x-request-id")
        request_id = incoming if incoming and _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        current["id"] = request_id
        request.state.request_id = request_id
        error = None
        try:
            response = await call_next(request)
        except Exception as exc:
            error = type(exc).__name__
            response = JSONResponse({"error": {"message": "Internal Server Error", "type": "InternalServerError",
                                               "param": None, "code": 500}}, status_code=500)
        request_id = current["id"]
        response.headers["X-Request-ID"] = request_id
        record = {"method": request.method, "path": request.url.path, "status": response.status_code,
                  "duration_ms": (clock() - start) * 1000.0, "request_id": request_id}
        if error is not None:
            record["error"] = error
        log(json.dumps(record))
        return response

    return app
    ### END SOLUTION
