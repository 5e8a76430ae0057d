"""`relay deploy MODEL --env ENV --emit k8s`: manifests valid against the Kubernetes schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pandas as pd
import pytest
import yaml
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

import relayml as relay
from relayml.cli import app

KUBERNETES = "1.30"
SECRET = "rly_not-to-be-copied-into-manifests"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with the registered model churn in project shop."""
    home = tmp_path_factory.mktemp("k8s") / "home"
    relay.init(project="shop", home=home)
    model = LogisticRegression().fit(pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]}), [0, 0, 1, 1])
    with relay.start_run(experiment="e") as run:
        run.log_model(model, "churn", [{"x": 0.5}])
    relay.init(project="teardown", home=home.parent / "teardown")
    return home


def _cli(home: Path, *args: str) -> Any:
    env = {"RELAY_HOME": str(home), "RELAY_PROJECT": "shop", "RELAY_TOKEN": SECRET,
           "RELAY_SERVER_URL": ""}  # fmt: skip
    return CliRunner().invoke(app, list(args), env=env)


def test_manifests_validate_and_wire_probes_secret_and_monitor(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "k8s"
    result = _cli(
        home, "deploy", "churn", "--env", "production", "--emit", "k8s", "--out", str(out),
        "--server-url", "http://relay.mlops.svc:8080", "--replicas", "2", "--namespace", "ml",
        "--cpu-limit", "2", "--memory-request", "256Mi", "--artifacts-url", "s3://ml/relay",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "deployment.yaml", "service.yaml", "servicemonitor.yaml",
    ]  # fmt: skip
    texts = {p.stem: p.read_text() for p in out.iterdir()}
    assert all(SECRET not in text for text in texts.values())
    deployment, service, monitor = (
        yaml.safe_load(texts[k]) for k in ("deployment", "service", "servicemonitor")
    )
    for manifest in (deployment, service):
        kubernetes_validate.validate(manifest, KUBERNETES, strict=True)

    spec = deployment["spec"]
    pod_labels = spec["template"]["metadata"]["labels"]
    assert spec["replicas"] == 2 and deployment["metadata"]["namespace"] == "ml"
    assert spec["selector"]["matchLabels"].items() <= pod_labels.items()
    (container,) = spec["template"]["spec"]["containers"]
    assert container["image"] == f"relayml:{relay.__version__}"
    assert container["args"][:3] == ["relay", "serve", "churn@production"]
    env = {e["name"]: e for e in container["env"]}
    assert env["RELAY_SERVER_URL"]["value"] == "http://relay.mlops.svc:8080"
    assert env["RELAY_ARTIFACTS_URL"]["value"] == "s3://ml/relay"
    assert "value" not in env["RELAY_TOKEN"]
    assert env["RELAY_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "relay-token",
        "key": "token",
    }
    assert container["livenessProbe"]["httpGet"] == {"path": "/v2/health/live", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/v2/health/ready", "port": "http"}
    assert container["resources"] == {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "2", "memory": "1Gi"},
    }
    assert service["spec"]["selector"].items() <= pod_labels.items()
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == container["ports"][0]["name"]

    # ServiceMonitor is a CRD (monitoring.coreos.com/v1): the fields the operator requires.
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["kind"] == "ServiceMonitor"
    assert monitor["metadata"]["name"] and monitor["metadata"]["namespace"] == "ml"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint == {"port": port["name"], "path": "/metrics", "interval": "30s"}

    # Printing instead of writing gives the same three documents; no deployment was changed.
    image = "reg.example/relayml:1"
    printed = _cli(home, "deploy", "churn", "--env", "production", "--emit", "k8s",
                   "--server-url", "http://relay.mlops.svc:8080", "--image", image)  # fmt: skip
    assert printed.exit_code == 0, printed.output
    docs = list(yaml.safe_load_all(printed.stdout))
    assert [d["kind"] for d in docs] == ["Deployment", "Service", "ServiceMonitor"]
    assert docs[0]["spec"]["template"]["spec"]["containers"][0]["image"] == image
    listed = _cli(home, "deploy", "list", "--json")
    assert listed.exit_code == 0 and json.loads(listed.stdout) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "nosuch"], "nosuch"),
        (["--cpu-limit", "lots"], "--cpu-limit 'lots' is not a Kubernetes quantity"),
        (["--emit-as", "helm"], "--emit 'helm' is not known"),
        (["--no-server"], "pass --server-url"),
        (["--canary", "churn/1:10"], "drop --canary"),
        (["--token-secret", "Not_A_Name"], "is not a Secret name"),
        (["--artifacts-url", "/srv/artifacts"], "is a local path"),
    ],
)
def test_bad_emit_input_is_one_line_and_writes_nothing(
    home: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    model, emit, server = "churn", "k8s", ["--server-url", "http://relay:8080"]
    if args[0] == "--model":
        model, args = args[1], []
    elif args[0] == "--emit-as":
        emit, args = args[1], []
    elif args[0] == "--no-server":
        server, args = [], []
    out = tmp_path / "k8s"
    result = _cli(home, "deploy", model, "--env", "production", "--emit", emit,
                  "--out", str(out), *server, *args)  # fmt: skip
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert not out.exists()
