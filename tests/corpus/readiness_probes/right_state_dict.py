# keeps flags in a dict on app.state and derives the phase from them
def create_probe_app(load_model) -> FastAPI:
    ### BEGIN SOLUTION
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        flags = app.state.flags = {"loaded": False, "error": None, "draining": False}

        async def background():
            try:
                await load_model()
                flags["loaded"] = True
            except asyncio.CancelledError:
                raise
            except BaseException as exc:
                flags["error"] = repr(exc)

        loader = asyncio.get_running_loop().create_task(background())
        yield
        loader.cancel()

    def phase(app):
        f = app.state.flags
        if f["draining"]:
            return "draining"
        if f["error"] is not None:
            return "failed"
        return "ready" if f["loaded"] else "loading"

    app = FastAPI(lifespan=lifespan)

    @app.get("/health/ready")
    def ready(request: Request):
        p = phase(request.app)
        return JSONResponse(status_code=200 if p == "ready" else 503, content={"status": p})

    @app.get("/health/live")
    def live(request: Request):
        if phase(request.app) == "failed":
            return JSONResponse(status_code=503, content={"status": "model load failed"})
        return {"ok": True}

    @app.post("/admin/drain")
    def drain(request: Request):
        request.app.state.flags["draining"] = True
        return {"status": "draining"}

    return app
    ### END SOLUTION
