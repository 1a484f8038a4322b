"""The spawner's shared watch cache says why it cannot sync, as the jobs service does: one
line in the hub's log naming what is missing and the command that fixes it, once."""

from __future__ import annotations

import logging

from aiinfn_hub.kube.client import Kube
from aiinfn_hub.sandbox.testing import kube_client
from aiinfn_hub.spawner import ClusterView

ACCOUNT = "system:serviceaccount:ai-infn:hub"


async def test_a_missing_permission_is_said_once_with_the_fix(sandbox, caplog):
    sandbox.faults.forbid("nodes", verbs=("list", "watch"), user=ACCOUNT)
    api = await kube_client(sandbox.kubeconfig)
    view = ClusterView(Kube(api, "ai-infn"))
    try:
        with caplog.at_level(logging.INFO, logger="aiinfn_hub"):
            assert await view.ready(1.0) is False
            assert await view.ready(1.0) is False  # the form renders again: not said again
            said = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert [r.getMessage() for r in said] == [
            "the spawn form shows no live GPU counts or site health: the service account "
            f"{ACCOUNT} may not list nodes (cluster-wide): kubectl apply -n ai-infn -f "
            "helm-values/rbac.yaml (with its namespace jhub changed to ai-infn)"
        ]
        sandbox.faults.forbid("nodes", user=ACCOUNT, on=False)
        assert await view.ready(60.0) is True
    finally:
        await view.nodes.stop()
        await view.pods.stop()
        await api.close()
