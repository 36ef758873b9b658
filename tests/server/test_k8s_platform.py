"""``deploy k8s-platform`` and ``db upgrade|check``: manifests checked offline against the
official Kubernetes schemas (kubernetes-validate) and the client's models."""

from __future__ import annotations

import copy

import pytest
import yaml
from typer.testing import CliRunner

from dagforge.cli import app as cli
from dagforge.errors import RegistryError
from dagforge.server import k8s


def platform_docs(**kwargs):
    kwargs.setdefault("replicas", 3)
    kwargs.setdefault("database_url_secret", "dagforge-db")
    return k8s.platform_manifests("registry.local/dagforge:1", **kwargs)


def test_platform_manifests_are_valid_for_every_checked_release() -> None:
    docs = platform_docs(store="redis://redis:6379/0", token_secret="dagforge-token")
    assert [type(m).__name__ for m in k8s.validate(docs)] == ["V1Deployment", "V1Service"]
    for version in k8s.SCHEMA_VERSIONS:
        k8s.validate_schemas(docs, (version,))
    deployment, service = docs
    assert deployment["spec"]["replicas"] == 3
    pod = deployment["spec"]["template"]["spec"]
    gateway = pod["containers"][0]
    assert gateway["readinessProbe"]["httpGet"] == {"path": "/ready", "port": 5001}
    env = {e["name"]: e for e in gateway["env"]}
    assert env["DAGFORGE_DATABASE_URL"]["valueFrom"] == {
        "secretKeyRef": {"name": "dagforge-db", "key": "url"}
    }
    assert env["DAGFORGE_STORE"]["value"] == "redis://redis:6379/0"
    assert env["DAGFORGE_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "dagforge-token"
    assert gateway["args"][:3] == ["serve", "--host", "0.0.0.0"]
    assert pod["initContainers"][0]["args"] == ["db", "upgrade"]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == 5001


def test_function_manifests_also_pass_the_official_schemas() -> None:
    docs = k8s.manifests("glass_full", "reg/glass:1", gpu=True, node_port=31000)
    k8s.validate_schemas(docs)


def test_schema_check_names_the_kind_and_path() -> None:
    docs = platform_docs()
    broken = copy.deepcopy(docs)
    broken[1]["spec"]["ports"][0]["port"] = "eighty"
    with pytest.raises(RegistryError, match=r"Service 'dagforge-platform'.*spec\.ports\.0\.port"):
        k8s.validate_schemas(broken)
    unknown = copy.deepcopy(docs)
    unknown[0]["spec"]["template"]["spec"]["containers"][0]["readyProbe"] = {}
    with pytest.raises(RegistryError, match="readyProbe"):
        k8s.validate_schemas(unknown)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"replicas": 0}, "--replicas"),
        ({"database_url_secret": "Bad_Name"}, "--database-url-secret 'Bad_Name'"),
        ({"store": "redis://r", "store_secret": "s"}, "not both"),
        ({"service_type": "Ingress"}, "--service-type"),
        ({"port": 70000}, "--port 70000"),
    ],
)
def test_bad_options_are_named(kwargs, words) -> None:
    with pytest.raises(RegistryError, match=words):
        platform_docs(**kwargs)


def test_cli_writes_validated_yaml_without_the_secret(tmp_path) -> None:
    out = tmp_path / "platform.yaml"
    r = CliRunner().invoke(
        cli,
        [
            "deploy",
            "k8s-platform",
            "--image",
            "reg/dagforge:1",
            "--replicas",
            "4",
            "--database-url-secret",
            "pg-url",
            "--store-secret",
            "store-url",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    docs = list(yaml.safe_load_all(out.read_text()))
    assert [d["kind"] for d in docs] == ["Deployment", "Service"]
    assert docs[0]["spec"]["replicas"] == 4
    k8s.validate(docs)
    assert "postgresql://" not in out.read_text()
    r = CliRunner().invoke(
        cli, ["deploy", "k8s-platform", "--image", "i", "--database-url-secret", "UPPER"]
    )
    assert r.exit_code == 2 and "UPPER" in r.output


def test_db_upgrade_and_check_from_the_cli(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/j.sqlite3"
    runner = CliRunner()
    r = runner.invoke(cli, ["db", "check", "--database-url", url])
    assert r.exit_code == 2 and "dagforge db upgrade" in r.output
    r = runner.invoke(cli, ["db", "upgrade", "--database-url", url])
    assert r.exit_code == 0 and "created at revision 0001" in r.output
    r = runner.invoke(cli, ["db", "upgrade", "--database-url", url])
    assert r.exit_code == 0 and "already at revision 0001" in r.output
    r = runner.invoke(cli, ["db", "check", "--database-url", url])
    assert r.exit_code == 0 and "current" in r.output
    r = runner.invoke(cli, ["db", "upgrade", "--database-url", "mysql://x/y"])
    assert r.exit_code == 2 and "mysql" in r.output
