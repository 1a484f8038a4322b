"""The eviction API (``POST /api/v1/namespaces/NS/pods/NAME/eviction``), as kube-apiserver
serves it where no PodDisruptionBudget covers the pod (the sandbox has none): the pod marked
``DisruptionTarget`` (``EvictionByEvictionAPI``) and deleted as the Eviction's
``deleteOptions`` say. ``kubectl drain`` and the cluster autoscaler evict this way."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import errors
from .objects import Obj, set_condition

if TYPE_CHECKING:
    from .api import Api

EVICTION_KINDS = {("policy/v1", "Eviction"), ("policy/v1beta1", "Eviction")}
REASON = "EvictionByEvictionAPI"
MESSAGE = "Eviction API: evicting"


def evict(api: Api, namespace: str, name: str, eviction: Any) -> Obj:
    """Evict pod ``name``: its ``DisruptionTarget`` condition set, then deleted; the Status of
    success the real server answers (201). 400 for a body that is not this pod's Eviction,
    404 for a pod that is not there."""
    if not isinstance(eviction, dict) or (
        (eviction.get("apiVersion"), eviction.get("kind")) not in EVICTION_KINDS
    ):
        raise errors.bad_request("the body of the request must be a policy/v1 Eviction")
    if (eviction.get("metadata") or {}).get("name") != name:
        raise errors.bad_request("name in URL does not match name in Eviction object")
    pods = api.registry.get("pods")
    api.get(pods, namespace, name)  # 404 in the pod's words

    def mark(pod: Obj) -> None:
        set_condition(pod.setdefault("status", {}), "DisruptionTarget", True, REASON, MESSAGE)

    api.modify(pods, namespace, name, mark)
    api.delete(pods, namespace, name, eviction.get("deleteOptions") or {})
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
