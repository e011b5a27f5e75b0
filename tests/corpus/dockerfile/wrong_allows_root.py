# accepts uid 0
"""A multi-stage Dockerfile for a GPU inference server, generated from code.

``dockerfile(cuda=..., ubuntu=..., packages=..., uid=..., port=...)`` returns the Dockerfile text:

1. two stages: ``FROM nvidia/cuda:<cuda>-cudnn-devel-ubuntu<ubuntu> AS builder`` and a final
   ``FROM nvidia/cuda:<cuda>-cudnn-runtime-ubuntu<ubuntu>``;
2. the builder creates a virtualenv in ``/opt/venv`` and installs ``packages`` with
   ``pip install --no-cache-dir``; the final stage gets it with ``COPY --from=builder /opt/venv /opt/venv``
   and runs no ``pip install`` itself;
3. every ``RUN`` that runs ``apt-get install`` removes ``/var/lib/apt/lists`` in the same ``RUN``;
4. the final stage creates a user with UID ``uid`` (``useradd --uid <uid>``) and switches to it with
   ``USER <uid>`` (numeric, so Kubernetes' ``runAsNonRoot`` can check it);
5. ``EXPOSE <port>``, a ``HEALTHCHECK`` that requests ``/health``, and an exec-form (JSON array)
   ``ENTRYPOINT`` that starts the server with ``"--port", "<port>"``.

ValueError for a uid below 1000 (root and the system accounts).
"""


def dockerfile(*, cuda="12.4.1", ubuntu="22.04", packages=("vllm==0.6.3",), uid=10001, port=8000):
    if uid < 0:
        raise ValueError(f"uid {uid} is root or a system account: use 1000 or more")
    base = f"nvidia/cuda:{cuda}-cudnn"
    return f"""# syntax=docker/dockerfile:1
# ---- build stage: compilers and headers stay here ----
FROM {base}-devel-ubuntu{ubuntu} AS builder
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv python3-dev \\
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN pip install --no-cache-dir {" ".join(packages)}
COPY app/ /opt/app/

# ---- runtime stage: CUDA runtime libraries only ----
FROM {base}-runtime-ubuntu{ubuntu}
RUN apt-get update && apt-get install -y --no-install-recommends python3 curl \\
    && rm -rf /var/lib/apt/lists/* \\
    && useradd --uid {uid} --create-home --shell /usr/sbin/nologin llm
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder --chown={uid}:{uid} /opt/app /opt/app
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
USER {uid}
EXPOSE {port}
HEALTHCHECK --interval=30s --timeout=5s --start-period=600s CMD curl -fsS http://localhost:{port}/health || exit 1
ENTRYPOINT ["python3", "-m", "vllm.entrypoints.openai.api_server", "--port", "{port}"]
"""
