# readiness checks /health like liveness instead of /v1/models
"""Kubernetes manifests for a GPU inference server, generated from code.

``k8s_manifests(name, image, model=..., ...)`` returns three plain dicts (``yaml.safe_dump_all`` of the
list is what ``kubectl apply -f`` reads), each with ``metadata.name == name`` and the label
``app: name``:

1. ``apps/v1`` **Deployment**: ``replicas = min_replicas``; selector and pod labels ``app: name``; one
   container ``server`` running ``image`` with ``args = ["--model", model, "--port", str(port)]``, a port
   named ``http``; ``nvidia.com/gpu`` = ``str(gpus)`` in both limits and requests; a startupProbe
   (``/health``, allowing at least 600 s for the model to load: periodSeconds * failureThreshold >= 600),
   a livenessProbe (``/health``) and a readinessProbe (``/v1/models``), all ``httpGet`` on port ``http``;
   container securityContext ``runAsNonRoot: true``, ``allowPrivilegeEscalation: false``; a toleration
   for the GPU nodes' taint (key ``nvidia.com/gpu``, operator ``Exists``, effect ``NoSchedule``).
2. ``v1`` **Service** (``ClusterIP``): selector ``app: name``, port 80 -> targetPort ``http``.
3. ``autoscaling/v2`` **HorizontalPodAutoscaler** on the Deployment: min/max replicas, one ``Pods``
   metric ``vllm_num_requests_waiting`` with an ``AverageValue`` target ``str(queue_target)``, and a
   scale-down stabilization window of 300 s.

ValueError for a name that is not a DNS-1123 label, gpus < 1, min_replicas < 1 or max < min.
"""
import re


def k8s_manifests(name, image, *, model, gpus=1, port=8000, min_replicas=1, max_replicas=4, queue_target=16):
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", name):
        raise ValueError(f"{name!r} is not a DNS-1123 label (lowercase letters, digits, '-', at most 63)")
    if gpus < 1:
        raise ValueError("gpus must be >= 1")
    if min_replicas < 1 or max_replicas < min_replicas:
        raise ValueError(f"need 1 <= min_replicas <= max_replicas, got {min_replicas}, {max_replicas}")
    labels = {"app": name}
    meta = {"name": name, "labels": dict(labels)}

    def probe(path, period, failures):
        return {"httpGet": {"path": path, "port": "http"}, "periodSeconds": period, "failureThreshold": failures}

    container = {
        "name": "server",
        "image": image,
        "args": ["--model", model, "--port", str(port)],
        "ports": [{"name": "http", "containerPort": port}],
        "resources": {"limits": {"nvidia.com/gpu": str(gpus)},
                      "requests": {"nvidia.com/gpu": str(gpus), "cpu": "4", "memory": "32Gi"}},
        "startupProbe": probe("/health", 10, 60),
        "livenessProbe": probe("/health", 10, 3),
        "readinessProbe": probe("/health", 5, 3),
        "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False},
    }
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
        "spec": {"replicas": min_replicas, "selector": {"matchLabels": dict(labels)},
                 "template": {"metadata": {"labels": dict(labels)},
                              "spec": {"containers": [container],
                                       "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists",
                                                        "effect": "NoSchedule"}]}}},
    }
    service = {"apiVersion": "v1", "kind": "Service", "metadata": dict(meta),
               "spec": {"type": "ClusterIP", "selector": dict(labels),
                        "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": dict(meta),
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                    "minReplicas": min_replicas, "maxReplicas": max_replicas,
                    "metrics": [{"type": "Pods", "pods": {"metric": {"name": "vllm_num_requests_waiting"},
                                                          "target": {"type": "AverageValue",
                                                                     "averageValue": str(queue_target)}}}],
                    "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}}}}
    return [deployment, service, hpa]
