# assembles the file from a list of instructions; adduser with -u; lowercase 'as'

import json


def dockerfile(*, cuda="12.4.1", ubuntu="22.04", packages=("vllm==0.6.3",), uid=10001, port=8000):
    if uid < 1000:
        raise ValueError("refusing a root/system uid")
    image = lambda flavour: f"nvidia/cuda:{cuda}-cudnn-{flavour}-ubuntu{ubuntu}"
    apt = "apt-get update && apt-get install -y --no-install-recommends {} && rm -rf /var/lib/apt/lists/*"
    cmd = ["/opt/venv/bin/python", "-m", "vllm.entrypoints.openai.api_server", "--host", "0.0.0.0", "--port", str(port)]
    lines = [
        f"FROM {image('devel')} as builder",
        "ARG DEBIAN_FRONTEND=noninteractive",
        "RUN " + apt.format("python3 python3-venv python3-pip build-essential"),
        "RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir --upgrade pip",
        "RUN /opt/venv/bin/pip install --no-cache-dir " + " ".join(packages),
        "",
        f"FROM {image('runtime')}",
        "RUN " + apt.format("python3 ca-certificates curl"),
        f"RUN groupadd -g {uid} app && useradd -u {uid} -g {uid} -m app",
        "COPY --from=builder /opt/venv /opt/venv",
        "WORKDIR /home/app",
        f"USER {uid}:{uid}",
        f"EXPOSE {port}/tcp",
        f'HEALTHCHECK CMD curl --fail http://127.0.0.1:{port}/health || exit 1',
        "ENTRYPOINT " + json.dumps(cmd),
    ]
    return "\n".join(lines) + "\n"
