# a pure ASGI middleware class added with app.add_middleware
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def add_request_logging(app: FastAPI, *, log: Callable[[str], None],
                        clock: Callable[[], float] = time.perf_counter) -> FastAPI:
    ### BEGIN SOLUTION
    class RequestLog:
        def __init__(self, inner):
            self.inner = inner

        async def __call__(self, scope, receive, send):
            if scope["type"] != "http":
                return await self.inner(scope, receive, send)
            t0 = clock()
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            rid = headers.get("x-request-id", "")
            if not _REQUEST_ID.fullmatch(rid):
                rid = uuid.uuid4().hex
            scope.setdefault("state", {})["request_id"] = rid
            status = {"code": 500, "started": False}

            async def send_with_id(message):
                if message["type"] == "http.response.start":
                    status["code"], status["started"] = message["status"], True
                    message = dict(message)
                    message["headers"] = list(message.get("headers", [])) + [(b"x-request-id", rid.encode())]
                await send(message)

            entry = {"method": scope["method"], "path": scope["path"], "request_id": rid}
            try:
                await self.inner(scope, receive, send_with_id)
            except Exception as exc:
                entry["error"] = exc.__class__.__name__
                if not status["started"]:
                    resp = JSONResponse({"error": {"message": "Internal Server Error", "type": "InternalServerError",
                                                   "param": None, "code": 500}}, status_code=500)
                    await resp(scope, receive, send_with_id)
            entry["status"] = int(status["code"])
            entry["duration_ms"] = 1000.0 * (clock() - t0)
            log(json.dumps(entry, separators=(",", ":")))

    app.add_middleware(RequestLog)
    return app
    ### END SOLUTION
