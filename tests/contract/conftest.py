"""Where the contract suite runs: the session sandbox by default, or a real cluster.

A real cluster is used when ``AIINFN_CONTRACT_KUBECONFIG`` names its kubeconfig, or when
``pytest -m contract`` runs with ``KUBECONFIG`` set (as read when pytest starts, before the
sandbox fixtures export their own). Each test gets a fresh namespace of its own and, on the
sandbox, a sandbox emptied before it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator

import pytest
from kubernetes_asyncio import client

from aiinfn_hub.sandbox.testing import kube_client, wait_until

from .cluster import Cluster

KUEUE_GROUP = "kueue.x-k8s.io"

#: KUBECONFIG as the user started pytest with it (the sandbox fixture replaces it later).
_USER_KUBECONFIG = os.environ.get("KUBECONFIG")


def real_kubeconfig(config: pytest.Config) -> str | None:
    """The kubeconfig of a real cluster to test, or None for the sandbox."""
    explicit = os.environ.get("AIINFN_CONTRACT_KUBECONFIG")
    if explicit:
        return explicit
    if _USER_KUBECONFIG and "contract" in (config.getoption("markexpr") or ""):
        return _USER_KUBECONFIG
    return None


def pytest_report_header(config: pytest.Config) -> str:
    target = real_kubeconfig(config)
    return f"contract suite target: {'cluster of ' + target if target else 'the sandbox'}"


@pytest.fixture
async def cluster(request: pytest.FixtureRequest) -> AsyncIterator[Cluster]:
    kubeconfig = real_kubeconfig(request.config)
    sandbox = None
    if kubeconfig is None:
        sandbox = request.getfixturevalue("sandbox")
        kubeconfig = str(sandbox.kubeconfig)
    elif not os.path.isfile(kubeconfig):
        pytest.fail(f"the contract suite's kubeconfig {kubeconfig} does not exist")
    api = await kube_client(kubeconfig)
    namespace = f"contract-{secrets.token_hex(3)}"
    core = client.CoreV1Api(api)
    await core.create_namespace({"metadata": {"name": namespace}})
    try:
        # pods need the namespace's default ServiceAccount, which a controller creates
        await wait_until(
            lambda: _exists(core.read_namespaced_service_account("default", namespace)),
            timeout=30,
            message=f"the default ServiceAccount of {namespace}",
        )
        yield Cluster(api, namespace, sandbox)
    finally:
        with contextlib.suppress(client.ApiException):
            await core.delete_namespace(namespace, propagation_policy="Background")
        await api.close()


def typed(version: str, kind: str) -> dict[str, str]:
    """The apiVersion and kind that a custom resource's body must carry (a built-in type's
    decoder fills them in from the URL; a custom resource's does not)."""
    return {"apiVersion": f"{KUEUE_GROUP}/{version}", "kind": kind}


@pytest.fixture
async def kueue(cluster: Cluster):
    """Kueue's preferred version, and a flavor, ClusterQueue and LocalQueue of the test's own."""
    version = await cluster.preferred_version(KUEUE_GROUP)
    if version is None:
        assert cluster.sandbox is None, "the sandbox always serves Kueue"
        pytest.skip("this cluster has no Kueue CRDs")
    name = cluster.namespace
    custom = cluster.custom
    flavor = {**typed(version, "ResourceFlavor"), "metadata": {"name": name}, "spec": {}}
    await custom.create_cluster_custom_object(KUEUE_GROUP, version, "resourceflavors", flavor)
    cq = {
        **typed(version, "ClusterQueue"),
        "metadata": {"name": name},
        "spec": {
            "namespaceSelector": {
                "matchLabels": {"kubernetes.io/metadata.name": cluster.namespace}
            },
            "resourceGroups": [
                {
                    "coveredResources": ["cpu", "memory"],
                    "flavors": [
                        {
                            "name": name,
                            "resources": [
                                {"name": "cpu", "nominalQuota": "1"},
                                {"name": "memory", "nominalQuota": "1Gi"},
                            ],
                        }
                    ],
                }
            ],
        },
    }
    await custom.create_cluster_custom_object(KUEUE_GROUP, version, "clusterqueues", cq)
    lq = {
        **typed(version, "LocalQueue"),
        "metadata": {"name": "queue"},
        "spec": {"clusterQueue": name},
    }
    await custom.create_namespaced_custom_object(
        KUEUE_GROUP, version, cluster.namespace, "localqueues", lq
    )
    try:
        yield version
    finally:
        for plural in ("clusterqueues", "resourceflavors"):
            with contextlib.suppress(client.ApiException):
                await custom.delete_cluster_custom_object(KUEUE_GROUP, version, plural, name)


async def _exists(call) -> bool:
    try:
        await call
        return True
    except client.ApiException as exc:
        if exc.status == 404:
            return False
        raise
