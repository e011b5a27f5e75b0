# stores the metric objects in a dict and records after the stream with recorded timestamps
class ServiceMetrics:
    """The service's Prometheus metrics, named as vLLM names them, registered on ``registry``."""

    def __init__(self, registry: CollectorRegistry, model_name: str = "lab-model"):
        ### BEGIN SOLUTION
        mk = lambda cls, name, extra=(), **kw: cls(name, name, ["model_name", *extra], registry=registry, **kw)
        self.m = {
            "running": mk(Gauge, "vllm:num_requests_running"),
            "success": mk(Counter, "vllm:request_success_total", ("finished_reason",)),
            "ttft": mk(Histogram, "vllm:time_to_first_token_seconds", buckets=tuple(TTFT_BUCKETS)),
            "itl": mk(Histogram, "vllm:inter_token_latency_seconds", buckets=tuple(ITL_BUCKETS)),
            "prompt": mk(Counter, "vllm:prompt_tokens"),
            "gen": mk(Counter, "vllm:generation_tokens"),
        }
        self.name = model_name
        ### END SOLUTION

    def __getitem__(self, key):
        return self.m[key].labels(self.name)


def create_monitored_app(engine, *, registry: Optional[CollectorRegistry] = None, model_name: str = "lab-model",
                         clock: Callable[[], float] = time.perf_counter) -> FastAPI:
    ### BEGIN SOLUTION
    reg = registry if registry is not None else CollectorRegistry()
    sm = ServiceMetrics(reg, model_name=model_name)
    app = FastAPI()

    @app.post("/generate")
    async def generate(body: GenerateBody):
        stamps = [clock()]
        events = []
        sm["running"].inc()
        sm["prompt"].inc(engine.count_tokens(body.prompt))
        failed = None
        try:
            async for ev in engine.stream(body.prompt, body.max_tokens):
                stamps.append(clock())
                events.append(ev)
                sm["gen"].inc()
        except Exception as exc:
            failed = exc
        finally:
            sm["running"].dec()
        gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        if gaps:
            sm["ttft"].observe(gaps[0])
            for g in gaps[1:]:
                sm["itl"].observe(g)
        if failed is not None:
            return JSONResponse({"error": {"message": str(failed), "type": "InternalServerError", "param": None,
                                           "code": 500}}, status_code=500)
        reason = events[-1].finish_reason if events else "stop"
        sm.m["success"].labels(model_name, reason).inc()
        return {"text": "".join(e.text for e in events), "finish_reason": reason,
                "prompt_tokens": engine.count_tokens(body.prompt), "completion_tokens": len(events)}

    @app.get("/metrics")
    def metrics():
        return Response(content=generate_latest(reg), headers={"Content-Type": CONTENT_TYPE_LATEST})

    return app
    ### END SOLUTION
