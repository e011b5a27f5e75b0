# builds the objects with the official client's classes and serializes them

import re

from kubernetes import client


def k8s_manifests(name, image, *, model, gpus=1, port=8000, min_replicas=1, max_replicas=4, queue_target=16):
    if len(name) > 63 or not re.match(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$", name):
        raise ValueError(f"invalid name {name!r}")
    if gpus < 1 or min_replicas < 1 or max_replicas < min_replicas:
        raise ValueError("bad gpus or replica bounds")
    labels = {"app": name}
    meta = client.V1ObjectMeta(name=name, labels=labels)
    http = lambda path, period, fails: client.V1Probe(http_get=client.V1HTTPGetAction(path=path, port="http"),
                                                      period_seconds=period, failure_threshold=fails)
    gpu = {"nvidia.com/gpu": str(gpus)}
    ctr = client.V1Container(
        name="server", image=image, args=["--model", model, "--port", str(port)],
        ports=[client.V1ContainerPort(name="http", container_port=port)],
        resources=client.V1ResourceRequirements(limits=dict(gpu), requests=dict(gpu)),
        startup_probe=http("/health", 15, 48), liveness_probe=http("/health", 20, 3),
        readiness_probe=http("/v1/models", 10, 2),
        security_context=client.V1SecurityContext(run_as_non_root=True, allow_privilege_escalation=False,
                                                  run_as_user=10001))
    dep = client.V1Deployment(api_version="apps/v1", kind="Deployment", metadata=meta, spec=client.V1DeploymentSpec(
        replicas=min_replicas, selector=client.V1LabelSelector(match_labels=labels),
        template=client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels=labels), spec=client.V1PodSpec(
            containers=[ctr], tolerations=[client.V1Toleration(key="nvidia.com/gpu", operator="Exists",
                                                               effect="NoSchedule")]))))
    svc = client.V1Service(api_version="v1", kind="Service", metadata=meta, spec=client.V1ServiceSpec(
        selector=labels, ports=[client.V1ServicePort(name="http", port=80, target_port="http")]))
    hpa = client.V2HorizontalPodAutoscaler(
        api_version="autoscaling/v2", kind="HorizontalPodAutoscaler", metadata=meta,
        spec=client.V2HorizontalPodAutoscalerSpec(
            scale_target_ref=client.V2CrossVersionObjectReference(api_version="apps/v1", kind="Deployment", name=name),
            min_replicas=min_replicas, max_replicas=max_replicas,
            metrics=[client.V2MetricSpec(type="Pods", pods=client.V2PodsMetricSource(
                metric=client.V2MetricIdentifier(name="vllm_num_requests_waiting"),
                target=client.V2MetricTarget(type="AverageValue", average_value=str(queue_target))))],
            behavior=client.V2HorizontalPodAutoscalerBehavior(
                scale_down=client.V2HPAScalingRules(stabilization_window_seconds=300))))
    api = client.ApiClient()
    return [api.sanitize_for_serialization(o) for o in (dep, svc, hpa)]
