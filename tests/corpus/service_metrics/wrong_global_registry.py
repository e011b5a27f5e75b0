# registry=None falls back to the global prometheus_client REGISTRY
class ServiceMetrics:
    """The service's Prometheus metrics, named as vLLM names them, registered on ``registry``."""

    def __init__(self, registry: CollectorRegistry, model_name: str = "lab-model"):
        ### BEGIN SOLUTION
        self.model_name = model_name
        labels = ["model_name"]
        self.running = Gauge("vllm:num_requests_running", "Number of requests being generated.", labels,
                             registry=registry)
        self.success = Counter("vllm:request_success", "Count of successfully finished requests.",
                               labels + ["finished_reason"], registry=registry)
        self.ttft = Histogram("vllm:time_to_first_token_seconds", "Time to first token in seconds.", labels,
                              buckets=TTFT_BUCKETS, registry=registry)
        self.itl = Histogram("vllm:inter_token_latency_seconds", "Time between two output tokens in seconds.",
                             labels, buckets=ITL_BUCKETS, registry=registry)
        self.prompt_tokens = Counter("vllm:prompt_tokens", "Number of prompt tokens processed.", labels,
                                     registry=registry)
        self.generation_tokens = Counter("vllm:generation_tokens", "Number of generated tokens.", labels,
                                         registry=registry)
        ### END SOLUTION


def create_monitored_app(engine, *, registry: Optional[CollectorRegistry] = None, model_name: str = "lab-model",
                         clock: Callable[[], float] = time.perf_counter) -> FastAPI:
    ### BEGIN SOLUTION
    from prometheus_client import REGISTRY
    registry = REGISTRY if registry is None else registry
    metrics = ServiceMetrics(registry, model_name)
    app = FastAPI(title="monitored service")
    app.state.metrics = metrics
    m = model_name

    @app.post("/generate")
    async def generate(body: GenerateBody):
        start = clock()
        metrics.running.labels(m).inc()
        try:
            metrics.prompt_tokens.labels(m).inc(engine.count_tokens(body.prompt))
            pieces, reason, last = [], None, None
            async for event in engine.stream(body.prompt, body.max_tokens):
                now = clock()
                if last is None:
                    metrics.ttft.labels(m).observe(now - start)
                else:
                    metrics.itl.labels(m).observe(now - last)
                last = now
                pieces.append(event.text)
                metrics.generation_tokens.labels(m).inc()
                reason = event.finish_reason or reason
        except Exception as exc:
            return JSONResponse({"error": {"message": str(exc), "type": "InternalServerError", "param": None,
                                           "code": 500}}, status_code=500)
        finally:
            metrics.running.labels(m).dec()
        metrics.success.labels(m, reason).inc()
        return {"text": "".join(pieces), "finish_reason": reason,
                "prompt_tokens": engine.count_tokens(body.prompt), "completion_tokens": len(pieces)}

    @app.get("/metrics")
    async def metrics_endpoint():
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
    ### END SOLUTION
