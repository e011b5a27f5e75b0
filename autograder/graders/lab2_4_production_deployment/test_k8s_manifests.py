"""Hidden grader: Kubernetes Deployment / Service / HPA manifests (Lab 2.4, notebook 02).

Every document is validated against the Kubernetes API schema by the official client's models
(``kubernetes`` >= 35 ships pydantic models that reject unknown fields and wrong types), then its
content is checked against the exercise's rules.
"""
from __future__ import annotations

import copy

import yaml

from autograder.api import fail_with, points

EXERCISES = ["k8s_manifests"]
TIMEOUT_S = 120
TEST_TIMEOUT_S = 30

CASES = [dict(name="llm-chat", image="registry.example/llm-server:1.4.2", model="/models/llama-3-8b", gpus=1, port=8000,
              min_replicas=2, max_replicas=6, queue_target=16),
         dict(name="m7", image="ghcr.io/acme/vllm:0.6", model="mistral-7b", gpus=4, port=9001,
              min_replicas=1, max_replicas=1, queue_target=5)]


def call_text(case):
    kw = dict(case)
    return (f"k8s_manifests({kw.pop('name')!r}, {kw.pop('image')!r}, "
            + ", ".join(f"{k}={v!r}" for k, v in kw.items()) + ")")


def manifests(student, case):
    kw = dict(case)
    call = call_text(case)
    out = student.k8s_manifests(kw.pop("name"), kw.pop("image"), **kw)
    try:
        docs = list(out)
    except TypeError:
        fail_with(f"{call} returned {type(out).__name__}, expected a list of three dicts")
    if len(docs) != 3 or not all(isinstance(d, dict) for d in docs):
        fail_with(f"{call} should return [Deployment, Service, HorizontalPodAutoscaler] as dicts, got "
                  f"{[type(d).__name__ for d in docs]}")
    try:
        yaml.safe_load_all(yaml.safe_dump_all(docs))
    except Exception as exc:
        fail_with(f"yaml.safe_dump_all({call}) failed ({type(exc).__name__}): use plain dicts, lists, str, int, bool")
    kinds = [(d.get("apiVersion"), d.get("kind")) for d in docs]
    want = [("apps/v1", "Deployment"), ("v1", "Service"), ("autoscaling/v2", "HorizontalPodAutoscaler")]
    if kinds != want:
        fail_with(f"{call}: (apiVersion, kind) of the three documents are {kinds}, expected {want}")
    return call, copy.deepcopy(docs)


def validate(call, docs):
    try:
        from kubernetes.client import V1Deployment, V1Service, V2HorizontalPodAutoscaler
    except ImportError:
        fail_with("the official kubernetes client (pip package 'kubernetes') is not installed on the grading host; "
                  "ask the course staff: this is not your fault")
    for doc, model in zip(docs, (V1Deployment, V1Service, V2HorizontalPodAutoscaler)):
        try:
            model.model_validate(doc)
        except Exception as exc:
            text = str(exc).replace("\n", "; ")
            fail_with(f"{call}: the {doc.get('kind')} does not match the Kubernetes schema ({model.__name__}): {text[:500]}")


def container(call, dep):
    try:
        cs = dep["spec"]["template"]["spec"]["containers"]
    except (KeyError, TypeError):
        fail_with(f"{call}: the Deployment has no spec.template.spec.containers")
    if len(cs) != 1 or cs[0].get("name") != "server":
        fail_with(f"{call}: the Deployment should have one container named 'server', got {[c.get('name') for c in cs]}")
    return cs[0]


@points(2)
def test_schema_valid(student):
    """the three documents are valid Kubernetes objects (official client's schema)"""
    for case in CASES:
        call, docs = manifests(student, case)
        validate(call, docs)


@points(2)
def test_deployment_gpu_and_labels(student):
    """Deployment: replicas, selector = pod labels, image, args, named port, nvidia.com/gpu limits and requests"""
    for case in CASES:
        call, (dep, svc, hpa) = manifests(student, case)
        name = case["name"]
        for doc in (dep, svc, hpa):
            md = doc.get("metadata") or {}
            if md.get("name") != name or (md.get("labels") or {}).get("app") != name:
                fail_with(f"{call}: the {doc['kind']} should have metadata.name {name!r} and label app={name!r}, got {md}")
        spec = dep["spec"]
        if spec.get("replicas") != case["min_replicas"]:
            fail_with(f"{call}: Deployment spec.replicas is {spec.get('replicas')!r}, expected min_replicas "
                      f"{case['min_replicas']}")
        sel = (spec.get("selector") or {}).get("matchLabels")
        pod_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if sel != {"app": name} or pod_labels.get("app") != name:
            fail_with(f"{call}: selector.matchLabels {sel} must be {{'app': {name!r}}} and match the pod labels {pod_labels}")
        c = container(call, dep)
        if c.get("image") != case["image"]:
            fail_with(f"{call}: the container image is {c.get('image')!r}, expected {case['image']!r}")
        if c.get("args") != ["--model", case["model"], "--port", str(case["port"])]:
            fail_with(f"{call}: container args are {c.get('args')}, expected "
                      f"{['--model', case['model'], '--port', str(case['port'])]}")
        if {"name": "http", "containerPort": case["port"]} not in [
                {k: p.get(k) for k in ("name", "containerPort")} for p in c.get("ports") or []]:
            fail_with(f"{call}: the container should expose containerPort {case['port']} named 'http', got {c.get('ports')}")
        res = c.get("resources") or {}
        for kind in ("limits", "requests"):
            got = (res.get(kind) or {}).get("nvidia.com/gpu")
            if str(got) != str(case["gpus"]):
                fail_with(f"{call}: resources.{kind}['nvidia.com/gpu'] is {got!r}, expected '{case['gpus']}' "
                          f"(GPUs are an extended resource: set them in limits and requests alike)")


def probe_of(call, c, key, path):
    p = c.get(key)
    if not isinstance(p, dict):
        fail_with(f"{call}: the container has no {key}")
    get = p.get("httpGet") or {}
    if get.get("path") != path or get.get("port") not in ("http",):
        fail_with(f"{call}: {key} should be httpGet {path} on port 'http', got {p}")
    return p


@points(2)
def test_probes(student):
    """startup (/health, >= 600 s to load the model), liveness (/health) and readiness (/v1/models) probes"""
    for case in CASES[:1]:
        call, (dep, _, _) = manifests(student, case)
        c = container(call, dep)
        start = probe_of(call, c, "startupProbe", "/health")
        budget = start.get("periodSeconds", 10) * start.get("failureThreshold", 3)
        if budget < 600:
            fail_with(f"{call}: the startupProbe gives the server periodSeconds x failureThreshold = {budget} s to "
                      f"start; loading a large model needs at least 600 s (Kubernetes' defaults give 30 s)")
        probe_of(call, c, "livenessProbe", "/health")
        ready = probe_of(call, c, "readinessProbe", "/v1/models")
        if ready.get("periodSeconds", 10) > 30:
            fail_with(f"{call}: readinessProbe.periodSeconds {ready.get('periodSeconds')} is too slow to take a "
                      f"broken pod out of the Service (<= 30 s)")


@points(1)
def test_security_and_scheduling(student):
    """non-root, no privilege escalation, a toleration for the GPU nodes' taint"""
    call, (dep, _, _) = manifests(student, CASES[0])
    c = container(call, dep)
    sc = c.get("securityContext") or {}
    if sc.get("runAsNonRoot") is not True or sc.get("allowPrivilegeEscalation") is not False:
        fail_with(f"{call}: the container securityContext should have runAsNonRoot: true and "
                  f"allowPrivilegeEscalation: false, got {sc}")
    tol = dep["spec"]["template"]["spec"].get("tolerations") or []
    if not any(t.get("key") == "nvidia.com/gpu" and t.get("operator") == "Exists" and t.get("effect") == "NoSchedule"
               for t in tol):
        fail_with(f"{call}: the pod needs a toleration {{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}}, "
                  f"got {tol}")


@points(1)
def test_service(student):
    """Service: ClusterIP, selects the pods, port 80 -> the container's 'http' port"""
    for case in CASES:
        call, (_, svc, _) = manifests(student, case)
        spec = svc.get("spec") or {}
        if spec.get("type", "ClusterIP") != "ClusterIP":
            fail_with(f"{call}: the Service type is {spec.get('type')!r}, expected ClusterIP")
        if spec.get("selector") != {"app": case["name"]}:
            fail_with(f"{call}: the Service selector is {spec.get('selector')}, expected {{'app': {case['name']!r}}}")
        ports = spec.get("ports") or []
        if not any(p.get("port") == 80 and p.get("targetPort") in ("http", case["port"]) for p in ports):
            fail_with(f"{call}: the Service should map port 80 to targetPort 'http', got {ports}")


@points(2)
def test_hpa_custom_metric(student):
    """HPA v2 on the Deployment: min/max replicas, Pods metric vllm_num_requests_waiting, scale-down window 300 s"""
    for case in CASES:
        call, (_, _, hpa) = manifests(student, case)
        spec = hpa.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        if (ref.get("apiVersion"), ref.get("kind"), ref.get("name")) != ("apps/v1", "Deployment", case["name"]):
            fail_with(f"{call}: scaleTargetRef is {ref}, expected apps/v1 Deployment {case['name']!r}")
        if (spec.get("minReplicas"), spec.get("maxReplicas")) != (case["min_replicas"], case["max_replicas"]):
            fail_with(f"{call}: min/maxReplicas are {spec.get('minReplicas')}, {spec.get('maxReplicas')}, expected "
                      f"{case['min_replicas']}, {case['max_replicas']}")
        metrics = spec.get("metrics") or []
        ok = [m for m in metrics if m.get("type") == "Pods"
              and ((m.get("pods") or {}).get("metric") or {}).get("name") == "vllm_num_requests_waiting"]
        if len(metrics) != 1 or not ok:
            fail_with(f"{call}: the HPA should have one Pods metric vllm_num_requests_waiting, got {metrics}")
        target = ok[0]["pods"].get("target") or {}
        if target.get("type") != "AverageValue" or str(target.get("averageValue")) != str(case["queue_target"]):
            fail_with(f"{call}: the metric target is {target}, expected AverageValue '{case['queue_target']}'")
        window = ((spec.get("behavior") or {}).get("scaleDown") or {}).get("stabilizationWindowSeconds")
        if window != 300:
            fail_with(f"{call}: behavior.scaleDown.stabilizationWindowSeconds is {window!r}, expected 300")


@points(1)
def test_rejects_bad_arguments(student):
    """ValueError for a name that is not a DNS-1123 label, 0 GPUs, or min/max replicas that make no sense"""
    base = dict(CASES[0])
    for change, why in [(dict(name="LLM_Chat"), "uppercase and '_' in the name"), (dict(name="-llm"), "a leading '-'"),
                        (dict(name="a" * 64), "a 64-character name"), (dict(gpus=0), "gpus=0"),
                        (dict(min_replicas=0), "min_replicas=0"), (dict(min_replicas=5, max_replicas=3), "max < min")]:
        case = dict(base, **change)
        try:
            kw = dict(case)
            student.k8s_manifests(kw.pop("name"), kw.pop("image"), **kw)
        except ValueError:
            continue
        except Exception as exc:
            fail_with(f"{call_text(case)} raised {type(exc).__name__}; expected ValueError ({why})")
        fail_with(f"{call_text(case)} did not raise ValueError ({why})")
