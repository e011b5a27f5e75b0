# renders a YAML template and parses it back; numeric targetPort

import string

import yaml

TEMPLATE = string.Template("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: $name, labels: {app: $name, tier: inference}}
spec:
  replicas: $min
  selector: {matchLabels: {app: $name}}
  template:
    metadata: {labels: {app: $name, tier: inference}}
    spec:
      tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
      containers:
      - name: server
        image: "$image"
        args: ["--model", "$model", "--port", "$port"]
        ports: [{name: http, containerPort: $port, protocol: TCP}]
        resources:
          limits: {nvidia.com/gpu: "$gpus", memory: 64Gi}
          requests: {nvidia.com/gpu: "$gpus", memory: 48Gi, cpu: "8"}
        startupProbe: {httpGet: {path: /health, port: http}, periodSeconds: 5, failureThreshold: 180}
        livenessProbe: {httpGet: {path: /health, port: http}, periodSeconds: 15, timeoutSeconds: 5}
        readinessProbe: {httpGet: {path: /v1/models, port: http}, periodSeconds: 5}
        securityContext: {runAsNonRoot: true, runAsUser: 1000, allowPrivilegeEscalation: false,
                          capabilities: {drop: [ALL]}}
---
apiVersion: v1
kind: Service
metadata: {name: $name, labels: {app: $name}}
spec:
  selector: {app: $name}
  ports: [{name: http, port: 80, targetPort: $port}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: $name, labels: {app: $name}}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: $name}
  minReplicas: $min
  maxReplicas: $max
  metrics:
  - type: Pods
    pods:
      metric: {name: vllm_num_requests_waiting}
      target: {type: AverageValue, averageValue: "$target"}
  behavior:
    scaleDown: {stabilizationWindowSeconds: 300, policies: [{type: Pods, value: 1, periodSeconds: 120}]}
    scaleUp: {stabilizationWindowSeconds: 0}
""")


def k8s_manifests(name, image, *, model, gpus=1, port=8000, min_replicas=1, max_replicas=4, queue_target=16):
    ok = 0 < len(name) <= 63 and name[0].isalnum() and name[-1].isalnum() and \
        all(ch in "abcdefghijklmnopqrstuvwxyz0123456789-" for ch in name)
    if not ok or gpus < 1 or not 1 <= min_replicas <= max_replicas:
        raise ValueError("invalid arguments")
    text = TEMPLATE.substitute(name=name, image=image, model=model, port=port, gpus=gpus, min=min_replicas,
                               max=max_replicas, target=queue_target)
    return list(yaml.safe_load_all(text))
