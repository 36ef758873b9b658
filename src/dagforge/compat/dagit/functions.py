"""DAGit's ``Functions`` class (``from functions import Functions``) on dagforge's platform.

``register_function(path_to_script, function_name, dockerfile, type)`` registers a
function served over HTTP from a container; ``list_functions()``, ``get_function(name)``
and ``delete_function(name)`` read and edit the function store. Calls go to a running
``dagforge serve`` through :class:`dagforge.Client` (``url=``, else ``DAGIT_URL`` /
``DAGFORGE_URL``, else ``http://127.0.0.1:5001``, DAGit's port).

dagforge does not build images: ``dockerfile`` names the image to run (DAGit's own
example passes a registry reference, ``"10.129.28.219:5000/glass_full"``); when it is
the path of an existing Dockerfile, the path is recorded and the image defaults to
``<function_name>:latest``. The function's URL is what the platform calls; it is
``url=`` when given, else ``http://<node_host>:<node_port>/`` when ``node_port=`` and a
node host (``node_host=`` or ``DAGIT_NODE_HOST``) are known, else the Service's
in-cluster address. :class:`~dagforge.compat.dagit.deployment.DeploymentManager`
re-registers the node-port URL once ``create_service()`` knows the port. The server
refuses a URL its ``--allow-url`` does not admit (a ``ClientError`` naming it).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from dagforge.errors import RegistryError
from dagforge.server import k8s

__all__ = ["FunctionInfo", "Functions"]

DEFAULT_URL = "http://127.0.0.1:5001"


class FunctionInfo(dict):
    """A registered function (the platform's record); ``.function_name`` is its name."""

    @property
    def function_name(self) -> str:
        return str(self["name"])

    @property
    def image(self) -> str | None:
        return self.get("image")


class Functions:
    def __init__(self, url: str | None = None, token: str | None = None, client: Any = None):
        if client is None:
            from dagforge.client import Client

            url = url or os.environ.get("DAGIT_URL") or os.environ.get("DAGFORGE_URL")
            client = Client(url or DEFAULT_URL, token=token or os.environ.get("DAGFORGE_TOKEN"))
        self.client = client

    def register_function(
        self,
        path_to_script: str,
        function_name: str,
        dockerfile: str,
        type: str = "cpu",
        *,
        url: str | None = None,
        port: int = 8080,
        node_host: str | None = None,
        node_port: int | None = None,
        namespace: str = "default",
    ) -> FunctionInfo:
        """Register ``function_name`` (``type`` ``"cpu"`` or ``"gpu"``) served by its image."""
        if type not in ("cpu", "gpu"):
            raise RegistryError(
                f"function {function_name!r}: type must be 'cpu' or 'gpu', got {type!r}"
            )
        script = Path(path_to_script)
        if not script.is_file():
            raise RegistryError(
                f"function {function_name!r}: the script {str(script)!r} does not exist; "
                f"give the path of the function's Python file"
            )
        k8s.kube_name(function_name)  # a name Kubernetes accepts, checked now
        if Path(dockerfile).is_file():
            record_dockerfile: str | None = str(dockerfile)
            image = f"{function_name}:latest"
        else:
            record_dockerfile, image = None, str(dockerfile)
        if url is None:
            host = node_host or os.environ.get("DAGIT_NODE_HOST")
            docs = k8s.manifests(function_name, image, port=port, namespace=namespace)
            url = (
                k8s.service_url(docs, host or "", node_port)
                if host and node_port
                else (k8s.service_url(docs, ""))
            )
        body = {
            "name": function_name,
            "kind": "http",
            "url": url,
            "type": type,
            "image": image,
            "script": str(script),
            "script_sha256": hashlib.sha256(script.read_bytes()).hexdigest(),
            "port": port,
        }
        if record_dockerfile:
            body["dockerfile"] = record_dockerfile
        return FunctionInfo(self.client.register_function(body))

    def list_functions(self) -> list[FunctionInfo]:
        return [FunctionInfo(f) for f in self.client.list_functions()]

    def get_function(self, function: str) -> FunctionInfo:
        return FunctionInfo(self.client.get_function(function))

    def delete_function(self, function: str) -> dict[str, Any]:
        return dict(self.client.delete_function(function))  # a plain dict, as DAGit returned
