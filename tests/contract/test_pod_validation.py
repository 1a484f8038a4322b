"""Pod spec validation a real API server does: tolerations, node affinity operators, resources.

Each case is a 422 Invalid naming the field, for pods and for Job pod templates alike."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes_asyncio.client import ApiException

from .cluster import Cluster, status_of

pytestmark = pytest.mark.contract

_AFFINITY = "spec.affinity.nodeAffinity"


async def _refused(call: Any) -> dict[str, Any]:
    """The Status of a create the server refuses as Invalid."""
    with pytest.raises(ApiException) as caught:
        await call
    status = status_of(caught.value)
    assert (caught.value.status, status["reason"]) == (422, "Invalid"), status
    return status


def _causes(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["field"]: (c["reason"], c["message"]) for c in status["details"]["causes"]}


def _term(operator: str) -> dict[str, Any]:
    return {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": operator}]}


async def test_toleration_operator_and_effect(cluster: Cluster) -> None:
    pod = cluster.pod(
        "tolerant",
        "true",
        tolerations=[
            {"key": "a", "operator": "Maybe", "effect": "NoSchedule"},
            {"key": "b", "operator": "Exists", "value": "x"},
            {"key": "c", "operator": "Equal", "value": "y", "effect": "Sometimes"},
        ],
    )
    status = await _refused(cluster.core.create_namespaced_pod(cluster.namespace, pod))
    causes = _causes(status)
    assert causes["spec.tolerations[0].operator"] == (
        "FieldValueNotSupported",
        'Unsupported value: "Maybe": supported values: "Equal", "Exists"',
    )
    reason, message = causes["spec.tolerations[1].operator"]
    assert reason == "FieldValueInvalid"
    assert message.startswith("Invalid value: ")
    assert message.endswith("value must be empty when `operator` is 'Exists'")
    assert causes["spec.tolerations[2].effect"] == (
        "FieldValueNotSupported",
        'Unsupported value: "Sometimes": supported values: '
        '"NoSchedule", "PreferNoSchedule", "NoExecute"',
    )
    assert len(causes) == 3, causes

    # the tolerations every pod is given and the interLink ones pass; no effect means all
    fine = cluster.pod(
        "tolerant",
        "true",
        tolerations=[
            {"key": "virtual-node.interlink/no-schedule", "operator": "Exists"},
            {"key": "d", "value": "z", "effect": "NoExecute", "tolerationSeconds": 5},
            {"key": "e", "operator": "Equal", "value": "w", "effect": ""},
        ],
    )
    created = await cluster.core.create_namespaced_pod(cluster.namespace, fine)
    assert created.spec.tolerations[0].operator == "Exists"


async def test_node_affinity_operator(cluster: Cluster) -> None:
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [_term("Exists"), _term("Equals")]
            },
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 1, "preference": _term("Near")}
            ],
        }
    }
    pod = cluster.pod("picky", "true", affinity=affinity)
    status = await _refused(cluster.core.create_namespaced_pod(cluster.namespace, pod))
    required = f"{_AFFINITY}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"
    preferred = f"{_AFFINITY}.preferredDuringSchedulingIgnoredDuringExecution[0].preference"
    assert _causes(status) == {
        f"{required}[1].matchExpressions[0].operator": (
            "FieldValueInvalid",
            'Invalid value: "Equals": not a valid selector operator',
        ),
        f"{preferred}.matchExpressions[0].operator": (
            "FieldValueInvalid",
            'Invalid value: "Near": not a valid selector operator',
        ),
    }


async def test_negative_and_over_limit_resources(cluster: Cluster) -> None:
    resources = {
        "requests": {"cpu": "-1", "memory": "2Gi"},
        "limits": {"memory": "1Gi", "ephemeral-storage": "-500m"},
    }
    pod = cluster.pod("greedy", "true", container={"resources": resources})
    status = await _refused(cluster.core.create_namespaced_pod(cluster.namespace, pod))
    where = "spec.containers[0].resources"
    assert _causes(status) == {
        f"{where}.requests[cpu]": (
            "FieldValueInvalid",
            'Invalid value: "-1": must be greater than or equal to 0',
        ),
        f"{where}.limits[ephemeral-storage]": (
            "FieldValueInvalid",
            'Invalid value: "-500m": must be greater than or equal to 0',
        ),
        # defaulting copies a limit without a request into the request, before validation
        f"{where}.requests[ephemeral-storage]": (
            "FieldValueInvalid",
            'Invalid value: "-500m": must be greater than or equal to 0',
        ),
        f"{where}.requests": (
            "FieldValueInvalid",
            'Invalid value: "2Gi": must be less than or equal to memory limit of 1Gi',
        ),
    }
    assert status["message"].startswith('Pod "greedy" is invalid: ')

    # a request equal to its limit, or below it, is fine
    fine = {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
    pod = cluster.pod("greedy", "true", container={"resources": fine})
    created = await cluster.core.create_namespaced_pod(cluster.namespace, pod)
    assert created.spec.containers[0].resources.requests["cpu"] == "500m"


async def test_job_template_is_checked_the_same_way(cluster: Cluster) -> None:
    job = cluster.job("template", "true")
    template = job["spec"]["template"]["spec"]
    template["tolerations"] = [{"key": "a", "operator": "In"}]
    template["containers"][0]["resources"] = {"requests": {"cpu": "3"}, "limits": {"cpu": "2"}}
    status = await _refused(cluster.batch.create_namespaced_job(cluster.namespace, job))
    assert status["details"]["kind"] == "Job"
    causes = _causes(status)
    assert causes["spec.template.spec.tolerations[0].operator"][0] == "FieldValueNotSupported"
    assert causes["spec.template.spec.containers[0].resources.requests"] == (
        "FieldValueInvalid",
        'Invalid value: "3": must be less than or equal to cpu limit of 2',
    )
