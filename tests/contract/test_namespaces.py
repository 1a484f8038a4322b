"""What every namespace holds from its start: objects the controllers put there."""

from __future__ import annotations

import pytest

from aiinfn_hub.sandbox.testing import wait_until

from .cluster import Cluster

pytestmark = pytest.mark.contract

ROOT_CA = "kube-root-ca.crt"
DESCRIPTION = "kubernetes.io/description"


async def test_every_namespace_has_the_root_ca_configmap(cluster: Cluster) -> None:
    """The root CA publisher of the controller-manager keeps kube-root-ca.crt in every
    namespace and puts it back, whole, when it is deleted or changed."""
    core = cluster.core

    async def published() -> object:
        listed = await core.list_namespaced_config_map(
            cluster.namespace, field_selector=f"metadata.name={ROOT_CA}"
        )
        return listed.items[0] if listed.items else None

    first = await wait_until(published, timeout=30, message="kube-root-ca.crt")
    assert set(first.data) == {"ca.crt"}
    assert "kube-apiserver" in first.metadata.annotations[DESCRIPTION]
    assert await core.read_namespaced_service_account("default", cluster.namespace)

    await core.patch_namespaced_config_map(
        ROOT_CA, cluster.namespace, {"data": {"ca.crt": "changed", "extra": "x"}}
    )

    async def restored() -> object:
        current = await core.read_namespaced_config_map(ROOT_CA, cluster.namespace)
        return current if current.data == first.data else None

    await wait_until(restored, timeout=30, message="kube-root-ca.crt put back")
    await core.delete_namespaced_config_map(ROOT_CA, cluster.namespace)

    async def recreated() -> object:
        current = await published()
        return current if current and current.metadata.uid != first.metadata.uid else None

    again = await wait_until(recreated, timeout=30, message="kube-root-ca.crt recreated")
    assert again.data == first.data
    assert again.metadata.annotations[DESCRIPTION] == first.metadata.annotations[DESCRIPTION]
