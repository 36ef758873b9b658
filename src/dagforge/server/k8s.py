"""Kubernetes manifests for HTTP functions (DAGit's Deployment + NodePort Service + HPA)
and for the platform's own gateway replicas (``platform_manifests``).

``manifests(...)`` returns plain dicts (Deployment ``apps/v1``, Service ``v1`` of type
NodePort, HorizontalPodAutoscaler ``autoscaling/v2``) with DAGit's node selector
``type=cpu|gpu``. ``validate(...)`` deserializes them into the official ``kubernetes``
client's models, which reject unknown fields and wrong types, and checks them offline
against the official schemas with ``kubernetes-validate``; ``apply(...)`` creates
them through that client on the configured cluster.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
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
    node_port: int | None = None,
) -> list[dict[str, Any]]:
    """Deployment, NodePort Service and HPA for ``function`` served by ``image``.

    ``node_port`` pins the Service's node port (30000-32767) so the function's URL is
    known before the cluster assigns one.
    """
    name = kube_name(function)
    if node_port is not None and not 30000 <= node_port <= 32767:
        raise RegistryError(f"node port {node_port} is outside Kubernetes' range 30000-32767")
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
            "ports": [
                {
                    "port": port,
                    "targetPort": port,
                    "protocol": "TCP",
                    **({"nodePort": node_port} if node_port is not None else {}),
                }
            ],
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


def kube_name(function: str) -> str:
    """The Kubernetes name of a function (``glass_full`` -> ``glass-full``)."""
    name = function.replace("_", "-").lower()
    if not _NAME.match(name) or len(f"dagforge-{name}") > 63:
        raise RegistryError(
            f"function {function!r} does not make a valid Kubernetes name (lower-case "
            "letters, digits and '-', at most 54 characters)"
        )
    return name


def service_url(docs: list[dict[str, Any]], node_host: str, node_port: int | None = None) -> str:
    """The URL the platform calls: ``http://NODE:NODEPORT/`` when the node port is known
    (pinned or assigned by the cluster), else the Service's in-cluster DNS name."""
    service = next(d for d in docs if d["kind"] == "Service")
    port = service["spec"]["ports"][0]
    node_port = node_port or port.get("nodePort")
    if node_port:
        return f"http://{node_host}:{node_port}/"
    meta = service["metadata"]
    host = f"{meta['name']}.{meta.get('namespace', 'default')}.svc.cluster.local"
    return f"http://{host}:{port['port']}/"


def platform_manifests(
    image: str,
    *,
    replicas: int = 2,
    database_url_secret: str,
    database_url_key: str = "url",
    store: str | None = None,
    store_secret: str | None = None,
    store_key: str = "url",
    token_secret: str | None = None,
    token_key: str = "token",
    workers: int = 2,
    allow_modules: tuple[str, ...] = (),
    port: int = 5001,
    service_port: int = 80,
    service_type: str = "ClusterIP",
    cpu: str = "1",
    memory: str = "512Mi",
    namespace: str = "default",
    name: str = "dagforge-platform",
) -> list[dict[str, Any]]:
    """Deployment and Service for the gateway itself: ``replicas`` ``dagforge serve``
    processes on one database (several gateways, see ``docs/platform.md``).

    The database URL is never written into the manifests: it comes from the Secret
    ``database_url_secret`` (key ``database_url_key``) as ``DAGFORGE_DATABASE_URL``, and
    so does the store URL when ``store_secret`` is given (``DAGFORGE_STORE``) and the
    bearer token with ``token_secret`` (``DAGFORGE_TOKEN``). An init container runs
    ``dagforge db upgrade`` before each pod's server starts; pods are ready when
    ``/ready`` answers 200 (the journal and the store are reachable).
    """
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise RegistryError(f"--replicas must be an integer >= 1, got {replicas!r}")
    for label, secret in (
        ("--database-url-secret", database_url_secret),
        ("--store-secret", store_secret),
        ("--token-secret", token_secret),
    ):
        if secret is not None and (not _NAME.match(secret) or len(secret) > 253):
            raise RegistryError(
                f"{label} {secret!r} is not a Kubernetes Secret name (lower-case letters, "
                "digits and '-')"
            )
    if not _NAME.match(name) or len(name) > 63:
        raise RegistryError(f"--name {name!r} is not a valid Kubernetes name")
    if store and store_secret:
        raise RegistryError("give the store as --store URL or --store-secret NAME, not both")
    if service_type not in ("ClusterIP", "NodePort", "LoadBalancer"):
        raise RegistryError(
            f"--service-type must be ClusterIP, NodePort or LoadBalancer, got {service_type!r}"
        )
    for label, value in (("--port", port), ("--service-port", service_port)):
        if not 1 <= value <= 65535:
            raise RegistryError(f"{label} {value} is not a TCP port (1-65535)")

    def secret_env(var: str, secret: str, key: str) -> dict[str, Any]:
        return {
            "name": var,
            "valueFrom": {"secretKeyRef": {"name": secret, "key": key}},
        }

    env = [secret_env("DAGFORGE_DATABASE_URL", database_url_secret, database_url_key)]
    if store_secret:
        env.append(secret_env("DAGFORGE_STORE", store_secret, store_key))
    elif store:
        env.append({"name": "DAGFORGE_STORE", "value": store})
    if token_secret:
        env.append(secret_env("DAGFORGE_TOKEN", token_secret, token_key))
    args = ["serve", "--host", "0.0.0.0", "--port", str(port), "--workers", str(workers)]
    for module in allow_modules:
        args += ["--allow-module", module]
    labels = {"app": name, "dagforge/role": "gateway"}
    probe = {"httpGet": {"path": "/ready", "port": port}, "periodSeconds": 5}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    # a killed pod's leases expire and another replica resumes its runs
                    "terminationGracePeriodSeconds": 30,
                    "initContainers": [
                        {
                            "name": "db-upgrade",
                            "image": image,
                            "command": ["dagforge"],
                            "args": ["db", "upgrade"],
                            "env": env[:1],
                        }
                    ],
                    "containers": [
                        {
                            "name": "gateway",
                            "image": image,
                            "command": ["dagforge"],
                            "args": args,
                            "env": env,
                            "ports": [{"name": "http", "containerPort": port}],
                            "readinessProbe": probe,
                            "livenessProbe": {
                                "httpGet": {"path": "/health", "port": port},
                                "periodSeconds": 10,
                                "failureThreshold": 6,
                            },
                            "resources": {
                                "requests": {"cpu": cpu, "memory": memory},
                                "limits": {"memory": memory},
                            },
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
            "type": service_type,
            "selector": labels,
            "ports": [
                {"name": "http", "port": service_port, "targetPort": port, "protocol": "TCP"}
            ],
        },
    }
    return [deployment, service]


_MODELS = {
    "Deployment": "V1Deployment",
    "Service": "V1Service",
    "HorizontalPodAutoscaler": "V2HorizontalPodAutoscaler",
}

SCHEMA_VERSIONS = ("1.29.0", "1.33.0")  # Kubernetes releases the manifests are checked against


def validate_schemas(
    docs: list[dict[str, Any]], versions: tuple[str, ...] = SCHEMA_VERSIONS
) -> None:
    """Check each manifest offline against the official OpenAPI schemas of ``versions``
    (``kubernetes-validate``, strict: unknown fields are errors). Skipped, returning
    quietly, when kubernetes-validate is not installed (it is a development tool)."""
    try:
        import kubernetes_validate
    except ImportError:
        return
    for doc in docs:
        for version in versions:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                where = ".".join(str(p) for p in exc.path) or "(top level)"
                raise RegistryError(
                    f"{doc.get('kind')} {doc.get('metadata', {}).get('name')!r} is not valid "
                    f"Kubernetes {version} at {where}: {exc.message}"
                ) from None


def validate(docs: list[dict[str, Any]]) -> list[Any]:
    """Deserialize each manifest into its ``kubernetes`` model; raise on any mismatch."""
    import json

    from kubernetes import client

    api = client.ApiClient()
    models = []
    for doc in docs:
        model = _MODELS.get(str(doc.get("kind", "")))
        if model is None:
            raise RegistryError(f"no model for kind {doc.get('kind')!r}")

        obj = _deserialize(api, json.dumps(doc), model)
        if api.sanitize_for_serialization(obj) != _without_none(doc):
            raise RegistryError(f"{doc['kind']} manifest has fields the model does not know")
        models.append(obj)
    validate_schemas(docs)
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


def apply(docs: list[dict[str, Any]], api_client: Any = None) -> int | None:
    """Create (or, when they exist, patch) the objects on a cluster; return the
    Service's node port.

    Without ``api_client`` the cluster is the in-cluster service account or the current
    kubeconfig; if neither is configured this raises ``RegistryError`` before any call.
    """
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    api = api_client or _configured_client()
    node_port = None
    for doc in docs:
        ns = doc["metadata"].get("namespace", "default")
        name = doc["metadata"]["name"]
        # the client's methods take plain dicts as bodies (it serializes them); its
        # annotations ask for models, hence the Any
        body: Any = doc
        create: Callable[..., Any]
        patch: Callable[..., Any]
        if doc["kind"] == "Deployment":
            apps = client.AppsV1Api(api)
            create, patch = apps.create_namespaced_deployment, apps.patch_namespaced_deployment
        elif doc["kind"] == "Service":
            core = client.CoreV1Api(api)
            create, patch = core.create_namespaced_service, core.patch_namespaced_service
        else:
            scale = client.AutoscalingV2Api(api)
            create = scale.create_namespaced_horizontal_pod_autoscaler
            patch = scale.patch_namespaced_horizontal_pod_autoscaler
        try:
            try:
                made = create(ns, body)
            except ApiException as exc:
                if exc.status != 409:  # 409: it exists already; bring it up to date
                    raise
                made = patch(name, ns, body)
        except ApiException as exc:
            raise RegistryError(
                f"Kubernetes refused {doc['kind']} {ns}/{name}: {exc.status} {exc.reason}"
                f"{': ' + exc.body[:300] if exc.body else ''}"
            ) from exc
        except Exception as exc:  # connection refused, TLS, timeouts ...
            raise RegistryError(
                f"cannot reach the Kubernetes API to apply {doc['kind']} {ns}/{name}: {exc}"
            ) from exc
        if doc["kind"] == "Service":
            ports = getattr(getattr(made, "spec", None), "ports", None) or []
            node_port = getattr(ports[0], "node_port", None) if ports else None
    return node_port


def _configured_client() -> Any:
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    try:
        config.load_incluster_config()
    except ConfigException:
        try:
            # KUBECONFIG read now (the client reads it once, at import)
            config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))
        except (ConfigException, OSError) as exc:
            raise RegistryError(
                "no Kubernetes cluster is configured (no in-cluster service account and "
                f"no usable kubeconfig: {exc}); set KUBECONFIG, or write the YAML with "
                "--out and apply it with kubectl"
            ) from exc
    return client.ApiClient()
