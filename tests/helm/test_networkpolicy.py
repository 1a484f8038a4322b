"""helm-values/networkpolicy.yaml: jobs' pods get the egress rules of users' servers and no
ingress; it selects the pods the jobs service really creates and no other pod; and it lives
beside rbac.yaml because the chart's values cannot carry it."""

from __future__ import annotations

import ipaddress
from typing import Any

import jsonschema
import pytest
from kubernetes_asyncio.client import models
from traitlets.config import Config

from aiinfn_hub.sandbox.selectors import from_label_selector, matches
from aiinfn_hub.sandbox.testing import wait_until

from ..jobs.conftest import start_manager, stop_manager
from .helpers import HELM_VALUES, NAMESPACE, deep_merge, load_all, load_yaml, need_schemas

(POLICY,) = load_all(HELM_VALUES / "networkpolicy.yaml")
PRIVATE = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    """The values users' servers get: ours merged over the chart's defaults."""
    defaults = load_yaml(need_schemas() / "z2jh" / "values.yaml")
    return deep_merge(defaults, load_yaml(HELM_VALUES / "values.yaml"))


# ------------------------------------------------------------------------------ where it lives


@pytest.mark.parametrize("key", ["extraObjects", "extraManifests", "extraDeploy", "networkPolicy"])
def test_the_charts_values_cannot_carry_another_object(values, key):
    """The chart's schema refuses any top-level key it does not render itself, and none of its
    keys renders arbitrary objects: if a chart release adds one, move the policy there."""
    schema = load_yaml(need_schemas() / "z2jh" / "values.schema.yaml")
    assert schema["additionalProperties"] is False
    assert not any(k.lower().startswith("extra") for k in schema["properties"])
    errors = list(jsonschema.Draft7Validator(schema).iter_errors({**values, key: [POLICY]}))
    assert any(e.validator == "additionalProperties" and key in e.message for e in errors)


# ---------------------------------------------------------------------------------- its shape


def unknown_fields(data: Any, kind: str, path: str = "$") -> list[str]:
    """Fields of ``data`` that the Kubernetes type ``kind`` does not have, and values of the
    wrong type, from kubernetes_asyncio's models (generated from Kubernetes' OpenAPI)."""
    if kind.startswith("list["):
        if not isinstance(data, list):
            return [f"{path}: not a list"]
        item_kind = kind[5:-1]
        return [
            e
            for i, item in enumerate(data)
            for e in unknown_fields(item, item_kind, f"{path}[{i}]")
        ]
    if kind.startswith("dict("):
        value_kind = kind[5:-1].split(", ", 1)[1]
        if not isinstance(data, dict):
            return [f"{path}: not a map"]
        return [e for k, v in data.items() for e in unknown_fields(v, value_kind, f"{path}.{k}")]
    simple = {"str": str, "int": int, "bool": bool, "object": object}
    if kind in simple:
        ok = isinstance(data, simple[kind]) and not (kind == "int" and isinstance(data, bool))
        return [] if ok else [f"{path}: not {kind}"]
    model = getattr(models, kind)
    fields = {json_name: attr for attr, json_name in model.attribute_map.items()}
    if not isinstance(data, dict):
        return [f"{path}: not an object ({kind})"]
    found = [f"{path}.{k}: no such field of {kind}" for k in data if k not in fields]
    for key, value in data.items():
        if key in fields:
            found += unknown_fields(value, model.openapi_types[fields[key]], f"{path}.{key}")
    return found


def test_it_is_a_networking_v1_network_policy_of_the_hubs_namespace():
    assert (POLICY["apiVersion"], POLICY["kind"]) == ("networking.k8s.io/v1", "NetworkPolicy")
    assert POLICY["metadata"]["namespace"] == NAMESPACE
    assert unknown_fields(POLICY, "V1NetworkPolicy") == []
    broken = {**POLICY, "spec": {**POLICY["spec"], "egres": []}}
    assert unknown_fields(broken, "V1NetworkPolicy") == [
        "$.spec.egres: no such field of V1NetworkPolicySpec"
    ]


def test_no_ingress_at_all():
    spec = POLICY["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec.get("ingress") == []


# --------------------------------------------------------------------------------- its egress


def chart_egress(netpol: dict[str, Any], metadata_ip: str) -> list[dict[str, Any]]:
    """The egress rules the chart derives from a networkPolicy's egressAllowRules (its
    jupyterhub.networkPolicy.renderEgressRules), without the rules it adds per component."""
    allow = netpol["egressAllowRules"]
    metadata = {"ipBlock": {"cidr": f"{metadata_ip}/32"}}
    private = [{"ipBlock": {"cidr": cidr}} for cidr in PRIVATE]
    dns: list[dict[str, Any]] = []
    if allow["dnsPortsCloudMetadataServer"]:
        dns.append(metadata)
    if allow["dnsPortsKubeSystemNamespace"]:
        kube_system = {"kubernetes.io/metadata.name": "kube-system"}
        dns.append({"namespaceSelector": {"matchLabels": kube_system}})
    if allow["dnsPortsPrivateIPs"]:
        dns += private
    rules: list[dict[str, Any]] = []
    if dns:
        ports = [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
        rules.append({"ports": ports, "to": dns})
    if allow["nonPrivateIPs"]:
        anywhere = {"cidr": "0.0.0.0/0", "except": [*PRIVATE, f"{metadata_ip}/32"]}
        rules.append({"to": [{"ipBlock": anywhere}]})
    if allow["privateIPs"]:
        rules.append({"to": private})
    if allow["cloudMetadataServer"]:
        rules.append({"to": [metadata]})
    return rules


def test_the_egress_rules_are_those_of_users_servers(values):
    singleuser = values["singleuser"]
    expected = chart_egress(singleuser["networkPolicy"], singleuser["cloudMetadata"]["ip"])
    assert POLICY["spec"]["egress"] == expected
    # beyond these, users' servers reach the hub and the jobs service; jobs need neither
    extra = singleuser["networkPolicy"]["egress"]
    assert all(set(peer) == {"podSelector"} for rule in extra for peer in rule["to"])


def allowed(ip: str, port: int, protocol: str = "TCP") -> bool:
    """Whether the policy lets a job's pod open ``ip:port`` (peers given by address)."""
    address = ipaddress.ip_address(ip)
    for rule in POLICY["spec"]["egress"]:
        ports = rule.get("ports")
        if ports and not any(
            (p["port"], p.get("protocol", "TCP")) == (port, protocol) for p in ports
        ):
            continue
        blocks = [
            p["ipBlock"]
            for p in rule.get("to") or [{"ipBlock": {"cidr": "0.0.0.0/0"}}]
            if "ipBlock" in p
        ]  # peers chosen by label have no address
        for block in blocks:
            excepted = any(address in ipaddress.ip_network(e) for e in block.get("except", []))
            if address in ipaddress.ip_network(block["cidr"]) and not excepted:
                return True
    return False


@pytest.mark.parametrize(
    ("ip", "port", "protocol", "expected"),
    [
        ("131.154.1.1", 443, "TCP", True),  # the internet (a site's, a package index)
        ("10.96.0.10", 53, "UDP", True),  # the cluster's DNS
        ("10.96.0.1", 443, "TCP", False),  # the Kubernetes API server's ClusterIP
        ("10.244.3.17", 8081, "TCP", False),  # the hub, another pod
        ("172.20.0.5", 5432, "TCP", False),  # a database in the cluster
        ("192.168.10.4", 10250, "TCP", False),  # a node's kubelet
        ("169.254.169.254", 80, "TCP", False),  # the cloud metadata server
    ],
)
def test_where_a_job_may_connect(ip, port, protocol, expected):
    assert allowed(ip, port, protocol) is expected


# ------------------------------------------------------------------------------ what it selects


def selects(labels: dict[str, str]) -> bool:
    return matches(from_label_selector(POLICY["spec"]["podSelector"]), labels)


async def test_it_selects_a_real_job_pod_and_not_a_users_server(sandbox, values):
    from aiinfn_hub.spawner import AIInfnSpawner, ClusterView

    manager = await start_manager(str(sandbox.kubeconfig))
    try:
        body = {"command": ["sleep", "30"], "local_only": True}
        view, _ = await manager.submit("Mario.Rossi@INFN.it", body)
        tracked = manager.jobs[view["id"]]
        await wait_until(lambda: tracked.pods, message="the job's pod")
        (pod,) = tracked.pods.values()
        assert selects(pod["metadata"]["labels"]), pod["metadata"]["labels"]
        await manager.cancel("Mario.Rossi@INFN.it", False, view["id"])
    finally:
        await stop_manager(manager)

    config = Config()
    config.KubeSpawner.namespace = "default"
    config.KubeSpawner.extra_labels = values["singleuser"]["extraLabels"]  # as the chart does
    spawner = AIInfnSpawner(_mock=True, config=config)
    try:
        await spawner.load_user_options()
        server = await spawner.get_pod_manifest()
        assert not selects(server.metadata.labels), server.metadata.labels
    finally:
        await ClusterView.stop_all()
    for component in ("hub", "proxy", "user-scheduler"):
        assert not selects({"app": "jupyterhub", "component": component, "release": "jhub"})
