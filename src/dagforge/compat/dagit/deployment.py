"""DAGit's ``DeploymentManager`` (``from deployment import DeploymentManager``).

Creates, updates and deletes a function's Deployment, NodePort Service and
HorizontalPodAutoscaler through the official ``kubernetes`` client. Every manifest is
built by :func:`dagforge.server.k8s.manifests` and validated as the platform validates
its own (deserialized into the client's models, which refuse unknown fields, then checked
against the official schemas) before anything is sent; updates are validated by
validating the full object they produce.

Names are DAGit's, made valid for Kubernetes (lower case, ``_`` -> ``-``): the Deployment
is ``dagit-deployment-<function>``, the Service and the HPA are ``<function>``. So the
seed's ``"dagit-deployment-" + deployment.function_name`` names the Deployment even for
``glass_full`` (Kubernetes calls it ``dagit-deployment-glass-full``).

The cluster is ``api_client=`` when given, else the in-cluster service account or the
current kubeconfig; without one, a ``RegistryError`` says so before any call.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from typing import Any

from dagforge.errors import RegistryError
from dagforge.server import k8s

__all__ = ["DeploymentManager"]

_QUANTITY = re.compile(r"^([0-9]+(\.[0-9]+)?)(m)?$")


def _kube(name: str) -> str:
    kname = str(name).replace("_", "-").lower()
    if not re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", kname) or len(kname) > 63:
        raise RegistryError(f"{name!r} does not make a valid Kubernetes name")
    return kname


_MEMORY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei)?$")


def _memory(value: Any) -> str:
    if not _MEMORY.match(str(value)):
        raise RegistryError(f"memory {value!r} is not a Kubernetes quantity (e.g. '256Mi', '1G')")
    return str(value)


def _cpu(value: Any, what: str) -> float:
    m = _QUANTITY.match(str(value))
    if not m:
        raise RegistryError(f"{what} {value!r} is not a CPU quantity (e.g. '500m' or '1' or '0.5')")
    amount = float(m.group(1))
    return amount / 1000 if m.group(3) else amount


def _validate(docs: list[dict[str, Any]]) -> None:
    """The platform's validation; a model's own error (e.g. pydantic's) named as ours."""
    try:
        k8s.validate(docs)
    except RegistryError:
        raise
    except Exception as exc:
        kinds = ", ".join(f"{d.get('kind')} {d.get('metadata', {}).get('name')!r}" for d in docs)
        raise RegistryError(f"invalid Kubernetes manifest ({kinds}): {exc}") from exc


class DeploymentManager:
    def __init__(
        self,
        func: str | Mapping[str, Any],
        *,
        image: str | None = None,
        namespace: str = "default",
        port: int | None = None,
        cpu: str = "500m",
        memory: str = "256Mi",
        api_client: Any = None,
        functions: Any = None,
        node_host: str | None = None,
    ):
        if isinstance(func, Mapping):
            self.function_name = str(func.get("name") or func.get("function_name"))
            self.info: dict[str, Any] = dict(func)
        else:
            self.function_name = str(func)
            self.info = {"name": self.function_name}
        self.image = image or self.info.get("image")
        self.gpu = self.info.get("type") == "gpu"
        self.namespace = namespace
        self.port = int(port or self.info.get("port") or 8080)
        self.cpu = cpu
        self.memory = memory
        self.functions = functions
        self.node_host = node_host or os.environ.get("DAGIT_NODE_HOST")
        self._api = api_client
        self.min_replicas = 1
        self.max_replicas = 70
        self.node_port: int | None = None

    # -- names and manifests ----------------------------------------------------------------

    @property
    def deployment_name(self) -> str:
        return _kube(f"dagit-deployment-{self.function_name}")

    @property
    def service_name(self) -> str:
        return _kube(self.function_name)

    @property
    def hpa_name(self) -> str:
        return _kube(self.function_name)

    def manifests(self) -> list[dict[str, Any]]:
        """Deployment, Service and HPA with DAGit's names, validated."""
        if not self.image:
            raise RegistryError(
                f"function {self.function_name!r}: no image to deploy; register it with "
                f"Functions().register_function(...) and pass its record, or give image="
            )
        _cpu(self.cpu, "cpu")
        _memory(self.memory)
        deployment, service, hpa = k8s.manifests(
            self.function_name,
            self.image,
            port=self.port,
            min_replicas=self.min_replicas,
            max_replicas=self.max_replicas,
            cpu=self.cpu,
            memory=self.memory,
            gpu=self.gpu,
            namespace=self.namespace,
        )
        deployment["metadata"]["name"] = self.deployment_name
        hpa["spec"]["scaleTargetRef"]["name"] = self.deployment_name
        docs = [deployment, service, hpa]
        _validate(docs)
        return docs

    def _doc(self, kind: str) -> dict[str, Any]:
        return next(d for d in self.manifests() if d["kind"] == kind)

    def _client(self) -> Any:
        if self._api is None:
            self._api = k8s._configured_client()
        return self._api

    # -- DAGit's eight methods ------------------------------------------------------------------

    def create_deployment(self) -> str:
        """Create (or bring up to date) the Deployment; returns its name."""
        k8s.apply([self._doc("Deployment")], self._client())
        return self.deployment_name

    def create_service(self) -> int | None:
        """Create the NodePort Service; returns the node port the cluster assigned.

        With a node host known (``node_host=`` / ``DAGIT_NODE_HOST``) and a ``functions=``
        client, the function is re-registered with its ``http://host:port/`` URL.
        """
        service = self._doc("Service")
        self.node_port = k8s.apply([service], self._client())
        if self.node_port and self.node_host and self.functions is not None:
            record = dict(self.functions.get_function(self.function_name))
            record["url"] = k8s.service_url([service], self.node_host, self.node_port)
            self.functions.client.register_function(record)
        return self.node_port

    def set_autoscaling(self, min_replicas: int = 1, max_replicas: int = 70) -> str:
        """Create the HPA scaling the Deployment between the two bounds; returns its name."""
        self.min_replicas, self.max_replicas = int(min_replicas), int(max_replicas)
        k8s.apply([self._doc("HorizontalPodAutoscaler")], self._client())
        return self.hpa_name

    def update_hpa(self, hpa_name: str, new_min_replica: int, new_max_replica: int) -> None:
        if not 1 <= int(new_min_replica) <= int(new_max_replica):
            raise RegistryError(
                f"HPA {hpa_name!r}: replicas must satisfy 1 <= min ({new_min_replica}) <= "
                f"max ({new_max_replica})"
            )
        full = copy.deepcopy(self._doc("HorizontalPodAutoscaler"))
        full["metadata"]["name"] = _kube(hpa_name)
        full["spec"].update(minReplicas=int(new_min_replica), maxReplicas=int(new_max_replica))
        _validate([full])
        from kubernetes import client

        patch = {"spec": {"minReplicas": int(new_min_replica), "maxReplicas": int(new_max_replica)}}
        self._call(
            client.AutoscalingV2Api(self._client()).patch_namespaced_horizontal_pod_autoscaler,
            "HorizontalPodAutoscaler",
            _kube(hpa_name),
            patch,
        )
        self.min_replicas, self.max_replicas = int(new_min_replica), int(new_max_replica)

    def update_deployment_cpu_resources(
        self, deployment_name: str, cpu_request: str, cpu_limit: str
    ) -> None:
        """Set the CPU request and limit of the function's container (request <= limit)."""
        if _cpu(cpu_request, "cpu_request") > _cpu(cpu_limit, "cpu_limit"):
            raise RegistryError(
                f"deployment {deployment_name!r}: cpu_request {cpu_request!r} is above "
                f"cpu_limit {cpu_limit!r}"
            )
        full = copy.deepcopy(self._doc("Deployment"))
        full["metadata"]["name"] = _kube(deployment_name)
        container = full["spec"]["template"]["spec"]["containers"][0]
        container["resources"]["requests"]["cpu"] = str(cpu_request)
        container["resources"]["limits"]["cpu"] = str(cpu_limit)
        _validate([full])
        from kubernetes import client

        patch = {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": container["name"],
                                "resources": {
                                    "requests": {"cpu": str(cpu_request)},
                                    "limits": {"cpu": str(cpu_limit)},
                                },
                            }
                        ]
                    }
                }
            }
        }
        self._call(
            client.AppsV1Api(self._client()).patch_namespaced_deployment,
            "Deployment",
            _kube(deployment_name),
            patch,
        )
        self.cpu = str(cpu_limit)

    def delete_deployment(self, deployment_name: str) -> None:
        from kubernetes import client

        api = client.AppsV1Api(self._client())
        self._call(api.delete_namespaced_deployment, "Deployment", _kube(deployment_name))

    def delete_service(self, service_name: str) -> None:
        from kubernetes import client

        api = client.CoreV1Api(self._client())
        self._call(api.delete_namespaced_service, "Service", _kube(service_name))

    def delete_hpa(self, hpa_name: str) -> None:
        from kubernetes import client

        api = client.AutoscalingV2Api(self._client())
        self._call(
            api.delete_namespaced_horizontal_pod_autoscaler,
            "HorizontalPodAutoscaler",
            _kube(hpa_name),
        )

    def _call(self, method: Any, kind: str, name: str, *body: Any) -> Any:
        from kubernetes.client.exceptions import ApiException

        try:
            return method(name, self.namespace, *body)
        except ApiException as exc:
            raise RegistryError(
                f"Kubernetes refused {kind} {self.namespace}/{name}: {exc.status} {exc.reason}"
            ) from exc
        except Exception as exc:  # connection refused, TLS, timeouts ...
            raise RegistryError(
                f"cannot reach the Kubernetes API for {kind} {self.namespace}/{name}: {exc}"
            ) from exc
