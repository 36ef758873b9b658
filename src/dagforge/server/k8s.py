"""Kubernetes manifests for HTTP functions (DAGit's Deployment + NodePort Service + HPA).

``manifests(...)`` returns plain dicts (Deployment ``apps/v1``, Service ``v1`` of type
NodePort, HorizontalPodAutoscaler ``autoscaling/v2``) with DAGit's node selector
``type=cpu|gpu``. ``validate(...)`` deserializes them into the official ``kubernetes``
client's models, which reject unknown fields and wrong types; ``apply(...)`` creates
them through that client on the configured cluster.
"""

from __future__ import annotations

import re
from typing import Any

from dagforge.errors import RegistryError

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def manifests(
    function: str,
    image: str,
    *,
    port: int = 8080,
    min_replicas: int = 1,
    max_replicas: int = 70,
    cpu: str = "500m",
    memory: str = "256Mi",
    gpu: bool = False,
    cpu_target: int = 70,
    namespace: str = "default",
) -> list[dict[str, Any]]:
    name = function.replace("_", "-").lower()
    if not _NAME.match(name) or len(name) > 63:
        raise RegistryError(f"function {function!r} does not make a valid Kubernetes name")
    if min_replicas < 1 or max_replicas < min_replicas:
        raise RegistryError(
            f"replicas must satisfy 1 <= min ({min_replicas}) <= max ({max_replicas})"
        )
    labels = {"app": f"dagforge-{name}", "dagforge/function": name}
    resources: dict[str, Any] = {
        "requests": {"cpu": cpu, "memory": memory},
        "limits": {"cpu": cpu, "memory": memory},
    }
    if gpu:
        resources["limits"]["nvidia.com/gpu"] = "1"  # quantities are strings
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": f"dagforge-deployment-{name}",
            "namespace": namespace,
            "labels": labels,
        },
        "spec": {
            "replicas": min_replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeSelector": {"type": "gpu" if gpu else "cpu"},
                    "containers": [
                        {
                            "name": name,
                            "image": image,
                            "ports": [{"containerPort": port}],
                            "resources": resources,
                        }
                    ],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "type": "NodePort",
            "selector": labels,
            "ports": [{"port": port, "targetPort": port, "protocol": "TCP"}],
        },
    }
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": f"dagforge-deployment-{name}",
            },
            "minReplicas": min_replicas,
            "maxReplicas": max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": cpu_target},
                    },
                }
            ],
        },
    }
    return [deployment, service, hpa]


_MODELS = {
    "Deployment": "V1Deployment",
    "Service": "V1Service",
    "HorizontalPodAutoscaler": "V2HorizontalPodAutoscaler",
}


def validate(docs: list[dict[str, Any]]) -> list[Any]:
    """Deserialize each manifest into its ``kubernetes`` model; raise on any mismatch."""
    import json

    from kubernetes import client

    api = client.ApiClient()
    models = []
    for doc in docs:
        model = _MODELS.get(doc.get("kind"))
        if model is None:
            raise RegistryError(f"no model for kind {doc.get('kind')!r}")

        obj = _deserialize(api, json.dumps(doc), model)
        if api.sanitize_for_serialization(obj) != _without_none(doc):
            raise RegistryError(f"{doc['kind']} manifest has fields the model does not know")
        models.append(obj)
    return models


def _deserialize(api: Any, text: str, model: str) -> Any:
    """``ApiClient.deserialize`` across client versions (text + content type, or a response)."""
    try:
        return api.deserialize(text, model, "application/json")
    except TypeError:

        class _Response:  # kubernetes < 33 takes a response object
            data = text

        return api.deserialize(_Response(), model)


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def to_yaml(docs: list[dict[str, Any]]) -> str:
    import yaml

    return yaml.safe_dump_all(docs, sort_keys=False)


def apply(docs: list[dict[str, Any]]) -> None:  # pragma: no cover - needs a cluster
    """Create the objects on the cluster of the current kubeconfig."""
    from kubernetes import client, config

    config.load_kube_config()
    api = client.ApiClient()
    for doc in docs:
        ns = doc["metadata"].get("namespace", "default")
        if doc["kind"] == "Deployment":
            client.AppsV1Api(api).create_namespaced_deployment(ns, doc)
        elif doc["kind"] == "Service":
            client.CoreV1Api(api).create_namespaced_service(ns, doc)
        else:
            client.AutoscalingV2Api(api).create_namespaced_horizontal_pod_autoscaler(ns, doc)
