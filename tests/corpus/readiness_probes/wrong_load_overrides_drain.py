# a load finishing after a drain flips the state back to ready
def create_probe_app(load_model) -> FastAPI:
    ### BEGIN SOLUTION
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.phase = "loading"

        async def load():
            try:
                app.state.model = await load_model()
            except Exception:
                app.state.phase = "failed"
                return
            app.state.phase = "ready"

        task = asyncio.create_task(load())
        try:
            yield
        finally:
            task.cancel()

    app = FastAPI(lifespan=lifespan)

    @app.get("/health/live")
    async def live(request: Request):
        failed = request.app.state.phase == "failed"
        return JSONResponse({"status": "failed" if failed else "alive"}, status_code=503 if failed else 200)

    @app.get("/health/ready")
    async def ready(request: Request):
        phase = request.app.state.phase
        return JSONResponse({"status": phase}, status_code=200 if phase == "ready" else 503)

    @app.post("/admin/drain")
    async def drain(request: Request):
        request.app.state.phase = "draining"
        return {"status": "draining"}

    return app
    ### END SOLUTION
