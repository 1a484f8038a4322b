"""Label selectors (equality and set-based) and the field selectors clients use."""

from __future__ import annotations

import pytest

from aiinfn_hub.sandbox.testing import wait_until

from .cluster import Cluster

pytestmark = pytest.mark.contract


async def names(cluster: Cluster, **selectors: str) -> set[str]:
    listed = await cluster.core.list_namespaced_config_map(cluster.namespace, **selectors)
    return {i.metadata.name for i in listed.items if i.metadata.name != "kube-root-ca.crt"}


async def test_label_selectors(cluster: Cluster) -> None:
    await cluster.configmap("cpu-short", {"site": "local", "tier": "short"})
    await cluster.configmap("gpu-long", {"site": "leonardo", "tier": "long", "gpu": "a100"})
    await cluster.configmap("cpu-long", {"site": "tier1", "tier": "long"})
    await cluster.configmap("bare")

    async def select(selector: str) -> set[str]:
        return await names(cluster, label_selector=selector)

    assert await select("site=local") == {"cpu-short"}
    assert await select("site==leonardo") == {"gpu-long"}
    assert await select("tier!=long") == {"cpu-short", "bare"}
    assert await select("site in (local, tier1)") == {"cpu-short", "cpu-long"}
    assert await select("site notin (local,tier1)") == {"gpu-long", "bare"}
    assert await select("gpu") == {"gpu-long"}
    assert await select("!gpu") == {"cpu-short", "cpu-long", "bare"}
    assert await select("tier=long,!gpu") == {"cpu-long"}
    assert await select("tier=long,site in (leonardo)") == {"gpu-long"}
    assert await select("") == {"cpu-short", "gpu-long", "cpu-long", "bare"}


async def test_field_selectors_on_metadata(cluster: Cluster) -> None:
    await cluster.configmap("alpha")
    await cluster.configmap("beta")
    assert await names(cluster, field_selector="metadata.name=alpha") == {"alpha"}
    assert await names(cluster, field_selector="metadata.name!=alpha") == {"beta"}
    everywhere = await cluster.core.list_config_map_for_all_namespaces(
        field_selector=f"metadata.namespace={cluster.namespace},metadata.name=beta"
    )
    assert [(i.metadata.namespace, i.metadata.name) for i in everywhere.items] == [
        (cluster.namespace, "beta")
    ]


async def test_event_field_selectors(cluster: Cluster) -> None:
    for kind, name, reason in (("Pod", "p1", "Started"), ("Job", "p1", "Completed")):
        await cluster.core.create_namespaced_event(
            cluster.namespace,
            {
                "metadata": {"generateName": f"{name}."},
                "involvedObject": {
                    "kind": kind,
                    "name": name,
                    "namespace": cluster.namespace,
                    "uid": f"uid-{kind}",
                },
                "reason": reason,
                "message": f"{kind} {reason}",
                "type": "Normal",
                "source": {"component": "contract-test"},
            },
        )

    async def reasons(selector: str) -> set[str]:
        listed = await cluster.core.list_namespaced_event(
            cluster.namespace, field_selector=selector
        )
        return {e.reason for e in listed.items}

    assert await reasons("involvedObject.kind=Pod,involvedObject.name=p1") == {"Started"}
    assert await reasons("involvedObject.name=p1") == {"Started", "Completed"}
    assert await reasons("involvedObject.uid=uid-Job") == {"Completed"}
    assert await reasons(f"involvedObject.namespace={cluster.namespace},reason=Started") == {
        "Started"
    }
    assert await reasons("involvedObject.kind=Pod,type=Warning") == set()


async def test_pod_field_selectors(cluster: Cluster) -> None:
    await cluster.core.create_namespaced_pod(cluster.namespace, cluster.pod("done", "true"))
    stuck = cluster.pod("stuck", "true", nodeSelector={"example.com/nowhere": "true"})
    await cluster.core.create_namespaced_pod(cluster.namespace, stuck)

    async def succeeded():
        pod = await cluster.core.read_namespaced_pod("done", cluster.namespace)
        return pod if pod.status.phase == "Succeeded" else None

    done = await wait_until(succeeded, timeout=120, message="pod done to succeed")

    async def pods(selector: str) -> set[str]:
        listed = await cluster.core.list_namespaced_pod(cluster.namespace, field_selector=selector)
        return {p.metadata.name for p in listed.items}

    assert await pods("status.phase=Succeeded") == {"done"}
    assert await pods("status.phase=Pending") == {"stuck"}
    assert await pods("status.phase!=Succeeded,status.phase!=Failed") == {"stuck"}
    assert await pods(f"spec.nodeName={done.spec.node_name}") == {"done"}
    assert await pods("spec.nodeName=") == {"stuck"}
    everywhere = await cluster.core.list_pod_for_all_namespaces(
        field_selector=f"metadata.namespace={cluster.namespace},status.phase=Succeeded"
    )
    assert [p.metadata.name for p in everywhere.items] == ["done"]
