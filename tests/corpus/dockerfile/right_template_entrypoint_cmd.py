# a string.Template; ENTRYPOINT plus CMD arguments split over continuation lines

import string

_T = string.Template(r"""# GPU inference image
ARG CUDA=$cuda
FROM nvidia/cuda:$cuda-cudnn-devel-ubuntu$ubuntu AS builder
RUN apt-get update \
 && apt-get install -y python3-venv python3-dev \
 && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv
RUN /opt/venv/bin/pip install \
      --no-cache-dir \
      $packages

FROM nvidia/cuda:$cuda-cudnn-runtime-ubuntu$ubuntu
RUN apt-get update && apt-get install -y python3 wget && rm -rf /var/lib/apt/lists/* && \
    useradd --create-home --uid=$uid server
COPY --from=builder /opt/venv /opt/venv
EXPOSE $port
HEALTHCHECK --start-period=10m CMD wget -qO- http://localhost:$port/health || exit 1
USER $uid
ENTRYPOINT ["/opt/venv/bin/python", "-m", "vllm.entrypoints.openai.api_server", \
            "--port", "$port"]
""")


def dockerfile(*, cuda="12.4.1", ubuntu="22.04", packages=("vllm==0.6.3",), uid=10001, port=8000):
    if not uid >= 1000:
        raise ValueError("uid must be >= 1000")
    return _T.substitute(cuda=cuda, ubuntu=ubuntu, packages=" ".join(packages), uid=uid, port=port)
